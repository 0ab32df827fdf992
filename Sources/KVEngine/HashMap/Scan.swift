// SCAN: Redis' stateless cursor (Pieter Noordhuis' reverse-binary iteration, Redis dict.c dictScan).
//
// The cursor is a bucket index whose bits are incremented from the top down: with mask 0b111 the order is
// 000 100 010 110 001 101 011 111. When the array doubles, the buckets already visited are exactly the
// expansions (?000, ?100, ...) of the cursors visited before, so none is missed and none revisited; when it
// halves, an index is visited again only if part of its expansion was visited (duplicates, not misses).
// While a growth runs, the smaller array's bucket `cursor & smallMask` is visited, then every bucket of the
// larger array that expands it; old buckets already evacuated are skipped, since their keys are in the
// new array, which is visited too.
//
// Guarantee: a full scan (from cursor 0 until 0 comes back) returns every key present from its start to
// its end at least once, across any number of growths between calls. It may return a key more than once:
// after a halving between calls, or when a key moves from an old bucket visited in one call to a new
// bucket visited in a later one. Keys added or removed during the scan may or may not be returned.

@inline(__always)
func reverseBits(_ v: UInt64) -> UInt64 {
    var v = v.byteSwapped
    v = ((v >> 4) & 0x0f0f_0f0f_0f0f_0f0f) | ((v & 0x0f0f_0f0f_0f0f_0f0f) << 4)
    v = ((v >> 2) & 0x3333_3333_3333_3333) | ((v & 0x3333_3333_3333_3333) << 2)
    v = ((v >> 1) & 0x5555_5555_5555_5555) | ((v & 0x5555_5555_5555_5555) << 1)
    return v
}

/// The next cursor after `v` over the bits of `mask`.
@inline(__always)
func nextCursor(_ v: UInt64, mask: UInt64) -> UInt64 {
    reverseBits(reverseBits(v | ~mask) &+ 1)
}

extension HashMap {
    /// Calls `body` for every live entry of the chain starting at `head`.
    @inline(__always)
    func visitChain(_ head: Bucket, _ body: (Entry) throws -> Void) rethrows {
        var b = head
        while true {
            var full = matchFull(b.tophashWord)
            while full != 0 {
                try body(Entry(arenaBlock: arena.pointer(b.ref(firstSlot(full)))))
                full &= full &- 1
            }
            if b.overflow == 0 { return }
            b = Bucket(arena.pointer(b.overflow))
        }
    }

    /// One step of SCAN: visits the buckets of `cursor` and returns the next cursor (0 when done).
    func scanStep(_ cursor: UInt64, _ body: (Entry) throws -> Void) rethrows -> UInt64 {
        var v = cursor
        guard let old = oldBuckets else {
            try visitChain(buckets[Int(truncatingIfNeeded: v) & buckets.mask], body)
            return nextCursor(v, mask: UInt64(buckets.mask))
        }
        let oldIsSmall = old.bits <= buckets.bits
        let small = oldIsSmall ? old : buckets
        let large = oldIsSmall ? buckets : old
        let m0 = UInt64(small.mask)
        let m1 = UInt64(large.mask)
        func visit(_ array: BucketArray, _ index: Int) throws {
            let b = array[index]
            if array.base == old.base && b.isEvacuated { return }
            try visitChain(b, body)
        }
        try visit(small, Int(truncatingIfNeeded: v & m0))
        repeat {
            try visit(large, Int(truncatingIfNeeded: v & m1))
            v = nextCursor(v, mask: m1)
        } while v & (m0 ^ m1) != 0
        return v
    }

    /// Redis' SCAN over the map: calls `body(key, value, expiry)` for the entries of successive cursor
    /// positions until at least `count` entries were returned, `count * 10` positions were visited, or
    /// the scan ended. Returns the cursor to pass next; 0 means the scan is complete. `body` must not
    /// touch the map.
    public func scan(
        cursor: UInt64, count: Int = 10,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: StoredValue, _ expiry: Int64?) throws -> Void
    ) rethrows -> UInt64 {
        checkNoWriterDuringIteration()
        var v = cursor
        var emitted = 0
        var steps = 0
        let maxSteps = Swift.max(1, count) * 10
        repeat {
            v = try scanStep(v) { e in
                emitted += 1
                try body(e.key, e.storedValue, e.expiry)
            }
            steps += 1
        } while v != 0 && emitted < count && steps < maxSteps
        checkNoWriterDuringIteration()
        return v
    }
}
