import Dispatch
import Glibc
import KVEngine

/// Dispatch read/write sources on `io-threads` serial queues. Each connection lives on one queue; its
/// read source reads and runs commands, then flushes; a write source exists only while output is
/// pending (created on the first EAGAIN, suspended when drained). Slower than epoll on Linux (see
/// docs/io-backends.md) but kept working and tested.
final class DispatchBackend: IOBackend, @unchecked Sendable {
    private let server: Server
    private let lanes: [DispatchLane]
    private let acceptQueue = DispatchQueue(label: "kvserver.accept")
    private var acceptSources: [DispatchSourceRead] = []
    private var next = 0

    init(server: Server, threads: Int) {
        self.server = server
        lanes = (0..<threads).map { DispatchLane(server: server, index: $0) }
    }

    func start(listeners: [Listener]) {
        for l in listeners {
            let source = DispatchSource.makeReadSource(fileDescriptor: l.fd, queue: acceptQueue)
            source.setEventHandler { @Sendable [self] in
                acceptAll(l.fd, server: server) { c in
                    let lane = lanes[next % lanes.count]
                    next &+= 1
                    lane.queue.async { lane.add(c) }
                }
            }
            source.resume()
            acceptSources.append(source)
        }
        for lane in lanes { lane.startCron() }
    }

    func shutdown() {
        acceptQueue.sync { for s in acceptSources { s.cancel() } }
        for lane in lanes { lane.queue.sync { lane.closeAll() } }
    }
}

/// Which lane's queue the current code runs on.
private let laneKey = DispatchSpecificKey<Int>()

/// One serial queue and the connections it owns. Touched only on `queue`.
final class DispatchLane: ConnectionOwner, @unchecked Sendable {
    let queue: DispatchQueue
    private let server: Server
    private var clients: [ObjectIdentifier: DispatchClient] = [:]
    private var cron: DispatchSourceTimer?

    private let index: Int

    init(server: Server, index: Int) {
        self.server = server
        self.index = index
        queue = DispatchQueue(label: "kvserver.io-\(index)")
        queue.setSpecific(key: laneKey, value: index)
    }

    var isCurrent: Bool { DispatchQueue.getSpecific(key: laneKey) == index }

    /// Flushes `c` after the work now running on this queue.
    func outputWritten(_ c: Connection) {
        queue.async { [self] in clients[ObjectIdentifier(c)]?.resumeWith {} }
    }

    func add(_ c: Connection) {
        c.owner = self
        let client = DispatchClient(connection: c, lane: self)
        clients[ObjectIdentifier(c)] = client
        client.start()
    }

    func resume(_ c: Connection, _ work: @escaping @Sendable () -> Void) {
        queue.async { [self] in
            guard let client = clients[ObjectIdentifier(c)] else { return }
            client.resumeWith(work)
        }
    }

    func remove(_ client: DispatchClient) {
        clients[ObjectIdentifier(client.connection)] = nil
        server.clientClosed(client.connection)
    }

    func startCron() {
        let t = DispatchSource.makeTimerSource(queue: queue)
        let interval = DispatchTimeInterval.milliseconds(max(1, 1000 / server.settings.hz))
        t.schedule(deadline: .now() + interval, repeating: interval)
        t.setEventHandler { @Sendable [self] in
            let now = monotonicMilliseconds()
            for client in Array(clients.values) {
                let c = client.connection
                if c.resumeIfUnpaused() || c.timeOutBlock(now: now) { client.resumeWith {} }
                if c.idle(now: now) {
                    server.log.verbose("Closing idle client \(c.describe())")
                    client.close()
                } else if !c.output.isEmpty && c.outputOverLimit(now: now) {
                    client.close()
                }
            }
        }
        t.resume()
        cron = t
    }

    func closeAll() {
        cron?.cancel()
        let deadline = monotonicMilliseconds() + 2000
        for client in Array(clients.values) {
            finalFlush(client.connection, deadline: deadline)
            client.close()
        }
    }
}

/// A connection's sources. The descriptor is closed only when every source on it has been cancelled, so
/// a new connection reusing the number is never hit by a late event.
final class DispatchClient: @unchecked Sendable {
    let connection: Connection
    private unowned let lane: DispatchLane
    private let reader: DispatchSourceRead
    private var writer: DispatchSourceWrite?
    private var writerSuspended = false
    private var liveSources = 1
    private var closed = false

    init(connection: Connection, lane: DispatchLane) {
        self.connection = connection
        self.lane = lane
        reader = DispatchSource.makeReadSource(fileDescriptor: connection.fd, queue: lane.queue)
    }

    func start() {
        reader.setEventHandler { @Sendable [self] in
            guard !closed else { return }
            let latency = connection.server.latency
            let start = latency.threshold.load(ordering: .relaxed) > 0 ? monotonicMicroseconds() : 0
            guard connection.readAndProcess() else { return close() }
            afterWork()
            if start > 0 { latency.report("event-loop", milliseconds: (monotonicMicroseconds() - start) / 1000) }
        }
        reader.setCancelHandler { @Sendable [self] in sourceCancelled() }
        reader.resume()
    }

    /// Runs work handed back to this client's queue (Connection.replyLater), then flushes as after a read.
    func resumeWith(_ work: () -> Void) {
        guard !closed else { return }
        work()
        afterWork()
    }

    private func afterWork() {
        switch connection.flush() {
        case .failed:
            close()
        case .drained:
            if connection.closeAfterReply { return close() }
            if let w = writer, !writerSuspended {
                w.suspend()
                writerSuspended = true
            }
        case .pending:
            if connection.outputOverLimit(now: monotonicMilliseconds()) { return close() }
            armWriter()
        }
    }

    private func armWriter() {
        if let w = writer {
            if writerSuspended {
                writerSuspended = false
                w.resume()
            }
            return
        }
        let w = DispatchSource.makeWriteSource(fileDescriptor: connection.fd, queue: lane.queue)
        w.setEventHandler { @Sendable [self] in
            guard !closed else { return }
            afterWork()
        }
        w.setCancelHandler { @Sendable [self] in sourceCancelled() }
        liveSources += 1
        writer = w
        w.resume()
    }

    func close() {
        guard !closed else { return }
        closed = true
        reader.cancel()
        if let w = writer {
            // A suspended source must be resumed before it is cancelled.
            if writerSuspended { w.resume() }
            w.cancel()
        }
        lane.remove(self)
    }

    private func sourceCancelled() {
        liveSources -= 1
        if liveSources == 0 { Glibc.close(connection.fd) }
    }
}
