import Testing
import KVEngine

/// Edits of inline hashes and sets in their bytes (Values/InlineEdits.swift): every edit leaves an encoding
/// that holds what the general way (decode, change, encode) would hold, in the same order; it declines
/// exactly where the general way must decide (thresholds, the inline limit, a shared header broken, counts
/// of powers of two and multiples of 16), and never writes past the inline limit.
@Suite struct InlineEditTests {
    /// Elements of the shapes the forms treat differently: digits, URL-safe symbols, other bytes, empty,
    /// one length repeated (shared column headers), lengths past 31 (two-byte packed headers) and numbered
    /// names (shared prefixes).
    static func element(_ rng: inout SplitMix64, numbered: Bool = false) -> [UInt8] {
        let alphabets: [[UInt8]] = [Array("0123456789".utf8), Array("0123456789abcdefXYZ-_".utf8), Array("abc.:/ ".utf8)]
        // Numbered names, which front-code.
        if numbered || rng.next() % 4 == 0 { return Array("user:\(rng.next() % 1000)".utf8) }
        let alphabet = alphabets[Int(rng.next() % 3)]
        let length = [0, 1, 3, 4, 12, 12, 12, 16, 40][Int(rng.next() % 9)]
        return (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
    }

    @Test("HSET of one field and SADD of one member in the bytes agree with the model", arguments: [1, 2, 3, 4] as [UInt64])
    func editsAgreeWithModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var edited = 0, declined = 0, weighedKept = 0
        var frontCoded: [String: Int] = [:]
        var editedByForm: [UInt8: Int] = [:]
        for _ in 0..<300 {
            for (step, type) in [(2, ValueType.hash), (1, .set)] {
                // The model: the value's elements in order (a hash's field, value pairs; a set's members).
                // A third of the values hold numbered names only: front-coded.
                let numbered = rng.next() % 3 == 0
                var model: [[UInt8]] = []
                for _ in 0..<step { model.append(Self.element(&rng, numbered: numbered)) }
                var encoding = inlineEncoding(ofListpack: model, stride: step)
                let maxEntries = [4, 40, 512][Int(rng.next() % 3)], maxValue = [12, 64][Int(rng.next() % 2)]
                for _ in 0..<60 {
                    // A field already there (its value replaced) a third of the time.
                    let fields = stride(from: 0, to: model.count, by: step).map { model[$0] }
                    let field = rng.next() % 3 == 0 ? fields[Int(rng.next() % UInt64(fields.count))] : Self.element(&rng, numbered: numbered)
                    let value = step == 2 ? Self.element(&rng, numbered: numbered) : []
                    let at = stride(from: 0, to: model.count, by: step).first { model[$0] == field }
                    func apply() { if let at { if step == 2 { model[at + 1] = value } } else { model += step == 2 ? [field, value] : [field] } }
                    guard let (next, added) = inlineEdited(encoding, stride: step, field, value, maxEntries: maxEntries, maxValue: maxValue) else {
                        declined += 1
                        // The value leaves the listpack (the general way converts it): this one is done.
                        if at == nil && model.count / step + 1 > maxEntries || field.count > maxValue || value.count > maxValue { break }
                        let appending = at == nil
                        apply()
                        if plainSize(model) > 512 { break }  // it becomes an object
                        // The plain form declines nothing else but counts of powers of two and multiples of 16.
                        if encoding[0] == 2 { #expect(appending && (model.count % 16 == 0 || model.count & (model.count - 1) == 0)) }
                        encoding = inlineEncoding(ofListpack: model, stride: step)
                        continue
                    }
                    edited += 1
                    editedByForm[encoding[0], default: 0] += 1
                    #expect(added == (at == nil))
                    apply()
                    #expect(next.count <= 512 && plainSize(model) <= 512)
                    #expect(model.count / step <= maxEntries && field.count <= maxValue && value.count <= maxValue)
                    // Adds to counts of powers of two and multiples of 16 are encoded afresh, but by a front-coded or
                    // packed value past 4 elements that stays smaller than the plain form.
                    if at == nil && (model.count % 16 == 0 || model.count & (model.count - 1) == 0) {
                        #expect(encoding[0] != 2 && model.count > 4 && next.count < plainSize(model), "weighed afresh")
                        weighedKept += 1
                    }
                    #expect(next[0] == encoding[0], "an edit keeps the form")
                    #expect(inlineListpackElements(next, type: type) == model)
                    // An element appended or replaced front-coded shares with the one before in its column all it
                    // can, and the one after it is coded again against it: as coded afresh.
                    if next[0] == 4, case let fresh = inlineEncoding(ofListpack: model, stride: step), fresh[0] == 4 {
                        #expect(next == fresh, "\(model.map { String(decoding: $0, as: UTF8.self) })")
                        frontCoded[step == 1 ? "set" : at == nil ? "hash append" : "hash replace", default: 0] += 1
                    }
                    encoding = next
                }
            }
        }
        #expect(edited > 5_000 && declined > 500 && weighedKept > 100,
                "both ways taken: \(edited) edited (\(weighedKept) kept their form where weighed), \(declined) declined")
        #expect([2, 4, 5].allSatisfy { editedByForm[$0, default: 0] > 200 }, "each form edited: \(editedByForm)")
        #expect(frontCoded.count == 3 && frontCoded.values.allSatisfy { $0 > 100 }, "edits checked byte for byte: \(frontCoded)")
    }

    @Test("front-coded values take appends, and replaced values with the next value in their column coded again")
    func frontCoded() {
        let members = (0..<6).map { Array("user:session:\($0)".utf8) }
        let prefixed = inlineEncoding(ofListpack: members, stride: 1)
        #expect(prefixed[0] == 4)
        let added = inlineEdited(prefixed, stride: 1, Array("user:session:17".utf8), [], maxEntries: 128, maxValue: 64)
        #expect(added?.added == true && added?.encoding.count == prefixed.count + 4, "13 bytes shared, 2 of 15 stored")
        #expect(added.flatMap { inlineListpackElements($0.encoding, type: .set) } == members + [Array("user:session:17".utf8)])
        #expect(inlineEdited(prefixed, stride: 1, members[3], [], maxEntries: 128, maxValue: 64)?.added == false)
        let hash = inlineEncoding(ofListpack: members.flatMap { [$0, $0] }, stride: 2)
        #expect(hash[0] == 4)
        // The first, a middle and the last value replaced: by one sharing nothing, one sharing more, and one
        // sharing less with its neighbours in the column.
        for (i, value) in [(0, "x"), (2, "user:session:2:renewed"), (5, ""), (3, "user:s")] {
            var model = members.flatMap { [$0, $0] }
            model[2 * i + 1] = Array(value.utf8)
            let replaced = inlineEdited(hash, stride: 2, members[i], Array(value.utf8), maxEntries: 128, maxValue: 64)
            #expect(replaced?.added == false && replaced?.encoding[0] == 4, "\(i)")
            #expect(replaced.flatMap { inlineListpackElements($0.encoding, type: .hash) } == model, "\(i)")
        }
    }

    @Test("SADD of one integer to an intset in the bytes: at its place; what changes the form is declined")
    func intsetAdds() {
        let intset = InlineRemovalTests.intset
        let members: [Int64] = [-40000, -3, 0, 7, 70000]
        let encoding = intset(members, 4)
        for v in [-50000, -4, 1, 8, 80000] as [Int64] {
            let added = inlineEdited(encoding, stride: 1, Array(String(v).utf8), [], maxEntries: 128, maxValue: 64, maxIntsetEntries: 6)
            #expect(added?.encoding == intset((members + [v]).sorted(), 4) && added?.added == true, "\(v)")
        }
        #expect(inlineEdited(encoding, stride: 1, Array("7".utf8), [], maxEntries: 128, maxValue: 64, maxIntsetEntries: 6)?.added == false)
        // Not canonical integers (the set becomes a listpack), wider than the members (they widen), one past
        // set-max-intset-entries (a map), one past the inline limit (an object): the general way.
        for m in ["+8", "08", "x", "5000000000"] {
            #expect(inlineEdited(encoding, stride: 1, Array(m.utf8), [], maxEntries: 128, maxValue: 64, maxIntsetEntries: 6) == nil, "\(m)")
        }
        #expect(inlineEdited(encoding, stride: 1, Array("8".utf8), [], maxEntries: 128, maxValue: 64, maxIntsetEntries: 5) == nil)
        let full = intset((0..<127).map { Int64($0) * 3 }, 4)  // 2 + 127 * 4 = 510 bytes
        #expect(inlineEdited(full, stride: 1, Array("1".utf8), [], maxEntries: 128, maxValue: 64, maxIntsetEntries: 512) == nil)
        #expect(inlineEdited(full, stride: 1, Array("3".utf8), [], maxEntries: 128, maxValue: 64, maxIntsetEntries: 512)?.added == false)
    }

    @Test("a shared column header the new element lacks: declined, and the general way unshares it")
    func sharedHeaderBroken() {
        // Sixteen hex digits a field, eight a value, no prefixes in common: packed, each column's header shared.
        let fields = ["3f9a0c1d7e2b4a61", "a0b1c2d3e4f50617"].map { Array($0.utf8) }
        let values = ["12345678", "87654321"].map { Array($0.utf8) }
        let model = (0..<2).flatMap { [fields[$0], values[$0]] }  // 4 elements: the append makes 6
        let encoding = inlineEncoding(ofListpack: model, stride: 2)
        #expect(encoding[0] == 5 && encoding[4] != 0 && encoding[5] != 0, "packed, both headers shared")
        #expect(inlineEdited(encoding, stride: 2, Array("7".utf8), Array("24681357".utf8), maxEntries: 128, maxValue: 64) == nil)
        #expect(inlineEdited(encoding, stride: 2, Array("5d4c3b2a19087f6e".utf8), Array("x".utf8), maxEntries: 128, maxValue: 64) == nil)
        #expect(inlineEdited(encoding, stride: 2, fields[1], Array("246813579".utf8), maxEntries: 128, maxValue: 64) == nil)
        let added = inlineEdited(encoding, stride: 2, Array("5d4c3b2a19087f6e".utf8), Array("24681357".utf8), maxEntries: 128, maxValue: 64)
        #expect(added?.added == true && added?.encoding.count == encoding.count + 12, "8 and 4 bytes, no headers")
        #expect(added.flatMap { inlineListpackElements($0.encoding, type: .hash) } == model + [Array("5d4c3b2a19087f6e".utf8), Array("24681357".utf8)])
        let replaced = inlineEdited(encoding, stride: 2, fields[1], Array("24681357".utf8), maxEntries: 128, maxValue: 64)
        #expect(replaced?.added == false && replaced?.encoding.count == encoding.count)
        #expect(replaced.flatMap { inlineListpackElements($0.encoding, type: .hash) } == [fields[0], values[0], fields[1], Array("24681357".utf8)])
    }

    @Test("HINCRBY in the bytes, in one walk, agrees with the model; what the general way must answer is declined", arguments: [1, 2, 3] as [UInt64])
    func incrementsAgreeWithModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var replaced: [UInt8: Int] = [:], appended = 0, refused = 0
        for _ in 0..<300 {
            // Counters beside other values: small and large integers (near Int64's ends, to overflow), text.
            func value() -> [UInt8] {
                switch rng.next() % 5 {
                case 0: return Self.element(&rng)
                case 1: return Array(String(Int64.max - Int64(rng.next() % 3)).utf8)
                default: return Array(String(Int64(rng.next() % 2000) - 1000).utf8)
                }
            }
            let numbered = rng.next() % 3 == 0
            var model: [[UInt8]] = []
            for _ in 0..<(1 + rng.next() % 12) { model += [Self.element(&rng, numbered: numbered), value()] }
            // One field each: the general way keeps the first of two equal fields, as a decoded hash would.
            var seen = Set<[UInt8]>()
            model = stride(from: 0, to: model.count, by: 2).flatMap { seen.insert(model[$0]).inserted ? [model[$0], model[$0 + 1]] : [] }
            let maxEntries = [4, 40, 512][Int(rng.next() % 3)], maxValue = [12, 64][Int(rng.next() % 2)]
            // A listpack as the thresholds leave it, and inline.
            model = Array(model.prefix(2 * maxEntries)).filter { $0.count <= maxValue }
            if model.count % 2 == 1 || model.isEmpty { continue }
            while plainSize(model) > 512 { model.removeLast(2) }
            var encoding = inlineEncoding(ofListpack: model, stride: 2)
            for _ in 0..<20 {
                let fields = stride(from: 0, to: model.count, by: 2).map { model[$0] }
                let field = rng.next() % 4 != 0 ? fields[Int(rng.next() % UInt64(fields.count))] : Self.element(&rng, numbered: numbered)
                let delta = [1, -1, 7, 1000, Int64.max][Int(rng.next() % 5)]
                let at = stride(from: 0, to: model.count, by: 2).first { model[$0] == field }
                var expected: Int64? = delta
                if let at {
                    let old = model[at + 1].withUnsafeBytes { parseCanonical($0) }
                    expected = old.flatMap { o in let (s, overflow) = o.addingReportingOverflow(delta); return overflow ? nil : s }
                }
                guard let (next, sum) = inlineIncremented(encoding, field, by: delta, maxEntries: maxEntries, maxValue: maxValue) else {
                    // The general way raises the error or converts; the model moves on as it would.
                    refused += 1
                    guard let expected else { continue }
                    let text = Array(String(expected).utf8)
                    if let at { model[at + 1] = text } else { model += [field, text] }
                    // The plain and front-coded forms decline a sound replacement only where the value leaves the
                    // listpack or the inline limit.
                    #expect(!([2, 4].contains(encoding[0]) && at != nil && text.count <= maxValue && plainSize(model) <= 512), "declined in the plain form")
                    if model.count / 2 > maxEntries || field.count > maxValue || text.count > maxValue || plainSize(model) > 512 { break }
                    encoding = inlineEncoding(ofListpack: model, stride: 2)
                    continue
                }
                #expect(expected == sum, "a value that is not an integer, or an overflow, is left to the general way")
                let text = Array(String(sum).utf8)
                if let at { model[at + 1] = text; replaced[encoding[0], default: 0] += 1 } else { model += [field, text]; appended += 1 }
                #expect(next[0] == encoding[0], "an edit keeps the form")
                #expect(next.count <= 512 && model.count / 2 <= maxEntries && text.count <= maxValue)
                #expect(inlineListpackElements(next, type: .hash) == model)
                encoding = next
            }
        }
        // Replaced in each form, and appended.
        #expect(replaced[2, default: 0] > 30 && replaced[4, default: 0] > 100 && replaced[5, default: 0] > 100 && appended > 100 && refused > 100,
                "replaced by form \(replaced), appended \(appended), refused \(refused)")
    }

    /// An integer as HINCRBY reads a value (Redis' string2ll), or nil.
    func parseCanonical(_ s: UnsafeRawBufferPointer) -> Int64? {
        guard let v = Int64(String(decoding: s, as: UTF8.self)), Array(String(v).utf8) == Array(s) else { return nil }
        return v
    }

    func plainSize(_ elements: [[UInt8]]) -> Int {
        elements.reduce(3) { n, e in n + (e.count < 128 ? 1 : 2) + e.count }
    }
}
