import KVEngine
import RESP

// Sorted-set commands (the store side: KVEngine's Store+SortedSets.swift), with Redis 7.0's replies,
// errors and order of checks (t_zset.c). Scores reply as Redis' addReplyDouble: "%.17g" in a bulk string,
// RESP3's double type; ZSCAN's scores stay bulk strings.

typealias ScoredElements = [(member: [UInt8], score: Double)]

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
func zaddCommand(_ c: Call) throws {
    var o = SortedSetAddOptions()
    var ch = false
    var j = 2
    while j < c.count {
        if c.argument(j, is: "nx") { o.nx = true }
        else if c.argument(j, is: "xx") { o.xx = true }
        else if c.argument(j, is: "gt") { o.gt = true }
        else if c.argument(j, is: "lt") { o.lt = true }
        else if c.argument(j, is: "ch") { ch = true }
        else if c.argument(j, is: "incr") { o.incr = true }
        else { break }
        j += 1
    }
    let pairs = c.count - j
    guard pairs > 0, pairs % 2 == 0 else { throw CommandError.syntax }
    if o.nx && o.xx { throw CommandError("ERR XX and NX options at the same time are not compatible") }
    if (o.gt && o.nx) || (o.lt && o.nx) || (o.gt && o.lt) {
        throw CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    }
    if o.incr && pairs > 2 { throw CommandError("ERR INCR option supports a single increment-element pair") }
    let db = c.db, key = c[1], upcoming = c.upcomingArgument(3)
    let r = try withScoredMembers(c, from: j) { elements in try db.zsetAdd(key, elements, options: o, prefetching: upcoming) }
    if o.incr { return replyScore(c, r.score) }
    c.reply.integer(ch ? r.added + r.changed : r.added)
}

/// The score/member pairs from argument `j` on, every score parsed before anything changes, in memory
/// on the stack (no allocation per ZADD). Callers take what `body` needs out of the call first: a `body`
/// that captured the call retained its arguments and client (3 retains a ZADD: callgrind).
private func withScoredMembers<R>(
    _ c: Call, from j: Int, _ body: (UnsafeBufferPointer<(score: Double, member: UnsafeRawBufferPointer)>) throws -> R
) throws -> R {
    try withUnsafeTemporaryAllocation(of: (score: Double, member: UnsafeRawBufferPointer).self, capacity: (c.count - j) / 2) { buffer in
        for (i, k) in stride(from: j, to: c.count, by: 2).enumerated() { buffer.initializeElement(at: i, to: (try score(c, k), c[k + 1])) }
        return try body(UnsafeBufferPointer(buffer))
    }
}

/// ZINCRBY key increment member
func zincrbyCommand(_ c: Call) throws {
    var o = SortedSetAddOptions()
    o.incr = true
    let db = c.db, key = c[1]
    replyScore(c, try withScoredMembers(c, from: 2) { try db.zsetAdd(key, $0, options: o) }.score)
}

/// ZREM key member [member ...]
func zremCommand(_ c: Call) throws { c.reply.integer(try c.db.zsetRemove(c[1], c.rest(from: 2))) }

/// ZSCORE key member
func zscoreCommand(_ c: Call) throws { replyScore(c, try c.db.zsetScores(c[1], [c[2]])[0]) }

/// ZMSCORE key member [member ...]
func zmscoreCommand(_ c: Call) throws {
    let scores = try c.db.zsetScores(c[1], c.keys(from: 2))
    c.reply.arrayHeader(scores.count)
    for s in scores { replyScore(c, s) }
}

/// ZCARD key
func zcardCommand(_ c: Call) throws { c.reply.integer(try c.db.zsetCount(c[1])) }

/// ZCOUNT key min max
func zcountCommand(_ c: Call) throws { c.reply.integer(try c.db.zsetCount(c[1], in: try scoreRange(c, 2, 3))) }

/// ZLEXCOUNT key min max
func zlexcountCommand(_ c: Call) throws { c.reply.integer(try c.db.zsetCount(c[1], in: try lexRange(c, 2, 3))) }

/// ZRANK key member
func zrankCommand(_ c: Call) throws { replyRank(c, try c.db.zsetRank(c[1], c[2], reverse: false)) }

/// ZREVRANK key member
func zrevrankCommand(_ c: Call) throws { replyRank(c, try c.db.zsetRank(c[1], c[2], reverse: true)) }

private func replyRank(_ c: Call, _ r: Int?) {
    if let r { c.reply.integer(r) } else { c.reply.null() }
}

// MARK: Ranges

private enum RangeKind { case auto, rank, score, lex }

/// A ZRANGE-family request parsed as Redis' zrangeGenericCommand parses it.
private struct RangeRequest {
    var range: SortedSetRange
    var reverse: Bool
    var offset = 0
    var limit = -1
    var withScores = false
}

/// Parses the range arguments from `first` (min max, then options). `kind` and `reverse` are fixed by the
/// older commands (ZRANGEBYSCORE...), left open by ZRANGE and ZRANGESTORE (`store`: no WITHSCORES).
private func rangeRequest(_ c: Call, first: Int, kind fixedKind: RangeKind, reverse fixedReverse: Bool?, store: Bool = false) throws -> RangeRequest {
    var kind = fixedKind
    var reverse = fixedReverse
    var offset: Int64 = 0, limit: Int64 = -1
    var withScores = false
    var j = first + 2
    while j < c.count {
        let left = c.count - j - 1
        if !store && c.argument(j, is: "withscores") {
            withScores = true
        } else if c.argument(j, is: "limit") && left >= 2 {
            offset = try c.integer(j + 1)
            limit = try c.integer(j + 2)
            j += 2
        } else if fixedReverse == nil && reverse == nil && c.argument(j, is: "rev") {
            reverse = true
        } else if kind == .auto && c.argument(j, is: "bylex") {
            kind = .lex
        } else if kind == .auto && c.argument(j, is: "byscore") {
            kind = .score
        } else {
            throw CommandError.syntax
        }
        j += 1
    }
    if kind == .auto { kind = .rank }
    let isReverse = reverse ?? false
    if limit != -1 && kind == .rank {
        throw CommandError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    }
    if withScores && kind == .lex { throw CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX") }
    if kind == .rank { offset = 0 }  // a rank range ignores LIMIT's offset when its count is -1, as Redis does
    // Reversed score and lex ranges are given max first.
    let (minAt, maxAt) = isReverse && kind != .rank ? (first + 1, first) : (first, first + 1)
    let range: SortedSetRange
    switch kind {
    case .score: range = try scoreRange(c, minAt, maxAt)
    case .lex: range = try lexRange(c, minAt, maxAt)
    default: range = .rank(Int(try c.integer(minAt)), Int(try c.integer(maxAt)))
    }
    return RangeRequest(range: range, reverse: isReverse, offset: Int(clamping: offset), limit: Int(clamping: limit), withScores: withScores)
}

private func range(_ c: Call, _ kind: RangeKind, reverse: Bool?) throws {
    let r = try rangeRequest(c, first: 2, kind: kind, reverse: reverse)
    replyElements(c, try c.db.zsetRange(c[1], r.range, reverse: r.reverse, offset: r.offset, limit: r.limit), withScores: r.withScores)
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
func zrangeCommand(_ c: Call) throws { try range(c, .auto, reverse: nil) }

/// ZREVRANGE key start stop [WITHSCORES]
func zrevrangeCommand(_ c: Call) throws { try range(c, .rank, reverse: true) }

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
func zrangebyscoreCommand(_ c: Call) throws { try range(c, .score, reverse: false) }

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
func zrevrangebyscoreCommand(_ c: Call) throws { try range(c, .score, reverse: true) }

/// ZRANGEBYLEX key min max [LIMIT offset count]
func zrangebylexCommand(_ c: Call) throws { try range(c, .lex, reverse: false) }

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
func zrevrangebylexCommand(_ c: Call) throws { try range(c, .lex, reverse: true) }

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
func zrangestoreCommand(_ c: Call) throws {
    let r = try rangeRequest(c, first: 3, kind: .auto, reverse: nil, store: true)
    c.reply.integer(try c.db.zsetRangeStore(c[1], c[2], r.range, reverse: r.reverse, offset: r.offset, limit: r.limit))
}

/// ZREMRANGEBYRANK key start stop
func zremrangebyrankCommand(_ c: Call) throws {
    c.reply.integer(try c.db.zsetRemoveRange(c[1], .rank(Int(try c.integer(2)), Int(try c.integer(3)))))
}

/// ZREMRANGEBYSCORE key min max
func zremrangebyscoreCommand(_ c: Call) throws { c.reply.integer(try c.db.zsetRemoveRange(c[1], try scoreRange(c, 2, 3))) }

/// ZREMRANGEBYLEX key min max
func zremrangebylexCommand(_ c: Call) throws { c.reply.integer(try c.db.zsetRemoveRange(c[1], try lexRange(c, 2, 3))) }

// MARK: Pops

/// ZPOPMIN key [count]
func zpopminCommand(_ c: Call) throws { try pop(c, max: false) }

/// ZPOPMAX key [count]
func zpopmaxCommand(_ c: Call) throws { try pop(c, max: true) }

private func pop(_ c: Call, max: Bool) throws {
    guard c.count <= 3 else { throw CommandError.syntax }
    guard c.count == 3 else {
        let popped = try c.db.zsetPop(c[1], max: max) { member, score in
            c.reply.arrayHeader(2)
            c.reply.bulk(member)
            c.reply.double(score)
        }
        if !popped { c.reply.arrayHeader(0) }
        return
    }
    guard let count = parseInt64(c[2]), count >= 0 else { throw CommandError("ERR value is out of range, must be positive") }
    if count == 0 {
        _ = try c.db.zsetCount(c[1])  // the key's type is checked first, as in Redis
        return c.reply.arrayHeader(0)
    }
    replyElements(c, try c.db.zsetPop(c[1], max: max, count: Int(clamping: count)), withScores: true)
}

/// MIN or MAX at argument `i` (true: MAX).
private func minOrMax(_ c: Call, _ i: Int) throws -> Bool {
    if c.argument(i, is: "min") { return false }
    if c.argument(i, is: "max") { return true }
    throw CommandError.syntax
}

/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
func zmpopCommand(_ c: Call) throws {
    let (keys, max, count) = try mpopArguments(c, numkeysAt: 1, end: minOrMax)
    guard let (key, popped) = try c.db.zsetPopFirst(keys, max: max, count: count) else { return c.reply.nullArray() }
    replyKeyAndElements(c.reply, key, popped)
}

/// BZPOPMIN key [key ...] timeout
func bzpopminCommand(_ c: Call) throws { try blockingPop(c, max: false) }

/// BZPOPMAX key [key ...] timeout
func bzpopmaxCommand(_ c: Call) throws { try blockingPop(c, max: true) }

private func blockingPop(_ c: Call, max: Bool) throws {
    let timeout = try timeoutMilliseconds(c, c.count - 1)
    let keys = Array(c.args[1..<(c.count - 1)])
    if let (key, popped) = try c.db.zsetPopFirst(keys, max: max, count: 1) {
        return replyPopped(c.reply, key, popped[0])
    }
    if c.client.executingTransaction { return c.reply.nullArray() }
    c.client.block(on: keys, .zpop(max: max, count: nil), timeout: timeout)
}

/// BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]
func bzmpopCommand(_ c: Call) throws {
    let (keys, max, count) = try mpopArguments(c, numkeysAt: 2, end: minOrMax)
    let timeout = try timeoutMilliseconds(c, 1)
    if let (key, popped) = try c.db.zsetPopFirst(keys, max: max, count: count) {
        return replyKeyAndElements(c.reply, key, popped)
    }
    if c.client.executingTransaction { return c.reply.nullArray() }
    c.client.block(on: keys, .zpop(max: max, count: count), timeout: timeout)
}

/// BZPOPMIN's reply: key, member, score.
func replyPopped(_ r: ReplyWriter, _ key: [UInt8], _ e: (member: [UInt8], score: Double)) {
    r.arrayHeader(3)
    r.bulk(key)
    r.bulk(e.member)
    r.double(e.score)
}

/// ZMPOP's reply: the key, then its elements as (member, score) pairs in either protocol.
func replyKeyAndElements(_ r: ReplyWriter, _ key: [UInt8], _ elements: ScoredElements) {
    r.arrayHeader(2)
    r.bulk(key)
    r.arrayHeader(elements.count)
    for e in elements {
        r.arrayHeader(2)
        r.bulk(e.member)
        r.double(e.score)
    }
}

// MARK: Random members and scans

/// ZRANDMEMBER key [count [WITHSCORES]]
func zrandmemberCommand(_ c: Call) throws {
    guard c.count >= 3 else { return c.reply.bulk(try c.db.zsetRandom(c[1], count: 1).first?.member) }
    let count = try randomCount(c, 2)
    guard c.count <= 4, c.count == 3 || c.argument(3, is: "withscores") else { throw CommandError.syntax }
    let withScores = c.count == 4
    if withScores && (count < -Int64.max / 2 || count > Int64.max / 2) { throw CommandError("ERR value is out of range") }
    if count == 0 { _ = try c.db.zsetCount(c[1]) }  // the key's type is checked first, as in Redis
    replyElements(c, count == 0 ? [] : try c.db.zsetRandom(c[1], count: Int(clamping: count)), withScores: withScores)
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
func zscanCommand(_ c: Call) throws {
    let cursor = try scanCursor(c, 2)
    guard try c.db.zsetCount(c[1]) > 0 else { return replyEmptyScan(c) }
    let o = try scanOptions(c, from: 3, allowType: false)
    let (next, elements) = try c.db.zsetScan(c[1], cursor: cursor, count: o.count, pattern: o.pattern)
    c.reply.arrayHeader(2)
    c.reply.bulk(String(next))
    c.reply.arrayHeader(2 * elements.count)
    for e in elements {
        c.reply.bulk(e.member)
        c.reply.bulk(formatDouble(e.score))
    }
}

// MARK: Union, intersection, difference

/// The keys and options of ZUNION, ZINTER, ZDIFF (and their STORE forms, ZINTERCARD) in Redis' order:
/// numkeys, then each key's type, then the options.
private struct AlgebraRequest {
    var keys: [UnsafeRawBufferPointer]
    var weights: [Double]? = nil
    var aggregate = SortedSetAggregate.sum
    var withScores = false
    var limit = 0
}

private func algebraRequest(_ c: Call, numkeysAt n: Int, _ op: Store.SortedSetAlgebra, store: Bool, cardinality: Bool = false) throws -> AlgebraRequest {
    let numkeys = try c.integer(n)
    guard numkeys >= 1 else {
        throw CommandError("ERR at least 1 input key is needed for '\(c.string(0).lowercased())' command")
    }
    guard numkeys <= Int64(c.count - n - 1) else { throw CommandError.syntax }
    var r = AlgebraRequest(keys: Array(c.args[(n + 1)...(n + Int(numkeys))]))
    for k in r.keys {
        if let t = c.db.type(k, touching: true), t != .zset && t != .set { throw StoreError.wrongType }
    }
    var j = n + 1 + Int(numkeys)
    while j < c.count {
        let remaining = c.count - j
        // ZINTERCARD takes LIMIT only: its WEIGHTS and AGGREGATE are syntax errors, as in Redis.
        if op != .diff && !cardinality && remaining >= r.keys.count + 1 && c.argument(j, is: "weights") {
            r.weights = try (0..<r.keys.count).map { i in
                guard let w = parseDouble(c[j + 1 + i]) else { throw CommandError("ERR weight value is not a float") }
                return w
            }
            j += 1 + r.keys.count
        } else if op != .diff && !cardinality && remaining >= 2 && c.argument(j, is: "aggregate") {
            if c.argument(j + 1, is: "sum") { r.aggregate = .sum }
            else if c.argument(j + 1, is: "min") { r.aggregate = .min }
            else if c.argument(j + 1, is: "max") { r.aggregate = .max }
            else { throw CommandError.syntax }
            j += 2
        } else if !store && !cardinality && c.argument(j, is: "withscores") {
            r.withScores = true
            j += 1
        } else if cardinality && remaining >= 2 && c.argument(j, is: "limit") {
            guard let l = parseInt64(c[j + 1]), l >= 0 else { throw CommandError("ERR LIMIT can't be negative") }
            r.limit = Int(clamping: l)
            j += 2
        } else {
            throw CommandError.syntax
        }
    }
    return r
}

private func algebra(_ c: Call, _ op: Store.SortedSetAlgebra) throws {
    let r = try algebraRequest(c, numkeysAt: 1, op, store: false)
    replyElements(c, try c.db.zsetAlgebra(op, r.keys, weights: r.weights, aggregate: r.aggregate), withScores: r.withScores)
}

private func algebraStore(_ c: Call, _ op: Store.SortedSetAlgebra) throws {
    let r = try algebraRequest(c, numkeysAt: 2, op, store: true)
    c.reply.integer(try c.db.zsetAlgebraStore(op, destination: c[1], r.keys, weights: r.weights, aggregate: r.aggregate))
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]
func zunionCommand(_ c: Call) throws { try algebra(c, .union) }

/// ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]
func zinterCommand(_ c: Call) throws { try algebra(c, .inter) }

/// ZDIFF numkeys key [key ...] [WITHSCORES]
func zdiffCommand(_ c: Call) throws { try algebra(c, .diff) }

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]
func zunionstoreCommand(_ c: Call) throws { try algebraStore(c, .union) }

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]
func zinterstoreCommand(_ c: Call) throws { try algebraStore(c, .inter) }

/// ZDIFFSTORE destination numkeys key [key ...]
func zdiffstoreCommand(_ c: Call) throws { try algebraStore(c, .diff) }

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
func zintercardCommand(_ c: Call) throws {
    let r = try algebraRequest(c, numkeysAt: 1, .inter, store: false, cardinality: true)
    c.reply.integer(try c.db.zsetIntersectionCount(r.keys, limit: r.limit))
}

// MARK: Arguments and replies

/// A score or increment at argument `i`.
private func score(_ c: Call, _ i: Int) throws -> Double {
    guard let s = parseDouble(c[i]) else { throw CommandError("ERR value is not a valid float") }
    return s
}

/// A score range (`(` for exclusive ends), as zslParseRange.
private func scoreRange(_ c: Call, _ minAt: Int, _ maxAt: Int) throws -> SortedSetRange {
    func bound(_ i: Int) throws -> ScoreBound {
        let a = c[i]
        let exclusive = a.first == UInt8(ascii: "(")
        guard let v = parseLenientDouble(exclusive ? UnsafeRawBufferPointer(rebasing: a[1...]) : a) else {
            throw CommandError("ERR min or max is not a float")
        }
        return ScoreBound(v, exclusive: exclusive)
    }
    return .score(try bound(minAt), try bound(maxAt))
}

/// A lexicographic range (`-`, `+`, `[member`, `(member`), as zslParseLexRange.
private func lexRange(_ c: Call, _ minAt: Int, _ maxAt: Int) throws -> SortedSetRange {
    func bound(_ i: Int) throws -> LexBound {
        let a = c[i]
        switch a.first {
        case UInt8(ascii: "+") where a.count == 1: return .plusInfinity
        case UInt8(ascii: "-") where a.count == 1: return .minusInfinity
        case UInt8(ascii: "["): return .inclusive(Array(a[1...]))
        case UInt8(ascii: "("): return .exclusive(Array(a[1...]))
        default: throw CommandError("ERR min or max not valid string range item")
        }
    }
    return .lex(try bound(minAt), try bound(maxAt))
}

/// A score or null.
private func replyScore(_ c: Call, _ s: Double?) {
    if let s { c.reply.double(s) } else { c.reply.null() }
}

/// Elements, with their scores when asked: flat in RESP2, (member, score) pairs in RESP3.
private func replyElements(_ c: Call, _ run: ScoredRun, withScores: Bool) {
    replyElements(c, count: run.count, withScores: withScores) { run.forEach($0) }
}

private func replyElements(_ c: Call, _ elements: ScoredElements, withScores: Bool) {
    replyElements(c, count: elements.count, withScores: withScores) { body in
        for e in elements { e.member.withUnsafeBytes { body($0, e.score) } }
    }
}

/// `count` elements, each member with its score (`withScores`: after it in RESP2, as a pair in RESP3).
@inline(__always)
private func replyElements(_ c: Call, count: Int, withScores: Bool, _ forEach: ((UnsafeRawBufferPointer, Double) -> Void) -> Void) {
    let pairs = withScores && c.reply.resp3
    c.reply.arrayHeader(withScores && !pairs ? 2 * count : count)
    forEach { member, score in
        if pairs { c.reply.arrayHeader(2) }
        c.reply.bulk(member)
        if withScores { c.reply.double(score) }
    }
}
