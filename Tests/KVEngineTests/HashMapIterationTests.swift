import Testing
import KVEngine

@Suite struct HashMapIterationTests {
    /// Iterates while inserting and deleting other keys after every element, so the map doubles (or
    /// halves) several times during one run. Keys present throughout must come back exactly once.
    func iterateWhileResizing(seed: UInt64, stable: Int, volatileStart: Int, grow: Bool, crowded: Bool) {
        var rng = SplitMix64(seed: seed)
        let map = HashMap(fixedSeed: seed)
        let stableKeys = crowded
            ? crowdedKeys(count: stable, seed: seed, bits: 3)
            : (0..<stable).map { bytes("stable-\($0)") }
        for k in stableKeys { map.set(k, k + [1]) }
        var volatileKeys = (0..<volatileStart).map { bytes("vol-\($0)") }
        for k in volatileKeys { map.set(k, [0]) }
        var next = volatileStart
        let startBits = map.bucketBits

        var seen: [[UInt8]: Int] = [:]
        var minBits = startBits
        var maxBits = startBits
        for element in map {
            seen[element.key, default: 0] += 1
            if element.key.starts(with: bytes("stable-")) || stableKeys.contains(element.key) {
                #expect(element.value == element.key + [1])
            }
            // Bounded: keys added during the run may be returned too, and each return adds more.
            for _ in 0..<(next < volatileStart + 20_000 ? Int(rng.next() % 40) : 0) {
                if grow || rng.next() % 8 == 0 {
                    let k = bytes("vol-\(next)")
                    next += 1
                    map.set(k, [0])
                    volatileKeys.append(k)
                } else if let i = volatileKeys.indices.randomElement(using: &rng) {
                    map.remove(volatileKeys[i])
                    volatileKeys.swapAt(i, volatileKeys.count - 1)
                    volatileKeys.removeLast()
                }
            }
            minBits = min(minBits, map.bucketBits)
            maxBits = max(maxBits, map.bucketBits)
        }
        for k in stableKeys { #expect(seen[k] == 1, "stable key returned \(seen[k] ?? 0) times") }
        #expect(seen.values.allSatisfy { $0 == 1 }, "no key returned twice")
        if grow { #expect(maxBits >= startBits + 3, "the map doubled at least three times during the run") }
        else { #expect(minBits <= startBits - 2, "the map halved at least twice during the run") }
        #expect(map.verify() == nil)
    }

    @Test(arguments: [UInt64(11), 12, 13])
    func iteratorExactlyOnceWhileGrowing(seed: UInt64) {
        iterateWhileResizing(seed: seed, stable: 300, volatileStart: 0, grow: true, crowded: false)
        iterateWhileResizing(seed: seed, stable: 300, volatileStart: 0, grow: true, crowded: true)
    }

    @Test(arguments: [UInt64(21), 22, 23])
    func iteratorExactlyOnceWhileShrinking(seed: UInt64) {
        iterateWhileResizing(seed: seed, stable: 100, volatileStart: 20_000, grow: false, crowded: false)
        iterateWhileResizing(seed: seed, stable: 100, volatileStart: 20_000, grow: false, crowded: true)
    }

    @Test func iteratorOnEmptyAndTinyMaps() {
        let map = HashMap()
        #expect(Array(map).isEmpty)
        map.set([7], [8])
        #expect(Array(map).map(\.key) == [[7]])
    }

    @Test func iteratorStartsAtRandomPlaces() {
        let map = HashMap(fixedSeed: 5)
        for i in 0..<1000 { map.set(bytes("k\(i)"), []) }
        let firsts = Set((0..<20).map { _ in var it = map.makeIterator(); return it.next()!.key })
        #expect(firsts.count > 1)
    }

    /// SCAN: between calls the map grows and shrinks; every key present from start to end comes back.
    @Test(arguments: [UInt64(31), 32, 33, 34])
    func scanReturnsEveryStableKeyAcrossResizes(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let map = HashMap(fixedSeed: seed)
        let stableKeys = seed % 2 == 0
            ? crowdedKeys(count: 500, seed: seed, bits: 2)
            : (0..<500).map { bytes("stable-\($0)") }
        for k in stableKeys { map.set(k, []) }
        var volatileKeys: [[UInt8]] = []
        var next = 0
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var calls = 0
        var growthKinds = Set<String>()
        repeat {
            cursor = map.scan(cursor: cursor, count: 10) { k, _, _ in seen.insert(Array(k)) }
            calls += 1
            // Alternate long growing and shrinking phases between calls.
            let growing = (calls / 30) % 2 == 0
            for _ in 0..<Int(rng.next() % 300) {
                if growing {
                    let k = bytes("vol-\(next)")
                    next += 1
                    map.set(k, [])
                    volatileKeys.append(k)
                } else if !volatileKeys.isEmpty {
                    map.remove(volatileKeys.removeLast())
                }
                // Half the time a halving that starts ends the batch, so that the next call scans while it
                // runs (it ends within a few hundred writes; a doubling lasts long enough without this).
                if map.isGrowing && map.growth.rawValue == "shrinking" && rng.next() % 2 == 0 { break }
            }
            if map.isGrowing { growthKinds.insert(map.growth.rawValue) }
        } while cursor != 0 && calls < 1_000_000
        #expect(cursor == 0)
        for k in stableKeys { #expect(seen.contains(k)) }
        #expect(growthKinds.contains("doubling") && growthKinds.contains("shrinking"))
        #expect(map.verify() == nil)
    }

    @Test func scanOfAQuietMapVisitsEachKeyOnce() {
        let map = HashMap()
        for i in 0..<5000 { map.set(bytes("q\(i)"), []) }
        while map.isGrowing { map.advanceGrowth(maxBuckets: 100) }
        var counts: [[UInt8]: Int] = [:]
        var cursor: UInt64 = 0
        repeat {
            cursor = map.scan(cursor: cursor, count: 100) { k, _, _ in counts[Array(k), default: 0] += 1 }
        } while cursor != 0
        #expect(counts.count == 5000)
        #expect(counts.values.allSatisfy { $0 == 1 })
    }
}
