import Glibc
import RESP
import KVEngine

// A session: one connection to each server, the same commands to both, every reply compared.
//
// Commands go in segments (a batch pipelined to both servers at once, cut before each SCAN, which is
// a walk the session drives cursor by cursor on each server). After each segment kvserver runs VERIFY.
//
// TIME. Both servers expire keys by their own clock, at the moment each runs the command, so a key
// given a few milliseconds to live may be alive on one and gone on the other. The session knows every
// expiry the generator drew and keeps, per key, windows of doubt around the instants they may fall at
// ([send + ms - margin, receive + ms + margin]); a command that names another key in doubt passes the
// doubt on (RENAME, MSET...). A difference on a command whose keys are in doubt during its segment is
// excused, counted, and the keys are deleted on both servers so that the two agree again; so are the
// keys of a write that touched a key in doubt even when the replies agree (SET k v KEEPTTL answers OK on
// both, but may keep an expiry on one only). Which commands write, Redis itself says (COMMAND INFO).
// Nothing else is excused, except the known differences listed in docs/compat.md.

struct Mismatch {
    let index: Int
    let command: GeneratedCommand
    let ours: String
    let redis: String
}

struct StreamEntry {
    let command: GeneratedCommand
    /// The database the command ran in.
    let db: Int
}

struct Counters {
    var commands = 0
    var excused = 0
    var known: [String: Int] = [:]
    var verifies = 0
    var notifications = 0
}

final class Session {
    let ours: Connection
    let redis: Connection
    private(set) var db = 0
    /// Every command sent, in order, with its database (the shrinker replays tails of it).
    private(set) var log: [StreamEntry] = []
    var counters = Counters()
    /// Per key: windows (ms since the epoch) in which an expiry of the key may fall.
    private var doubt: [[UInt8]: [Window]] = [:]
    struct Window {
        var lo: Int64
        var hi: Int64
    }
    static let margin: Int64 = 15
    /// Names of the commands Redis flags `write`.
    let writes: Set<String>
    /// DBSIZE counts a key whose time passed until each server removes it: allow for keys whose window
    /// ended this long ago (both servers' active expiry reaches a small keyspace well within it).
    static let removalLag: Int64 = 3000

    /// Keyspace notifications, when they are compared too (Subscriptions.swift).
    private let notifications: NotificationWatch?

    init(oursPort: Int, redisPort: Int, resp3: Bool, writes: Set<String>, startDB: Int = 0, notifications: Bool = false) throws(Connection.Lost) {
        ours = try Connection(port: oursPort)
        redis = try Connection(port: redisPort)
        self.notifications = notifications ? try NotificationWatch(oursPort: oursPort, redisPort: redisPort) : nil
        self.writes = writes
        self.resp3 = resp3
        protocol3 = resp3
        if resp3 {
            _ = try ours.call("HELLO", "3")
            _ = try redis.call("HELLO", "3")
        }
        if startDB != 0 { try select(startDB) }
    }

    /// A MULTI is open on both connections (commands are being queued).
    private var transactionOpen = false
    /// The commands the open transaction queued: EXEC's replies are compared each by its command's rule.
    private var queued: [GeneratedCommand] = []
    /// What each connection listens to (Subscriptions.swift).
    private var oursSubscriptions = SubscriptionModel()
    private var redisSubscriptions = SubscriptionModel()
    private let resp3: Bool
    /// The protocol the connections speak now (a HELLO 2 or a RESET in the stream changes it).
    private var protocol3: Bool
    /// A RESP2 connection with a subscription refuses everything but the pub/sub commands.
    private var subscribedMode: Bool { !protocol3 && !(oursSubscriptions.isEmpty && redisSubscriptions.isEmpty) }
    /// Keys to resynchronise that could not be yet: a RESP2 subscriber, or an open MULTI, cannot run DEL.
    /// They stay excused (diverged) until they are.
    private var unsynced: [(db: Int, keys: [[UInt8]])] = []

    private func select(_ n: Int) throws(Connection.Lost) {
        _ = try ours.call("SELECT", String(n))
        _ = try redis.call("SELECT", String(n))
        db = n
    }

    /// Runs `commands` (SCAN walks included); the first difference that is neither in doubt nor known, if any.
    func run(_ commands: [GeneratedCommand]) -> Mismatch? {
        var segment: [GeneratedCommand] = []
        for c in commands {
            if c.name == "scan" && c.args.count >= 2 {
                if let m = runSegment(segment) { return m }
                segment = []
                if let m = scanWalk(c) { return m }
            } else {
                segment.append(c)
            }
        }
        return runSegment(segment)
    }

    private func runSegment(_ segment: [GeneratedCommand]) -> Mismatch? {
        if segment.isEmpty { return nil }
        let sent = wallClockMilliseconds()
        let oursReplies: [RESPValue], redisReplies: [RESPValue]
        switch exchange(segment) {
        case (.success(let o), .success(let r)): (oursReplies, redisReplies) = (o, r)
        case (let o, let r):
            func text(_ x: Result<[RESPValue], Connection.Lost>) -> String {
                if case .failure(let e) = x { "connection lost: \(e)" } else { "(replied)" }
            }
            log += segment.map { StreamEntry(command: $0, db: db) }
            return Mismatch(index: log.count - 1, command: segment[segment.count - 1], ours: text(o), redis: text(r))
        }
        let received = wallClockMilliseconds()
        var compared = Set<[UInt8]>()
        for c in segment {
            if comparesExpiryInDoubt(c, sent: sent, received: received) { compared.formUnion(c.keys) }
            noteExpiries(c, sent: sent, received: received)
        }
        let inDoubt = keysInDoubt(from: sent, to: received).union(compared)
        let allowance = keysExpiringNear(from: sent - Self.removalLag, to: received)
        var resync: [(db: Int, keys: [[UInt8]])] = []
        // Keys whose contents differ on purpose from here to the end of the segment (SPOP removed different
        // members on each server; a write that read them spreads the difference): excused like doubt.
        var diverged = Set(unsynced.flatMap(\.keys))
        var protocolReset = false
        for (i, c) in segment.enumerated() {
            let entryDB = db
            log.append(StreamEntry(command: c, db: entryDB))
            counters.commands += 1
            let (o, r) = (oursReplies[i], redisReplies[i])
            if c.name == "select", case .simple("OK") = o, o == r, c.args.count == 2, let n = Int(String(decoding: c.args[1], as: UTF8.self)) {
                db = n
            }
            // RESET: database 0 and RESP2 on both; a RESP3 session says HELLO 3 again after the segment.
            if c.name == "reset" && r == .simple("RESET") && o == r {
                db = 0
                protocol3 = false
                protocolReset = true
            }
            if c.name == "hello", c.args.count >= 2 {
                switch r {
                case .map, .array: protocol3 = String(decoding: c.args[1], as: UTF8.self) == "3"
                default: break
                }
            }
            // Follow MULTI by redis-server's replies (a shrunk stream may leave one open): no VERIFY then.
            var transaction: [GeneratedCommand] = []
            if c.name == "multi" && r == .simple("OK") { transactionOpen = true; queued = [] }
            if transactionOpen && r == .simple("QUEUED") { queued.append(c) }
            if c.name == "exec" || c.name == "discard", transactionOpen {
                if case .error(let e) = r, e.hasSuffix("without MULTI") {} else {
                    transactionOpen = false
                    transaction = queued
                }
            }
            let touchedDiverged = c.keys.contains(where: diverged.contains)
            if touchedDiverged && writes.contains(c.name) { diverged.formUnion(c.keys) }
            // SWAPDB, MOVE and COPY ... DB carry a diverged value into another database: agree there too.
            if !diverged.isEmpty {
                for other in Self.databasesReached(by: c) { resync.append((other, Array(diverged))) }
            }
            let touchedDoubt = touchedDiverged || c.keys.contains(where: inDoubt.contains)
            let agreed: Bool
            var knownInside = false  // a queued command differed as docs/compat.md says: its keys agree again after
            if c.name == "exec", case .array(let a) = o, case .array(let b) = r, a.count == b.count, a.count == transaction.count {
                agreed = transaction.indices.allSatisfy { i in
                    if agree(rule(for: transaction[i]), a[i], b[i], doubtful: inDoubt, countAllowance: allowance) { return true }
                    guard let known = knownDifferences.first(where: { $0.matches(transaction[i], a[i], b[i]) }) else { return false }
                    counters.known[known.id, default: 0] += 1
                    knownInside = true
                    return true
                }
            } else {
                agreed = agree(rule(for: c), o, r, doubtful: inDoubt, countAllowance: allowance)
            }
            if agreed {
                // SPOP removes different members on each server: its keys agree again from here.
                let popped = c.name == "spop" || (c.name == "exec" && transaction.contains { $0.name == "spop" })
                if popped { diverged.formUnion(c.keys) }
                if (touchedDoubt && writes.contains(c.name)) || popped || knownInside { resync.append((entryDB, c.keys)) }
                continue
            }
            if let known = knownDifferences.first(where: { $0.matches(c, o, r) }) {
                counters.known[known.id, default: 0] += 1
                // A write that differed on purpose may leave its keys different: they agree again from here.
                if writes.contains(c.name) { resync.append((entryDB, c.keys)) }
                continue
            }
            if touchedDoubt && !(c.probe && o.isInteger && r.isInteger) {
                counters.excused += 1
                resync.append((entryDB, c.keys))
                continue
            }
            return Mismatch(index: log.count - 1, command: c, ours: describe(o), redis: describe(r))
        }
        if let notifications {
            guard let (o, r) = try? notifications.drain() else {
                return Mismatch(index: log.count - 1, command: segment[segment.count - 1], ours: "notification watcher lost", redis: "")
            }
            if o == r { counters.notifications += o.count }
            if o != r && inDoubt.isEmpty {
                let i = (0..<Swift.min(o.count, r.count)).first { o[$0] != r[$0] } ?? Swift.min(o.count, r.count)
                func from(_ xs: [RESPValue]) -> String { "notifications from #\(i + 1) of the batch: " + describe(.array(Array(xs.dropFirst(i).prefix(6)))) }
                return Mismatch(index: log.count - 1, command: segment[segment.count - 1], ours: from(o), redis: from(r))
            }
        }
        resynchronise(resync)
        if protocolReset && resp3 {
            // RESET again (the client may have subscribed since, in RESP2, where HELLO is refused), then HELLO 3.
            let restore = [["RESET"], ["HELLO", "3"]].map { StreamEntry(command: Generator.command($0.map { Array($0.utf8) }, keys: []), db: 0) }
            _ = exchange(restore.map(\.command))
            log += restore
            db = 0
            protocol3 = true
        }
        return verifyOurs()
    }

    /// Pipelines the commands to both servers (both work at once), then reads every reply of each.
    private func exchange(_ commands: [GeneratedCommand]) -> (Result<[RESPValue], Connection.Lost>, Result<[RESPValue], Connection.Lost>) {
        func send(_ conn: Connection) -> Connection.Lost? {
            do { try conn.send(commands.map(\.args)) } catch { return error }
            return nil
        }
        func receive(_ conn: Connection, _ model: inout SubscriptionModel, _ sendError: Connection.Lost?) -> Result<[RESPValue], Connection.Lost> {
            if let sendError { return .failure(sendError) }
            var replies: [RESPValue] = []
            do {
                for c in commands { replies.append(try model.read(c, from: conn)) }
            } catch {
                return .failure(error)
            }
            return .success(replies)
        }
        let (o, r) = (send(ours), send(redis))
        return (receive(ours, &oursSubscriptions, o), receive(redis, &redisSubscriptions, r))
    }

    /// The databases other than the current one that `c` can move a value into.
    static func databasesReached(by c: GeneratedCommand) -> [Int] {
        func int(_ i: Int) -> Int? { i < c.args.count ? Int(String(decoding: c.args[i], as: UTF8.self)) : nil }
        switch c.name {
        case "swapdb": return [int(1), int(2)].compactMap { $0 }
        case "move": return [int(2)].compactMap { $0 }
        case "copy":
            let i = c.args.firstIndex { String(decoding: $0, as: UTF8.self).lowercased() == "db" }
            return i.flatMap { int($0 + 1) }.map { [$0] } ?? []
        default: return []
        }
    }

    /// Deletes keys on both servers, so that they agree again (logged, so that replays do the same).
    private func resynchronise(_ new: [(db: Int, keys: [[UInt8]])]) {
        let keys = unsynced + new
        // Refused (subscribed) or queued (MULTI) on both: left different, so wait until DEL runs (seed 1103:
        // an SPOP, then a SUBSCRIBE that a bare UNSUBSCRIBE left listening to a pattern; SUNION differed later).
        unsynced = subscribedMode || transactionOpen ? keys : []
        if keys.isEmpty || !unsynced.isEmpty { return }
        let back = db
        var commands: [StreamEntry] = []
        func select(_ d: Int) { commands.append(StreamEntry(command: Generator.command([Array("SELECT".utf8), Array(String(d).utf8)], keys: []), db: d)) }
        for (d, k) in keys {
            if d != back { select(d) }
            commands.append(StreamEntry(command: Generator.command([Array("DEL".utf8)] + k, keys: k), db: d))
            if d != back { select(back) }
        }
        _ = exchange(commands.map(\.command))
        log += commands
    }

    private func verifyOurs() -> Mismatch? {
        // VERIFY is refused inside MULTI (and would doom the transaction), and in RESP2 subscribed mode.
        if transactionOpen || subscribedMode { return nil }
        counters.verifies += 1
        let v = (try? oursSubscriptions.read(Generator.command([Array("VERIFY".utf8)], keys: []), sending: ours)).map(describe) ?? "connection lost"
        if v == "+OK" { return nil }
        return Mismatch(index: log.count - 1, command: log.last?.command ?? Generator.command([], keys: []),
                        ours: "VERIFY after this command's batch: \(v)", redis: "(not asked)")
    }

    // MARK: Doubt

    private func noteExpiries(_ c: GeneratedCommand, sent: Int64, received: Int64) {
        // A command that names a key in doubt may move its value (and expiry) to the others it names.
        var windows: [Window] = []
        for k in c.keys { windows += doubt[k] ?? [] }
        for ms in c.expiresIn { windows.append(Window(lo: sent + ms - Self.margin, hi: received + ms + Self.margin)) }
        if windows.isEmpty { return }
        // Overlapping windows merged, and those long past (they matter to nothing, not even DBSIZE's
        // allowance) dropped: a key keeps a handful however many expiries it was given.
        windows.sort { $0.lo < $1.lo }
        var merged: [Window] = []
        for w in windows where w.hi >= sent - 2 * Self.removalLag {
            if let last = merged.last, w.lo <= last.hi {
                merged[merged.count - 1].hi = Swift.max(last.hi, w.hi)
            } else {
                merged.append(w)
            }
        }
        for k in c.keys { doubt[k] = merged }
    }

    /// EXPIRE's GT and LT compare the new expiry with the key's current one. Each server computes both
    /// from its own clock at the moment it runs the command, so when the two instants fall within a
    /// window of each other (`SET k v EX 1`, then `EXPIRE k 1 GT` a few commands later) one server may
    /// see them a millisecond apart and the other equal: the reply is in doubt, as an expiry is.
    private func comparesExpiryInDoubt(_ c: GeneratedCommand, sent: Int64, received: Int64) -> Bool {
        guard ["expire", "pexpire", "expireat", "pexpireat"].contains(c.name),
              c.args.dropFirst(3).contains(where: { ["gt", "lt"].contains(String(decoding: $0, as: UTF8.self).lowercased()) })
        else { return false }
        let new = c.expiresIn.map { Window(lo: sent + $0 - Self.margin, hi: received + $0 + Self.margin) }
        return c.keys.contains { k in
            (doubt[k] ?? []).contains { old in new.contains { $0.lo <= old.hi && $0.hi >= old.lo } }
        }
    }

    private func keysInDoubt(from: Int64, to: Int64) -> Set<[UInt8]> {
        Set(doubt.filter { $0.value.contains { $0.lo <= to && $0.hi >= from } }.keys)
    }

    private func keysExpiringNear(from: Int64, to: Int64) -> Int {
        // Both databases in use: keys are per database, doubt is by name.
        2 * keysInDoubt(from: from, to: to).count
    }

    /// The latest instant any expiry may still fall at.
    var lastDoubt: Int64 { doubt.values.joined().map(\.hi).max() ?? 0 }

    // MARK: SCAN

    /// A full SCAN walk on each server with the command's options; the sets of keys compared, keys in
    /// doubt aside. An error must be the same error.
    private func scanWalk(_ c: GeneratedCommand) -> Mismatch? {
        let sent = wallClockMilliseconds()
        log.append(StreamEntry(command: c, db: db))
        counters.commands += 1
        struct Failure: Error, Equatable { let text: String }
        func walk(_ conn: Connection) -> Result<[[UInt8]], Failure> {
            var cursor: [UInt8] = Array("0".utf8)
            var keys: [[UInt8]] = []
            for _ in 0..<100_000 {
                var args = c.args
                args[1] = cursor
                guard let reply = try? conn.call(args) else { return .failure(Failure(text: "connection lost")) }
                guard case .array(let parts) = reply, parts.count == 2, case .bulk(let next) = parts[0],
                      let batch = elements(parts[1]) else { return .failure(Failure(text: describe(reply))) }
                keys += batch
                cursor = next
                if cursor == Array("0".utf8) { return .success(keys) }
            }
            return .failure(Failure(text: "SCAN did not end within 100000 calls"))
        }
        let (o, r) = (walk(ours), walk(redis))
        let inDoubt = keysInDoubt(from: sent, to: wallClockMilliseconds())
        switch (o, r) {
        case (.failure(let a), .failure(let b)) where a == b: return nil
        case (.success(let a), .success(let b)) where Set(a).symmetricDifference(Set(b)).isSubset(of: inDoubt): return nil
        default:
            func text(_ x: Result<[[UInt8]], Failure>) -> String {
                switch x {
                case .success(let keys): "keys " + describe(.array(Set(keys).sorted { $0.lexicographicallyPrecedes($1) }.map { .bulk($0) }))
                case .failure(let e): e.text
                }
            }
            return Mismatch(index: log.count - 1, command: c, ours: text(o), redis: text(r))
        }
    }

    // MARK: The whole keyspace

    /// Compares every key of databases 0 and 1 — type, value, whether it has a TTL — once every expiry
    /// in doubt has passed (waiting up to `maxWait` ms for it).
    func compareKeyspaces(maxWait: Int64 = 3000) -> Mismatch? {
        let wait = Swift.min(maxWait, lastDoubt + Self.margin - wallClockMilliseconds())
        if wait > 0 { usleep(UInt32(wait) * 1000) }
        let back = db
        defer { try? select(back) }
        if subscribedMode {
            _ = try? ours.call("RESET")
            _ = try? redis.call("RESET")
            oursSubscriptions.reset()
            redisSubscriptions.reset()
        }
        for d in [0, 1] {
            do {
                try select(d)
                let inDoubt = keysInDoubt(from: wallClockMilliseconds(), to: Int64.max)
                guard let a = elements(try ours.call("KEYS", "*")), let b = elements(try redis.call("KEYS", "*")) else {
                    return keyspaceMismatch("KEYS * did not answer an array", d)
                }
                let difference = Set(a).symmetricDifference(Set(b)).subtracting(inDoubt)
                if !difference.isEmpty {
                    return keyspaceMismatch("keys on one server only: " + describe(.array(difference.map { .bulk($0) })), d)
                }
                for k in Set(a).intersection(Set(b)).subtracting(inDoubt) {
                    for probe in ["TYPE", "GET", "PTTL"] {
                        let args = [Array(probe.utf8), k]
                        let (o, r) = (try ours.call(args), try redis.call(args))
                        let c = Generator.command(args, keys: [k])
                        if !agree(rule(for: c), o, r, doubtful: [], countAllowance: 0) {
                            return Mismatch(index: log.count, command: c, ours: describe(o), redis: describe(r))
                        }
                    }
                }
            } catch {
                return keyspaceMismatch("connection lost: \(error)", d)
            }
        }
        return nil
    }

    private func keyspaceMismatch(_ what: String, _ d: Int) -> Mismatch {
        Mismatch(index: log.count, command: Generator.command([Array("KEYS".utf8), Array("*".utf8)], keys: []),
                 ours: "database \(d) at the end: \(what)", redis: "")
    }
}
