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

    func plainSize(_ elements: [[UInt8]]) -> Int {
        elements.reduce(3) { n, e in n + (e.count < 128 ? 1 : 2) + e.count }
    }
}
