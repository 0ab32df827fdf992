import Foundation
import Dispatch
import Glibc
import RESP
import Testing

/// CLIENT LIST, INFO, KILL, REPLY and WAIT as tools use them: every client on every loop listed with its
/// own state, one killed from another loop, replies switched off and on. kvdifftest compares their errors.
@Suite("Client commands", .serialized)
struct ClientCommandTests {
    @Test("CLIENT LIST shows every client on every loop; CLIENT KILL closes one from another loop", arguments: allBackends)
    func listAndKill(backend: String) throws {
        let server = try TestServer(["--io-threads", "2"], backend: backend)
        defer { server.stop() }
        let a = try server.client(), b = try server.client(), s = try server.client()
        _ = b.call("CLIENT", "SETNAME", "worker-b")
        _ = b.call("SELECT", "3")
        _ = s.call("SUBSCRIBE", "ch")
        let list = textReply(a, "CLIENT", "LIST")
        let lines = list.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(list)")
        let bLine = try #require(lines.first { $0.contains("name=worker-b") })
        #expect(bLine.contains(" db=3 ") && bLine.contains(" cmd=select ") && bLine.contains(" flags=N "), "\(bLine)")
        let sLine = try #require(lines.first { $0.contains(" sub=1 ") })
        #expect(sLine.contains(" flags=P "), "\(sLine)")
        #expect(textReply(a, "CLIENT", "LIST", "TYPE", "pubsub").split(separator: "\n").count == 1)
        let info = textReply(a, "CLIENT", "INFO")
        #expect(info.contains(" cmd=client|info ") && info.hasSuffix("\n"))
        // KILL by name's id and by address.
        let bID = String(bLine.split(separator: " ")[0].dropFirst(3))
        #expect(a.call("CLIENT", "KILL", "ID", bID) == ":1\r\n")
        #expect(b.isClosedByServer())
        let sAddr = String(sLine.split(separator: " ")[1].dropFirst(5))
        #expect(a.call("CLIENT", "KILL", sAddr) == "+OK\r\n")
        #expect(s.isClosedByServer())
        #expect(a.call("CLIENT", "KILL", sAddr) == "-ERR No such client\r\n")
        #expect(a.call("PUBSUB", "NUMSUB", "ch") == "*2\r\n$2\r\nch\r\n:0\r\n")
        // SKIPME defaults to yes; NO kills the caller after its reply.
        #expect(a.call("CLIENT", "KILL", "TYPE", "normal") == ":0\r\n")
        #expect(a.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no") == ":1\r\n")
        #expect(a.isClosedByServer())
    }

    @Test("CLIENT REPLY OFF, SKIP and ON; WAIT answers 0 at once or after its timeout")
    func replyModesAndWait() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        c.send(encodeCommand(["CLIENT", "REPLY", "OFF"]) + encodeCommand(["SET", "k", "1"]) + encodeCommand(["CLIENT", "REPLY", "SKIP"])
               + encodeCommand(["CLIENT", "REPLY", "ON"]) + encodeCommand(["INCR", "k"]) + encodeCommand(["CLIENT", "REPLY", "SKIP"])
               + encodeCommand(["INCR", "k"]) + encodeCommand(["GET", "k"]))
        #expect(c.read() == "+OK\r\n", "ON answers")
        #expect(c.read() == ":2\r\n")
        #expect(c.read() == "$1\r\n3\r\n", "SKIP dropped only the next reply")
        #expect(c.call("WAIT", "0", "0") == ":0\r\n")
        let start = Date()
        #expect(c.call("WAIT", "1", "200") == ":0\r\n")
        #expect(Date().timeIntervalSince(start) >= 0.19)
        #expect(c.call("WAIT", "1", "-1") == "-ERR timeout is negative\r\n")
        // Inside EXEC it never waits.
        c.send(encodeCommand(["MULTI"]) + encodeCommand(["WAIT", "1", "0"]) + encodeCommand(["EXEC"]))
        #expect([c.read(), c.read(), c.read()] == ["+OK\r\n", "+QUEUED\r\n", "*1\r\n:0\r\n"])
        // A client waiting forever costs nothing once it goes away.
        let w = try server.client()
        w.command("WAIT", "1", "0")
        w.close()
        #expect(c.call("PING") == "+PONG\r\n")
    }

    @Test("redis-cli MONITOR shows the commands of clients on every loop, quoted as Redis quotes them",
          .enabled(if: clientsRequired || toolExists("redis-cli")))
    func monitorWithRedisCli() throws {
        let server = try TestServer(["--io-threads", "2"])
        defer { server.stop() }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var output = ""
        DispatchQueue.global().async {
            output = (try? run("/usr/bin/env", ["timeout", "-s", "KILL", "2", "stdbuf", "-oL", "redis-cli", "-p", String(server.port), "MONITOR"]))?.output ?? ""
            done.signal()
        }
        // Wait until the monitor is registered, then run commands from clients on both loops.
        let probe = try server.client()
        for _ in 0..<100 where !textReply(probe, "CLIENT", "LIST").contains("flags=O") { usleep(10_000) }
        let a = try server.client(), b = try server.client()
        _ = a.call("SET", "k", "line\nbreak \"quoted\"")
        _ = b.call("SELECT", "2")
        _ = b.call("INCR", "n")
        _ = a.call("CONFIG", "GET", "port")  // admin: not shown
        done.wait()
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasSuffix("[0 \(addr(a))] \"SET\" \"k\" \"line\\nbreak \\\"quoted\\\"\"") }, "\(output)")
        #expect(lines.contains { $0.hasSuffix("[2 \(addr(b))] \"INCR\" \"n\"") }, "\(output)")
        #expect(!output.contains("CONFIG"))
    }

    @Test("CLIENT PAUSE WRITE holds writes but not reads, until UNPAUSE; PAUSE ALL holds everything until its timeout", arguments: allBackends)
    func pause(backend: String) throws {
        let server = try TestServer(["--io-threads", "2"], backend: backend)
        defer { server.stop() }
        let a = try server.client(), b = try server.client()
        _ = b.call("SET", "k", "before")
        #expect(a.call("CLIENT", "PAUSE", "5000", "WRITE") == "+OK\r\n")
        var start = Date()
        #expect(b.call("GET", "k") == "$6\r\nbefore\r\n")
        #expect(Date().timeIntervalSince(start) < 1, "reads are not held")
        b.command("SET", "k", "after")
        usleep(300_000)
        #expect(a.call("GET", "k") == "$6\r\nbefore\r\n", "the write waits")
        #expect(a.call("CLIENT", "UNPAUSE") == "+OK\r\n")
        #expect(b.read() == "+OK\r\n")
        #expect(a.call("GET", "k") == "$5\r\nafter\r\n")
        #expect(a.call("CLIENT", "PAUSE", "300") == "+OK\r\n")
        start = Date()
        #expect(b.call("PING") == "+PONG\r\n")
        #expect(Date().timeIntervalSince(start) > 0.2, "ALL holds every command until the timeout")
        #expect(a.call("CLIENT", "PAUSE", "-1") == "-ERR timeout is negative\r\n")
        #expect(a.call("CLIENT", "PAUSE", "10", "SOME") == "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n")
    }

    /// A client's address as the server sees it (CLIENT INFO's addr).
    private func addr(_ c: RawClient) -> String {
        let info = textReply(c, "CLIENT", "INFO")
        return String(info.split(separator: " ").first { $0.hasPrefix("addr=") }!.dropFirst(5))
    }
}
