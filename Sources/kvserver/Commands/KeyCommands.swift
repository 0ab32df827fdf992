import Glibc
import KVEngine
import RESP

// Keyspace commands (Redis' db.c, expire.c and object.c): existence, type, iteration, renaming, expiry
// and OBJECT. Rows: CommandRows.swift.

/// DEL key [key ...]
func delCommand(_ c: Call) throws { c.reply.integer(c.db.delete(c.keys())) }

/// UNLINK key [key ...]
func unlinkCommand(_ c: Call) throws { c.reply.integer(c.db.delete(c.keys())) }

/// EXISTS key [key ...]
func existsCommand(_ c: Call) throws { c.reply.integer(c.db.exists(c.keys())) }

/// TOUCH key [key ...]
func touchCommand(_ c: Call) throws { c.reply.integer(c.db.exists(c.keys(), touching: true)) }

/// TYPE key
func typeCommand(_ c: Call) throws { c.reply.simple(c.db.type(c[1])?.name ?? "none") }

/// KEYS pattern
func keysCommand(_ c: Call) throws {
    let keys = c.db.keys(matching: GlobPattern(c.bytes(1)))
    c.reply.arrayHeader(keys.count)
    for k in keys { c.reply.bulk(k) }
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
func scanCommand(_ c: Call) throws {
    let cursor = try scanCursor(c, 1)
    let o = try scanOptions(c, from: 2, allowType: true)
    var keys: [[UInt8]] = []
    let next = c.db.scan(cursor: cursor, count: o.count, pattern: o.pattern, type: o.type) { k in
        if !o.unknownType { keys.append(Array(k)) }
    }
    c.reply.arrayHeader(2)
    c.reply.bulk(String(next))
    c.reply.arrayHeader(keys.count)
    for k in keys { c.reply.bulk(k) }
}

/// RANDOMKEY
func randomkeyCommand(_ c: Call) throws { c.reply.bulk(c.db.randomKey()) }

/// RENAME key newkey
func renameCommand(_ c: Call) throws {
    _ = try c.db.rename(c[1], to: c[2], onlyIfAbsent: false).get()
    c.reply.ok()
}

/// RENAMENX key newkey
func renamenxCommand(_ c: Call) throws {
    c.reply.integer(try c.db.rename(c[1], to: c[2], onlyIfAbsent: true).get() ? 1 : 0)
}

/// COPY source destination [DB destination-db] [REPLACE]
func copyCommand(_ c: Call) throws {
    var destination = c.client.databaseIndex
    var replace = false
    var j = 3
    while j < c.count {
        if c.argument(j, is: "replace") {
            replace = true
        } else if c.argument(j, is: "db") && j + 1 < c.count {
            destination = try c.databaseIndex(j + 1)
            j += 1
        } else {
            throw CommandError.syntax
        }
        j += 1
    }
    if destination == c.client.databaseIndex && c[1].elementsEqual(c[2]) { throw sameObject }
    c.reply.integer(c.db.copy(c[1], to: c.server.databases[destination], as: c[2], replace: replace) ? 1 : 0)
}

/// MOVE key db
func moveCommand(_ c: Call) throws {
    let destination = try c.databaseIndex(2)
    guard destination != c.client.databaseIndex else { throw sameObject }
    c.reply.integer(c.db.move(c[1], to: c.server.databases[destination]) ? 1 : 0)
}

private let sameObject = CommandError("ERR source and destination objects are the same")

/// EXPIRE key seconds [NX | XX | GT | LT]
func expireCommand(_ c: Call) throws { try expire(c, "expire", seconds: true, relative: true) }

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
func pexpireCommand(_ c: Call) throws { try expire(c, "pexpire", seconds: false, relative: true) }

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
func expireatCommand(_ c: Call) throws { try expire(c, "expireat", seconds: true, relative: false) }

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
func pexpireatCommand(_ c: Call) throws { try expire(c, "pexpireat", seconds: false, relative: false) }

/// TTL key
func ttlCommand(_ c: Call) throws { c.reply.integer(toSeconds(c.db.timeToLive(c[1]))) }

/// PTTL key
func pttlCommand(_ c: Call) throws { c.reply.integer(c.db.timeToLive(c[1])) }

/// EXPIRETIME key
func expiretimeCommand(_ c: Call) throws { c.reply.integer(toSeconds(c.db.expiryTime(c[1]))) }

/// PEXPIRETIME key
func pexpiretimeCommand(_ c: Call) throws { c.reply.integer(c.db.expiryTime(c[1])) }

/// PERSIST key
func persistCommand(_ c: Call) throws { c.reply.integer(c.db.persist(c[1]) ? 1 : 0) }

/// DBSIZE
func dbsizeCommand(_ c: Call) throws { c.reply.integer(c.db.count) }

/// FLUSHDB [ASYNC | SYNC]
func flushdbCommand(_ c: Call) throws {
    c.db.flush(async: try flushMode(c))
    c.reply.ok()
}

/// FLUSHALL [ASYNC | SYNC]
func flushallCommand(_ c: Call) throws {
    let async = try flushMode(c)
    for db in c.server.databases { db.flush(async: async) }
    // As Redis: with save points set, the snapshot on disk is replaced by the empty keyspace at once,
    // so a restart does not bring the data back.
    if !c.server.settings.savePoints.isEmpty { c.server.persistence.saveReplacingRunning() }
    c.reply.ok()
}

/// OBJECT ENCODING key
func objectEncodingCommand(_ c: Call) throws {
    c.reply.bulk(c.db.encoding(c[2]).map { Array($0.utf8) })
}

/// OBJECT REFCOUNT key
func objectRefcountCommand(_ c: Call) throws {
    // Values are never shared between keys here: one reference each, except that Redis answers INT_MAX
    // (OBJ_SHARED_REFCOUNT) for the integers 0-9999 it shares, which an "int" encoding within them is.
    guard let encoding = c.db.encoding(c[2]) else { return c.reply.null() }
    let shared = encoding == "int" && (try? c.db.get(c[2], touching: false)).flatMap { $0.flatMap { parseInt64($0) } }.map { (0..<10000).contains($0) } == true
    c.reply.integer(shared ? Int64(Int32.max) : 1)
}

/// OBJECT IDLETIME key: seconds since the key was last read or written (Store/AccessClock.swift); under an
/// LFU policy the entries keep counters instead, and Redis' error says so (after the key's lookup).
func objectIdletimeCommand(_ c: Call) throws {
    guard let idle = c.db.idleTime(c[2]) else { return c.reply.null() }
    if c.server.evictor.settings.policy.usesLFU {
        throw CommandError("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    }
    c.reply.integer(idle)
}

/// OBJECT FREQ key: the key's decayed LFU counter, kept only under an LFU maxmemory policy (Redis' error
/// otherwise, after the key's lookup as in Redis).
func objectFreqCommand(_ c: Call) throws {
    guard let freq = c.db.accessFrequency(c[2]) else { return c.reply.null() }
    guard c.server.evictor.settings.policy.usesLFU else {
        throw CommandError("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    }
    c.reply.integer(Int64(freq))
}

/// OBJECT HELP
func objectHelpCommand(_ c: Call) throws {
    c.help([
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ])
}

/// Milliseconds to seconds, rounded as Redis does; the negative markers (-1, -2) pass through.
private func toSeconds(_ ms: Int64) -> Int64 { ms < 0 ? ms : (ms + 500) / 1000 }

/// FLUSHDB/FLUSHALL [ASYNC|SYNC]: true for ASYNC.
private func flushMode(_ c: Call) throws(CommandError) -> Bool {
    if c.count == 1 { return false }
    if c.count == 2 && c.argument(1, is: "async") { return true }
    if c.count == 2 && c.argument(1, is: "sync") { return false }
    throw .syntax
}

/// EXPIRE family (Redis' expireGenericCommand): options first, then the time, which may be in the past
/// (the key is deleted) but must not overflow in milliseconds.
private func expire(_ c: Call, _ name: String, seconds: Bool, relative: Bool) throws(CommandError) {
    var condition: ExpireCondition = .always
    for j in 3..<c.count {
        if c.argument(j, is: "nx") { condition.insert(.ifNoExpiry) }
        else if c.argument(j, is: "xx") { condition.insert(.ifHasExpiry) }
        else if c.argument(j, is: "gt") { condition.insert(.ifGreater) }
        else if c.argument(j, is: "lt") { condition.insert(.ifLess) }
        else { throw c.error("ERR Unsupported option ", quoting: j) }
    }
    if condition.contains(.ifNoExpiry) && condition != .ifNoExpiry {
        throw CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    }
    if condition.isSuperset(of: [.ifGreater, .ifLess]) {
        throw CommandError("ERR GT and LT options at the same time are not compatible")
    }
    var when = try c.integer(2)
    let invalid = CommandError("ERR invalid expire time in '\(name)' command")
    if seconds {
        if when > Int64.max / 1000 || when < Int64.min / 1000 { throw invalid }
        when *= 1000
    }
    if relative {
        let (sum, overflow) = when.addingReportingOverflow(c.db.now)
        if overflow { throw invalid }
        when = sum
    }
    c.reply.integer(c.db.expire(c[1], at: when, condition) ? 1 : 0)
}

/// SWAPDB index1 index2: the two databases exchange their contents (Store+Swap.swift). While a snapshot is
/// being captured the swap waits for it, off the event loop (the saver lets go of each shard as it is
/// written); inside EXEC, which holds every lock, it cannot wait and answers an error instead.
func swapdbCommand(_ c: Call) throws {
    guard let a = parseInt64(c[1]), let a32 = Int32(exactly: a) else { throw CommandError("ERR invalid first DB index") }
    guard let b = parseInt64(c[2]), let b32 = Int32(exactly: b) else { throw CommandError("ERR invalid second DB index") }
    let n = c.server.databases.count
    guard a32 >= 0, a32 < n, b32 >= 0, b32 < n else { throw CommandError("ERR DB index is out of range") }
    let (first, second) = (c.server.databases[Int(a32)], c.server.databases[Int(b32)])
    if first.swapContents(with: second) { return c.reply.ok() }
    if c.client.executingTransaction { throw CommandError("ERR SWAPDB inside a transaction while a snapshot is being saved") }
    c.client.replyLater {
        while !first.swapContents(with: second) { usleep(2000) }
        return { r in r.ok() }
    }
}

/// The cursor of SCAN, HSCAN, SSCAN (argument `i`), read as Redis reads it, with C's strtoul: an optional
/// sign, then digits ("-1" is 2^64-1, "" is 0); a leading space, anything after the digits, or a value
/// past 64 bits is "invalid cursor".
func scanCursor(_ c: Call, _ i: Int) throws -> UInt64 {
    let s = c[i]
    var j = 0
    var negative = false
    if j < s.count && (s[j] == UInt8(ascii: "+") || s[j] == UInt8(ascii: "-")) {
        negative = s[j] == UInt8(ascii: "-")
        j += 1
    }
    let digitsStart = j
    var v: UInt64 = 0
    while j < s.count, s[j] >= UInt8(ascii: "0"), s[j] <= UInt8(ascii: "9") {
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(s[j] - UInt8(ascii: "0")))
        if o1 || o2 { throw CommandError("ERR invalid cursor") }
        v = a
        j += 1
    }
    // No digits: strtoul stops at the start, so only the empty string is read whole (as 0).
    if j == digitsStart { j = 0 }
    guard j == s.count else { throw CommandError("ERR invalid cursor") }
    return negative ? 0 &- v : v
}

/// SCAN's options from argument `from`: MATCH (a lone "*" is no filter, so it lists the key ""), COUNT
/// (at least 1), and for SCAN itself TYPE.
func scanOptions(_ c: Call, from: Int, allowType: Bool) throws -> (pattern: GlobPattern?, count: Int, type: ValueType?, unknownType: Bool) {
    var pattern: GlobPattern? = nil
    var count = 10
    var type: ValueType? = nil
    var unknownType = false
    var j = from
    while j < c.count {
        guard j + 1 < c.count else { throw CommandError.syntax }
        if c.argument(j, is: "match") {
            let p = GlobPattern(c.bytes(j + 1))
            pattern = p.matchesEverything ? nil : p
        } else if c.argument(j, is: "count") {
            let n = try c.integer(j + 1)
            guard n >= 1 else { throw CommandError.syntax }
            count = Int(min(n, Int64(Int32.max)))
        } else if allowType && c.argument(j, is: "type") {
            // A type Redis 7.0 does not know matches nothing (7.2 makes it an error).
            type = ValueType(name: c.string(j + 1))
            unknownType = type == nil
        } else {
            throw CommandError.syntax
        }
        j += 2
    }
    return (pattern, count, type, unknownType)
}

/// The reply of HSCAN/SSCAN on a missing key: cursor 0, nothing.
func replyEmptyScan(_ c: Call) {
    c.reply.arrayHeader(2)
    c.reply.bulk("0")
    c.reply.arrayHeader(0)
}
