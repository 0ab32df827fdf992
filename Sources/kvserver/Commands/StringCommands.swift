import KVEngine
import RESP

// String commands (Redis' t_string.c): each parses its arguments with Redis' rules and error texts and
// calls one store operation. Rows: CommandRows.swift.

/// GET key
func getCommand(_ c: Call) throws {
    let found: Void? = try c.db.withValue(c[1]) { c.reply.bulk($0) }
    c.countLookup(found != nil)
    if found == nil { c.reply.null() }
}

/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
///     PXAT unix-time-milliseconds | KEEPTTL]
func setCommand(_ c: Call) throws {
    let o = try parseStringOptions(c, from: 3, forSet: true)
    var expiry: SetOptions.Expiry = o.keepTTL ? .keep : .clear
    if let e = o.expiry { expiry = .at(try e.resolve(c)) }
    if o.get { c.client.holdPushes() }  // Redis replies with the old value before it sets the new one
    let outcome = try c.db.set(c[1], c[2], SetOptions(condition: o.condition, expiry: expiry, returnOld: o.get))
    if o.get {
        c.reply.bulk(outcome.oldValue)
    } else if outcome.performed {
        c.reply.ok()
    } else {
        c.reply.null()
    }
}

/// SETNX key value
func setnxCommand(_ c: Call) throws {
    c.reply.integer(try c.db.set(c[1], c[2], SetOptions(condition: .ifAbsent)).performed ? 1 : 0)
}

/// SETEX key seconds value
func setexCommand(_ c: Call) throws { try setWithExpiry(c, seconds: true) }

/// PSETEX key milliseconds value
func psetexCommand(_ c: Call) throws { try setWithExpiry(c, seconds: false) }

/// GETSET key value
func getsetCommand(_ c: Call) throws {
    c.client.holdPushes()
    c.reply.bulk(try c.db.set(c[1], c[2], SetOptions(returnOld: true)).oldValue)
}

/// GETDEL key
func getdelCommand(_ c: Call) throws {
    c.client.holdPushes()
    let value = try c.db.getAndDelete(c[1])
    c.countLookup(value != nil)
    c.reply.bulk(value)
}

/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]
func getexCommand(_ c: Call) throws {
    c.client.holdPushes()
    let o = try parseStringOptions(c, from: 2, forSet: false)
    var change: GetExpiryChange? = o.persist ? .persist : nil
    if let e = o.expiry {
        do {
            change = .at(try e.resolve(c))
        } catch {
            // Redis checks the time only once the key is found: a missing key answers nil whatever it is.
            let exists = try c.lookUpFirst(1, expecting: .string)
            c.countLookup(exists)
            if exists { throw error }
            return c.reply.null()
        }
    }
    let value = try c.db.getAndChangeExpiry(c[1], change)
    c.countLookup(value != nil)
    c.reply.bulk(value)
}

/// MGET key [key ...]
func mgetCommand(_ c: Call) throws {
    let values = c.db.getMany(c.keys())
    c.reply.arrayHeader(values.count)
    for v in values {
        c.countLookup(v != nil)
        c.reply.bulk(v)
    }
}

/// MSET key value [key value ...]
func msetCommand(_ c: Call) throws {
    guard c.count % 2 == 1 else { throw c.wrongArity() }
    c.db.setMany(pairs(c))
    c.reply.ok()
}

/// MSETNX key value [key value ...]
func msetnxCommand(_ c: Call) throws {
    guard c.count % 2 == 1 else { throw c.wrongArity() }
    c.reply.integer(c.db.setManyIfNoneExist(pairs(c)) ? 1 : 0)
}

/// INCR key
func incrCommand(_ c: Call) throws { c.reply.integer(try c.db.increment(c[1], by: 1).get()) }

/// DECR key
func decrCommand(_ c: Call) throws { c.reply.integer(try c.db.increment(c[1], by: -1).get()) }

/// INCRBY key increment
func incrbyCommand(_ c: Call) throws { c.reply.integer(try c.db.increment(c[1], by: try c.integer(2)).get()) }

/// DECRBY key decrement
func decrbyCommand(_ c: Call) throws {
    let d = try c.integer(2)
    guard d != Int64.min else { throw CommandError("ERR decrement would overflow") }
    c.reply.integer(try c.db.increment(c[1], by: -d).get())
}

/// INCRBYFLOAT key increment
func incrbyfloatCommand(_ c: Call) throws {
    // "inf" is a valid increment (strtold reads it); the sum is then refused as Infinity, as in Redis.
    // Redis reads the increment after looking the key up (and checking its type).
    guard let d = parseLongDouble(c[2]) else {
        _ = try c.lookUpFirst(1, expecting: .string)
        throw CommandError("ERR value is not a valid float")
    }
    // A bulk string even in RESP3, as Redis replies.
    c.reply.bulk(try c.db.increment(c[1], byFloat: d).get())
}

/// APPEND key value
func appendCommand(_ c: Call) throws { c.reply.integer(try c.db.append(c[1], c[2]).get()) }

/// STRLEN key
func strlenCommand(_ c: Call) throws { c.reply.integer(try c.db.length(c[1])) }

/// GETRANGE key start end
func getrangeCommand(_ c: Call) throws {
    let start = try c.integer(2), end = try c.integer(3)
    c.reply.bulk(try c.db.getRange(c[1], start: start, end: end))
}

/// SUBSTR key start end
func substrCommand(_ c: Call) throws { try getrangeCommand(c) }

/// SETRANGE key offset value
func setrangeCommand(_ c: Call) throws {
    let offset = try c.integer(2)
    guard offset >= 0 else { throw CommandError("ERR offset is out of range") }
    c.reply.integer(try c.db.setRange(c[1], offset: Int(offset), c[3]).get())
}

private func pairs(_ c: Call) -> [(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)] {
    stride(from: 1, to: c.count, by: 2).map { (c[$0], c[$0 + 1]) }
}

private func setWithExpiry(_ c: Call, seconds: Bool) throws {
    let at = try ExpiryArgument(index: 2, seconds: seconds, relative: true, command: seconds ? "setex" : "psetex").resolve(c)
    try c.db.set(c[1], c[3], SetOptions(expiry: .at(at)))
    c.reply.ok()
}

struct StringOptions {
    var condition = SetOptions.Condition.always
    var get = false
    var keepTTL = false
    var persist = false
    /// EX, PX, EXAT or PXAT and where its time is. Redis reads the time only after the whole syntax
    /// (GETEX only once the key is found), so it is resolved apart from the parsing.
    var expiry: ExpiryArgument? = nil
}

/// An expiry option's time argument, not yet read.
struct ExpiryArgument {
    let index: Int
    let seconds: Bool
    let relative: Bool
    let command: String

    /// The absolute expiry in milliseconds, or Redis' error.
    func resolve(_ c: Call) throws(CommandError) -> Int64 {
        let n = try c.integer(index)
        guard let at = absoluteExpiry(n, seconds: seconds, relative: relative, now: c.db.now) else {
            throw CommandError("ERR invalid expire time in '\(command)' command")
        }
        return at
    }
}

/// SET's and GETEX's options, as Redis' parseExtendedStringArgumentsOrReply: NX, XX, GET, KEEPTTL for SET,
/// PERSIST for GETEX, EX, PX, EXAT, PXAT for both. An option may repeat (the last expiry wins); NX with
/// XX, or two different expiry options, or an expiry with KEEPTTL or PERSIST, is a syntax error.
func parseStringOptions(_ c: Call, from: Int, forSet: Bool) throws(CommandError) -> StringOptions {
    var o = StringOptions()
    let command = forSet ? "set" : "getex"
    var j = from
    while j < c.count {
        let hasNext = j + 1 < c.count
        if forSet && c.argument(j, is: "nx") && o.condition != .ifPresent {
            o.condition = .ifAbsent
        } else if forSet && c.argument(j, is: "xx") && o.condition != .ifAbsent {
            o.condition = .ifPresent
        } else if forSet && c.argument(j, is: "get") {
            o.get = true
        } else if forSet && c.argument(j, is: "keepttl") && o.expiry == nil {
            o.keepTTL = true
        } else if !forSet && c.argument(j, is: "persist") && o.expiry == nil {
            o.persist = true
        } else if !o.keepTTL && !o.persist && hasNext, let kind = expiryOption(c, j),
                  o.expiry.map({ $0.seconds == kind.seconds && $0.relative == kind.relative }) ?? true {
            o.expiry = ExpiryArgument(index: j + 1, seconds: kind.seconds, relative: kind.relative, command: command)
            j += 1
        } else {
            throw .syntax
        }
        j += 1
    }
    return o
}

private func expiryOption(_ c: Call, _ j: Int) -> (seconds: Bool, relative: Bool)? {
    if c.argument(j, is: "ex") { return (true, true) }
    if c.argument(j, is: "px") { return (false, true) }
    if c.argument(j, is: "exat") { return (true, false) }
    if c.argument(j, is: "pxat") { return (false, false) }
    return nil
}

/// An expiry as absolute milliseconds (Redis' getExpireMillisecondsOrReply): positive, and not
/// overflowing once converted; nil when invalid.
func absoluteExpiry(_ n: Int64, seconds: Bool, relative: Bool, now: @autoclosure () -> Int64) -> Int64? {
    if n <= 0 || (seconds && n > Int64.max / 1000) { return nil }
    var ms = seconds ? n * 1000 : n
    if relative {
        let t = now()
        if ms > Int64.max - t { return nil }
        ms += t
    }
    return ms
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]: the longest common subsequence
/// of two strings (missing keys are empty), by Redis' dynamic programming table and its walk back from
/// the end, so that the string, the ranges and their order are Redis'.
func lcsCommand(_ c: Call) throws {
    let a: [UInt8], b: [UInt8]
    do {
        a = try c.db.get(c[1]) ?? []
        b = try c.db.get(c[2]) ?? []
    } catch {
        throw CommandError("ERR The specified keys must contain string values")
    }
    var wantIndexes = false, wantLength = false, withMatchLength = false
    var minMatch = 0
    var j = 3
    while j < c.count {
        if c.argument(j, is: "idx") {
            wantIndexes = true
        } else if c.argument(j, is: "len") {
            wantLength = true
        } else if c.argument(j, is: "withmatchlen") {
            withMatchLength = true
        } else if c.argument(j, is: "minmatchlen") && j + 1 < c.count {
            minMatch = Int(max(0, try c.integer(j + 1)))
            j += 1
        } else {
            throw CommandError.syntax
        }
        j += 1
    }
    if wantIndexes && wantLength { throw CommandError("ERR If you want both the length and indexes, please just use IDX.") }
    let cells = (a.count + 1).multipliedReportingOverflow(by: b.count + 1)
    guard !cells.overflow, cells.partialValue <= c.server.settings.protoMaxBulkLen / 4 else {
        throw CommandError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    }
    let width = b.count + 1
    var table = [UInt32](repeating: 0, count: cells.partialValue)
    if !a.isEmpty && !b.isEmpty {
        for i in 1...a.count {
            for k in 1...b.count {
                table[i * width + k] = a[i - 1] == b[k - 1]
                    ? table[(i - 1) * width + k - 1] + 1
                    : max(table[(i - 1) * width + k], table[i * width + k - 1])
            }
        }
    }
    let length = Int(table[a.count * width + b.count])
    if wantLength { return c.reply.integer(length) }
    // Walk back from the end: the common string, and the matching ranges, last first.
    var result = [UInt8](repeating: 0, count: length)
    var ranges: [(aStart: Int, aEnd: Int, bStart: Int, bEnd: Int)] = []
    var idx = length, i = a.count, k = b.count
    var aStart = -1, aEnd = 0, bStart = 0, bEnd = 0
    while i > 0 && k > 0 {
        var emit = false
        if a[i - 1] == b[k - 1] {
            result[idx - 1] = a[i - 1]
            if aStart < 0 {
                (aStart, aEnd, bStart, bEnd) = (i - 1, i - 1, k - 1, k - 1)
            } else if aStart == i && bStart == k {
                aStart -= 1
                bStart -= 1
            } else {
                emit = true
            }
            if aStart == 0 || bStart == 0 { emit = true }
            idx -= 1
            i -= 1
            k -= 1
        } else {
            if table[(i - 1) * width + k] > table[i * width + k - 1] { i -= 1 } else { k -= 1 }
            if aStart >= 0 { emit = true }
        }
        if emit && aStart >= 0 {
            if minMatch == 0 || aEnd - aStart + 1 >= minMatch { ranges.append((aStart, aEnd, bStart, bEnd)) }
            aStart = -1
        }
    }
    guard wantIndexes else { return c.reply.bulk(result) }
    let r = c.reply
    r.mapHeader(2)
    r.bulk("matches")
    r.arrayHeader(ranges.count)
    for m in ranges {
        r.arrayHeader(withMatchLength ? 3 : 2)
        r.arrayHeader(2)
        r.integer(m.aStart)
        r.integer(m.aEnd)
        r.arrayHeader(2)
        r.integer(m.bStart)
        r.integer(m.bEnd)
        if withMatchLength { r.integer(m.aEnd - m.aStart + 1) }
    }
    r.bulk("len")
    r.integer(length)
}
