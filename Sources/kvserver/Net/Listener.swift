import Glibc

/// A listening TCP socket, non-blocking.
struct Listener {
    let fd: Int32
    let address: String
}

struct ListenError: Error {
    let message: String
}

/// Opens one listening socket per `bind` address, as Redis does: `*` is every IPv4 address, `::*` every
/// IPv6 one, and a leading `-` marks an address that may be missing on this host (skipped when the
/// address or its family is not available). Any other failure (address in use) is an error.
func openListeners(bind: [String], port: Int, backlog: Int) throws(ListenError) -> [Listener] {
    var listeners: [Listener] = []
    for entry in bind {
        let optional = entry.hasPrefix("-")
        var host = optional ? String(entry.dropFirst()) : entry
        if host == "*" { host = "0.0.0.0" }
        if host == "::*" { host = "::" }
        do {
            listeners.append(try listen(host: host, port: port, backlog: backlog))
        } catch {
            if optional && (error.code == EADDRNOTAVAIL || error.code == EAFNOSUPPORT || error.code == EPROTONOSUPPORT) { continue }
            for l in listeners { close(l.fd) }
            throw ListenError(message: "Could not create server TCP listening socket \(host):\(port): \(error.step): \(String(cString: strerror(error.code)))")
        }
    }
    guard !listeners.isEmpty else { throw ListenError(message: "Failed listening on port \(port) (tcp): no address to bind") }
    return listeners
}

private struct SocketError: Error {
    let step: String
    let code: Int32
}

private func listen(host: String, port: Int, backlog: Int) throws(SocketError) -> Listener {
    var v4 = sockaddr_in()
    var v6 = sockaddr_in6()
    let family: Int32
    if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
        family = AF_INET
        v4.sin_family = sa_family_t(AF_INET)
        v4.sin_port = in_port_t(UInt16(port).bigEndian)
    } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
        family = AF_INET6
        v6.sin6_family = sa_family_t(AF_INET6)
        v6.sin6_port = in_port_t(UInt16(port).bigEndian)
    } else {
        throw SocketError(step: "bind", code: EADDRNOTAVAIL)
    }
    let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SocketError(step: "socket", code: errno) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    if family == AF_INET6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
    let r = family == AF_INET
        ? withUnsafePointer(to: &v4) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        : withUnsafePointer(to: &v6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
    if r != 0 {
        let e = errno
        close(fd)
        throw SocketError(step: "bind", code: e)
    }
    if Glibc.listen(fd, Int32(backlog)) != 0 {
        let e = errno
        close(fd)
        throw SocketError(step: "listen", code: e)
    }
    return Listener(fd: fd, address: family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)")
}

/// The peer of an accepted socket as "ip:port", and whether it is the loopback address itself
/// (127.0.0.1 or ::1: what protected mode lets in).
func peerAddress(_ storage: sockaddr_storage) -> (text: String, loopback: Bool) {
    var s = storage
    var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    if Int32(s.ss_family) == AF_INET {
        return withUnsafePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                var a = p.pointee.sin_addr
                inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
                let ip = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                return ("\(ip):\(UInt16(bigEndian: p.pointee.sin_port))", ip == "127.0.0.1")
            }
        }
    }
    return withUnsafePointer(to: &s) {
        $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
            var a = p.pointee.sin6_addr
            inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
            let ip = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return ("\(ip):\(UInt16(bigEndian: p.pointee.sin6_port))", ip == "::1")
        }
    }
}

/// The local (`peer` false) or remote address of a connected socket, "ip:port".
func socketAddress(_ fd: Int32, peer: Bool) -> String {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let r = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
    }
    return r == 0 ? peerAddress(storage).text : "?"
}
