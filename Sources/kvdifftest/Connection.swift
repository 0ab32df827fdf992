import Glibc
import RESP

/// One blocking client connection that pipelines: send a batch of commands, then read their replies.
/// A reply that does not come within the timeout, or a closed connection, is an error: the tester
/// reports it as a mismatch (a crashed or stuck server is the worst kind).
final class Connection {
    private let fd: Int32
    private var pending: [UInt8] = []
    private var start = 0
    private var chunk = [UInt8](repeating: 0, count: 64 << 10)

    struct Lost: Error, CustomStringConvertible {
        let description: String
    }

    init(port: Int, timeoutSeconds: Int = 10) throws(Lost) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else {
            close(fd)
            throw Lost(description: "cannot connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    func send(_ commands: [[[UInt8]]]) throws(Lost) {
        var bytes: [UInt8] = []
        for c in commands { bytes += encodeCommand(c) }
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Lost(description: "send failed: \(String(cString: strerror(errno)))") }
            off += n
        }
    }

    func read() throws(Lost) -> RESPValue {
        while true {
            let parsed: (RESPValue, Int)?
            do {
                parsed = try pending[start...].withUnsafeBytes { b throws(ReplyParseError) in try parseReply(b) }
            } catch {
                throw Lost(description: "unparsable reply: \(error)")
            }
            if let (value, used) = parsed {
                start += used
                if start == pending.count {
                    pending.removeAll(keepingCapacity: true)
                    start = 0
                }
                return value
            }
            if start > 0 {
                pending.removeFirst(start)
                start = 0
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw Lost(description: n == 0 ? "connection closed by the server" : "no reply within the timeout")
            }
            pending += chunk[0..<n]
        }
    }

    /// Sends one command and reads its reply.
    func call(_ args: [[UInt8]]) throws(Lost) -> RESPValue {
        try send([args])
        return try read()
    }

    func call(_ args: String...) throws(Lost) -> RESPValue { try call(args.map { Array($0.utf8) }) }
}
