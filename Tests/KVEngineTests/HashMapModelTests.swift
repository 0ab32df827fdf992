import Testing
import KVEngine

/// Randomized runs against Swift's Dictionary as the model, with the verifier after every operation.
@Suite struct HashMapModelTests {
    /// One run: phases that mostly insert then mostly delete, so the map doubles, compacts and halves.
    func run(seed: UInt64, operations: Int, universe: [[UInt8]], mapSeed: UInt64) -> (MapStatistics, [GrowthKind: Int]) {
        var rng = SplitMix64(seed: seed)
        let map = HashMap(fixedSeed: mapSeed)
        var model: [[UInt8]: ([UInt8], Int64?)] = [:]
        var growthsSeen: [GrowthKind: Int] = [:]
        var peak = MapStatistics()
        var insertBias = 80
        for step in 0..<operations {
            if step % 15_000 == 0 { insertBias = insertBias == 80 ? 6 : 80 }
            let key = universe[Int(rng.next() % UInt64(universe.count))]
            let dice = Int(rng.next() % 100)
            if dice < insertBias / 2 || (dice < insertBias && rng.next() % 2 == 0) {
                let n = rng.next() % 50 == 0 ? 1000 + Int(rng.next() % 3000) : Int(rng.next() % 40)
                let value = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                let expiry: Int64? = rng.next() % 4 == 0 ? Int64(rng.next() % 1_000_000) : nil
                let wasNew = map.set(key, value, expiry: expiry)
                #expect(wasNew == (model[key] == nil), "step \(step): set's inserted flag")
                model[key] = (value, expiry)
            } else if dice < insertBias + (100 - insertBias) / 2 {
                #expect(map.remove(key) == (model.removeValue(forKey: key) != nil), "step \(step): remove")
            } else if dice < 97 && (model[key] != nil || insertBias > 50) && rng.next() % 4 == 0 {
                // Remove and insert again within one write, as the Store does to an expired key before
                // SETRANGE or APPEND recreates it: the removal may empty the map (new seed) or make it
                // sparse (halving), and the insert must still land where lookups will look.
                let value = (0..<Int(rng.next() % 12)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                let recreate = rng.next() % 4 != 0
                key.withUnsafeBytes { k in
                    map.update(k) { e in
                        e.remove()
                        if recreate { value.withUnsafeBytes { e.setValue($0, expiry: nil) } }
                    }
                }
                model[key] = recreate ? (value, nil) : nil
            } else if dice < 97 && (model[key] != nil || insertBias > 50) {
                // Append through the editor: value grows in place or moves (creates the key if absent).
                let extra = (0..<Int(rng.next() % 20)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                key.withUnsafeBytes { k in
                    map.update(k) { e in
                        let old = e.exists ? e.value.count : 0
                        let dst = e.resizeValue(to: old + extra.count, expiry: e.expiry, preserving: old)
                        for (i, b) in extra.enumerated() { dst[old + i] = b }
                    }
                }
                let (v, x) = model[key] ?? ([], nil)
                model[key] = (v + extra, x)
            } else {
                let expiry: Int64? = rng.next() % 2 == 0 ? nil : Int64(step) + 1
                key.withUnsafeBytes { k in map.update(k) { $0.setExpiry(expiry) } }
                if let (v, _) = model[key] { model[key] = (v, expiry) }
            }
            if map.isGrowing { growthsSeen[map.growth, default: 0] += 1 }
            if let failure = map.expectSound("step \(step)") {
                Issue.record(Comment(rawValue: failure))
                return (peak, growthsSeen)
            }
            #expect(map.count == model.count)
            // Spot-check a random key every step; everything every 5000 steps.
            let probe = universe[Int(rng.next() % UInt64(universe.count))]
            if map.value(forKey: probe) != model[probe]?.0 {
                Issue.record("step \(step): lookup of \(probe) disagrees with the model")
                return (peak, growthsSeen)
            }
            if step % 5000 == 0 {
                for (k, (v, x)) in model {
                    #expect(map.value(forKey: k) == v)
                    #expect(k.withUnsafeBytes { map.expiry(forKey: $0) } == x)
                }
                #expect(map.expiringCount == model.values.filter { $0.1 != nil }.count)
                let st = map.statistics()
                if st.buckets > peak.buckets { peak = st }
                // The summary is the statistics without the histograms and the arena's residency (and a later
                // clock reading). All of a small map's arena is resident (malloc's pages, counted whole; its
                // first 2 MiB page, resident only where written, comes at 4 MiB).
                var summary = map.summary()
                #expect(summary.chainLengths.isEmpty && summary.growthSeconds >= st.growthSeconds && summary.arenaResidentBytes == nil)
                #expect(st.arenaBytes >= 4 << 20 || st.arenaResidentBytes == st.arenaBytes)
                summary.chainLengths = st.chainLengths
                summary.slotOccupancy = st.slotOccupancy
                summary.growthSeconds = st.growthSeconds
                summary.arenaResidentBytes = st.arenaResidentBytes
                #expect(summary == st)
            }
        }
        return (peak, growthsSeen)
    }

    /// 6 x 300,000 + 300,000 operations in all, each followed by the verifier.
    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func randomOperationsMatchDictionary(seed: UInt64) {
        // 1500 keys spread evenly: doubling and halving over B = 0...8.
        let universe = (0..<1500).map { bytes("k\($0)-\(seed)") }
        let (peak, growths) = run(seed: seed, operations: 300_000, universe: universe, mapSeed: seed &* 77)
        #expect(peak.bucketBits >= 7)
        #expect(growths[.doubling, default: 0] > 0)
        #expect(growths[.shrinking, default: 0] > 0)
    }

    /// A handful of keys: the map empties (and draws a new seed) and halves over and over, also in the
    /// middle of writes that remove a key and insert it again.
    @Test(arguments: [UInt64(7), 8])
    func tinyMapsEmptyAndHalveWithinWrites(seed: UInt64) {
        let universe = (0..<12).map { bytes("t\($0)") }
        _ = run(seed: seed, operations: 100_000, universe: universe, mapSeed: seed)
        let randomSeeded = HashMap()
        for step in 0..<2000 {
            let k = universe[step % 3]
            k.withUnsafeBytes { kb in randomSeeded.update(kb) { e in e.remove(); e.setValue(kb, expiry: nil) } }
            if step % 7 == 0 { randomSeeded.remove(k) }
            if let failure = randomSeeded.expectSound("random seed, step \(step)") {
                Issue.record(Comment(rawValue: failure))
                return
            }
        }
    }

    @Test func crowdedKeysFormChainsAndCompact() {
        // Every key's hash ends in 4 zero bits: 1/16 of the buckets hold all keys, chains form, and the
        // overflow buckets trigger same-size growth.
        let mapSeed: UInt64 = 0xC0FFEE
        let universe = crowdedKeys(count: 1200, seed: mapSeed, bits: 4)
        let (peak, growths) = run(seed: 99, operations: 300_000, universe: universe, mapSeed: mapSeed)
        #expect(peak.chainLengths.count > 2, "chains of two or more overflow buckets formed")
        #expect(growths[.doubling, default: 0] > 0)
        #expect(growths[.shrinking, default: 0] > 0)
    }
}

@Suite struct HashMapGrowthTests {
    /// Keys whose hash puts them in bucket `index` of a 2^bits array.
    func keys(inBucket index: Int, bits: Int, count: Int, seed: UInt64, tag: String) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while out.count < count {
            let k = bytes("\(tag)\(i)")
            if Int(truncatingIfNeeded: debugHash(k, seed: seed)) & ((1 << bits) - 1) == index { out.append(k) }
            i += 1
        }
        return out
    }

    /// Go's case for same-size growth: churn leaves overflow buckets behind in one chain while another
    /// chain grows, until there are as many overflow buckets as buckets at a load far under 6.5.
    @Test func churnTriggersSameSizeGrowthThatCompactsChains() {
        let seed: UInt64 = 42
        let map = HashMap(fixedSeed: seed)
        // Reach 16 buckets (B = 4) with keys spread over all buckets.
        let spread = (0..<80).map { bytes("spread\($0)") }
        for k in spread { map.set(k, k) }
        while map.isGrowing { map.advanceGrowth(maxBuckets: 8) }
        #expect(map.bucketBits == 4)
        for k in spread.dropFirst(30) { map.remove(k) }  // 30 left: no halving (needs under 26)
        // Chain after chain grows past two overflow buckets and is emptied again but for its last key, at the
        // end of the chain: the emptied overflow bucket before it stays (only a chain's empty tail is freed).
        var sawSameSize = false
        var batch = 0
        while !sawSameSize && batch < 16 {
            let group = keys(inBucket: batch, bits: 4, count: 17, seed: seed, tag: "b\(batch)-")
            for k in group {
                map.set(k, k)
                if map.growth == .sameSize { sawSameSize = true }
                if let v = map.verify() { Issue.record("\(v)"); return }
            }
            for k in group.dropLast() { map.remove(k) }
            batch += 1
        }
        #expect(sawSameSize)
        while map.isGrowing { map.advanceGrowth(maxBuckets: 4) }
        let after = map.statistics()
        #expect(after.bucketBits == 4, "same-size growth keeps the bucket count")
        #expect(after.overflowBuckets < 16)
        #expect(map.verify() == nil)
    }

    /// A delete that empties the overflow buckets at the end of a chain frees them: a map under churn keeps
    /// no chain longer than its keys need.
    @Test func emptiedChainTailsAreFreed() {
        let seed: UInt64 = 7
        let map = HashMap(fixedSeed: seed)
        for k in (0..<80).map({ bytes("spread\($0)") }) { map.set(k, k) }
        while map.isGrowing { map.advanceGrowth(maxBuckets: 8) }
        #expect(map.bucketBits == 4)
        let before = map.statistics().overflowBuckets
        let group = keys(inBucket: 0, bits: 4, count: 20, seed: seed, tag: "t")
        for k in group { map.set(k, k) }
        #expect(map.bucketBits == 4 && map.statistics().overflowBuckets >= before + 2)
        for k in group.reversed() {
            map.remove(k)
            if let v = map.verify() { Issue.record("\(v)"); return }
        }
        #expect(map.statistics().overflowBuckets <= before, "the emptied tail went back to the arena")
    }

    @Test func shrinkHalvesUntilLoadIsAtLeastOne() {
        let map = HashMap(fixedSeed: 7)
        let keys = (0..<20_000).map { bytes("s\($0)") }
        for k in keys { map.set(k, [1]) }
        let peakBits = map.bucketBits
        for k in keys.dropFirst(100) {
            map.remove(k)
            if map.count % 997 == 0, let v = map.verify() { Issue.record("\(v)"); return }
        }
        while map.isGrowing { map.advanceGrowth(maxBuckets: 64) }
        #expect(map.bucketBits <= peakBits - 5)
        #expect(map.count == 100)
        for k in keys.prefix(100) { #expect(map.value(forKey: k) == [1]) }
        #expect(map.verify() == nil)
        // Emptying resets to a single bucket.
        for k in keys.prefix(100) { map.remove(k) }
        #expect(map.bucketBits == 0 && map.statistics().entryBytes == 0)
    }
}
