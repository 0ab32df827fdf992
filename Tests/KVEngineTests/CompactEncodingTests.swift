import Testing
import KVEngine

/// Redis' compact blobs (Snapshot/CompactEncodings.swift): the listpack we write reads back; ziplists,
/// intsets and zipmaps as Redis lays them out read right; and no byte flip of any of them crashes the
/// reader (it fails, or reads some other well-formed value).
@Suite struct CompactEncodingTests {
    static let elements: [[UInt8]] = [
        "0", "127", "128", "-1", "4095", "-4096", "4096", "32767", "-32768", "32768", "8388607", "-8388608",
        "2147483647", "-2147483648", "9223372036854775807", "-9223372036854775808", "007", "+1", "-0", "",
        "a", String(repeating: "x", count: 63), String(repeating: "y", count: 64), String(repeating: "z", count: 4095),
        String(repeating: "w", count: 4096), String(repeating: "v", count: 20_000),
    ].map { Array($0.utf8) }

    @Test func listpackRoundTripsEveryEncoding() throws {
        let blob = withRaw(Self.elements) { listpackBlob($0) }
        let back = try blob.withUnsafeBytes { try listpackElements($0) }
        #expect(back == Self.elements)
        // The bytes redis-server 7.0.15 builds for a hash {f: v, n: 12}: strings, a 7-bit integer, back-lengths.
        let redis: [UInt8] = [0x12, 0, 0, 0, 4, 0, 0x81, 0x66, 2, 0x81, 0x76, 2, 0x81, 0x6e, 2, 0x0c, 1, 0xff]
        let ours = withRaw(["f", "v", "n", "12"].map { Array($0.utf8) }) { listpackBlob($0) }
        #expect(ours == redis)
    }

    @Test func ziplistIntsetAndZipmapAsRedisLaysThemOut() throws {
        // A ziplist of "a", 5 (an immediate), 300 (int16).
        let zl: [UInt8] = [20, 0, 0, 0, 15, 0, 0, 0, 3, 0, 0x00, 0x01, 0x61, 0x03, 0xF6, 0x02, 0xC0, 0x2C, 0x01, 0xFF]
        #expect(try zl.withUnsafeBytes { try ziplistElements($0) } == ["a", "5", "300"].map { Array($0.utf8) })
        // An intset of -5, 1, 70000 in 4-byte members.
        var iset: [UInt8] = [4, 0, 0, 0, 3, 0, 0, 0]
        for v: Int32 in [-5, 1, 70000] { withUnsafeBytes(of: v.littleEndian) { iset += $0 } }
        #expect(try iset.withUnsafeBytes { try intsetElements($0) } == ["-5", "1", "70000"].map { Array($0.utf8) })
        // A zipmap {k: v} with one free byte after the value.
        let zm: [UInt8] = [1, 1, 0x6B, 1, 1, 0x76, 0x00, 0xFF]
        #expect(try zm.withUnsafeBytes { try zipmapElements($0) } == ["k", "v"].map { Array($0.utf8) })
    }

    @Test func noByteFlipCrashesAReader() {
        let small = withRaw(["f", "v", "n", "12", "-300", String(repeating: "q", count: 70)].map { Array($0.utf8) }) { listpackBlob($0) }
        let zl: [UInt8] = [20, 0, 0, 0, 15, 0, 0, 0, 3, 0, 0x00, 0x01, 0x61, 0x03, 0xF6, 0x02, 0xC0, 0x2C, 0x01, 0xFF]
        var iset: [UInt8] = [2, 0, 0, 0, 3, 0, 0, 0]
        for v: Int16 in [-5, 1, 700] { withUnsafeBytes(of: v.littleEndian) { iset += $0 } }
        let zm: [UInt8] = [1, 1, 0x6B, 1, 1, 0x76, 0x00, 0xFF]
        // Each reader with the bytes of its header, every flip of which must be refused.
        let readers: [([UInt8], Int, (UnsafeRawBufferPointer) throws -> [[UInt8]])] = [
            (small, 6, listpackElements), (zl, 10, ziplistElements), (iset, 8, intsetElements), (zm, 0, zipmapElements),
        ]
        for (blob, header, read) in readers {
            for i in blob.indices {
                for flip: UInt8 in [0x01, 0x02, 0x10, 0x40, 0x80, 0xFF] {
                    var bad = blob
                    bad[i] ^= flip
                    let refused = (try? bad.withUnsafeBytes { try read($0) }) == nil
                    if i < header { #expect(refused, "a flip of header byte \(i) went unnoticed") }
                }
            }
        }
    }

    @Test func listsInEveryOlderEncodingRestore() throws {
        let store = Store(shardCount: 1)
        let zl: [UInt8] = [20, 0, 0, 0, 15, 0, 0, 0, 3, 0, 0x00, 0x01, 0x61, 0x03, 0xF6, 0x02, 0xC0, 0x2C, 0x01, 0xFF]
        let cases: [(String, [UInt8], [String])] = [
            ("ziplist (10)", [10, UInt8(zl.count)] + zl, ["a", "5", "300"]),
            ("quicklist of ziplists (14)", [14, 2, UInt8(zl.count)] + zl + [UInt8(zl.count)] + zl, ["a", "5", "300", "a", "5", "300"]),
            ("linked list (1)", [1, 3, 1, 0x78, 0, 2, 0x79, 0x7A], ["x", "", "yz"]),
        ]
        /// RESTOREs `body` (a type byte and a value) as a payload of RDB `version`; the list it made.
        func restored(_ body: [UInt8], version: UInt8) throws -> [[UInt8]] {
            var payload = body + [version, 0]
            let crc = payload.withUnsafeBytes { crc64(0, $0) }
            withUnsafeBytes(of: crc.littleEndian) { payload += $0 }
            var got: [[UInt8]] = []
            try bytes("k").withUnsafeBytes { k in
                try payload.withUnsafeBytes { try store.restore(k, payload: $0, expiry: nil, replace: true) }
                try store.forEachListElement(k, start: 0, stop: -1, count: { _ in }) { got.append(Array($0)) }
            }
            return got
        }
        for (name, body, want) in cases {
            #expect(try restored(body, version: 9) == want.map { Array($0.utf8) }, "\(name)")  // RDB 9: Redis 6.2
        }
        // Quicklist 2 with a plain node (Redis writes one for an element over its packed threshold), then
        // a packed one.
        let lp = withRaw([Array("p".utf8)]) { listpackBlob($0) }
        #expect(try restored([18, 2, 1, 3, 0x62, 0x69, 0x67, 2, UInt8(lp.count)] + lp, version: 10) == ["big", "p"].map { Array($0.utf8) })
        #expect(store.verify() == nil)
    }

    @Test func sortedSetsInOlderEncodingsRestore() throws {
        let store = Store(shardCount: 1)
        // RDB_TYPE_ZSET (3): members with text scores, and 254 / 255 for the infinities.
        let plain: [UInt8] = [3, 3, 1, 0x61, 3, 0x31, 0x2E, 0x35, 1, 0x62, 254, 1, 0x63, 255]
        // RDB_TYPE_ZSET_ZIPLIST (12): "x", 5 (an immediate), "y", "2.5".
        let zl: [UInt8] = [24, 0, 0, 0, 18, 0, 0, 0, 4, 0, 0x00, 0x01, 0x78, 0x03, 0xF6, 0x02, 0x01, 0x79, 0x03, 0x03, 0x32, 0x2E, 0x35, 0xFF]
        func restored(_ body: [UInt8]) throws -> [(member: [UInt8], score: Double)] {
            var payload = body + [9, 0]
            let crc = payload.withUnsafeBytes { crc64(0, $0) }
            withUnsafeBytes(of: crc.littleEndian) { payload += $0 }
            return try bytes("k").withUnsafeBytes { k in
                try payload.withUnsafeBytes { try store.restore(k, payload: $0, expiry: nil, replace: true) }
                return try store.zsetRange(k, .rank(0, -1), reverse: false).elements
            }
        }
        let a = try restored(plain)
        #expect(a.map(\.member) == ["c", "a", "b"].map { Array($0.utf8) } && a.map(\.score) == [-.infinity, 1.5, .infinity])
        let b = try restored([12, UInt8(zl.count)] + zl)
        #expect(b.map(\.member) == ["y", "x"].map { Array($0.utf8) } && b.map(\.score) == [2.5, 5])
        // A NaN score (253) is a corrupt payload, and nothing is stored.
        #expect(throws: (any Error).self) { try restored([3, 1, 1, 0x61, 253]) }
        #expect(store.verify() == nil)
    }

    @Test func aRestoredValueSurvivesEveryByteFlipOfItsPayload() throws {
        // DUMP payloads checksummed again after the flip, so that the value reader itself meets the damage.
        let limits = EncodingLimits()
        limits[.listMaxListpackSize] = 2  // a list of several nodes
        let store = Store(shardCount: 1, encodingLimits: limits)
        try bytes("l").withUnsafeBytes { l in
            _ = try withRaw(["a", "12", "-300", String(repeating: "q", count: 70), ""].map { Array($0.utf8) }) { try store.listPush(l, $0, at: .right) }
        }
        try bytes("h").withUnsafeBytes { h in
            _ = try withRaw(["f", "v", "n", "12"].map { Array($0.utf8) }) { raw in try store.hashSet(h, [(raw[0], raw[1]), (raw[2], raw[3])]) }
        }
        try bytes("s").withUnsafeBytes { s in _ = try withRaw(["1", "2", "-300"].map { Array($0.utf8) }) { try store.setAdd(s, $0) } }
        try bytes("t").withUnsafeBytes { s in _ = try withRaw(["a", "b"].map { Array($0.utf8) }) { try store.setAdd(s, $0) } }
        // Sorted sets in both forms (the second has a member past zset-max-listpack-value).
        for (key, members) in [("z", ["a", "b", "c"]), ("y", ["a", String(repeating: "m", count: 70)])] {
            try bytes(key).withUnsafeBytes { z in
                _ = try withRaw(members.map { Array($0.utf8) }) { raw in
                    try store.zsetAdd(z, raw.enumerated().map { ([1, 2.5, -.infinity][$0.offset], $0.element) }, options: SortedSetAddOptions())
                }
            }
        }
        for key in ["h", "s", "t", "l", "z", "y"] {
            let payload = try #require(bytes(key).withUnsafeBytes { store.dump($0) })
            let body = Array(payload.dropLast(8))
            for i in body.indices where i < body.count - 2 {  // the 2 version bytes stay
                for flip: UInt8 in [0x01, 0x80, 0xFF] {
                    var bad = body
                    bad[i] ^= flip
                    let crc = bad.withUnsafeBytes { crc64(0, $0) }
                    withUnsafeBytes(of: crc.littleEndian) { bad += $0 }
                    bytes("r").withUnsafeBytes { r in
                        bad.withUnsafeBytes { p in _ = try? store.restore(r, payload: p, expiry: nil, replace: true) }
                    }
                    if let v = store.verify() { Issue.record("\(key), flip \(flip) at \(i): \(v)"); return }
                }
            }
        }
    }
}
