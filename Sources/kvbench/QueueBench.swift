import Foundation
import Glibc
import Synchronization

// kvbench queue: a job queue as RQ, Celery or Sidekiq run one — producers LPUSH, consumers BRPOP — against
// a server on 127.0.0.1 (ours or redis-server: scripts/queue-bench runs both side by side). Each message
// carries the microsecond it was pushed; a consumer takes the time it popped it. Prints messages per
// second and the push-to-pop latency (p50, p99, max).

struct QueueBench {
    let port: Int
    let producers: Int
    let consumers: Int
    let messages: Int

    func run() {
        let queue = "kvbench:queue:\(getpid())"
        let pushed = Atomic<Int>(0), popped = Atomic<Int>(0)
        let latencies = Mutex<[Int]>([])
        let start = Date()
        var threads: [Thread] = []
        let group = DispatchGroup()
        for _ in 0..<consumers {
            group.enter()
            let t = Thread { [port] in
                defer { group.leave() }
                guard let c = BenchConnection(port: port) else { return }
                var mine: [Int] = []
                while popped.load(ordering: .relaxed) < messages {
                    c.send(["BRPOP", queue, "0.1"])
                    guard let reply = c.readReply() else { break }
                    guard case .array(let parts) = reply, parts.count == 2, case .bulk(let body) = parts[1],
                          let sent = Int(String(decoding: body, as: UTF8.self)) else { continue }
                    mine.append(Int(monotonicMicros()) - sent)
                    popped.add(1, ordering: .relaxed)
                }
                latencies.withLock { $0 += mine }
            }
            threads.append(t)
        }
        for _ in 0..<producers {
            group.enter()
            let t = Thread { [port] in
                defer { group.leave() }
                guard let c = BenchConnection(port: port) else { return }
                while pushed.add(1, ordering: .relaxed).newValue <= messages {
                    c.send(["LPUSH", queue, String(monotonicMicros())])
                    guard c.readReply() != nil else { break }
                }
            }
            threads.append(t)
        }
        for t in threads { t.start() }
        group.wait()
        let seconds = Date().timeIntervalSince(start)
        let l = latencies.withLock { $0 }.sorted()
        guard !l.isEmpty else { print("queue: no message came back"); return }
        func pct(_ p: Double) -> Double { Double(l[min(l.count - 1, Int(Double(l.count) * p))]) / 1000 }
        print(String(format: "queue: %d producers, %d consumers: %d messages in %.2f s, %.0f messages/s; push to pop p50 %.3f ms, p99 %.3f ms, max %.3f ms",
                     producers, consumers, l.count, seconds, Double(l.count) / seconds, pct(0.5), pct(0.99), Double(l.last!) / 1000))
    }
}

private func monotonicMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// A blocking client of the few RESP replies the queue needs.
final class BenchConnection {
    enum Reply { case integer(Int), bulk([UInt8]), null, array([Reply]), status, error }
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var position = 0

    init?(port: Int) {
        guard let fd = connectLoopback(port: port) else { return nil }
        self.fd = fd
    }

    deinit { close(fd) }

    func send(_ args: [String]) {
        var out = Array("*\(args.count)\r\n".utf8)
        for a in args { out += Array("$\(a.utf8.count)\r\n".utf8) + Array(a.utf8) + [13, 10] }
        var off = 0
        while off < out.count {
            let n = out[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            off += n
        }
    }

    func readReply() -> Reply? {
        while true {
            var p = position
            if let r = parse(&p) {
                position = p
                if position == buffer.count { buffer.removeAll(keepingCapacity: true); position = 0 }
                return r
            }
            var chunk = [UInt8](repeating: 0, count: 16384)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }

    private func line(_ p: inout Int) -> [UInt8]? {
        var i = p
        while i + 1 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 {
                let l = Array(buffer[p..<i])
                p = i + 2
                return l
            }
            i += 1
        }
        return nil
    }

    private func parse(_ p: inout Int) -> Reply? {
        guard p < buffer.count else { return nil }
        let kind = buffer[p]
        var q = p + 1
        guard let l = line(&q) else { return nil }
        let n = Int(String(decoding: l, as: UTF8.self)) ?? 0
        switch kind {
        case UInt8(ascii: ":"): p = q; return .integer(n)
        case UInt8(ascii: "+"): p = q; return .status
        case UInt8(ascii: "-"): p = q; return .error
        case UInt8(ascii: "_"): p = q; return .null
        case UInt8(ascii: "$"):
            if n < 0 { p = q; return .null }
            guard q + n + 2 <= buffer.count else { return nil }
            p = q + n + 2
            return .bulk(Array(buffer[q..<(q + n)]))
        case UInt8(ascii: "*"):
            if n < 0 { p = q; return .null }
            var items: [Reply] = []
            for _ in 0..<n {
                guard let r = parse(&q) else { return nil }
                items.append(r)
            }
            p = q
            return .array(items)
        default:
            return nil
        }
    }
}

/// A TCP connection to 127.0.0.1:`port` with TCP_NODELAY (the benchmarks' clients); nil when refused.
func connectLoopback(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_port = in_port_t(UInt16(port).bigEndian)
    a.sin_addr.s_addr = inet_addr("127.0.0.1")
    let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    if r != 0 {
        close(fd)
        return nil
    }
    return fd
}
