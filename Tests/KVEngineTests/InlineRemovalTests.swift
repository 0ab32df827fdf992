import Testing
import KVEngine

/// HDEL, SREM and ZREM of one element in an inline value's bytes (Values/InlineRemovals.swift): the
/// encoding left holds the model's elements less the one removed, in order, in the form it had (byte for
/// byte what a fresh encoding of that form would be, for the plain and front-coded forms); an absent
/// element changes nothing; only the last element is declined (the key goes the general way).
@Suite struct InlineRemovalTests {
    @Test("removing one element in the bytes agrees with the model", arguments: [1, 2, 3] as [UInt64])
    func removalsAgreeWithModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var removedByForm: [UInt8: Int] = [:]
        var absent = 0, declined = 0
        for _ in 0..<800 {
            for (step, type) in [(2, ValueType.hash), (1, .set)] {
                let numbered = rng.next() % 3 == 0
                // Distinct fields (members); a hash's values as they come.
                var groups: [[[UInt8]]] = []
                for _ in 0..<(1 + Int(rng.next() % 14)) {
                    let e = InlineEditTests.element(&rng, numbered: numbered)
                    if groups.contains(where: { $0[0] == e }) { continue }
                    groups.append(step == 2 ? [e, InlineEditTests.element(&rng, numbered: numbered)] : [e])
                }
                let model = groups.flatMap { $0 }
                guard model.reduce(3, { $0 + ($1.count < 128 ? 1 : 2) + $1.count }) <= 512 else { continue }
                let encoding = inlineEncoding(ofListpack: model, stride: step)
                // One there three times in four, else one that is not.
                let there = rng.next() % 4 != 0
                let target = there ? groups[Int(rng.next() % UInt64(groups.count))][0] : Array("absent:\(rng.next())".utf8)
                guard let next = inlineElementRemoved(encoding, stride: step, target) else {
                    declined += 1
                    #expect(there && groups.count == 1, "only the last element is declined")
                    continue
                }
                guard there else {
                    absent += 1
                    #expect(next == encoding, "an absent element changes nothing")
                    continue
                }
                let left = groups.filter { $0[0] != target }.flatMap { $0 }
                #expect(inlineListpackElements(next, type: type) == left)
                #expect(next[0] == encoding[0], "a removal keeps the form")
                let fresh = inlineEncoding(ofListpack: left, stride: step)
                if fresh[0] == next[0] && next[0] != 5 { #expect(next == fresh, "written as a fresh encoding would be") }
                removedByForm[encoding[0], default: 0] += 1
            }
        }
        #expect(absent > 100 && declined > 10, "\(absent) absent, \(declined) declined")
        #expect([2, 4, 5].allSatisfy { removedByForm[$0, default: 0] > 50 }, "each form: \(removedByForm)")
    }

    /// An intset: byte 0 the form (1), byte 1 the width, then the members, little-endian, in order.
    static func intset(_ members: [Int64], _ width: Int) -> [UInt8] {
        var out: [UInt8] = [1, UInt8(width)]
        for m in members {
            withUnsafeBytes(of: m.littleEndian) { out += $0.prefix(width) }
        }
        return out
    }

    @Test("SREM of one member of an intset in the bytes: found by its canonical form, the width kept")
    func intsetRemovals() {
        let members: [Int64] = [-40000, -3, 0, 7, 12, 70000]
        let encoding = Self.intset(members, 4)
        for (i, m) in members.enumerated() {
            var left = members
            left.remove(at: i)
            #expect(inlineElementRemoved(encoding, stride: 1, Array(String(m).utf8)) == Self.intset(left, 4))
        }
        // Not members: other integers, a non-canonical form, one wider than the members, not an integer.
        for absent in ["8", "+7", "07", "-0", "5000000000", "x"] {
            #expect(inlineElementRemoved(encoding, stride: 1, Array(absent.utf8)) == encoding, "\(absent)")
        }
        #expect(inlineElementRemoved(Self.intset([5], 2), stride: 1, Array("5".utf8)) == nil, "the last member: the key goes")
    }

    @Test("an element longer than the walk's slots: one key is removed from the prefixes alone, a run of ranks declined, not misread")
    func longElements() {
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: 200)
        let model = [long + [1], Array("1".utf8), long + [2], Array("2".utf8)]
        let encoding = inlineEncoding(ofListpack: model, stride: 2)
        #expect(encoding[0] == 4, "front-coded")
        let removed = inlineElementRemoved(encoding, stride: 2, long + [1])
        #expect(removed.flatMap { inlineListpackElements($0, type: .hash) } == [long + [2], Array("2".utf8)])
        #expect(inlineSortedSetRemoved(encoding, ranks: 0..<1) == nil)
    }
}
