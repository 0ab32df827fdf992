import Foundation
import Glibc
import RESP
import Testing

/// Blocking pops as queue consumers use them: a push on one event loop wakes a client on another, first
/// blocked first served; pipelined commands keep their order behind a blocked one; transactions wake
/// nobody wrongly; BLMOVE chains; timeouts with decimals; CLIENT UNBLOCK; a client that leaves while
/// blocked. kvdifftest compares the single-connection replies (errors, timeouts, data present) with
/// redis-server.
@Suite("Blocking pops", .serialized)
struct BlockingTests {
    /// Waits (bounded) until the server counts `n` blocked clients.
    func waitBlocked(_ admin: RawClient, _ n: Int) {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if admin.call("INFO", "clients").contains("blocked_clients:\(n)\r\n") { return }
            usleep(5_000)
        }
        Issue.record("blocked_clients never reached \(n)")
    }

    @Test("A push wakes the waiters across loops, first blocked first served, one element each", arguments: allBackends)
    func fifoAcrossLoops(backend: String) throws {
        let server = try TestServer(["--io-threads", "2"], backend: backend)
        defer { server.stop() }
        let admin = try server.client()
        let waiters = try (0..<3).map { _ in try server.client() }
        for (i, w) in waiters.enumerated() {
            w.command("BLPOP", "other", "q", "0")
            waitBlocked(admin, i + 1)
        }
        #expect(admin.call("RPUSH", "q", "a", "b") == ":2\r\n", "the pusher's reply counts what it pushed")
        #expect(waiters[0].read() == "*2\r\n$1\r\nq\r\n$1\r\na\r\n")
        #expect(waiters[1].read() == "*2\r\n$1\r\nq\r\n$1\r\nb\r\n")
        waitBlocked(admin, 1)
        #expect(admin.call("LLEN", "q") == ":0\r\n")
        #expect(admin.call("LPUSH", "other", "c") == ":1\r\n")
        #expect(waiters[2].read() == "*2\r\n$5\r\nother\r\n$1\r\nc\r\n", "served from whichever key became ready")
        waitBlocked(admin, 0)
        #expect(admin.call("EXISTS", "q", "other") == ":0\r\n")
        #expect(admin.call("VERIFY") == "+OK\r\n")
    }

    @Test("Commands pipelined behind a blocking pop wait, and their replies keep their order")
    func pipelinedOrder() throws {
        let server = try TestServer(["--io-threads", "2"])
        defer { server.stop() }
        let admin = try server.client(), c = try server.client()
        c.send(encodeCommand(["BRPOP", "jobs", "0"]) + encodeCommand(["PING"]) + encodeCommand(["INCR", "n"]))
        waitBlocked(admin, 1)
        #expect(admin.call("GET", "n") == "$-1\r\n", "the INCR behind the pop has not run")
        _ = admin.call("LPUSH", "jobs", "j1")
        #expect(c.read() == "*2\r\n$4\r\njobs\r\n$2\r\nj1\r\n")
        #expect(c.read() == "+PONG\r\n")
        #expect(c.read() == ":1\r\n")
    }

    @Test("Transactions: a push and pop in one EXEC wakes nobody; a blocking pop inside EXEC does not block")
    func transactions() throws {
        let server = try TestServer(["--io-threads", "2"])
        defer { server.stop() }
        let admin = try server.client(), waiter = try server.client(), t = try server.client()
        waiter.command("BLPOP", "q", "0.3")
        waitBlocked(admin, 1)
        #expect(t.call("MULTI") == "+OK\r\n")
        #expect(t.call("RPUSH", "q", "x") == "+QUEUED\r\n")
        #expect(t.call("LPOP", "q") == "+QUEUED\r\n")
        #expect(t.call("EXEC") == "*2\r\n:1\r\n$1\r\nx\r\n")
        #expect(waiter.read() == "*-1\r\n", "the list was empty again when EXEC ended: the waiter times out")
        // Inside EXEC, on empty keys: the timeout's reply at once (a null bulk for BLMOVE, as Redis).
        #expect(t.call("MULTI") == "+OK\r\n")
        _ = t.call("BLPOP", "q", "0")
        _ = t.call("BLMOVE", "q", "d", "LEFT", "RIGHT", "0")
        #expect(t.call("EXEC") == "*2\r\n*-1\r\n$-1\r\n")
        // A push inside EXEC wakes the waiter once EXEC is done.
        waiter.command("BLPOP", "q", "0")
        waitBlocked(admin, 1)
        #expect(t.call("MULTI") == "+OK\r\n")
        _ = t.call("RPUSH", "q", "y")
        _ = t.call("SET", "after", "1")
        #expect(t.call("EXEC") == "*2\r\n:1\r\n+OK\r\n")
        #expect(waiter.read() == "*2\r\n$1\r\nq\r\n$1\r\ny\r\n")
    }

    @Test("BLMOVE into a list another client waits on feeds that client in turn")
    func moveChains() throws {
        let server = try TestServer(["--io-threads", "2"])
        defer { server.stop() }
        let admin = try server.client(), mover = try server.client(), popper = try server.client()
        mover.command("BLMOVE", "a", "b", "LEFT", "RIGHT", "0")
        waitBlocked(admin, 1)
        popper.command("BLPOP", "b", "0")
        waitBlocked(admin, 2)
        #expect(admin.call("RPUSH", "a", "x") == ":1\r\n")
        #expect(mover.read() == "$1\r\nx\r\n")
        #expect(popper.read() == "*2\r\n$1\r\nb\r\n$1\r\nx\r\n")
        #expect(admin.call("EXISTS", "a", "b") == ":0\r\n")
        // BRPOPLPUSH, and BLMPOP with a count.
        mover.command("BRPOPLPUSH", "src", "dst", "0")
        waitBlocked(admin, 1)
        _ = admin.call("RPUSH", "src", "1", "2")
        #expect(mover.read() == "$1\r\n2\r\n")
        #expect(admin.call("LRANGE", "dst", "0", "-1") == "*1\r\n$1\r\n2\r\n")
        popper.command("BLMPOP", "0", "2", "e1", "e2", "RIGHT", "COUNT", "5")
        waitBlocked(admin, 1)
        _ = admin.call("RPUSH", "e2", "p", "q", "r")
        #expect(popper.read() == "*2\r\n$2\r\ne2\r\n*3\r\n$1\r\nr\r\n$1\r\nq\r\n$1\r\np\r\n")
    }

    @Test("Timeouts in seconds with decimals, in both protocols; CLIENT UNBLOCK with TIMEOUT and ERROR")
    func timeoutsAndUnblock() throws {
        let server = try TestServer()
        defer { server.stop() }
        let admin = try server.client(), c = try server.client()
        let start = Date()
        #expect(c.call("BLPOP", "none", "0.2") == "*-1\r\n")
        let waited = Date().timeIntervalSince(start)
        #expect(waited >= 0.19 && waited < 2, "waited \(waited) s")
        #expect(c.call("HELLO", "3").hasPrefix("%"))
        #expect(c.call("BRPOPLPUSH", "none", "x", "0.05") == "_\r\n")
        _ = c.call("HELLO", "2")
        let id = c.call("CLIENT", "ID").filter(\.isNumber)
        c.command("BLPOP", "q", "0")
        waitBlocked(admin, 1)
        #expect(admin.call("CLIENT", "UNBLOCK", String(id)) == ":1\r\n")
        #expect(c.read() == "*-1\r\n")
        c.command("BLMOVE", "q", "d", "RIGHT", "LEFT", "0")
        waitBlocked(admin, 1)
        #expect(admin.call("CLIENT", "UNBLOCK", String(id), "ERROR") == ":1\r\n")
        #expect(c.read() == "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")
        #expect(admin.call("CLIENT", "UNBLOCK", String(id)) == ":0\r\n", "not blocked any more")
        #expect(c.call("PING") == "+PONG\r\n")
    }

    @Test("A client that disconnects while blocked takes nothing, and a wrong-type key leaves the waiter waiting")
    func disconnectAndWrongType() throws {
        let server = try TestServer(["--io-threads", "2"])
        defer { server.stop() }
        let admin = try server.client()
        do {
            let gone = try server.client()
            gone.command("BLPOP", "q", "0")
            waitBlocked(admin, 1)
            gone.close()
        }
        waitBlocked(admin, 0)
        #expect(admin.call("RPUSH", "q", "x") == ":1\r\n")
        #expect(admin.call("LLEN", "q") == ":1\r\n", "no one took it")
        let w = try server.client()
        w.command("BLPOP", "k", "0")
        waitBlocked(admin, 1)
        #expect(admin.call("SET", "k", "string") == "+OK\r\n")
        #expect(admin.call("DEL", "k") == ":1\r\n")
        waitBlocked(admin, 1)
        #expect(admin.call("RPUSH", "k", "v") == ":1\r\n")
        #expect(w.read() == "*2\r\n$1\r\nk\r\n$1\r\nv\r\n")
    }

    @Test("Sorted sets: BZPOPMIN and BZPOPMAX served across loops in turn, BZMPOP with a count, a list waiter left waiting by a ZADD",
          arguments: allBackends)
    func sortedSetPops(backend: String) throws {
        let server = try TestServer(["--io-threads", "2"], backend: backend)
        defer { server.stop() }
        let admin = try server.client()
        let waiters = try (0..<4).map { _ in try server.client() }
        waiters[0].command("BZPOPMIN", "board", "0")
        waitBlocked(admin, 1)
        waiters[1].command("BZPOPMAX", "board", "0")
        waitBlocked(admin, 2)
        waiters[2].command("BZMPOP", "0", "2", "none", "board", "MIN", "COUNT", "5")
        waitBlocked(admin, 3)
        waiters[3].command("BLPOP", "board", "0")  // a list waiter: a sorted set does not serve it
        waitBlocked(admin, 4)
        #expect(admin.call("ZADD", "board", "1", "a", "2.5", "b", "3", "c", "4", "d") == ":4\r\n")
        #expect(waiters[0].read() == "*3\r\n$5\r\nboard\r\n$1\r\na\r\n$1\r\n1\r\n")
        #expect(waiters[1].read() == "*3\r\n$5\r\nboard\r\n$1\r\nd\r\n$1\r\n4\r\n")
        #expect(waiters[2].read() == "*2\r\n$5\r\nboard\r\n*2\r\n*2\r\n$1\r\nb\r\n$3\r\n2.5\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n")
        waitBlocked(admin, 1)
        #expect(admin.call("EXISTS", "board") == ":0\r\n")
        #expect(admin.call("RPUSH", "board", "job") == ":1\r\n")
        #expect(waiters[3].read() == "*2\r\n$5\r\nboard\r\n$3\r\njob\r\n")
        // A timeout answers a null array; RESP3's score is a double.
        let c = waiters[0]
        #expect(c.call("BZPOPMIN", "board", "0.01") == "*-1\r\n")
        #expect(c.call("HELLO", "3").hasPrefix("%"))
        #expect(admin.call("ZADD", "z3", "0.5", "m") == ":1\r\n")
        #expect(c.call("BZPOPMAX", "z3", "0") == "*3\r\n$2\r\nz3\r\n$1\r\nm\r\n,0.5\r\n")
        #expect(admin.call("VERIFY") == "+OK\r\n")
    }
}
