import Glibc
import RESP

/// One blocking connection to the server: send a command, read its reply.
final class Client {
    let host: String
    let port: Int
    private let fd: Int32
    private var pending: [UInt8] = []

    struct ConnectError: Error {
        let message: String
    }

    /// Connects to host:port (a name or an address, IPv4 or IPv6).
    init(host: String, port: Int) throws(ConnectError) {
        self.host = host
        self.port = port
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw ConnectError(message: "Could not connect to \(host):\(port): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = ECONNREFUSED
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let a = candidate {
            let s = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if s >= 0 {
                if connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 {
                    var one: Int32 = 1
                    setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    fd = s
                    return
                }
                lastError = errno
                close(s)
            } else {
                lastError = errno
            }
            candidate = a.pointee.ai_next
        }
        throw ConnectError(message: "Could not connect to \(host):\(port): \(String(cString: strerror(lastError)))")
    }

    deinit { close(fd) }

    struct ConnectionLost: Error {}

    /// Sends one command and waits for its reply.
    func call(_ arguments: [[UInt8]]) throws(ConnectionLost) -> RESPValue {
        var request = encodeCommand(arguments)
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeMutableBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ConnectionLost() }
            sent += n
        }
        return try readReply()
    }

    func call(_ arguments: String...) throws(ConnectionLost) -> RESPValue { try call(arguments.map { Array($0.utf8) }) }

    private func readReply() throws(ConnectionLost) -> RESPValue {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let parsed: (RESPValue, Int)?
            do {
                parsed = try pending.withUnsafeBytes { b throws(ReplyParseError) in try parseReply(b) }
            } catch {
                throw ConnectionLost()
            }
            if let (value, used) = parsed {
                pending.removeFirst(used)
                return value
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ConnectionLost() }
            pending += chunk[0..<n]
        }
    }
}
