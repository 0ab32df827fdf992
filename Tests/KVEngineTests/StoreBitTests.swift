import Testing
import KVEngine

/// Bitmaps against a model of the bits (kvdifftest compares the replies with redis-server's).
@Suite struct StoreBitTests {
    @Test func setBitGrowsAndEveryReadAgreesWithAModel() throws {
        let s = makeStore()
        var model = [Bool](repeating: false, count: 200)
        var rng = SplitMix64(seed: 7)
        let key = bytes("bits")
        for _ in 0..<2_000 {
            let offset = Int(rng.next() % 200), value = rng.next() % 2 == 0
            let old = try key.withUnsafeBytes { try s.setBit($0, offset: offset, value) }
            #expect(old == model[offset])
            model[offset] = value
        }
        let length = (model.lastIndex(of: true).map { $0 / 8 + 1 }) ?? 0
        #expect(try s.get(key)?.count ?? 0 >= length)
        try key.withUnsafeBytes { k throws in
            for i in 0..<200 { #expect(try s.getBit(k, offset: i) == model[i]) }
            #expect(try s.getBit(k, offset: 100_000) == false)
            #expect(try s.bitCount(k, range: nil) == model.filter { $0 }.count)
            // A bit range against the model.
            #expect(try s.bitCount(k, range: (13, 77, true)) == model[13...77].filter { $0 }.count)
            let first = model.firstIndex(of: true).map(Int64.init) ?? -1
            #expect(try s.bitPosition(k, bit: true, start: nil, end: nil, bits: false) == first)
            let firstInRange = model[21...150].firstIndex(of: false).map(Int64.init) ?? -1
            #expect(try s.bitPosition(k, bit: false, start: 21, end: 150, bits: true) == firstInRange)
        }
        #expect(s.verify() == nil)
    }

    @Test func bitOperationsPadWithZerosAndAnEmptyResultDeletes() throws {
        let s = makeStore()
        try s.set(bytes("a"), [0b1100_0000, 0xFF])
        try s.set(bytes("b"), [0b1010_0000])
        func op(_ o: BitOperation, _ sources: [String]) throws -> Int {
            try bytes("d").withUnsafeBytes { d in
                try sources.map(bytes).withUnsafeBufferPointers { try s.bitOperation(o, destination: d, sources: $0) }
            }
        }
        #expect(try op(.and, ["a", "b"]) == 2)
        #expect(try s.get(bytes("d")) == [0b1000_0000, 0])
        #expect(try op(.or, ["a", "b", "missing"]) == 2)
        #expect(try s.get(bytes("d")) == [0b1110_0000, 0xFF])
        #expect(try op(.xor, ["a", "b"]) == 2)
        #expect(try s.get(bytes("d")) == [0b0110_0000, 0xFF])
        #expect(try op(.not, ["b"]) == 1)
        #expect(try s.get(bytes("d")) == [0b0101_1111])
        #expect(try op(.and, ["missing", "nothing"]) == 0)
        #expect(try s.get(bytes("d")) == nil)
        #expect(s.verify() == nil)
    }

    @Test func bitfieldOverflowModesAndCreation() throws {
        let store = Store(shardCount: 2)
        let k = Array("bf".utf8)
        func op(_ kind: BitfieldOperation.Kind, _ type: String, _ offset: Int, _ ow: BitfieldOperation.Overflow = .wrap) -> BitfieldOperation {
            BitfieldOperation(kind: kind, signed: type.first == "i", bits: Int(type.dropFirst())!, offset: offset, overflow: ow)
        }
        func run(_ ops: [BitfieldOperation]) throws -> [Int64?] { try k.withUnsafeBytes { try store.bitfield($0, ops) } }
        // Only GETs: zeros, and no key.
        #expect(try run([op(.get, "u8", 100)]) == [0])
        #expect(try store.get(k) == nil)
        // SET returns the old value; u8 wraps 256 to 0, i8 reads 200 back as -56.
        #expect(try run([op(.set(256), "u8", 0), op(.set(200), "i8", 8), op(.get, "i8", 8)]) == [0, 0, -56])
        #expect(try store.get(k) == [0, 200])
        // SAT clamps; FAIL answers nil and writes nothing.
        #expect(try run([op(.incrBy(-1000), "i8", 0, .saturate)]) == [-128])
        #expect(try run([op(.incrBy(1), "i8", 0, .fail), op(.get, "i8", 0)]) == [-127, -127])
        #expect(try run([op(.incrBy(-10), "i8", 0, .fail), op(.get, "i8", 0)]) == [nil, -127])
        // i64 and u63 at their edges.
        #expect(try run([op(.set(Int64.max), "i64", 16), op(.incrBy(1), "i64", 16)]) == [0, Int64.min])
        #expect(try run([op(.set(-1), "u63", 80, .saturate), op(.get, "u63", 80)]) == [0, Int64.max])
        #expect(store.verify() == nil)
    }
}
