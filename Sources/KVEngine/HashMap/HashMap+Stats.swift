// Statistics: the map made visible. The server's STATS and `kvcli stats` print these.

import Dispatch

public struct MapStatistics: Sendable, Equatable {
    public var count = 0
    /// log2 of the current array's bucket count (the largest, when several maps are added up).
    public var bucketBits = 0
    public var buckets = 0
    public var overflowBuckets = 0
    public var growth = GrowthKind.none
    /// Buckets of the array being evacuated (0 when no growth runs) and how many of them are evacuated.
    public var oldBuckets = 0
    public var evacuatedBuckets = 0
    public var oldOverflowBuckets = 0
    /// chainLengths[k]: buckets of the current array with k overflow buckets behind them.
    public var chainLengths: [Int] = [0]
    /// slotOccupancy[k]: buckets (overflow buckets included) with k live slots, k = 0...8.
    public var slotOccupancy = [Int](repeating: 0, count: bucketSlots + 1)
    /// Bytes of both bucket arrays and of all overflow buckets.
    public var bucketBytes = 0
    /// Bytes of entries: their arena blocks and external blocks.
    public var entryBytes = 0
    /// Arena bytes not in use: freed blocks awaiting reuse and the unused end of the last page.
    public var idleArenaBytes = 0
    /// Bytes of the arena's pages (entries, overflow buckets and idle space together).
    public var arenaBytes = 0
    /// Of those, the bytes the kernel holds (mincore): the newest page's untouched end is not (PageMemory.swift).
    /// Measured by `statistics()` only; nil in the O(1) `summary()`.
    public var arenaResidentBytes: Int?
    public var entriesWithExpiry = 0
    /// Bytes held by the values that are objects (hashes, sets: their listpacks, intsets and inner maps);
    /// part of entryBytes.
    public var valueObjectBytes = 0
    /// Values that are objects (hashes, sets), and those in their map form (an inner HashMap each).
    public var valueObjects = 0
    public var innerMaps = 0
    public var seedFingerprint: UInt64 = 0
    /// Seconds since the running growth started (the oldest, when maps are added up); 0 with no growth.
    public var growthSeconds = 0.0

    public init() {}

    /// Live entries per bucket of the current array.
    public var loadFactor: Double { buckets == 0 ? 0 : Double(count) / Double(buckets) }
    /// All memory the map holds.
    public var totalBytes: Int { bucketBytes + entryBytes + idleArenaBytes }
    /// The live share of the arena's pages (1 when it has none): what compaction raises.
    public var arenaFill: Double { arenaBytes == 0 ? 1 : Double(arenaBytes - idleArenaBytes) / Double(arenaBytes) }

    /// Adds another map's figures (a store sums its shards this way).
    public mutating func add(_ o: MapStatistics) {
        count += o.count
        bucketBits = Swift.max(bucketBits, o.bucketBits)
        buckets += o.buckets
        overflowBuckets += o.overflowBuckets
        if growth == .none { growth = o.growth }
        growthSeconds = Swift.max(growthSeconds, o.growthSeconds)
        oldBuckets += o.oldBuckets
        evacuatedBuckets += o.evacuatedBuckets
        oldOverflowBuckets += o.oldOverflowBuckets
        if o.chainLengths.count > chainLengths.count {
            chainLengths += [Int](repeating: 0, count: o.chainLengths.count - chainLengths.count)
        }
        for (k, n) in o.chainLengths.enumerated() { chainLengths[k] += n }
        for (k, n) in o.slotOccupancy.enumerated() { slotOccupancy[k] += n }
        bucketBytes += o.bucketBytes
        entryBytes += o.entryBytes
        idleArenaBytes += o.idleArenaBytes
        arenaBytes += o.arenaBytes
        if let r = o.arenaResidentBytes { arenaResidentBytes = (arenaResidentBytes ?? 0) + r }
        entriesWithExpiry += o.entriesWithExpiry
        valueObjectBytes += o.valueObjectBytes
        valueObjects += o.valueObjects
        innerMaps += o.innerMaps
    }
}

extension HashMap {
    /// The O(1) figures, without histograms: what INFO and the metrics endpoint read every second. Only a
    /// growth costs a pass over the old array's evacuated flags.
    public func summary() -> MapStatistics {
        checkNoWriter()
        var st = MapStatistics()
        st.chainLengths = []
        st.slotOccupancy = []
        st.count = count
        st.bucketBits = buckets.bits
        st.buckets = buckets.count
        st.overflowBuckets = noverflow
        st.growth = growth
        st.oldOverflowBuckets = oldNoverflow
        st.seedFingerprint = seedFingerprint
        st.entriesWithExpiry = expiringCount
        st.bucketBytes = buckets.byteCount + (noverflow + oldNoverflow) * bucketSize
        st.entryBytes = (arena.liveUnits - (noverflow + oldNoverflow) * overflowBucketUnits) << arenaUnitShift
            + arena.externalBytes + arena.objectBytes
        st.idleArenaBytes = arena.idleBytes
        st.arenaBytes = arena.reservedBytes
        st.valueObjectBytes = arena.objectBytes
        st.valueObjects = arena.objects
        st.innerMaps = arena.innerMaps
        if let old = oldBuckets {
            st.oldBuckets = old.count
            st.bucketBytes += old.byteCount
            for i in 0..<old.count where old[i].isEvacuated { st.evacuatedBuckets += 1 }
            st.growthSeconds = Double(DispatchTime.now().uptimeNanoseconds &- growthStartedAt) / 1e9
        }
        return st
    }

    /// The summary plus both histograms and the arena's residency: walks every bucket, O(buckets), touching
    /// no entry, and asks the kernel about each 2 MiB arena page (mincore).
    public func statistics() -> MapStatistics {
        var st = summary()
        st.arenaResidentBytes = arena.residentBytes()
        st.chainLengths = [0]
        st.slotOccupancy = [Int](repeating: 0, count: bucketSlots + 1)

        func walkChain(_ head: Bucket) -> Int {
            var b = head
            var depth = 0
            while true {
                st.slotOccupancy[matchFull(b.tophashWord).nonzeroBitCount] += 1
                if b.overflow == 0 { return depth }
                b = Bucket(arena.pointer(b.overflow))
                depth += 1
            }
        }
        for i in 0..<buckets.count {
            let depth = walkChain(buckets[i])
            if depth >= st.chainLengths.count {
                st.chainLengths += [Int](repeating: 0, count: depth + 1 - st.chainLengths.count)
            }
            st.chainLengths[depth] += 1
        }
        if let old = oldBuckets {
            for i in 0..<old.count where !old[i].isEvacuated { _ = walkChain(old[i]) }
        }
        return st
    }

    /// Heap bytes the map holds, in O(1): bucket arrays, arena pages, external entry blocks and the
    /// objects of its values. What an inner map (a hash's, a set's) reports as its `memoryBytes`.
    public var heapBytes: Int {
        buckets.byteCount + (oldBuckets?.byteCount ?? 0) + arena.reservedBytes + arena.externalBytes + arena.objectBytes
    }
}
