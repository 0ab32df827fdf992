import CKVSupport
import Glibc
import KVEngine
import RESP

/// An event loop on an io_uring ring (`io-backend io_uring`; the ring itself is CKVSupport/uring.c).
///
/// Instead of readiness and a `recv` and a `send` per client, the loop keeps requests in the kernel:
/// - one multishot receive per client into the ring's provided buffers: each arrival completes with the
///   bytes already read; the loop copies them into the query buffer and returns the buffer at once;
/// - one send per client at a time, from a second buffer (`Slot.sending`) that the output's pending bytes
///   are swapped into, so commands may append to the output while the kernel sends;
/// - multishot polls on the listeners and the wake-up eventfd.
/// Sends and re-arms queued during an iteration are submitted by the next wait: one `io_uring_enter` per
/// iteration, against `epoll_wait` plus a `recv` and a `send` per client for the epoll loop.
///
/// Every request's tag is its kind, the descriptor, and the low 32 bits of the connection's id: a
/// completion for a connection closed meanwhile (whose descriptor a new one may reuse) is recognised and
/// dropped. A send still in flight when its connection closes keeps its buffer alive in `retired` until
/// the kernel is done with it. Closing cancels every request on the socket before the descriptor closes
/// (a pending receive holds the socket open).
final class UringLoop: EventLoop, @unchecked Sendable {
    private enum Kind: UInt64 { case receive = 1, send, listener, wake }

    private struct Slot {
        var sending: ByteBuffer? = nil
        var sendInFlight = false
    }

    /// Created on the loop's thread (the ring is single-issuer).
    private var ring: OpaquePointer? = nil
    private var slots: [Slot] = []
    private var retired: [UInt64: ByteBuffer] = [:]
    private let capacity = 1024
    private let completions: UnsafeMutablePointer<kv_uring_completion>
    private var ready = 0
    private var sendsStarted = 0
    private let batchMicros: UInt32

    /// Submission entries per ring; provided buffers and their size. 256 x 4 KiB (1 MiB a loop): a burst
    /// from every client of a loop fits before the loop returns them; a request larger than one arrives in
    /// several completions, and a burst larger than all ends a receive with ENOBUFS (re-armed).
    private static let entries: UInt32 = 1024, buffers: UInt32 = 256, bufferSize: UInt32 = 4096
    /// Active clients from which a busy loop waits for more completions (io-uring-batch-usec).
    private static let batchingClients = 32

    override init(server: Server, index: Int) {
        completions = .allocate(capacity: capacity)
        batchMicros = UInt32(server.settings.ioUringBatchMicros)
        super.init(server: server, index: index)
    }

    deinit { completions.deallocate() }

    /// Whether this kernel gives the server a usable ring (io_uring may be missing, or disabled by
    /// seccomp or `kernel.io_uring_disabled`); the reason when it does not.
    static func unavailableReason() -> String? {
        var error: Int32 = 0
        guard let r = kv_uring_create(8, 8, 4096, &error) else { return String(cString: strerror(error)) }
        kv_uring_destroy(r)
        return nil
    }

    private func tag(_ kind: Kind, _ fd: Int32, _ id: Int = 0) -> UInt64 {
        kind.rawValue | UInt64(UInt32(fd) & 0xff_ffff) << 8 | UInt64(UInt32(truncatingIfNeeded: id)) << 32
    }

    /// Queues one request; when the submission ring is full, submits what it holds first.
    private func queue(_ request: () -> Int32) {
        while request() != 0 { _ = kv_uring_enter(ring, 0, 0, 0) }
    }

    override func prepare() {
        var error: Int32 = 0
        ring = kv_uring_create(Self.entries, Self.buffers, Self.bufferSize, &error)
        // Server.start probed the kernel; a ring refused now (out of locked memory) is fatal here.
        guard ring != nil else { fatalError("io_uring ring for loop \(index): \(String(cString: strerror(error)))") }
        queue { kv_uring_poll(ring, wakeFd, UInt32(POLLIN), 1, tag(.wake, wakeFd)) }
        for l in listeners { queue { kv_uring_poll(ring, l, UInt32(POLLIN), 1, tag(.listener, l)) } }
    }

    override func waitForEvents(timeout: Int32) {
        // Busy: wait up to batchMicros for as many completions as the loop has active clients (plus the
        // sends just submitted, which complete at once), so one wake-up serves many. Only with many active
        // clients, whose turns already take longer than the wait: with 10, waiting added 24 us to a
        // 79 us p50; with 50, nothing measurable, for 12% less CPU (docs/io-backends.md).
        let batching = batchMicros > 0 && activeClients >= Self.batchingClients
        let wait = batching ? UInt32(min(capacity, activeClients + sendsStarted)) : 1
        _ = kv_uring_enter(ring, wait, timeout, batching ? batchMicros : 0)
        sendsStarted = 0
        ready = Int(kv_uring_reap(ring, completions, UInt32(capacity)))
    }

    override func dispatchEvents() {
        for i in 0..<ready {
            let e = completions[i]
            let fd = Int32((e.tag >> 8) & 0xff_ffff)
            let more = e.flags & UInt32(KV_URING_F_MORE) != 0
            switch Kind(rawValue: e.tag & 0xff) {
            case .receive: received(e, fd: fd)
            case .send: sent(e, fd: fd)
            case .wake:
                drainWakeups()
                if !more { queue { kv_uring_poll(ring, wakeFd, UInt32(POLLIN), 1, tag(.wake, wakeFd)) } }
            case .listener:
                acceptFrom(fd)
                if !more { queue { kv_uring_poll(ring, fd, UInt32(POLLIN), 1, tag(.listener, fd)) } }
            case nil: break
            }
        }
        ready = 0
    }

    /// The live connection a completion is for, or nil when it closed meanwhile.
    private func owner(of e: kv_uring_completion, fd: Int32) -> Connection? {
        guard let c = connection(Int(fd)), UInt32(truncatingIfNeeded: c.id) == UInt32(e.tag >> 32) else { return nil }
        return c
    }

    private func received(_ e: kv_uring_completion, fd: Int32) {
        let hasBuffer = e.flags & UInt32(KV_URING_F_BUFFER) != 0
        guard let c = owner(of: e, fd: fd) else {
            if hasBuffer { kv_uring_recycle(ring, e.flags) }
            return
        }
        if e.result > 0 && hasBuffer {
            let ok = c.receive(UnsafeRawBufferPointer(start: kv_uring_buffer(ring, e.flags), count: Int(e.result)))
            kv_uring_recycle(ring, e.flags)
            guard ok else { closeConnection(c); return }
            if !c.output.isEmpty || c.closeAfterReply { queueForFlush(c) }
            if e.flags & UInt32(KV_URING_F_MORE) == 0 { armReceive(c) }
        } else if e.result == -ENOBUFS {
            // Every buffer was taken before the loop returned them: the receive ended; start it again.
            armReceive(c)
        } else {
            // 0: the peer closed; otherwise a socket error.
            if hasBuffer { kv_uring_recycle(ring, e.flags) }
            if e.result < 0 { server.log.verbose("Reading from client: \(String(cString: strerror(-e.result)))") }
            closeConnection(c)
        }
    }

    private func armReceive(_ c: Connection) {
        queue { kv_uring_recv_multishot(ring, c.fd, tag(.receive, c.fd, c.id)) }
    }

    private func sent(_ e: kv_uring_completion, fd: Int32) {
        guard let c = owner(of: e, fd: fd), slots[Int(fd)].sendInFlight else {
            retired[e.tag] = nil
            return
        }
        slots[Int(fd)].sendInFlight = false
        let sending = slots[Int(fd)].sending!
        if e.result > 0 {
            sending.consume(Int(e.result))
        } else if e.result != -EINTR && e.result != -EAGAIN {
            closeConnection(c)
            return
        }
        if !sending.isEmpty {
            startSend(c, sending)
        } else {
            c.outputInFlight = 0
            sending.shrinkIfIdle()
            if !c.output.isEmpty || c.closeAfterReply { queueForFlush(c) }
        }
    }

    private func startSend(_ c: Connection, _ sending: ByteBuffer) {
        slots[Int(c.fd)].sendInFlight = true
        c.outputInFlight = sending.count
        sendsStarted += 1
        let bytes = sending.readable
        queue { kv_uring_send(ring, c.fd, bytes.baseAddress, UInt32(min(bytes.count, Int(Int32.max))), tag(.send, c.fd, c.id)) }
    }

    override func flush(_ c: Connection, now: Int64) {
        let fd = Int(c.fd)
        if c.output.isEmpty {
            if c.closeAfterReply && !slots[fd].sendInFlight { closeConnection(c) }
            return
        }
        if slots[fd].sendInFlight {
            // The socket is slower than the replies: the output waits for the send before it, in order.
            // (The cron checks the limits of a client whose whole output is in flight.)
            if c.outputOverLimit(now: now) { closeConnection(c) }
            return
        }
        let sending = slots[fd].sending!
        sending.swapContents(with: c.output)
        startSend(c, sending)
    }

    override func watch(_ c: Connection) {
        let fd = Int(c.fd)
        if fd >= slots.count { slots += [Slot](repeating: Slot(), count: max(fd + 1 - slots.count, slots.count)) }
        slots[fd] = Slot(sending: ByteBuffer(capacity: 4096))
        armReceive(c)
    }

    override func unwatch(_ c: Connection) {
        let fd = Int(c.fd)
        if slots[fd].sendInFlight, let buffer = slots[fd].sending { retired[tag(.send, c.fd, c.id)] = buffer }
        slots[fd] = Slot()
        // Submitted now, while the descriptor still names the socket: the pending receive holds the socket
        // open until it is cancelled.
        queue { kv_uring_cancel_fd(ring, c.fd, 0) }
        _ = kv_uring_enter(ring, 0, 0, 0)
    }

    override func unwatchListener(_ listener: Int32) {
        queue { kv_uring_cancel_fd(ring, listener, 0) }
        _ = kv_uring_enter(ring, 0, 0, 0)
    }

    /// Shutdown: starts every client's last send and waits for the sends (not reading any more).
    override func flushAll(deadline: Int64) {
        let now = monotonicMilliseconds()
        for case let c? in connections { flush(c, now: now) }
        while slots.contains(where: \.sendInFlight) {
            let left = deadline - monotonicMilliseconds()
            if left <= 0 { return }
            waitForEvents(timeout: Int32(min(left, 100)))
            for i in 0..<ready {
                let e = completions[i]
                let fd = Int32((e.tag >> 8) & 0xff_ffff)
                if e.tag & 0xff == Kind.send.rawValue {
                    sent(e, fd: fd)
                } else if e.tag & 0xff == Kind.receive.rawValue && e.flags & UInt32(KV_URING_F_BUFFER) != 0 {
                    kv_uring_recycle(ring, e.flags)
                }
            }
            ready = 0
            for case let c? in connections where !slots[Int(c.fd)].sendInFlight && !c.output.isEmpty { flush(c, now: now) }
        }
    }

    override func finish() {
        kv_uring_destroy(ring)
        ring = nil
    }
}
