import Foundation
import Glibc
import RESP
import KVEngine

// kvdifftest: the differential tester. The same random command stream goes to a real redis-server and
// to kvserver, both started here on free loopback ports, and every reply is compared (Compare.swift,
// Session.swift); at the end of each seed the whole keyspace is compared. A difference is shrunk to the
// shortest stream that shows it (Shrinker.swift) and written to a file that --commands-from replays.
// Design and how to extend it: docs/testing.md.

let usage = """
    Usage: kvdifftest [options]
      --seed S             first seed (default: random, printed)
      --seeds N            seeds S, S+1, ... S+N-1 (default 1)
      --commands N         commands per seed (default 20000)
      --batch N            at most N commands pipelined at once (default 64; each batch draws 1...N)
      --seconds T          stop starting new batches after T seconds in all (default: no limit)
      --resp3              both connections speak RESP3 (HELLO 3)
      --notifications      keyspace notifications on (KEAn), and every one compared too
      --commands-from F    replay the commands in F (one per line, redis-cli quoting) instead of a random stream
      --kvserver PATH      the kvserver binary (default: next to kvdifftest)
      --redis-server PATH  the redis-server binary (default: on PATH)
      --io-backend NAME    kvserver's back end (io_uring, the default; epoll or dispatch)
      --out DIR            where a shrunk failing stream is written (default: the current directory)
      --list-known         print the known differences' ids and exit
    Exit status: 0 when every reply agreed (up to docs/compat.md), 1 on a mismatch, 2 on bad usage or a server
    that would not start.

    """

struct Options {
    var seed = UInt64.random(in: 1...999_999)
    var seeds = 1
    var commands = 20_000
    var batch = 64
    var seconds: Double? = nil
    var resp3 = false
    var notifications = false
    var commandsFrom: String? = nil
    var kvserver: String? = nil
    var redisServer: String? = nil
    var backend = "io_uring"
    var out = "."
}

/// Prints and flushes at once: a run cut short by a timeout keeps everything it reported.
func say(_ text: String) {
    print(text)
    fflush(nil)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    func value(_ flag: String) -> String {
        guard let v = args.popFirst() else { fail("\(flag) needs a value\n\(usage)") }
        return v
    }
    func number<T: LosslessStringConvertible>(_ flag: String) -> T {
        guard let n = T(value(flag)) else { fail("\(flag) needs a number") }
        return n
    }
    while let a = args.popFirst() {
        switch a {
        case "--seed": o.seed = number(a)
        case "--seeds": o.seeds = number(a)
        case "--commands": o.commands = number(a)
        case "--batch": o.batch = Swift.max(1, number(a))
        case "--seconds": o.seconds = number(a)
        case "--resp3": o.resp3 = true
        case "--notifications": o.notifications = true
        case "--commands-from": o.commandsFrom = value(a)
        case "--kvserver": o.kvserver = value(a)
        case "--redis-server": o.redisServer = value(a)
        case "--io-backend": o.backend = value(a)
        case "--out": o.out = value(a)
        case "--list-known":
            for k in knownDifferences { say("\(k.id)\t\(k.summary)") }
            exit(0)
        case "--help", "-h":
            print(usage, terminator: "")
            exit(0)
        default: fail("unknown option \(a)\n\(usage)")
        }
    }
    return o
}

/// Commands in redis-cli's quoting, one per line; blank lines and lines starting with # are skipped.
func readCommands(_ path: String) -> [GeneratedCommand] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fail("cannot read \(path)") }
    return text.split(separator: "\n").compactMap { line -> GeneratedCommand? in
        let l = line.trimmingCharacters(in: .whitespaces)
        if l.isEmpty || l.hasPrefix("#") { return nil }
        var storage: [UInt8] = []
        var spans: [Range<Int>] = []
        let ok = Array(l.utf8).withUnsafeBytes { splitInlineArguments($0, into: &storage, &spans) }
        guard ok, !spans.isEmpty else { fail("cannot parse: \(l)") }
        let args = spans.map { Array(storage[$0]) }
        // Which arguments are keys is not written down: every argument counts, which only widens doubt.
        return GeneratedCommand(args: args, keys: Array(args.dropFirst()), expiresIn: [])
    }
}

let options = parseOptions()
guard let kvPath = locate("kvserver", explicit: options.kvserver) else { fail("kvserver not found: build it, or pass --kvserver") }
guard let redisPath = locate("redis-server", explicit: options.redisServer) else {
    fail("redis-server not found: install Debian's redis-server (scripts/test does), or pass --redis-server")
}

stopChildrenOnSignals()
/// Low conversion thresholds on both servers, so that the random stream's small hashes and sets change
/// encoding often (the set listpack, Redis 7.2's, is ours only); list compression set alike on both (our
/// default depth is 2, Redis' 0).
let lowEncodingThresholds = ["--list-compress-depth", "1", "--hash-max-listpack-entries", "8", "--hash-max-listpack-value", "16", "--set-max-intset-entries", "8",
                             "--zset-max-listpack-entries", "8", "--zset-max-listpack-value", "16"]
let servers: (ours: ServerProcess, redis: ServerProcess)
do {
    // An LRU policy with a limit never reached, on both: Redis then gives each key its own object, so OBJECT
    // IDLETIME is the key's own (with no limit it shares the integers 0-9999 among keys, and with them
    // their access time: compat.md, shared-integer-idletime). Nothing is ever evicted.
    servers.redis = try ServerProcess(name: "redis-server", executable: redisPath) { port, dir in
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no",
         "--maxmemory", "100gb", "--maxmemory-policy", "allkeys-lru"] + lowEncodingThresholds
    }
    servers.ours = try ServerProcess(name: "kvserver", executable: kvPath) { port, dir in
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir, "--io-backend", options.backend,
         "--maxmemory", "100gb", "--maxmemory-policy", "allkeys-lru", "--active-defrag-ignore-bytes", "100mb"]
            + lowEncodingThresholds + ["--set-max-listpack-entries", "8", "--set-max-listpack-value", "16"]
    }
} catch {
    fail("\(error)")
}

/// The commands Redis flags `write`, from its own COMMAND INFO.
@MainActor func writeCommands() -> Set<String> {
    guard let c = try? Connection(port: servers.redis.port), case .array(let infos)? = try? c.call("COMMAND") else {
        servers.ours.stop()
        servers.redis.stop()
        fail("COMMAND failed on redis-server")
    }
    var names: Set<String> = []
    for case .array(let info) in infos where info.count > 2 {
        guard case .bulk(let name) = info[0], case .array(let flags) = info[2] else { continue }
        if flags.contains(.simple("write")) { names.insert(String(decoding: name, as: UTF8.self)) }
    }
    return names
}
let writes = writeCommands().union(["exec"])  // EXEC writes what its commands write

/// Prints a mismatch, shrinks it, and writes the shortest stream found to a file.
@MainActor func report(_ m: Mismatch, seed: UInt64?, session: Session) {
    let label = seed.map { "seed \($0)" } ?? "replay"
    say("""
        MISMATCH (\(label), command #\(m.index + 1)):
          command:      \(m.command.display)
          kvserver:     \(m.ours)
          redis-server: \(m.redis)
        """)
    let shrinker = Shrinker(oursPort: servers.ours.port, redisPort: servers.redis.port, resp3: options.resp3,
                            writes: writes, notifications: options.notifications, deadline: wallClockMilliseconds() + 30_000)
    let stream: [StreamEntry]
    if let shortest = shrinker.shrink(session.log, m) {
        say("  shortest stream that reproduces it (\(shortest.count) commands, starting in database \(shortest[0].db)):")
        stream = shortest
    } else {
        say("  no tail of the stream reproduced it on a replay (timing?); the last commands before it:")
        stream = Array(session.log.prefix(m.index + 1).suffix(30))
    }
    for e in stream { say("    " + e.command.display) }
    let file = "\(options.out)/difftest-\(seed.map(String.init) ?? "replay")-\(getpid()).txt"
    let text = "# kvdifftest \(label): \(m.command.display)\n# kvserver: \(m.ours)\n# redis-server: \(m.redis)\n"
        + (stream.first.map { $0.db != 0 ? "SELECT \($0.db)\n" : "" } ?? "")
        + stream.map { $0.command.display + "\n" }.joined()
    if FileManager.default.createFile(atPath: file, contents: Data(text.utf8)) {
        say("  written to \(file): kvdifftest --commands-from \(file)")
    }
}

@MainActor func flushBoth() {
    for port in [servers.ours.port, servers.redis.port] { _ = try? Connection(port: port).call("FLUSHALL") }
}

let started = Date()
@MainActor func timeIsUp() -> Bool { options.seconds.map { Date().timeIntervalSince(started) >= $0 } ?? false }

var total = Counters()
var mismatches = 0
var seedsRun = 0
@MainActor func add(_ c: Counters) {
    total.commands += c.commands
    total.excused += c.excused
    total.verifies += c.verifies
    total.notifications += c.notifications
    for (k, n) in c.known { total.known[k, default: 0] += n }
}

@MainActor func runOne(seed: UInt64?, stream: (inout Generator) -> [GeneratedCommand]?) {
    flushBoth()
    let session: Session
    do {
        session = try Session(oursPort: servers.ours.port, redisPort: servers.redis.port, resp3: options.resp3, writes: writes,
                              notifications: options.notifications)
    } catch {
        say("cannot connect: \(error)")
        mismatches += 1
        return
    }
    var g = Generator(seed: seed ?? 0)
    g.patternsAvoidNotifications = options.notifications
    var failure: Mismatch? = nil
    while failure == nil, let batch = stream(&g) {
        failure = session.run(batch)
        if failure == nil && !(servers.ours.isRunning) {
            failure = Mismatch(index: session.log.count - 1, command: session.log.last!.command, ours: "kvserver exited", redis: "")
        }
    }
    if failure == nil { failure = session.compareKeyspaces() }
    add(session.counters)
    seedsRun += 1
    if let failure {
        mismatches += 1
        report(failure, seed: seed, session: session)
    } else if let seed {
        say("seed \(seed): \(session.counters.commands) commands agree (\(session.counters.excused) excused: expiry in doubt)")
    }
}

if let path = options.commandsFrom {
    var pending = readCommands(path)
    runOne(seed: nil) { _ in
        if pending.isEmpty { return nil }
        defer { pending = [] }
        return pending
    }
} else {
    for i in 0..<options.seeds where !timeIsUp() {
        let seed = options.seed &+ UInt64(i)
        var remaining = options.commands
        runOne(seed: seed) { g in
            guard remaining > 0 && !timeIsUp() else { return nil }
            g.now = wallClockMilliseconds()
            let n = Swift.min(remaining, 1 + g.below(options.batch))
            remaining -= n
            var batch = (0..<n).map { _ in g.next() }
            while g.inTransaction { batch.append(g.next()) }  // a batch never ends inside MULTI
            return batch
        }
    }
}

let known = total.known.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
say("difftest: \(seedsRun) seed(s), \(total.commands) commands, \(mismatches) mismatch(es), \(total.excused) excused (expiry in doubt), "
    + "\(total.verifies) VERIFY OK" + (options.notifications ? ", \(total.notifications) notifications agree" : "") + (known.isEmpty ? "" : ", known differences: \(known)")
    + " [\(String(format: "%.1f", Date().timeIntervalSince(started))) s]")
servers.ours.stop()
servers.redis.stop()
exit(mismatches == 0 ? 0 : 1)
