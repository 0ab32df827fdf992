// When the map grows, shrinks or compacts, and how a growth starts. The constants' reasons are in the
// header of HashMap.swift.

import Dispatch

/// Whether `count` entries overload 2^bits buckets: more than 6.5 per bucket (and more than one bucket's worth).
@inline(__always)
func overLoadFactor(_ count: Int, _ bits: Int) -> Bool {
    count > bucketSlots && count > loadFactorNum * ((1 << bits) / loadFactorDen)
}

/// Whether there are as many overflow buckets as buckets. Go writes this as noverflow >= 2^min(B,15)
/// because its counter is a uint16 that, past B = 15, is bumped with probability 2^(15-B): a count of
/// 2^15 then stands for about 2^B buckets. Our count is exact, so the threshold is 2^B itself; a cap at
/// 2^15 real buckets re-grows a map of millions of keys over and over (measured: 4 extra same-size
/// growths between 4.5M and 7.4M keys, and 20% more memory at 10M).
@inline(__always)
func tooManyOverflowBuckets(_ noverflow: Int, _ bits: Int) -> Bool {
    noverflow >= 1 << bits
}

/// Whether 2^bits buckets are sparse enough to halve: under 1.625 entries per bucket, a quarter of the
/// growth threshold, so a halved array is at most half loaded (as a dynamic array shrinks at a quarter).
@inline(__always)
func shouldShrink(_ count: Int, _ bits: Int) -> Bool {
    bits > 0 && count * loadFactorDen * 4 < loadFactorNum << bits
}

extension HashMap {
    /// Allocates the new array and makes the current one old. Moving entries is left to later writes.
    func startGrowth(_ kind: GrowthKind) {
        precondition(oldBuckets == nil, "a growth started while another runs")
        let bits: Int
        switch kind {
        case .doubling: bits = buckets.bits + 1
        case .sameSize: bits = buckets.bits
        case .shrinking: bits = buckets.bits - 1
        case .none: return
        }
        oldBuckets = buckets
        oldNoverflow = noverflow
        buckets = BucketArray(bits: bits, lazily: true)
        noverflow = 0
        nevacuate = 0
        growth = kind
        growthStartedAt = DispatchTime.now().uptimeNanoseconds
        // A growth redistributes the classes: the largest met before says nothing about them now. Kept, a
        // set drained by SPOP accepted fewer and fewer draws (its classes emptying under a bound set when
        // it was full): a tenth at the end of each halving, each rejected draw a cache miss.
        randomClassBound = bucketSlots
    }

    /// A write's share of a running growth: the old bucket its key needs, and the lowest one not yet moved.
    @inline(__always)
    func growWork(_ hash: UInt64) {
        guard let old = oldBuckets else { return }
        evacuate(Int(truncatingIfNeeded: hash) & old.mask)
        if oldBuckets != nil { evacuate(nevacuate) }
        if growth == .shrinking { shrinkWork() }
    }

    /// A halving's extra share: seven more old buckets in order. Halving reads no entries (old buckets i
    /// and i + 2^newB both go to new bucket i) and walks both arrays in order, so a bucket costs about a
    /// hundred instructions and no cache miss; what costs is each write's miss on the old array while the
    /// halving runs, so the fewer writes it lasts the better (`kvbench map` delete at 1M keys, alternating
    /// rounds: four buckets a write instead of two 0.88-0.95 of the time; eight instead of four 0.87;
    /// sixteen no better than eight).
    @inline(never)
    func shrinkWork() {
        for _ in 0..<7 where oldBuckets != nil { evacuate(nevacuate) }
    }

    /// Moves up to `maxBuckets` old buckets without a write, so that an idle map finishes its growth (Go
    /// #51410: a map left growing pays double lookups forever). Returns true while a growth still runs.
    @discardableResult
    public func advanceGrowth(maxBuckets: Int) -> Bool {
        beginWrite()
        let guarded = capture?.guardForMoves(of: self)
        defer {
            endWrite()
            guarded?.endGuardedWrite()
        }
        var n = 0
        while n < maxBuckets, oldBuckets != nil {
            evacuate(nevacuate)
            n += 1
            // A halving that ends with the map still sparse goes on halving, as the next delete would.
            if oldBuckets == nil && shouldShrink(count, buckets.bits) { startGrowth(.shrinking) }
        }
        return oldBuckets != nil
    }

    public var isGrowing: Bool { oldBuckets != nil }
}

extension HashMap {
    /// Sizes an empty map for `count` keys, so that inserting them starts no growth (a snapshot load
    /// knows its key count up front). Does nothing to a map that holds keys.
    public func reserveCapacity(_ count: Int) {
        beginWrite()
        defer { endWrite() }
        guard self.count == 0, oldBuckets == nil, capture == nil else { return }
        var bits = 0
        while overLoadFactor(count, bits) { bits += 1 }
        if bits == buckets.bits { return }
        buckets.deallocate()
        buckets = BucketArray(bits: bits)
        noverflow = 0
    }
}
