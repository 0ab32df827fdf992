// Compaction: giving back the arena pages that deletes have left sparse, in bounded steps.
//
// A map only ever frees blocks into its arena's free lists, so after a mass delete its pages stay mostly
// empty but held while one live entry remains on each (Arena.swift). A compaction, like a growth, is
// spread over steps the owner runs when it has time (the server's background cycle), each doing a bounded
// amount of work under the owner's write lock:
//   1. `Arena.beginCompaction` marks draining the pages whose live fraction is under `maxFill` and takes
//      their free blocks off the lists (a few thousand per step), so nothing is allocated there again;
//   2. the walk visits the current array's chains in index order and moves every entry and overflow bucket
//      that is on a draining page into a block elsewhere, rewriting the one slot reference or overflow
//      field that points to it;
//   3. when the walk ends and no live unit is left on a draining page, the pages go back to the system.
// Moving a block changes no key, hash, bucket or slot, only the 32-bit reference in the slot: SCAN cursors,
// iterators (hash classes), the eviction hand and a snapshot's capture (hash classes, copied under the
// same lock; an inner map's capture also under its guard, taken here as growth work takes it) all stay
// valid. A growth that starts between steps is finished first, and a walk that ends with something still
// on a draining page (an evacuation moved a chain the walk had passed) simply walks again. Entries written
// meanwhile never land on a draining page; entries deleted there are not listed free again.

/// What one compaction step did.
public enum CompactionStep: Equatable, Sendable {
    /// The arena is not sparse enough: nothing to do.
    case idle
    /// A compaction is under way.
    case running
    /// A compaction ended, giving back these pages and bytes.
    case finished(pages: Int, bytes: Int)
}

/// What keeps its blocks in an arena and gives back its sparse pages in steps: a map (its entries and
/// overflow buckets), a sorted set's order (its leaves, ScoreTree+Compaction.swift). The Compactor drives
/// them all alike; each brings only its walk (`compactionWalk`).
protocol Compactable: AnyObject {
    var arena: Arena { get set }
    /// Where the running compaction's walk is.
    var compactionCursor: Int { get set }
    var isCompacting: Bool { get }
    /// A growth under way, which steps finish before compacting.
    var isGrowing: Bool { get }
    func worthCompacting(minBytes: Int, minFraction: Double) -> Bool
    func compactStep(budget: Int, maxFill: Double) -> CompactionStep
    func takeRetiredPages() -> RetiredPages?
    /// Moves the blocks on draining pages from `compactionCursor` on, for about `budget` units of work;
    /// true when the walk has reached the end.
    func compactionWalk(budget: Int) -> Bool
}

extension Compactable {
    /// A step as the header describes it, around the owner's walk: the compaction starts when none runs,
    /// the free lists are filtered before the walk, and a walk that ends with a block still on a draining
    /// page (moved behind it) walks again.
    func compactionStepAroundWalk(budget: Int, maxFill: Double) -> CompactionStep {
        if !arena.isCompacting {
            if arena.beginCompaction(maxFill: maxFill) == 0 { return .idle }
            compactionCursor = 0
        }
        var work = 0
        if !arena.filtered {
            work += arena.filterFreeLists(budget: budget)
            if !arena.filtered { return .running }
        }
        guard compactionWalk(budget: budget - work) else { return .running }
        compactionCursor = 0
        if arena.drainingLiveUnits > 0 { return .running }
        _ = arena.takeRetired()  // any a caller left from the last compaction go now
        let returned = arena.finishCompaction()
        return .finished(pages: returned.pages, bytes: returned.bytes)
    }
}

extension Arena {
    /// Whether compacting would give back at least `minBytes` and a `minFraction` of the pages: the bytes
    /// idle (free blocks, and the current page's tail, which is never compacted).
    func worthCompacting(minBytes: Int, minFraction: Double) -> Bool {
        idleBytes >= minBytes && Double(idleBytes) >= minFraction * Double(reservedBytes) && pageCount > 1
    }
}

extension HashMap: Compactable {
    public var isCompacting: Bool { arena.isCompacting }

    public func worthCompacting(minBytes: Int, minFraction: Double) -> Bool {
        arena.worthCompacting(minBytes: minBytes, minFraction: minFraction)
    }

    /// Idle and reserved arena bytes (free blocks and the current page's tail; all pages).
    public var arenaFill: (live: Int, reserved: Int) { (arena.liveUnits << arenaUnitShift, arena.reservedBytes) }

    /// Pages this map's arena has returned by compaction.
    public var compactionPagesReturned: Int { arena.pagesReturned }

    /// The pages a finished compaction emptied: the caller drops the result after releasing its lock, and
    /// that returns them to the system (unmapping megabytes takes the kernel milliseconds). Left untaken,
    /// they go when the next compaction finishes.
    public func takeRetiredPages() -> RetiredPages? { arena.takeRetired() }

    /// One step of at most about `budget` units of work (a chain visited, a block moved, a free block
    /// filtered): finishes a running growth first, then starts a compaction of the pages under `maxFill`
    /// live when none runs.
    @discardableResult
    public func compactStep(budget: Int, maxFill: Double) -> CompactionStep {
        if isGrowing {
            // Finished first (a halving holds both arrays): a walk over an array being evacuated would
            // chase entries moving under it.
            advanceGrowth(maxBuckets: Swift.max(1, budget / 8))
            return .running
        }
        beginWrite()
        let guarded = capture?.guardForMoves(of: self)
        defer {
            endWrite()
            guarded?.endGuardedWrite()
        }
        return compactionStepAroundWalk(budget: budget, maxFill: maxFill)
    }

    /// The walk: the current array's chains in index order (a growth finished meanwhile may move a chain
    /// behind it: walked again).
    func compactionWalk(budget: Int) -> Bool {
        var work = 0
        while work < budget && compactionCursor < buckets.count {
            work += compactChain(buckets[compactionCursor])
            compactionCursor += 1
        }
        return compactionCursor >= buckets.count
    }

    /// Moves the blocks of one chain that are on draining pages; returns the work done.
    private func compactChain(_ first: Bucket) -> Int {
        var b = first
        var work = 1
        while true {
            var full = matchFull(b.tophashWord)
            while full != 0 {
                let i = firstSlot(full)
                let ref = b.ref(i)
                if arena.isDraining(ref) {
                    b.setRef(i, arena.move(ref, units: arena.blockUnits(ref)))
                    work += 1
                }
                full &= full &- 1
            }
            let next = b.overflow
            if next == 0 { return work }
            if arena.isDraining(next) {
                b.overflow = arena.move(next, units: overflowBucketUnits)
                work += 1
            }
            b = Bucket(arena.pointer(b.overflow))
            work += 1
        }
    }
}

extension HashMap {
    /// One compaction step of part `part` of the value at `key` (`StoredObject.compactables`), if that value
    /// is still `object` (nil otherwise); with the pages a finished compaction emptied. The map's count of
    /// its objects' bytes follows the part's shrinking.
    func compactObject(
        at key: UnsafeRawBufferPointer, object: StoredObject, part: Int, budget: Int, maxFill: Double
    ) -> (CompactionStep, RetiredPages?)? {
        guard let e = lookup(key), e.holdsObject, e.storedValue.object === object else { return nil }
        let parts = object.compactables
        guard part < parts.count else { return nil }
        let before = object.memoryBytes
        let step = parts[part].compactStep(budget: budget, maxFill: maxFill)
        arena.objectBytes += object.memoryBytes - before
        if case .finished = step { return (step, parts[part].takeRetiredPages()) }
        return (step, nil)
    }
}

extension HashMap {
    /// Moves the value at `key`, if it is still `object` and has shrunk back into the inline range, into its
    /// entry (Values/InlineValues.swift): the object and its heap blocks go, the value's bytes join the
    /// arena, where compaction can move them. The Compactor's move for values that are not maps; nothing
    /// about the value changes, so no change is recorded and no access. Returns whether it moved.
    func inlineObject(at key: UnsafeRawBufferPointer, _ object: StoredObject) -> Bool {
        guard let size = object.inlineSize, size.count <= inlineValueLimit else { return false }
        let h = hash(key)
        beginWrite()
        defer { endWrite() }
        if oldBuckets != nil { growWork(h) }
        guard let found = find(key, top: topHash(h), in: buckets[Int(truncatingIfNeeded: h) & buckets.mask]),
              found.entry.holdsObject, found.entry.storedValue.object === object
        else { return false }
        let old = found.entry
        arena.account(object, -1)
        old.releaseObject()  // the caller's reference keeps it until it is written inline
        let fresh = arena.resizeEntry(found.bucket.ref(found.slot), valueCount: size.count, expiry: old.expiry, preserve: 0)
        found.bucket.setRef(found.slot, fresh)
        let e = Entry(arenaBlock: arena.pointer(fresh))
        object.writeInline(to: e.keyPointer + e.keyCount, size)
        e.setTypeBits(object.valueType.rawValue << entryTypeShift | entryInline)
        return true
    }
}
