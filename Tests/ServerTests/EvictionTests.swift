import Foundation
import Glibc
import RESP
import Synchronization
import Testing

/// maxmemory and its policies as a cache's user meets them: Redis' OOM error and which commands get it,
/// each policy's choice of victim, the limit holding under a flood of writes, a limit lowered under load,
/// the INFO fields, and eviction seen by notifications, WATCH and redis-py. The miss ratios are
/// scripts/cache-bench's (docs/memory.md).
@Suite("Eviction", .serialized)
struct EvictionTests {
    static let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n"

    func info(_ c: RawClient, _ field: String) -> Int {
        let text = c.call("INFO", "everything")
        guard let line = text.split(separator: "\r\n").first(where: { $0.hasPrefix(field + ":") }) else { return -1 }
        return Int(line.dropFirst(field.count + 1)) ?? -1
    }

    /// Writes keys `prefix:i` for `range` (values of `size` bytes, with `ttl` seconds when given), pipelined
    /// 100 at a time (a larger pipeline's query buffer would be memory the limit counts too).
    func fill(_ c: RawClient, _ prefix: String, _ range: Range<Int>, size: Int = 16, ttl: Int? = nil) {
        let value = String(repeating: "v", count: size)
        for start in stride(from: range.lowerBound, to: range.upperBound, by: 100) {
            let part = start..<min(start + 100, range.upperBound)
            var batch: [UInt8] = []
            for i in part {
                batch += ttl.map { encodeCommand(["SET", "\(prefix):\(i)", value, "EX", String($0)]) } ?? encodeCommand(["SET", "\(prefix):\(i)", value])
            }
            c.send(batch)
            for _ in part { _ = c.read() }
        }
    }

    /// Sends `args` until the reply is `expected` (eviction is bounded per command: what is left over the
    /// limit goes in the next commands); false when 200 tries never gave it.
    func eventually(_ c: RawClient, _ expected: String, _ args: String...) -> Bool {
        for _ in 0..<200 {
            if c.call(args) == expected { return true }
            usleep(5_000)
        }
        return false
    }

    @Test("noeviction: denyoom commands and anything queued in MULTI get Redis' OOM error; reads, DEL and EXEC of reads work")
    func noEviction() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("SET", "k", "v") == "+OK\r\n")
        #expect(c.call("CONFIG", "SET", "maxmemory", "1") == "+OK\r\n")
        #expect(c.call("SET", "a", "b") == Self.oom)
        #expect(c.call("LPUSH", "l", "x") == Self.oom)
        #expect(c.call("GET", "k") == "$1\r\nv\r\n")
        #expect(c.call("EXPIRE", "k", "100") == ":1\r\n", "EXPIRE is not denyoom")
        #expect(c.call("MULTI") == "+OK\r\n")
        #expect(c.call("GET", "k") == Self.oom, "inside MULTI everything queued is refused")
        #expect(c.call("EXEC") == "-EXECABORT Transaction discarded because of previous errors.\r\n")
        #expect(c.call("DEL", "k") == ":1\r\n")
        #expect(c.call("EXISTS", "a", "l") == ":0\r\n", "refused commands changed nothing")
        #expect(c.call("INFO", "errorstats").contains("errorstat_OOM:count=3"))
        // A transaction queued before the limit: its EXEC is refused when it holds a denyoom command.
        #expect(c.call("CONFIG", "SET", "maxmemory", "0") == "+OK\r\n")
        #expect(c.call("MULTI") == "+OK\r\n")
        #expect(c.call("SET", "t", "1") == "+QUEUED\r\n")
        let other = try server.client()
        #expect(other.call("CONFIG", "SET", "maxmemory", "1") == "+OK\r\n")
        #expect(c.call("EXEC") == "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n")
        #expect(c.call("CONFIG", "SET", "maxmemory", "0") == "+OK\r\n")
        #expect(c.call("SET", "a", "b") == "+OK\r\n")
        #expect(c.call("VERIFY") == "+OK\r\n")
    }

    @Test("Directives: Redis' ranges and errors, units, INFO's fields")
    func directives() throws {
        let server = try TestServer(["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"])
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("CONFIG", "GET", "maxmemory") == "*2\r\n$9\r\nmaxmemory\r\n$9\r\n104857600\r\n")
        #expect(info(c, "maxmemory") == 104_857_600)
        #expect(c.call("INFO", "memory").contains("maxmemory_human:100.00M\r\nmaxmemory_policy:allkeys-lru\r\n"))
        #expect(c.call("CONFIG", "SET", "maxmemory", "-1") == "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n")
        #expect(c.call("CONFIG", "SET", "maxmemory-samples", "0") == "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive\r\n")
        #expect(c.call("CONFIG", "SET", "maxmemory-eviction-tenacity", "101") == "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-eviction-tenacity') - argument must be between 0 and 100 inclusive\r\n")
        #expect(c.call("CONFIG", "SET", "lfu-log-factor", "-1") == "-ERR CONFIG SET failed (possibly related to argument 'lfu-log-factor') - argument must be between 0 and 2147483647 inclusive\r\n")
        #expect(c.call("CONFIG", "SET", "maxmemory-policy", "lru").hasPrefix("-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"))
        for p in ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lfu", "allkeys-random", "noeviction", "allkeys-clock", "volatile-clock"] {
            #expect(c.call("CONFIG", "SET", "maxmemory-policy", p.uppercased()) == "+OK\r\n")
            #expect(c.call("CONFIG", "GET", "maxmemory-policy").hasSuffix("$\(p.count)\r\n\(p)\r\n"))
        }
        #expect(c.call("CONFIG", "SET", "maxmemory", "1gb") == "+OK\r\n")
        #expect(info(c, "maxmemory") == 1 << 30)
        for f in ["used_memory", "evicted_keys", "mem_not_counted_for_evict"] { #expect(info(c, f) >= 0, "\(f)") }
        #expect(c.call("INFO", "memory").contains("mem_fragmentation_ratio:"))
        #expect(c.call("CLIENT", "NO-EVICT", "on") == "+OK\r\n")
        #expect(c.call("CLIENT", "NO-EVICT", "maybe") == "-ERR syntax error\r\n")
    }

    @Test("OBJECT FREQ and IDLETIME answer from the policy's data, with Redis' errors under the other; RESTORE FREQ")
    func frequencyAndIdleTime() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("SET", "k", "v") == "+OK\r\n")
        #expect(c.call("OBJECT", "FREQ", "k").hasPrefix("-ERR An LFU maxmemory policy is not selected, access frequency not tracked."))
        #expect(c.call("OBJECT", "FREQ", "missing") == "$-1\r\n")
        #expect(c.call("OBJECT", "IDLETIME", "k") == ":0\r\n")
        #expect(c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu") == "+OK\r\n")
        #expect(c.call("OBJECT", "IDLETIME", "k").hasPrefix("-ERR An LFU maxmemory policy is selected, idle time not tracked."))
        #expect(c.call("SET", "new", "v") == "+OK\r\n")
        #expect(c.call("OBJECT", "FREQ", "new") == ":5\r\n", "a new key starts at LFU_INIT_VAL")
        for _ in 0..<200 { _ = c.call("GET", "new") }
        let freq = integerReply(c.call("OBJECT", "FREQ", "new")) ?? 0
        #expect(freq > 5 && freq < 40, "logarithmic: 200 reads raise it a little, not by 200 (\(freq))")
        c.command("DUMP", "new")
        let payload = try #require(c.readRaw().flatMap(parseBulk))
        c.send(encodeCommand([Array("RESTORE".utf8), Array("copy".utf8), Array("0".utf8), payload, Array("FREQ".utf8), Array("100".utf8)]))
        #expect(c.read() == "+OK\r\n")
        #expect(c.call("OBJECT", "FREQ", "copy") == ":100\r\n")
    }

    @Test("volatile policies never take a key without a TTL, and answer OOM when only those are left")
    func volatileSparesPersistentKeys() throws {
        for policy in ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "volatile-clock"] {
            let server = try TestServer()
            defer { server.stop() }
            let c = try server.client()
            fill(c, "keep", 0..<3000, size: 100)
            let base = info(c, "used_memory")
            #expect(c.call("CONFIG", "SET", "maxmemory-policy", policy) == "+OK\r\n")
            #expect(c.call("CONFIG", "SET", "maxmemory", String(base + 400_000)) == "+OK\r\n")
            fill(c, "tmp", 0..<20000, size: 100, ttl: 1000)
            #expect(info(c, "evicted_keys") > 0, "\(policy) evicted")
            #expect(c.call("DBSIZE") != ":23000\r\n")
            let kept = (0..<3000).filter { c.call("EXISTS", "keep:\($0)") == ":1\r\n" }.count
            #expect(kept == 3000, "\(policy) spared every persistent key")
            // Only persistent keys' worth of memory would be left: over the limit, OOM.
            #expect(c.call("CONFIG", "SET", "maxmemory", String(base / 2)) == "+OK\r\n")
            #expect(eventually(c, Self.oom, "SET", "x", "y"), "\(policy): OOM once only persistent keys are left")
            #expect(c.call("VERIFY") == "+OK\r\n")
        }
    }

    @Test("volatile-ttl takes the nearest expiry first")
    func volatileTTLOrder() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        let base = info(c, "used_memory")
        #expect(c.call("CONFIG", "SET", "maxmemory-policy", "volatile-ttl") == "+OK\r\n")
        // TTLs grow with the index: the low indexes expire first and should go first.
        for start in stride(from: 0, to: 20000, by: 100) {
            var batch: [UInt8] = []
            for i in start..<(start + 100) { batch += encodeCommand(["SET", "t:\(i)", String(repeating: "v", count: 100), "EX", String(10_000 + i)]) }
            c.send(batch)
            for _ in 0..<100 { _ = c.read() }
        }
        let used = info(c, "used_memory")
        let limit = base + (used - base) / 2
        #expect(c.call("CONFIG", "SET", "maxmemory", String(limit)) == "+OK\r\n")
        for _ in 0..<200 where info(c, "used_memory") > limit { usleep(5_000) }
        let survivors = (0..<20000).filter { $0 % 50 == 0 }.filter { c.call("EXISTS", "t:\($0)") == ":1\r\n" }
        #expect(survivors.count > 50 && survivors.count < 350)
        let lowHalf = survivors.filter { $0 < 10000 }.count
        #expect(Double(lowHalf) < Double(survivors.count) * 0.3, "survivors are mostly the later expiries (\(lowHalf) of \(survivors.count) in the early half)")
    }

    // Not allkeys-lru: its clock counts seconds (as Redis'), so within this test's second every key looks
    // equally idle.
    @Test("allkeys-lfu and allkeys-clock keep a hot set under a one-pass scan", arguments: ["allkeys-lfu", "allkeys-clock"])
    func hotKeysSurvive(policy: String) throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        let base = info(c, "used_memory")
        fill(c, "hot", 0..<500)
        for _ in 0..<3 { for i in 0..<500 { c.send(encodeCommand(["GET", "hot:\(i)"])) }; for _ in 0..<500 { _ = c.read() } }
        #expect(c.call("CONFIG", "SET", "maxmemory-policy", policy) == "+OK\r\n")
        #expect(c.call("CONFIG", "SET", "maxmemory", String(base + 400_000)) == "+OK\r\n")
        // A scan: 40k keys written once and never read, several times what the limit holds; the hot set is
        // read between its steps, as a cache's working set is.
        for step in 0..<40 {
            fill(c, "scan", (step * 1000)..<(step * 1000 + 1000))
            for i in 0..<500 { c.send(encodeCommand(["GET", "hot:\(i)"])) }
            for _ in 0..<500 { _ = c.read() }
        }
        #expect(info(c, "evicted_keys") > 20000)
        let hot = (0..<500).filter { c.call("EXISTS", "hot:\($0)") == ":1\r\n" }.count
        #expect(hot >= 495, "\(policy): \(hot) of 500 hot keys kept")
        #expect(info(c, "used_memory") <= base + 400_000 + 64 << 10)
        #expect(c.call("VERIFY") == "+OK\r\n")
    }

    @Test("allkeys-random evicts and keeps memory under the limit")
    func randomPolicy() throws {
        let server = try TestServer(["--maxmemory-policy", "allkeys-random"])
        defer { server.stop() }
        let c = try server.client()
        let base = info(c, "used_memory")
        #expect(c.call("CONFIG", "SET", "maxmemory", String(base + 500_000)) == "+OK\r\n")
        fill(c, "r", 0..<30000)
        #expect(info(c, "evicted_keys") > 10000)
        #expect(info(c, "used_memory") <= base + 500_000 + 64 << 10)
        let dbsize = integerReply(c.call("DBSIZE")) ?? 0
        #expect(dbsize > 2000, "what is left is what fits (\(dbsize) keys)")
    }

    @Test("Eviction goes through the change path: an `evicted` notification, and WATCH on an evicted key aborts EXEC")
    func changePath() throws {
        let server = try TestServer(["--notify-keyspace-events", "Ee"])
        defer { server.stop() }
        let c = try server.client(), sub = try server.client(), watcher = try server.client()
        #expect(sub.call("SUBSCRIBE", "__keyevent@0__:evicted") == "*3\r\n$9\r\nsubscribe\r\n$22\r\n__keyevent@0__:evicted\r\n:1\r\n")
        fill(c, "w", 0..<2000)
        #expect(watcher.call("WATCH", "w:0", "w:1", "w:2", "w:3", "w:4") == "+OK\r\n")
        #expect(watcher.call("MULTI") == "+OK\r\n")
        #expect(watcher.call("PING") == "+QUEUED\r\n")
        #expect(c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random") == "+OK\r\n")
        #expect(c.call("CONFIG", "SET", "maxmemory", "1") == "+OK\r\n")
        #expect(eventually(c, ":0\r\n", "DBSIZE"), "every key evicted")
        let message = sub.read()
        #expect(message.hasPrefix("*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:evicted\r\n$"), "\(message)")
        #expect(watcher.call("EXEC") == "*-1\r\n", "a watched key was evicted")
        #expect(c.call("CONFIG", "SET", "maxmemory", "0") == "+OK\r\n")
    }

    @Test("LATENCY records a long eviction cycle as Redis' `eviction-cycle` event")
    func evictionCycleLatency() throws {
        // Tenacity 100 lifts the time budget, so one cycle takes all 100k keys: well over a millisecond.
        let server = try TestServer(["--latency-monitor-threshold", "1", "--maxmemory-eviction-tenacity", "100",
                                     "--maxmemory-policy", "allkeys-random"])
        defer { server.stop() }
        let c = try server.client()
        fill(c, "e", 0..<100_000)
        #expect(!c.call("LATENCY", "LATEST").contains("eviction-cycle"), "no eviction yet")
        #expect(c.call("CONFIG", "SET", "maxmemory", "1") == "+OK\r\n")
        #expect(eventually(c, ":0\r\n", "DBSIZE"), "every key evicted")
        let latest = c.call("LATENCY", "LATEST")
        #expect(latest.contains("$14\r\neviction-cycle\r\n"), "\(latest)")
        #expect(c.call("LATENCY", "HISTORY", "eviction-cycle").contains("*2\r\n:"), "a sample: its time and milliseconds")
        _ = c.call("CONFIG", "SET", "maxmemory", "0")
    }

    @Test("The limit holds under a flood of writes (8 clients, values of 16 B to 64 KB), and a lowered limit is reached under load")
    func flood() throws {
        let server = try TestServer(["--maxmemory", "32mb", "--maxmemory-policy", "allkeys-lru"])
        defer { server.stop() }
        let limit = 32 << 20
        let stop = Atomic(false)
        let writers = try (0..<8).map { _ in try server.client() }
        let threads = writers.enumerated().map { (n, w) in
            Thread {
                var rng = SystemRandomNumberGenerator()
                var i = 0
                while !stop.load(ordering: .relaxed) && i < 200_000 {
                    var batch: [UInt8] = []
                    for _ in 0..<16 {
                        let size = 16 << Int.random(in: 0...12, using: &rng)
                        batch += encodeCommand([Array("SET".utf8), Array("f\(n):\(i)".utf8), [UInt8](repeating: 120, count: size)])
                        i += 1
                    }
                    w.send(batch)
                    for _ in 0..<16 { _ = w.read() }
                }
            }
        }
        for t in threads { t.start() }
        let c = try server.client()
        var worst = 0
        let deadline = Date().addingTimeInterval(4)
        while Date() < deadline {
            worst = max(worst, info(c, "used_memory"))
            usleep(10_000)
        }
        #expect(worst > limit / 2, "the flood reached the limit (\(worst))")
        #expect(Double(worst) <= Double(limit) * 1.01, "used_memory at most 1% over maxmemory: \(worst) of \(limit)")
        // Lowered under load: memory comes down to the new limit while the writers go on.
        #expect(c.call("CONFIG", "SET", "maxmemory", "8mb") == "+OK\r\n")
        let lowered = Date()
        var under = false
        while !under && Date().timeIntervalSince(lowered) < 10 {
            under = info(c, "used_memory") <= Int(Double(8 << 20) * 1.01)
            usleep(10_000)
        }
        print("maxmemory 32mb -> 8mb under load: under the new limit after \(Int(Date().timeIntervalSince(lowered) * 1000)) ms")
        #expect(under)
        stop.store(true, ordering: .relaxed)
        usleep(300_000)
        #expect(c.call("VERIFY") == "+OK\r\n")
    }

    @Test("redis-py sees the OOM reply as its OutOfMemoryError", .enabled(if: clientsRequired || pythonRedisVersion() != nil))
    func redisPyOutOfMemory() throws {
        let server = try TestServer()
        defer { server.stop() }
        let script = """
            import sys, redis
            r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
            r.set("k", "v")
            r.config_set("maxmemory", "1")
            try:
                r.set("a", "b")
                raise SystemExit("no error")
            except redis.exceptions.OutOfMemoryError as e:
                assert "maxmemory" in str(e), str(e)
            assert r.get("k") == b"v"
            r.config_set("maxmemory", "0")
            assert r.set("a", "b") is True
            print("ok")
            """
        let r = try run("/usr/bin/env", ["python3", "-c", script, String(server.port)])
        #expect(r.status == 0 && r.output.contains("ok"), "\(r.output)")
    }
}

/// The payload of a bulk string reply.
private func parseBulk(_ bytes: [UInt8]) -> [UInt8]? {
    guard bytes.first == UInt8(ascii: "$"), let cr = bytes.firstIndex(of: 13), let n = Int(String(decoding: bytes[1..<cr], as: UTF8.self)), n >= 0 else { return nil }
    return Array(bytes[(cr + 2)..<(cr + 2 + n)])
}
