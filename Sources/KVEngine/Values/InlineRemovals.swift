// Removals from inline values in their bytes: HDEL and SREM of one element, ZREM of one member, and
// ZREMRANGEBY*, ZPOPMIN and ZPOPMAX, which remove a run of consecutive ranks, from a small hash, set or
// sorted set kept in its entry (InlineValues.swift).
//
// The general way decodes the value into an object, removes the element there, weighs the three forms
// again and encodes the winner: on 20k hashes of ten fields, an HDEL cost 13,856 instructions against
// Redis' 5,512, and an SREM 9,989 against 5,162. Here the new encoding is the old bytes before and after the
// removed elements:
//   - in the plain and packed forms each element stands alone (a packed column's shared header stays shared
//     by what is left), so an element is found as an edit finds it (`locatePlain`, `locatePacked`: the
//     packed form compares the needle packed, decoding nothing) and its group's bytes left out;
//   - in the front-coded form each element is coded against the one a stride before it. One key's group
//     (SREM, HDEL, ZREM) is found without rebuilding any element, as SADD finds it (`locateFrontCodedKey`),
//     and the group after it coded against the group before from the prefixes the elements store
//     (`recodeFrontCoded`: on 20k hashes of 20 numbered fields, HDEL cost 12,976 instructions that way
//     against 5,007 now, Redis 5,886). Where the prefixes alone cannot say how much the two share, and for
//     runs, one walk (`InlinePairs`, InlineWalk.swift) decodes the groups, finds the run to remove,
//     and codes the group after the run again, against a copy of the group before the run (taken as the
//     run starts: the run may be longer than the slots hold); the groups after that are copied unread.
//     Runs of ranks of a sorted set (`removeInlinePairs`) take this walk in every form.
// A value that loses elements keeps its form; the forms are weighed again when the general way next writes
// it.
//
// An intset is a sorted array of fixed-width members: a member is found by binary search and its bytes
// left out (its width stays, as Redis' intsetRemove keeps it).
//
// A removal declines (nil: the caller takes the general way) when the run is every element (the key goes),
// the value is of another form, holds an element longer than a walk's slot (when the walk is taken), or the
// group coded again would take it past `inlineValueLimit`.

/// Removes from the inline encoding `raw` (a listpack form, groups of `stride` elements) the run of
/// consecutive groups `inRun` picks: it is asked about each group in order, with the group's rank, until a
/// group after the run's first answers false, and not again after that; it sees the run's groups during
/// the walk (valid only then). The new encoding goes to `out` (`inlineEditBufferSize` bytes). `.unchanged`
/// when the run is empty; nil when the caller must take the general way (above), in which case `inRun` may
/// have seen groups, so callers act on what it saw only once the edit is stored.
func removeInlineRun(
    _ raw: UnsafeRawBufferPointer, stride: Int, to out: UnsafeMutableRawPointer, _ inRun: (_ rank: Int, WalkedPair) -> Bool
) -> InlineEdit? {
    guard raw.count >= 4, let form = InlineForm(rawValue: raw[0]), form == .listpack || form == .packed || form == .prefixed,
          let columns = form == .packed ? packedColumns(UnsafeRawBufferPointer(rebasing: raw[3...])) : PackedColumns() else { return nil }
    let count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
    return withUnsafeTemporaryAllocation(byteCount: pairSlotCount * pairSlotSize, alignment: 1) { slots -> InlineEdit? in
        withUnsafeTemporaryAllocation(byteCount: 1024, alignment: 1) { stagingBuffer -> InlineEdit? in
            let staging = stagingBuffer.baseAddress!
            // The removed groups' bytes; (front-coded) a copy of the group before them at the staging
            // buffer's start, and the group after them coded against it past that.
            var run: Range<Int>? = nil, ended = false, removed = 0, rank = 0
            var previous: WalkedPair? = nil
            var before: (member: UnsafeRawBufferPointer, score: UnsafeRawBufferPointer)? = nil
            var after: (bytes: Range<Int>, staged: Range<Int>)? = nil
            guard var pairs = InlinePairs(raw, stride: stride, slots: slots.baseAddress!) else { return nil }
            while let pair = pairs.next() {
                defer { rank += 1; previous = pair }
                if inRun(rank, pair) {
                    if let r = run {
                        run = r.lowerBound..<pair.bytes.upperBound
                    } else {
                        run = pair.bytes
                        if form == .prefixed, let p = previous {
                            copyBytes(to: staging, from: p.member)
                            copyBytes(to: staging + p.member.count, from: p.score)
                            before = (UnsafeRawBufferPointer(start: staging, count: p.member.count),
                                      UnsafeRawBufferPointer(start: staging + p.member.count, count: p.score.count))
                        }
                    }
                    removed += 1
                } else if run != nil {
                    // The group after the run; the groups after it are copied as they are.
                    ended = true
                    if form == .prefixed {
                        let at = 2 * pairSlotSize  // past the copy of the group before
                        let k = storePair(pair.member, pair.score, stride: stride, form: form, columns: columns, after: before, to: staging + at)!
                        after = (pair.bytes, at..<(at + k))
                    }
                    break
                }
            }
            let sound = ended || pairs.atEnd
            guard sound else { return nil }  // an element longer than a slot (a malformed value fails verify)
            guard let run else { return .unchanged }
            guard removed < count / stride else { return nil }
            copyBytes(to: out, from: raw.baseAddress, count: run.lowerBound)
            var at = run.lowerBound, from = run.upperBound
            if let after {
                copyBytes(to: out + at, from: staging + after.staged.lowerBound, count: after.staged.count)
                at += after.staged.count
                from = after.bytes.upperBound
            }
            copyBytes(to: out + at, from: raw.baseAddress! + from, count: raw.count - from)
            at += raw.count - from
            out.storeBytes(of: UInt16(count - stride * removed), toByteOffset: 1, as: UInt16.self)
            return at <= inlineValueLimit ? .written(count: at, added: false) : nil
        }
    }
}

/// HDEL of one field (stride 2), SREM of one member (stride 1, an intset's too) and ZREM of one member
/// (stride 2) on the inline encoding `raw`, the new encoding written to `out`; `.unchanged` when `element`
/// is not there, nil when the caller must take the general way.
func removeInlineElement(_ raw: UnsafeRawBufferPointer, stride: Int, _ element: UnsafeRawBufferPointer, to out: UnsafeMutableRawPointer) -> InlineEdit? {
    guard raw.count >= 3 else { return nil }
    let count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
    let location: InlineLocation?
    switch InlineForm(rawValue: raw[0]) {
    case .intset: return removeIntsetMember(raw, element, to: out)
    // Each element stands alone: the group is found without decoding (the packed form compares the element
    // packed) and its bytes left out.
    case .listpack: location = locatePlain(UnsafeRawBufferPointer(rebasing: raw[3...]), count: count, element, stride: stride)
    case .packed: location = locatePacked(UnsafeRawBufferPointer(rebasing: raw[3...]), count: count, element, stride: stride)
    case .prefixed:
        if raw.count >= 4, Int(raw[3]) == stride, let edit = removeFrontCodedGroup(raw, count: count, stride: stride, element, to: out) {
            return edit
        }
        return removeInlineRun(raw, stride: stride, to: out) { _, pair in pair.holds(element) }
    default: return nil
    }
    guard let location else { return nil }
    guard let group = location.group else { return .unchanged }
    guard count > stride else { return nil }
    let edit = leaveOut(raw, (group.lowerBound + 3)..<(group.upperBound + 3), to: out)
    out.storeBytes(of: UInt16(count - stride), toByteOffset: 1, as: UInt16.self)
    return edit
}

/// SREM, HDEL or ZREM of `key` from a front-coded value (its elements after a 4-byte header, in groups of
/// `stride`), no element rebuilt: the key found as SADD finds it (`locateFrontCodedKey`), its group's bytes
/// left out, and each element of the group after it, coded against the removed group's element at its
/// place, coded against the group before's instead (`recodeFrontCoded`). `.unchanged` when the key is not
/// there; nil when the bytes are malformed, the value would be left empty (the key goes), or an element
/// cannot be coded again from the prefixes alone: the general walk, which rebuilds the elements, codes it.
private func removeFrontCodedGroup(
    _ raw: UnsafeRawBufferPointer, count: Int, stride: Int, _ key: UnsafeRawBufferPointer, to out: UnsafeMutableRawPointer
) -> InlineEdit? {
    let header = 4, input = raw.baseAddress! + header, end = raw.count - header
    var unused = 0
    guard let location = locateFrontCodedKey(UnsafeRawBufferPointer(start: input, count: end), count: count, key, stride: stride,
                                             lastShared: &unused) else { return nil }
    guard let gone = location.group else { return .unchanged }
    guard count > stride else { return nil }
    copyBytes(to: out, from: raw.baseAddress, count: header + gone.lowerBound)
    var at = header + gone.lowerBound
    var removed = gone.lowerBound, next = gone.upperBound, before = location.groupBefore
    if next < end {
        for _ in 0..<stride {
            guard next < end, let (k, nextEnd) = recodeFrontCoded(input, end: end, removed: removed, next: next, before: before,
                                                                  to: out + at) else { return nil }
            at += k
            next = nextEnd
            removed = skipFrontCoded(input, removed, end)  // the group's next element (the walk checked both groups)
            before = before.map { skipFrontCoded(input, $0, end) }
        }
    }
    copyBytes(to: out + at, from: input + next, count: end - next)
    at += end - next
    out.storeBytes(of: UInt16(count - stride), toByteOffset: 1, as: UInt16.self)
    return at <= inlineValueLimit ? .written(count: at, added: false) : nil
}

/// The element at `next` (bytes at `input`, `end` of them), coded against the element at `removed`, written
/// to `out` coded against the element at `before` (nil: none, its bytes whole), the removed one's bytes
/// borrowed where it needs them; returns the bytes written and where the element at `next` ended. With s0
/// and s1 the prefixes the removed element and the next share with the element before each (each the
/// longest, as every writer codes them), the next shares with the one at `before`
///   - s1 when s1 < s0: its bytes stay as they are;
///   - s0 when s1 > s0: its bytes past s0 are the removed element's rest up to s1, then its own rest;
///   - when s1 = s0, s0 and as many bytes more as the two agree on, compared in the rest of the one at
///     `before` when that rest holds its bytes from s0 on. Nil when it does not (that one shares more than s0
///     with the element before it), and when the next element's bytes are malformed. The elements at
///     `removed` and `before` have been checked.
private func recodeFrontCoded(
    _ input: UnsafeRawPointer, end: Int, removed: Int, next: Int, before: Int?, to out: UnsafeMutableRawPointer
) -> (written: Int, nextEnd: Int)? {
    var i = removed
    let s0 = loadVarint(input, &i, end)!, r0 = loadVarint(input, &i, end)!, removedRest = i
    var j = next
    guard let (s1, r1) = frontCodedHeader(input, at: &j, end, before: s0 + r0, limit: inlineValueLimit) else { return nil }
    var shared = before == nil ? 0 : min(s0, s1), own = 0  // `own`: the bytes of the next's rest now shared too
    if let before, s1 == s0 {
        var b = before
        let sb = loadVarint(input, &b, end)!, rb = loadVarint(input, &b, end)!
        guard sb <= s0 else { return nil }
        own = sharedPrefix(input + b + (s0 - sb), input + j, min(sb + rb - s0, r1))  // the one before's bytes from s0 on
        shared += own
    }
    let borrowed = s1 - shared + own  // the removed element's bytes the next now stores: from `shared` to s1
    var at = storeLEB128(shared, at: out)
    at += storeLEB128(borrowed + r1 - own, at: out + at)
    if borrowed > 0 {
        copyBytes(to: out + at, from: input + removedRest + (shared - s0), count: borrowed)
        at += borrowed
    }
    copyBytes(to: out + at, from: input + j + own, count: r1 - own)
    return (at + r1 - own, j + r1)
}

/// Where the front-coded element at `i` ends (its bytes checked already).
private func skipFrontCoded(_ input: UnsafeRawPointer, _ i: Int, _ end: Int) -> Int {
    var j = i
    _ = loadVarint(input, &j, end)!
    let rest = loadVarint(input, &j, end)!
    return j + rest
}

/// `raw` written to `out` without the bytes `gone`.
private func leaveOut(_ raw: UnsafeRawBufferPointer, _ gone: Range<Int>, to out: UnsafeMutableRawPointer) -> InlineEdit {
    copyBytes(to: out, from: raw.baseAddress, count: gone.lowerBound)
    copyBytes(to: out + gone.lowerBound, from: raw.baseAddress! + gone.upperBound, count: raw.count - gone.upperBound)
    return .written(count: raw.count - gone.count, added: false)
}

/// ZREMRANGEBY*, ZPOPMIN and ZPOPMAX (ZREM of one member: `removeInlineElement`) on the sorted set's inline
/// encoding `raw`: the pairs of ascending ranks `ranks` removed, `body` seeing each in order (as
/// `removeInlineRun`'s `inRun`).
func removeInlinePairs(
    _ raw: UnsafeRawBufferPointer, ranks: Range<Int>, to out: UnsafeMutableRawPointer, _ body: (UnsafeRawBufferPointer, Double) -> Void
) -> InlineEdit? {
    removeInlineRun(raw, stride: 2, to: out) { rank, pair in
        guard ranks.contains(rank) else { return false }
        body(pair.member, unpackScore(pair.score))
        return true
    }
}

/// SREM of `member` from the inline intset `raw` (InlineValues.swift: form, width, members): `.unchanged`
/// when it is not there (not an integer in Redis' canonical form, wider than the members, or absent); nil
/// when it is the last member.
private func removeIntsetMember(_ raw: UnsafeRawBufferPointer, _ member: UnsafeRawBufferPointer, to out: UnsafeMutableRawPointer) -> InlineEdit? {
    let width = Int(raw[1])
    guard width == 2 || width == 4 || width == 8 else { return nil }
    guard let v = parseCanonicalInt(member), IntSet.width(of: v) <= width else { return .unchanged }
    let (i, found) = IntSet.search(v, in: UnsafeRawBufferPointer(rebasing: raw[2...]), width: width)
    guard found else { return .unchanged }
    guard raw.count - 2 > width else { return nil }
    return leaveOut(raw, (2 + i * width)..<(2 + (i + 1) * width), to: out)
}

// Test hooks (InlineRemovalTests, InlineSortedSetEditTests): `removeInlineElement` and `removeInlinePairs`
// on an encoding: nil when it declines, else the new encoding (the old one when unchanged) and, for pairs,
// the pairs `body` saw.

package func inlineElementRemoved(_ raw: [UInt8], stride: Int, _ element: [UInt8]) -> [UInt8]? {
    raw.withUnsafeBytes { inlineElementRemoved($0, stride: stride, element) }
}

package func inlineSortedSetRemoved(_ raw: [UInt8], ranks: Range<Int>) -> (encoding: [UInt8], removed: [(member: [UInt8], score: Double)])? {
    raw.withUnsafeBytes { inlineSortedSetRemoved($0, ranks: ranks) }
}

// The same on bytes where the test puts them (at the end of a readable page: a read past them faults).

package func inlineElementRemoved(_ raw: UnsafeRawBufferPointer, stride: Int, _ element: [UInt8]) -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: inlineEditBufferSize)
    let edit = element.withUnsafeBytes { e in out.withUnsafeMutableBytes { removeInlineElement(raw, stride: stride, e, to: $0.baseAddress!) } }
    switch edit {
    case nil: return nil
    case .unchanged?: return Array(raw)
    case .written(let count, _)?: return Array(out[..<count])
    }
}

package func inlineSortedSetRemoved(
    _ raw: UnsafeRawBufferPointer, ranks: Range<Int>
) -> (encoding: [UInt8], removed: [(member: [UInt8], score: Double)])? {
    var out = [UInt8](repeating: 0, count: inlineEditBufferSize)
    var removed: [(member: [UInt8], score: Double)] = []
    let edit = out.withUnsafeMutableBytes { o in removeInlinePairs(raw, ranks: ranks, to: o.baseAddress!) { m, s in removed.append((Array(m), s)) } }
    switch edit {
    case nil: return nil
    case .unchanged?: return (Array(raw), removed)
    case .written(let count, _)?: return (Array(out[..<count]), removed)
    }
}
