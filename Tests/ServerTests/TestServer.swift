import Foundation
import Glibc
import RESP
import Testing

/// The kvserver binary built next to this test bundle.
let serverBinary: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    // swift test may run the bundle from inside an .xctest directory.
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("kvserver").path) && dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent("kvserver").path
}()

/// A file read to its end (for /proc files, whose size reads as 0).
func readWholeFile(_ path: String) -> String {
    guard let h = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? h.close() }
    return String(decoding: h.readDataToEndOfFile(), as: UTF8.self)
}

/// A new empty directory under /tmp.
func temporaryDirectory() -> String {
    var template = Array("/tmp/kvtest-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
}

/// A free TCP port on 127.0.0.1 (bound to port 0, read back, released).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: a.sin_port))
}

/// Every I/O back end, for the tests that run against each. Where the kernel refuses io_uring the server
/// falls back to epoll (IOBackendTests checks that it says so).
let allBackends = ["epoll", "io_uring", "dispatch"]

struct TestFailure: Error, CustomStringConvertible {
    let description: String
}

/// The real server binary on a free loopback port, with its log in a temporary file. Stopped (SIGTERM,
/// then SIGKILL after 10 s) by `stop()`.
final class TestServer: @unchecked Sendable {
    let port: Int
    let logPath: String
    private let process: Process

    /// - Parameter readyLine: the log line that means the server is up; "Server initialized" to talk to
    ///   it while it still loads its snapshot.
    init(_ arguments: [String] = [], backend: String = "io_uring", configFile: String? = nil, readyLine: String = "Ready to accept connections") throws {
        var lastError = ""
        // A port picked free may be taken before the server binds it: try a few.
        for _ in 0..<5 {
            let port = freePort()
            let log = NSTemporaryDirectory() + "kvserver-test-\(port)-\(UUID().uuidString).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: serverBinary)
            // Snapshots go to a directory of the server's own unless the test names one.
            let dir = arguments.contains("--dir") ? [] : ["--dir", temporaryDirectory()]
            p.arguments = (configFile.map { [$0] } ?? []) + ["--port", String(port), "--bind", "127.0.0.1", "--io-backend", backend] + dir + arguments
            p.standardOutput = FileHandle(forWritingAtPath: log)
            p.standardError = p.standardOutput
            try p.run()
            // Readiness is read from the log: standard output, or the --logfile given.
            let watched = arguments.firstIndex(of: "--logfile").map { arguments[$0 + 1] } ?? log
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline && p.isRunning {
                if readWholeFile(watched).contains(readyLine), let c = try? RawClient(port: port) {
                    c.close()
                    self.port = port
                    self.logPath = log
                    self.process = p
                    return
                }
                usleep(20_000)
            }
            if p.isRunning { p.terminate() }
            p.waitUntilExit()
            lastError = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        }
        throw TestFailure(description: "server did not start: \(lastError)")
    }

    var pid: Int32 { process.processIdentifier }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func client() throws -> RawClient { try RawClient(port: port) }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { kill(pid, SIGTERM) }
        return waitForExit()
    }

    func waitForExit(seconds: Double = 10) -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return -1
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    var isRunning: Bool { process.isRunning }

    deinit {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: logPath)
    }
}

/// A blocking TCP client with a receive timeout, speaking raw bytes.
final class RawClient: @unchecked Sendable {  // used by one thread at a time
    let fd: Int32
    private var pending: [UInt8] = []
    /// The server closed the connection.
    private(set) var eof = false

    init(port: Int, sourceAddress: String? = nil, timeout: Double = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), 1 /* TCP_NODELAY */, &one, socklen_t(MemoryLayout<Int32>.size))
        if let sourceAddress {
            var s = sockaddr_in()
            s.sin_family = sa_family_t(AF_INET)
            s.sin_addr.s_addr = inet_addr(sourceAddress)
            let r = withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard r == 0 else { Glibc.close(fd); throw TestFailure(description: "bind source failed") }
        }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else {
            Glibc.close(fd)
            throw TestFailure(description: "connect failed: \(errno)")
        }
    }

    deinit { Glibc.close(fd) }

    func close() { shutdown(fd, Int32(SHUT_RDWR)) }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            off += n
        }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Sends a command as a multibulk request.
    func command(_ args: String...) { send(encodeCommand(args)) }

    /// Reads more bytes; false at end of stream or timeout.
    ///
    /// A signal interrupts the wait (EINTR) and the wait starts again: a socket with SO_RCVTIMEO is not
    /// restarted by SA_RESTART, and Foundation's Process makes SIGCHLD arrive on any thread of the test
    /// process whenever another test's server exits. Taken for a timeout, it made a reply that was on its
    /// way read as the next command's.
    private func fill() -> Bool {
        var buf = [UInt8](repeating: 0, count: 65536)
        var n: Int
        repeat { n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) } } while n < 0 && errno == EINTR
        if n == 0 || (n < 0 && errno == ECONNRESET) { eof = true }
        if n <= 0 { return false }
        pending += buf[0..<n]
        return true
    }

    /// The raw bytes of the next complete reply, or nil if the connection closed (or timed out) first.
    func readRaw() -> [UInt8]? {
        while true {
            if let (_, n) = (try? pending.withUnsafeBytes { try parseReply($0) }) ?? nil {
                let r = Array(pending[0..<n])
                pending.removeFirst(n)
                return r
            }
            guard fill() else { return nil }
        }
    }

    /// The next reply as text ("+OK\r\n"...), or "<closed>".
    func read() -> String {
        readRaw().map { String(decoding: $0, as: UTF8.self) } ?? "<closed>"
    }

    func readValue() -> RESPValue? {
        readRaw().flatMap { r in try? r.withUnsafeBytes { try parseReply($0)?.0 } }
    }

    /// Sends a command and returns the reply text.
    func call(_ args: String...) -> String { call(args) }

    func call(_ args: [String]) -> String {
        send(encodeCommand(args))
        return read()
    }

    /// True when the server closed the connection (reads end of stream) within the timeout.
    func isClosedByServer() -> Bool {
        while fill() {}
        return eof
    }

    /// Everything until the server closes the connection.
    func readUntilClosed() -> String {
        while fill() {}
        defer { pending = [] }
        return String(decoding: pending, as: UTF8.self)
    }
}
