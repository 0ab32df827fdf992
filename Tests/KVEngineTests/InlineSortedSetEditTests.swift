import Testing
import KVEngine

/// ZADD of one member on an inline sorted set edited in its bytes (Values/InlineSortedSetEdits.swift): every
/// edit leaves the pairs the model holds, in score order, in the form it found; it declines where the
/// general way must decide (thresholds, the inline limit, counts of powers of two and multiples of 16, a
/// packed column's shared header), and never writes past the inline limit.
@Suite struct InlineSortedSetEditTests {
    typealias Pair = (member: [UInt8], score: Double)

    static func score(_ rng: inout SplitMix64) -> Double {
        switch rng.next() % 10 {
        case 0: return [.infinity, -.infinity, -0.0][Int(rng.next() % 3)]
        case 1: return Double(Int(rng.next() % 2001) - 1000) / 8
        case 2: return Double(rng.next() % (1 << 40))  // a timestamp's size: six bytes
        case 3: return -Double(rng.next() % 100_000)
        default: return Double(rng.next() % 20)
        }
    }

    /// The pairs as the listpack holds them: by score, then member bytes; scores as a listpack keeps them
    /// (-0 reads back as 0).
    static func elements(_ pairs: [Pair]) -> [[UInt8]] {
        pairs.sorted { a, b in a.score != b.score ? a.score < b.score : a.member.lexicographicallyPrecedes(b.member) }
            .flatMap { [$0.member, packedScoreElement($0.score)] }
    }

    @Test("ZADD of one member in the bytes agrees with the model", arguments: [1, 2, 3, 4] as [UInt64])
    func editsAgreeWithModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var edited = 0, declined = 0, moved = 0, weighedKept = 0
        var editedByForm: [UInt8: Int] = [:]
        for _ in 0..<300 {
            // A third of the sets hold numbered names only (front-coded), some of the rest digits (packed).
            let numbered = rng.next() % 3 == 0
            var model: [Pair] = [(InlineEditTests.element(&rng, numbered: numbered), Self.score(&rng))]
            var encoding = inlineEncoding(ofListpack: Self.elements(model), stride: 2)
            let maxEntries = [4, 40, 128][Int(rng.next() % 3)], maxValue = [12, 64][Int(rng.next() % 2)]
            for _ in 0..<60 {
                let member = rng.next() % 3 == 0 ? model[Int(rng.next() % UInt64(model.count))].member
                    : InlineEditTests.element(&rng, numbered: numbered)
                let score = Self.score(&rng)
                // ZADD's options: none, NX, XX, GT, LT, or INCR (whose candidate is the increment: the walk adds it to
                // the score of a member there; half the time no candidate is given).
                let option = rng.next() % 6
                let decide = { (current: Double?) -> Double? in
                    guard let current else { return option == 2 ? nil : score }
                    if option == 1 { return nil }
                    let new = option == 5 ? current + score : score
                    if new.isNaN || (option == 3 && new <= current) || (option == 4 && new >= current) { return nil }
                    return new != current ? new : nil
                }
                let at = model.firstIndex { $0.member == member }
                let current = at.map { Self.elements([model[$0]])[1] }
                let new = decide(at.map { model[$0].score })
                func apply() {
                    guard let new else { return }
                    if let at { model.remove(at: at) }
                    model.append((member, new))
                }
                let result = inlineSortedSetEdited(
                    encoding, member, candidate: option == 5 && rng.next() % 2 == 0 ? nil : score, incrementing: option == 5,
                    maxEntries: maxEntries, maxValue: maxValue, decide
                )
                guard let (next, old, added) = result else {
                    declined += 1
                    #expect(new != nil, "an unchanged value is never declined")
                    if at == nil && (model.count + 1 > maxEntries || member.count > maxValue) { break }  // converted
                    apply()
                    if plainSize(Self.elements(model)) > 512 { break }  // it becomes an object
                    let n = 2 * model.count
                    // The plain form declines nothing else but adds to counts of powers of two and multiples of 16,
                    // and scores one byte wider than the old one, when the walk stopped once it had found both places.
                    if encoding[0] == 2 {
                        #expect(at == nil ? n % 16 == 0 || n & (n - 1) == 0 : packedScoreElement(new!).count > current!.count)
                    }
                    encoding = inlineEncoding(ofListpack: Self.elements(model), stride: 2)
                    continue
                }
                #expect(old.map { packedScoreElement($0) } == current, "the old score is the member's")
                #expect(added == (at == nil && new != nil))
                apply()
                if new == nil { #expect(next == encoding, "nothing to change"); continue }
                edited += 1
                if at != nil, Self.elements(model) != inlineListpackElements(encoding, type: .zset) { moved += 1 }
                editedByForm[encoding[0], default: 0] += 1
                #expect(next.count <= 512 && plainSize(Self.elements(model)) <= 512)
                #expect(model.count <= maxEntries && (at != nil || member.count <= maxValue), "a new member within the thresholds")
                let n = 2 * model.count
                // Adds to counts of powers of two and multiples of 16 are encoded afresh, but by a front-coded or
                // packed value past 4 elements that stays smaller than the plain form.
                if at == nil && (n % 16 == 0 || n & (n - 1) == 0) {
                    #expect(encoding[0] != 2 && n > 4 && next.count < plainSize(Self.elements(model)), "weighed afresh")
                    weighedKept += 1
                }
                #expect(next[0] == encoding[0], "an edit keeps the form")
                #expect(inlineListpackElements(next, type: .zset) == Self.elements(model))
                // The plain and front-coded forms are one encoding for one sequence of elements.
                let fresh = inlineEncoding(ofListpack: Self.elements(model), stride: 2)
                if fresh[0] == next[0] && next[0] != 5 { #expect(next == fresh, "written as a fresh encoding would be") }
                encoding = next
            }
        }
        #expect(edited > 3_000 && declined > 300 && moved > 300 && weighedKept > 100,
                "both ways taken: \(edited) edited (\(moved) moved, \(weighedKept) kept their form where weighed), \(declined) declined")
        #expect([2, 4, 5].allSatisfy { editedByForm[$0, default: 0] > 200 }, "each form edited: \(editedByForm)")
    }

    @Test("removing a run of ranks in the bytes agrees with the model", arguments: [1, 2, 3] as [UInt64])
    func removalsAgreeWithModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var removedRuns = 0, declined = 0
        var removedByForm: [UInt8: Int] = [:]
        for _ in 0..<1500 {
            let numbered = rng.next() % 3 == 0
            let size = 1 + Int(rng.next() % 14)
            var byMember: [[UInt8]: Double] = [:]
            for _ in 0..<size { byMember[InlineEditTests.element(&rng, numbered: numbered)] = Self.score(&rng) }
            let model = Self.elements(byMember.map { ($0.key, $0.value) })
            let encoding = inlineEncoding(ofListpack: model, stride: 2)
            let pairs = model.count / 2
            let lo = Int(rng.next() % UInt64(pairs + 1)), hi = lo + Int(rng.next() % UInt64(pairs - lo + 1))
            guard let (next, removed) = inlineSortedSetRemoved(encoding, ranks: lo..<hi) else {
                declined += 1
                #expect(hi - lo == pairs, "only a run of every pair is declined")
                continue
            }
            let left = Array(model[..<(2 * lo)] + model[(2 * hi)...])
            #expect(removed.flatMap { [$0.member, packedScoreElement($0.score)] } == Array(model[(2 * lo)..<(2 * hi)]), "the removed pairs, in order")
            #expect(inlineListpackElements(next, type: .zset) == left)
            #expect(next[0] == encoding[0], "a removal keeps the form")
            let fresh = inlineEncoding(ofListpack: left, stride: 2)
            if fresh[0] == next[0] && next[0] != 5 { #expect(next == fresh, "written as a fresh encoding would be") }
            if hi > lo { removedRuns += 1; removedByForm[encoding[0], default: 0] += 1 }
        }
        #expect(removedRuns > 700 && declined > 40, "\(removedRuns) runs removed, \(declined) declined")
        #expect([2, 4, 5].allSatisfy { removedByForm[$0, default: 0] > 50 }, "each form: \(removedByForm)")
    }

    @Test("a member moved within a front-coded set: the pairs after each change are coded against their new neighbours")
    func frontCodedMoves() {
        let model: [Pair] = (0..<6).map { (Array("user:session:\($0)".utf8), Double($0)) }
        let encoding = inlineEncoding(ofListpack: Self.elements(model), stride: 2)
        #expect(encoding[0] == 4)
        // user:session:1 from second to last, then a new member in its old place.
        let moved = inlineSortedSetEdited(encoding, Array("user:session:1".utf8), candidate: 10, maxEntries: 128, maxValue: 64) { _ in 10 }
        let afterMove = [model[0], model[2], model[3], model[4], model[5], (model[1].member, 10)]
        #expect(moved.flatMap { inlineListpackElements($0.encoding, type: .zset) } == Self.elements(afterMove))
        #expect(moved?.old == 1 && moved?.added == false && moved?.encoding.count == encoding.count)
        guard let moved else { return }
        let inserted = inlineSortedSetEdited(moved.encoding, Array("user:other".utf8), candidate: 1, maxEntries: 128, maxValue: 64) { _ in 1 }
        #expect(inserted.flatMap { inlineListpackElements($0.encoding, type: .zset) } == Self.elements(afterMove + [(Array("user:other".utf8), 1)]))
        #expect(inserted?.added == true)
    }

    /// The packed form's seeking walk (`PackedPairs`) leaves to `InlinePairs` a sought member that packs to more
    /// than the 64 bytes it keeps for it (129 digits and more): ZADD and ZRANK agree with the model either
    /// way, with members of every length around that edge and ties that order them by their bytes. A set
    /// holding a member longer than a slot (160) is left to the general way by ZADD, whichever walk it takes.
    @Test("packed members around the seeking walk's edges: ZADD and ZRANK agree with the model")
    func longPackedMembers() {
        var rng = SplitMix64(seed: 9)
        func digits(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(ascii: "0") + UInt8(rng.next() % 10) } }
        var packedEdits = 0
        for lengths in [[128, 129, 7, 8], [159, 160, 64, 6], [130, 5, 150, 9], [161, 12, 13, 64], [200, 5, 129, 9]] {
            let tooLong = lengths.contains { $0 > 160 }
            let model: [Pair] = lengths.enumerated().map { (digits($0.element), Double($0.offset % 2)) }
            let encoding = inlineEncoding(ofListpack: Self.elements(model), stride: 2)
            guard encoding[0] == 5 else { Issue.record("not packed: \(lengths)"); continue }
            for p in model {
                #expect(inlineSortedSetRanks(encoding, of: p.member).inline == inlineSortedSetRanks(encoding, of: p.member).decoded)
                #expect(inlineSortedSetRanks(encoding, of: p.member).inline != nil)
                // Moved to a tie with every other member's score, and a new member of the same length beside it.
                for score in [0.0, 1.0] {
                    for member in [p.member, digits(p.member.count)] {
                        let edit = inlineSortedSetEdited(encoding, member, candidate: score, maxEntries: 128, maxValue: 300) { _ in score }
                        if tooLong { #expect(edit == nil, "\(lengths): declined") }
                        guard let edit else { continue }
                        let expected = model.filter { $0.member != member } + [(member, score)]
                        #expect(inlineListpackElements(edit.encoding, type: .zset) == Self.elements(expected), "\(lengths)")
                        packedEdits += 1
                    }
                }
            }
            #expect(inlineSortedSetRanks(encoding, of: digits(140)).inline == nil)
        }
        #expect(packedEdits > 30, "\(packedEdits) edits of sets whose members fit a slot")
    }

    /// ZRANGE (every form) and ZCOUNT answer from the bytes in one walk (`inlineSortedSetSelect`, `inlineSortedSetCount`):
    /// the same as the decoded object's for ranks, scores and lex ranges (over members of different scores
    /// too, where the answer is ours: from the first member at or past the start to the first past the end),
    /// reversed or not, with offsets and limits, in each form.
    @Test("ZRANGE and ZCOUNT in the bytes answer as the decoded object", arguments: [1, 2, 3] as [UInt64])
    func selectionsAgreeWithObject(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var byForm: [UInt8: Int] = [:], nonEmpty = 0
        for _ in 0..<200 {
            let numbered = rng.next() % 3 == 0
            var model: [[UInt8]: Double] = [:]
            for _ in 0..<(1 + rng.next() % 24) { model[InlineEditTests.element(&rng, numbered: numbered)] = Self.score(&rng) }
            let pairs = model.map { (member: $0.key, score: $0.value) }
            let encoding = inlineEncoding(ofListpack: Self.elements(pairs), stride: 2)
            byForm[encoding[0], default: 0] += 1
            let members = Array(model.keys)
            // ZRANK of each member, and of one that is not there, read in the bytes (the packed form compares
            // members packed).
            for m in members + [InlineEditTests.element(&rng, numbered: numbered)] {
                let ranks = inlineSortedSetRanks(encoding, of: m)
                #expect(ranks.inline == ranks.decoded, "ZRANK, form \(encoding[0])")
                if model[m] != nil { #expect(ranks.inline != nil) }
            }
            func lexBound() -> LexBound {
                switch rng.next() % 6 {
                case 0: return .minusInfinity
                case 1: return .plusInfinity
                case 2, 3: return .inclusive(members[Int(rng.next() % UInt64(members.count))])
                default: return .exclusive(InlineEditTests.element(&rng, numbered: numbered))
                }
            }
            func scoreBound() -> ScoreBound { ScoreBound(Self.score(&rng), exclusive: rng.next() % 3 == 0) }
            for _ in 0..<20 {
                let range: SortedSetRange = switch rng.next() % 3 {
                case 0: .rank(Int(rng.next() % 30) - 15, Int(rng.next() % 30) - 15)
                case 1: .score(scoreBound(), scoreBound())
                default: .lex(lexBound(), lexBound())
                }
                let reverse = rng.next() % 2 == 0
                let (offset, limit) = rng.next() % 2 == 0 ? (0, -1) : (Int(rng.next() % 6) - 1, Int(rng.next() % 7) - 1)
                let r = inlineSortedSetSelections(encoding, range, reverse: reverse, offset: offset, limit: limit)
                #expect(r.inline.map(\.member) == r.decoded.map(\.member) && r.inline.map(\.score) == r.decoded.map(\.score),
                        "\(range) reverse \(reverse) offset \(offset) limit \(limit), form \(encoding[0])")
                #expect(r.inlineCount == r.decodedCount, "\(range)")
                if !r.inline.isEmpty { nonEmpty += 1 }
            }
        }
        #expect([2, 4, 5].allSatisfy { byForm[$0, default: 0] > 10 }, "each form: \(byForm)")
        #expect(nonEmpty > 1000, "\(nonEmpty) selections held elements")
    }

    /// The walks read the bytes as they find them (`InlinePairs`: 16 bytes at once where the value has them,
    /// one pair at a time in the front-coded form): ZADD, ZREM and removals of runs meet every truncation and
    /// bit flip of each form and survive it, declining or writing a value, never trapping nor reading past
    /// the value's last byte (a page that cannot be read follows it); and where the damage left a sorted set
    /// a writer could have written, ZADD agrees with the model.
    @Test("damaged bytes: ZADD, ZREM and removals of runs survive every truncation and bit flip of each form")
    func damagedEncodingsSurvive() {
        let numbered: [Pair] = (0..<12).map { (Array("user:\(1000 + $0)".utf8), Double($0 * 10)) }
        let digits: [Pair] = (0..<12).map { (Array("\(($0 * 48_271 + 12_345) % 99_991)99".utf8), Double($0) - 0.5) }
        let scores: [Double] = [0, 3, 300, 70_000, 0x2_0000_0000, 1.5]
        let mixed: [Pair] = (0..<12).map { i in
            let member: [UInt8] = [UInt8(200 + i)] + Array("\(i * 7919)".utf8) + Array(repeating: UInt8(140 + i), count: i * 3)
            return (member, scores[i % 6] + Double(i))
        }
        var forms: Set<UInt8> = [], checked = 0
        for pairs in [numbered, digits, mixed] {
            let encoding = inlineEncoding(ofListpack: Self.elements(pairs), stride: 2)
            forms.insert(encoding[0])
            var damaged = (4..<encoding.count).map { Array(encoding[..<$0]) }
            for i in 0..<encoding.count {
                for bit in 0..<8 {
                    var flipped = encoding
                    flipped[i] ^= 1 << bit
                    damaged.append(flipped)
                }
            }
            for raw in damaged {
                // A sorted set a writer could have written: its pairs in order, each member once, no NaN, its form the one chosen.
                let decoded = inlineListpackElements(raw, type: .zset)
                let model: [Pair]? = decoded.flatMap { e -> [Pair]? in
                    guard e.count % 2 == 0, inlineEncoding(ofListpack: e, stride: 2) == raw,
                          e.indices.allSatisfy({ $0 % 2 == 0 || e[$0].count <= 8 }) else { return nil }
                    let p: [Pair] = stride(from: 0, to: e.count, by: 2).map { (e[$0], unpackedScore(e[$0 + 1])) }
                    guard Set(p.map(\.member)).count == p.count, !p.contains(where: { $0.score.isNaN }), Self.elements(p) == e else { return nil }
                    return p
                }
                withBytesBeforeGuardPage(raw) { guarded in
                    for (member, score) in [(pairs[2].member, 1e6), (pairs[11].member, -5), (Array("user:1003x".utf8), 35)] {
                        let edit = inlineSortedSetEdited(guarded, member, candidate: score, maxEntries: 128, maxValue: 64) { _ in score }
                        guard let model, let edit else { continue }
                        let expected = model.filter { $0.member != member } + [(member, score)]
                        #expect(inlineListpackElements(edit.encoding, type: .zset) == Self.elements(expected), "form \(raw[0])")
                        checked += 1
                    }
                    _ = inlineElementRemoved(guarded, stride: 2, pairs[5].member)
                    _ = inlineSortedSetRemoved(guarded, ranks: 0..<1)
                    _ = inlineSortedSetRemoved(guarded, ranks: 3..<6)
                }
            }
        }
        #expect(forms == [2, 4, 5], "plain, front-coded and packed: \(forms)")
        #expect(checked > 30, "\(checked) edits of damaged but sound sets checked")
    }

    /// A listpack score element's score (`packedScoreElement`'s inverse), for the model.
    func unpackedScore(_ e: [UInt8]) -> Double {
        if e.count == 8 { return Double(bitPattern: e.reversed().reduce(0) { $0 << 8 | UInt64($1) }) }
        let v = e.reversed().reduce(0) { $0 << 8 | UInt64($1) }
        let unused = UInt64(64 - 8 * e.count)
        return e.isEmpty ? 0 : Double(Int64(bitPattern: v << unused) >> Int64(unused))
    }

    func plainSize(_ elements: [[UInt8]]) -> Int {
        elements.reduce(3) { n, e in n + (e.count < 128 ? 1 : 2) + e.count }
    }
}
