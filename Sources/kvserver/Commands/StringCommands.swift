import KVEngine
import RESP

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
        var expiry: SetOptions.Expiry = o.keepTTL ? .keep : .clear
        if let e = o.expiry {
            switch e.resolve(c) {
            case .success(let at): expiry = .at(at)
            case .failure(let message): return c.reply.error(message.text)
            }
        }
        let outcome = c.db.set(c[1], c[2], SetOptions(condition: o.condition, expiry: expiry, returnOld: o.get))
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
        var change: GetExpiryChange? = o.persist ? .persist : nil
        if let e = o.expiry {
            switch e.resolve(c) {
            case .success(let at): change = .at(at)
            // Redis checks the time only once the key is found: a missing key answers nil whatever it is.
            case .failure(let message):
                let exists = c.db.exists([c[1]]) > 0
                c.countLookup(exists)
                return exists ? c.reply.error(message.text) : c.reply.null()
            }
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
        // "inf" is a valid increment (strtold reads it); the sum is then refused as Infinity, as in Redis.
        guard let d = parseLongDouble(c[2]) else { return c.reply.error("ERR value is not a valid float") }
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

    /// The absolute expiry in milliseconds, or Redis' error text.
    func resolve(_ c: Call) -> Result<Int64, ErrorText> {
        guard let n = parseInt64(c[index]) else { return .failure(ErrorText("ERR value is not an integer or out of range")) }
        guard let at = absoluteExpiry(n, seconds: seconds, relative: relative, now: c.db.now) else {
            return .failure(ErrorText("ERR invalid expire time in '\(command)' command"))
        }
        return .success(at)
    }
}

struct ErrorText: Error {
    let text: String
    init(_ text: String) { self.text = text }
}

/// SET's and GETEX's options, as Redis' parseExtendedStringArgumentsOrReply: NX, XX, GET, KEEPTTL for SET,
/// PERSIST for GETEX, EX, PX, EXAT, PXAT for both. An option may repeat (the last expiry wins); NX with
/// XX, or two different expiry options, or an expiry with KEEPTTL or PERSIST, is a syntax error.
func parseStringOptions(_ c: Call, from: Int, forSet: Bool) -> StringOptions? {
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

/// An expiry argument as absolute milliseconds, replying Redis' error when it is not one.
func expiryTime(_ c: Call, _ i: Int, seconds: Bool, relative: Bool, command: String) -> Int64? {
    switch ExpiryArgument(index: i, seconds: seconds, relative: relative, command: command).resolve(c) {
    case .success(let at): return at
    case .failure(let e):
        c.reply.error(e.text)
        return nil
    }
}
