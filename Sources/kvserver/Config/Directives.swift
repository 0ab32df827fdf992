import Glibc
import KVEngine

/// One configuration directive: how to read it (from a conf file line, `--name values`, CONFIG SET) and
/// how to print it (CONFIG GET). `tokens` are the words after the name; directives taking one value get
/// one token.
struct Directive: Sendable {
    let name: String
    /// CONFIG SET may change it while the server runs.
    let mutable: Bool
    /// Takes a list of words (bind, client-output-buffer-limit); CONFIG SET splits its value on spaces.
    let multiWord: Bool
    let get: @Sendable (Config) -> String
    let set: @Sendable (inout Config, [String]) throws(ConfigError) -> Void
}

/// The directive table: the single source of truth for the conf file, the flags and CONFIG GET/SET.
/// conf/kvserver.conf documents each of these in the same order.
let directives: [Directive] = [
    Directive(name: "bind", mutable: false, multiWord: true, get: { $0.bind.joined(separator: " ") }) { c, t throws(ConfigError) in
        guard !t.isEmpty else { throw ConfigError("wrong number of arguments") }
        c.bind = t
    },
    integer("port", \.port, 0...65535, mutable: false),
    integer("tcp-backlog", \.tcpBacklog, 0...65535, mutable: false),
    boolean("protected-mode", \.protectedMode),
    Directive(name: "requirepass", mutable: true, multiWord: false, get: { $0.requirePass }) { c, t throws(ConfigError) in
        c.requirePass = try single(t)
    },
    integer("maxclients", \.maxClients, 1...1_000_000),
    integer("timeout", \.timeout, 0...Int(Int32.max)),
    integer("tcp-keepalive", \.tcpKeepalive, 0...Int(Int32.max)),
    integer("databases", \.databases, 1...Int(Int32.max), mutable: false),
    integer("io-threads", \.ioThreads, 1...128, mutable: false),
    Directive(name: "io-backend", mutable: false, multiWord: false, get: { $0.ioBackend.rawValue }) { c, t throws(ConfigError) in
        guard let v = IOBackendKind(rawValue: try single(t).lowercased()) else {
            throw ConfigError("argument(s) must be one of the following: epoll, io_uring, dispatch")
        }
        c.ioBackend = v
    },
    integer("io-uring-batch-usec", \.ioUringBatchMicros, 0...1000, mutable: false),
    memory("proto-max-bulk-len", \.protoMaxBulkLen, min: 1 << 20),
    memory("proto-inline-max-size", \.protoInlineMaxSize, min: 1 << 10),
    memory("client-query-buffer-limit", \.clientQueryBufferLimit, min: 1 << 20),
    Directive(
        name: "client-output-buffer-limit", mutable: true, multiWord: true,
        get: { c in
            let l = c.outputBufferLimit, p = c.pubsubOutputBufferLimit
            return "normal \(l.hard) \(l.soft) \(l.softSeconds) replica 268435456 67108864 60 pubsub \(p.hard) \(p.soft) \(p.softSeconds)"
        }
    ) { c, t throws(ConfigError) in
        // Redis' syntax: groups of <class> <hard> <soft> <soft-seconds>. There are no replicas yet: their
        // group is accepted so Redis conf files load, and ignored.
        guard !t.isEmpty, t.count % 4 == 0 else { throw ConfigError("wrong number of arguments") }
        for g in stride(from: 0, to: t.count, by: 4) {
            let cls = t[g].lowercased()
            guard ["normal", "replica", "slave", "pubsub"].contains(cls) else { throw ConfigError("Invalid client class specified in buffer limit configuration.") }
            guard let hard = parseMemory(t[g + 1]), let soft = parseMemory(t[g + 2]),
                  let secs = Int(t[g + 3]), secs >= 0 else {
                throw ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
            }
            let limit = OutputBufferLimit(hard: hard, soft: soft, softSeconds: secs)
            if cls == "normal" { c.outputBufferLimit = limit }
            if cls == "pubsub" { c.pubsubOutputBufferLimit = limit }
        }
    },
    Directive(name: "loglevel", mutable: true, multiWord: false, get: { $0.logLevel.name }) { c, t throws(ConfigError) in
        guard let l = LogLevel(name: try single(t).lowercased()) else {
            throw ConfigError("argument(s) must be one of the following: debug, verbose, notice, warning")
        }
        c.logLevel = l
    },
    Directive(name: "logfile", mutable: false, multiWord: false, get: { $0.logFile }) { c, t throws(ConfigError) in
        c.logFile = try single(t)
    },
    Directive(name: "pidfile", mutable: false, multiWord: false, get: { $0.pidFile }) { c, t throws(ConfigError) in
        c.pidFile = try single(t)
    },
    integer("hz", \.hz, 1...500, mutable: false),
    Directive(
        name: "save", mutable: true, multiWord: true,
        get: { $0.savePoints.map { "\($0.seconds) \($0.changes)" }.joined(separator: " ") }
    ) { c, t throws(ConfigError) in
        // `save ""` turns snapshots off; otherwise pairs of <seconds> <changes>.
        let words = t.filter { !$0.isEmpty }
        guard words.count % 2 == 0 else { throw ConfigError("Invalid save parameters") }
        var points: [SavePoint] = []
        for i in stride(from: 0, to: words.count, by: 2) {
            guard let s = Int(words[i]), let n = Int(words[i + 1]), s >= 1, n >= 0 else {
                throw ConfigError("Invalid save parameters")
            }
            points.append(SavePoint(seconds: s, changes: n))
        }
        c.savePoints = points
    },
    Directive(name: "dir", mutable: true, multiWord: false, get: { $0.dir }) { c, t throws(ConfigError) in
        let path = try single(t)
        var st = stat()
        guard stat(path, &st) == 0 else { throw ConfigError(String(cString: strerror(errno))) }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw ConfigError("Not a directory") }
        guard let resolved = realpath(path, nil) else { throw ConfigError(String(cString: strerror(errno))) }
        c.dir = String(cString: resolved)
        free(resolved)
    },
    Directive(name: "dbfilename", mutable: true, multiWord: false, get: { $0.dbFilename }) { c, t throws(ConfigError) in
        let name = try single(t)
        guard !name.isEmpty, !name.contains("/") else { throw ConfigError("dbfilename can't be a path, just a filename") }
        c.dbFilename = name
    },
    boolean("rdbcompression", \.rdbCompression),
    boolean("rdbchecksum", \.rdbChecksum),
    boolean("rdb-save-incremental-fsync", \.rdbSaveIncrementalFsync),
    boolean("stop-writes-on-bgsave-error", \.stopWritesOnBgsaveError),
    // There is no append-only file yet: "no" is accepted (Redis conf files and redis-benchmark, which reads
    // it with CONFIG GET and warns when it is missing, expect it), "yes" refused.
    Directive(name: "appendonly", mutable: true, multiWord: false, get: { _ in "no" }) { _, t throws(ConfigError) in
        switch try single(t).lowercased() {
        case "no": break
        case "yes": throw ConfigError("the append-only file is not supported yet")
        default: throw ConfigError("argument must be 'yes' or 'no'")
        }
    },
    integer("rdb-key-save-delay", \.rdbKeySaveDelay, 0...1_000_000),
    integer("key-load-delay", \.keyLoadDelay, 0...1_000_000),
    Directive(name: "enable-debug-command", mutable: false, multiWord: false, get: { $0.enableDebugCommand }) { c, t throws(ConfigError) in
        let v = try single(t).lowercased()
        guard ["no", "yes", "local"].contains(v) else { throw ConfigError("argument(s) must be one of the following: no, yes, local") }
        c.enableDebugCommand = v
    },
    integer("slowlog-log-slower-than", \.slowlogLogSlowerThan, -1...Int.max),
    integer("slowlog-max-len", \.slowlogMaxLen, 0...Int.max),
    integer("latency-monitor-threshold", \.latencyMonitorThreshold, 0...Int.max),
    // The ziplist names are Redis 7's aliases of the listpack ones.
    integer("hash-max-listpack-entries", \.hashMaxListpackEntries, 0...Int.max),
    integer("hash-max-ziplist-entries", \.hashMaxListpackEntries, 0...Int.max),
    memory("hash-max-listpack-value", \.hashMaxListpackValue, min: 0),  // memory values in Redis ("1kb")
    memory("hash-max-ziplist-value", \.hashMaxListpackValue, min: 0),
    integer("set-max-intset-entries", \.setMaxIntsetEntries, 0...Int.max),
    integer("set-max-listpack-entries", \.setMaxListpackEntries, 0...Int.max),
    memory("set-max-listpack-value", \.setMaxListpackValue, min: 0),
    integer("list-max-listpack-size", \.listMaxListpackSize, Int(Int32.min)...Int(Int32.max)),
    integer("list-max-ziplist-size", \.listMaxListpackSize, Int(Int32.min)...Int(Int32.max)),
    integer("list-compress-depth", \.listCompressDepth, 0...Int(Int32.max)),
    integer("zset-max-listpack-entries", \.zsetMaxListpackEntries, 0...Int.max),
    integer("zset-max-ziplist-entries", \.zsetMaxListpackEntries, 0...Int.max),
    memory("zset-max-listpack-value", \.zsetMaxListpackValue, min: 0),
    memory("zset-max-ziplist-value", \.zsetMaxListpackValue, min: 0),
    memory("maxmemory", \.eviction.maxMemory, min: 0),
    Directive(name: "maxmemory-policy", mutable: true, multiWord: false, get: { $0.eviction.policy.rawValue }) { c, t throws(ConfigError) in
        guard let p = EvictionPolicy(rawValue: try single(t).lowercased()) else {
            throw ConfigError("argument(s) must be one of the following: " + EvictionPolicy.allCases.map(\.rawValue).joined(separator: ", "))
        }
        c.eviction.policy = p
    },
    integer("maxmemory-samples", \.eviction.samples, 1...Int(Int32.max)),
    integer("maxmemory-eviction-tenacity", \.eviction.tenacity, 0...100),
    integer("lfu-log-factor", \.eviction.lfuLogFactor, 0...Int(Int32.max)),
    integer("lfu-decay-time", \.eviction.lfuDecayMinutes, 0...Int(Int32.max)),
    boolean("activedefrag", \.compaction.enabled),
    memory("active-defrag-ignore-bytes", \.compaction.ignoreBytes, min: 1),
    integer("active-defrag-threshold-lower", \.compaction.thresholdLower, 0...1000),
    integer("active-defrag-threshold-upper", \.compaction.thresholdUpper, 0...1000),
    integer("active-defrag-cycle-min", \.compaction.cycleMin, 1...99),
    integer("active-defrag-cycle-max", \.compaction.cycleMax, 1...99),
    Directive(name: "notify-keyspace-events", mutable: true, multiWord: false, get: { $0.notifyKeyspaceEvents.letters }) { c, t throws(ConfigError) in
        guard let f = NotifyFlags(letters: try single(t)) else {
            throw ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        }
        c.notifyKeyspaceEvents = f
    },
    integer("hash-seed", \.hashSeed, 0...Int.max, mutable: false),
    integer("metrics-port", \.metricsPort, 0...65535, mutable: false),
]

func directive(named name: String) -> Directive? {
    let n = name.lowercased()
    return directives.first { $0.name == n }
}

private func single(_ t: [String]) throws(ConfigError) -> String {
    guard t.count == 1 else { throw ConfigError("wrong number of arguments") }
    return t[0]
}

private func integer(
    _ name: String, _ path: WritableKeyPath<Config, Int> & Sendable, _ range: ClosedRange<Int>, mutable: Bool = true
) -> Directive {
    Directive(name: name, mutable: mutable, multiWord: false, get: { String($0[keyPath: path]) }) { c, t throws(ConfigError) in
        guard let v = Int(try single(t)) else { throw ConfigError("argument couldn't be parsed into an integer") }
        guard range.contains(v) else {
            throw ConfigError("argument must be between \(range.lowerBound) and \(range.upperBound) inclusive")
        }
        c[keyPath: path] = v
    }
}

private func memory(_ name: String, _ path: WritableKeyPath<Config, Int> & Sendable, min: Int) -> Directive {
    Directive(name: name, mutable: true, multiWord: false, get: { String($0[keyPath: path]) }) { c, t throws(ConfigError) in
        guard let v = parseMemory(try single(t)) else { throw ConfigError("argument must be a memory value") }
        guard v >= min else { throw ConfigError("argument must be between \(min) and \(Int64.max) inclusive") }
        c[keyPath: path] = v
    }
}

private func boolean(_ name: String, _ path: WritableKeyPath<Config, Bool> & Sendable) -> Directive {
    Directive(name: name, mutable: true, multiWord: false, get: { $0[keyPath: path] ? "yes" : "no" }) { c, t throws(ConfigError) in
        switch try single(t).lowercased() {
        case "yes": c[keyPath: path] = true
        case "no": c[keyPath: path] = false
        default: throw ConfigError("argument must be 'yes' or 'no'")
        }
    }
}

/// Redis' memory units (memtoll): 1k = 1000, 1kb = 1024, and so on for m/mb and g/gb; case-insensitive.
func parseMemory(_ s: String) -> Int? {
    let lower = s.lowercased()
    let units: [(String, Int)] = [("kb", 1024), ("mb", 1 << 20), ("gb", 1 << 30), ("k", 1000), ("m", 1_000_000), ("g", 1_000_000_000), ("b", 1)]
    for (suffix, mul) in units where lower.hasSuffix(suffix) {
        guard let n = Int(lower.dropLast(suffix.count)), n >= 0 else { return nil }
        let (r, o) = n.multipliedReportingOverflow(by: mul)
        return o ? nil : r
    }
    guard let n = Int(lower), n >= 0 else { return nil }
    return n
}
