// Edits of inline sorted sets in their bytes: ZADD and ZINCRBY of one member on a small sorted set kept in
// its entry (InlineValues.swift), as InlineEdits.swift does for HSET and SADD; and reads of ranks. (ZREM,
// ZREMRANGEBY*, ZPOPMIN and ZPOPMAX remove pairs in the bytes too: InlineRemovals.swift.)
//
// The general way decodes the value into an object, moves the member there, weighs the three forms again
// and encodes the winner: on 20k sorted sets of about ten members (`ZADD z:N score m:N`), that round trip
// made a ZADD cost 13,199 instructions against Redis' 8,684. A sorted set's pairs (member, score) are kept
// in score order, so an edit is not an append: the member's old pair, if any, is left out (the found pair)
// and its new pair goes before the first pair that sorts after it (the place). One walk reads the pairs
// where they are (`InlinePairs`, InlineWalk.swift), finds both, and stages the few pairs the edit
// writes anew; the new encoding is then the old bytes copied in at most three runs around them:
//   - the new pair, written in the value's form (the front-coded form codes it against the pair before the
//     place);
//   - in the front-coded form only, where each element is coded against the one a stride before it, the
//     pair at the place (now after the new pair) and the pair after the found one (now after the pair
//     before it), coded again. In the plain and packed forms each element stands alone and is copied.
// The walk's slots keep the pair before the current one, and the one before that when the found pair lies
// between, readable when a pair is staged. ZADD's options settle the score (`decide`) once the walk has
// found the member; the place is found in the same walk when the score is the one guessed before
// (`candidate`: ZADD's score, right but for INCR of a member already there), else in a second walk.
// A walk stops once it has all it needs (the member, the pair after it, the place), and the bytes after
// are copied unread: a member that keeps its pair's size cannot take the value past the limit, so only a
// wider pair (a score one byte longer) needs the whole value sized, and goes the general way. (Walking
// every pair cost ZADD of the first member's own score 14,230 instructions a request, 5,730 stopping; ZPOPMIN
// and ZRANK stop as early: 12,876 -> 5,994 and 8,524 -> 4,146 on sorted sets of 20, Redis 7,939 and 5,243.)
//
// The edit declines (nil: the caller takes the general way) as `editInline` does: a form other than the
// three listpack ones or not of stride 2; a new member past `zset-max-listpack-entries` or
// `zset-max-listpack-value` (the general way converts); a plain form past `inlineValueLimit`; a packed
// column whose shared header the new element does not have; an element count after an add that is a power
// of two or a multiple of 16 (the general way weighs the forms again), unless the value is front-coded or
// packed, past 4 elements, and still smaller than in the plain form (the form its first pairs chose is
// kept, so a set of ten members built one at a time goes the general way twice, not four times); and, here
// only, an element to be rebuilt in a slot longer than one (160 bytes: six slots and the staging fit in
// 1 KiB stack buffers; the packed form's elements stored as bytes are read in place). A score replaced
// keeps the form.

/// ZADD of one member `m` in the sorted set's inline encoding `raw`: `decide` gets `m`'s score (nil when
/// absent) and returns the score to give it, or nil to change nothing (as `SortedSetObject.upsert`'s);
/// `candidate` is the score it will likely return (ZADD's score; with INCR, right when the member is absent),
/// so that one walk finds both the member and the new pair's place; when `decide` returns another, a second
/// walk finds its place. With `incrementing` (INCR) the candidate for a member already there is its score
/// plus `candidate`: when that sorts at or after the old score, the place is still ahead when the walk
/// finds the member, and the same walk finds it (ZINCRBY of a leaderboard's members: one walk, not two).
/// The new encoding is written to `out` (`inlineEditBufferSize` bytes).
/// Returns the score `decide` was given and the edit; nil when the caller must take the general way (above),
/// which may call `decide` again.
func editInlineSortedSet<E: Error>(
    _ raw: UnsafeRawBufferPointer, _ m: UnsafeRawBufferPointer, candidate: Double?, incrementing: Bool = false,
    maxEntries: Int, maxValue: Int, to out: UnsafeMutableRawPointer, _ decide: (Double?) throws(E) -> Double?
) throws(E) -> (old: Double?, edit: InlineEdit)? {
    guard raw.count >= 4, let form = InlineForm(rawValue: raw[0]), form == .listpack || form == .packed || form == .prefixed,
          let columns = form == .packed ? packedColumns(UnsafeRawBufferPointer(rebasing: raw[3...])) : PackedColumns() else { return nil }
    let count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
    func plainSize(_ e: UnsafeRawBufferPointer) -> Int { varintSize(e.count) + e.count }  // a func: a closure was called through a pointer
    typealias Result = (old: Double?, edit: InlineEdit)?
    return try withUnsafeTemporaryAllocation(byteCount: seekingSlotBytes, alignment: 1) { (slotBuffer) throws(E) -> Result in
        try withUnsafeTemporaryAllocation(byteCount: 1024, alignment: 1) { (stagingBuffer) throws(E) -> Result in
            let slots = slotBuffer.baseAddress!, staging = stagingBuffer.baseAddress!
            // The staging buffer: the new score's element in its first 8 bytes, then the pairs written anew.
            var staged = 8, failed = false
            func stage(_ member: UnsafeRawBufferPointer, _ score: UnsafeRawBufferPointer, after previous: WalkedPair?) -> Range<Int> {
                guard !failed, staged + member.count + score.count + 8 <= 1024,
                      let k = storePair(member, score, form: form, columns: columns, after: previous.map { ($0.member, $0.score) }, to: staging + staged)
                else { failed = true; return 0..<0 }
                staged += k
                return (staged - k)..<staged
            }
            var scoreElement = UnsafeRawBufferPointer(start: staging, count: 0)
            func setScore(_ s: Double) { withPackedScore(s) { copyBytes(to: staging, from: $0); scoreElement = UnsafeRawBufferPointer(start: staging, count: $0.count) } }
            // What the walks find: the member's pair, the pair after it (front-coded: staged against the one
            // before it), the place, the pair at the place (front-coded: staged against the new pair) and the new pair.
            var found: Range<Int>? = nil, old: Double? = nil
            var plainBytes = 0, foundPlain = 0
            var afterFound: (bytes: Range<Int>, staged: Range<Int>)? = nil
            var place: (at: Int, newPair: Range<Int>, next: (bytes: Range<Int>, staged: Range<Int>)?)? = nil
            var placed: Double? = nil  // the score the place was found for
            var partial = false  // the locating walk stopped once it had found all it needs: `plainBytes` counts the pairs read
            // The packed form's walk compares members packed (`PackedPairs`).
            func walk(locating: Bool, placing s: Double?) -> Bool {
                if form == .packed, var pairs = PackedPairs(raw, seeking: m, slots: slots) { return walk(&pairs, locating: locating, placing: s) }
                guard var pairs = InlinePairs(raw, slots: slots) else { return false }
                return walk(&pairs, locating: locating, placing: s)
            }
            func walk<Pairs: PairWalk>(_ pairs: inout Pairs, locating: Bool, placing s: Double?) -> Bool {
                if let s { setScore(s) }
                placed = s
                var previous: WalkedPair? = nil, beforeFound: WalkedPair? = nil
                var justFound = false
                while let pair = pairs.next() {
                    if locating {
                        let size = plainSize(pair.member) + plainSize(pair.score)
                        plainBytes += size
                        if found == nil && pairs.holds(pair, m) {
                            (found, old, foundPlain, beforeFound, justFound) = (pair.bytes, unpackScore(pair.score), size, previous, true)
                            if incrementing, let c = candidate, let o = old, case let sum = o + c, sum >= o {
                                // The pairs passed sort before the old score, so before the sum: place it from here.
                                (placed, place) = (sum, nil)
                                setScore(sum)
                            }
                            continue
                        }
                        if justFound && form == .prefixed { afterFound = (pair.bytes, stage(pair.member, pair.score, after: beforeFound)) }
                        justFound = false
                    } else if pair.bytes == found {
                        continue
                    }
                    // `scoreOrderLess`, the member read only for a tie.
                    if place == nil, let s = placed, case let ps = unpackScore(pair.score),
                       s < ps || s == ps && compareBytes(m, pairs.member(of: pair)) < 0 {
                        let newPair = stage(m, scoreElement, after: previous)
                        let next = form == .prefixed ? (pair.bytes, stage(pair.member, pair.score, after: WalkedPair(bytes: 0..<0, member: m, score: scoreElement))) : nil
                        place = (pair.bytes.lowerBound, newPair, next)
                    }
                    previous = pair
                    // Found (and the pair after it staged) and placed: the rest is copied as it is.
                    if place != nil && (!locating || found != nil) {
                        partial = locating
                        return true
                    }
                }
                guard pairs.atEnd else { return false }
                if placed != nil, place == nil { place = (raw.count, stage(m, scoreElement, after: previous), nil) }
                return true
            }
            guard walk(locating: true, placing: candidate) else { return nil }
            guard let s = try decide(old) else { return (old, .unchanged) }
            guard !failed else { return nil }
            // An add to a count where the general way weighs the forms again (`editInline`'s rule) is left to
            // it while the value is plain or small; a front-coded or packed value keeps its form past 4
            // elements if the edit leaves it smaller than the plain form (checked once written, below).
            let n = count + 2
            let weighed = found == nil && (n & (n - 1) == 0 || n % 16 == 0)
            if found == nil {
                guard count / 2 + 1 <= maxEntries, m.count <= maxValue, !weighed || (form != .listpack && n > 4) else { return nil }
            }
            if s.bitPattern != placed?.bitPattern {
                place = nil
                guard walk(locating: false, placing: s) else { return nil }
            }
            let plain = 3 + plainBytes - foundPlain + plainSize(m) + plainSize(scoreElement)
            // A walk that stopped early did not size the whole value: a pair no larger cannot take it past the
            // limit; a larger one (a score one byte wider) is left to the general way.
            if partial && plainSize(m) + plainSize(scoreElement) > foundPlain { return nil }
            guard let place, !failed, plain <= inlineValueLimit, raw.count + staged <= inlineEditBufferSize else { return nil }
            // The old bytes in runs around the pairs written anew.
            var from = 0, at = 0
            func copy(upTo offset: Int) {
                copyBytes(to: out + at, from: raw.baseAddress! + from, count: offset - from)
                at += offset - from
                from = offset
            }
            func emit(_ r: Range<Int>, replacing old: Range<Int>? = nil) {
                copyBytes(to: out + at, from: staging + r.lowerBound, count: r.count)
                at += r.count
                if let old { from = old.upperBound }
            }
            func insert() {
                copy(upTo: place.at)
                emit(place.newPair)
                if let next = place.next { emit(next.staged, replacing: next.bytes) }
            }
            if place.at < found?.lowerBound ?? Int.max { insert() }
            if let found {
                copy(upTo: found.lowerBound)
                from = found.upperBound
                if let afterFound, afterFound.bytes.lowerBound != place.at { emit(afterFound.staged, replacing: afterFound.bytes) }
            }
            if place.at >= found?.lowerBound ?? Int.max { insert() }
            copy(upTo: raw.count)
            out.storeBytes(of: UInt16(found == nil ? count + 2 : count), toByteOffset: 1, as: UInt16.self)
            guard at <= inlineValueLimit, !weighed || at < plain else { return nil }
            return (old, .written(count: at, added: found == nil))
        }
    }
}

/// What `body` reads from the pairs of the sorted set's inline encoding `raw` (slots of its own), nil when
/// the walk cannot read them: an element to be rebuilt in a slot longer than one (possible where
/// `zset-max-listpack-value` is raised past it), which the caller reads from the decoded object instead, or malformed bytes, which
/// decoding reports. `body` loops over the pairs itself (a closure per pair cost ZRANK about 50
/// instructions a pair).
@inline(__always)
private func readInlinePairs<R>(_ raw: UnsafeRawBufferPointer, _ body: (inout InlinePairs) -> R?) -> R? {
    withUnsafeTemporaryAllocation(byteCount: pairSlotCount * pairSlotSize, alignment: 1) { slots in
        guard var pairs = InlinePairs(raw, slots: slots.baseAddress!) else { return nil }
        return body(&pairs)
    }
}

/// The rank of the first pair of the sorted set's inline encoding `raw` satisfying `pred` (false for a prefix
/// of the order, true after); the pair count when none does.
func inlineSortedSetRank(_ raw: UnsafeRawBufferPointer, ofFirst pred: (Double, UnsafeRawBufferPointer) -> Bool) -> Int {
    let rank: Int? = readInlinePairs(raw) { pairs in
        var rank = 0
        while let pair = pairs.next() {
            if pred(unpackScore(pair.score), pair.member) { return rank }
            rank += 1
        }
        return pairs.atEnd ? rank : nil
    }
    return rank ?? (decodeInlineValue(.zset, raw) as! SortedSetObject).rank(ofFirst: pred)
}

/// The rank of member `m` in the sorted set's inline encoding `raw`; nil when absent.
func inlineSortedSetRank(_ raw: UnsafeRawBufferPointer, of m: UnsafeRawBufferPointer) -> Int? {
    func rank<Pairs: PairWalk>(_ pairs: inout Pairs) -> Int?? {
        var rank = 0
        while let pair = pairs.next() {
            if pairs.holds(pair, m) { return .some(rank) }
            rank += 1
        }
        return pairs.atEnd ? .some(nil) : nil
    }
    let found: Int??
    if raw.count >= 3 && raw[0] == InlineForm.packed.rawValue {
        // The packed form's walk compares members packed (`PackedPairs`), as ZADD's does. (One allocation for
        // both walks, trying PackedPairs first, cost the other forms' ZRANK about 65 instructions.)
        found = withUnsafeTemporaryAllocation(byteCount: seekingSlotBytes, alignment: 1) { slots in
            guard var pairs = PackedPairs(raw, seeking: m, slots: slots.baseAddress!) else { return readInlinePairs(raw) { rank(&$0) } }
            return rank(&pairs)
        }
    } else {
        found = readInlinePairs(raw) { rank(&$0) }
    }
    return found ?? (decodeInlineValue(.zset, raw) as! SortedSetObject).rank(of: m)
}

/// The elements of `range` in the sorted set's inline encoding `raw` in ascending order (a rank range with
/// `reverse` counts its ranks from the top, as `sortedSetRanks`), each with its index in the range, until
/// `body` returns false; one walk that stops past the range. The bounds are those `sortedSetRanks` finds:
/// from the first element at or past the range's start to the first past its end (so a lex range over
/// members of different scores answers as an object's does). False when the walk cannot read the pairs
/// (`readInlinePairs`). (ZCOUNT of 20 pairs decoded them into an object first: 14,459 instructions a
/// request against Redis' 8,787; 7,164 in the walk.)
private func forEachInlineElement(
    _ raw: UnsafeRawBufferPointer, _ range: SortedSetRange, reverse: Bool, _ body: (_ index: Int, WalkedPair) -> Bool
) -> Bool {
    var ranks = 0..<0  // a rank range's, ascending: no walk finds them
    if case .rank = range { ranks = sortedSetRanks(range, reverse: reverse, count: inlineCount(.zset, raw)) { _ in 0 } }
    let read: Bool? = readInlinePairs(raw) { pairs in
        var rank = 0, index = 0, started = false
        while let pair = pairs.next() {
            switch range {
            case .rank:
                if rank >= ranks.upperBound { return true }
                started = rank >= ranks.lowerBound
            case .score(let min, let max):
                let s = unpackScore(pair.score)
                if max.exclusive ? s >= max.value : s > max.value { return true }
                if !started { started = min.exclusive ? s > min.value : s >= min.value }
            case .lex(let min, let max):
                if lexBoundReached(max, pair.member, upper: true) { return true }
                if !started { started = lexBoundReached(min, pair.member, upper: false) }
            }
            rank += 1
            guard started else { continue }
            guard body(index, pair) else { return true }
            index += 1
        }
        return pairs.atEnd ? true : nil
    }
    return read ?? false
}

/// ZCOUNT / ZLEXCOUNT on the sorted set's inline encoding `raw`.
func inlineSortedSetCount(_ raw: UnsafeRawBufferPointer, _ range: SortedSetRange) -> Int {
    var n = 0
    guard forEachInlineElement(raw, range, reverse: false, { _, _ in n += 1; return true }) else {
        return (decodeInlineValue(.zset, raw) as! SortedSetObject).ranks(range, reverse: false).count
    }
    return n
}

/// ZRANGE and its older forms on the sorted set's inline encoding `raw`, as `SortedSetObject.select`.
func inlineSortedSetSelect(
    _ raw: UnsafeRawBufferPointer, _ range: SortedSetRange, reverse: Bool, offset: Int, limit: Int
) -> ScoredRun {
    guard offset >= 0, limit != 0 else { return ScoredRun() }
    var run = ScoredRun(reservingCapacity: inlineCount(.zset, raw))
    // Ascending, the range's elements from `offset` on, `limit` of them; reversed, the whole range (its top
    // comes last), cut once read.
    let read = forEachInlineElement(raw, range, reverse: reverse) { index, pair in
        guard reverse || index >= offset else { return true }
        run.append(pair.member, unpackScore(pair.score))
        return reverse || limit < 0 || run.count < limit
    }
    guard read else { return (decodeInlineValue(.zset, raw) as! SortedSetObject).select(range, reverse: reverse, offset: offset, limit: limit) }
    return reverse ? run.reversed(droppingLast: offset, limit: limit) : run
}

// Test hooks (InlineSortedSetEditTests): a score as a listpack element, and `editInlineSortedSet` on an
// encoding: nil when it declines, else the new encoding (the old one when unchanged), the member's old score
// and whether it was added.

package func packedScoreElement(_ s: Double) -> [UInt8] { withPackedScore(s) { Array($0) } }

package func inlineSortedSetEdited(
    _ raw: [UInt8], _ m: [UInt8], candidate: Double?, incrementing: Bool = false, maxEntries: Int, maxValue: Int, _ decide: (Double?) -> Double?
) -> (encoding: [UInt8], old: Double?, added: Bool)? {
    raw.withUnsafeBytes { inlineSortedSetEdited($0, m, candidate: candidate, incrementing: incrementing, maxEntries: maxEntries, maxValue: maxValue, decide) }
}

/// The same on bytes where the test puts them (at the end of a readable page: a read past them faults).
package func inlineSortedSetEdited(
    _ raw: UnsafeRawBufferPointer, _ m: [UInt8], candidate: Double?, incrementing: Bool = false, maxEntries: Int, maxValue: Int,
    _ decide: (Double?) -> Double?
) -> (encoding: [UInt8], old: Double?, added: Bool)? {
    var out = [UInt8](repeating: 0, count: inlineEditBufferSize)
    let r = m.withUnsafeBytes { mb in
        out.withUnsafeMutableBytes { o in
            editInlineSortedSet(raw, mb, candidate: candidate, incrementing: incrementing, maxEntries: maxEntries, maxValue: maxValue,
                                to: o.baseAddress!, decide)
        }
    }
    switch r {
    case nil: return nil
    case (let old, .unchanged)?: return (Array(raw), old, false)
    case (let old, .written(let count, let added))?: return (Array(out[..<count]), old, added)
    }
}

/// `inlineSortedSetSelect` and `inlineSortedSetCount` on an encoding beside the decoded object's `select`
/// and count of the same range, which they must equal.
package func inlineSortedSetSelections(
    _ raw: [UInt8], _ range: SortedSetRange, reverse: Bool, offset: Int, limit: Int
) -> (inline: [(member: [UInt8], score: Double)], decoded: [(member: [UInt8], score: Double)], inlineCount: Int, decodedCount: Int) {
    raw.withUnsafeBytes { r in
        let z = decodeInlineValue(.zset, r) as! SortedSetObject
        return (inlineSortedSetSelect(r, range, reverse: reverse, offset: offset, limit: limit).elements,
                z.select(range, reverse: reverse, offset: offset, limit: limit).elements,
                inlineSortedSetCount(r, range), z.ranks(range, reverse: false).count)
    }
}

/// `inlineSortedSetRank(_:of:)` on an encoding beside the decoded object's rank of the same member.
package func inlineSortedSetRanks(_ raw: [UInt8], of m: [UInt8]) -> (inline: Int?, decoded: Int?) {
    raw.withUnsafeBytes { r in
        m.withUnsafeBytes { (inlineSortedSetRank(r, of: $0), (decodeInlineValue(.zset, r) as! SortedSetObject).rank(of: $0)) }
    }
}
