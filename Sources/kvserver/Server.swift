import CKVSupport
import Dispatch
import Glibc
import KVEngine
import Synchronization

/// The server: configuration, the numbered databases, the I/O back end and the background work.
/// Shared by every event loop; everything mutable in it is behind a lock or atomic.
final class Server: @unchecked Sendable {
    let databases: [Store]
    /// Who watches which keys (WATCH, Transaction.swift).
    let watches: WatchRegistry
    /// Clients waiting in blocking pops (Blocking.swift).
    let blocking: BlockingRegistry
    /// Channels, patterns and their subscribers (PubSub/PubSub.swift).
    let pubsub = PubSub()
    /// LATENCY's events (LatencyMonitor.swift).
    let latency: LatencyMonitor
    /// SLOWLOG's entries (SlowLog.swift).
    let slowlog = SlowLog()
    /// MONITOR's clients (Monitor.swift).
    let monitors = Monitors()
    /// Every connected client by id (CLIENT LIST, CLIENT KILL).
    let clients = Mutex<[Int: Connection]>([:])
    /// The keyspace notifier observing every database, while notify-keyspace-events asks for one.
    private let notifier = Mutex<KeyspaceNotifier?>(nil)
    let log: Logger
    private let config: Mutex<Config>
    private let version = Atomic<Int>(0)
    private let clientIDs = Atomic<Int>(0)
    let connectedClients = Atomic<Int>(0)
    let totalConnections = Atomic<Int>(0)
    let rejectedConnections = Atomic<Int>(0)
    let stats = ServerStats()
    /// Monotonic milliseconds at start (uptime) and the run id INFO reports.
    let startTime = monotonicMilliseconds()
    let runID = (0..<40).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
    let memoryPeak = MemoryPeak()
    /// expired_keys as of the last CONFIG RESETSTAT.
    let expiredKeysBaseline = Atomic<Int>(0)
    /// The configuration file given at start-up ("" when none), for INFO.
    var configFile = ""
    private let shuttingDown = Atomic<Bool>(false)
    private var backend: IOBackend?
    private var listeners: [Listener] = []
    private var background: [DispatchSourceProtocol] = []
    /// Snapshots: SAVE, BGSAVE, save points, loading (Persistence.swift).
    private(set) var persistence: Persistence!
    /// What every command checks first (one relaxed load): 0 serve, `gateLoading` reply -LOADING to
    /// most commands, `gateMisconf` reply -MISCONF to writes (the last background save failed).
    let gate = Atomic<UInt8>(gateLoading)
    /// CLIENT PAUSE: until when (monotonic ms; 0 none), and whether every command waits or only writes.
    let pausedUntil = Atomic<Int64>(0)
    let pauseAll = Atomic<Bool>(false)

    /// Whether a CLIENT PAUSE is in force now (one that has run out is cleared).
    var isPaused: Bool {
        let until = pausedUntil.load(ordering: .relaxed)
        guard until > 0 else { return false }
        if monotonicMilliseconds() >= until {
            pausedUntil.store(0, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Whether `command` must wait for the end of a CLIENT PAUSE now.
    func mustWait(_ command: Command) -> Bool {
        isPaused && (pauseAll.load(ordering: .relaxed) || !command.flags.isDisjoint(with: [.write, .mayReplicate]))
    }

    /// Keeps memory under maxmemory (KVEngine's Evictor.swift); asked before every command.
    let evictor: Evictor
    /// Gives the arenas' sparse pages back after deletes (KVEngine's Compactor.swift); run by the cron.
    let compactor: Compactor
    /// The compact forms' thresholds, shared by every database (CONFIG SET changes them at once).
    let encodingLimits = EncodingLimits()
    /// DEBUG SET-ACTIVE-EXPIRE: the background expiry cycle runs (tests of lazy expiry turn it off).
    let activeExpire = Atomic<Bool>(true)
    /// DEBUG HOLD-OFF-LOOP: VERIFY and STATS, off the event loop, wait here before their work (tests).
    let offLoopHold = OffLoopHold()

    init(config: Config, log: Logger) {
        self.config = Mutex(config)
        self.log = log
        let seed = config.hashSeed == 0 ? nil : UInt64(config.hashSeed)
        // One shard seed for all: SWAPDB exchanges the databases' shards pairwise.
        let shardSeed = seed ?? UInt64.random(in: 1...UInt64.max)
        databases = (0..<config.databases).map { [encodingLimits] i in
            Store(maxValueSize: config.protoMaxBulkLen, fixedSeed: seed, shardSeed: shardSeed, index: i, encodingLimits: encodingLimits)
        }
        watches = WatchRegistry(databases: databases)
        let latency = LatencyMonitor()
        self.latency = latency
        evictor = Evictor(stores: databases) { latency.report("eviction-cycle", milliseconds: Int($0 / 1_000_000)) }
        evictor.configure(config.eviction)
        compactor = Compactor(stores: databases)
        compactor.configure(config.compaction)
        blocking = BlockingRegistry(databases: databases)
        persistence = Persistence(server: self)
        pubsub.mailboxLimit.store(config.pubsubOutputBufferLimit.hard, ordering: .relaxed)
        monitors.limit.store(config.outputBufferLimit.hard, ordering: .relaxed)
        slowlog.configure(slowerThan: config.slowlogLogSlowerThan, maxLength: config.slowlogMaxLen)
        latency.threshold.store(config.latencyMonitorThreshold, ordering: .relaxed)
        configureNotifications(config.notifyKeyspaceEvents)
        applyEncodingLimits(config)
    }

    /// Installs, replaces or removes the keyspace notifier for `flags` (none when nothing would publish).
    private func configureNotifications(_ flags: NotifyFlags) {
        notifier.withLock { current in
            let wanted: NotifyFlags? = flags.publishes ? flags : nil
            guard current?.flags != wanted else { return }
            if let old = current { for db in databases { db.removeObserver(old) } }
            current = wanted.map { KeyspaceNotifier(flags: $0, pubsub: pubsub) }
            if let new = current { for db in databases { db.addObserver(new) } }
        }
    }

    private func applyEncodingLimits(_ c: Config) {
        encodingLimits[.hashMaxListpackEntries] = c.hashMaxListpackEntries
        encodingLimits[.hashMaxListpackValue] = c.hashMaxListpackValue
        encodingLimits[.setMaxIntsetEntries] = c.setMaxIntsetEntries
        encodingLimits[.setMaxListpackEntries] = c.setMaxListpackEntries
        encodingLimits[.setMaxListpackValue] = c.setMaxListpackValue
        encodingLimits[.listMaxListpackSize] = c.listMaxListpackSize
        encodingLimits[.listCompressDepth] = c.listCompressDepth
        encodingLimits[.zsetMaxListpackEntries] = c.zsetMaxListpackEntries
        encodingLimits[.zsetMaxListpackValue] = c.zsetMaxListpackValue
    }

    /// Recomputes `gate` after loading, a save or a CONFIG SET.
    func refreshWriteGate() {
        let loading = persistence.status.withLock { $0.loading }
        gate.store(loading ? gateLoading : persistence.refusesWrites(settings) ? gateMisconf : 0, ordering: .relaxed)
    }

    /// A copy of the current configuration.
    var settings: Config { config.withLock { $0 } }

    /// CONFIG SET: replaces the configuration; connections pick it up at their next read.
    func updateSettings(_ new: Config) {
        config.withLock { c in
            c = new
            version.add(1, ordering: .releasing)
        }
        log.setLevel(new.logLevel)
        for db in databases { db.maxValueSize = new.protoMaxBulkLen }
        applyEncodingLimits(new)
        evictor.configure(new.eviction)
        compactor.configure(new.compaction)
        pubsub.mailboxLimit.store(new.pubsubOutputBufferLimit.hard, ordering: .relaxed)
        monitors.limit.store(new.outputBufferLimit.hard, ordering: .relaxed)
        slowlog.configure(slowerThan: new.slowlogLogSlowerThan, maxLength: new.slowlogMaxLen)
        latency.threshold.store(new.latencyMonitorThreshold, ordering: .relaxed)
        configureNotifications(new.notifyKeyspaceEvents)
        refreshWriteGate()
    }

    var settingsVersion: Int { version.load(ordering: .acquiring) }
    /// What connections consult per request, with the version it belongs to (taken under the same lock,
    /// so the two always match). Built only at accept time and after a CONFIG SET.
    var connectionSettings: ConnectionSettings {
        config.withLock { ConnectionSettings($0, version: version.load(ordering: .relaxed)) }
    }

    func nextClientID() -> Int { clientIDs.wrappingAdd(1, ordering: .relaxed).newValue }

    /// Starts listening and serving; returns once the server accepts connections.
    func start() throws(ListenError) {
        if settings.ioBackend == .ioUring, let reason = UringLoop.unavailableReason() {
            log.warning("io_uring is not available here (\(reason)): using the epoll back end")
            config.withLock { $0.ioBackend = .epoll }
        }
        let c = settings
        listeners = try openListeners(bind: c.bind, port: c.port, backlog: c.tcpBacklog)
        raiseDescriptorLimit(for: c.maxClients)
        let b: IOBackend = switch c.ioBackend {
        case .epoll: LoopBackend(loops: (0..<c.ioThreads).map { EpollLoop(server: self, index: $0) })
        case .ioUring: LoopBackend(loops: (0..<c.ioThreads).map { UringLoop(server: self, index: $0) })
        case .dispatch: DispatchBackend(server: self, threads: c.ioThreads)
        }
        backend = b
        b.start(listeners: listeners)
        if c.metricsPort > 0 { try startMetrics(port: c.metricsPort) }
        startBackgroundWork(hz: c.hz)
        log.notice("Server initialized (\(c.ioBackend.rawValue) back end, \(c.ioThreads) I/O threads, \(c.databases) databases)")
        // Clients connecting meanwhile get -LOADING, as from Redis.
        let addresses = listeners.map(\.address).joined(separator: ", ")
        startThread { [self] in
            persistence.loadAtStartup()
            refreshWriteGate()
            log.notice("Ready to accept connections tcp on \(addresses)")
        }
    }

    /// Decides whether a freshly accepted socket becomes a client (maxclients, protected mode) and sets
    /// its options. Rejected sockets get Redis' error line and are closed here.
    func admit(fd: Int32, peer: sockaddr_storage) -> Connection? {
        let (address, loopback) = peerAddress(peer)
        let c = connectionSettings
        totalConnections.wrappingAdd(1, ordering: .relaxed)
        if c.protectedMode && c.requirePass.isEmpty && !loopback {
            reject(fd, protectedModeMessage)
            log.verbose("Denied connection from \(address): protected mode")
            return nil
        }
        if connectedClients.wrappingAdd(1, ordering: .relaxed).newValue > c.maxClients {
            connectedClients.wrappingSubtract(1, ordering: .relaxed)
            reject(fd, "-ERR max number of clients reached\r\n")
            log.verbose("Error registering fd event for the new client: max number of clients reached")
            return nil
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if c.tcpKeepalive > 0 {
            var idle = Int32(c.tcpKeepalive)
            var interval = max(1, idle / 3)
            var count: Int32 = 3
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &interval, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &count, socklen_t(MemoryLayout<Int32>.size))
        }
        log.verbose("Accepted \(address)")
        let connection = Connection(fd: fd, peer: address, isLocal: loopback, server: self, settings: c)
        clients.withLock { $0[connection.id] = connection }
        return connection
    }

    /// Called by the back end when a client is gone, before its socket is closed.
    func clientClosed(_ c: Connection) {
        connectedClients.wrappingSubtract(1, ordering: .relaxed)
        clients.withLock { $0[c.id] = nil }
        c.closed.store(true, ordering: .relaxed)
        c.unwatchAll()
        c.abandonBlock()
        pubsub.removeAll(c)
        if !monitors.isEmpty { monitors.remove(c) }
        log.verbose("Client closed connection \(c.describe())")
    }

    private func reject(_ fd: Int32, _ message: String) {
        rejectedConnections.wrappingAdd(1, ordering: .relaxed)
        var bytes = Array(message.utf8)
        _ = bytes.withUnsafeMutableBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(fd)
    }

    /// Active expiry and idle-map growth on a background queue, `hz` times a second, as Redis' serverCron.
    private func startBackgroundWork(hz: Int) {
        let queue = DispatchQueue(label: "kvserver.cron", qos: .utility)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let interval = DispatchTimeInterval.milliseconds(max(1, 1000 / hz))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        let dbs = databases
        timer.setEventHandler { @Sendable [self] in
            if gate.load(ordering: .relaxed) == gateLoading { return }
            for db in dbs { db.tickAccessClock() }
            if activeExpire.load(ordering: .relaxed) {
                let start = monotonicMicroseconds()
                for db in dbs where db.count > 0 { _ = db.activeExpireCycle() }
                latency.report("expire-cycle", milliseconds: (monotonicMicroseconds() - start) / 1000)
            }
            // Over maxmemory, commands evict within their time budget before they run; when none has lately,
            // the cron works on in slices of the same budget for up to half its period (Redis'
            // evictionTimeProc), so memory comes down on an idle server too (a limit lowered by CONFIG SET).
            if evictor.hasLimit {
                let until = monotonicMicroseconds() + 500_000 / max(1, hz)
                while evictor.performEvictions(background: true) == .running && monotonicMicroseconds() < until {
                    usleep(1000)
                }
            }
            // Its share of the period, in steps of one shard lock each (Compactor.swift): a client waits at
            // most one step, not the slice, so the slice is no latency event. Not while keys are being
            // evicted: writes then reuse the space eviction frees (measured in docs/memory.md: compacting
            // during a flood at the limit cost a tenth of the writes), and it resumes when that stops.
            if !evictor.evictingLately { compactor.cron(periodNanoseconds: UInt64(1_000_000_000 / max(1, hz))) }
            persistence.cron()
            stats.sample(commands: commandsProcessed, now: monotonicMilliseconds())
        }
        timer.resume()
        background.append(timer)
    }

    /// SIGTERM, SIGINT and SHUTDOWN end up here: save if asked (`save` nil: when save points are set, as
    /// Redis), stop accepting, flush every client's pending replies, close, exit 0. If the save fails the
    /// server goes on serving, as Redis does. Safe to call more than once and from any thread.
    func requestShutdown(reason: String?, save: Bool? = nil) {
        guard !shuttingDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        DispatchQueue.global().async { [self] in
            if let reason { log.warning(reason) }
            if save ?? !settings.savePoints.isEmpty, !persistence.saveBeforeExit() {
                shuttingDown.store(false, ordering: .releasing)
                return
            }
            backend?.shutdown()
            for l in listeners { close(l.fd) }
            log.notice("kvserver is now ready to exit, bye bye...")
            exit(0)
        }
    }

    func handleSignals() {
        signal(SIGPIPE, SIG_IGN)
        for (sig, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { @Sendable [self] in
                requestShutdown(reason: "Received \(name) scheduling shutdown...")
            }
            source.resume()
            background.append(source)
        }
    }
}

let gateLoading: UInt8 = 1
let gateMisconf: UInt8 = 2

/// Each client needs a descriptor: raise the soft limit toward maxclients + 32, as Redis does.
private func raiseDescriptorLimit(for maxClients: Int) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    let wanted = rlim_t(maxClients + 32)
    if limit.rlim_cur < wanted {
        limit.rlim_cur = min(wanted, limit.rlim_max)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

private let protectedModeMessage = "-DENIED kvserver is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting from the same host the server is running, however MAKE SURE the server is not publicly accessible from internet if you do so. 2) Alternatively you can just disable the protected mode by editing the configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"

/// DEBUG HOLD-OFF-LOOP 1 holds VERIFY and STATS, which run off the event loop, until
/// DEBUG HOLD-OFF-LOOP 0, so a test sees other clients served meanwhile without racing the work.
final class OffLoopHold: Sendable {
    private let group = DispatchGroup()
    private let held = Mutex(false)

    func set(_ hold: Bool) {
        held.withLock { held in
            guard held != hold else { return }
            held = hold
            if hold { group.enter() } else { group.leave() }
        }
    }

    /// Returns at once unless held.
    func pass() { group.wait() }
}
