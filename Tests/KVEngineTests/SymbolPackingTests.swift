import Testing
import KVEngine

/// The symbol-packed inline form of small hashes, sets and sorted sets (Values/SymbolPacking.swift): it
/// round-trips every listpack, is chosen only when it is the smallest form, and its reader rejects what
/// it cannot decode.
@Suite struct SymbolPackingTests {
    /// The plain inline form's size: a 3-byte header, then each element's LEB128 length and bytes.
    func plainSize(_ elements: [[UInt8]]) -> Int {
        elements.reduce(3) { n, e in n + (e.count < 128 ? 1 : e.count < 16384 ? 2 : 3) + e.count }
    }

    /// The packed form's size, computed independently of the encoder: digits 4 bits each from two of
    /// them, URL-safe symbols 6 bits each from four, each behind a header of the length times 4 plus the
    /// way, unless every element of its column (index modulo the stride) has one header, stored once.
    func packedSize(_ elements: [[UInt8]], stride: Int) -> Int {
        let digits = Set("0123456789abcdef".utf8)
        let symbols = digits.union("ghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_".utf8)
        func varint(_ x: Int) -> Int { x < 128 ? 1 : x < 16384 ? 2 : 3 }
        var headers: [Int] = [], stored = 0
        for e in elements {
            let (way, bits) = e.count >= 2 && e.allSatisfy(digits.contains) ? (1, 4)
                : e.count >= 4 && e.allSatisfy(symbols.contains) ? (2, 6) : (0, 8)
            headers.append(e.count * 4 + way)
            stored += (e.count * bits + 7) / 8
        }
        return (0..<stride).reduce(3 + 1 + stored) { n, c in
            let column = headers.indices.filter { $0 % stride == c }.map { headers[$0] }
            let own = 1 + column.map(varint).reduce(0, +)
            return n + (Set(column).count == 1 ? min(own, varint(column[0] + 1)) : own)
        }
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func roundTripsAndIsChosenOnlyWhenSmallest(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var seen = [UInt8: Int]()
        let alphabets: [[UInt8]] = [Array("0123456789".utf8), Array("0123456789abcdef".utf8),
                                    Array("0123456789abcdefABCDEF-_xyz".utf8), Array("0123456789abcdefABC-.:g".utf8)]
        for _ in 0..<600 {
            // Digit and symbol strings of every length (one symbol, odd and even counts, past 31 where the
            // header takes two bytes), strings with other bytes, empty elements, and repeats that front-code.
            var elements: [[UInt8]] = []
            for _ in 0..<Int(rng.next() % 24) {
                let alphabet = alphabets[Int(rng.next() % 4)]
                let length = rng.next() % 8 == 0 ? Int(60 + rng.next() % 80) : Int(rng.next() % 20)
                var next = (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                if rng.next() % 6 == 0, let earlier = elements.randomElement(using: &rng) { next = earlier + next.prefix(2) }
                if plainSize(elements + [next]) > 512 { break }
                elements.append(next)
            }
            for (stride, type) in [(1, ValueType.set), (2, .hash), (2, .zset)] {
                let encoded = inlineEncoding(ofListpack: elements, stride: stride)
                #expect(inlineListpackElements(encoded, type: type) == elements)
                seen[encoded[0], default: 0] += 1
                #expect(encoded.count <= min(plainSize(elements), packedSize(elements, stride: stride)), "the smallest form")
                if encoded[0] == 5 { #expect(encoded.count == packedSize(elements, stride: stride)) }
                expectLookupsAgree(encoded, elements, stride: stride)
            }
        }
        #expect(seen[5, default: 0] > 300 && seen[2, default: 0] > 50 && seen[4, default: 0] > 10, "\(seen)")
    }

    @Test func digitsTakeHalfTheirBytesAndSymbolsThreeQuarters() {
        // Ten fields and values of 16 random hex digits: 343 bytes as a listpack; packed, 8 bytes each
        // behind the stride and the two columns' one header each.
        var rng = SplitMix64(seed: 5)
        let hex = (0..<20).map { _ in Array(String(rng.next(), radix: 16).leftPadded(to: 16).utf8) }
        let encoded = inlineEncoding(ofListpack: hex, stride: 2)
        #expect(plainSize(hex) == 343)
        #expect(Array(encoded[..<6]) == [5, 20, 0, 2, 16 << 2 | 1 + 1, 16 << 2 | 1 + 1])
        #expect(encoded.count == 6 + 20 * 8, "\(encoded.count)")
        // Sixteen random letters and digits: 12 bytes each.
        let alnum = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_".utf8)
        let names = (0..<20).map { _ in (0..<16).map { _ in alnum[Int(rng.next() % 64)] } }
        let n = inlineEncoding(ofListpack: names, stride: 2)
        #expect(n[0] == 5 && n.count == 6 + 20 * 12 && inlineListpackElements(n, type: .hash) == names, "\(n.count)")
        expectLookupsAgree(n, names, stride: 2)
        // Fields of one length, values of many (a sorted set's members and scores): only the fields'
        // header is shared; empty values share theirs and take no bytes at all.
        let scored: [[UInt8]] = (0..<20).map { (i: Int) -> [UInt8] in i % 2 == 0 ? names[i] : Array(String(i * 977).utf8) }
        let z = inlineEncoding(ofListpack: scored, stride: 2)
        #expect(z[0] == 5 && z[4] == 16 << 2 | 2 + 1 && z[5] == 0 && z.count == packedSize(scored, stride: 2))
        #expect(inlineListpackElements(z, type: .zset) == scored)
        let blanks: [[UInt8]] = (0..<20).map { (i: Int) -> [UInt8] in i % 2 == 0 ? hex[i] : [] }
        let b = inlineEncoding(ofListpack: blanks, stride: 2)
        #expect(Array(b[..<6]) == [5, 20, 0, 2, 16 << 2 | 1 + 1, 1] && b.count == 6 + 10 * 8)
        #expect(inlineListpackElements(b, type: .hash) == blanks)
        expectLookupsAgree(b, blanks, stride: 2)
        #expect(inlineListpackElements(b, type: .set) == nil, "a stride-2 encoding is not a set's")
        expectCorruptionsRejected(b, header: 3, type: .hash)
        // Each element its own way: words, numbers with leading zeros, a UUID, odd lengths; "0x1f", "a.b"
        // and one-digit elements stay bytes.
        let mixed = ["views", "0012345", "created_at", "9", "0x1f", "deadbeef", "DEADBEEF", "",
                     "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "a.b", "abc"].map { Array($0.utf8) }
        let m = inlineEncoding(ofListpack: mixed + [[]], stride: 2)
        #expect(m[0] == 5 && inlineListpackElements(m, type: .hash) == mixed + [[]])
        #expect(m.count == packedSize(mixed + [[]], stride: 2) && m.count < plainSize(mixed + [[]]))
        // Nothing in either alphabet, or too short to save a byte: the plain form, byte for byte.
        let words = ["a.b", "c d", "Zz", "x!"].map { Array($0.utf8) }
        let plain: [UInt8] = [2, UInt8(words.count), 0] + words.flatMap { (w: [UInt8]) -> [UInt8] in [UInt8(w.count)] + w }
        #expect(inlineEncoding(ofListpack: words, stride: 1) == plain)
    }

    /// Every byte among digits and among symbols, in and past the first eight (the classifier and the
    /// digits' packer work on eight bytes at a time): packed exactly when it is a symbol, in 4 bits a byte
    /// among digits when it is a digit.
    @Test func everyByteIsClassifiedAsTheAlphabetsSay() {
        let symbols = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_".utf8)
        for b in 0...255 {
            let byte = UInt8(b)
            for base in [Array("0123456789abcdef0".utf8), Array("Zz-_09aAgG".utf8)] {
                for at in [0, 7, 8, base.count - 1] {
                    var e = base
                    e[at] = byte
                    let encoded = inlineEncoding(ofListpack: [e, e], stride: 2)
                    #expect(inlineListpackElements(encoded, type: .hash) == [e, e], "byte \(b) at \(at)")
                    #expect((encoded[0] == 5) == symbols.contains(byte), "byte \(b) at \(at)")
                    if encoded[0] == 5 { #expect(encoded.count == packedSize([e, e], stride: 2), "byte \(b) at \(at)") }
                }
            }
        }
    }

    /// The decoder trusts nothing VERIFY hands it: every truncation is rejected, and every bit flip is
    /// rejected or decodes to a sound listpack of the stated count, never a crash or a read past the buffer.
    @Test func corruptEncodingsAreRejected() {
        var elements = (0..<12).map { Array(String($0 * 7919 + 100, radix: 16).utf8) }
        elements.append(Array(repeating: UInt8(ascii: "7"), count: 131))  // a two-byte header, odd length
        elements.append(Array("plain.".utf8))
        elements.append(Array("Symbols_and-5".utf8))
        let encoded = inlineEncoding(ofListpack: elements, stride: 1)
        #expect(encoded[0] == 5)
        expectCorruptionsRejected(encoded, header: 3)
        // Not what the writer makes: one packed digit, three packed symbols, an unused bit set, way 3, a
        // shared header of way 3, stride 0 or 3, bytes after the last element.
        #expect(inlineListpackElements([5, 1, 0, 1, 0, 1 << 2 | 1, 0x70], type: .set) == nil)
        #expect(inlineListpackElements([5, 1, 0, 1, 0, 3 << 2 | 2, 0, 0, 0], type: .set) == nil)
        #expect(inlineListpackElements([5, 1, 0, 1, 0, 3 << 2 | 1, 0x12, 0x34], type: .set) == nil)
        #expect(inlineListpackElements([5, 1, 0, 1, 0, 3 << 2 | 3, 0x12, 0x34], type: .set) == nil)
        #expect(inlineListpackElements([5, 1, 0, 1, 3 << 2 | 3 + 1, 0x12, 0x34], type: .set) == nil)
        #expect(inlineListpackElements([5, 1, 0, 0, 0, 3 << 2 | 1, 0x12, 0x30], type: .set) == nil)
        #expect(inlineListpackElements([5, 1, 0, 3, 0, 0, 0, 3 << 2 | 1, 0x12, 0x30], type: .set) == nil)
        #expect(inlineListpackElements([5, 1, 0, 1, 0, 3 << 2 | 1, 0x12, 0x30, 0], type: .set) == nil)
        #expect(inlineListpackElements([5, 1, 0, 1, 0, 3 << 2 | 1, 0x12, 0x30], type: .set) == [Array("123".utf8)])
        // Two elements behind one shared header.
        #expect(inlineListpackElements([5, 2, 0, 1, 3 << 2 | 1 + 1, 0x12, 0x30, 0x45, 0x60], type: .set)
            == [Array("123".utf8), Array("456".utf8)])
        // "gG-_": values 16, 42, 62, 63 in 6 bits each, 0b010000_101010_111110_111111.
        #expect(inlineListpackElements([5, 1, 0, 1, 0, 4 << 2 | 2, 0b0100_0010, 0b1010_1111, 0b1011_1111], type: .set)
            == [Array("gG-_".utf8)])
    }

    /// Through the store: hex members cost about half, every read sees them whole, and writes that add an
    /// element of other bytes or a long one keep the value whole.
    @Test func storedValuesDecodeWhole() throws {
        let store = Store(shardCount: 1)
        var rng = SplitMix64(seed: 8)
        func usage(_ k: String) -> Int { bytes(k).withUnsafeBytes { store.memoryUsage($0) } ?? 0 }
        let hex = (0..<10).map { _ in Array(String(rng.next(), radix: 16).leftPadded(to: 16).utf8) }
        let words = (0..<10).map { _ in (0..<16).map { _ in UInt8(ascii: "!") + UInt8(rng.next() % 12) } }
        for (key, names) in [("hex", hex), ("words", words)] {
            try bytes(key).withUnsafeBytes { h in
                _ = try withRaw(names + names.reversed()) { b in try store.hashSet(h, (0..<10).map { (b[$0], b[10 + $0]) }) }
                #expect(store.encoding(h) == "listpack")
                for (f, v) in zip(names, names.reversed()) {
                    #expect(try f.withUnsafeBytes { try store.hashGet(h, $0) } == v)
                }
            }
        }
        #expect(usage("hex") + 120 < usage("words"), "\(usage("hex")) vs \(usage("words"))")
        try bytes("s").withUnsafeBytes { s in
            _ = try withRaw(hex) { try store.setAdd(s, $0) }
            _ = try withRaw([Array("not-hex".utf8), Array(repeating: UInt8(ascii: "9"), count: 64)]) { try store.setAdd(s, $0) }
            #expect(Set(try store.setMembers(s)) == Set(hex + [Array("not-hex".utf8), Array(repeating: UInt8(ascii: "9"), count: 64)]))
            _ = try withRaw([Array("not-hex".utf8)]) { try store.setRemove(s, $0) }
            #expect(try store.setCount(s) == 11 && store.encoding(s) == "listpack")
        }
        try bytes("z").withUnsafeBytes { z in
            try withRaw(hex) { raw in
                _ = try store.zsetAdd(z, raw.enumerated().map { (Double($0.offset) - 4.5, $0.element) }, options: SortedSetAddOptions())
            }
            let range = try store.zsetRange(z, .rank(0, -1), reverse: false).elements
            #expect(range.map(\.member) == hex && range.map(\.score) == (0..<10).map { Double($0) - 4.5 })
        }
        #expect(store.verify() == nil)
    }
}

extension String {
    func leftPadded(to n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
