// Writes. Every write goes through `update`: hash, set the writing flag, help any running growth by
// evacuating the key's old bucket and one more, find the key in the new array, then let the caller's
// closure read and change the entry through an EntryEditor. `set` and `remove` are thin wrappers; the
// Store builds INCR, APPEND, SETRANGE, EXPIRE and the SET options on the same editor.
//
// One write may remove the entry and insert the key again (the Store removes an expired entry before
// SETRANGE or APPEND recreates the key). So a removal never changes the map's structure under the
// editor: emptying the map (which draws a new seed, changing every hash) and starting a halving (which
// would need the key's old bucket evacuated before an insert) wait until the write ends (`settle`).
// The editor's hash and position stay valid for the whole closure.
//
// The editor also records what the write did to the key (an expired entry removed; the value written or
// removed), and when the map has a change hook (the Store installs one while it has observers), reports
// it when the closure returns: in the order writes happen, under the caller's lock, and with no cost but
// one test of a nil hook when nobody observes.

/// Read and change access to one key's entry inside `HashMap.update`. Views it returns are valid until
/// the editor's next change.
public struct EntryEditor {
    /// The map: the editor lives inside its `update`. Not `unowned(unsafe)`: Swift retains and releases
    /// such a reference around every use (three pairs in one DEL, callgrind).
    private let mapReference: Unmanaged<HashMap>
    /// Runs `body` with the map, borrowed: no reference counting. (Even a `_read` accessor yielding the
    /// unretained map was retained around each use in a mutating method.)
    @inline(__always) func withMap<R>(_ body: (HashMap) -> R) -> R {
        mapReference._withUnsafeGuaranteedRef(body)
    }
    public let key: UnsafeRawBufferPointer
    let hash: UInt64
    /// The key's slot in the current array, when the key is present.
    var bucket: Bucket?
    var slot = 0
    /// What this write did, for the change hook: bit 0 an expired entry was removed, bit 1 the key changed,
    /// bit 2 the key was created.
    var effects: UInt8 = 0
    /// What the change is, in Redis' words (keyspace notifications): set by the store operation.
    public var event: KeyspaceEvent? = nil

    @inline(__always)
    init(map: borrowing HashMap, key: UnsafeRawBufferPointer, hash: UInt64) {
        mapReference = .passUnretained(map)
        self.key = key
        self.hash = hash
        if let found = map.find(key, top: topHash(hash), in: map.buckets[Int(truncatingIfNeeded: hash) & map.buckets.mask]) {
            bucket = found.bucket
            slot = found.slot
            map.touch(found.entry)  // a write is an access, as Redis' lookupKeyWrite
        }
    }

    public var exists: Bool { bucket != nil }

    @inline(__always) var ref: UInt32 { bucket!.ref(slot) }
    @inline(__always) var entry: Entry { withMap { Entry(arenaBlock: $0.arena.pointer(ref)) } }

    /// The current value's bytes (a string's); the key must exist.
    public var value: UnsafeRawBufferPointer { entry.value }
    /// The current value with its type; the key must exist.
    @inline(__always) public var storedValue: StoredValue { entry.storedValue }
    /// Whether the current value is kept inline (a small hash, set, list or sorted set in its entry's bytes).
    @inline(__always) var holdsInlineValue: Bool { bucket != nil && entry.typeBits & entryInline != 0 }
    /// The current value's type; nil when the key is absent.
    public var type: ValueType? { bucket == nil ? nil : entry.storedValue.type }
    /// The current expiry; nil when absent or persistent.
    public var expiry: Int64? { bucket == nil ? nil : entry.expiry }

    /// Stores `value` with `expiry`, inserting the key if absent.
    @inline(__always)
    public mutating func setValue(_ value: UnsafeRawBufferPointer, expiry: Int64?) {
        let dst = resizeValue(to: value.count, expiry: expiry, preserving: 0)
        copyBytes(to: dst.baseAddress!, from: value.baseAddress, count: value.count)
    }

    /// Gives the key a value of `count` bytes whose first `preserving` bytes are the old value's (the key
    /// must exist if preserving > 0), inserting the key if absent, and returns the value's bytes for the
    /// caller to fill in. APPEND, SETRANGE and INCR write their result here without a temporary copy.
    @inline(__always)
    public mutating func resizeValue(to count: Int, expiry: Int64?, preserving: Int) -> UnsafeMutableRawBufferPointer {
        withMap { $0.changes += 1 }
        effects |= 2
        if let b = bucket {
            let old = entry
            if old.typeBits != 0 {
                // A value of another type becomes a string: its object goes first.
                precondition(preserving == 0, "resizeValue preserving the bytes of an object")
                if old.holdsObject {
                    withMap { $0.arena.account(old.storedValue.object, -1) }
                    old.releaseObject()
                }
                old.setTypeBits(0)
            }
            // The common overwrite (a narrow string without expiry keeping its length) changes nothing
            // but the bytes; checked here, inline, as resizeEntry would. (An inline wrapper in resizeEntry,
            // which its other callers would share, measured 75 more instructions an overwrite: callgrind.)
            if expiry != nil || old.flags & (entryHasExpiry | entryWide) != 0 || old.valueCount != count {
                withMap { $0.expiringCount += (expiry == nil ? 0 : 1) - (old.hasExpiry ? 1 : 0) }
                let fresh = withMap { $0.arena.resizeEntry(b.ref(slot), valueCount: count, expiry: expiry, preserve: preserving) }
                b.setRef(slot, fresh)
            }
        } else {
            precondition(preserving == 0, "resizeValue preserving bytes of an absent key")
            if expiry != nil { withMap { $0.expiringCount += 1 } }
            effects |= 4
            let (key, hash) = (key, hash)
            (bucket, slot) = withMap { map in
                map.insertNew(map.arena.makeEntry(key: key, valueCount: count, expiry: expiry, access: map.accessClock), hash: hash)
            }
        }
        let e = entry
        return UnsafeMutableRawBufferPointer(start: e.keyPointer + e.keyCount, count: count)
    }

    /// Stores `object` as the value (any old value released), inserting the key if absent: inline when its
    /// compact form is small enough (Values/InlineValues.swift), else the entry keeps the map's one
    /// reference to it.
    public mutating func setObject(_ object: StoredObject, expiry: Int64?) {
        if let size = object.inlineSize, size.count <= inlineValueLimit {
            let dst = resizeValue(to: size.count, expiry: expiry, preserving: 0)
            object.writeInline(to: dst.baseAddress!, size)
            entry.setTypeBits(object.valueType.rawValue << entryTypeShift | entryInline)
            return
        }
        let dst = resizeValue(to: MemoryLayout<UnsafeRawPointer>.size, expiry: expiry, preserving: 0)
        dst.baseAddress!.storeBytes(of: Unmanaged.passRetained(object).toOpaque(), as: UnsafeMutableRawPointer.self)
        entry.setTypeBits(object.valueType.rawValue << entryTypeShift)
        withMap { $0.arena.account(object, 1) }
    }

    /// Stores `encoding` as the key's inline value of `type`, as `setObject` stores an encoding it wrote: an
    /// inline value edited in its bytes (InlineEdits.swift). `encoding` must not point into the entry.
    mutating func setInlineEncoding(_ encoding: UnsafeRawBufferPointer, type: ValueType) {
        let dst = resizeValue(to: encoding.count, expiry: entry.expiry, preserving: 0)
        copyBytes(to: dst.baseAddress!, from: encoding.baseAddress, count: encoding.count)
        entry.setTypeBits(type.rawValue << entryTypeShift | entryInline)
    }

    /// Runs `body` on the key's object (the value must be one) to change it in place, and records the change
    /// and the difference in the object's memory.
    public mutating func modifyObject<R, E: Error>(_ body: (StoredObject) throws(E) -> R) throws(E) -> R {
        try modifyObjectIfChanged { o throws(E) in (try body(o), true) }
    }

    /// `modifyObject` for a change that may turn out to change nothing (SADD of a member already there):
    /// `body` says whether it changed the object, and only then is a change recorded (WATCH, save points).
    /// An inline value is decoded into an object for `body` and stored again when changed (inline again if
    /// it still fits, else as the object).
    @inline(__always)
    public mutating func modifyObjectIfChanged<R, E: Error>(_ body: (StoredObject) throws(E) -> (R, changed: Bool)) throws(E) -> R {
        let e = entry
        if !e.holdsObject {
            let object = e.storedValue.object
            let (r, changed) = try body(object)
            if changed { setObject(object, expiry: e.expiry) }
            return r
        }
        // The entry holds the map's reference to the object until this returns (nothing here replaces or
        // removes the value), so the object is borrowed.
        return try e.storedValue.withObject { (object) throws(E) -> R in try modifyHeldObject(object, body) }
    }

    /// `modifyObjectIfChanged` for an object the entry holds.
    @inline(__always)
    private mutating func modifyHeldObject<R, E: Error>(
        _ object: StoredObject, _ body: (StoredObject) throws(E) -> (R, changed: Bool)
    ) throws(E) -> R {
        let before = withMap { $0.arena.account(object, -1) }
        defer { withMap { $0.arena.account(object, 1) } }
        let (r, changed) = try body(object)
        if changed {
            withMap { $0.changes += 1 }
            effects |= 2
            // Shrunk into the inline range: the value stays an object (no conversions back and forth at
            // the limit), and the Compactor is told what moving it into its entry would give back: what
            // the object held before (what it freed is likely left as holes between its new blocks).
            if !object.countedShrunk, let size = object.inlineSize, size.count <= inlineValueLimit {
                object.countedShrunk = true
                withMap { $0.arena.shrunkBytes += max(before, object.memoryBytes) + 64 - size.count }
            }
        }
        return r
    }

    /// Changes how the key's object is stored, not what it holds (`body` converts it): stored again (as
    /// an object, or inline if it still fits), and no change is recorded.
    mutating func restructureObject(_ body: (StoredObject) -> Void) {
        let e = entry
        let object = e.storedValue.object
        if e.holdsObject {
            withMap { $0.arena.account(object, -1) }
            body(object)
            withMap { $0.arena.account(object, 1) }
            return
        }
        let (changes, effects) = (withMap { $0.changes }, self.effects)
        body(object)
        setObject(object, expiry: e.expiry)
        withMap { $0.changes = changes }
        self.effects = effects
    }

    /// Records a change made in place through the bytes of `value` (SETBIT within the string).
    public mutating func touched() {
        withMap { $0.changes += 1 }
        effects |= 2
    }

    /// Reports the key to the change hook as written, changing nothing (Store.announceLocked).
    public mutating func announce() {
        if bucket != nil { effects |= 2 }
    }

    /// Changes the expiry of an existing key; nil makes it persistent.
    public mutating func setExpiry(_ expiry: Int64?) {
        guard let b = bucket else { return }
        withMap { $0.changes += 1 }
        effects |= 2
        withMap { $0.expiringCount += (expiry == nil ? 0 : 1) - (entry.hasExpiry ? 1 : 0) }
        // Same value length: the entry changes in place unless the expiry field appears or goes.
        let n = entry.valueCount
        b.setRef(slot, withMap { $0.arena.resizeEntry(b.ref(slot), valueCount: n, expiry: expiry, preserve: n) })
    }

    /// Deletes the key if present; true when it was. `expired`: the removal is expiry's, not a command's.
    @discardableResult
    public mutating func remove(expired: Bool = false) -> Bool {
        guard let b = bucket else { return false }
        effects |= expired ? 1 : 2
        withMap { $0.removeSlot(b, slot, hash: hash) }
        bucket = nil
        return true
    }
}

extension HashMap {
    /// Runs `body` with exclusive access to `key`'s entry and returns its result. `body` must not touch
    /// the map other than through the editor.
    @inline(__always)
    public func update<R, E: Error>(_ key: UnsafeRawBufferPointer, _ body: (inout EntryEditor) throws(E) -> R) throws(E) -> R {
        let h = hash(key)
        let guarded = beginKeyWrite(h)
        var editor = EntryEditor(map: self, key: key, hash: h)
        // No `defer`: the compiler outlines it into a call (as in `remove`, fewer instructions let the CPU
        // overlap this write's cache misses with the next operation's).
        let r: R
        do {
            r = try body(&editor)
        } catch {
            endUpdate(editor, guarded)
            throw error
        }
        endUpdate(editor, guarded)
        return r
    }

    /// The end of `update`, however its closure left: the change reported, then the write ended.
    @inline(__always)
    private func endUpdate(_ editor: EntryEditor, _ guarded: MapCapture?) {
        if let hook = changeHook, editor.effects != 0 { report(editor, to: hook) }
        endKeyWrite(guarded)
    }

    /// The start of a write to the key with hash `h`: the write guard, the running snapshot's copy of the
    /// key's class (the guard it returns is held to `endKeyWrite`), and the growth's share of work.
    @inline(__always)
    private func beginKeyWrite(_ h: UInt64) -> MapCapture? {
        beginWrite()
        var guarded: MapCapture? = nil
        if let c = capture { guarded = c.beforeWrite(hash: h, of: self) }
        if oldBuckets != nil { growWork(h) }
        return guarded
    }

    /// The end of a write, after its change was reported: a map its removal left empty or sparse settles
    /// while the write is still on, then the guards go.
    @inline(__always)
    private func endKeyWrite(_ guarded: MapCapture?) {
        if settlePending { settle() }
        endWrite()
        guarded?.endGuardedWrite()
    }

    /// Tells the change hook what a write did to its key: an expired entry's removal first, then the
    /// key's final state if the write changed it.
    private func report(_ e: EntryEditor, to hook: ChangeHook) {
        if e.effects & 1 != 0 { hook(e.key, .expired) }
        if e.effects & 2 != 0 {
            if e.bucket != nil {
                hook(e.key, .written(e.storedValue, expiry: e.expiry, created: e.effects & 4 != 0, event: e.event))
            } else {
                hook(e.key, .removed(event: e.event))
            }
        }
    }

    /// At the end of a write whose removal left the map empty or sparse: an empty map drops its storage and
    /// draws a new seed; a sparse one starts halving. (The write may have inserted again since: checked anew.)
    func settle() {
        settlePending = false
        if count == 0 {
            resetStorage()
        } else if growth == .none && shouldShrink(count, buckets.bits) {
            startGrowth(.shrinking)
        }
    }

    /// Sets `key` to `value` with `expiry` (none by default). Returns true when the key was new.
    @discardableResult
    public func set(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, expiry: Int64? = nil) -> Bool {
        update(key) { e in
            let inserted = !e.exists
            e.setValue(value, expiry: expiry)
            return inserted
        }
    }

    @discardableResult
    public func set(_ key: [UInt8], _ value: [UInt8], expiry: Int64? = nil) -> Bool {
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in set(k, v, expiry: expiry) } }
    }

    /// Deletes `key`. Returns true when it was present. `update { $0.remove() }` without the editor: a
    /// delete has nothing to touch (the access clock of an entry it frees) and one change to report. Kept
    /// short (no `defer`, the common entry freed inline) because the CPU overlaps one delete's two cache
    /// misses with the next delete's only when few instructions lie between them: `kvbench map` at 1M
    /// keys, 290 ns a delete with 400 instructions a call against 155 a lookup hit with 150, and 197 with
    /// the delete stripped to its stores (no shrinking in any of the three).
    @discardableResult
    public func remove(_ key: UnsafeRawBufferPointer) -> Bool {
        let h = hash(key)
        let guarded = beginKeyWrite(h)
        let found = find(key, top: topHash(h), in: buckets[Int(truncatingIfNeeded: h) & buckets.mask])
        if let found {
            removeSlot(found.bucket, found.slot, hash: h)
            if let changeHook { changeHook(key, .removed(event: nil)) }
        }
        endKeyWrite(guarded)
        return found != nil
    }

    @discardableResult
    public func remove(_ key: [UInt8]) -> Bool { key.withUnsafeBytes { remove($0) } }

    /// Puts a new entry (its key known to be absent) into the first empty slot of its chain in the current
    /// array, starting a growth first if this insert would overload the map (then the insert helps it).
    func insertNew(_ ref: UInt32, hash: UInt64) -> (Bucket, Int) {
        if growth == .none
            && (overLoadFactor(count + 1, buckets.bits) || tooManyOverflowBuckets(noverflow, buckets.bits))
        {
            startGrowth(overLoadFactor(count + 1, buckets.bits) ? .doubling : .sameSize)
            growWork(hash)
        }
        let top = topHash(hash)
        var b = buckets[Int(truncatingIfNeeded: hash) & buckets.mask]
        count += 1
        if access.probation { probation.append(hash) }
        while true {
            let empty = matchEmpty(b.tophashWord)
            if empty != 0 {
                let s = firstSlot(empty)
                b.setTop(s, top)
                b.setRef(s, ref)
                b.setHint(s, splitHint(hash, bits: buckets.bits))
                return (b, s)
            }
            if b.overflow == 0 {
                let nb = newOverflowBucket(after: b)
                nb.setTop(0, top)
                nb.setRef(0, ref)
                nb.setHint(0, splitHint(hash, bits: buckets.bits))
                return (nb, 0)
            }
            b = Bucket(arena.pointer(b.overflow))
        }
    }

    /// Chains a fresh (all emptyRest) overflow bucket after `b`, the last bucket of a chain in the current array.
    func newOverflowBucket(after b: Bucket) -> Bucket {
        let ref = arena.allocate(units: overflowBucketUnits)
        let nb = Bucket(arena.pointer(ref))
        nb.clear()
        b.overflow = ref
        noverflow += 1
        return nb
    }

    /// Removes the entry in slot `s` of `b` (in the current array) and counts the change, keeping the
    /// emptyRest markers exact as Go's mapdelete does. Resetting or halving a map left sparse waits for the
    /// end of the write (`settle`). Inline with its common case (a string without expiry, no emptyRest to
    /// write back); the rest is out of line.
    @inline(__always)
    func removeSlot(_ b: Bucket, _ s: Int, hash: UInt64) {
        changes &+= 1
        let ref = b.ref(s)
        if !arena.freePlainString(ref) { freeEntry(ref) }
        b.setRef(s, 0)
        b.setTop(s, emptyOne)
        count &-= 1
        // The slot ends its chain's live slots when the next one is emptyRest (or there is none).
        let next = s < bucketSlots - 1 ? b.top(s + 1) : b.overflow == 0 ? emptyRest : Bucket(arena.pointer(b.overflow)).top(0)
        if next == emptyRest { markEmptyRest(from: b, s, head: buckets[Int(truncatingIfNeeded: hash) & buckets.mask]) }
        if count == 0 || (growth == .none && shouldShrink(count, buckets.bits)) { settlePending = true }
    }

    /// Frees any entry: its expiry counted, what it owns released.
    @inline(never)
    private func freeEntry(_ ref: UInt32) {
        if Entry(arenaBlock: arena.pointer(ref)).hasExpiry { expiringCount -= 1 }
        arena.freeEntry(ref)
    }

    /// Unlinks the overflow buckets after `b` (all empty) from the current array's chain and frees them.
    private func freeChain(after b: Bucket) {
        var ref = b.overflow
        b.overflow = 0
        while ref != 0 {
            let next = Bucket(arena.pointer(ref)).overflow
            arena.free(ref, units: overflowBucketUnits)
            noverflow -= 1
            ref = next
        }
    }

    /// Turns slot `s` of `b`, which ends its chain's live slots, and the emptyOne slots before it into
    /// emptyRest, freeing the overflow buckets that leaves empty.
    @inline(never)
    private func markEmptyRest(from b: Bucket, _ s: Int, head: Bucket) {
        var b = b
        var i = s
        while true {
            b.setTop(i, emptyRest)
            if i == 0 {
                if b == head { return }
                // Step back to the previous bucket of the chain, at its last slot. `b` is empty to the end of
                // the chain now: it goes back to the arena (beyond Go, whose chains only grow until a
                // same-size growth), so a map under churn (a cache evicting as it inserts) does not keep
                // overflow buckets it no longer needs.
                var prev = head
                while Bucket(arena.pointer(prev.overflow)) != b { prev = Bucket(arena.pointer(prev.overflow)) }
                freeChain(after: prev)
                b = prev
                i = bucketSlots - 1
            } else {
                i -= 1
            }
            if b.top(i) != emptyOne { return }
        }
    }
}
