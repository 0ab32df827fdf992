import Testing
import KVEngine

@Suite struct HashMapEdgeTests {
    @Test func emptyKeyAndEmptyValue() {
        let map = HashMap()
        #expect(map.set([], []))
        #expect(map.value(forKey: []) == [])
        #expect(map.contains([]))
        #expect(!map.set([], [1, 2]))
        #expect(map.value(forKey: []) == [1, 2])
        #expect(map.remove([]))
        #expect(map.value(forKey: []) == nil)
        #expect(map.verify() == nil)
    }

    @Test func binaryKeysAreDistinct() {
        let map = HashMap()
        // Zero bytes, 0xff, and byte strings that Swift's String would call equal (é vs e + U+0301).
        let keys: [[UInt8]] = [[0], [0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0], [255], [0xC3, 0xA9], [0x65, 0xCC, 0x81],
                               Array(repeating: 0, count: 16), Array(repeating: 0, count: 17)]
        for (i, k) in keys.enumerated() { map.set(k, [UInt8(i)]) }
        #expect(map.count == keys.count)
        for (i, k) in keys.enumerated() { #expect(map.value(forKey: k) == [UInt8(i)]) }
        #expect(map.verify() == nil)
    }

    @Test func keysOfEveryLengthAroundTheLayoutBoundaries() {
        let map = HashMap(fixedSeed: 3)
        // Narrow/wide header at 255/256, arena/external at 1 KiB, value lengths across 65535.
        let keyLengths = [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 255, 256, 1000, 1020, 1024, 5000]
        for n in keyLengths {
            let key = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ n) }
            for vn in [0, 1, 1000 - n, 1020 - n, 70_000] where vn >= 0 {
                let value = [UInt8](repeating: UInt8(truncatingIfNeeded: vn), count: vn)
                map.set(key, value)
                #expect(map.value(forKey: key) == value, "key length \(n), value length \(vn)")
                #expect(map.verify() == nil)
            }
        }
        #expect(map.count == keyLengths.count)
    }

    @Test func keysSharingBucketAndTophash() {
        // Two keys whose hashes agree in the low 8 bits (same bucket up to B = 8) and the top 8 bits
        // (same tophash): only the full key compare tells them apart.
        let seed: UInt64 = 1234
        var byClass: [UInt64: [UInt8]] = [:]
        var pair: ([UInt8], [UInt8])? = nil
        var i = 0
        while pair == nil {
            let k = bytes("t\(i)")
            let h = debugHash(k, seed: seed)
            let cls = (h >> 56) << 8 | (h & 0xff)
            if let other = byClass[cls] { pair = (other, k) } else { byClass[cls] = k }
            i += 1
        }
        let (a, b) = pair!
        let map = HashMap(fixedSeed: seed)
        map.set(a, [1])
        #expect(map.value(forKey: b) == nil)
        map.set(b, [2])
        #expect(map.value(forKey: a) == [1] && map.value(forKey: b) == [2])
        map.remove(a)
        #expect(map.value(forKey: a) == nil && map.value(forKey: b) == [2])
        #expect(map.verify() == nil)
    }

    @Test func hugeValue() {
        let map = HashMap()
        let n = 512 << 20
        var value = [UInt8](repeating: 0xAB, count: n)
        value[0] = 1
        value[n - 1] = 2
        map.set([9], value)
        value = []
        let stored = [UInt8(9)].withUnsafeBytes { k in map.withValue(forKey: k) { v, _ in (v.count, v[0], v[n - 1], v[n / 2]) } }
        #expect(stored?.0 == n && stored?.1 == 1 && stored?.2 == 2 && stored?.3 == 0xAB)
        #expect(map.statistics().entryBytes >= n)
        #expect(map.verify() == nil)
        map.remove([9])
        #expect(map.statistics().entryBytes == 0)
    }

    @Test func appendGrowsExternalValuesInPlace() {
        let map = HashMap()
        let key: [UInt8] = [1]
        var expected: [UInt8] = []
        for i in 0..<3000 {
            let piece = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 100)
            key.withUnsafeBytes { k in
                map.update(k) { e in
                    let old = e.exists ? e.value.count : 0
                    let dst = e.resizeValue(to: old + piece.count, expiry: e.expiry, preserving: old)
                    for (j, b) in piece.enumerated() { dst[old + j] = b }
                }
            }
            expected += piece
        }
        #expect(map.value(forKey: key) == expected)
        #expect(map.verify() == nil)
    }

    @Test func expiryIsStoredAndChanged() {
        let map = HashMap()
        let key: [UInt8] = [1, 2]
        map.set(key, [3], expiry: 1_700_000_000_123)
        #expect(key.withUnsafeBytes { map.expiry(forKey: $0) } == 1_700_000_000_123)
        key.withUnsafeBytes { k in map.update(k) { $0.setExpiry(nil) } }
        #expect(key.withUnsafeBytes { map.expiry(forKey: $0) } == nil)
        #expect(map.value(forKey: key) == [3])
        key.withUnsafeBytes { k in map.update(k) { $0.setExpiry(42) } }
        #expect(key.withUnsafeBytes { map.expiry(forKey: $0) } == 42)
        #expect(map.statistics().entriesWithExpiry == 1)
        #expect(map.verify() == nil)
    }

    @Test func seedsDifferPerMap() {
        #expect(HashMap().seedFingerprint != HashMap().seedFingerprint)
        #expect(HashMap(fixedSeed: 1).seedFingerprint == HashMap(fixedSeed: 1).seedFingerprint)
    }

    @Test func statisticsDescribeTheMap() {
        let map = HashMap(fixedSeed: 9)
        for i in 0..<1000 { map.set(bytes("s\(i)"), [UInt8](repeating: 1, count: 16)) }
        let st = map.statistics()
        #expect(st.count == 1000)
        #expect(st.buckets == 1 << st.bucketBits)
        #expect(st.chainLengths.reduce(0, +) == st.buckets)
        #expect(st.slotOccupancy.reduce(0, +) == st.buckets + st.overflowBuckets + (st.oldBuckets - st.evacuatedBuckets) + st.oldOverflowBuckets)
        #expect(st.slotOccupancy.enumerated().reduce(0) { $0 + $1.offset * $1.element } == 1000)
        #expect(st.loadFactor > 1 && st.loadFactor <= 6.5)
    }

    /// The newest 2 MiB arena page is faulted in 4 KiB at a time (PageMemory.swift): just after the arena
    /// starts one, most of it is not resident. Mapped as a huge page, as before, it was resident whole.
    @Test func newestArenaPageIsResidentOnlyWhereWritten() {
        let map = HashMap(fixedSeed: 5)
        let value = [UInt8](repeating: 7, count: 200)
        var i = 0
        var pages = map.statistics().arenaBytes
        // Until the arena holds 8 MiB (its new pages are then 2 MiB) and has just added one: bounded by count.
        while i < 200_000 {
            map.set(bytes("page-\(i)"), value)
            i += 1
            let now = map.summary().arenaBytes
            if now != pages, now >= 8 << 20 { break }
            pages = now
        }
        let st = map.statistics()
        #expect(st.arenaBytes >= 8 << 20, "\(st)")
        let resident = try! #require(st.arenaResidentBytes)
        #expect(resident <= st.arenaBytes - (1 << 20), "resident \(resident) of \(st.arenaBytes)")
        // Everything written is resident: the entries, less what a page start may leave idle.
        #expect(resident >= st.arenaBytes - st.idleArenaBytes, "resident \(resident), live \(st.arenaBytes - st.idleArenaBytes)")
        #expect(map.verify() == nil)
    }

    @Test func verifierFindsACorruptedMap() {
        let map = HashMap(fixedSeed: 9)
        for i in 0..<100 { map.set(bytes("c\(i)"), [1]) }
        #expect(map.verify() == nil)
        #expect(!bytes("absent").withUnsafeBytes { map.debugCorruptTopHash(ofKey: $0) })
        #expect(bytes("c42").withUnsafeBytes { map.debugCorruptTopHash(ofKey: $0) })
        let v = map.verify()
        #expect(v != nil)
        #expect(v?.description.contains("tophash") == true)
    }
}
