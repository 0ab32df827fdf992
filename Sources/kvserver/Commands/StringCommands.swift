import KVEngine

// String commands (Redis' t_string.c): each parses its arguments with Redis' rules and error texts and
// calls one store operation.

let stringCommands: [Command] = [
    Command("get", arity: 2, .readonly, keys: (1, 1, 1)) { c in
        let found: Void? = c.db.withValue(c[1]) { c.reply.bulk($0) }
        c.countLookup(found != nil)
        if found == nil { c.reply.null() }
    },
    Command("set", arity: -3, .write, keys: (1, 1, 1)) { c in
        guard let o = parseStringOptions(c, from: 3, forSet: true) else { return }
        let outcome = c.db.set(c[1], c[2], SetOptions(condition: o.condition, expiry: o.expiry, returnOld: o.get))
        if o.get {
            c.reply.bulk(outcome.oldValue)
        } else if outcome.performed {
            c.reply.ok()
        } else {
            c.reply.null()
        }
    },
    Command("setnx", arity: 3, .write, keys: (1, 1, 1)) { c in
        c.reply.integer(c.db.set(c[1], c[2], SetOptions(condition: .ifAbsent)).performed ? 1 : 0)
    },
    Command("setex", arity: 4, .write, keys: (1, 1, 1)) { c in setWithExpiry(c, seconds: true) },
    Command("psetex", arity: 4, .write, keys: (1, 1, 1)) { c in setWithExpiry(c, seconds: false) },
    Command("getset", arity: 3, .write, keys: (1, 1, 1)) { c in
        c.reply.bulk(c.db.set(c[1], c[2], SetOptions(returnOld: true)).oldValue)
    },
    Command("getdel", arity: 2, .write, keys: (1, 1, 1)) { c in
        let value = c.db.getAndDelete(c[1])
        c.countLookup(value != nil)
        c.reply.bulk(value)
    },
    Command("getex", arity: -2, .write, keys: (1, 1, 1)) { c in
        guard let o = parseStringOptions(c, from: 2, forSet: false) else { return }
        let change: GetExpiryChange? = switch o.expiry {
        case .at(let t): .at(t)
        case .clear: o.persist ? .persist : nil
        case .keep: nil
        }
        let value = c.db.getAndChangeExpiry(c[1], change)
        c.countLookup(value != nil)
        c.reply.bulk(value)
    },
    Command("mget", arity: -2, .readonly, keys: (1, -1, 1)) { c in
        let values = c.db.getMany(c.keys())
        c.reply.arrayHeader(values.count)
        for v in values {
            c.countLookup(v != nil)
            c.reply.bulk(v)
        }
    },
    Command("mset", arity: -3, .write, keys: (1, -1, 2)) { c in
        guard c.count % 2 == 1 else { return c.wrongArity("mset") }
        c.db.setMany(pairs(c))
        c.reply.ok()
    },
    Command("msetnx", arity: -3, .write, keys: (1, -1, 2)) { c in
        guard c.count % 2 == 1 else { return c.wrongArity("msetnx") }
        c.reply.integer(c.db.setManyIfNoneExist(pairs(c)) ? 1 : 0)
    },
    Command("incr", arity: 2, .write, keys: (1, 1, 1)) { c in incrementBy(c, 1) },
    Command("decr", arity: 2, .write, keys: (1, 1, 1)) { c in incrementBy(c, -1) },
    Command("incrby", arity: 3, .write, keys: (1, 1, 1)) { c in
        guard let d = c.integer(2) else { return }
        incrementBy(c, d)
    },
    Command("decrby", arity: 3, .write, keys: (1, 1, 1)) { c in
        guard let d = c.integer(2) else { return }
        guard d != Int64.min else { return c.reply.error("ERR decrement would overflow") }
        incrementBy(c, -d)
    },
    Command("incrbyfloat", arity: 3, .write, keys: (1, 1, 1)) { c in
        guard let d = parseLongDouble(c[2]), d.isFinite else { return c.reply.error("ERR value is not a valid float") }
        switch c.db.increment(c[1], byFloat: d) {
        // A bulk string even in RESP3, as Redis replies.
        case .success(let text): c.reply.bulk(text)
        case .failure(let e): c.fail(e)
        }
    },
    Command("append", arity: 3, .write, keys: (1, 1, 1)) { c in
        switch c.db.append(c[1], c[2]) {
        case .success(let n): c.reply.integer(n)
        case .failure(let e): c.fail(e)
        }
    },
    Command("strlen", arity: 2, .readonly, keys: (1, 1, 1)) { c in c.reply.integer(c.db.length(c[1])) },
    Command("getrange", arity: 4, .readonly, keys: (1, 1, 1)) { c in getRange(c) },
    Command("substr", arity: 4, .readonly, keys: (1, 1, 1)) { c in getRange(c) },
    Command("setrange", arity: 4, .write, keys: (1, 1, 1)) { c in
        guard let offset = c.integer(2) else { return }
        guard offset >= 0 else { return c.reply.error("ERR offset is out of range") }
        guard offset <= Int64(c.db.maxValueSize) else { return c.fail(.stringTooLong) }
        switch c.db.setRange(c[1], offset: Int(offset), c[3]) {
        case .success(let n): c.reply.integer(n)
        case .failure(let e): c.fail(e)
        }
    },
]

private func pairs(_ c: Call) -> [(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)] {
    stride(from: 1, to: c.count, by: 2).map { (c[$0], c[$0 + 1]) }
}

private func incrementBy(_ c: Call, _ delta: Int64) {
    switch c.db.increment(c[1], by: delta) {
    case .success(let v): c.reply.integer(v)
    case .failure(let e): c.fail(e)
    }
}

private func getRange(_ c: Call) {
    guard let start = c.integer(2), let end = c.integer(3) else { return }
    c.reply.bulk(c.db.getRange(c[1], start: start, end: end))
}

private func setWithExpiry(_ c: Call, seconds: Bool) {
    let name = seconds ? "setex" : "psetex"
    guard let at = expiryTime(c, 2, seconds: seconds, relative: true, command: name) else { return }
    _ = c.db.set(c[1], c[3], SetOptions(expiry: .at(at)))
    c.reply.ok()
}

struct StringOptions {
    var condition = SetOptions.Condition.always
    var expiry = SetOptions.Expiry.clear
    var get = false
    var persist = false
}

/// SET's and GETEX's options (Redis' parseExtendedStringArgumentsOrReply): NX XX GET KEEPTTL for SET,
/// PERSIST for GETEX, EX PX EXAT PXAT for both; conflicting or repeated expiry options are a syntax error.
func parseStringOptions(_ c: Call, from: Int, forSet: Bool) -> StringOptions? {
    var o = StringOptions()
    var hasExpiry = false, keepTTL = false
    var j = from
    while j < c.count {
        let hasNext = j + 1 < c.count
        if forSet && c.argument(j, is: "nx") && o.condition != .ifPresent {
            o.condition = .ifAbsent
        } else if forSet && c.argument(j, is: "xx") && o.condition != .ifAbsent {
            o.condition = .ifPresent
        } else if forSet && c.argument(j, is: "get") {
            o.get = true
        } else if forSet && c.argument(j, is: "keepttl") && !hasExpiry {
            keepTTL = true
            o.expiry = .keep
        } else if !forSet && c.argument(j, is: "persist") && !hasExpiry {
            o.persist = true
        } else if !keepTTL && !o.persist && !hasExpiry && hasNext,
                  let (seconds, relative) = expiryOption(c, j) {
            guard let at = expiryTime(c, j + 1, seconds: seconds, relative: relative, command: forSet ? "set" : "getex") else { return nil }
            o.expiry = .at(at)
            hasExpiry = true
            j += 1
        } else {
            c.syntaxError()
            return nil
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

/// An expiry argument as absolute milliseconds (Redis' getExpireMillisecondsOrReply): it must be a
/// positive integer and must not overflow once converted.
func expiryTime(_ c: Call, _ i: Int, seconds: Bool, relative: Bool, command: String) -> Int64? {
    guard var ms = c.integer(i) else { return nil }
    let invalid = { c.reply.error("ERR invalid expire time in '\(command)' command") }
    if ms <= 0 || (seconds && ms > Int64.max / 1000) {
        invalid()
        return nil
    }
    if seconds { ms *= 1000 }
    if relative {
        let now = c.db.now
        if ms > Int64.max - now {
            invalid()
            return nil
        }
        ms += now
    }
    return ms
}
