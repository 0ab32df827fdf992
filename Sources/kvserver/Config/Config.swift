import Glibc
import KVEngine

/// Every setting of the server, with its embedded default (what `kvserver` with no arguments runs on).
/// The directive table (Directives.swift) is the only way in or out: conf file, `--name value` flags and
/// CONFIG GET/SET all go through it.
struct Config: Sendable {
    var bind = ["127.0.0.1", "-::1"]
    var port = 6379
    var tcpBacklog = 511
    var protectedMode = true
    var requirePass = ""
    var maxClients = 10000
    var timeout = 0
    var tcpKeepalive = 300
    var databases = 16
    /// One loop per core but one, at most 8, as Redis advises for its io-threads: the spare core runs the
    /// background work and, on small machines, the clients. Measured on 2 cores (docs/io-backends.md):
    /// one loop beats two on throughput at pipeline 1 and on p99 everywhere.
    var ioThreads = max(1, min(8, Config.onlineCores - 1))
    /// io_uring where the kernel allows it (epoll otherwise): less CPU per request at pipeline 1, parity
    /// at 16 (docs/io-backends.md).
    var ioBackend = IOBackendKind.ioUring
    /// io_uring loops: how long a busy loop may wait for more of its active clients' requests before it
    /// serves what has arrived (0: serve each arrival at once). docs/io-backends.md.
    var ioUringBatchMicros = 20
    var protoMaxBulkLen = 512 << 20
    var protoInlineMaxSize = 64 << 10
    var clientQueryBufferLimit = 1 << 30
    var outputBufferLimit = OutputBufferLimit(hard: 1 << 30, soft: 0, softSeconds: 0)
    /// For clients subscribed to a channel or pattern: Redis' default, 32mb 8mb 60.
    var pubsubOutputBufferLimit = OutputBufferLimit(hard: 32 << 20, soft: 8 << 20, softSeconds: 60)
    var logLevel = LogLevel.notice
    var logFile = ""
    var pidFile = ""
    var hz = 10
    /// Snapshot policy: save when at least `changes` keys changed within `seconds` (Redis' default).
    var savePoints = [SavePoint(seconds: 3600, changes: 1), SavePoint(seconds: 300, changes: 100), SavePoint(seconds: 60, changes: 10000)]
    /// Where snapshots go: absolute, the working directory at start by default (Redis' `dir ./`).
    var dir = Config.workingDirectory
    var dbFilename = "dump.rdb"
    var rdbCompression = true
    var rdbChecksum = true
    /// Write snapshots back to disk every 4 MB as they are written (Redis' rdb-save-incremental-fsync).
    var rdbSaveIncrementalFsync = true
    var stopWritesOnBgsaveError = true
    /// Microseconds to sleep after each key saved: Redis' test knob for slow saves.
    var rdbKeySaveDelay = 0
    /// Microseconds to sleep after each key loaded: Redis' test knob for slow loads.
    var keyLoadDelay = 0
    /// DEBUG: "no", "yes" or "local" (loopback clients only), as Redis' enable-debug-command.
    var enableDebugCommand = "no"
    /// Fixed hash seed for every map and the shard hash (0 = random per map, the default). For tests
    /// and debugging: a known seed lets anyone build colliding keys.
    var hashSeed = 0
    /// SLOWLOG: commands slower than this many microseconds are logged (0 all, negative none); the newest
    /// this many are kept. Redis' defaults.
    var slowlogLogSlowerThan = 10_000
    var slowlogMaxLen = 128
    /// LATENCY: events of at least this many milliseconds are recorded (0: off, Redis' default).
    var latencyMonitorThreshold = 0
    /// When hashes and sets leave their compact forms (Redis' names and defaults; the set listpack is 7.2's).
    var hashMaxListpackEntries = EncodingLimits.Limit.hashMaxListpackEntries.defaultValue
    var hashMaxListpackValue = EncodingLimits.Limit.hashMaxListpackValue.defaultValue
    var setMaxIntsetEntries = EncodingLimits.Limit.setMaxIntsetEntries.defaultValue
    var setMaxListpackEntries = EncodingLimits.Limit.setMaxListpackEntries.defaultValue
    var setMaxListpackValue = EncodingLimits.Limit.setMaxListpackValue.defaultValue
    /// A list node's bound (Redis' meaning and default) and the nodes at each end left uncompressed
    /// (Redis' meaning; our default is 2, Redis' 0: conf/kvserver.conf says why).
    var listMaxListpackSize = EncodingLimits.Limit.listMaxListpackSize.defaultValue
    var listCompressDepth = 2
    /// When sorted sets leave their listpack (Redis' names and defaults).
    var zsetMaxListpackEntries = EncodingLimits.Limit.zsetMaxListpackEntries.defaultValue
    var zsetMaxListpackValue = EncodingLimits.Limit.zsetMaxListpackValue.defaultValue
    /// maxmemory, maxmemory-policy and their tuning (KVEngine's Evictor.swift).
    var eviction = EvictionSettings()
    /// activedefrag and its thresholds: arena compaction (KVEngine's Compactor.swift).
    var compaction = CompactionSettings()
    /// Keyspace notifications (Redis' notify-keyspace-events letters; none by default).
    var notifyKeyspaceEvents: NotifyFlags = []
    /// Port of the Prometheus /metrics endpoint over plain HTTP (0 = off).
    var metricsPort = 0

    var snapshotPath: String { dir == "/" ? "/" + dbFilename : dir + "/" + dbFilename }

    static var workingDirectory: String {
        guard let p = getcwd(nil, 0) else { return "." }
        defer { free(p) }
        return String(cString: p)
    }

    static var onlineCores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

struct SavePoint: Sendable, Equatable {
    var seconds: Int
    var changes: Int
}

enum IOBackendKind: String, Sendable, CaseIterable {
    case epoll, dispatch, ioUring = "io_uring"
}

/// client-output-buffer-limit for one class of clients (normal, pubsub): cut at once above `hard` bytes, or after staying above
/// `soft` for `softSeconds`. 0 disables a limit.
struct OutputBufferLimit: Sendable, Equatable {
    var hard: Int
    var soft: Int
    var softSeconds: Int
}

struct ConfigError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
