import KVEngine

// Keyspace commands (Redis' db.c and expire.c): existence, type, iteration, renaming and expiry.

let keyCommands: [Command] = [
    Command("del", arity: -2, .write, keys: (1, -1, 1)) { c in c.reply.integer(c.db.delete(c.keys())) },
    Command("unlink", arity: -2, .write, keys: (1, -1, 1)) { c in c.reply.integer(c.db.delete(c.keys())) },
    Command("exists", arity: -2, .readonly, keys: (1, -1, 1)) { c in c.reply.integer(c.db.exists(c.keys())) },
    Command("touch", arity: -2, .readonly, keys: (1, -1, 1)) { c in c.reply.integer(c.db.exists(c.keys())) },
    Command("type", arity: 2, .readonly, keys: (1, 1, 1)) { c in c.reply.simple(c.db.type(c[1]) ?? "none") },
    Command("keys", arity: 2, .readonly) { c in
        let keys = c.db.keys(matching: GlobPattern(c.bytes(1)))
        c.reply.arrayHeader(keys.count)
        for k in keys { c.reply.bulk(k) }
    },
    Command("scan", arity: -2, .readonly) { c in scan(c) },
    Command("randomkey", arity: 1, .readonly) { c in c.reply.bulk(c.db.randomKey()) },
    Command("rename", arity: 3, .write, keys: (1, 2, 1)) { c in
        switch c.db.rename(c[1], to: c[2], onlyIfAbsent: false) {
        case .success: c.reply.ok()
        case .failure(let e): c.fail(e)
        }
    },
    Command("renamenx", arity: 3, .write, keys: (1, 2, 1)) { c in
        switch c.db.rename(c[1], to: c[2], onlyIfAbsent: true) {
        case .success(let done): c.reply.integer(done ? 1 : 0)
        case .failure(let e): c.fail(e)
        }
    },
    Command("expire", arity: -3, .write, keys: (1, 1, 1)) { c in expire(c, "expire", seconds: true, relative: true) },
    Command("pexpire", arity: -3, .write, keys: (1, 1, 1)) { c in expire(c, "pexpire", seconds: false, relative: true) },
    Command("expireat", arity: -3, .write, keys: (1, 1, 1)) { c in expire(c, "expireat", seconds: true, relative: false) },
    Command("pexpireat", arity: -3, .write, keys: (1, 1, 1)) { c in expire(c, "pexpireat", seconds: false, relative: false) },
    Command("ttl", arity: 2, .readonly, keys: (1, 1, 1)) { c in c.reply.integer(toSeconds(c.db.timeToLive(c[1]))) },
    Command("pttl", arity: 2, .readonly, keys: (1, 1, 1)) { c in c.reply.integer(c.db.timeToLive(c[1])) },
    Command("expiretime", arity: 2, .readonly, keys: (1, 1, 1)) { c in c.reply.integer(toSeconds(c.db.expiryTime(c[1]))) },
    Command("pexpiretime", arity: 2, .readonly, keys: (1, 1, 1)) { c in c.reply.integer(c.db.expiryTime(c[1])) },
    Command("persist", arity: 2, .write, keys: (1, 1, 1)) { c in c.reply.integer(c.db.persist(c[1]) ? 1 : 0) },
    Command("dbsize", arity: 1, .readonly) { c in c.reply.integer(c.db.count) },
    Command("flushdb", arity: -1, .write) { c in
        guard let async = flushMode(c) else { return }
        c.db.flush(async: async)
        c.reply.ok()
    },
    Command("flushall", arity: -1, .write) { c in
        guard let async = flushMode(c) else { return }
        for db in c.server.databases { db.flush(async: async) }
        // As Redis: with save points set, the snapshot on disk is replaced by the empty keyspace at once,
        // so a restart does not bring the data back.
        if !c.server.settings.savePoints.isEmpty { c.server.persistence.saveReplacingRunning() }
        c.reply.ok()
    },
]

/// Milliseconds to seconds, rounded as Redis does; the negative markers (-1, -2) pass through.
private func toSeconds(_ ms: Int64) -> Int64 { ms < 0 ? ms : (ms + 500) / 1000 }

/// FLUSHDB/FLUSHALL [ASYNC|SYNC]: true for ASYNC, nil (after replying) for anything else.
private func flushMode(_ c: Call) -> Bool? {
    if c.count == 1 { return false }
    if c.count == 2 && c.argument(1, is: "async") { return true }
    if c.count == 2 && c.argument(1, is: "sync") { return false }
    c.syntaxError()
    return nil
}

/// EXPIRE family (Redis' expireGenericCommand): options first, then the time, which may be in the past
/// (the key is deleted) but must not overflow in milliseconds.
private func expire(_ c: Call, _ name: String, seconds: Bool, relative: Bool) {
    var condition: ExpireCondition = .always
    for j in 3..<c.count {
        if c.argument(j, is: "nx") { condition.insert(.ifNoExpiry) }
        else if c.argument(j, is: "xx") { condition.insert(.ifHasExpiry) }
        else if c.argument(j, is: "gt") { condition.insert(.ifGreater) }
        else if c.argument(j, is: "lt") { condition.insert(.ifLess) }
        else { return c.error("ERR Unsupported option ", quoting: j) }
    }
    if condition.contains(.ifNoExpiry) && condition != .ifNoExpiry {
        return c.reply.error("ERR NX and XX, GT or LT options at the same time are not compatible")
    }
    if condition.isSuperset(of: [.ifGreater, .ifLess]) {
        return c.reply.error("ERR GT and LT options at the same time are not compatible")
    }
    guard var when = c.integer(2) else { return }
    let invalid = { c.reply.error("ERR invalid expire time in '\(name)' command") }
    if seconds {
        if when > Int64.max / 1000 || when < Int64.min / 1000 { return invalid() }
        when *= 1000
    }
    if relative {
        let (sum, overflow) = when.addingReportingOverflow(c.db.now)
        if overflow { return invalid() }
        when = sum
    }
    c.reply.integer(c.db.expire(c[1], at: when, condition) ? 1 : 0)
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
private func scan(_ c: Call) {
    guard let cursor = UInt64(c.string(1)) else { return c.reply.error("ERR invalid cursor") }
    var pattern: GlobPattern? = nil
    var count = 10
    var onlyStrings = true
    var j = 2
    while j < c.count {
        guard j + 1 < c.count else { return c.syntaxError() }
        if c.argument(j, is: "match") {
            let p = GlobPattern(c.bytes(j + 1))
            pattern = p.matchesEverything ? nil : p
        } else if c.argument(j, is: "count") {
            guard let n = c.integer(j + 1) else { return }
            guard n >= 1 else { return c.syntaxError() }
            count = Int(min(n, Int64(Int32.max)))
        } else if c.argument(j, is: "type") {
            // Every key is a string: any other type matches nothing (and unknown types too, as in Redis 7.0).
            onlyStrings = c.argument(j + 1, is: "string")
        } else {
            return c.syntaxError()
        }
        j += 2
    }
    var keys: [[UInt8]] = []
    let next = c.db.scan(cursor: cursor, count: count, pattern: pattern) { k in
        if onlyStrings { keys.append(Array(k)) }
    }
    c.reply.arrayHeader(2)
    c.reply.bulk(String(next))
    c.reply.arrayHeader(keys.count)
    for k in keys { c.reply.bulk(k) }
}
