import CKVSupport

// Reads. A read never moves anything: during a growth it reads the old bucket while that bucket has not
// been evacuated, the new one afterwards (the first invariant in HashMap.swift).

extension HashMap {
    /// The head of the chain that holds `hash`, in whichever array holds it now.
    @inline(__always)
    func chainHead(_ hash: UInt64) -> Bucket {
        let h = Int(truncatingIfNeeded: hash)
        if let old = oldBuckets {
            let ob = old[h & old.mask]
            if !ob.isEvacuated { return ob }
        }
        return buckets[h & buckets.mask]
    }

    /// Hints for a lookup of `hash` that is coming (an eviction's next victim, a pop's next member), so it
    /// does not wait on memory: the bucket in both arrays, reading nothing that may miss the cache.
    @inline(__always)
    func prefetchBucket(_ hash: UInt64) {
        let h = Int(truncatingIfNeeded: hash)
        prefetchBucketLines(buckets[h & buckets.mask].raw)
        if let old = oldBuckets { prefetchBucketLines(old[h & old.mask].raw) }
    }

    /// The entry of the first tophash match for `hash`: reads the bucket, so it is best issued once a
    /// `prefetchBucket` has brought that in. A hint only: a stale hash, or a growth meanwhile, costs nothing
    /// but the hint.
    @inline(__always)
    func prefetchEntry(_ hash: UInt64) {
        let b = chainHead(hash)
        let m = matchTop(b.tophashWord, topHash(hash))
        if m != 0 { kv_prefetch(arena.pointer(b.ref(firstSlot(m)))) }
    }

    /// The entry for `key` in the chain starting at `head`, with its slot.
    @inline(__always)
    func find(_ key: UnsafeRawBufferPointer, top: UInt8, in head: Bucket) -> (bucket: Bucket, slot: Int, entry: Entry)? {
        // Half the buckets of an array straddle two cache lines (48 bytes each, lines of 64): the second
        // line is asked for with the first, not after the tophash word has picked a slot in it.
        kv_prefetch(head.raw + 36)
        var b = head
        while true {
            let word = b.tophashWord
            var m = matchTop(word, top)
            while m != 0 {
                let s = firstSlot(m)
                let e = Entry(arenaBlock: arena.pointer(b.ref(s)))
                if e.keyEquals(key) { return (b, s, e) }
                m &= m &- 1
            }
            // An emptyRest slot: nothing lives further down the chain.
            if zeroBytes(word) != 0 { return nil }
            let next = b.overflow
            if next == 0 { return nil }
            b = Bucket(arena.pointer(next))
        }
    }

    @inline(__always)
    func lookup(_ key: UnsafeRawBufferPointer) -> Entry? {
        checkNoWriter()
        let h = hash(key)
        return find(key, top: topHash(h), in: chainHead(h))?.entry
    }

    /// Calls `body` with the value bytes and expiry of `key` and returns its result, or nil when the key is
    /// absent. The buffer is valid only inside `body`, which must not touch the map.
    @inline(__always)
    public func withValue<R, E: Error>(
        forKey key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, _ expiry: Int64?) throws(E) -> R
    ) throws(E) -> R? {
        try withStoredValue(forKey: key) { v, x throws(E) in try body(v.raw, x) }
    }

    /// `withValue` with the value's type: the view of a string or an object. `touching` sets the entry's
    /// access clock to `accessClock` (a command's read, as Redis' lookupKey; not TYPE, TTL, EXISTS or OBJECT).
    @inline(__always)
    public func withStoredValue<R, E: Error>(
        forKey key: UnsafeRawBufferPointer, touching: Bool = false, _ body: (StoredValue, _ expiry: Int64?) throws(E) -> R
    ) throws(E) -> R? {
        guard let e = lookup(key) else { return nil }
        if touching { touch(e) }
        let r = try body(e.storedValue, e.expiry)
        checkNoWriter()
        return r
    }

    public func contains(_ key: UnsafeRawBufferPointer) -> Bool { lookup(key) != nil }

    /// A copy of the value of `key`.
    public func value(forKey key: UnsafeRawBufferPointer) -> [UInt8]? {
        withValue(forKey: key) { v, _ in Array(v) }
    }

    public func value(forKey key: [UInt8]) -> [UInt8]? {
        key.withUnsafeBytes { value(forKey: $0) }
    }

    public func contains(_ key: [UInt8]) -> Bool { key.withUnsafeBytes { contains($0) } }

    /// The expiry of `key` (milliseconds since the epoch), nil when the key is absent or has none.
    public func expiry(forKey key: UnsafeRawBufferPointer) -> Int64? { lookup(key)?.expiry }
}
