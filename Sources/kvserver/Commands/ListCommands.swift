import Glibc
import KVEngine
import RESP

// List commands and the blocking pops (the store side: KVEngine's Store+Lists.swift; the waiting:
// Blocking.swift), with Redis 7.0's replies, errors and order of checks (t_list.c): some commands parse
// their numbers before they look the key up, others after, and that order decides which error a
// malformed call on a missing or wrong-type key gets.

/// LPUSH key element [element ...]
func lpushCommand(_ c: Call) throws { c.reply.integer(try c.db.listPush(c[1], c.rest(from: 2), at: .left)) }

/// RPUSH key element [element ...]
func rpushCommand(_ c: Call) throws { c.reply.integer(try c.db.listPush(c[1], c.rest(from: 2), at: .right)) }

/// LPUSHX key element [element ...]
func lpushxCommand(_ c: Call) throws { c.reply.integer(try c.db.listPush(c[1], c.rest(from: 2), at: .left, onlyIfExists: true)) }

/// RPUSHX key element [element ...]
func rpushxCommand(_ c: Call) throws { c.reply.integer(try c.db.listPush(c[1], c.rest(from: 2), at: .right, onlyIfExists: true)) }

/// LPOP key [count]
func lpopCommand(_ c: Call) throws { try pop(c, .left) }

/// RPOP key [count]
func rpopCommand(_ c: Call) throws { try pop(c, .right) }

private func pop(_ c: Call, _ end: ListEnd) throws {
    guard c.count <= 3 else { throw c.wrongArity() }
    guard c.count == 3 else {
        return try c.db.listPop(c[1], from: end) { e in if let e { c.reply.bulk(e) } else { c.reply.null() } }
    }
    let count = try positive(c, 2)
    guard let popped = try c.db.listPop(c[1], from: end, count: count) else { return c.reply.nullArray() }
    replyArray(c, popped)
}

/// LLEN key
func llenCommand(_ c: Call) throws { c.reply.integer(try c.db.listLength(c[1])) }

/// LRANGE key start stop
func lrangeCommand(_ c: Call) throws {
    let start = try c.integer(2), stop = try c.integer(3)
    try c.db.forEachListElement(c[1], start: Int(start), stop: Int(stop), count: c.reply.arrayHeader, c.reply.bulk)
}

/// LINDEX key index
func lindexCommand(_ c: Call) throws {
    guard try c.lookUpFirst(1, expecting: .list) else { return c.reply.null() }
    c.reply.bulk(try c.db.listIndex(c[1], Int(try c.integer(2))))
}

/// LSET key index element
func lsetCommand(_ c: Call) throws {
    guard try c.lookUpFirst(1, expecting: .list) else { throw CommandError("ERR no such key") }
    switch try c.db.listSet(c[1], Int(try c.integer(2)), c[3]) {
    case .ok: c.reply.ok()
    case .noSuchKey: throw CommandError("ERR no such key")
    case .outOfRange: throw CommandError("ERR index out of range")
    }
}

/// LINSERT key BEFORE | AFTER pivot element
func linsertCommand(_ c: Call) throws {
    let before: Bool
    if c.argument(2, is: "before") { before = true } else if c.argument(2, is: "after") { before = false } else { throw CommandError.syntax }
    c.reply.integer(try c.db.listInsert(c[1], before: before, pivot: c[3], c[4]))
}

/// LREM key count element
func lremCommand(_ c: Call) throws {
    let count = try c.integer(2)
    c.reply.integer(try c.db.listRemove(c[1], count: Int(count), c[3]))
}

/// LTRIM key start stop
func ltrimCommand(_ c: Call) throws {
    let start = try c.integer(2), stop = try c.integer(3)
    try c.db.listTrim(c[1], start: Int(start), stop: Int(stop))
    c.reply.ok()
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
func lposCommand(_ c: Call) throws {
    var rank = 1, count = -1, maxLength = 0
    var j = 3
    while j < c.count {
        let more = j + 1 < c.count
        if c.argument(j, is: "rank") && more {
            let r = try c.integer(j + 1)
            guard r != 0 else {
                throw CommandError("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
            }
            // Redis 7.0 negates the rank without a check: the lowest one stays negative, and its COUNT
            // test overflows, so it counts from the tail and returns every match once COUNT is given.
            rank = r == Int64.min ? Int.min : Int(r)
        } else if c.argument(j, is: "count") && more {
            count = try positive(c, j + 1, "ERR COUNT can't be negative")
        } else if c.argument(j, is: "maxlen") && more {
            maxLength = try positive(c, j + 1, "ERR MAXLEN can't be negative")
        } else {
            throw CommandError.syntax
        }
        j += 2
    }
    // No COUNT: the first match only.
    let wanted = count == -1 ? 1 : rank == Int.min ? 0 : count
    guard let found = try c.db.listPositions(c[1], c[2], rank: rank == Int.min ? -1 : rank, count: wanted, maxLength: maxLength) else {
        return count == -1 ? c.reply.null() : c.reply.arrayHeader(0)
    }
    if count == -1 {
        if let first = found.first { c.reply.integer(first) } else { c.reply.null() }
        return
    }
    c.reply.arrayHeader(found.count)
    for p in found { c.reply.integer(p) }
}

/// LMOVE source destination LEFT | RIGHT LEFT | RIGHT
func lmoveCommand(_ c: Call) throws {
    let from = try end(c, 3), to = try end(c, 4)
    c.reply.bulk(try c.db.listMove(c[1], c[2], from: from, to: to))
}

/// RPOPLPUSH source destination
func rpoplpushCommand(_ c: Call) throws { c.reply.bulk(try c.db.listMove(c[1], c[2], from: .right, to: .left)) }

/// LMPOP numkeys key [key ...] LEFT | RIGHT [COUNT count]
func lmpopCommand(_ c: Call) throws {
    let (keys, from, count) = try mpopArguments(c, numkeysAt: 1)
    guard let (key, popped) = try c.db.listPopFirst(keys, from: from, count: count) else { return c.reply.nullArray() }
    c.reply.arrayHeader(2)
    c.reply.bulk(key)
    replyArray(c, popped)
}

// MARK: Blocking

/// BLPOP key [key ...] timeout
func blpopCommand(_ c: Call) throws { try blockingPop(c, .left) }

/// BRPOP key [key ...] timeout
func brpopCommand(_ c: Call) throws { try blockingPop(c, .right) }

private func blockingPop(_ c: Call, _ end: ListEnd) throws {
    let timeout = try timeoutMilliseconds(c, c.count - 1)
    let keys = Array(c.args[1..<(c.count - 1)])
    if let (key, popped) = try c.db.listPopFirst(keys, from: end, count: 1) {
        c.reply.arrayHeader(2)
        c.reply.bulk(key)
        return c.reply.bulk(popped[0])
    }
    if c.client.executingTransaction { return c.reply.nullArray() }
    c.client.block(on: keys, .pop(end, count: nil), timeout: timeout)
}

/// BLMPOP timeout numkeys key [key ...] LEFT | RIGHT [COUNT count]
func blmpopCommand(_ c: Call) throws {
    let (keys, from, count) = try mpopArguments(c, numkeysAt: 2)
    let timeout = try timeoutMilliseconds(c, 1)
    if let (key, popped) = try c.db.listPopFirst(keys, from: from, count: count) {
        c.reply.arrayHeader(2)
        c.reply.bulk(key)
        return replyArray(c, popped)
    }
    if c.client.executingTransaction { return c.reply.nullArray() }
    c.client.block(on: keys, .pop(from, count: count), timeout: timeout)
}

/// BLMOVE source destination LEFT | RIGHT LEFT | RIGHT timeout
func blmoveCommand(_ c: Call) throws {
    let from = try end(c, 3), to = try end(c, 4)
    try blockingMove(c, from: from, to: to, timeoutAt: 5)
}

/// BRPOPLPUSH source destination timeout
func brpoplpushCommand(_ c: Call) throws { try blockingMove(c, from: .right, to: .left, timeoutAt: 3) }

private func blockingMove(_ c: Call, from: ListEnd, to: ListEnd, timeoutAt i: Int) throws {
    let timeout = try timeoutMilliseconds(c, i)
    if let moved = try c.db.listMove(c[1], c[2], from: from, to: to) { return c.reply.bulk(moved) }
    if c.client.executingTransaction { return c.reply.null() }
    c.client.block(on: [c[1]], .move(destination: c.bytes(2), from: from, to: to), timeout: timeout)
}

/// CLIENT UNBLOCK client-id [TIMEOUT | ERROR]
func clientUnblockCommand(_ c: Call) throws {
    guard c.count <= 4 else { throw c.unknownSubcommand() }
    var asError = false
    if c.count == 4 {
        if c.argument(3, is: "error") { asError = true } else if !c.argument(3, is: "timeout") {
            throw CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        }
    }
    let id = try c.integer(2)
    guard let b = c.server.blocking.waiter(ofClient: Int(id)), b.finish() else { return c.reply.integer(0) }
    c.server.blocking.remove(b)
    let out = ByteBuffer(capacity: 64)
    let r = ReplyWriter(buffer: out, resp3: b.connection.pushesAsResp3)
    if asError { r.error("UNBLOCKED client unblocked via CLIENT UNBLOCK") } else { b.operation.writeTimeout(r) }
    b.connection.unblock(Array(out.readable))
    c.reply.integer(1)
}

// MARK: Arguments

/// Argument `i` as a count >= 0, with Redis' error for a negative number and a malformed one alike
/// (getPositiveLongFromObjectOrReply).
private func positive(_ c: Call, _ i: Int, _ message: String = "ERR value is out of range, must be positive") throws -> Int {
    guard let v = parseInt64(c[i]), v >= 0 else { throw CommandError(message) }
    return Int(v)
}

/// LEFT or RIGHT at argument `i`.
private func end(_ c: Call, _ i: Int) throws -> ListEnd {
    if c.argument(i, is: "left") { return .left }
    if c.argument(i, is: "right") { return .right }
    throw CommandError.syntax
}

/// LMPOP's and BLMPOP's numkeys, keys, end and COUNT, in Redis' order of checks.
private func mpopArguments(_ c: Call, numkeysAt n: Int) throws -> ([UnsafeRawBufferPointer], ListEnd, Int) {
    try mpopArguments(c, numkeysAt: n, end: end)
}

/// The arguments of the MPOP commands (LMPOP, ZMPOP and their blocking forms): numkeys, keys, the end
/// (`end` reads its word) and COUNT, in Redis' order of checks.
func mpopArguments<End>(_ c: Call, numkeysAt n: Int, end: (Call, Int) throws -> End) throws -> ([UnsafeRawBufferPointer], End, Int) {
    guard let numkeys = parseInt64(c[n]), numkeys > 0 else { throw CommandError("ERR numkeys should be greater than 0") }
    guard numkeys < Int64(c.count - n - 1) else { throw CommandError.syntax }
    let whereAt = n + Int(numkeys) + 1
    let from = try end(c, whereAt)
    var count = -1
    var j = whereAt + 1
    while j < c.count {
        guard count == -1, c.argument(j, is: "count"), j + 1 < c.count else { throw CommandError.syntax }
        guard let v = parseInt64(c[j + 1]), v > 0 else { throw CommandError("ERR count should be greater than 0") }
        count = Int(v)
        j += 2
    }
    return (Array(c.args[(n + 1)..<whereAt]), from, count == -1 ? 1 : count)
}

/// A blocking command's timeout at argument `i`: seconds, decimals allowed, as milliseconds rounded up
/// (0: forever), with Redis' errors (getTimeoutFromObjectOrReply).
func timeoutMilliseconds(_ c: Call, _ i: Int) throws -> Int64 {
    let notAFloat = CommandError("ERR timeout is not a float or out of range")
    let text = c.bytes(i)
    guard let first = text.first, isspace(Int32(first)) == 0, !text.contains(0) else { throw notAFloat }
    // Redis reads a long double (strtold): where the platform has one, so do we.
    #if arch(x86_64)
    typealias Wide = Float80
    let parse = strtold
    #else
    typealias Wide = Double
    let parse = strtod
    #endif
    var endPointer: UnsafeMutablePointer<CChar>? = nil
    errno = 0
    let value: Wide = (text + [0]).withUnsafeBufferPointer { b in
        b.withMemoryRebound(to: CChar.self) { parse($0.baseAddress!, &endPointer) }
    }
    let consumed = endPointer.map { $0.pointee == 0 } ?? false
    guard consumed, !value.isNaN, !(errno == ERANGE && (value.isInfinite || value == 0)) else { throw notAFloat }
    let ms = (value * 1000).rounded(.up)
    // Past a long long the conversion goes negative in Redis: "negative" too.
    guard ms >= 0, ms < 9.2e18 else { throw CommandError("ERR timeout is negative") }
    return Int64(ms)
}

private func replyArray(_ c: Call, _ elements: [[UInt8]]) {
    c.reply.arrayHeader(elements.count)
    for e in elements { c.reply.bulk(e) }
}
