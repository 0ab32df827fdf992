import Foundation
import Glibc
import RESP
import Testing

@Suite("Security", .serialized)
struct SecurityTests {
    @Test("requirepass: NOAUTH until AUTH, WRONGPASS on a bad password, HELLO AUTH")
    func requirePass() throws {
        let server = try TestServer(["--requirepass", "s3cret"])
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("GET", "k") == "-NOAUTH Authentication required.\r\n")
        #expect(c.call("NOSUCHCMD") == "-ERR unknown command 'NOSUCHCMD', with args beginning with: \r\n")
        #expect(c.call("GET") == "-ERR wrong number of arguments for 'get' command\r\n")
        #expect(c.call("CLIENT", "NOPE") == "-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n")
        #expect(c.call("HELLO", "3") == "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n")
        #expect(c.call("AUTH", "wrong") == "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        #expect(c.call("AUTH", "default", "wrong") == "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        #expect(c.call("AUTH", "s3cret") == "+OK\r\n")
        #expect(c.call("SET", "k", "v") == "+OK\r\n")
        let h = try server.client()
        #expect(h.call("HELLO", "3", "AUTH", "default", "bad").hasPrefix("-WRONGPASS"))
        #expect(h.call("HELLO", "3", "AUTH", "default", "s3cret").hasPrefix("%7\r\n"))
        #expect(h.call("GET", "k") == "$1\r\nv\r\n")
        let q = try server.client()
        #expect(q.call("QUIT") == "+OK\r\n")
        #expect(q.isClosedByServer())
    }

    @Test("unauthenticated clients get the small multibulk limits")
    func unauthenticatedLimits() throws {
        let server = try TestServer(["--requirepass", "pw"])
        defer { server.stop() }
        let a = try server.client()
        a.send("*10\r\n$3\r\nDEL\r\n" + String(repeating: "$1\r\nx\r\n", count: 9))  // 10 arguments are allowed
        #expect(a.read() == "-NOAUTH Authentication required.\r\n")
        let b = try server.client()
        b.send("*11\r\n")
        #expect(b.read() == "-ERR Protocol error: unauthenticated multibulk length\r\n")
        #expect(b.isClosedByServer())
        let c = try server.client()
        c.send("*2\r\n$4\r\nAUTH\r\n$16385\r\n")
        #expect(c.read() == "-ERR Protocol error: unauthenticated bulk length\r\n")
        let d = try server.client()
        d.send("*2\r\n$4\r\nECHO\r\n$16384\r\n" + String(repeating: "z", count: 16384) + "\r\n")
        #expect(d.read() == "-NOAUTH Authentication required.\r\n")
        // After AUTH the normal limits apply.
        let e = try server.client()
        #expect(e.call("AUTH", "pw") == "+OK\r\n")
        e.send(encodeCommand(["ECHO", String(repeating: "z", count: 20000)]))
        #expect(e.read().hasPrefix("$20000\r\n"))
    }

    @Test("protected mode: no password and a non-loopback peer gets DENIED")
    func protectedMode() throws {
        let server = try TestServer(["--bind", "127.0.0.1"])
        defer { server.stop() }
        let outsider = try RawClient(port: server.port, sourceAddress: "127.0.0.2")
        #expect(outsider.readUntilClosed().hasPrefix("-DENIED kvserver is running in protected mode"))
        let local = try server.client()
        #expect(local.call("CONFIG", "SET", "protected-mode", "no") == "+OK\r\n")
        let now = try RawClient(port: server.port, sourceAddress: "127.0.0.2")
        #expect(now.call("PING") == "+PONG\r\n")
        #expect(local.call("CONFIG", "SET", "protected-mode", "yes", "requirepass", "pw") == "+OK\r\n")
        let withPassword = try RawClient(port: server.port, sourceAddress: "127.0.0.2")
        #expect(withPassword.call("PING") == "-NOAUTH Authentication required.\r\n")
    }
}
