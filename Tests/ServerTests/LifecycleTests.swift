import Foundation
import Glibc
import RESP
import Testing

/// Runs the server binary to completion (bounded) and returns its exit status and output.
func runServer(_ args: [String]) throws -> (status: Int32, output: String) {
    let r = try run(serverBinary, args, seconds: 10)
    return (r.status, r.output)
}

@Suite("Start-up, configuration and shutdown", .serialized)
struct LifecycleTests {
    @Test("--help and --version")
    func helpAndVersion() throws {
        let help = try runServer(["--help"])
        #expect(help.status == 0 && help.output.contains("Usage: kvserver [/path/to/kvserver.conf] [options]"))
        let version = try runServer(["--version"])
        #expect(version.status == 0 && version.output.hasPrefix("kvserver v="))
    }

    @Test("a bad directive or value stops start-up with the file, line and reason")
    func badConfig() throws {
        let path = NSTemporaryDirectory() + "kv-bad-\(UUID().uuidString).conf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "# comment\nport 7777\n\nmaxclients lots\n".write(toFile: path, atomically: true, encoding: .utf8)
        let r = try runServer([path])
        #expect(r.status == 1)
        #expect(r.output.contains("\(path), line 4"), "\(r.output)")
        #expect(r.output.contains("maxclients lots") && r.output.contains("couldn't be parsed into an integer"))
        try "nosuchdirective yes\n".write(toFile: path, atomically: true, encoding: .utf8)
        let u = try runServer([path])
        #expect(u.status == 1 && u.output.contains("line 1") && u.output.contains("Bad directive"))
        let flag = try runServer(["--port", "99999"])
        #expect(flag.status == 1 && flag.output.contains("--port 99999") && flag.output.contains("between 0 and 65535"))
        let missing = try runServer(["/nonexistent/kv.conf"])
        #expect(missing.status == 1 && missing.output.contains("can't open config file"))
    }

    @Test("the conf file is read, flags override it, CONFIG GET shows the result")
    func confAndFlags() throws {
        let path = NSTemporaryDirectory() + "kv-\(UUID().uuidString).conf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "timeout 40\nrequirepass \"pass word\"\ndatabases 4\nmaxclients 77\n".write(toFile: path, atomically: true, encoding: .utf8)
        let server = try TestServer(["--maxclients", "88"], configFile: path)
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("AUTH", "pass word") == "+OK\r\n")
        #expect(c.call("CONFIG", "GET", "timeout") == "*2\r\n$7\r\ntimeout\r\n$2\r\n40\r\n")
        #expect(c.call("CONFIG", "GET", "maxclients") == "*2\r\n$10\r\nmaxclients\r\n$2\r\n88\r\n")
        #expect(c.call("SELECT", "4") == "-ERR DB index is out of range\r\n")
        #expect(c.call("SELECT", "3") == "+OK\r\n")
    }

    @Test("the shipped conf/kvserver.conf loads and names every directive of the table")
    func shippedConf() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let conf = root.appendingPathComponent("conf/kvserver.conf").path
        let text = try String(contentsOfFile: conf, encoding: .utf8)
        let server = try TestServer([], configFile: conf)
        defer { server.stop() }
        let c = try server.client()
        guard case .array(let all)? = (c.command("CONFIG", "GET", "*"), c.readValue()).1 else {
            Issue.record("CONFIG GET *")
            return
        }
        let names = stride(from: 0, to: all.count, by: 2).compactMap { i -> String? in
            if case .bulk(let b) = all[i] { return String(decoding: b, as: UTF8.self) }
            return nil
        }
        #expect(names.count > 15)
        for n in names { #expect(text.contains("\n\(n) ") || text.contains("\n# \(n) "), "conf documents \(n)") }
    }

    @Test("IPv6: -::1 in the bind list listens on ::1 when the host has it, and is skipped when not")
    func ipv6() throws {
        let server = try TestServer(["--bind", "127.0.0.1", "-::1"])
        defer { server.stop() }
        let hostHasIPv6Loopback = readWholeFile("/proc/net/if_inet6").contains("00000000000000000000000000000001")
        if hostHasIPv6Loopback {
            #expect(server.log.contains("[::1]:\(server.port)"))
            let script = "import socket,sys; s=socket.create_connection(('::1', int(sys.argv[1]))); s.sendall(b'PING\\r\\n'); print(s.recv(16))"
            let r = try run("/usr/bin/env", ["python3", "-c", script, String(server.port)])
            #expect(r.output.contains("+PONG"), "\(r.output)")
        } else {
            #expect(!server.log.contains("[::1]"))
        }
        #expect(try server.client().call("PING") == "+PONG\r\n")
    }

    @Test("logfile, loglevel and pidfile: Redis-style lines in the file, CONFIG SET loglevel takes effect")
    func logging() throws {
        let dir = NSTemporaryDirectory() + "kv-log-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try TestServer(["--logfile", dir + "/kv.log", "--pidfile", dir + "/kv.pid", "--loglevel", "notice"])
        #expect(readWholeFile(dir + "/kv.pid") == "\(server.pid)\n")
        let c = try server.client()
        #expect(c.call("CONFIG", "SET", "loglevel", "verbose") == "+OK\r\n")
        let d = try server.client()
        #expect(d.call("PING") == "+PONG\r\n")
        #expect(server.stop() == 0)
        let lines = readWholeFile(dir + "/kv.log").split(separator: "\n")
        let pattern = #/^\d+:M \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} [.\-*#] .+$/#
        #expect(lines.count >= 4)
        for l in lines { #expect(l.wholeMatch(of: pattern) != nil, "\(l)") }
        #expect(lines.contains { $0.contains(" - Accepted 127.0.0.1:") }, "verbose lines after CONFIG SET loglevel verbose")
        #expect(lines.filter { $0.contains("Accepted") }.count == 1, "not before it")
        #expect(lines.last?.contains("bye bye") == true)
    }

    @Test("address in use: one clear line and exit code 1")
    func addressInUse() throws {
        let server = try TestServer()
        defer { server.stop() }
        let r = try runServer(["--port", String(server.port), "--bind", "127.0.0.1"])
        #expect(r.status == 1)
        #expect(r.output.contains("Could not create server TCP listening socket 127.0.0.1:\(server.port): bind: Address already in use"))
    }

    @Test("SIGTERM and SIGINT: pending replies are flushed, exit 0 with a log line", arguments: [SIGTERM, SIGINT])
    func signals(sig: Int32) throws {
        let server = try TestServer()
        let c = try server.client()
        #expect(c.call("SET", "k", "v") == "+OK\r\n")
        kill(server.pid, sig)
        #expect(server.waitForExit() == 0)
        #expect(server.log.contains("scheduling shutdown"))
        #expect(server.log.contains("ready to exit, bye bye"))
        #expect(c.isClosedByServer())
    }

    @Test("SHUTDOWN: no reply, the server exits 0, replies to earlier pipelined commands go out", arguments: ["epoll", "dispatch"])
    func shutdownCommand(backend: String) throws {
        let server = try TestServer(backend: backend)
        let c = try server.client()
        c.send(encodeCommand(["PING"]) + encodeCommand(["SHUTDOWN", "NOSAVE"]) + encodeCommand(["PING"]))
        #expect(c.read() == "+PONG\r\n")
        #expect(c.readUntilClosed() == "")
        #expect(server.waitForExit() == 0)
        #expect(server.log.contains("User requested shutdown"))
    }
}
