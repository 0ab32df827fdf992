import KVEngine
import RESP

// Hash commands (the store side: KVEngine's Store+Hashes.swift). Replies, errors and the order of Redis
// 7.0's checks (t_hash.c): argument errors first where Redis parses first, then the key's type.

/// HSET key field value [field value ...]
func hsetCommand(_ c: Call) throws {
    guard c.count % 2 == 0 else { throw c.wrongArity() }
    c.reply.integer(try c.db.hashSet(c[1], fieldsAndValues: c.rest(from: 2), prefetching: c.upcomingArgument(2)))
}

/// HMSET key field value [field value ...]
func hmsetCommand(_ c: Call) throws {
    guard c.count % 2 == 0 else { throw c.wrongArity() }
    _ = try c.db.hashSet(c[1], fieldsAndValues: c.rest(from: 2))
    c.reply.ok()
}

/// HSETNX key field value
func hsetnxCommand(_ c: Call) throws { c.reply.integer(try c.db.hashSetIfAbsent(c[1], c[2], c[3]) ? 1 : 0) }

/// HGET key field
func hgetCommand(_ c: Call) throws { c.reply.bulk(try c.db.hashGet(c[1], c[2])) }

/// HMGET key field [field ...]
func hmgetCommand(_ c: Call) throws {
    let values = try c.db.hashGet(c[1], fields: c.keys(from: 2))
    c.reply.arrayHeader(values.count)
    for v in values { c.reply.bulk(v) }
}

/// HDEL key field [field ...]
func hdelCommand(_ c: Call) throws { c.reply.integer(try c.db.hashDelete(c[1], fields: c.rest(from: 2))) }

/// HLEN key
func hlenCommand(_ c: Call) throws { c.reply.integer(try c.db.hashLength(c[1])) }

/// HEXISTS key field
func hexistsCommand(_ c: Call) throws { c.reply.integer(try c.db.hashContains(c[1], c[2]) ? 1 : 0) }

/// HSTRLEN key field
func hstrlenCommand(_ c: Call) throws { c.reply.integer(try c.db.hashValueLength(c[1], c[2])) }

/// HINCRBY key field increment
func hincrbyCommand(_ c: Call) throws {
    let delta = try c.integer(3)
    c.reply.integer(try c.db.hashIncrement(c[1], c[2], by: delta))
}

/// HINCRBYFLOAT key field increment
func hincrbyfloatCommand(_ c: Call) throws {
    guard let d = parseLongDouble(c[3]) else { throw CommandError("ERR value is not a valid float") }
    guard !d.isNaN && !d.isInfinite else { throw CommandError("ERR value is NaN or Infinity") }
    c.reply.bulk(try c.db.hashIncrement(c[1], c[2], byFloat: d))  // a bulk string even in RESP3, as Redis
}

/// HGETALL key
func hgetallCommand(_ c: Call) throws {
    try c.db.forEachHashPair(c[1], count: c.reply.mapHeader) { f, v in
        c.reply.bulk(f)
        c.reply.bulk(v)
    }
}

/// HKEYS key
func hkeysCommand(_ c: Call) throws {
    try c.db.forEachHashPair(c[1], count: c.reply.arrayHeader) { f, _ in c.reply.bulk(f) }
}

/// HVALS key
func hvalsCommand(_ c: Call) throws {
    try c.db.forEachHashPair(c[1], count: c.reply.arrayHeader) { _, v in c.reply.bulk(v) }
}

/// HRANDFIELD key [count [WITHVALUES]]
func hrandfieldCommand(_ c: Call) throws {
    guard c.count >= 3 else {
        let one = try c.db.hashRandomPairs(c[1], count: 1)
        return c.reply.bulk(one.first?.field)
    }
    let count = try randomCount(c, 2)
    guard c.count <= 4, c.count == 3 || c.argument(3, is: "withvalues") else { throw CommandError.syntax }
    let withValues = c.count == 4
    if withValues && (count < -Int64.max / 2 || count > Int64.max / 2) { throw CommandError("ERR value is out of range") }
    if count == 0 { _ = try c.db.hashLength(c[1]) }  // the key's type is checked first, as in Redis
    let pairs = count == 0 ? [] : try c.db.hashRandomPairs(c[1], count: Int(clamping: count))
    if withValues && c.reply.resp3 {
        c.reply.arrayHeader(pairs.count)
        for p in pairs {
            c.reply.arrayHeader(2)
            c.reply.bulk(p.field)
            c.reply.bulk(p.value)
        }
        return
    }
    c.reply.arrayHeader(withValues ? 2 * pairs.count : pairs.count)
    for p in pairs {
        c.reply.bulk(p.field)
        if withValues { c.reply.bulk(p.value) }
    }
}

/// The count of HRANDFIELD and SRANDMEMBER: an integer in -LONG_MAX...LONG_MAX.
func randomCount(_ c: Call, _ i: Int) throws -> Int64 {
    let n = try c.integer(i)
    guard n != Int64.min else {
        throw CommandError("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    }
    return n
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
func hscanCommand(_ c: Call) throws {
    let cursor = try scanCursor(c, 2)
    guard try c.db.hashLength(c[1]) > 0 else { return replyEmptyScan(c) }
    let o = try scanOptions(c, from: 3, allowType: false)
    let (next, pairs) = try c.db.hashScan(c[1], cursor: cursor, count: o.count, pattern: o.pattern)
    c.reply.arrayHeader(2)
    c.reply.bulk(String(next))
    c.reply.arrayHeader(2 * pairs.count)
    for p in pairs {
        c.reply.bulk(p.field)
        c.reply.bulk(p.value)
    }
}
