import KVEngine

// The command stream. Every command the server supports has one row in `commandRows`: a weight and a
// function that draws its arguments from shared pools built to make trouble — a small key pool (so
// commands collide on the same keys), binary and empty keys and values, numbers Redis' parsers reject
// ("+5", " 1", "007", "1e3", "inf", 2^63, ""), expiries in the past, in the far future and in the next
// milliseconds (so keys expire while the stream runs), options in every order and combination, and now
// and then one argument too few or too many.
//
// To test a new command: add a row (its name, a weight, the arguments as a user could send them,
// errors included). Draw every key through `key()`, so the runner knows which keys the command touches;
// draw expiries through the `*Expiry` helpers, so it knows when a key may expire in the middle of a
// batch. A reply that is not the same on every run of Redis itself (a random member, a cursor) needs a
// rule in Compare.swift.

/// One generated command: its arguments, the keys it names, and the expiries it may set, in
/// milliseconds from when it is sent (the runner turns them into windows of doubt around the instant).
struct GeneratedCommand {
    var args: [[UInt8]]
    var keys: [[UInt8]]
    var expiresIn: [Int64]
    /// OBJECT IDLETIME at the end of an access probe (Generator.accessProbe): two idle times that differ
    /// are never expiry's doing there, so doubt does not excuse them.
    var probe = false

    var name: String { String(decoding: args.first ?? [], as: UTF8.self).lowercased() }

    /// The command as redis-cli would take it: every argument quoted, bytes outside printable ASCII as \xHH.
    var display: String {
        args.map { a in
            var s = "\""
            for b in a {
                switch b {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): s += "\\" + String(UnicodeScalar(b))
                case 0x20..<0x7F: s += String(UnicodeScalar(b))
                default: s += "\\x" + String(b, radix: 16, uppercase: false).leftPadded(2)
                }
            }
            return s + "\""
        }.joined(separator: " ")
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: Swift.max(0, n - count)) + self }
}

struct CommandRow: Sendable {
    let name: String
    let weight: Int
    let make: @Sendable (inout Generator) -> Void
}

/// Draws commands. `now` is the wall clock in milliseconds, read once per batch (absolute expiries are
/// drawn around it).
struct Generator {
    var rng: SplitMix64
    var now: Int64 = 0
    private var args: [[UInt8]] = []
    private var keys: [[UInt8]] = []
    private var expiresIn: [Int64] = []
    /// The rest of a transaction being drawn (MULTI ... EXEC), returned by the next calls of `next`.
    private var pending: [GeneratedCommand] = []
    /// Keys WATCHed since the last EXEC, DISCARD or UNWATCH: an EXEC names them, for the runner's doubt.
    private var watching: Set<[UInt8]> = []
    private let table: [CommandRow]
    private let totalWeight: Int
    /// With keyspace notifications on (--notifications), no pattern subscription of the stream's own
    /// client matches them: Redis 7.0 writes a RESP3 client's own pushes inside EXEC's array reply.
    var patternsAvoidNotifications = false

    init(seed: UInt64, rows: [CommandRow] = commandRows) {
        rng = SplitMix64(seed: seed)
        table = rows
        totalWeight = rows.reduce(0) { $0 + $1.weight }
    }

    // MARK: Drawing

    mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }

    static let keyPool: [[UInt8]] = ["a", "b", "c", "k:1", "k:2", "counter", "{t}x", "über", "", "bin\u{0}\u{1}"].map { Array($0.utf8) }
        + [[0xFF, 0xFE, 0x00]]

    /// A key from the small pool (so commands meet each other's keys), recorded as touched.
    mutating func key() -> [UInt8] {
        let k = Self.keyPool[below(chance(80) ? 6 : Self.keyPool.count)]
        keys.append(k)
        return k
    }

    /// A key for a hash or set command: mostly one of two that only those commands use (so values grow
    /// past their thresholds), else any key (so they meet strings: WRONGTYPE).
    mutating func typedKey(_ prefix: String) -> [UInt8] {
        guard chance(70) else { return key() }
        let k = Array("\(prefix)\(below(2))".utf8)
        keys.append(k)
        return k
    }

    /// A hash's field: a few short ones (so commands meet each other's fields), now and then a long one
    /// (past hash-max-listpack-value) or a fresh one (so hashes grow past their entry threshold), and
    /// numbered names sharing a long prefix (so small hashes are front-coded and their values replaced there).
    mutating func field() -> [UInt8] {
        switch below(22) {
        case 0: return [UInt8](repeating: UInt8(ascii: "F"), count: 17 + below(10))
        case 1, 2, 3: return Array("f\(below(40))".utf8)
        case 20, 21: return Array("field:00000000\(below(12))".utf8)
        case 4: return symbols()
        default: return Array(pick(["f", "g", "h", "1", "2", "", "über"]).utf8)
        }
    }

    /// A set's (or sorted set's) member: integers (an intset's, canonical or not), short strings, now and then
    /// a long one or a fresh integer (so sets grow past their thresholds), and numbered names sharing a long
    /// prefix (so small ones are front-coded, and members added to and removed from them there).
    mutating func member() -> [UInt8] {
        switch below(20) {
        case 0: return [UInt8](repeating: UInt8(ascii: "M"), count: 17 + below(10))
        case 1, 2, 3, 4: return Array(String(Int(below(60)) - 10).utf8)
        case 5: return Array(pick(["9223372036854775807", "-9223372036854775808", "70000", "-70000", "5000000000"]).utf8)
        case 6: return symbols()
        case 7: return Array("member:00000000\(below(12))".utf8)
        default: return Array(pick(["1", "2", "3", "007", "+1", "-0", "x", "y", "", "über"]).utf8)
        }
    }

    /// An id of 6 or 7 digits from a pool of 8: the members of the zn:* sorted sets, which so stay within
    /// the tester's zset-max-listpack-entries (8) and take the symbol-packed form (Values/SymbolPacking.swift),
    /// whose ZADD, ZINCRBY and ZRANK compare members packed.
    mutating func numericId() -> [UInt8] { Array("\((below(8) * 48_271 + 12_345) % 99_991)99".utf8) }

    /// Digits or URL-safe symbols (packed 4 or 6 bits each in a small value's inline form,
    /// Values/SymbolPacking.swift), of every length around the ones packing starts at, or one of a few
    /// shapes applications store (a UUID, hex, a field name, a number with leading zeros).
    mutating func symbols() -> [UInt8] {
        if chance(30) { return Array(pick(["6ba7b810-9dad-11d1-80b4-00c04fd430c8", "deadbeef", "created_at", "0042", "a1"]).utf8) }
        let alphabet = Array(chance(50) ? "0123456789abcdef".utf8 : "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_".utf8)
        return (0..<(1 + below(20))).map { _ in alphabet[below(alphabet.count)] }
    }

    /// A list element: a few short ones (so LREM, LPOS and LINSERT find them), integers, now and then a
    /// long one.
    mutating func element() -> [UInt8] {
        switch below(20) {
        case 0: return [UInt8](repeating: UInt8(ascii: "E"), count: 60 + below(200))
        case 1, 2, 3: return Array(String(below(30)).utf8)
        default: return Array(pick(["a", "b", "c", "hello", "", "über", "-1", "007"]).utf8)
        }
    }

    /// A sorted set's score: small integers and halves (exact, so sums agree in any order), infinities,
    /// forms strtod reads, and now and then a malformed one.
    mutating func score() -> [UInt8] {
        if chance(8) { return Array(pick(["nan", "abc", "", "1e400", " 1", "1 ", "--1", "(1"]).utf8) }
        return Array(pick(["0", "1", "2", "3", "-1", "5", "2.5", "-0.5", "10", "100", "inf", "-inf", "+inf", "1e3", "0x10", "-0"]).utf8)
    }

    /// A score range's end: a score, exclusive or not, or a malformed one.
    mutating func scoreBound() -> [UInt8] {
        if chance(5) { return Array(pick(["abc", "[1", "nan", "(", "((1"]).utf8) }
        return (chance(30) ? [UInt8(ascii: "(")] : []) + Array(pick(["0", "1", "2", "3", "-1", "2.5", "10", "-inf", "+inf", "inf", "5"]).utf8)
    }

    /// A lexicographic range's end (of members as `member()` draws them), or a malformed one.
    mutating func lexBound() -> [UInt8] {
        if chance(5) { return Array(pick(["a", "", "+a", "-a", "{x"]).utf8) }
        if chance(30) { return Array(pick(["-", "+"]).utf8) }
        return [UInt8(ascii: chance(50) ? "[" : "(")] + member()
    }

    /// A list index: mostly in range of a small list, at both ends, sometimes far out or malformed.
    mutating func listIndex() -> [UInt8] {
        Array(pick(["0", "1", "2", "-1", "-2", "3", "5", "10", "-10", "100", "-100", "abc", "9223372036854775807", "-9223372036854775808", "1.5"]).utf8)
    }

    mutating func listEnd() -> [UInt8] { Array(pick(["LEFT", "RIGHT", "left", "right", "up"]).utf8) }

    /// A blocking command's timeout: short, or malformed in Redis' ways.
    mutating func blockTimeout() -> [UInt8] {
        Array(pick(["0.01", "0.02", "0.015", "1e-2", "0x0.01p0", "-1", "abc", "", " 1", "nan", "inf", "-0.5", "1e400"]).utf8)
    }

    static let valuePool: [[UInt8]] = ["", "v", "hello world", "0", "1", "-1", "10", "007", "+5", " 1", "1.5", "-0", "3.0e2",
        "9223372036854775807", "-9223372036854775808", "inf", "abc", "\u{0}\u{0}x", "über"].map { Array($0.utf8) }

    mutating func value() -> [UInt8] {
        switch below(10) {
        case 0: return (0..<(1 + below(300))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 1: return [UInt8](repeating: UInt8(ascii: "x"), count: below(2000))
        default: return pick(Self.valuePool)
        }
    }

    static let badNumbers = ["+5", " 1", "1 ", "007", "1e3", "inf", "-inf", "nan", "9223372036854775808",
        "-9223372036854775809", "", "0x10", "1.5", "-0", "abc", "3.0", ".5", "5.", "1e400", "- 1"]

    /// An integer argument: mostly small and valid, sometimes at the limits, sometimes malformed.
    mutating func integer(_ range: ClosedRange<Int> = -20...20) -> [UInt8] {
        switch below(20) {
        case 0: return Array(pick(Self.badNumbers).utf8)
        case 1: return Array(pick(["9223372036854775807", "-9223372036854775808", "4611686018427387904"]).utf8)
        default: return Array(String(Int.random(in: range, using: &rng)).utf8)
        }
    }

    /// A float argument (INCRBYFLOAT): plain, exponent, signs, malformed, infinite.
    mutating func float() -> [UInt8] {
        if chance(15) { return Array(pick(Self.badNumbers).utf8) }
        return Array(pick(["1", "-1", "0.1", "2.5", "-3.75", "1e2", "+5", "1.0e-3", "100000000000000000000",
                           "5.0e3", "-0.0", "17", "0"]).utf8)
    }

    /// A relative expiry in `unit` milliseconds (1000 for seconds): past, zero, negative, near (expires
    /// while the stream runs), far, malformed, at the limits.
    mutating func relativeExpiry(unit: Int64) -> [UInt8] {
        switch below(20) {
        case 0: return Array(pick(Self.badNumbers).utf8)
        case 1: return Array(pick(["0", "-1", "-100"]).utf8)
        case 2: return Array(pick(["9223372036854775807", "9223372036854775", "922337203685477580"]).utf8)
        case 3...9:
            // Near: expires within the next few batches.
            let ms = unit == 1000 ? 1000 : Int64(1 + below(40))
            expiresIn.append(ms)
            return Array(String(unit == 1000 ? 1 : ms).utf8)
        default: return Array(String(unit == 1000 ? 100 + below(100_000) : 100_000 + below(10_000_000)).utf8)
        }
    }

    /// An absolute expiry (Unix time in `unit` milliseconds): past, near, far, malformed.
    mutating func absoluteExpiry(unit: Int64) -> [UInt8] {
        switch below(20) {
        case 0: return Array(pick(Self.badNumbers).utf8)
        case 1...3:
            // In the past: Redis' SET stores the key already expired (DBSIZE counts it until it is removed).
            expiresIn.append(0)
            return Array((below(3) == 0 ? pick(["0", "1", "-1"]) : String((now - Int64(1 + below(100_000))) / unit)).utf8)
        case 4...9:
            let t = unit == 1000 ? (now + 2000) / 1000 + 1 : now + Int64(1 + below(40))
            expiresIn.append(t * unit - now)
            return Array(String(t).utf8)
        default: return Array(String((now + 100_000_000) / unit).utf8)
        }
    }

    /// An absolute time in milliseconds long past ("1"), recorded as an expiry now: the key it may set is in
    /// doubt (were ABSTTL lost, it would expire in a millisecond).
    mutating func longPast() -> [UInt8] {
        expiresIn.append(1)
        return Array("1".utf8)
    }

    /// Glob patterns for KEYS and SCAN MATCH.
    mutating func pattern() -> [UInt8] {
        Array(pick(["*", "k*", "?", "k:?", "[a-c]", "[^a]*", "*\\*", "\\*", "{t}*", "", "[", "*:[12]", "\u{FF}*", "a*b*c*d"]).utf8)
    }

    /// The command's name in a random case, as clients send it.
    mutating func name(_ n: String) -> [UInt8] {
        switch below(3) {
        case 0: return Array(n.uppercased().utf8)
        case 1: return Array(n.utf8)
        default: return Array(String(n.enumerated().map { i, c in i % 2 == 0 ? Character(c.uppercased()) : c }).utf8)
        }
    }

    mutating func add(_ a: [UInt8]) { args.append(a) }
    mutating func add(_ s: String) { args.append(Array(s.utf8)) }

    // MARK: Commands

    /// Whether the commands drawn so far leave a transaction open (the batch goes on until it is closed).
    var inTransaction: Bool { !pending.isEmpty }

    /// The next command: a row drawn by weight; one in 40 loses its last argument or gains an extra one.
    /// The "multi" row draws a whole transaction, returned a command at a time.
    mutating func next() -> GeneratedCommand {
        if !pending.isEmpty { return pending.removeFirst() }
        var command = draw()
        switch command.name {
        case "multi" where command.args.count == 1:
            pending = transactionBody()
        case "watch":
            watching.formUnion(command.keys)
        case "unwatch", "exec", "discard":
            command.keys += watching
            watching = []
        case "subscribe", "psubscribe", "ssubscribe":
            pending = subscribedEpisode()
        default:
            if let k = command.keys.first, chance(3) { return accessProbe(command, key: k) }
        }
        return command
    }

    /// Whether `command` reads or writes its keys as Redis does for OBJECT IDLETIME (a touch), or only
    /// inspects them (TYPE, TTL, EXISTS...: no touch): the key is aged by 100000 s first (RESTORE ...
    /// IDLETIME, which also makes it persistent), and its idle time asked after. A touch that one server
    /// makes and the other does not shows as a difference of 100000 s.
    private mutating func accessProbe(_ command: GeneratedCommand, key: [UInt8]) -> GeneratedCommand {
        let age = Generator.command(
            [name("restore"), key, Array("0".utf8), restorePayloads[below(4)], Array("REPLACE".utf8), Array("IDLETIME".utf8), Array("100000".utf8)],
            keys: [key])
        var seen = Set<[UInt8]>()
        pending = [command] + command.keys.filter { seen.insert($0).inserted }.map {
            var c = Generator.command([name("object"), Array("IDLETIME".utf8), $0], keys: [$0])
            c.probe = true
            return c
        }
        return age
    }

    /// What follows a MULTI: commands drawn from the rows that may run inside one (their replies then
    /// come in EXEC's array), now and then a nested MULTI or a WATCH (errors that do not doom it), then
    /// EXEC (naming every key the transaction and the watches touch) or DISCARD.
    private mutating func transactionBody() -> [GeneratedCommand] {
        var body: [GeneratedCommand] = []
        var touched = watching
        for _ in 0..<below(7) {
            var c = draw()
            while !transactionRows.contains(c.name) { c = draw() }
            touched.formUnion(c.keys)
            body.append(c)
        }
        if chance(10) { body.insert(Generator.command([name("multi")], keys: []), at: below(body.count + 1)) }
        if chance(10) { body.insert(Generator.command([name("watch"), key()], keys: []), at: below(body.count + 1)) }
        let end = chance(80) ? "exec" : "discard"
        body.append(Generator.command([name(end)], keys: Array(touched)))
        watching = []
        return body
    }

    /// What follows a SUBSCRIBE: a few commands a subscribed client sends (more subscriptions, PING,
    /// PUBLISH to itself, a GET that RESP2 refuses...), then a way out: RESET, or bare unsubscribes.
    private mutating func subscribedEpisode() -> [GeneratedCommand] {
        var body: [GeneratedCommand] = []
        for _ in 0..<below(6) {
            var c = draw()
            while !subscribedRows.contains(c.name) { c = draw() }
            body.append(c)
        }
        if chance(40) {
            body.append(Generator.command([name("reset")], keys: []))
        } else {
            for n in ["unsubscribe", "punsubscribe", "sunsubscribe"] where chance(90) { body.append(Generator.command([name(n)], keys: [])) }
        }
        return body
    }

    private mutating func draw() -> GeneratedCommand {
        var w = below(totalWeight)
        var row = table[0]
        for r in table {
            if w < r.weight { row = r; break }
            w -= r.weight
        }
        args = [name(row.name)]
        keys = []
        expiresIn = []
        row.make(&self)
        // Now and then an argument too few or too many; not for a blocking command, whose last argument
        // is its timeout: a value there ("10", "3.0e2") blocked both servers for that long, past the
        // runner's patience.
        if !blockingRows.contains(row.name) {
            if args.count > 1 && chance(2) { args.removeLast() }
            if chance(1) { args.append(value()) }
        }
        return GeneratedCommand(args: args, keys: keys, expiresIn: expiresIn)
    }

    /// A command written out in full (for the runner's own resynchronisation DELs and for replays).
    static func command(_ args: [[UInt8]], keys: [[UInt8]]) -> GeneratedCommand {
        GeneratedCommand(args: args, keys: keys, expiresIn: [])
    }
}

/// SET's options in a random order and combination (NX|XX, GET, EX|PX|EXAT|PXAT|KEEPTTL), with
/// conflicts and missing values now and then.
private func setOptions(_ g: inout Generator, allowed: [String]) {
    var options = allowed.filter { _ in g.chance(25) }
    if g.chance(10), let extra = allowed.randomElement(using: &g.rng) { options.append(extra) }
    options.shuffle(using: &g.rng)
    for o in options {
        g.add(g.chance(50) ? o : o.lowercased())
        switch o {
        case "EX": g.add(g.relativeExpiry(unit: 1000))
        case "PX": g.add(g.relativeExpiry(unit: 1))
        case "EXAT": g.add(g.absoluteExpiry(unit: 1000))
        case "PXAT": g.add(g.absoluteExpiry(unit: 1))
        default: break
        }
    }
}

/// One BITFIELD operation: types valid and not (u64, i65, i0, I8), offsets plain and `#`, values at the
/// overflow edges, OVERFLOW modes (and a bad one).
private func bitfieldOperation(_ g: inout Generator, writes: Bool) {
    let op = writes ? g.pick(["GET", "SET", "INCRBY", "OVERFLOW", "incrby"]) : "GET"
    if op == "OVERFLOW" {
        g.add(op)
        g.add(g.pick(["WRAP", "SAT", "FAIL", "fail", "bogus"]))
        return
    }
    g.add(op)
    g.add(g.chance(90) ? g.pick(["i1", "i5", "i8", "i16", "i32", "i63", "i64", "u1", "u3", "u8", "u16", "u63"]) : g.pick(["u64", "i65", "i0", "I8", "x8", "i08", ""]))
    g.add(g.chance(90) ? g.pick(["0", "3", "7", "13", "40", "#1", "#2", "#0"]) : g.pick(["-1", "#-1", "x", "4294967296"]))
    if op != "GET" { g.add(g.chance(90) ? g.pick(["0", "1", "-1", "5", "100", "-100", "127", "128", "255", "256", "-128", "4611686018427387904", "-9223372036854775808", "9223372036854775807"]) : g.pick(["x", "1.5", ""])) }
}

private func expireCondition(_ g: inout Generator) {
    for _ in 0..<(g.chance(70) ? 0 : 1 + g.below(2)) { g.add(g.pick(["NX", "XX", "GT", "LT", "nx", "gt", "BOGUS"])) }
}

/// SORT's and SORT_RO's arguments. Patterns name keys the other commands write: the pool's keys (`*`
/// with elements "a", "b"), `k:*` (k:1, k:2), hashes' fields (`*->f`, `h:*->f`). Two forms are left out
/// because Redis' own order is undefined there: ALPHA with a BY pattern (ties keep qsort's order), and a
/// BY without `*` (do not sort) without STORE (a set's iteration order).
private func sortArguments(_ g: inout Generator, store: Bool) {
    g.add(g.chance(60) ? g.typedKey("l:") : g.typedKey(g.pick(["s:", "z:"])))
    let storing = store && g.chance(30)
    var by = false, alpha = false
    for _ in 0..<g.below(5) {
        switch g.below(7) {
        case 0 where !by && !alpha:
            by = true
            g.add(g.pick(["BY", "by"]))
            g.add(g.pick(storing ? ["*", "k:*", "*->f", "h:*->f", "nosort", "#"] : ["*", "k:*", "*->f", "h:*->f", "k:*->"]))
        case 1: g.add("GET"); g.add(g.pick(["#", "*", "k:*", "*->f", "h:*->f", "fixed", "*->"]))
        case 2: g.add(g.pick(["LIMIT", "limit"])); g.add(g.pick(["0", "1", "2", "-1", "5", "abc"])); g.add(g.pick(["0", "1", "3", "-1", "10", "x"]))
        case 3: g.add(g.pick(["ASC", "DESC", "desc"]))
        case 4 where !by: alpha = true; g.add(g.pick(["ALPHA", "alpha"]))
        case 5: g.add(g.pick(["bogus", "LIMIT", "GET"]))  // malformed: a syntax error (or an option that takes the next word)
        default: break
        }
    }
    if storing { g.add("STORE"); g.add(g.typedKey("l:")) } else if !store && g.chance(10) { g.add("STORE"); g.add("x") }
}

private func listPush(_ g: inout Generator) {
    g.add(g.typedKey("l:"))
    // Now and then a run, so lists span nodes (list-max-listpack-size is set low by CONFIG SET below).
    let n = g.chance(5) ? 50 + g.below(150) : 1 + g.below(4)
    for _ in 0..<n { g.add(g.element()) }
}

private func listPop(_ g: inout Generator) {
    g.add(g.typedKey("l:"))
    if g.chance(50) { g.add(g.pick(["1", "2", "5", "0", "-1", "abc", "100"])) }
    if g.chance(3) { g.add("1") }  // too many arguments
}

private func listMultiPop(_ g: inout Generator) {
    let n = 1 + g.below(3)
    g.add(g.chance(90) ? Array(String(n).utf8) : Array(g.pick(["0", "-1", "abc", "5"]).utf8))
    for _ in 0..<n { g.add(g.typedKey("l:")) }
    g.add(g.listEnd())
    if g.chance(40) { g.add(g.pick(["COUNT", "count"])); g.add(g.pick(["1", "2", "10", "0", "-1", "abc"])) }
    if g.chance(5) { g.add("COUNT") }
}

/// ZADD's options, in any order now and then (Redis reads them before the first score).
private func zaddOptions(_ g: inout Generator) {
    for _ in 0..<g.below(3) { g.add(g.pick(["NX", "XX", "GT", "LT", "CH", "INCR", "nx", "ch", "gt"])) }
}

/// ZRANGE's and ZRANGESTORE's range and options: by rank, score or lex, REV, LIMIT, WITHSCORES, and now
/// and then a conflicting or malformed combination.
private func zrangeArguments(_ g: inout Generator, store: Bool) {
    let kind = g.below(3)
    // By lex on the one-score keys (zl:*); ZRANGESTORE's destination is any sorted-set key.
    let source = g.typedKey(kind == 2 ? "zl:" : "z:")
    if store { g.add(g.typedKey("z:")) }
    g.add(source)
    switch kind {
    case 0: g.add(g.listIndex()); g.add(g.listIndex())
    case 1: g.add(g.scoreBound()); g.add(g.scoreBound()); g.add(g.pick(["BYSCORE", "byscore"]))
    default: g.add(g.lexBound()); g.add(g.lexBound()); g.add("BYLEX")
    }
    if g.chance(40) { g.add(g.pick(["REV", "rev"])) }
    if g.chance(kind == 0 ? 8 : 40) { g.add("LIMIT"); g.add(g.pick(["0", "1", "2", "-1", "abc"])); g.add(g.pick(["0", "1", "3", "-1", "x"])) }
    if !store && g.chance(kind == 2 ? 5 : 40) { g.add(g.pick(["WITHSCORES", "withscores"])) }
    if g.chance(3) { g.add(g.pick(["BYSCORE", "REV", "bogus", "WITHSCORES"])) }
}

/// ZUNION, ZINTER, ZDIFF and their STORE forms: numkeys, sorted sets and sets, WEIGHTS, AGGREGATE.
private func zsetAlgebraArguments(_ g: inout Generator, weights: Bool, withScores: Bool) {
    let n = 1 + g.below(3)
    g.add(g.chance(92) ? Array(String(n).utf8) : Array(g.pick(["0", "-1", "abc", "5"]).utf8))
    for _ in 0..<n { g.add(g.chance(85) ? g.typedKey("z:") : g.typedKey("s:")) }
    if weights && g.chance(30) { g.add(g.pick(["WEIGHTS", "weights"])); for _ in 0..<n { g.add(g.pick(["1", "2", "-1", "0", "0.5", "inf", "abc"])) } }
    if weights && g.chance(30) { g.add("AGGREGATE"); g.add(g.pick(["SUM", "min", "MAX", "avg"])) }
    if withScores && g.chance(40) { g.add("WITHSCORES") }
    if g.chance(3) { g.add(g.pick(["WEIGHTS", "AGGREGATE", "bogus", "LIMIT"])) }
}

private func zsetMultiPop(_ g: inout Generator) {
    let n = 1 + g.below(3)
    g.add(g.chance(90) ? Array(String(n).utf8) : Array(g.pick(["0", "-1", "abc", "5"]).utf8))
    for _ in 0..<n { g.add(g.typedKey("z:")) }
    g.add(g.pick(["MIN", "MAX", "min", "max", "left"]))
    if g.chance(40) { g.add(g.pick(["COUNT", "count"])); g.add(g.pick(["1", "2", "10", "0", "-1", "abc"])) }
    if g.chance(5) { g.add("COUNT") }
}

private func keys(_ g: inout Generator, min: Int = 1) {
    for _ in 0..<(min + g.below(4)) { g.add(g.key()) }
}

private func typedKeys(_ g: inout Generator, _ prefix: String) {
    for _ in 0..<(1 + g.below(4)) { g.add(g.typedKey(prefix)) }
}

let commandRows: [CommandRow] = [
    // Strings (t_string.c)
    CommandRow(name: "get", weight: 60) { g in g.add(g.key()) },
    CommandRow(name: "set", weight: 60) { g in
        g.add(g.key())
        g.add(g.value())
        setOptions(&g, allowed: ["NX", "XX", "GET", "EX", "PX", "EXAT", "PXAT", "KEEPTTL"])
    },
    CommandRow(name: "setnx", weight: 8) { g in g.add(g.key()); g.add(g.value()) },
    CommandRow(name: "setex", weight: 8) { g in g.add(g.key()); g.add(g.relativeExpiry(unit: 1000)); g.add(g.value()) },
    CommandRow(name: "psetex", weight: 12) { g in g.add(g.key()); g.add(g.relativeExpiry(unit: 1)); g.add(g.value()) },
    CommandRow(name: "getset", weight: 8) { g in g.add(g.key()); g.add(g.value()) },
    CommandRow(name: "getdel", weight: 8) { g in g.add(g.key()) },
    CommandRow(name: "getex", weight: 15) { g in
        g.add(g.key())
        setOptions(&g, allowed: ["EX", "PX", "EXAT", "PXAT", "PERSIST"])
    },
    CommandRow(name: "mget", weight: 10) { g in keys(&g) },
    CommandRow(name: "mset", weight: 8) { g in
        for _ in 0..<(1 + g.below(3)) { g.add(g.key()); g.add(g.value()) }
    },
    CommandRow(name: "msetnx", weight: 8) { g in
        for _ in 0..<(1 + g.below(3)) { g.add(g.key()); g.add(g.value()) }
    },
    CommandRow(name: "incr", weight: 15) { g in g.add(g.key()) },
    CommandRow(name: "decr", weight: 8) { g in g.add(g.key()) },
    CommandRow(name: "incrby", weight: 10) { g in g.add(g.key()); g.add(g.integer()) },
    CommandRow(name: "decrby", weight: 8) { g in g.add(g.key()); g.add(g.integer()) },
    CommandRow(name: "incrbyfloat", weight: 12) { g in g.add(g.key()); g.add(g.float()) },
    CommandRow(name: "append", weight: 12) { g in g.add(g.key()); g.add(g.value()) },
    CommandRow(name: "strlen", weight: 6) { g in g.add(g.key()) },
    CommandRow(name: "getrange", weight: 8) { g in g.add(g.key()); g.add(g.integer(-10...10)); g.add(g.integer(-10...10)) },
    CommandRow(name: "substr", weight: 3) { g in g.add(g.key()); g.add(g.integer(-10...10)); g.add(g.integer(-10...10)) },
    CommandRow(name: "setrange", weight: 12) { g in
        g.add(g.key())
        // Offsets small, negative, malformed, or past proto-max-bulk-len (an error, not an allocation).
        g.add(g.chance(85) ? g.integer(0...12) : Array(g.pick(["-1", "536870912", "536870913", "abc", "+1"]).utf8))
        g.add(g.chance(10) ? [] : g.value())
    },
    CommandRow(name: "lcs", weight: 4) { g in
        g.add(g.key())
        g.add(g.key())
        for o in [["LEN"], ["IDX"], ["WITHMATCHLEN"], ["MINMATCHLEN", g.pick(["0", "2", "-3", "x"])], ["BOGUS"]].shuffled(using: &g.rng)
            where g.chance(o == ["BOGUS"] ? 3 : 35) { for w in o { g.add(w) } }
    },
    // Bitmaps (bitops.c)
    CommandRow(name: "setbit", weight: 8) { g in
        g.add(g.key())
        // Not 2^32 - 1: a valid offset that makes both servers allocate 512 MB.
        g.add(g.chance(90) ? g.integer(0...70) : Array(g.pick(["-1", "4294967296", "x", "+3"]).utf8))
        g.add(g.chance(90) ? g.pick(["0", "1"]) : g.pick(["2", "-1", "01", ""]))
    },
    CommandRow(name: "bitfield", weight: 6) { g in
        g.add(g.key())
        for _ in 0..<(g.chance(10) ? 0 : 1 + g.below(4)) { bitfieldOperation(&g, writes: true) }
    },
    CommandRow(name: "bitfield_ro", weight: 2) { g in
        g.add(g.key())
        for _ in 0..<g.below(3) { bitfieldOperation(&g, writes: g.chance(10)) }
    },
    CommandRow(name: "getbit", weight: 6) { g in g.add(g.key()); g.add(g.chance(90) ? g.integer(0...80) : Array(g.pick(["-1", "x"]).utf8)) },
    CommandRow(name: "bitcount", weight: 6) { g in
        g.add(g.key())
        if g.chance(60) { g.add(g.integer(-12...12)); g.add(g.integer(-12...12)) }
        if g.chance(30) { g.add(g.pick(["BYTE", "BIT", "bit", "bogus"])) }
    },
    CommandRow(name: "bitpos", weight: 6) { g in
        g.add(g.key())
        g.add(g.chance(90) ? g.pick(["0", "1"]) : g.pick(["2", "x"]))
        if g.chance(60) { g.add(g.integer(-12...12)) }
        if g.chance(50) { g.add(g.integer(-12...12)) }
        if g.chance(30) { g.add(g.pick(["BYTE", "BIT", "bit", "bogus"])) }
    },
    CommandRow(name: "bitop", weight: 5) { g in
        g.add(g.pick(["AND", "or", "XOR", "NOT", "not", "nand"]))
        g.add(g.key())
        keys(&g)
    },
    // Keys (db.c, expire.c)
    // Hashes and sets (the servers run with low conversion thresholds, main.swift, so values change
    // encoding often). SCANs of them ask COUNT 1000, which finishes a small value in one call on both
    // servers (their cursors differ), except in the forms that fail.
    CommandRow(name: "hset", weight: 10) { g in g.add(g.typedKey("h:")); for _ in 0..<(1 + g.below(3)) { g.add(g.field()); g.add(g.value()) } },
    CommandRow(name: "hmset", weight: 2) { g in g.add(g.typedKey("h:")); for _ in 0..<(1 + g.below(3)) { g.add(g.field()); g.add(g.value()) } },
    CommandRow(name: "hsetnx", weight: 3) { g in g.add(g.typedKey("h:")); g.add(g.field()); g.add(g.value()) },
    CommandRow(name: "hget", weight: 6) { g in g.add(g.typedKey("h:")); g.add(g.field()) },
    CommandRow(name: "hmget", weight: 3) { g in g.add(g.typedKey("h:")); for _ in 0..<(1 + g.below(3)) { g.add(g.field()) } },
    CommandRow(name: "hdel", weight: 5) { g in g.add(g.typedKey("h:")); for _ in 0..<(1 + g.below(3)) { g.add(g.field()) } },
    CommandRow(name: "hexists", weight: 2) { g in g.add(g.typedKey("h:")); g.add(g.field()) },
    CommandRow(name: "hlen", weight: 3) { g in g.add(g.typedKey("h:")) },
    CommandRow(name: "hstrlen", weight: 2) { g in g.add(g.typedKey("h:")); g.add(g.field()) },
    CommandRow(name: "hincrby", weight: 4) { g in
        g.add(g.typedKey("h:")); g.add(g.field())
        g.add(g.pick(["1", "-5", "100", "abc", "9223372036854775807", "-9223372036854775808", " 1"]))
    },
    CommandRow(name: "hincrbyfloat", weight: 4) { g in
        g.add(g.typedKey("h:")); g.add(g.field())
        g.add(g.chance(70) ? g.float() : Array(g.pick(["inf", "-inf", "nan", "1e400", "abc", "0"]).utf8))
    },
    CommandRow(name: "hgetall", weight: 4) { g in g.add(g.typedKey("h:")) },
    CommandRow(name: "hkeys", weight: 2) { g in g.add(g.typedKey("h:")) },
    CommandRow(name: "hvals", weight: 2) { g in g.add(g.typedKey("h:")) },
    CommandRow(name: "hrandfield", weight: 3) { g in
        g.add(g.typedKey("h:"))
        if g.chance(80) { g.add(g.pick(["1", "2", "5", "100", "-1", "-5", "0", "abc", "-9223372036854775808", "9223372036854775807"])) }
        if g.chance(40) { g.add(g.pick(["WITHVALUES", "withvalues", "bogus"])) }
    },
    CommandRow(name: "hscan", weight: 3) { g in
        g.add(g.typedKey("h:"))
        scanOfValue(&g)
    },
    CommandRow(name: "sadd", weight: 10) { g in
        g.add(g.typedKey("s:"))
        // Now and then a run of integers: with set-max-intset-entries raised (CONFIG SET below) an intset
        // grows past what an entry holds inline (Values/InlineValues.swift) and must stay an intset.
        if g.chance(5) { for i in 0..<(200 + g.below(200)) { g.add(Array(String(i * 3 - 100).utf8)) }; return }
        for _ in 0..<(1 + g.below(4)) { g.add(g.member()) }
    },
    CommandRow(name: "srem", weight: 5) { g in g.add(g.typedKey("s:")); for _ in 0..<(1 + g.below(3)) { g.add(g.member()) } },
    CommandRow(name: "sismember", weight: 3) { g in g.add(g.typedKey("s:")); g.add(g.member()) },
    CommandRow(name: "smismember", weight: 2) { g in g.add(g.typedKey("s:")); for _ in 0..<(1 + g.below(3)) { g.add(g.member()) } },
    CommandRow(name: "scard", weight: 3) { g in g.add(g.typedKey("s:")) },
    CommandRow(name: "smembers", weight: 4) { g in g.add(g.typedKey("s:")) },
    CommandRow(name: "srandmember", weight: 3) { g in
        g.add(g.typedKey("s:"))
        if g.chance(70) { g.add(g.pick(["1", "2", "5", "100", "-1", "-5", "0", "abc", "-9223372036854775808"])) }
    },
    CommandRow(name: "spop", weight: 3) { g in
        g.add(g.typedKey("s:"))
        if g.chance(60) { g.add(g.pick(["1", "2", "100", "0", "-1", "abc"])) }
    },
    CommandRow(name: "smove", weight: 4) { g in g.add(g.typedKey("s:")); g.add(g.typedKey("s:")); g.add(g.member()) },
    CommandRow(name: "sinter", weight: 3) { g in typedKeys(&g, "s:") },
    CommandRow(name: "sunion", weight: 3) { g in typedKeys(&g, "s:") },
    CommandRow(name: "sdiff", weight: 3) { g in typedKeys(&g, "s:") },
    CommandRow(name: "sinterstore", weight: 2) { g in typedKeys(&g, "s:") },
    CommandRow(name: "sunionstore", weight: 2) { g in typedKeys(&g, "s:") },
    CommandRow(name: "sdiffstore", weight: 2) { g in typedKeys(&g, "s:") },
    CommandRow(name: "sintercard", weight: 3) { g in
        let n = 1 + g.below(3)
        g.add(g.chance(90) ? Array(String(n).utf8) : Array(g.pick(["0", "-1", "abc", "5"]).utf8))
        for _ in 0..<n { g.add(g.typedKey("s:")) }
        if g.chance(40) { g.add(g.pick(["LIMIT", "limit"])); g.add(g.pick(["0", "1", "2", "-1", "abc"])) }
    },
    CommandRow(name: "sscan", weight: 3) { g in
        g.add(g.typedKey("s:"))
        scanOfValue(&g)
    },
    CommandRow(name: "lpush", weight: 8) { g in listPush(&g) },
    CommandRow(name: "rpush", weight: 8) { g in listPush(&g) },
    CommandRow(name: "lpushx", weight: 3) { g in g.add(g.typedKey("l:")); for _ in 0..<(1 + g.below(3)) { g.add(g.element()) } },
    CommandRow(name: "rpushx", weight: 3) { g in g.add(g.typedKey("l:")); for _ in 0..<(1 + g.below(3)) { g.add(g.element()) } },
    CommandRow(name: "lpop", weight: 5) { g in listPop(&g) },
    CommandRow(name: "rpop", weight: 5) { g in listPop(&g) },
    CommandRow(name: "llen", weight: 3) { g in g.add(g.typedKey("l:")) },
    CommandRow(name: "lrange", weight: 6) { g in g.add(g.typedKey("l:")); g.add(g.listIndex()); g.add(g.listIndex()) },
    CommandRow(name: "lindex", weight: 4) { g in g.add(g.typedKey("l:")); g.add(g.listIndex()) },
    CommandRow(name: "lset", weight: 3) { g in g.add(g.typedKey("l:")); g.add(g.listIndex()); g.add(g.element()) },
    CommandRow(name: "linsert", weight: 3) { g in
        g.add(g.typedKey("l:")); g.add(g.pick(["BEFORE", "after", "AFTER", "middle"])); g.add(g.element()); g.add(g.element())
    },
    CommandRow(name: "lrem", weight: 3) { g in g.add(g.typedKey("l:")); g.add(g.pick(["0", "1", "2", "-1", "-2", "100", "abc"])); g.add(g.element()) },
    CommandRow(name: "ltrim", weight: 3) { g in g.add(g.typedKey("l:")); g.add(g.listIndex()); g.add(g.listIndex()) },
    CommandRow(name: "lpos", weight: 4) { g in
        g.add(g.typedKey("l:")); g.add(g.element())
        for _ in 0..<g.below(4) {
            switch g.below(4) {
            case 0: g.add(g.pick(["RANK", "rank"])); g.add(g.pick(["1", "2", "-1", "-3", "0", "abc", "-9223372036854775808", "9223372036854775807"]))
            case 1: g.add("COUNT"); g.add(g.pick(["0", "1", "2", "-1", "abc"]))
            case 2: g.add("MAXLEN"); g.add(g.pick(["0", "1", "3", "-1", "abc"]))
            default: g.add(g.pick(["RANK", "bogus"]))
            }
        }
    },
    CommandRow(name: "lmove", weight: 4) { g in
        g.add(g.typedKey("l:")); g.add(g.typedKey("l:")); g.add(g.listEnd()); g.add(g.listEnd())
    },
    CommandRow(name: "rpoplpush", weight: 3) { g in g.add(g.typedKey("l:")); g.add(g.typedKey("l:")) },
    CommandRow(name: "lmpop", weight: 3) { g in listMultiPop(&g) },
    // Blocking pops with short timeouts: with one connection per server nothing pushes while one waits,
    // so a wait times out alike on both; with data present they pop at once.
    CommandRow(name: "blpop", weight: 2) { g in for _ in 0..<(1 + g.below(3)) { g.add(g.typedKey("l:")) }; g.add(g.blockTimeout()) },
    CommandRow(name: "brpop", weight: 2) { g in for _ in 0..<(1 + g.below(3)) { g.add(g.typedKey("l:")) }; g.add(g.blockTimeout()) },
    CommandRow(name: "blmove", weight: 2) { g in
        g.add(g.typedKey("l:")); g.add(g.typedKey("l:")); g.add(g.listEnd()); g.add(g.listEnd()); g.add(g.blockTimeout())
    },
    CommandRow(name: "brpoplpush", weight: 1) { g in g.add(g.typedKey("l:")); g.add(g.typedKey("l:")); g.add(g.blockTimeout()) },
    CommandRow(name: "blmpop", weight: 2) { g in g.add(g.blockTimeout()); listMultiPop(&g) },
    // Sorted sets (t_zset.c); zset-max-listpack-* are low (main.swift), so both forms are met.
    CommandRow(name: "zadd", weight: 10) { g in
        g.add(g.typedKey("z:"))
        zaddOptions(&g)
        // Now and then a run, so sets grow past the thresholds into their large form.
        let n = g.chance(5) ? 20 + g.below(60) : 1 + g.below(3)
        for i in 0..<n {
            g.add(n > 10 ? Array(String(i % 7).utf8) : g.score())
            g.add(n > 10 ? Array("r\(i)".utf8) : g.member())
        }
        if g.chance(3) { g.add(g.score()) }  // a score without its member
    },
    // Lex ranges are meant for members of one score (with several, Redis' answer follows its skip list's
    // random levels: compat.md): their keys, zl:*, get members at score 0 only.
    CommandRow(name: "zadd", weight: 4) { g in
        g.add(g.typedKey("zl:"))
        for _ in 0..<(1 + g.below(4)) { g.add("0"); g.add(g.member()) }
    },
    CommandRow(name: "zincrby", weight: 4) { g in g.add(g.typedKey("z:")); g.add(g.score()); g.add(g.member()) },
    // Sorted sets of numeric ids (zn:*), kept small: the packed form's walks.
    CommandRow(name: "zadd", weight: 8) { g in
        g.add(g.typedKey("zn:"))
        zaddOptions(&g)
        for _ in 0..<(1 + g.below(3)) { g.add(g.score()); g.add(g.numericId()) }
    },
    CommandRow(name: "zincrby", weight: 4) { g in g.add(g.typedKey("zn:")); g.add(g.score()); g.add(g.numericId()) },
    CommandRow(name: "zrank", weight: 4) { g in g.add(g.typedKey("zn:")); g.add(g.numericId()) },
    CommandRow(name: "zrevrank", weight: 2) { g in g.add(g.typedKey("zn:")); g.add(g.numericId()) },
    CommandRow(name: "zscore", weight: 2) { g in g.add(g.typedKey("zn:")); g.add(g.numericId()) },
    CommandRow(name: "zrem", weight: 3) { g in g.add(g.typedKey("zn:")); g.add(g.numericId()) },
    CommandRow(name: "zrange", weight: 2) { g in g.add(g.typedKey("zn:")); g.add("0"); g.add("-1"); g.add("WITHSCORES") },
    CommandRow(name: "zrem", weight: 4) { g in g.add(g.typedKey("z:")); for _ in 0..<(1 + g.below(3)) { g.add(g.member()) } },
    CommandRow(name: "zscore", weight: 4) { g in g.add(g.typedKey("z:")); g.add(g.member()) },
    CommandRow(name: "zmscore", weight: 2) { g in g.add(g.typedKey("z:")); for _ in 0..<(1 + g.below(3)) { g.add(g.member()) } },
    CommandRow(name: "zcard", weight: 3) { g in g.add(g.typedKey("z:")) },
    CommandRow(name: "zcount", weight: 3) { g in g.add(g.typedKey("z:")); g.add(g.scoreBound()); g.add(g.scoreBound()) },
    CommandRow(name: "zlexcount", weight: 2) { g in g.add(g.typedKey("zl:")); g.add(g.lexBound()); g.add(g.lexBound()) },
    CommandRow(name: "zrange", weight: 8) { g in zrangeArguments(&g, store: false) },
    CommandRow(name: "zrangestore", weight: 3) { g in zrangeArguments(&g, store: true) },
    CommandRow(name: "zrevrange", weight: 3) { g in
        g.add(g.typedKey("z:")); g.add(g.listIndex()); g.add(g.listIndex())
        if g.chance(40) { g.add(g.pick(["WITHSCORES", "bogus", "LIMIT"])) }
    },
    CommandRow(name: "zrangebyscore", weight: 3) { g in
        g.add(g.typedKey("z:")); g.add(g.scoreBound()); g.add(g.scoreBound())
        if g.chance(40) { g.add("WITHSCORES") }
        if g.chance(30) { g.add("LIMIT"); g.add(g.pick(["0", "1", "-1"])); g.add(g.pick(["1", "2", "-1"])) }
    },
    CommandRow(name: "zrevrangebyscore", weight: 3) { g in
        g.add(g.typedKey("z:")); g.add(g.scoreBound()); g.add(g.scoreBound())
        if g.chance(30) { g.add("LIMIT"); g.add(g.pick(["0", "1", "-1"])); g.add(g.pick(["1", "2", "-1"])) }
        if g.chance(40) { g.add("WITHSCORES") }
    },
    CommandRow(name: "zrangebylex", weight: 2) { g in
        g.add(g.typedKey("zl:")); g.add(g.lexBound()); g.add(g.lexBound())
        if g.chance(30) { g.add("LIMIT"); g.add(g.pick(["0", "1", "-1"])); g.add(g.pick(["1", "2", "-1"])) }
    },
    CommandRow(name: "zrevrangebylex", weight: 2) { g in
        g.add(g.typedKey("zl:")); g.add(g.lexBound()); g.add(g.lexBound())
        if g.chance(30) { g.add("LIMIT"); g.add(g.pick(["0", "1", "-1"])); g.add(g.pick(["1", "2", "-1"])) }
    },
    CommandRow(name: "zrank", weight: 3) { g in g.add(g.typedKey("z:")); g.add(g.member()) },
    CommandRow(name: "zrevrank", weight: 2) { g in g.add(g.typedKey("z:")); g.add(g.member()) },
    CommandRow(name: "zremrangebyrank", weight: 2) { g in g.add(g.typedKey("z:")); g.add(g.listIndex()); g.add(g.listIndex()) },
    CommandRow(name: "zremrangebyscore", weight: 2) { g in g.add(g.typedKey("z:")); g.add(g.scoreBound()); g.add(g.scoreBound()) },
    CommandRow(name: "zremrangebylex", weight: 2) { g in g.add(g.typedKey("zl:")); g.add(g.lexBound()); g.add(g.lexBound()) },
    CommandRow(name: "zpopmin", weight: 3) { g in
        g.add(g.typedKey("z:"))
        if g.chance(50) { g.add(g.pick(["1", "2", "5", "0", "-1", "abc"])) }
        if g.chance(3) { g.add("1") }
    },
    CommandRow(name: "zpopmax", weight: 3) { g in
        g.add(g.typedKey("z:"))
        if g.chance(50) { g.add(g.pick(["1", "2", "5", "0", "-1", "abc"])) }
    },
    CommandRow(name: "zmpop", weight: 2) { g in zsetMultiPop(&g) },
    CommandRow(name: "bzpopmin", weight: 2) { g in for _ in 0..<(1 + g.below(3)) { g.add(g.typedKey("z:")) }; g.add(g.blockTimeout()) },
    CommandRow(name: "bzpopmax", weight: 2) { g in for _ in 0..<(1 + g.below(3)) { g.add(g.typedKey("z:")) }; g.add(g.blockTimeout()) },
    CommandRow(name: "bzmpop", weight: 2) { g in g.add(g.blockTimeout()); zsetMultiPop(&g) },
    CommandRow(name: "zunion", weight: 3) { g in zsetAlgebraArguments(&g, weights: true, withScores: true) },
    CommandRow(name: "zinter", weight: 3) { g in zsetAlgebraArguments(&g, weights: true, withScores: true) },
    CommandRow(name: "zdiff", weight: 2) { g in zsetAlgebraArguments(&g, weights: g.chance(10), withScores: true) },
    CommandRow(name: "zunionstore", weight: 2) { g in g.add(g.typedKey("z:")); zsetAlgebraArguments(&g, weights: true, withScores: false) },
    CommandRow(name: "zinterstore", weight: 2) { g in g.add(g.typedKey("z:")); zsetAlgebraArguments(&g, weights: true, withScores: false) },
    CommandRow(name: "zdiffstore", weight: 2) { g in g.add(g.typedKey("z:")); zsetAlgebraArguments(&g, weights: false, withScores: false) },
    CommandRow(name: "zintercard", weight: 2) { g in
        zsetAlgebraArguments(&g, weights: false, withScores: false)
        if g.chance(40) { g.add(g.pick(["LIMIT", "limit"])); g.add(g.pick(["0", "1", "2", "-1", "abc"])) }
    },
    CommandRow(name: "zrandmember", weight: 2) { g in
        g.add(g.typedKey("z:"))
        if g.chance(80) { g.add(g.pick(["1", "2", "5", "100", "-1", "-5", "0", "abc", "-9223372036854775808", "9223372036854775807"])) }
        if g.chance(40) { g.add(g.pick(["WITHSCORES", "withscores", "bogus"])) }
    },
    CommandRow(name: "zscan", weight: 2) { g in g.add(g.typedKey("z:")); scanOfValue(&g) },
    CommandRow(name: "sort", weight: 3) { g in sortArguments(&g, store: true) },
    CommandRow(name: "sort_ro", weight: 2) { g in sortArguments(&g, store: false) },
    CommandRow(name: "del", weight: 12) { g in keys(&g) },
    CommandRow(name: "unlink", weight: 4) { g in keys(&g) },
    CommandRow(name: "exists", weight: 10) { g in keys(&g) },
    CommandRow(name: "touch", weight: 4) { g in keys(&g) },
    CommandRow(name: "type", weight: 6) { g in g.add(g.key()) },
    CommandRow(name: "keys", weight: 4) { g in g.add(g.pattern()) },
    CommandRow(name: "scan", weight: 4) { g in
        // A full cursor walk (the runner drives it): cursor 0, then options.
        g.add("0")
        if g.chance(50) { g.add("MATCH"); g.add(g.pattern()) }
        if g.chance(50) { g.add("COUNT"); g.add(g.chance(90) ? Array(String(1 + g.below(20)).utf8) : Array(g.pick(["0", "-1", "abc"]).utf8)) }
        if g.chance(20) { g.add("TYPE"); g.add(g.pick(["string", "STRING", "list", "hash", "set", "nosuchtype"])) }
    },
    CommandRow(name: "randomkey", weight: 3) { _ in },
    CommandRow(name: "rename", weight: 8) { g in g.add(g.key()); g.add(g.key()) },
    CommandRow(name: "renamenx", weight: 6) { g in g.add(g.key()); g.add(g.key()) },
    CommandRow(name: "copy", weight: 6) { g in
        g.add(g.key())
        g.add(g.key())
        var options: [[String]] = []
        if g.chance(40) { options.append(["DB", g.pick(["0", "1", "1", "16", "-1", "x"])]) }
        if g.chance(40) { options.append([g.pick(["REPLACE", "replace"])]) }
        if g.chance(5) { options.append(["BOGUS"]) }
        for o in options.shuffled(using: &g.rng) { for w in o { g.add(w) } }
    },
    CommandRow(name: "swapdb", weight: 2) { g in
        g.add(g.chance(90) ? g.pick(["0", "1"]) : g.pick(["16", "-1", "x", "2147483648", ""]))
        g.add(g.chance(90) ? g.pick(["0", "1"]) : g.pick(["16", "-1", "y"]))
    },
    CommandRow(name: "dump", weight: 4) { g in g.add(g.chance(40) ? g.typedKey(g.pick(["h:", "s:", "l:", "z:"])) : g.key()) },
    CommandRow(name: "restore", weight: 4) { g in
        g.add(g.key())
        let payload = g.below(restorePayloads.count)
        // A payload Redis 7.0 accepts and we refuse (compat.md, restore-strict-payload) goes with a time
        // already past and without REPLACE, so that Redis stores nothing either and the keyspaces agree.
        let lax = laxPayloads.contains(payload)
        let absolute = lax || g.chance(20)
        g.add(lax ? g.longPast() : absolute ? g.absoluteExpiry(unit: 1) : g.chance(40) ? Array("0".utf8) : g.relativeExpiry(unit: 1))
        g.add(restorePayloads[payload])
        var options: [[String]] = []
        if !lax && g.chance(50) { options.append([g.pick(["REPLACE", "replace"])]) }
        if absolute || g.chance(5) { options.append(["ABSTTL"]) }
        if g.chance(30) { options.append(["IDLETIME", g.pick(["0", "10", "100000", "100000", "-1", "x"])]) }
        if g.chance(15) { options.append(["FREQ", g.pick(["0", "255", "256", "-1"])]) }
        if g.chance(5) { options.append([g.pick(["BOGUS", "IDLETIME"])]) }
        for o in options.shuffled(using: &g.rng) { for w in o { g.add(w) } }
    },
    CommandRow(name: "move", weight: 5) { g in g.add(g.key()); g.add(g.pick(["0", "1", "1", "16", "-1", "abc"])) },
    CommandRow(name: "expire", weight: 10) { g in g.add(g.key()); g.add(g.relativeExpiry(unit: 1000)); expireCondition(&g) },
    CommandRow(name: "pexpire", weight: 12) { g in g.add(g.key()); g.add(g.relativeExpiry(unit: 1)); expireCondition(&g) },
    CommandRow(name: "expireat", weight: 6) { g in g.add(g.key()); g.add(g.absoluteExpiry(unit: 1000)); expireCondition(&g) },
    CommandRow(name: "pexpireat", weight: 8) { g in g.add(g.key()); g.add(g.absoluteExpiry(unit: 1)); expireCondition(&g) },
    CommandRow(name: "ttl", weight: 10) { g in g.add(g.key()) },
    CommandRow(name: "pttl", weight: 10) { g in g.add(g.key()) },
    CommandRow(name: "expiretime", weight: 5) { g in g.add(g.key()) },
    CommandRow(name: "pexpiretime", weight: 5) { g in g.add(g.key()) },
    CommandRow(name: "persist", weight: 8) { g in g.add(g.key()) },
    CommandRow(name: "dbsize", weight: 4) { _ in },
    CommandRow(name: "flushdb", weight: 1) { g in if g.chance(40) { g.add(g.pick(["ASYNC", "SYNC", "sync", "BOGUS"])) } },
    CommandRow(name: "flushall", weight: 1) { g in if g.chance(40) { g.add(g.pick(["ASYNC", "SYNC", "async", "BOGUS"])) } },
    // Connection and server
    CommandRow(name: "select", weight: 3) { g in g.add(g.chance(90) ? g.pick(["0", "1"]) : g.pick(["15", "16", "-1", "abc", ""])) },
    CommandRow(name: "ping", weight: 2) { g in if g.chance(50) { g.add(g.value()) } },
    CommandRow(name: "echo", weight: 2) { g in g.add(g.value()) },
    CommandRow(name: "time", weight: 1) { _ in },
    CommandRow(name: "lastsave", weight: 1) { _ in },
    CommandRow(name: "auth", weight: 1) { g in g.add(g.value()); if g.chance(30) { g.add(g.value()) } },
    CommandRow(name: "client", weight: 3) { g in
        switch g.below(10) {
        case 8:
            // UNBLOCK of a client that is not blocked (ids differ between the servers: none is anyone's).
            g.add("UNBLOCK"); g.add(g.pick(["999999", "abc", "-1"]))
            if g.chance(50) { g.add(g.pick(["TIMEOUT", "error", "bogus"])) }
        case 0: g.add("GETNAME")
        case 1: g.add("SETNAME"); g.add(g.pick(["app", "", "has space", "new\nline", "ok-name_1"]))
        case 2: g.add("ID")
        case 3: g.add("SETINFO"); g.add(g.pick(["lib-name", "lib-ver", "bogus"])); g.add("x")
        // LIST and KILL in the forms whose replies do not describe the connections (addresses, ids).
        case 4: g.add("LIST"); for w in g.pick([["TYPE", "bogus"], ["ID", "x"], ["ID", "0"], ["TYPE"], ["BOGUS", "1"]]) { g.add(w) }
        case 5:
            g.add("KILL")
            for w in g.pick([["1.2.3.4:5"], ["ID", "0"], ["ID", "99999"], ["SKIPME", "maybe"], ["TYPE", "bogus"], ["TYPE", "master"],
                             ["USER", "nobody"], ["ADDR"], ["ID", "99999", "SKIPME", "no"], ["LADDR", "9.9.9.9:1"]]) { g.add(w) }
        case 6: g.add(g.pick(["REPLY", "NO-EVICT"])); g.add(g.pick(["bogus", "maybe", ""]))
        case 7:
            for w in g.pick([["NO-EVICT", "on"], ["no-evict", "OFF"], ["PAUSE", "0"], ["PAUSE", "0", "WRITE"], ["PAUSE", "x"], ["PAUSE", "-1"],
                             ["PAUSE", "0", "bogus"], ["UNPAUSE"], ["UNPAUSE", "x"]]) { g.add(w) }
        default: g.add(g.pick(["NOSUCH", "getname", "GETREDIR"]))
        }
    },
    CommandRow(name: "wait", weight: 1) { g in
        // Not WAIT 1 0: with no replica it waits forever, on both.
        let replicas = g.pick(["0", "-1", "x", "1"])
        g.add(replicas)
        g.add(replicas == "1" ? g.pick(["1", "-1", "x", "2"]) : g.pick(["0", "1", "-1", "x", "2"]))
    },
    // Server commands whose successful replies describe the server (compat.md) are sent only in forms
    // that must fail, so that their error texts are compared.
    CommandRow(name: "hello", weight: 1) { g in
        switch g.below(3) {
        case 0: g.add(g.pick(["4", "0", "abc", "-1", ""]))
        default: g.add(g.pick(["2", "3"])); g.add(g.value())
        }
    },
    CommandRow(name: "config", weight: 1) { g in
        if g.chance(20) {
            // Both servers run without a conf file: REWRITE's error, and its arity error.
            g.add("REWRITE")
            if g.chance(30) { g.add("x") }
            return
        }
        if g.chance(40) {
            // The hash and set thresholds both servers know (set-max-listpack-* is Redis 7.2's, ours only):
            // read, or set to small values, bad ones and out-of-range ones. Both convert alike.
            let name = g.pick(["hash-max-listpack-entries", "hash-max-ziplist-entries", "hash-max-listpack-value",
                               "hash-max-ziplist-value", "set-max-intset-entries", "list-max-listpack-size",
                               "list-max-ziplist-size", "list-compress-depth", "zset-max-listpack-entries",
                               "zset-max-ziplist-entries", "zset-max-listpack-value"])
            if g.chance(40) { g.add("GET"); g.add(name); return }
            g.add("SET"); g.add(name); g.add(g.pick(["0", "1", "4", "8", "16", "512", "abc", "-1", "1kb", "-2", "-5", "-7"]))
            return
        }
        if g.chance(30) {
            // The memory limit's tuning, read or set, in range and out (both servers run allkeys-lru with
            // maxmemory 100gb: main.swift; the policy and the limit are left alone, so nothing is evicted
            // and LFU's random counters never come into play). GET of the policy and the limit compare too.
            let name = g.pick(["maxmemory-samples", "maxmemory-eviction-tenacity", "lfu-log-factor", "lfu-decay-time",
                               "maxmemory", "maxmemory-policy"])
            if g.chance(40) || name == "maxmemory" || name == "maxmemory-policy" { g.add("GET"); g.add(name); return }
            g.add("SET"); g.add(name); g.add(g.pick(["0", "1", "5", "10", "64", "100", "101", "-1", "abc", "2147483648"]))
            return
        }
        if g.chance(20) {
            // Compaction's thresholds, read or set, in range and out (activedefrag itself is left out: Debian's
            // redis-server refuses to turn it on, compat.md; ours starts with Redis' ignore-bytes, main.swift).
            let name = g.pick(["active-defrag-ignore-bytes", "active-defrag-threshold-lower", "active-defrag-threshold-upper",
                               "active-defrag-cycle-min", "active-defrag-cycle-max"])
            if g.chance(40) { g.add("GET"); g.add(name); return }
            g.add("SET"); g.add(name); g.add(g.pick(["0", "1", "10", "25", "99", "100", "1000", "1001", "-1", "abc", "1kb", "100mb"]))
            return
        }
        if g.chance(10) {
            // appendonly: both run with it off; ours refuses to turn it on (compat.md), so only GET and "no".
            if g.chance(50) { g.add("GET"); g.add("appendonly") } else { g.add("SET"); g.add("appendonly"); g.add("no") }
            return
        }
        g.add("SET")
        g.add(g.chance(50) ? Array("no-such-directive".utf8) : g.value())
        g.add(g.value())
    },
    // MONITOR only in forms that fail (two extra arguments, so that dropping the last still fails): a
    // monitoring client would receive every later command; redis-cli's MONITOR is compared in a test.
    CommandRow(name: "monitor", weight: 1) { g in g.add("x"); g.add("y") },
    CommandRow(name: "debug", weight: 1) { g in g.add(g.pick(["HELP", "BREAK-MAP", "help"])); if g.chance(50) { g.add(g.key()) } },
    // IDLETIME compares within a second (Compare.swift): a key some command touched and Redis did not (or
    // the other way) shows as an idle time that differs by the seconds the stream has run.
    CommandRow(name: "object", weight: 6) { g in
        switch g.below(8) {
        case 0, 1, 2: g.add("ENCODING"); g.add(g.chance(50) ? g.typedKey(g.pick(["h:", "s:", "l:", "z:"])) : g.key())
        case 6, 7: g.add(g.pick(["IDLETIME", "idletime"])); g.add(g.key())
        case 3: g.add(g.pick(["REFCOUNT", "FREQ"])); g.add(g.key())
        case 4: g.add(g.pick(["encoding", "refcount", "idletime"]))  // one argument too few
        default: g.add(g.pick(["NOSUCH", "ENCODING"])); g.add(g.key()); g.add(g.key())
        }
    },
    CommandRow(name: "command", weight: 3) { g in
        switch g.below(8) {
        case 0, 1: g.add("INFO"); for _ in 0..<(1 + g.below(3)) { g.add(g.pick(introspected)) }
        case 2: g.add("DOCS"); for _ in 0..<(1 + g.below(3)) { g.add(g.pick(introspected)) }
        case 3, 4, 5:
            // The keys of a command drawn as the stream draws it (and now and then a malformed one).
            let withFlags = g.chance(50)
            g.add(withFlags ? "GETKEYSANDFLAGS" : "GETKEYS")
            var sub = Generator(seed: g.rng.next(), rows: commandRows.filter { row in
                // SET's and BITFIELD's key flags depend on their arguments (Redis' setGetKeys,
                // bitfieldGetKeys): compat.md. CLIENT SETINFO is newer than Redis 7.0 (compat.md).
                !["command", "nosuchcommand", "client"].contains(row.name) && !(withFlags && ["set", "bitfield"].contains(row.name))
            })
            for a in sub.next().args { g.add(a) }
        // Not COUNT or LIST: Redis has commands we do not yet (compat.md).
        case 6: g.add(g.pick(["GETKEYS", "HELP", "NOSUCH", "getkeysandflags"])); if g.chance(50) { g.add(g.value()) }
        default: g.add("GETKEYS"); g.add(g.pick(["nosuch", "get", "client", "config", "ping"])); if g.chance(50) { g.add(g.key()) }
        }
    },
    // MEMORY USAGE compared by shape (bytes by each server's own layout), and MEMORY's errors.
    CommandRow(name: "memory", weight: 2) { g in
        switch g.below(4) {
        case 0, 1: g.add("USAGE"); g.add(g.key()); if g.chance(30) { g.add("SAMPLES"); g.add(g.pick(["0", "5", "-1", "x"])) }
        case 2: for w in g.pick([["HELP"], ["PURGE"], ["BOGUS"], ["USAGE"], ["USAGE", "a", "BOGUS"], ["PURGE", "x"]]) { g.add(w) }
        default: g.add("usage"); g.add(g.key()); g.add("SAMPLES")
        }
    },
    // LATENCY with the monitor off on both (nothing recorded), and its errors.
    CommandRow(name: "latency", weight: 1) { g in
        for w in g.pick([["LATEST"], ["HISTORY", "command"], ["RESET"], ["RESET", "command", "x"], ["HELP"], ["BOGUS"], ["HISTORY"], ["LATEST", "x"]]) { g.add(w) }
    },
    // SLOWLOG in forms that do not depend on how long commands took here and there.
    // Each form stays independent of the servers' timing when the stream drops its last argument (a bare
    // SLOWLOG LEN or GET would show whatever either server found slow).
    CommandRow(name: "slowlog", weight: 1) { g in
        for w in g.pick([["GET", "x", "y"], ["GET", "-2", "y"], ["GET", "1", "2", "3"], ["HELP"], ["help"], ["RESET"], ["BOGUS"], ["LEN", "x", "y"]]) { g.add(w) }
    },
    CommandRow(name: "nosuchcommand", weight: 1) { g in if g.chance(50) { g.add(g.value()) } },
    // Transactions (multi.c): "multi" draws the whole transaction (Generator.transactionBody); EXEC and
    // DISCARD alone are the errors of a client without MULTI.
    CommandRow(name: "multi", weight: 6) { _ in },
    CommandRow(name: "exec", weight: 1) { _ in },
    CommandRow(name: "discard", weight: 1) { _ in },
    CommandRow(name: "watch", weight: 3) { g in keys(&g) },
    CommandRow(name: "unwatch", weight: 1) { _ in },
    // Pub/sub (pubsub.c): "subscribe" and the like draw a whole episode (Generator.subscribedEpisode).
    CommandRow(name: "subscribe", weight: 3) { g in channels(&g, g.pick(channelPool)) },
    CommandRow(name: "psubscribe", weight: 2) { g in
        let p = g.pick(patternPool)
        channels(&g, g.patternsAvoidNotifications && p == "*" ? "ch*" : p)
    },
    CommandRow(name: "ssubscribe", weight: 1) { g in channels(&g, g.pick(channelPool)) },
    CommandRow(name: "unsubscribe", weight: 2) { g in channels(&g, g.pick(channelPool), min: 0) },
    CommandRow(name: "punsubscribe", weight: 2) { g in channels(&g, g.pick(patternPool), min: 0) },
    CommandRow(name: "sunsubscribe", weight: 1) { g in channels(&g, g.pick(channelPool), min: 0) },
    CommandRow(name: "publish", weight: 3) { g in g.add(g.pick(channelPool)); g.add(g.value()) },
    CommandRow(name: "spublish", weight: 1) { g in g.add(g.pick(channelPool)); g.add(g.value()) },
    CommandRow(name: "pubsub", weight: 2) { g in
        switch g.below(8) {
        case 0: g.add("CHANNELS"); if g.chance(60) { g.add(g.pick(patternPool)) }
        case 1: g.add("NUMSUB"); for _ in 0..<g.below(4) { g.add(g.pick(channelPool)) }
        case 2: g.add("NUMPAT")
        case 3: g.add("SHARDCHANNELS"); if g.chance(60) { g.add(g.pick(patternPool)) }
        case 4: g.add("SHARDNUMSUB"); for _ in 0..<g.below(4) { g.add(g.pick(channelPool)) }
        case 5: g.add(g.pick(["HELP", "help"]))
        case 6: g.add(g.pick(["CHANNELS", "NUMPAT"])); g.add("x"); g.add("y")
        default: g.add(g.pick(["NOSUCH", "numsubx"]))
        }
    },
    CommandRow(name: "reset", weight: 1) { _ in },
]

/// HSCAN/SSCAN's cursor and options: COUNT 1000 (one call walks a small value) with or without MATCH,
/// or a failing form.
private func scanOfValue(_ g: inout Generator) {
    if g.chance(10) {
        for w in g.pick([["abc"], [" 0"], ["+"], ["0", "COUNT", "0"], ["0", "COUNT", "abc"], ["0", "MATCH"], ["0", "TYPE", "string"]]) { g.add(w) }
        return
    }
    g.add(g.pick(["0", "0", "", "+0", "-0"]))  // strtoul's zeros
    if g.chance(50) { g.add("MATCH"); g.add(g.pattern()) }
    g.add("COUNT"); g.add("1000")
}

private let channelPool = ["ch1", "ch2", "news.a", "news.b", "", "ch1"]
private let patternPool = ["ch*", "news.*", "*", "ch?", "[a-c]h1", "", "\\*"]

/// One or more channel names (or patterns) after the first, drawn from `pool` like the first.
private func channels(_ g: inout Generator, _ first: String, min: Int = 1) {
    let pool = patternPool.contains(first) && !channelPool.contains(first) ? patternPool : channelPool
    let n = min == 0 && g.chance(50) ? 0 : 1 + g.below(3)
    for i in 0..<n {
        let name = i == 0 ? first : g.pick(pool)
        g.add(g.patternsAvoidNotifications && name == "*" ? "ch*" : name)
    }
}

/// The blocking commands: their timeout is drawn short, and must stay their last argument.
let blockingRows: Set<String> = ["blpop", "brpop", "blmove", "brpoplpush", "blmpop", "bzpopmin", "bzpopmax", "bzmpop"]

/// The rows a subscribed client's episode is drawn from (in RESP2 anything else is refused there, which a
/// GET and a PUBLISH among them check).
let subscribedRows: Set<String> = ["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
    "sunsubscribe", "publish", "spublish", "pubsub", "ping", "get", "reset"]

/// The rows a transaction's body is drawn from: not SCAN (the runner walks its cursor), SELECT (the
/// runner follows the database by replies), the rows of connection state, or commands compared by a
/// looser rule than equality (EXEC's array is compared exactly).
let transactionRows: Set<String> = Set(commandRows.map(\.name)).subtracting(
    ["scan", "select", "multi", "exec", "discard", "watch", "hello", "auth", "client", "debug", "config", "command",
     "randomkey", "ttl", "pttl", "expiretime", "pexpiretime", "keys", "dbsize", "time", "lastsave", "object",
     // Connection state the runner follows by replies, outside transactions.
     "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "reset", "publish", "spublish"])

/// Names COMMAND INFO and COMMAND DOCS are asked about: commands whose rows match Redis' whole (not the
/// containers, whose subcommand lists Redis orders by hash and which have subcommands we lack), full
/// subcommand names, and names that are not commands.
let introspected = [
    "get", "set", "getex", "mset", "incrbyfloat", "setrange", "del", "exists", "scan", "keys", "expire", "pexpireat",
    "ttl", "flushall", "ping", "echo", "select", "auth", "hello", "quit", "time", "shutdown", "save", "bgsave",
    "info", "debug", "config|get", "config|set", "client|id", "object|encoding", "command|getkeys", "GET",
    "nosuch", "client|nosuch", "post",
]
/// RESTORE payloads: valid ones (Redis 7.0's own DUMPs) and broken ones, checksummed so that each reaches the
/// check it is meant for.
/// Which of them Redis 7.0 accepts though their value does not end at the footer.
private let laxPayloads: Set<Int> = [7, 8]
private let restorePayloads: [[UInt8]] = [
    [0x00, 0xc0, 0x7b, 0x0a, 0x00, 0x48, 0xe2, 0x53, 0xe1, 0x00, 0x7a, 0x67, 0xb9],  // Redis 7.0's DUMP of '123'
    [0x00, 0xc3, 0x09, 0x1e, 0x01, 0x78, 0x78, 0xe0, 0x11, 0x00, 0x01, 0x78, 0x78, 0x0a, 0x00, 0xf0, 0x67, 0x3f, 0xdf, 0x20, 0x01, 0xeb, 0x95],  // Redis 7.0's DUMP of 'xxx...'
    [0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a, 0x00, 0x63, 0x72, 0xdf, 0x76, 0x65, 0x34, 0x20, 0x0a],  // Redis 7.0's DUMP of 'hello'
    [0x00, 0x00, 0x0a, 0x00, 0x5d, 0x9b, 0x5c, 0x40, 0x0f, 0x7f, 0xa2, 0xda],  // Redis 7.0's DUMP of ''
    [0x00, 0x01, 0x76, 0x09, 0x00, 0x41, 0xfa, 0x9f, 0x7e, 0x4d, 0xbe, 0xe9, 0x7f],  // version 9
    [0x00, 0x01, 0x76, 0x0b, 0x00, 0xf8, 0xd7, 0x73, 0xc1, 0xe4, 0xa7, 0x63, 0x47],  // version 11
    [0x14, 0x01, 0x76, 0x0a, 0x00, 0xb4, 0x18, 0x80, 0x8f, 0x7b, 0x9c, 0x3c, 0x37],  // type 20
    [0x00, 0x01, 0x76, 0x7a, 0x0a, 0x00, 0x80, 0x3f, 0x6a, 0x27, 0xca, 0x6c, 0x06, 0xbe],  // a byte after the value
    [0x00, 0x05, 0x76, 0x0a, 0x00, 0x5f, 0xa2, 0x04, 0x32, 0x31, 0xd5, 0xbd, 0xab],  // a length past the value
    [0x0a, 0x00, 0x5d, 0x9b, 0x5c, 0x40, 0x0f, 0x7f, 0xa2, 0xda],  // no value
    [0x00, 0x01, 0x76, 0x0a, 0x00, 0x91, 0x08, 0xce, 0xb2, 0x19, 0x38, 0x8a, 0x31],  // a wrong checksum
    [0x00, 0x01, 0x76, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],  // a zero checksum
    [0x00, 0x01, 0x76, 0x0a, 0x00, 0x91, 0x08, 0xce, 0xb2],  // too short
]
