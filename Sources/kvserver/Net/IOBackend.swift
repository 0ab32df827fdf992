import CKVSupport
import Glibc
import KVEngine

/// A readiness back end: it owns the connections, calls `Connection.readAndProcess` when one is readable
/// and `Connection.flush` once per burst, and enforces the per-connection limits it is told about.
/// Two kinds exist: `LoopBackend` (one event loop per I/O thread: io_uring rings, the default, or epoll
/// descriptors; EventLoop.swift) and `DispatchBackend` (Dispatch read/write sources on serial queues).
/// docs/io-backends.md compares them.
protocol IOBackend: AnyObject, Sendable {
    /// Starts accepting on `listeners` and serving; returns at once.
    func start(listeners: [Listener])
    /// Stops accepting, flushes every client's pending replies (bounded in time), closes every client;
    /// returns when done.
    func shutdown()
}

/// The one thread (epoll loop) or serial queue (Dispatch lane) that touches a connection. A command that
/// finishes on another thread (Connection.replyLater) comes back through it.
protocol ConnectionOwner: AnyObject, Sendable {
    /// Runs `work` on the owner's thread, then flushes the connection's replies (or closes it). Skipped when
    /// the connection has been closed meanwhile.
    func resume(_ c: Connection, _ work: @escaping @Sendable () -> Void)
    /// Whether the calling thread is this owner's (then its connections may be written to directly).
    var isCurrent: Bool { get }
    /// On the owner's thread: `c`'s output grew outside its own commands (a message published by another
    /// connection of this owner); flush it with this burst.
    func outputWritten(_ c: Connection)
}

/// Accepts every pending connection on `listener`, handing each admitted one to `adopt`.
func acceptAll(_ listener: Int32, server: Server, adopt: (Connection) -> Void) {
    while true {
        var storage = sockaddr_storage()
        var length = UInt32(MemoryLayout<sockaddr_storage>.size)
        let fd = withUnsafeMutablePointer(to: &storage) { kv_accept_nonblocking(listener, $0, &length) }
        if fd < 0 {
            if errno == EINTR || errno == ECONNABORTED { continue }
            if errno != EAGAIN { server.log.warning("Accepting client connection: \(String(cString: strerror(errno)))") }
            return
        }
        if let c = server.admit(fd: fd, peer: storage) { adopt(c) }
    }
}

/// The last write attempts before a client is closed at shutdown: waits for writability up to `deadline`
/// (monotonic ms) so a reply in flight is not cut off.
func finalFlush(_ c: Connection, deadline: Int64) {
    while c.flush() == .pending {
        let left = deadline - monotonicMilliseconds()
        if left <= 0 { return }
        var p = pollfd(fd: c.fd, events: Int16(POLLOUT), revents: 0)
        if poll(&p, 1, Int32(min(left, 100))) < 0 && errno != EINTR { return }
    }
}
