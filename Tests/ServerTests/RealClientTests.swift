import Foundation
import Glibc
import RESP
import Synchronization
import Testing

/// scripts/test installs redis-tools and redis-py and sets KV_REQUIRE_CLIENTS=1, so in CI these run
/// (and fail if a tool is missing) rather than being skipped.
let clientsRequired = ProcessInfo.processInfo.environment["KV_REQUIRE_CLIENTS"] == "1"

func toolExists(_ name: String) -> Bool {
    (try? run("/bin/sh", ["-c", "command -v \(name)"]).status) == 0
}

/// Whether python3 can import `module` (huey, for the application test).
func pythonHas(_ module: String) -> Bool {
    (try? run("/usr/bin/env", ["python3", "-c", "import \(module)"]).status) == 0
}

func pythonRedisVersion() -> String? {
    guard let r = try? run("/usr/bin/env", ["python3", "-c", "import redis; print(redis.__version__)"]), r.status == 0 else { return nil }
    return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Runs a Python script against a fresh server (its port in `sys.argv[1]`); it passes when it exits 0 having
/// printed "ok" (a failed assert prints its traceback, which the expectation shows).
func expectPythonPasses(_ script: String, seconds: Double = 120) throws {
    let server = try TestServer()
    defer { server.stop() }
    let r = try run("/usr/bin/env", ["python3", "-c", script, String(server.port)], seconds: seconds)
    #expect(r.status == 0 && r.output.contains("ok"), "\(r.output)")
}

/// Runs a program to completion (bounded at `seconds`), with optional standard input. Standard error is
/// merged into `output` unless `separateErrors`, which puts it in `errors`.
@discardableResult
func run(
    _ path: String, _ args: [String], input: Data? = nil, seconds: Double = 120, separateErrors: Bool = false
) throws -> (status: Int32, output: String, errors: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let out = Pipe()
    let err = separateErrors ? Pipe() : out
    p.standardOutput = out
    p.standardError = err
    let inPipe = Pipe()
    p.standardInput = input == nil ? FileHandle.nullDevice : inPipe
    try p.run()
    if let input {
        DispatchQueue.global().async {
            inPipe.fileHandleForWriting.write(input)
            try? inPipe.fileHandleForWriting.close()
        }
    }
    let collected = Mutex((Data(), Data()))
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        let d = out.fileHandleForReading.readDataToEndOfFile()
        collected.withLock { $0.0 = d }
        done.signal()
    }
    if separateErrors {
        DispatchQueue.global().async {
            let d = err.fileHandleForReading.readDataToEndOfFile()
            collected.withLock { $0.1 = d }
            done.signal()
        }
    }
    let deadline = Date().addingTimeInterval(seconds)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    p.waitUntilExit()
    for _ in 0..<(separateErrors ? 2 : 1) { _ = done.wait(timeout: .now() + 5) }
    let (o, e) = collected.withLock { $0 }
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// redis-cli against `server`: runs it with `args` and answers its output, trimmed (expecting it to succeed).
func redisCliRunner(_ server: TestServer) -> ([String]) throws -> String {
    { args in
        let r = try run("/usr/bin/env", ["redis-cli", "-p", String(server.port)] + args)
        #expect(r.status == 0, "redis-cli \(args): \(r.output)")
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite("Real clients", .serialized)
struct RealClientTests {
    @Test("redis-cli: one-shot commands, -n, -3, and --pipe mass insertion",
          .enabled(if: clientsRequired || toolExists("redis-cli")))
    func redisCli() throws {
        let server = try TestServer()
        defer { server.stop() }
        let cli = redisCliRunner(server)
        #expect(try cli(["set", "a", "hello world"]) == "OK")
        #expect(try cli(["get", "a"]) == "hello world")
        #expect(try cli(["incr", "n"]) == "1")
        #expect(try cli(["-n", "2", "set", "x", "in two"]) == "OK")
        #expect(try cli(["-n", "2", "get", "x"]) == "in two")
        #expect(try cli(["get", "x"]) == "")
        #expect(try cli(["-3", "get", "nothing"]) == "")
        #expect(try cli(["mget", "a", "nothing"]) == "hello world")
        #expect(try cli(["ttl", "a"]) == "-1")
        var mass = Data()
        for i in 0..<20_000 { mass.append(contentsOf: encodeCommand(["SET", "mass:\(i)", "value \(i)"])) }
        let piped = try run("/usr/bin/env", ["redis-cli", "-p", String(server.port), "--pipe"], input: mass)
        #expect(piped.status == 0)
        #expect(piped.output.contains("errors: 0, replies: 20000"), "\(piped.output)")
        #expect(try cli(["dbsize"]) == "20002")
        #expect(try cli(["get", "mass:19999"]) == "value 19999")
    }

    @Test("redis-benchmark -t ping,set,get,incr,mset completes with no error",
          .enabled(if: clientsRequired || toolExists("redis-benchmark")))
    func redisBenchmark() throws {
        let server = try TestServer()
        defer { server.stop() }
        let r = try run("/usr/bin/env", ["redis-benchmark", "-p", String(server.port), "-t", "ping,set,get,incr,mset",
                                         "-n", "20000", "-c", "20", "-r", "1000", "-q"])
        #expect(r.status == 0, "\(r.output)")
        #expect(!r.output.contains("Error"), "\(r.output)")
        #expect(!r.output.contains("WARNING"), "it read the server's CONFIG: \(r.output)")
        for t in ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"] {
            #expect(r.output.contains("\(t): "), "\(t) ran")
        }
        // Pipelined too.
        let p = try run("/usr/bin/env", ["redis-benchmark", "-p", String(server.port), "-t", "set,get", "-n", "50000", "-P", "16", "-q"])
        #expect(p.status == 0 && !p.output.contains("Error"), "\(p.output)")
    }

    @Test("redis-py 8: RESP3 by default and protocol=2", .enabled(if: clientsRequired || pythonRedisVersion() != nil))
    func redisPy() throws {
        let version = try #require(pythonRedisVersion())
        #expect(version.hasPrefix("8."), "redis-py \(version)")
        try expectPythonPasses("""
            import sys, time, redis
            port = int(sys.argv[1])
            for proto in (3, 2):
                kw = {} if proto == 3 else {"protocol": 2}
                r = redis.Redis(host="127.0.0.1", port=port, client_name="t%d" % proto, **kw)
                assert r.ping() is True
                assert r.set("py:k%d" % proto, "v") is True
                assert r.get("py:k%d" % proto) == b"v", r.get("py:k%d" % proto)
                assert r.get("py:missing") is None
                assert r.incr("py:n") in (1, 2)
                assert r.mget(["py:k%d" % proto, "py:missing"]) == [b"v", None]
                assert r.expire("py:k%d" % proto, 100) is True
                assert 99 <= r.ttl("py:k%d" % proto) <= 100
                assert r.client_getname() in ("t%d" % proto, b"t%d" % proto)
                p = r.pipeline(transaction=False)
                for i in range(100):
                    p.set("py:p%d" % i, i)
                    p.incr("py:c")
                res = p.execute()
                assert len(res) == 200 and res[0] is True and res[-1] >= 100, res[-3:]
                r2 = redis.Redis(host="127.0.0.1", port=port, db=3, **kw)
                r2.set("indb3", "x")
                assert r.get("indb3") is None and r2.get("indb3") == b"x"
                r.close(); r2.close()
            print("ok")
            """)
    }

    @Test("redis-py 8: hashes and sets as applications use them (RESP3 and 2)", .enabled(if: clientsRequired || pythonRedisVersion() != nil))
    func redisPyHashesAndSets() throws {
        try expectPythonPasses("""
            import sys, redis
            port = int(sys.argv[1])
            for proto in (3, 2):
                kw = {} if proto == 3 else {"protocol": 2}
                r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, **kw)
                h = "session:%d" % proto
                assert r.hset(h, mapping={"user": "ada", "visits": 1, "cart": ""}) == 3
                assert r.hgetall(h) == {"user": "ada", "visits": "1", "cart": ""}, r.hgetall(h)
                assert r.hincrby(h, "visits", 41) == 42
                assert abs(r.hincrbyfloat(h, "score", 1.5) - 1.5) < 1e-9
                assert r.hmget(h, ["user", "nope"]) == ["ada", None]
                assert r.hexists(h, "user") and not r.hexists(h, "nope")
                assert sorted(r.hkeys(h)) == ["cart", "score", "user", "visits"] and r.hlen(h) == 4
                assert r.hdel(h, "cart", "nope") == 1
                assert r.hrandfield(h) in ("user", "visits", "score")
                big = "big:%d" % proto
                r.hset(big, mapping={"f%d" % i: i for i in range(1000)})
                assert r.object("encoding", big) == "hashtable" and r.hlen(big) == 1000
                seen = {}
                for k, v in r.hscan_iter(big, count=50):
                    seen[k] = v
                assert len(seen) == 1000 and seen["f999"] == "999"
                s = "tags:%d" % proto
                assert r.sadd(s, "a", "b", "c") == 3 and r.sadd(s, "a") == 0
                assert r.smembers(s) == {"a", "b", "c"}
                assert r.sismember(s, "a") and r.smismember(s, ["a", "z"]) == [True, False]
                assert r.sadd(s + ":2", "b", "c", "d") == 3
                assert r.sinter(s, s + ":2") == {"b", "c"} and r.sunion(s, s + ":2") == {"a", "b", "c", "d"}
                assert r.sdiff(s, s + ":2") == {"a"} and r.sintercard(2, [s, s + ":2"]) == 2
                assert r.sinterstore(s + ":i", [s, s + ":2"]) == 2 and r.scard(s + ":i") == 2
                assert r.smove(s, s + ":2", "a") and r.scard(s) == 2
                popped = r.spop(s, 5)
                assert sorted(popped) == ["b", "c"] and r.exists(s) == 0, popped
                assert set(r.sscan_iter(s + ":2")) == {"a", "b", "c", "d"}
                assert r.type(h) == "hash" and r.type(s + ":2") == "set"
                try:
                    r.get(h)
                    raise AssertionError("GET of a hash")
                except redis.ResponseError as e:
                    assert str(e).startswith("WRONGTYPE"), e
                r.close()
            print("ok")
            """)
    }

    @Test("redis-py 8: lists, sorted sets and blocking pops as queues and leaderboards use them (RESP3 and 2)", .enabled(if: clientsRequired || pythonRedisVersion() != nil))
    func redisPyListsAndSortedSets() throws {
        try expectPythonPasses("""
            import sys, threading, time, redis
            port = int(sys.argv[1])
            for proto in (3, 2):
                kw = {} if proto == 3 else {"protocol": 2}
                r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, **kw)
                r.flushdb()
                q = "jobs:%d" % proto
                assert r.lpush(q, "a", "b") == 2 and r.rpush(q, "c") == 3
                assert r.lrange(q, 0, -1) == ["b", "a", "c"] and r.llen(q) == 3
                assert r.lpos(q, "c") == 2 and r.lindex(q, -1) == "c"
                assert r.linsert(q, "BEFORE", "a", "x") == 4 and r.lrem(q, 0, "x") == 1
                assert r.lmove(q, q + ":done", "RIGHT", "LEFT") == "c"
                assert r.rpoplpush(q, q + ":done") == "a" and r.lpop(q, 5) == ["b"] and r.exists(q) == 0
                assert r.blpop([q], timeout=0.1) is None
                # A consumer blocked in BRPOP is woken by a push from another connection.
                got = []
                t = threading.Thread(target=lambda: got.append(redis.Redis(host="127.0.0.1", port=port, decode_responses=True, **kw).brpop([q, q + ":other"], timeout=5)))
                t.start()
                time.sleep(0.1)
                r.lpush(q + ":other", "job1")
                t.join(10)
                assert got == [(q + ":other", "job1")] or got == [[q + ":other", "job1"]], got
                assert r.blmove(q + ":done", q, 1, "LEFT", "RIGHT") == "a"
                assert r.lmpop(2, q + ":none", q + ":done", direction="LEFT", count=5) == [q + ":done", ["c"]]
                z = "board:%d" % proto
                assert r.zadd(z, {"ada": 10, "bob": 20.5, "cy": -3}) == 3
                assert r.zadd(z, {"ada": 5}, gt=True, ch=True) == 0 and r.zadd(z, {"ada": 15}, gt=True, ch=True) == 1
                assert r.zincrby(z, 2, "cy") == -1.0
                assert r.zrange(z, 0, -1, withscores=True) == [("cy", -1.0), ("ada", 15.0), ("bob", 20.5)], r.zrange(z, 0, -1, withscores=True)
                assert r.zrevrange(z, 0, 0) == ["bob"] and r.zrank(z, "ada") == 1 and r.zrevrank(z, "ada") == 1
                assert r.zrangebyscore(z, "(15", "+inf") == ["bob"] and r.zcount(z, "-inf", 15) == 2
                assert r.zscore(z, "bob") == 20.5 and r.zmscore(z, ["bob", "nope"]) == [20.5, None]
                assert r.zrange(z, 15, 30, byscore=True, withscores=True) == [("ada", 15.0), ("bob", 20.5)]
                assert r.zpopmin(z) == [("cy", -1.0)]
                popped = r.bzpopmax([z], timeout=0.1)
                assert tuple(popped) == (z, "bob", 20.5), popped
                r.zadd(z + ":2", {"ada": 1, "dee": 2})
                assert r.zunionstore(z + ":u", [z, z + ":2"]) == 2 and r.zinter([z, z + ":2"], withscores=True) == [("ada", 16.0)]
                try:
                    r.zadd(z, {"x": float("nan")})
                    raise AssertionError("NaN accepted")
                except (redis.ResponseError, redis.DataError) as e:
                    pass
                s = "sortme:%d" % proto
                r.rpush(s, 3, 1, 2)
                assert r.sort(s) == ["1", "2", "3"] and r.sort(s, desc=True, start=0, num=2) == ["3", "2"]
                assert r.type(q + ":other") in ("none", "list") and r.type(z) == "zset"
                r.close()
            print("ok")
            """)
    }

    /// huey (PyPI), a task queue that issue 16 found stopping at its first LPUSH: tasks go through a list
    /// (BRPOP with a fractional timeout) or, with priorities, a sorted set (BZPOPMIN); results through a
    /// hash and an LPUSH + EXPIRE notification waited on in BLPOP; a failing task is retried. The workers
    /// are huey's own dequeue and execute, without its consumer process, whose scheduler runs a Lua script
    /// (EVALSHA: scripting is not built yet, docs/compat.md).
    @Test("huey: tasks, priorities, results and retries", .enabled(if: clientsRequired || pythonHas("huey")))
    func huey() throws {
        try expectPythonPasses("""
            import logging
            logging.disable(logging.CRITICAL)
            import sys, threading, time
            from huey import RedisHuey, PriorityRedisHuey
            from huey.exceptions import TaskException
            port = int(sys.argv[1])
            for cls in (RedisHuey, PriorityRedisHuey):
                # blocking=True: workers wait in BRPOP (BZPOPMIN for priorities) with a fractional timeout;
                # results go to a hash, with an LPUSH + EXPIRE notification that the caller waits on in BLPOP.
                huey = cls("app" + cls.__name__, host="127.0.0.1", port=port, blocking=True, read_timeout=0.2)
                huey.flush()
                ran, tries = [], []
                @huey.task()
                def add(a, b):
                    ran.append(a)
                    return a + b
                @huey.task(retries=2)
                def flaky():
                    tries.append(1)
                    raise ValueError("flaky")
                results = [add(i, i, priority=i % 3) if cls is PriorityRedisHuey else add(i, i) for i in range(30)]
                bad = flaky()
                assert huey.pending_count() == 31, huey.pending_count()
                stop = threading.Event()
                def work():
                    # What huey's consumer workers do: dequeue (a blocking pop), execute, store the result.
                    while not stop.is_set():
                        task = huey.dequeue()
                        if task is not None:
                            huey.execute(task)
                workers = [threading.Thread(target=work) for _ in range(3)]
                if cls is PriorityRedisHuey:
                    # One worker first: it must take the tasks in priority order (highest first), then arrival.
                    workers[0].start()
                    while huey.pending_count() > 0 and len(ran) < 30:
                        time.sleep(0.01)
                    for w in workers[1:]: w.start()
                else:
                    for w in workers: w.start()
                got = [r.get(blocking=True, timeout=10) for r in results]
                assert got == [2 * i for i in range(30)], got
                try:
                    bad.get(blocking=True, timeout=10)
                    raise AssertionError("a failing task returned")
                except TaskException as e:
                    assert "flaky" in str(e.metadata.get("error", "")), e.metadata
                # huey stores each failed attempt's error, so the one read above may be the first, read
                # before the two retries (requeued through the server) have run: wait for them, bounded.
                deadline = time.time() + 10
                while len(tries) < 3 and time.time() < deadline:
                    time.sleep(0.01)
                assert len(tries) == 3, tries
                if cls is PriorityRedisHuey:
                    prios = [i % 3 for i in ran]
                    assert prios == sorted(prios, reverse=True), ran
                stop.set()
                for w in workers: w.join(5)
                huey.get(bad.id)  # a later attempt's error, stored after the one read above (or none)
                assert huey.pending_count() == 0 and huey.result_count() == 0, (huey.pending_count(), huey.result_count())
            print("ok")
            """, seconds: 60)
    }

    /// twemproxy (nutcracker) in front of two kvservers: it prepends SELECT, sends lower-case fragments of
    /// MGET/DEL to each shard and needs strict RESP2 replies.
    @Test("twemproxy in front of two servers", .enabled(if: clientsRequired || toolExists("nutcracker")))
    func twemproxy() throws {
        let a = try TestServer(), b = try TestServer()
        defer { a.stop(); b.stop() }
        let listen = freePort(), stats = freePort()
        let dir = NSTemporaryDirectory() + "kv-nc-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            alpha:
              listen: 127.0.0.1:\(listen)
              hash: murmur
              distribution: ketama
              redis: true
              redis_db: 2
              timeout: 2000
              auto_eject_hosts: false
              servers:
               - 127.0.0.1:\(a.port):1 one
               - 127.0.0.1:\(b.port):1 two

            """.write(toFile: dir + "/nc.yml", atomically: true, encoding: .utf8)
        let proxy = Process()
        proxy.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        proxy.arguments = ["nutcracker", "-c", dir + "/nc.yml", "-s", String(stats), "-o", dir + "/nc.log"]
        try proxy.run()
        // SIGKILL: a child started from a test thread may inherit a mask that blocks SIGTERM, and
        // nutcracker has no state to save.
        defer { kill(proxy.processIdentifier, SIGKILL); proxy.waitUntilExit() }
        var client: RawClient? = nil
        for _ in 0..<100 where client == nil {
            client = try? RawClient(port: listen)
            if client == nil { usleep(50_000) }
        }
        let c = try #require(client)
        for i in 0..<50 { #expect(c.call("SET", "key:\(i)", "v\(i)") == "+OK\r\n") }
        #expect(c.call("MGET", "key:1", "key:2", "nokey", "key:3") == "*4\r\n$2\r\nv1\r\n$2\r\nv2\r\n$-1\r\n$2\r\nv3\r\n")
        #expect(c.call("INCR", "counter") == ":1\r\n")
        #expect(c.call("DEL", "key:1", "key:2", "nokey") == ":2\r\n")
        #expect(c.call("EXPIRE", "key:3", "100") == ":1\r\n")
        #expect(c.call("TTL", "key:3") == ":100\r\n")
        // The keys landed in database 2, spread over both servers.
        let onA = try a.client(), onB = try b.client()
        #expect(onA.call("SELECT", "2") == "+OK\r\n" && onB.call("SELECT", "2") == "+OK\r\n")
        let countA = Int(onA.call("DBSIZE").dropFirst().dropLast()) ?? -1
        let countB = Int(onB.call("DBSIZE").dropFirst().dropLast()) ?? -1
        #expect(countA + countB == 49)
        #expect(countA > 0 && countB > 0, "\(countA) + \(countB)")
    }
}
