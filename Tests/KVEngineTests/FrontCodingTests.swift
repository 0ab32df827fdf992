import Foundation
import Testing
import KVEngine

/// The front-coded inline form of small hashes, sets and sorted sets (Values/FrontCoding.swift): it
/// round-trips every listpack, is chosen only when smaller, and its reader rejects what it cannot decode.
@Suite struct FrontCodingTests {
    /// The plain inline form's size: a 3-byte header, then each element's LEB128 length and bytes.
    func plainSize(_ elements: [[UInt8]]) -> Int {
        elements.reduce(3) { n, e in n + (e.count < 128 ? 1 : e.count < 16384 ? 2 : 3) + e.count }
    }

    func numbered(_ prefix: String, _ range: Range<Int>) -> [[UInt8]] {
        range.map { bytes(prefix + String(format: "%010d", $0)) }
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func roundTripsAndIsChosenOnlyWhenSmaller(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var prefixedSeen = 0, plainSeen = 0
        for _ in 0..<400 {
            // Elements that share prefixes of every length with earlier ones (past 127 bytes, so that the
            // prefix's varint takes two bytes), empty ones, and unrelated ones; within the inline limit.
            var elements: [[UInt8]] = []
            for _ in 0..<Int(rng.next() % 24) {
                let suffix = (0..<Int(rng.next() % 6)).map { _ in UInt8(truncatingIfNeeded: rng.next() % 4) }
                var next: [UInt8]
                switch rng.next() % 5 {
                case 0: next = []
                case 1: next = (0..<Int(100 + rng.next() % 100)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                default:
                    let base = elements.randomElement(using: &rng) ?? []
                    next = Array(base.prefix(Int(rng.next() % UInt64(base.count + 1)))) + suffix
                }
                if plainSize(elements + [next]) > 512 { break }
                elements.append(next)
            }
            for (stride, type) in [(1, ValueType.set), (2, .hash), (2, .zset)] {
                let encoded = inlineEncoding(ofListpack: elements, stride: stride)
                #expect(inlineListpackElements(encoded, type: type) == elements)
                expectLookupsAgree(encoded, elements, stride: stride)
                if encoded[0] == 4 {
                    prefixedSeen += 1
                    #expect(encoded.count < plainSize(elements), "front-coded only when smaller")
                } else {
                    plainSeen += 1
                    // Or packed, when elements of one length share a header (SymbolPacking.swift).
                    #expect(encoded[0] == 2 && encoded.count == plainSize(elements)
                        || encoded[0] == 5 && encoded.count < plainSize(elements))
                }
            }
        }
        #expect(prefixedSeen > 100 && plainSeen > 100, "both forms exercised: \(prefixedSeen) / \(plainSeen)")
    }

    @Test func numberedFieldsTakeAFewBytesEach() {
        // A hash of ten numbered fields and values: 16 + 16 bytes each, 343 bytes as a listpack.
        var pairs: [[UInt8]] = []
        for (f, v) in zip(numbered("field:", 0..<10), numbered("value:", 500..<510)) { pairs += [f, v] }
        let encoded = inlineEncoding(ofListpack: pairs, stride: 2)
        #expect(plainSize(pairs) == 343)
        #expect(encoded[0] == 4 && encoded.count == 4 + 2 * 18 + 18 * 3, "\(encoded.count)")
        // Random 16-byte members share no prefix: stored as they are, behind the one header they share
        // (SymbolPacking.swift: stride 1, way 0).
        var rng = SplitMix64(seed: 9)
        let random = (0..<10).map { _ in (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        #expect(inlineEncoding(ofListpack: random, stride: 1) == [5, 10, 0, 1, 16 << 2 + 1] + random.joined())
    }

    /// The decoder trusts nothing VERIFY hands it: every truncation is rejected, and every bit flip is
    /// rejected or decodes to a sound listpack, never a crash or a read past the buffer.
    @Test func corruptEncodingsAreRejected() {
        var elements = numbered("member:", 0..<12)
        elements.append(Array(repeating: 7, count: 130))
        elements.append(Array(repeating: 7, count: 129) + [1])  // a prefix of 129: a two-byte varint
        let encoded = inlineEncoding(ofListpack: elements, stride: 1)
        #expect(encoded[0] == 4)
        expectCorruptionsRejected(encoded, header: 4)
        #expect(inlineListpackElements(encoded, type: .hash) == nil, "a hash's stride is 2")
        // And a hash's: fields and values each coded against the one before in their column.
        var pairs: [[UInt8]] = []
        for (f, v) in zip(numbered("field:", 0..<8), numbered("value:", 90..<98)) { pairs += [f, v] }
        let hash = inlineEncoding(ofListpack: pairs, stride: 2)
        #expect(hash[0] == 4)
        expectCorruptionsRejected(hash, header: 4, type: .hash)
    }

    /// Through the store: numbered fields cost a fraction of random ones, and every read sees them whole.
    @Test func storedHashesAndSortedSetsDecodeWhole() throws {
        let store = Store(shardCount: 1)
        var rng = SplitMix64(seed: 4)
        func usage(_ k: String) -> Int { bytes(k).withUnsafeBytes { store.memoryUsage($0) } ?? 0 }
        let fields = numbered("field:", 0..<10), values = numbered("value:", 77..<87)
        let randomFields = (0..<10).map { _ in (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        for (key, names) in [("numbered", fields), ("random", randomFields)] {
            try bytes(key).withUnsafeBytes { h in
                _ = try withRaw(names + values) { b in try store.hashSet(h, (0..<10).map { (b[$0], b[10 + $0]) }) }
                #expect(store.encoding(h) == "listpack")
                for (f, v) in zip(names, values) {
                    #expect(try f.withUnsafeBytes { try store.hashGet(h, $0) } == v)
                }
            }
        }
        #expect(usage("numbered") * 2 < usage("random"), "\(usage("numbered")) vs \(usage("random"))")
        try bytes("z").withUnsafeBytes { z in
            let members = numbered("member:", 0..<10)
            try withRaw(members) { raw in
                _ = try store.zsetAdd(z, raw.enumerated().map { (Double($0.offset * 3), $0.element) }, options: SortedSetAddOptions())
            }
            #expect(store.encoding(z) == "listpack")
            let range = try store.zsetRange(z, .rank(0, -1), reverse: false).elements
            #expect(range.map(\.member) == members && range.map(\.score) == (0..<10).map { Double($0 * 3) })
        }
        #expect(store.verify() == nil)
    }
}

/// An inline encoding (a set's unless `type` says) corrupted every way: each truncation past its `header`
/// bytes is rejected, and each bit flip is rejected or decodes to as many elements as the (flipped) count
/// says; some flips (of lengths, counts, unused bits) must be caught.
func expectCorruptionsRejected(_ encoded: [UInt8], header: Int, type: ValueType = .set,
                               sourceLocation: SourceLocation = #_sourceLocation) {
    // Point reads meet the same damage: they answer from the bytes without decoding (`findInline`), so
    // each must survive it, and agree with the decoder where the damage left what the writer would write
    // (nothing else is ever stored: every value loaded is encoded again).
    let stride = type == .set ? 1 : 2
    let elements = inlineListpackElements(encoded, type: type) ?? []
    for n in header..<encoded.count {
        #expect(inlineListpackElements(Array(encoded[..<n]), type: type) == nil, "truncated to \(n)", sourceLocation: sourceLocation)
        for probe in elements { _ = inlineLookup(Array(encoded[..<n]), probe, stride: stride) }
    }
    var accepted = 0, canonical = 0
    for i in 0..<encoded.count {
        for bit in 0..<8 {
            var flipped = encoded
            flipped[i] ^= 1 << bit
            if let decoded = inlineListpackElements(flipped, type: type) {
                accepted += 1
                #expect(decoded.count == Int(flipped[1]) | Int(flipped[2]) << 8, sourceLocation: sourceLocation)
                if inlineEncoding(ofListpack: decoded, stride: stride) == flipped {
                    expectLookupsAgree(flipped, decoded, stride: stride, sourceLocation: sourceLocation)
                    canonical += 1
                    continue
                }
            }
            for probe in elements { _ = inlineLookup(flipped, probe, stride: stride) }
        }
    }
    #expect(accepted < encoded.count * 8, "flips of lengths and counts are caught", sourceLocation: sourceLocation)
    #expect(canonical > 0, "some flips leave other elements, written as the writer would", sourceLocation: sourceLocation)
}

/// Point reads in an inline encoding's bytes (`findInline`) agree with its elements, for each of them and
/// for elements it does not hold: a stride-2 lookup finds the element after the match.
func expectLookupsAgree(_ encoded: [UInt8], _ elements: [[UInt8]], stride: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    // Probes beside each element too (one byte shorter, longer, or changed at its end): the front-coded
    // lookup compares keys by the prefix they share with the one before, which these put to the test.
    let near = elements.flatMap { e -> [[UInt8]] in
        e.isEmpty ? [[0x30]] : [Array(e.dropLast()), e + [0x30], Array(e.dropLast()) + [e.last! &+ 1], Array(e.dropLast()) + [e.last! &- 1]]
    }
    for probe in elements + near + [[], Array("0123".utf8), Array("zz-top".utf8)] {
        let index = (0..<elements.count).first { $0 % stride == 0 && elements[$0] == probe }
        if let index, stride == 2, index + 1 >= elements.count { continue }  // a field without its value
        let next: [UInt8]? = index.map { stride == 2 ? elements[$0 + 1] : [] }
        #expect(inlineLookup(encoded, probe, stride: stride) == .some(next), "\(probe) in form \(encoded[0])",
                sourceLocation: sourceLocation)
    }
}
