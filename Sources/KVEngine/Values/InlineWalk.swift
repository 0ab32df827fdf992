// Walks of an inline value's elements in their bytes, a group at a time: a hash's fields and values and a
// sorted set's members and scores in pairs (stride 2), a set's members one by one (stride 1), in any of the
// three listpack forms (InlineValues.swift: plain, front-coded, symbol-packed). The edits that must see
// elements decoded walk with these: a sorted set's ZADD (InlineSortedSetEdits.swift) and the removals
// (InlineRemovals.swift).
//
// The plain form's elements are read where they lie. The other forms' walkers (`forEachPackedElement`,
// `forEachFrontCodedElement`) decode each element into a slot of its own, six slots of `pairSlotSize`
// bytes used in turn, so the group before the current one, and the one before that at stride 2, are still
// readable when the walk reaches it: an edit codes a front-coded element against the one a stride before
// it, which may be two groups back once a group is left out.

/// The walkers' slots: six (three pairs) of this many bytes.
let pairSlotSize = 160, pairSlotCount = 6

/// A group as a walk passes it: the range of the encoding its bytes take, and its elements as they read
/// (valid while the walk is within two pairs after it). At stride 2 the member is a hash's field or a sorted
/// set's member and the score its value or score; at stride 1 the member is a set's member and the score is
/// empty.
struct WalkedPair {
    var bytes: Range<Int>
    var member: UnsafeRawBufferPointer
    var score: UnsafeRawBufferPointer

    /// Whether its member is `m`.
    @inline(__always)
    func holds(_ m: UnsafeRawBufferPointer) -> Bool { member.count == m.count && bytesEqual(member.baseAddress!, m.baseAddress, m.count) }
}

/// The groups of `stride` elements (1 or 2) of the inline encoding `raw` (its three listpack forms) in
/// order, until `body` returns false (stop: a walk that has found what it looks for leaves the rest unread).
/// `slots`: `pairSlotCount` * `pairSlotSize` bytes. False when `raw` is of another form or stride,
/// malformed (as far as read), or holds an element longer than a slot.
@inline(__always)
func forEachInlinePair(_ raw: UnsafeRawBufferPointer, stride: Int = 2, slots: UnsafeMutableRawPointer, _ body: (WalkedPair) -> Bool) -> Bool {
    let count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
    guard count % stride == 0 else { return false }
    var member: (start: Int, bytes: UnsafeRawBufferPointer)? = nil
    var header = 3
    // Each element, its range counted from `header`: at stride 2 a member is held until its score comes.
    func element(_ bytes: Range<Int>, _ e: UnsafeRawBufferPointer) -> Bool {
        if stride == 1 {
            return body(WalkedPair(bytes: (bytes.lowerBound + header)..<(bytes.upperBound + header), member: e, score: UnsafeRawBufferPointer(start: nil, count: 0)))
        } else if let (start, m) = member {
            member = nil
            return body(WalkedPair(bytes: start..<(bytes.upperBound + header), member: m, score: e))
        }
        member = (bytes.lowerBound + header, e)
        return true
    }
    switch InlineForm(rawValue: raw[0]) {
    case .listpack:
        guard let input = raw.baseAddress else { return false }
        var i = header
        for _ in 0..<count {
            let start = i
            guard let length = loadVarint(input, &i, raw.count), length <= raw.count - i else { return false }
            i += length
            guard element((start - header)..<(i - header), UnsafeRawBufferPointer(start: input + i - length, count: length)) else { return true }
        }
        return i == raw.count
    case .packed:
        return forEachPackedElement(UnsafeRawBufferPointer(rebasing: raw[3...]), count: count, stride: stride, slots: slots,
                                    slotSize: pairSlotSize, slotCount: pairSlotCount, element)
    case .prefixed:
        guard raw[3] == stride else { return false }
        header = 4
        return forEachFrontCodedElement(UnsafeRawBufferPointer(rebasing: raw[4...]), count: count, stride: stride, slots: slots,
                                        slotSize: pairSlotSize, slotCount: pairSlotCount, element)
    default:
        return false
    }
}

/// Writes the group `member`, `score` (`score` only at stride 2) at `p` as `form` stores it, the
/// front-coded form against `previous` (nil: it is the first group); returns the bytes written, or nil when
/// a packed column's shared header is not the element's.
@inline(__always)
func storePair(
    _ member: UnsafeRawBufferPointer, _ score: UnsafeRawBufferPointer, stride: Int = 2, form: InlineForm, columns: PackedColumns,
    after previous: (member: UnsafeRawBufferPointer, score: UnsafeRawBufferPointer)?, to p: UnsafeMutableRawPointer
) -> Int? {
    switch form {
    case .prefixed:
        let k = storeFrontCoded(member, previous: previous?.member.baseAddress ?? UnsafeRawPointer(p), count: previous?.member.count ?? 0, to: p)
        guard stride == 2 else { return k }
        return k + storeFrontCoded(score, previous: previous?.score.baseAddress ?? UnsafeRawPointer(p), count: previous?.score.count ?? 0, to: p + k)
    case .packed:
        guard let k = storePackedElement(member, column: columns.first, to: p) else { return nil }
        guard stride == 2 else { return k }
        guard let j = storePackedElement(score, column: columns.second, to: p + k) else { return nil }
        return k + j
    default:
        let k = storeLengthPrefixed(member, at: p)
        guard stride == 2 else { return k }
        return k + storeLengthPrefixed(score, at: p + k)
    }
}
