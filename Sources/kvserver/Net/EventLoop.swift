import CKVSupport
import Dispatch
import Foundation
import Glibc
import Synchronization
import KVEngine

/// `io-threads` event loops, each a thread with its own connections. Loop 0 also accepts, and hands new
/// connections round-robin to every loop. The loops are epoll loops (EpollBackend.swift) or io_uring
/// rings (UringBackend.swift); this part is what they share.
final class LoopBackend: IOBackend, @unchecked Sendable {
    let loops: [EventLoop]

    init(loops: [EventLoop]) { self.loops = loops }

    func start(listeners: [Listener]) {
        loops[0].listeners = listeners.map(\.fd)
        for l in loops { l.siblings = loops }
        for l in loops {
            let t = Thread { l.run() }
            t.name = "kv-io-\(l.index)"
            t.start()
        }
    }

    func shutdown() {
        for l in loops { l.requestStop() }
        for l in loops { l.stopped.wait() }
    }
}

/// One event loop: its thread, its connections by descriptor, the wake-up eventfd that other threads
/// use to hand it connections (`adopt`) and work (`resume`), the flush queue and the cron. A subclass
/// says how the loop waits (`waitForEvents`, `dispatchEvents`), watches a socket (`watch`, `unwatch`)
/// and writes replies (`flush`).
///
/// One iteration: wait for events; read every ready client and run its commands; write the replies of
/// the whole batch, one write per client (as Redis' `beforeSleep`); the cron every 1/hz second.
///
/// Everything here is touched only by the loop's own thread, except `inbox`, `resumed` (behind locks),
/// `stopping` (atomic) and the eventfd.
class EventLoop: ConnectionOwner, @unchecked Sendable {
    let server: Server
    let index: Int
    var listeners: [Int32] = []
    var siblings: [EventLoop] = []
    let stopped = DispatchSemaphore(value: 0)
    let wakeFd: Int32
    private let inbox = Mutex<[Connection]>([])
    /// Work handed back by Connection.replyLater, run on this loop's thread.
    private let resumed = Mutex<[(Connection, @Sendable () -> Void)]>([])
    private let stopping = Atomic<Bool>(false)
    /// Connections by descriptor.
    private(set) var connections: [Connection?] = []
    private var toFlush: [Connection] = []
    private var nextSibling = 0
    /// Clients that sent something during the last cron period (the io_uring loop's batching).
    private(set) var activeClients = 0
    /// The loop's thread, set when it starts (before it owns any connection).
    private var thread = pthread_t()

    init(server: Server, index: Int) {
        self.server = server
        self.index = index
        wakeFd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(wakeFd >= 0, "eventfd failed")
    }

    // MARK: What a subclass provides

    /// On the loop's thread, before the first wait: register the eventfd and the listeners.
    func prepare() {}
    /// Blocks until something is ready or `timeout` milliseconds pass.
    func waitForEvents(timeout: Int32) {}
    /// Handles what the wait found: wake-ups (`drainWakeups`), listeners (`acceptFrom`), client reads.
    func dispatchEvents() {}
    /// Starts watching a connection's socket for input.
    func watch(_ c: Connection) {}
    /// Stops watching a connection's socket, just before it closes.
    func unwatch(_ c: Connection) {}
    /// Writes `c`'s output (or starts to); closes `c` if it must.
    func flush(_ c: Connection, now: Int64) {}
    /// On the way out: writes what clients are owed, bounded by `deadline` (monotonic ms).
    func flushAll(deadline: Int64) {
        for case let c? in connections { finalFlush(c, deadline: deadline) }
    }

    // MARK: ConnectionOwner

    /// Hands a connection to this loop from another thread.
    func adopt(_ c: Connection) {
        inbox.withLock { $0.append(c) }
        wake()
    }

    func resume(_ c: Connection, _ work: @escaping @Sendable () -> Void) {
        resumed.withLock { $0.append((c, work)) }
        wake()
    }

    var isCurrent: Bool { pthread_equal(pthread_self(), thread) != 0 }

    func outputWritten(_ c: Connection) { queueForFlush(c) }

    func requestStop() {
        stopping.store(true, ordering: .releasing)
        wake()
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFd, &one, 8)
    }

    // MARK: The loop

    func run() {
        thread = pthread_self()
        prepare()
        let cronInterval = Int64(max(1, 1000 / server.settings.hz))
        var nextCron = monotonicMilliseconds() + cronInterval
        while !stopping.load(ordering: .acquiring) {
            waitForEvents(timeout: Int32(cronInterval))
            // How long this iteration keeps the loop's other clients waiting (LATENCY's event-loop).
            let iterationStart = server.latency.threshold.load(ordering: .relaxed) > 0 ? monotonicMicroseconds() : 0
            dispatchEvents()
            flushQueued()
            if iterationStart > 0 { server.latency.report("event-loop", milliseconds: (monotonicMicroseconds() - iterationStart) / 1000) }
            let now = monotonicMilliseconds()
            if now >= nextCron {
                cron(now: now, interval: cronInterval)
                nextCron = now + cronInterval
            }
        }
        for l in listeners { unwatchListener(l) }
        flushAll(deadline: monotonicMilliseconds() + 2000)
        for case let c? in connections { closeConnection(c) }
        for c in inbox.withLock({ $0 }) { server.clientClosed(c); close(c.fd) }
        finish()
        stopped.signal()
    }

    /// Stops accepting on `listener` (shutdown).
    func unwatchListener(_ listener: Int32) {}
    /// After the last connection closed.
    func finish() {}

    /// The eventfd fired: takes the connections handed over and runs the work handed back.
    func drainWakeups() {
        var v: UInt64 = 0
        _ = read(wakeFd, &v, 8)
        for c in inbox.withLock({ q in defer { q.removeAll() }; return q }) { register(c) }
        for (c, work) in resumed.withLock({ q in defer { q.removeAll() }; return q }) {
            guard owns(c) else { continue }
            work()
            queueForFlush(c)
        }
    }

    /// Accepts what `listener` has pending, spreading the connections over the loops.
    func acceptFrom(_ listener: Int32) {
        acceptAll(listener, server: server) { c in
            let target = siblings[nextSibling % siblings.count]
            nextSibling &+= 1
            if target === self { register(c) } else { target.adopt(c) }
        }
    }

    /// The connection on descriptor `fd`, if this loop has one.
    @inline(__always)
    func connection(_ fd: Int) -> Connection? { fd < connections.count ? connections[fd] : nil }

    @inline(__always)
    func owns(_ c: Connection) -> Bool { Int(c.fd) < connections.count && connections[Int(c.fd)] === c }

    /// Reads `c` once and runs its commands (readiness back ends); queues its replies.
    func readReady(_ c: Connection) {
        guard c.readAndProcess() else { closeConnection(c); return }
        if !c.output.isEmpty || c.closeAfterReply { queueForFlush(c) }
    }

    private func register(_ c: Connection) {
        if Int(c.fd) >= connections.count {
            connections += [Connection?](repeating: nil, count: max(Int(c.fd) + 1 - connections.count, connections.count))
        }
        connections[Int(c.fd)] = c
        c.owner = self
        watch(c)
    }

    /// Queues `c` for this iteration's flush, once.
    func queueForFlush(_ c: Connection) {
        if !c.queuedForFlush {
            c.queuedForFlush = true
            toFlush.append(c)
        }
    }

    private func flushQueued() {
        let now = monotonicMilliseconds()
        for c in toFlush {
            c.queuedForFlush = false
            if owns(c) { flush(c, now: now) }
        }
        toFlush.removeAll(keepingCapacity: true)
    }

    func closeConnection(_ c: Connection) {
        guard owns(c) else { return }
        connections[Int(c.fd)] = nil
        unwatch(c)
        // Out of the registry before the socket closes: a peer that sees the close and asks
        // CLIENT LIST or KILL at once must not find it (as Redis unlinks, then closes).
        server.clientClosed(c)
        close(c.fd)
    }

    /// Once per 1/hz second: idle timeouts and soft output limits.
    private func cron(now: Int64, interval: Int64) {
        var active = 0
        defer { activeClients = active }
        for case let c? in connections {
            if now - c.lastInteraction <= interval { active += 1 }
            if c.resumeIfUnpaused() || c.timeOutBlock(now: now) { queueForFlush(c) }
            if c.idle(now: now) {
                server.log.verbose("Closing idle client \(c.describe())")
                closeConnection(c)
            } else if (!c.output.isEmpty || c.outputInFlight > 0) && c.outputOverLimit(now: now) {
                closeConnection(c)
            }
        }
    }
}
