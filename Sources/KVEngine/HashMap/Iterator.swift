// Iteration that returns every key present for the iterator's whole run exactly once, even when the map
// grows or shrinks between steps (Go's guarantee, reached differently).
//
// The iterator walks hash classes: class c at 2^itB classes holds the keys whose hash has low bits c. A
// step collects one whole class (copying keys and values out), so a class is seen at one instant; writes
// between steps cannot split it. Classes are taken in reverse-binary order (Scan.swift) from a random
// start, and when the map's array gets larger than 2^itB, itB grows to match: in reverse-binary order the
// classes already visited at itB bits are exactly a prefix of the order at itB+1 bits (position p becomes
// 2p), so refining loses and repeats nothing. itB never shrinks; when the arrays are smaller than 2^itB
// the iterator reads the one bucket that holds the class and keeps the keys whose hash says they belong.
//
// Within a bucket, slots are read starting at a random offset, as Go does, so that callers cannot come
// to depend on an order.

extension HashMap: Sequence {
    public struct Element {
        public let key: [UInt8]
        public let value: [UInt8]
        public let expiry: Int64?
    }

    public struct Iterator: IteratorProtocol {
        let map: HashMap
        var bits: Int
        var position: UInt64  // in reverse-binary order: class = reverse of position over `bits` bits
        var start: UInt64
        var finished = false
        let slotOffset: Int
        var batch: [Element] = []
        var cursor = 0

        init(_ map: HashMap) {
            self.map = map
            bits = map.maxBucketBits
            var g = SystemRandomNumberGenerator()
            let r: UInt64 = g.next()
            position = r & ((1 << bits) - 1)
            start = position
            slotOffset = Int(r >> 61)
        }

        public mutating func next() -> Element? {
            while cursor == batch.count {
                if finished { return nil }
                collectNextClass()
            }
            cursor += 1
            return batch[cursor - 1]
        }

        private mutating func collectNextClass() {
            map.checkNoWriterDuringIteration()
            let current = map.maxBucketBits
            if current > bits {
                position <<= UInt64(current - bits)
                start <<= UInt64(current - bits)
                bits = current
            }
            let mask = UInt64((1 << bits) - 1)
            let cls = bits == 0 ? 0 : reverseBits(position) >> UInt64(64 - bits)
            batch.removeAll(keepingCapacity: true)
            cursor = 0
            let offset = slotOffset
            map.collectClass(cls, bits: bits, slotOffset: offset) { e in
                batch.append(Element(key: Array(e.key), value: Array(e.value), expiry: e.expiry))
            }
            position = (position &+ 1) & mask
            if position == start { finished = true }
            map.checkNoWriterDuringIteration()
        }
    }

    public func makeIterator() -> Iterator { Iterator(self) }

    /// log2 of the larger of the two arrays.
    var maxBucketBits: Int { Swift.max(buckets.bits, oldBuckets?.bits ?? 0) }
    /// Hash classes of this many bits are whole buckets (or pairs of buckets) of both arrays during a growth
    /// or shrink: a random draw over them never hashes a key to filter a bucket.
    var minBucketBits: Int { Swift.min(buckets.bits, oldBuckets?.bits ?? Int.max) }

    /// Calls `body` with every entry whose hash has low `bits` bits equal to `cls`.
    func collectClass(_ cls: UInt64, bits: Int, slotOffset: Int, _ body: (Entry) -> Void) {
        func collect(_ array: BucketArray, isOld: Bool) {
            if array.bits >= bits {
                let step = 1 << bits
                var j = Int(cls)
                while j < array.count {
                    let b = array[j]
                    if !(isOld && b.isEvacuated) { visitRotated(b, slotOffset, filter: nil, body) }
                    j += step
                }
            } else {
                let b = array[Int(cls) & array.mask]
                if !(isOld && b.isEvacuated) {
                    visitRotated(b, slotOffset, filter: (cls, UInt64((1 << bits) - 1)), body)
                }
            }
        }
        if let old = oldBuckets { collect(old, isOld: true) }
        collect(buckets, isOld: false)
    }

    private func visitRotated(
        _ head: Bucket, _ offset: Int, filter: (cls: UInt64, mask: UInt64)?, _ body: (Entry) -> Void
    ) {
        var b = head
        while true {
            for k in 0..<bucketSlots {
                let s = (k + offset) & (bucketSlots - 1)
                guard b.top(s) >= minTopHash else { continue }
                let e = Entry(arenaBlock: arena.pointer(b.ref(s)))
                if let f = filter, hash(e.key) & f.mask != f.cls { continue }
                body(e)
            }
            if b.overflow == 0 { return }
            b = Bucket(arena.pointer(b.overflow))
        }
    }

    /// Calls `body` for every entry, in bucket order, without copying. `body` must not touch the map.
    public func forEachEntry(
        _ body: (_ key: UnsafeRawBufferPointer, _ value: StoredValue, _ expiry: Int64?) throws -> Void
    ) rethrows {
        checkNoWriterDuringIteration()
        try forEachLiveSlot { ref in
            let e = Entry(arenaBlock: arena.pointer(ref))
            try body(e.key, e.storedValue, e.expiry)
        }
        checkNoWriterDuringIteration()
    }
}

extension HashMap {
    /// A random entry's key, value and expiry (copied), or nil when the map is empty. Picks a random
    /// hash class, then a random entry in it: cheap, and uniform enough for RANDOMKEY.
    public func randomEntry<G: RandomNumberGenerator>(using rng: inout G) -> Element? {
        checkNoWriter()
        guard count > 0 else { return nil }
        let bits = minBucketBits
        while true {
            let cls = rng.next() & UInt64((1 << bits) - 1)
            let n = slotCount(ofClass: cls, bits: bits)
            if n > 0 { return element(ofClass: cls, bits: bits, at: Int(rng.next() % UInt64(n)), withValue: false) }
        }
    }

    /// A uniformly random entry's key and value (copied), or nil when empty: SPOP, SRANDMEMBER and
    /// HRANDFIELD, which must draw fairly. A random hash class is accepted with probability (its size /
    /// the largest class met so far), so every entry is equally likely once the largest class has been
    /// met (a class larger than any before raises the bound from then on). A write (it updates the
    /// bound): call it under the write lock.
    public func fairRandomEntry<G: RandomNumberGenerator>(using rng: inout G) -> Element? {
        checkNoWriter()
        guard count > 0 else { return nil }
        // Classes over the smaller array: during a shrink the larger one's classes would split the small
        // array's buckets, and telling their keys apart costs a hash per key per try (measured: a third
        // of SPOP's time while a set drained).
        let bits = minBucketBits
        let mask = UInt64((1 << bits) - 1)
        if randomAhead.bits != bits {
            randomAhead = ClassesAhead(bits: bits)
            for i in 0..<ClassesAhead.depth {
                randomAhead.classes[i] = rng.next() & mask
                prefetchClass(randomAhead.classes[i], bits: bits)
            }
        }
        while true {
            // The oldest class drawn ahead is tried; a new one takes its place, its buckets prefetched.
            let cls = randomAhead.classes[randomAhead.next]
            let fresh = rng.next() & mask
            randomAhead.classes[randomAhead.next] = fresh
            randomAhead.next = (randomAhead.next + 1) % ClassesAhead.depth
            prefetchClass(fresh, bits: bits)
            // Count the class from its tophash bytes (no entry touched: a rejected class costs its
            // buckets only); copy only the entry chosen.
            let n = slotCount(ofClass: cls, bits: bits)
            if n > randomClassBound { randomClassBound = n }
            if n == 0 || Int(rng.next() % UInt64(randomClassBound)) >= n { continue }
            return element(ofClass: cls, bits: bits, at: Int(rng.next() % UInt64(n)), withValue: true)
        }
    }

    /// Prefetches the head buckets of class `cls`'s chains in both arrays.
    private func prefetchClass(_ cls: UInt64, bits: Int) {
        func chains(_ array: BucketArray) {
            var j = Int(cls)
            while j < array.count {
                prefetchBucketLines(array[j].raw)
                j += 1 << bits
            }
        }
        if let old = oldBuckets { chains(old) }
        chains(buckets)
    }

    /// Calls `body` with the reference of each live slot of hash class `cls` (`bits` at most both arrays'
    /// bits, so a class is whole chains: c, c + 2^bits, ... of each array), old array first, until it
    /// returns false. Reads bucket headers only.
    func forEachSlot(ofClass cls: UInt64, bits: Int, _ body: (UInt32) -> Bool) {
        func chains(_ array: BucketArray, isOld: Bool) -> Bool {
            var j = Int(cls)
            while j < array.count {
                var b = array[j]
                if !(isOld && b.isEvacuated) {
                    while true {
                        for s in 0..<bucketSlots where b.top(s) >= minTopHash {
                            if !body(b.ref(s)) { return false }
                        }
                        if b.overflow == 0 { break }
                        b = Bucket(arena.pointer(b.overflow))
                    }
                }
                j += 1 << bits
            }
            return true
        }
        if let old = oldBuckets, !chains(old, isOld: true) { return }
        _ = chains(buckets, isOld: false)
    }

    private func slotCount(ofClass cls: UInt64, bits: Int) -> Int {
        var n = 0
        forEachSlot(ofClass: cls, bits: bits) { _ in
            n += 1
            return true
        }
        return n
    }

    /// The `index`th entry of the class, copied.
    private func element(ofClass cls: UInt64, bits: Int, at index: Int, withValue: Bool) -> Element {
        var i = 0
        var chosen: UInt32 = 0
        forEachSlot(ofClass: cls, bits: bits) { ref in
            if i == index {
                chosen = ref
                return false
            }
            i += 1
            return true
        }
        let e = Entry(arenaBlock: arena.pointer(chosen))
        return Element(key: Array(e.key), value: withValue ? Array(e.value) : [], expiry: e.expiry)
    }
}

/// The hash classes a fair random draw will try next, drawn ahead so that their buckets can be prefetched:
/// a draw tries 1 / (its acceptance) classes, each a cache miss on its bucket otherwise (a third of SPOP's
/// time on a large set). Drawn uniformly as the tries themselves are, and dropped when the number of classes
/// changes, so draws stay exactly as fair.
struct ClassesAhead {
    static let depth = 4
    var classes = SIMD4<UInt64>()
    /// The oldest, tried next.
    var next = 0
    /// log2 of the number of classes they were drawn over (-1: none drawn).
    var bits = -1
}
