import CKVSupport
import Dispatch
import Foundation
import Glibc
import Synchronization
import KVEngine

private let EPOLLIN_ = UInt32(0x001), EPOLLOUT_ = UInt32(0x004), EPOLLERR_ = UInt32(0x008), EPOLLHUP_ = UInt32(0x010)

/// `io-threads` event loops, each a thread with its own level-triggered epoll descriptor and its own
/// connections. Loop 0 also accepts, and hands new connections round-robin to every loop.
final class EpollBackend: IOBackend, @unchecked Sendable {
    let loops: [EpollLoop]

    init(server: Server, threads: Int) {
        loops = (0..<threads).map { EpollLoop(server: server, index: $0) }
    }

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

/// One event loop. Everything here is touched only by the loop's own thread, except `inbox` and
/// `stopping` (behind a lock / atomic) and the eventfd that wakes the loop.
final class EpollLoop: ConnectionOwner, @unchecked Sendable {
    let server: Server
    let index: Int
    var listeners: [Int32] = []
    var siblings: [EpollLoop] = []
    let stopped = DispatchSemaphore(value: 0)
    private let epfd: Int32
    private let wakeFd: Int32
    private let inbox = Mutex<[Connection]>([])
    /// Work handed back by Connection.replyLater, run on this loop's thread.
    private let resumed = Mutex<[(Connection, @Sendable () -> Void)]>([])
    private let stopping = Atomic<Bool>(false)
    /// Connections by descriptor.
    private var connections: [Connection?] = []
    private var toFlush: [Connection] = []
    private var nextSibling = 0
    /// The loop's thread, set when it starts (before it owns any connection).
    private var thread = pthread_t()

    init(server: Server, index: Int) {
        self.server = server
        self.index = index
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(epfd >= 0 && wakeFd >= 0, "epoll_create1/eventfd failed")
    }

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

    private func control(_ op: Int32, _ fd: Int32, _ events: UInt32) {
        var ev = epoll_event()
        ev.events = events
        ev.data.fd = fd
        _ = epoll_ctl(epfd, op, fd, &ev)
    }

    func run() {
        thread = pthread_self()
        control(EPOLL_CTL_ADD, wakeFd, EPOLLIN_)
        for l in listeners { control(EPOLL_CTL_ADD, l, EPOLLIN_) }
        let capacity = 1024
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        let cronInterval = Int64(max(1, 1000 / server.settings.hz))
        var nextCron = monotonicMilliseconds() + cronInterval
        while !stopping.load(ordering: .acquiring) {
            let n = epoll_wait(epfd, events, Int32(capacity), Int32(cronInterval))
            // How long this iteration keeps the loop's other clients waiting (LATENCY's event-loop).
            let iterationStart = server.latency.threshold.load(ordering: .relaxed) > 0 ? monotonicMicroseconds() : 0
            for i in 0..<max(0, Int(n)) {
                let fd = Int(events[i].data.fd)
                let flags = events[i].events
                if fd == Int(wakeFd) {
                    var v: UInt64 = 0
                    _ = read(wakeFd, &v, 8)
                    for c in inbox.withLock({ q in defer { q.removeAll() }; return q }) { register(c) }
                    for (c, work) in resumed.withLock({ q in defer { q.removeAll() }; return q }) {
                        guard Int(c.fd) < connections.count, connections[Int(c.fd)] === c else { continue }
                        work()
                        queueForFlush(c)
                    }
                } else if listeners.contains(Int32(fd)) {
                    acceptAll(Int32(fd), server: server) { c in
                        let target = siblings[nextSibling % siblings.count]
                        nextSibling &+= 1
                        if target === self { register(c) } else { target.adopt(c) }
                    }
                } else if fd < connections.count, let c = connections[fd] {
                    if flags & (EPOLLIN_ | EPOLLERR_ | EPOLLHUP_) != 0 {
                        guard c.readAndProcess() else { closeConnection(c); continue }
                    }
                    if flags & EPOLLOUT_ != 0 || !c.output.isEmpty || c.closeAfterReply { queueForFlush(c) }
                }
            }
            // Replies go out after the whole batch has been read, one write per client, as Redis does.
            flushQueued()
            if iterationStart > 0 { server.latency.report("event-loop", milliseconds: (monotonicMicroseconds() - iterationStart) / 1000) }
            let now = monotonicMilliseconds()
            if now >= nextCron {
                cron(now: now)
                nextCron = now + cronInterval
            }
        }
        shutdownConnections()
        stopped.signal()
    }

    private func register(_ c: Connection) {
        if Int(c.fd) >= connections.count {
            connections += [Connection?](repeating: nil, count: max(Int(c.fd) + 1 - connections.count, connections.count))
        }
        connections[Int(c.fd)] = c
        c.owner = self
        control(EPOLL_CTL_ADD, c.fd, EPOLLIN_)
    }

    /// Queues `c` for this iteration's flush, once.
    private func queueForFlush(_ c: Connection) {
        if !c.queuedForFlush {
            c.queuedForFlush = true
            toFlush.append(c)
        }
    }

    private func flushQueued() {
        let now = monotonicMilliseconds()
        for c in toFlush {
            c.queuedForFlush = false
            guard connections[Int(c.fd)] === c else { continue }
            switch c.flush() {
            case .failed:
                closeConnection(c)
            case .drained:
                if c.closeAfterReply { closeConnection(c); continue }
                if c.awaitingWritable {
                    c.awaitingWritable = false
                    control(EPOLL_CTL_MOD, c.fd, EPOLLIN_)
                }
            case .pending:
                if c.outputOverLimit(now: now) { closeConnection(c); continue }
                if !c.awaitingWritable {
                    c.awaitingWritable = true
                    control(EPOLL_CTL_MOD, c.fd, EPOLLIN_ | EPOLLOUT_)
                }
            }
        }
        toFlush.removeAll(keepingCapacity: true)
    }

    private func closeConnection(_ c: Connection) {
        guard Int(c.fd) < connections.count, connections[Int(c.fd)] === c else { return }
        connections[Int(c.fd)] = nil
        control(EPOLL_CTL_DEL, c.fd, 0)
        // Out of the registry before the socket closes: a peer that sees the close and asks
        // CLIENT LIST or KILL at once must not find it (as Redis unlinks, then closes).
        server.clientClosed(c)
        close(c.fd)
    }

    /// Once per 1/hz second: idle timeouts and soft output limits.
    private func cron(now: Int64) {
        for case let c? in connections {
            if c.resumeIfUnpaused() || c.timeOutBlock(now: now) { queueForFlush(c) }
            if c.idle(now: now) {
                server.log.verbose("Closing idle client \(c.describe())")
                closeConnection(c)
            } else if !c.output.isEmpty && c.outputOverLimit(now: now) {
                closeConnection(c)
            }
        }
    }

    private func shutdownConnections() {
        for l in listeners { control(EPOLL_CTL_DEL, l, 0) }
        let deadline = monotonicMilliseconds() + 2000
        for case let c? in connections {
            finalFlush(c, deadline: deadline)
            closeConnection(c)
        }
        for c in inbox.withLock({ $0 }) { server.clientClosed(c); close(c.fd) }
    }
}
