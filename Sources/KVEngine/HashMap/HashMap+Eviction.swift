import CKVSupport

// What eviction needs from a map (the policies are Store/Evictor.swift's): keys sampled near a random
// position, the frequency counter of Redis' LFU policies, and the sweeping hand of our own policy.
//
// SAMPLING. Redis' dictGetSomeKeys walks consecutive buckets from a random one; so does `sample`, over
// hash classes (Iterator.swift: one class is the chains of one bucket of the smaller array, in both arrays
// during a growth), so a growth in progress neither hides keys nor shows one twice.
//
// ACCESS BITS. Every entry keeps 24 bits of access data in header bytes 1-3 (Entry.swift) and a visited
// bit (bit 7 of its flags byte). Under the LRU policies and our own the 24 bits are the access clock in
// seconds; under the LFU policies they are Redis' LFU word: 16 bits of minutes (when the counter was last
// decremented) and an 8-bit logarithmic counter, which a new key starts at 5 (LFU_INIT_VAL) and an access
// raises with probability 1 / ((counter - 5) * lfu-log-factor + 1), after the decay of one per
// lfu-decay-time minutes (evict.c's updateLFU). As in Redis, switching policy reinterprets the bits: the
// first accesses afterwards put them right. A read sets the visited bit; only the hand clears it.
//
// OUR POLICY (allkeys-clock: CLOCK in hash order with a probation queue, after S3-FIFO; docs/memory.md has
// the measurements that chose it). New keys enter a FIFO queue of their hashes, "probation", which holds
// about a tenth of the keys; the victim is its oldest key unless that key was read since it came in, which
// graduates it (its bit cleared) to the rest. So a key written once and never read (a scan, a one-hit
// wonder, the long tail of a Zipf stream) leaves after a tenth of the cache has been written, not after all
// of it, as under LRU. When probation is short the hand names the victim: the map's classes form its ring;
// a visited entry loses its bit and stays (a second chance), the first entry not visited since the hand
// last passed goes. A key read once per revolution of the hand therefore stays. A hit costs the bit a read
// sets; a key costs about 0.8 bytes of queue.

/// How reads record an access in the entries of a map (set by the store from the eviction policy).
struct AccessTracking {
    /// New keys' hashes are queued for our policy's probation.
    var probation = false
    /// Redis' lfu-log-factor; negative when the 24 bits are the LRU clock instead.
    var lfuLogFactor = -1
    /// Redis' lfu-decay-time, in minutes (0: the counter never decays).
    var lfuDecayMinutes = 1
    var isLFU: Bool { lfuLogFactor >= 0 }
}

let entryVisited: UInt8 = 1 << 7
/// LFU_INIT_VAL: a new key's counter, so that it is not the first to go.
let lfuInitialCounter: UInt32 = 5

extension HashMap {
    /// Records a read or write of `e` (the entry's access bits and visited bit), as Redis' lookupKey does.
    @inline(__always)
    func touch(_ e: Entry) {
        if access.isLFU { touchLFU(e) } else { e.touch(accessClock) }
    }

    @inline(never)
    func touchLFU(_ e: Entry) {
        let word = e.base.load(as: UInt32.self)
        var counter = lfuCounter(word >> 8)
        if counter < 255 {
            let base = counter > lfuInitialCounter ? Double(counter - lfuInitialCounter) : 0
            if base == 0 || nextLFURandom() < 1.0 / (base * Double(access.lfuLogFactor) + 1) { counter += 1 }
        }
        let minutes = accessClock >> 8
        let new = word & 0xFF | UInt32(entryVisited) | (minutes << 8 | counter) << 8
        if new != word { e.base.storeBytes(of: new, as: UInt32.self) }
    }

    /// The counter of an LFU word after its decay (evict.c's LFUDecrAndReturn).
    func lfuCounter(_ bits: UInt32) -> UInt32 {
        let then = bits >> 8, counter = bits & 0xFF
        guard access.lfuDecayMinutes > 0 else { return counter }
        let now = accessClock >> 8
        let elapsed = now >= then ? now - then : 65535 - then + now
        let periods = elapsed / UInt32(access.lfuDecayMinutes)
        return periods >= counter ? 0 : counter - periods
    }

    /// A racy uniform draw in [0, 1): readers under a shared lock may step the state together, which
    /// costs nothing but a repeated draw.
    private func nextLFURandom() -> Double {
        var g = SplitMix64(seed: lfuRandomState)
        let r = g.next()
        lfuRandomState = r
        return Double(r >> 11) * 0x1.0p-53
    }

    /// The number of classes `sample` and the hand walk (2^bits of the smaller array).
    var evictionClassCount: Int { 1 << minBucketBits }

    /// Calls `body` with each live entry of the classes from `start` on (wrapping), until `body` has been
    /// called `count` times or `maxClasses` classes have been walked. Reads only (bits aside).
    func sample(fromClass start: Int, count: Int, maxClasses: Int, _ body: (Entry) -> Void) {
        let bits = minBucketBits
        let classes = 1 << bits
        var seen = 0
        for i in 0..<Swift.min(maxClasses, classes) where seen < count {
            forEachSlot(ofClass: UInt64((start + i) & (classes - 1)), bits: bits) { ref in
                body(Entry(arenaBlock: arena.pointer(ref)))
                seen += 1
                return seen < count
            }
        }
    }

    /// Whether probation holds more than its tenth of the keys: the victim then comes from it.
    var probationIsOver: Bool { probation.count * 10 > count }

    /// Our policy's next victim (its key, copied), from probation while that holds more than a tenth of
    /// the keys, else from the hand (unless `probationOnly`); nil when neither finds one within its bound.
    /// Under the write lock.
    func nextVictim(volatileOnly: Bool, probationOnly: Bool) -> [UInt8]? {
        var looked = 0
        while probationIsOver && looked < 256 {
            looked += 1
            let h = probation.removeFirst()
            // Gone since (deleted, evicted, expired): its hash finds nothing, or finds it again if it came back.
            guard let e = entry(withHash: h), !volatileOnly || e.hasExpiry else { continue }
            let flags = e.flags
            if flags & entryVisited != 0 {
                e.base.storeBytes(of: flags & ~entryVisited, as: UInt8.self)
                continue
            }
            prefetchProbation()
            return Array(e.key)
        }
        return probationOnly ? nil : sweepHand(maxEntries: 256, volatileOnly: volatileOnly)
    }

    /// Prefetches what the next victims from probation will read, so that their lookups do not wait on
    /// memory (they were 20% of an evicting server's time, two cache misses each): the entry of the next
    /// one, whose bucket came in with the previous eviction, and the bucket of the one after.
    private func prefetchProbation() {
        let queued = probation.count
        if queued > 1 { prefetchBucket(probation[1]) }
        if queued > 0 { prefetchEntry(probation[0]) }
    }

    /// The live entry whose key hashes to `h`, if any.
    private func entry(withHash h: UInt64) -> Entry? {
        var b = chainHead(h)
        let top = topHash(h)
        while true {
            var m = matchTop(b.tophashWord, top)
            while m != 0 {
                let e = Entry(arenaBlock: arena.pointer(b.ref(firstSlot(m))))
                if hash(e.key) == h { return e }
                m &= m &- 1
            }
            if b.overflow == 0 { return nil }
            b = Bucket(arena.pointer(b.overflow))
        }
    }

    /// Advances the hand to the next entry not visited since its last pass (and, with `volatileOnly`, with
    /// an expiry), clearing the visited bits it passes, and returns that entry's key (copied); nil when
    /// `maxEntries` entries were passed without one. Under the map's write lock.
    func sweepHand(maxEntries: Int, volatileOnly: Bool) -> [UInt8]? {
        let bits = minBucketBits
        let classes = 1 << bits
        var passed = 0
        var victim: [UInt8]? = nil
        while passed < maxEntries && count > 0 {
            let cls = UInt64(hand & (classes - 1))
            var index = 0
            forEachSlot(ofClass: cls, bits: bits) { ref in
                defer { index += 1 }
                if index < handOffset { return true }  // passed already in this revolution
                let e = Entry(arenaBlock: arena.pointer(ref))
                passed += 1
                if volatileOnly && !e.hasExpiry { return passed < maxEntries }
                let flags = e.flags
                if flags & entryVisited != 0 {
                    e.base.storeBytes(of: flags & ~entryVisited, as: UInt8.self)
                    return passed < maxEntries
                }
                victim = Array(e.key)
                return false
            }
            if victim != nil {
                // The victim's removal leaves its class's later entries in order: the next one takes its
                // index, so the hand resumes there.
                handOffset = index - 1
                return victim
            }
            if passed >= maxEntries {
                handOffset = index
                return nil
            }
            hand = (hand + 1) & (classes - 1)
            handOffset = 0
        }
        return nil
    }
}

/// A FIFO queue of hashes in one buffer (the probation queue): appends at the end, removes from the front,
/// copying what is left to a buffer of its size when the front has passed half the buffer.
struct HashQueue {
    private var items: [UInt64] = []
    private var head = 0

    var count: Int { items.count - head }

    /// The `i`th hash from the front (0 is the next `removeFirst`'s).
    subscript(i: Int) -> UInt64 { items[head + i] }

    mutating func append(_ h: UInt64) { items.append(h) }

    mutating func removeFirst() -> UInt64 {
        let h = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > items.count {
            items = Array(items[head...])  // a fresh buffer: a queue that was long once does not keep its size
            head = 0
        }
        return h
    }

    mutating func removeAll() {
        items = []
        head = 0
    }
}
