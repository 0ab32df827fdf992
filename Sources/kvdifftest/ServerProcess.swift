import Foundation
import Glibc

/// A server the tester starts itself (redis-server or kvserver) on a free loopback port, with its log in
/// a temporary directory; stopped with SIGTERM (SIGKILL after 5 s).
final class ServerProcess {
    let name: String
    let port: Int
    let directory: String
    private let process: Process

    init(name: String, executable: String, arguments: (Int, String) -> [String]) throws {
        var lastError = ""
        for _ in 0..<5 {
            let port = freePort()
            var template = Array("/tmp/kvdifftest-XXXXXX".utf8CString)
            let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
            let log = dir + "/server.log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = arguments(port, dir)
            p.standardOutput = FileHandle(forWritingAtPath: log)
            p.standardError = p.standardOutput
            try p.run()
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline && p.isRunning {
                if let c = try? Connection(port: port, timeoutSeconds: 2), (try? c.call("PING")) == .simple("PONG") {
                    children.append(p.processIdentifier)
                    self.name = name
                    self.port = port
                    self.directory = dir
                    self.process = p
                    return
                }
                usleep(20_000)
            }
            if p.isRunning { p.terminate() }
            p.waitUntilExit()
            lastError = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: dir)
        }
        throw ServerError(description: "\(name) did not start: \(lastError)")
    }

    var isRunning: Bool { process.isRunning }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The servers started, killed by `stopChildrenOnSignals` if the tester is interrupted.
nonisolated(unsafe) private var children: [pid_t] = []

/// SIGINT and SIGTERM (a timeout, ^C) take the servers down with the tester.
func stopChildrenOnSignals() {
    for s in [SIGINT, SIGTERM, SIGHUP] {
        signal(s) { sig in
            for pid in children { kill(pid, SIGKILL) }
            _exit(128 + sig)
        }
    }
}

struct ServerError: Error, CustomStringConvertible {
    let description: String
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

/// Which executable to run: an explicit path, else one found on PATH or next to this binary.
func locate(_ name: String, explicit: String?) -> String? {
    if let explicit { return explicit }
    let here = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        .deletingLastPathComponent().appendingPathComponent(name).path
    if FileManager.default.isExecutableFile(atPath: here) { return here }
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/usr/sbin").split(separator: ":") {
        let p = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}
