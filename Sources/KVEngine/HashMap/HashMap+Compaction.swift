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

extension HashMap {
    public var isCompacting: Bool { arena.isCompacting }

    /// Whether compacting would give back at least `minBytes` and a `minFraction` of the arena's pages:
    /// the bytes idle on pages other than the current one (which is never compacted).
    public func worthCompacting(minBytes: Int, minFraction: Double) -> Bool {
        let idle = arena.idleBytes
        return idle >= minBytes && Double(idle) >= minFraction * Double(arena.reservedBytes) && arena.pageCount > 1
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
        if !arena.isCompacting {
            if arena.beginCompaction(maxFill: maxFill) == 0 { return .idle }
            compactionCursor = 0
        }
        var work = 0
        if !arena.filtered {
            work += arena.filterFreeLists(budget: budget)
            if !arena.filtered { return .running }
        }
        while work < budget && compactionCursor < buckets.count {
            work += compactChain(buckets[compactionCursor])
            compactionCursor += 1
        }
        guard compactionCursor >= buckets.count else { return .running }
        compactionCursor = 0
        if arena.drainingLiveUnits > 0 { return .running }  // a growth moved entries behind the walk
        _ = arena.takeRetired()  // any a caller left from the last compaction go now
        let returned = arena.finishCompaction()
        return .finished(pages: returned.pages, bytes: returned.bytes)
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
    /// One compaction step of the inner map of the value at `key`, if that value is still `object`
    /// (nil otherwise). The map's count of its objects' bytes follows the inner map's shrinking.
    func compactInnerMap(
        of key: UnsafeRawBufferPointer, object: StoredObject, budget: Int, maxFill: Double
    ) -> CompactionStep? {
        guard let e = lookup(key), e.holdsObject, e.storedValue.object === object, let inner = object.innerMap
        else { return nil }
        let before = object.memoryBytes
        let step = inner.compactStep(budget: budget, maxFill: maxFill)
        arena.objectBytes += object.memoryBytes - before
        return step
    }
}
