import Foundation
import Glibc
import RESP
import Testing

/// Every limit at its edge, with Redis' replies.
@Suite("Limits", .serialized)
struct LimitTests {
    @Test("maxclients: the extra connection gets Redis' error and is closed")
    func maxClients() throws {
        let server = try TestServer(["--maxclients", "2"])
        defer { server.stop() }
        usleep(200_000)  // the start-up probe's connection has been seen closed
        let a = try server.client(), b = try server.client()
        #expect(a.call("PING") == "+PONG\r\n")
        #expect(b.call("PING") == "+PONG\r\n")
        let c = try server.client()
        #expect(c.read() == "-ERR max number of clients reached\r\n")
        #expect(c.isClosedByServer())
        a.close()
        // The slot frees once the server has seen the close.
        var ok = false
        for _ in 0..<100 where !ok {
            usleep(20_000)
            let d = try server.client()
            ok = d.call("PING") == "+PONG\r\n"
        }
        #expect(ok)
    }

    @Test("inline request size: at the limit accepted, over it refused")
    func inlineLimit() throws {
        let server = try TestServer(["--proto-inline-max-size", "2kb"])
        defer { server.stop() }
        let c = try server.client()
        // "ECHO " + payload + "\r\n" with the whole line (no newline yet) at exactly 2048 bytes buffered is fine.
        let atLimit = "ECHO " + String(repeating: "a", count: 2048 - 5)
        c.send(atLimit)
        usleep(50_000)
        c.send("\r\n")
        #expect(c.read() == "$2043\r\n\(String(repeating: "a", count: 2043))\r\n")
        c.send("ECHO " + String(repeating: "a", count: 2048 - 4))
        #expect(c.read() == "-ERR Protocol error: too big inline request\r\n")
        #expect(c.isClosedByServer())
    }

    @Test("proto-max-bulk-len: a bulk of exactly the limit is accepted, one byte more refused")
    func bulkLimit() throws {
        let server = try TestServer(["--proto-max-bulk-len", "1mb"])
        defer { server.stop() }
        let c = try server.client()
        let value = [UInt8](repeating: 120, count: 1 << 20)
        c.send(encodeCommand([Array("SET".utf8), Array("k".utf8), value]))
        #expect(c.read() == "+OK\r\n")
        #expect(c.call("STRLEN", "k") == ":1048576\r\n")
        #expect(c.call("APPEND", "k", "x") == "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n")
        c.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n")
        #expect(c.read() == "-ERR Protocol error: invalid bulk length\r\n")
        #expect(c.isClosedByServer())
    }

    @Test("client-query-buffer-limit: over it the client is closed with no reply, and the log says why")
    func queryBufferLimit() throws {
        let server = try TestServer(["--client-query-buffer-limit", "1mb"])
        defer { server.stop() }
        let c = try server.client()
        // Just under the limit (an incomplete request): still served.
        let under = [UInt8](repeating: 120, count: (1 << 20) - 100)
        c.send(Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$\(under.count)\r\n".utf8) + under + [13, 10])
        #expect(c.read() == "+OK\r\n")
        let d = try server.client()
        d.send(Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n".utf8) + [UInt8](repeating: 1, count: 1_100_000))
        #expect(d.readUntilClosed() == "")
        #expect(d.eof)
        #expect(server.log.contains("Closing client that reached max query buffer length"))
        #expect(c.call("STRLEN", "k") == ":\(under.count)\r\n")
    }

    @Test("timeout: an idle client is closed, a busy one is not")
    func idleTimeout() throws {
        let server = try TestServer(["--timeout", "1", "--hz", "50"])
        defer { server.stop() }
        let idle = try server.client(), busy = try server.client()
        #expect(idle.call("PING") == "+PONG\r\n")
        let start = Date()
        while Date().timeIntervalSince(start) < 2.5 {
            #expect(busy.call("PING") == "+PONG\r\n")
            usleep(200_000)
        }
        #expect(idle.isClosedByServer())
        #expect(busy.call("PING") == "+PONG\r\n")
    }

    @Test("tcp-keepalive is set on accepted sockets")
    func keepalive() throws {
        let server = try TestServer(["--tcp-keepalive", "77"])
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("CONFIG", "GET", "tcp-keepalive") == "*2\r\n$13\r\ntcp-keepalive\r\n$2\r\n77\r\n")
        // The server's side of the connection in /proc/net/tcp (local port = the server's, state 01
        // established): timer kind 02 is the keepalive timer, due in about 77 s (the field is in jiffies).
        let hex = String(server.port, radix: 16, uppercase: true)
        let port = String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        let table = readWholeFile("/proc/net/tcp")
        var rows: [[Substring]] = []
        for line in table.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count > 5 && f[1].hasSuffix(":" + port) && f[3] == "01" { rows.append(f) }
        }
        #expect(rows.count == 1)
        guard let timer = rows.first?[5].split(separator: ":"), timer.count == 2 else { return }
        #expect(timer[0] == "02", "keepalive timer armed")
        let due = Double(Int(timer[1], radix: 16) ?? 0) / Double(sysconf(Int32(_SC_CLK_TCK)))
        #expect(due > 60 && due <= 77 * 3, "due in \(due) s")
    }

    /// A client that sends requests but never reads: its replies pile up in its output buffer until the
    /// limit, then it is cut; meanwhile other clients are served at full speed.
    @Test("a client that never reads is cut at client-output-buffer-limit; others are unaffected", arguments: allBackends)
    func slowReader(backend: String) throws {
        let server = try TestServer(["--client-output-buffer-limit", "normal", "4mb", "0", "0"], backend: backend)
        defer { server.stop() }
        let other = try server.client()
        let big = [UInt8](repeating: 65, count: 100_000)
        other.send(encodeCommand([Array("SET".utf8), Array("big".utf8), big]))
        #expect(other.read() == "+OK\r\n")
        let slow = try RawClient(port: server.port, timeout: 2)
        var rcv: Int32 = 4096
        setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &rcv, socklen_t(MemoryLayout<Int32>.size))
        // 400 GETs of 100 KB = 40 MB of replies, never read.
        let gets = (0..<400).flatMap { _ in encodeCommand(["GET", "big"]) }
        slow.send(gets)
        let start = Date()
        var served = 0
        while Date().timeIntervalSince(start) < 1 {
            if other.call("INCR", "n") == ":\(served + 1)\r\n" { served += 1 }
        }
        #expect(served > 100, "other clients keep being served")
        var cut = false
        for _ in 0..<100 where !cut {
            cut = server.log.contains("scheduled to be closed ASAP for overcoming of output buffer limits")
            usleep(50_000)
        }
        #expect(cut)
        #expect(other.call("PING") == "+PONG\r\n")
    }

    @Test("CONFIG SET of a limit applies to connections already open")
    func limitsChangeAtRunTime() throws {
        let server = try TestServer(["--hz", "50"])
        defer { server.stop() }
        let idle = try server.client(), admin = try server.client()
        #expect(idle.call("SET", "k", String(repeating: "x", count: 1 << 20)) == "+OK\r\n")
        #expect(admin.call("CONFIG", "SET", "proto-max-bulk-len", "1mb", "timeout", "1") == "+OK\r\n")
        #expect(admin.call("APPEND", "k", "y") == "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n")
        #expect(idle.isClosedByServer(), "the idle connection is closed under the new timeout")
    }

    @Test("the soft output limit cuts a client that stays above it for its seconds")
    func softOutputLimit() throws {
        let server = try TestServer(["--client-output-buffer-limit", "normal", "0", "1mb", "1", "--hz", "50"])
        defer { server.stop() }
        let other = try server.client()
        other.send(encodeCommand([Array("SET".utf8), Array("big".utf8), [UInt8](repeating: 66, count: 100_000)]))
        #expect(other.read() == "+OK\r\n")
        let slow = try RawClient(port: server.port, timeout: 2)
        var rcv: Int32 = 4096
        setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &rcv, socklen_t(MemoryLayout<Int32>.size))
        slow.send((0..<100).flatMap { _ in encodeCommand(["GET", "big"]) })  // 10 MB of replies, never read
        usleep(300_000)
        #expect(!server.log.contains("overcoming of output buffer limits"), "not before its second is up")
        var cut = false
        for _ in 0..<100 where !cut {
            usleep(50_000)
            cut = server.log.contains("overcoming of output buffer limits")
        }
        #expect(cut)
        #expect(other.call("PING") == "+PONG\r\n")
    }
}
