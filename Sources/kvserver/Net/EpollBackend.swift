import CKVSupport
import Glibc
import KVEngine

private let EPOLLIN_ = UInt32(0x001), EPOLLOUT_ = UInt32(0x004), EPOLLERR_ = UInt32(0x008), EPOLLHUP_ = UInt32(0x010)

/// An event loop on its own level-triggered epoll descriptor (the default back end): a readable client
/// is read once per wake-up; a client whose socket is full gets `EPOLLOUT` until it drains.
final class EpollLoop: EventLoop, @unchecked Sendable {
    private let epfd: Int32
    private let capacity = 1024
    private let events: UnsafeMutablePointer<epoll_event>
    private var ready = 0

    override init(server: Server, index: Int) {
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epfd >= 0, "epoll_create1 failed")
        events = .allocate(capacity: capacity)
        super.init(server: server, index: index)
    }

    deinit { events.deallocate() }

    private func control(_ op: Int32, _ fd: Int32, _ events: UInt32) {
        var ev = epoll_event()
        ev.events = events
        ev.data.fd = fd
        _ = epoll_ctl(epfd, op, fd, &ev)
    }

    override func prepare() {
        control(EPOLL_CTL_ADD, wakeFd, EPOLLIN_)
        for l in listeners { control(EPOLL_CTL_ADD, l, EPOLLIN_) }
    }

    override func waitForEvents(timeout: Int32) {
        ready = max(0, Int(epoll_wait(epfd, events, Int32(capacity), timeout)))
    }

    override func dispatchEvents() {
        for i in 0..<ready {
            let fd = Int(events[i].data.fd)
            let flags = events[i].events
            if fd == Int(wakeFd) {
                drainWakeups()
            } else if listeners.contains(Int32(fd)) {
                acceptFrom(Int32(fd))
            } else if let c = connection(fd) {
                if flags & (EPOLLIN_ | EPOLLERR_ | EPOLLHUP_) != 0 { readReady(c) }
                if flags & EPOLLOUT_ != 0 && owns(c) { queueForFlush(c) }
            }
        }
    }

    override func watch(_ c: Connection) { control(EPOLL_CTL_ADD, c.fd, EPOLLIN_) }

    override func unwatch(_ c: Connection) { control(EPOLL_CTL_DEL, c.fd, 0) }

    override func unwatchListener(_ listener: Int32) { control(EPOLL_CTL_DEL, listener, 0) }

    override func flush(_ c: Connection, now: Int64) {
        switch c.flush() {
        case .failed:
            closeConnection(c)
        case .drained:
            if c.closeAfterReply { closeConnection(c); return }
            if c.awaitingWritable {
                c.awaitingWritable = false
                control(EPOLL_CTL_MOD, c.fd, EPOLLIN_)
            }
        case .pending:
            if c.outputOverLimit(now: now) { closeConnection(c); return }
            if !c.awaitingWritable {
                c.awaitingWritable = true
                control(EPOLL_CTL_MOD, c.fd, EPOLLIN_ | EPOLLOUT_)
            }
        }
    }
}
