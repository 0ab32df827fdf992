import Foundation
import Glibc
import RESP
import Synchronization
import Testing

/// MULTI/EXEC and WATCH as applications use them: what invalidates a watch and what does not, atomicity
/// across event loops (an isolation test with concurrent transfers and summing readers), and redis-py's
/// transaction pipelines and WATCH retry loop. kvdifftest compares replies (queue errors, runtime errors,
/// nesting, watched-and-changed on one connection) with redis-server.
@Suite("Transactions", .serialized)
struct TransactionTests {
    @Test("WATCH: a write by anyone, expiry, FLUSHALL and RENAME in or out fail EXEC; reads do not", arguments: allBackends)
    func watchInvalidation(backend: String) throws {
        let server = try TestServer(["--io-threads", "2"], backend: backend)
        defer { server.stop() }
        let a = try server.client(), b = try server.client()
        /// WATCH `key` on a, let `meanwhile` run on b, then a transaction on a: true when EXEC ran it.
        func survives(_ key: String, _ meanwhile: () -> Void) -> Bool {
            #expect(a.call("WATCH", key) == "+OK\r\n")
            meanwhile()
            #expect(a.call("MULTI") == "+OK\r\n")
            #expect(a.call("SET", "marker", "x") == "+QUEUED\r\n")
            let r = a.call("EXEC")
            #expect(r == "*-1\r\n" || r == "*1\r\n+OK\r\n", "\(r)")
            return r != "*-1\r\n"
        }
        _ = b.call("SET", "k", "1")
        #expect(survives("k") { _ = b.call("GET", "k"); _ = b.call("EXISTS", "k"); _ = b.call("TTL", "k") })
        #expect(!survives("k") { _ = b.call("SET", "k", "2") })
        #expect(!survives("k") { _ = b.call("APPEND", "k", "x") })
        #expect(!survives("k") { _ = b.call("DEL", "k") })
        #expect(!survives("absent") { _ = b.call("SET", "absent", "now") })
        _ = b.call("SET", "k", "1")
        #expect(!survives("k") { _ = b.call("FLUSHALL") })
        _ = b.call("SET", "src", "1")
        #expect(!survives("src") { _ = b.call("RENAME", "src", "dst") })
        #expect(!survives("dst2") { _ = b.call("SET", "src2", "1"); _ = b.call("RENAME", "src2", "dst2") })
        // The client's own write counts too.
        #expect(!survives("k") { _ = a.call("SET", "k", "mine") })
        // Expiry: removed by the active cycle or lazily, or merely past its time at EXEC.
        _ = b.call("SET", "e", "1", "PX", "30")
        #expect(!survives("e") { usleep(150_000) })
        // SORT converts a small sorted set to its skiplist form, as Redis 7.0 does, and that is no write.
        _ = b.call("ZADD", "z", "2", "b", "1", "a")
        #expect(b.call("OBJECT", "ENCODING", "z") == "$8\r\nlistpack\r\n")
        #expect(survives("z") { _ = b.call("SORT_RO", "z", "ALPHA") })
        #expect(b.call("OBJECT", "ENCODING", "z") == "$8\r\nskiplist\r\n")
        #expect(b.call("ZRANGE", "z", "0", "-1", "WITHSCORES") == "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n")
        // A watch on another database's key of the same name is not touched.
        _ = b.call("SELECT", "1")
        #expect(survives("k") { _ = b.call("SET", "k", "in db 1") })
        // UNWATCH and DISCARD forget the watches.
        #expect(a.call("WATCH", "k") == "+OK\r\n")
        #expect(a.call("UNWATCH") == "+OK\r\n")
        _ = b.call("SELECT", "0")
        _ = b.call("SET", "k", "changed")
        #expect(a.call("MULTI") == "+OK\r\n" && a.call("EXEC") == "*0\r\n")
        // A queued UNWATCH runs after EXEC has let the watches go: nothing to do, and nothing blocks.
        #expect(a.call("WATCH", "k") == "+OK\r\n")
        a.send(encodeCommand(["MULTI"]) + encodeCommand(["UNWATCH"]) + encodeCommand(["SET", "k", "in tx"]) + encodeCommand(["EXEC"]))
        #expect((0..<4).map { _ in a.readValue() } == [.simple("OK"), .simple("QUEUED"), .simple("QUEUED"), .array([.simple("OK"), .simple("OK")])])
        #expect(b.call("SET", "k", "after") == "+OK\r\n")
        #expect(a.call("GET", "k") == "$5\r\nafter\r\n")
    }

    @Test("COPY and MOVE across databases, alone and inside EXEC (which then holds every database)")
    func copyAndMoveInsideExec() throws {
        let server = try TestServer(["--io-threads", "2"])
        defer { server.stop() }
        let c = try server.client()
        _ = c.call("SET", "a", "1", "EX", "100")
        #expect(c.call("COPY", "a", "b") == ":1\r\n")
        #expect(c.call("COPY", "a", "b") == ":0\r\n")
        #expect(c.call("COPY", "a", "a") == "-ERR source and destination objects are the same\r\n")
        #expect(c.call("COPY", "a", "a", "DB", "1") == ":1\r\n")
        #expect(c.call("MOVE", "b", "0") == "-ERR source and destination objects are the same\r\n")
        #expect(c.call("MOVE", "b", "16") == "-ERR DB index is out of range\r\n")
        c.send(encodeCommand(["MULTI"]) + encodeCommand(["MOVE", "b", "2"]) + encodeCommand(["COPY", "a", "z", "DB", "3"])
               + encodeCommand(["EXEC"]))
        let replies = (0..<4).map { _ in c.readValue() }
        #expect(replies == [.simple("OK"), .simple("QUEUED"), .simple("QUEUED"), .array([.integer(1), .integer(1)])])
        _ = c.call("SELECT", "2")
        #expect(c.call("GET", "b") == "$1\r\n1\r\n")
        #expect(c.call("TTL", "b") != ":-1\r\n", "the expiry moved with the key")
        _ = c.call("SELECT", "3")
        #expect(c.call("GET", "z") == "$1\r\n1\r\n")
        #expect(c.call("VERIFY") == "+OK\r\n")
    }

    @Test("EXEC is atomic across event loops: concurrent transfers never change the total a MULTI/EXEC reader sums",
          arguments: allBackends)
    func isolation(backend: String) throws {
        let server = try TestServer(["--io-threads", "2"], backend: backend)
        defer { server.stop() }
        let accounts = 50
        let setup = try server.client()
        for i in 0..<accounts { _ = setup.call("SET", "acct:\(i)", "100") }
        let total = accounts * 100
        let bad = Mutex<[String]>([])
        let readsDone = Atomic<Int>(0)
        let deadline = Date().addingTimeInterval(3)
        let group = DispatchGroup()
        for w in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                guard let c = try? server.client() else { return bad.withLock { $0.append("connect") } }
                var rng = SystemRandomNumberGenerator()
                var n = 0
                while Date() < deadline && n < 20_000 {
                    let from = Int.random(in: 0..<accounts, using: &rng), to = Int.random(in: 0..<accounts, using: &rng)
                    let amount = Int.random(in: 1...5, using: &rng)
                    c.send(encodeCommand(["MULTI"]) + encodeCommand(["DECRBY", "acct:\(from)", String(amount)])
                           + encodeCommand(["INCRBY", "acct:\(to)", String(amount)]) + encodeCommand(["EXEC"]))
                    for _ in 0..<4 { _ = c.readValue() }
                    n += 1
                }
                _ = w
            }
        }
        for _ in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                guard let c = try? server.client() else { return bad.withLock { $0.append("connect") } }
                let keys = (0..<accounts).map { "acct:\($0)" }
                while Date() < deadline {
                    // Half the sums by MGET in a transaction, half by GETs in one.
                    var batch = encodeCommand(["MULTI"])
                    if readsDone.load(ordering: .relaxed) % 2 == 0 {
                        batch += encodeCommand(["MGET"] + keys)
                    } else {
                        for k in keys { batch += encodeCommand(["GET", k]) }
                    }
                    c.send(batch + encodeCommand(["EXEC"]))
                    var replies: [RESPValue] = []
                    while let v = c.readValue() {
                        replies.append(v)
                        if case .array = v { break }
                    }
                    guard case .array(let results)? = replies.last else { return bad.withLock { $0.append("no EXEC reply") } }
                    var values: [RESPValue] = results
                    if results.count == 1, case .array(let inner) = results[0] { values = inner }
                    let sum = values.reduce(0) { s, v in
                        if case .bulk(let b) = v { return s + (Int(String(decoding: b, as: UTF8.self)) ?? 0) }
                        return s
                    }
                    if sum != total { bad.withLock { $0.append("sum \(sum)") } }
                    readsDone.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(group.wait(timeout: .now() + 30) == .success)
        #expect(bad.withLock { $0 }.isEmpty, "\(bad.withLock { $0.prefix(5) })")
        #expect(readsDone.load(ordering: .relaxed) > 10)
        // And the transfers all happened: the total is exact.
        let c = try server.client()
        var sum = 0
        for i in 0..<accounts { sum += Int(c.call("GET", "acct:\(i)").split(separator: "\r\n")[1]) ?? 0 }
        #expect(sum == total)
        #expect(c.call("VERIFY") == "+OK\r\n")
    }

    @Test("redis-py 8: transaction pipelines, and a WATCH retry loop under contention counts exactly",
          .enabled(if: clientsRequired || pythonRedisVersion() != nil))
    func redisPy() throws {
        _ = try #require(pythonRedisVersion())
        let server = try TestServer(["--io-threads", "2"])
        defer { server.stop() }
        let script = """
            import sys, threading, redis
            port = int(sys.argv[1])
            for proto in (3, 2):
                r = redis.Redis(host="127.0.0.1", port=port, protocol=proto)
                r.delete("tx:n", "tx:s")
                p = r.pipeline()  # transaction=True: MULTI ... EXEC
                p.set("tx:s", "text").incr("tx:n").incr("tx:s").get("tx:n")
                res = p.execute(raise_on_error=False)
                assert res[0] is True and res[1] == 1 and isinstance(res[2], redis.ResponseError) and res[3] == b"1", res
                def bump(pipe):
                    v = int(pipe.get("tx:n") or 0)
                    pipe.multi()
                    pipe.set("tx:n", v + 1)
                r.set("tx:n", 0)
                def worker():
                    c = redis.Redis(host="127.0.0.1", port=port, protocol=proto)
                    for _ in range(100):
                        c.transaction(bump, "tx:n")
                    c.close()
                ts = [threading.Thread(target=worker) for _ in range(6)]
                for t in ts: t.start()
                for t in ts: t.join()
                assert int(r.get("tx:n")) == 600, r.get("tx:n")
                r.close()
            print("ok")
            """
        let r = try run("/usr/bin/env", ["python3", "-c", script, String(server.port)])
        #expect(r.status == 0 && r.output.contains("ok"), "\(r.output)")
    }

    @Test("SWAPDB: clients see the other contents; watches of keys in either database fail EXEC, of keys in neither do not; a running BGSAVE keeps its instant")
    func swapdb() throws {
        let server = try TestServer(["--io-threads", "2", "--rdb-key-save-delay", "2000"])
        defer { server.stop() }
        let a = try server.client(), b = try server.client()
        _ = a.call("SET", "k", "zero")
        _ = b.call("SELECT", "1")
        _ = b.call("SET", "k", "one", "EX", "100")
        #expect(a.call("SWAPDB", "0", "1") == "+OK\r\n")
        #expect(a.call("GET", "k") == "$3\r\none\r\n" && a.call("TTL", "k") != ":-1\r\n")
        #expect(b.call("GET", "k") == "$4\r\nzero\r\n")
        #expect(a.call("SWAPDB", "0", "x") == "-ERR invalid second DB index\r\n")
        #expect(a.call("SWAPDB", "0", "16") == "-ERR DB index is out of range\r\n")
        #expect(a.call("VERIFY") == "+OK\r\n")
        // WATCH: a key that exists in either database is touched; one in neither is not.
        #expect(a.call("WATCH", "k") == "+OK\r\n")
        _ = b.call("SWAPDB", "0", "1")
        #expect(a.call("MULTI") == "+OK\r\n" && a.call("PING") == "+QUEUED\r\n" && a.call("EXEC") == "*-1\r\n")
        #expect(a.call("WATCH", "nowhere") == "+OK\r\n")
        _ = b.call("SWAPDB", "0", "1")
        #expect(a.call("MULTI") == "+OK\r\n" && a.call("PING") == "+QUEUED\r\n" && a.call("EXEC") == "*1\r\n+PONG\r\n")
        // During a slow BGSAVE the swap waits for the snapshot, which keeps the instant it was started at.
        for i in 0..<200 { _ = a.call("SET", "s\(i)", "v") }
        _ = a.call("BGSAVE")
        let before = Date()
        #expect(b.call("SWAPDB", "0", "1") == "+OK\r\n")
        #expect(Date().timeIntervalSince(before) > 0.2, "SWAPDB waited for the running save")
        #expect(a.call("GET", "s1") == "$-1\r\n" && b.call("GET", "s1") == "$1\r\nv\r\n")
        #expect(a.call("VERIFY") == "+OK\r\n")
    }
}
