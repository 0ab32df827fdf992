import KVEngine
import RESP

// Set commands (the store side: KVEngine's Store+Sets.swift), with Redis 7.0's replies, errors and order
// of checks (t_set.c).

/// SADD key member [member ...]
func saddCommand(_ c: Call) throws { c.reply.integer(try c.db.setAdd(c[1], c.rest(from: 2), prefetching: c.upcomingArgument(2))) }

/// SREM key member [member ...]
func sremCommand(_ c: Call) throws { c.reply.integer(try c.db.setRemove(c[1], c.rest(from: 2))) }

/// SISMEMBER key member
func sismemberCommand(_ c: Call) throws { c.reply.integer(try c.db.setContains(c[1], [c[2]])[0] ? 1 : 0) }

/// SMISMEMBER key member [member ...]
func smismemberCommand(_ c: Call) throws {
    let found = try c.db.setContains(c[1], c.keys(from: 2))
    c.reply.arrayHeader(found.count)
    for f in found { c.reply.integer(f ? 1 : 0) }
}

/// SCARD key
func scardCommand(_ c: Call) throws { c.reply.integer(try c.db.setCount(c[1])) }

/// SMEMBERS key
func smembersCommand(_ c: Call) throws { try c.db.forEachSetMember(c[1], count: c.reply.setHeader, c.reply.bulk) }

/// SRANDMEMBER key [count]
func srandmemberCommand(_ c: Call) throws {
    guard c.count >= 3 else { return c.reply.bulk(try c.db.setRandomMembers(c[1], count: 1).first) }
    guard c.count == 3 else { throw CommandError.syntax }
    let count = try randomCount(c, 2)
    if count == 0 { _ = try c.db.setCount(c[1]) }  // the key's type is checked first, as in Redis
    let members = count == 0 ? [] : try c.db.setRandomMembers(c[1], count: Int(clamping: count))
    c.reply.arrayHeader(members.count)
    for m in members { c.reply.bulk(m) }
}

/// SPOP key [count]
func spopCommand(_ c: Call) throws {
    guard c.count >= 3 else { return c.reply.bulk(try c.db.setPop(c[1])) }
    guard c.count == 3 else { throw CommandError.syntax }
    guard let count = parseInt64(c[2]), count >= 0 else { throw CommandError("ERR value is out of range, must be positive") }
    if count == 0 {
        _ = try c.db.setCount(c[1])  // the key's type is checked first, as in Redis
        return replySet(c, [])
    }
    replySet(c, try c.db.setPop(c[1], count: Int(clamping: count)))
}

/// SMOVE source destination member
func smoveCommand(_ c: Call) throws { c.reply.integer(try c.db.setMove(c[1], c[2], c[3]) ? 1 : 0) }

/// SINTER key [key ...]
func sinterCommand(_ c: Call) throws { replySet(c, try c.db.setAlgebra(.inter, c.keys(from: 1))) }

/// SUNION key [key ...]
func sunionCommand(_ c: Call) throws { replySet(c, try c.db.setAlgebra(.union, c.keys(from: 1))) }

/// SDIFF key [key ...]
func sdiffCommand(_ c: Call) throws { replySet(c, try c.db.setAlgebra(.diff, c.keys(from: 1))) }

/// SINTERSTORE destination key [key ...]
func sinterstoreCommand(_ c: Call) throws { c.reply.integer(try c.db.setAlgebraStore(.inter, destination: c[1], c.keys(from: 2))) }

/// SUNIONSTORE destination key [key ...]
func sunionstoreCommand(_ c: Call) throws { c.reply.integer(try c.db.setAlgebraStore(.union, destination: c[1], c.keys(from: 2))) }

/// SDIFFSTORE destination key [key ...]
func sdiffstoreCommand(_ c: Call) throws { c.reply.integer(try c.db.setAlgebraStore(.diff, destination: c[1], c.keys(from: 2))) }

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
func sintercardCommand(_ c: Call) throws {
    guard let n = parseInt64(c[1]), n > 0 else { throw CommandError("ERR numkeys should be greater than 0") }
    guard n <= Int64(c.count - 2) else { throw CommandError("ERR Number of keys can't be greater than number of args") }
    let keysEnd = 2 + Int(n)
    var limit: Int64 = 0
    var j = keysEnd
    while j < c.count {
        guard c.argument(j, is: "limit"), j + 1 < c.count else { throw CommandError.syntax }
        guard let l = parseInt64(c[j + 1]), l >= 0 else { throw CommandError("ERR LIMIT can't be negative") }
        limit = l
        j += 2
    }
    let keys = Array(c.keys(from: 2)[0..<Int(n)])
    c.reply.integer(try c.db.setAlgebra(.inter, keys, limit: Int(clamping: limit)).count)
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
func sscanCommand(_ c: Call) throws {
    let cursor = try scanCursor(c, 2)
    guard try c.db.setCount(c[1]) > 0 else { return replyEmptyScan(c) }
    let o = try scanOptions(c, from: 3, allowType: false)
    let (next, members) = try c.db.setScan(c[1], cursor: cursor, count: o.count, pattern: o.pattern)
    c.reply.arrayHeader(2)
    c.reply.bulk(String(next))
    c.reply.arrayHeader(members.count)
    for m in members { c.reply.bulk(m) }
}

/// Members as RESP3's set type (an array in RESP2), as Redis replies to SMEMBERS, SINTER...
private func replySet(_ c: Call, _ members: [[UInt8]]) {
    c.reply.setHeader(members.count)
    for m in members { c.reply.bulk(m) }
}
