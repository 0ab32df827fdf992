import Glibc
import Testing
import KVEngine

// The RDB building blocks: CRC-64, LZF, and a file written by a real Redis 7.0.

func hexBytes(_ s: String) -> [UInt8] {
    let digits = Array(s.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// `SET foo bar` + `SET ttlkey v PX 100000000`, saved by redis-server 7.0.15 (../shared/docs/redis-compat-notes.md §6).
let redisSample = hexBytes("""
    5245 4449 5330 3031 30fa 0972 6564 6973 2d76 6572 0637 2e30 2e31 35fa 0a72 6564
    6973 2d62 6974 73c0 40fa 0563 7469 6d65 c2de c401 6bfa 0875 7365 642d 6d65 6dc2
    98ea 1b00 fa08 616f 662d 6261 7365 c000 fe00 fb02 01fc 2ce5 de04 a201 0000 0006
    7474 6c6b 6579 0176 0003 666f 6f03 6261 72ff 0b1a e508 68f8 6549
    """)

@Suite struct SnapshotFormatTests {
    @Test func crc64MatchesRedisTestVector() {
        #expect(crc64(0, bytes("123456789")) == 0xe9c6_d914_c4b8_d9ca)
        #expect(crc64(0, [UInt8]()) == 0)
    }

    @Test func crc64IsTheSameInPiecesAndWhole() {
        var g = SplitMix64(seed: 7)
        let data = (0..<10_000).map { _ in UInt8.random(in: 0...255, using: &g) }
        let whole = crc64(0, data)
        for cut in [0, 1, 7, 8, 9, 4095, 9999] {
            let a = crc64(0, Array(data[..<cut]))
            #expect(crc64(a, Array(data[cut...])) == whole)
        }
        // The slicing-by-8 path against a plain bitwise CRC.
        var c: UInt64 = 0
        for b in data.prefix(1001) {
            c ^= UInt64(b)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x95ac_9329_ac4b_c9b5 : c >> 1 }
        }
        #expect(crc64(0, Array(data.prefix(1001))) == c)
    }

    @Test func redisChecksumOfARealFile() {
        let body = Array(redisSample.dropLast(8))
        let stored = redisSample.suffix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(crc64(0, body) == stored)
    }

    func lzfRoundTrip(_ input: [UInt8]) -> (compressed: Int, ok: Bool) {
        let table = UnsafeMutablePointer<Int32>.allocate(capacity: 1 << lzfHashBits)
        defer { table.deallocate() }
        var out = [UInt8](repeating: 0, count: input.count + input.count / 16 + 64)
        let n = input.withUnsafeBytes { i in out.withUnsafeMutableBytes { lzfCompress(i, into: $0, table: table) } }
        if n == 0 { return (0, false) }
        var back = [UInt8](repeating: 0, count: input.count)
        let ok = out.withUnsafeBytes { o in back.withUnsafeMutableBytes { lzfDecompress(UnsafeRawBufferPointer(rebasing: o[0..<n]), into: $0) } }
        return (n, ok && back == input)
    }

    @Test func lzfRoundTripsEveryKindOfInput() {
        var g = SplitMix64(seed: 1)
        let random = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &g) }
        let text = Array(String(repeating: "the quick brown fox jumps over the lazy dog ", count: 200).utf8)
        let runs = [UInt8](repeating: 0x61, count: 10_000)
        for input in [random, text, runs, Array(random.prefix(3)), Array(text.prefix(33)), Array(runs.prefix(300))] {
            let r = lzfRoundTrip(input)
            #expect(r.ok, "round trip of \(input.count) bytes")
        }
        #expect(lzfRoundTrip(text).compressed < text.count / 10)
        #expect(lzfRoundTrip(runs).compressed < 200)
    }

    @Test func lzfRejectsMalformedStreams() {
        var out = [UInt8](repeating: 0, count: 16)
        func decode(_ s: [UInt8], _ n: Int) -> Bool {
            s.withUnsafeBytes { i in out.withUnsafeMutableBytes { lzfDecompress(i, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) } }
        }
        #expect(decode([2, 0x61, 0x62, 0x63], 3))
        #expect(!decode([2, 0x61, 0x62], 3), "literal run past the input")
        #expect(!decode([0x20, 0x05], 4), "reference before the start")
        #expect(!decode([0, 0x61, 0xE0, 0xFF, 0x00], 16), "reference past the output")
        #expect(!decode([2, 0x61, 0x62, 0x63], 4), "output shorter than announced")
    }

    @Test func readsAFileWrittenByRedis() throws {
        var keys: [String: ([UInt8], Int64?)] = [:]
        let summary = try redisSample.withUnsafeBytes { b in
            try parseRDB(b, now: 0, onKey: { k, v, x in keys[String(decoding: k, as: UTF8.self)] = (Array(v.stringBytes!), x) })
        }
        #expect(summary.version == 10)
        #expect(summary.checksumVerified)
        #expect(summary.aux.first?.0 == "redis-ver" && summary.aux.first?.1 == "7.0.15")
        #expect(summary.aux.contains { $0 == ("redis-bits", "64") })
        #expect(keys["foo"]?.0 == bytes("bar") && keys["foo"]?.1 == nil)
        #expect(keys["ttlkey"]?.0 == bytes("v") && keys["ttlkey"]?.1 == 0x1a2_04de_e52c)
    }

    @Test func namesAKeyOfAnotherType() {
        // The sample with foo's type byte changed from string (0) to a stream (15), a type not read yet.
        var file = redisSample
        let i = file.count - 18  // 00 03 "foo" 03 "bar" ff <crc>: the type byte of foo
        #expect(file[i] == 0x00 && file[i + 1] == 0x03)
        file[i] = 15
        #expect(throws: SnapshotFormatError.self) {
            try file.withUnsafeBytes { b in _ = try parseRDB(b, now: 0, onKey: { _, _, _ in }) }
        }
        do {
            try file.withUnsafeBytes { b in _ = try parseRDB(b, now: 0, onKey: { _, _, _ in }) }
        } catch {
            #expect("\(error)".contains("key 'foo' is a stream"), "\(error)")
        }
    }
}
