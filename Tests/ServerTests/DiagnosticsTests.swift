import Foundation
import Glibc
import RESP
import Synchronization
import Testing
import KVEngine

/// A text reply (INFO, STATS) of one command.
func textReply(_ c: RawClient, _ args: String...) -> String {
    c.send(encodeCommand(args))
    switch c.readValue() {
    case .bulk(let b): return String(decoding: b, as: UTF8.self)
    case .verbatim(let s): return s
    case let other: return "unexpected reply \(String(describing: other))"
    }
}

/// name:value lines of an INFO-style text.
func infoFields(_ text: String) -> [String: String] {
    var f: [String: String] = [:]
    for line in text.split(separator: "\r\n") where !line.hasPrefix("#") {
        if let colon = line.firstIndex(of: ":") { f[String(line[..<colon])] = String(line[line.index(after: colon)...]) }
    }
    return f
}

/// `k=v,k=v` of one INFO value.
func pairs(_ value: String?) -> [String: String] {
    var f: [String: String] = [:]
    for p in (value ?? "").split(separator: ",") {
        let kv = p.split(separator: "=", maxSplits: 1)
        if kv.count == 2 { f[String(kv[0])] = String(kv[1]) }
    }
    return f
}

@Suite("Diagnostics: INFO, STATS, VERIFY, metrics", .serialized)
struct DiagnosticsTests {
    @Test("INFO: Redis' sections in order, CRLF lines, counters that move and reset")
    func info() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("SET", "a", "1") == "+OK\r\n")
        #expect(c.call("SET", "b", "2", "EX", "100") == "+OK\r\n")
        #expect(c.call("GET", "a") == "$1\r\n1\r\n")
        #expect(c.call("GET", "nope") == "$-1\r\n")
        #expect(c.call("MGET", "a", "nope", "b") == "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n")
        #expect(c.call("INCR", "a", "extra").hasPrefix("-ERR wrong number of arguments"))
        #expect(c.call("SET", "a", "x") == "+OK\r\n")
        #expect(c.call("INCR", "a") == "-ERR value is not an integer or out of range\r\n")
        #expect(c.call("NOSUCH").hasPrefix("-ERR unknown command"))

        let text = textReply(c, "INFO")
        let headers = text.split(separator: "\r\n").filter { $0.hasPrefix("# ") }.map { String($0.dropFirst(2)) }
        #expect(headers == ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules",
                            "Errorstats", "Cluster", "Keyspace", "Hashmap"])
        // Every line ends in CRLF (redis-cli --stat reads to the next \r) and is "name:value" or a header.
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        for line in text.split(separator: "\r\n") where !line.isEmpty {
            #expect(line.hasPrefix("# ") || line.contains(":"), "\(line)")
        }
        let f = infoFields(text)
        #expect(f["redis_version"] == "7.0.15" && f["arch_bits"] == "64" && f["tcp_port"] == String(server.port))
        #expect(f["process_id"] == String(server.pid) && f["run_id"]?.count == 40)
        #expect(f["connected_clients"] == "1" && f["role"] == "master" && f["cluster_enabled"] == "0")
        #expect(f["loading"] == "0" && f["rdb_bgsave_in_progress"] == "0" && f["aof_enabled"] == "0")
        #expect(Int(f["used_memory"] ?? "") ?? 0 > 0 && Int(f["used_memory_rss"] ?? "") ?? 0 > 0)
        #expect(f["keyspace_hits"] == "3" && f["keyspace_misses"] == "2")
        #expect(f["total_error_replies"] == "3" && f["errorstat_ERR"] == "count=3")
        #expect(Int(f["total_commands_processed"] ?? "") == 7)  // refused INCR and NOSUCH do not count
        #expect(f["rdb_changes_since_last_save"] == "3")
        let db0 = pairs(f["db0"])
        #expect(db0["keys"] == "2" && db0["expires"] == "1", "\(f["db0"] ?? "")")
        #expect(f["hashmap_keys"] == "2" && f["hashmap_keys_with_expiry"] == "1" && f["hashmap_shards"] == "256")

        // Sections by name, several at once, case-insensitive; unknown ones add nothing.
        let two = textReply(c, "INFO", "keyspace", "CPU")
        #expect(two.hasPrefix("# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n\r\n# CPU\r\nused_cpu_sys:"))
        #expect(textReply(c, "INFO", "nosuchsection") == "")
        let all = infoFields(textReply(c, "INFO", "all"))
        let set = pairs(all["cmdstat_set"])
        #expect(set["calls"] == "3" && set["failed_calls"] == "0" && set["rejected_calls"] == "0", "\(all["cmdstat_set"] ?? "")")
        let incr = pairs(all["cmdstat_incr"])
        #expect(incr["calls"] == "1" && incr["failed_calls"] == "1" && incr["rejected_calls"] == "1", "\(all["cmdstat_incr"] ?? "")")
        #expect(pairs(all["cmdstat_info"])["calls"] != nil)

        #expect(c.call("CONFIG", "RESETSTAT") == "+OK\r\n")
        let after = infoFields(textReply(c, "INFO", "stats", "errorstats", "commandstats"))
        #expect(after["keyspace_hits"] == "0" && after["total_error_replies"] == "0" && after["errorstat_ERR"] == nil)
        #expect(after["cmdstat_set"] == nil && after["total_commands_processed"] == "1")  // CONFIG RESETSTAT itself
    }

    @Test("STATS matches the engine's statistics for the same keys and seed")
    func statsAgainstEngine() throws {
        let seed: UInt64 = 424242
        let server = try TestServer(["--hash-seed", String(seed)])
        defer { server.stop() }
        let c = try server.client()
        let store = Store(fixedSeed: seed)
        var batch: [UInt8] = []
        for i in 0..<20_000 {
            let k = "stat:\(i)", v = "v\(i)"
            batch += i % 3 == 0 ? encodeCommand(["SET", k, v, "EX", "1000"]) : encodeCommand(["SET", k, v])
            _ = try store.set(Array(k.utf8), Array(v.utf8), SetOptions(expiry: i % 3 == 0 ? .at(store.now + 1_000_000) : .clear))
        }
        c.send(batch)
        for _ in 0..<20_000 { #expect(c.read() == "+OK\r\n") }
        // Let the server's cron finish any growth, then compare what does not depend on timing.
        var text = ""
        for _ in 0..<100 {
            text = textReply(c, "STATS")
            if infoFields(text)["growths_in_progress"] == "0" { break }
            usleep(100_000)
        }
        let f = infoFields(text)
        let engine = store.statistics()
        #expect(f["keys"] == String(engine.total.count) && f["keys"] == "20000")
        #expect(f["keys_with_expiry"] == String(engine.total.entriesWithExpiry) && f["keys_with_expiry"] == "6667")
        #expect(f["shards"] == "16" && f["db"] == "0")
        // What the kernel holds of the arenas: all of these small ones (malloc's pages, counted whole).
        let arena = Int(f["arena_bytes"] ?? "") ?? -1, resident = Int(f["arena_resident_bytes"] ?? "") ?? -2
        #expect(arena > 0 && resident == arena, "\(arena) \(resident)")
        #expect(infoFields(textReply(c, "INFO", "hashmap"))["hashmap_arena_resident_bytes"] == nil)
        var bucketSum = 0
        for (i, m) in engine.shards.enumerated() {
            let line = pairs(f["shard_\(i)"])
            #expect(line["keys"] == String(m.count), "shard \(i)")
            #expect(line["bucket_bits"] == String(m.bucketBits) && line["buckets"] == String(m.buckets), "shard \(i)")
            #expect(line["keys_with_expiry"] == String(m.entriesWithExpiry), "shard \(i)")
            #expect(line["seed_fingerprint"] == String(m.seedFingerprint, radix: 16).leftPadded(8), "shard \(i)")
            bucketSum += m.buckets
            // STATS SHARD n says the same as its line, with the histograms.
            let one = infoFields(textReply(c, "STATS", "SHARD", String(i)))
            #expect(one["keys"] == line["keys"] && one["buckets"] == line["buckets"] && one["overflow_buckets"] == line["overflow_buckets"])
            let chains = (0...Int(one["longest_chain"]!)!).map { Int(one["chain_length_\($0)"]!)! }
            #expect(chains.reduce(0, +) == m.buckets)
            let slots = (0...8).map { Int(one["slots_used_\($0)"]!)! }
            #expect(slots.enumerated().reduce(0) { $0 + $1.offset * $1.element } == m.count)
            #expect(slots.reduce(0, +) == m.buckets + Int(one["overflow_buckets"]!)!)
        }
        #expect(f["buckets"] == String(bucketSum))
        #expect(f["load_factor"] == String(format: "%.2f", 20000.0 / Double(bucketSum)))
        #expect(c.call("STATS", "SHARD", "16") == "-ERR shard out of range: the store has 16 shards (0-15)\r\n")
        #expect(c.call("STATS", "SHARD", "x") == "-ERR value is not an integer or out of range\r\n")
        #expect(c.call("STATS", "BOGUS") == "-ERR syntax error\r\n")
    }

    @Test("VERIFY is OK under concurrent writes, and finds a map broken on purpose")
    func verify() throws {
        let server = try TestServer(["--enable-debug-command", "yes"])
        defer { server.stop() }
        let stop = Atomic<Bool>(false)
        let writes = Atomic<Int>(0)
        let group = DispatchGroup()
        for w in 0..<2 {
            let writer = try server.client()
            DispatchQueue.global().async(group: group) {
                var i = 0
                let deadline = Date().addingTimeInterval(20)
                while !stop.load(ordering: .relaxed) && Date() < deadline {
                    var batch: [UInt8] = []
                    for j in 0..<200 {
                        let k = "w\(w):\((i * 200 + j) % 50_000)"
                        batch += j % 4 == 3 ? encodeCommand(["DEL", k]) : encodeCommand(["SET", k, String(i)])
                    }
                    writer.send(batch)
                    for _ in 0..<200 { _ = writer.readRaw() }
                    writes.add(200, ordering: .relaxed)
                    i += 1
                }
            }
        }
        let c = try server.client()
        // VERIFY at least 15 times, and until the writers have done 10,000 writes meanwhile (a busy machine
        // slows them; bounded at 20 s by their deadline).
        var rounds = 0
        while rounds < 15 || (writes.load(ordering: .relaxed) <= 10_000 && rounds < 400) {
            #expect(c.call("VERIFY") == "+OK\r\n")
            usleep(50_000)
            rounds += 1
        }
        stop.store(true, ordering: .relaxed)
        group.wait()
        #expect(writes.load(ordering: .relaxed) > 10_000)
        #expect(c.call("VERIFY") == "+OK\r\n")

        #expect(c.call("SET", "victim", "1") == "+OK\r\n")
        #expect(c.call("DEBUG", "BREAK-MAP", "absent") == "-ERR no such key\r\n")
        #expect(c.call("DEBUG", "BREAK-MAP", "victim") == "+OK\r\n")
        let broken = c.call("VERIFY")
        #expect(broken.hasPrefix("-ERR map invariant broken: db 0 shard "), "\(broken)")
        #expect(broken.contains("bucket") && broken.contains("slot") && broken.contains("tophash"), "\(broken)")
        #expect(server.log.contains("VERIFY found a broken map"))
    }

    @Test("VERIFY and STATS run off the event loop: others are served meanwhile, and their client's replies keep their order",
          arguments: allBackends)
    func verifyOffTheLoop(backend: String) throws {
        let server = try TestServer(["--io-threads", "1", "--enable-debug-command", "yes"], backend: backend)
        defer { server.stop() }
        let a = try server.client(), b = try server.client()
        var batch: [UInt8] = []
        for i in 0..<20_000 { batch += encodeCommand(["SET", "v:\(i)", "x"]) }
        a.send(batch)
        for _ in 0..<20_000 { _ = a.readRaw() }
        // The work off the loop is held until b releases it, so nothing here races it: were VERIFY or STATS
        // run on the (only) event loop, b would never be answered.
        for (command, first, value) in [("VERIFY", "+OK\r\n", "1"), ("STATS", "keys:20001\r\n", "2")] {
            #expect(b.call("DEBUG", "HOLD-OFF-LOOP", "1") == "+OK\r\n")
            // Pipelined behind it: answered after it, in order.
            a.send(encodeCommand([command]) + encodeCommand(["SET", "after", value]) + encodeCommand(["GET", "after"]))
            #expect(waitFor { b.call("CLIENT", "LIST").contains("cmd=\(command.lowercased())") }, "\(command) never started")
            #expect(b.call("PING") == "+PONG\r\n")
            #expect(b.call("GET", "after") == (value == "1" ? "$-1\r\n" : "$1\r\n1\r\n"), "a command behind \(command) ran before it")
            var waiting: Int32 = 0
            #expect(ioctl(a.fd, UInt(FIONREAD), &waiting) == 0)
            #expect(waiting == 0, "\(command) answered while held")
            #expect(b.call("DEBUG", "HOLD-OFF-LOOP", "0") == "+OK\r\n")
            #expect(a.read().contains(first))
            #expect(a.read() == "+OK\r\n")
            #expect(a.read() == "$1\r\n\(value)\r\n")
        }
        #expect(b.call("DBSIZE") == ":20001\r\n")
        // Inside EXEC it answers in place.
        #expect(a.call("MULTI") == "+OK\r\n")
        #expect(a.call("STATS") == "+QUEUED\r\n")
        #expect(a.call("GET", "after") == "+QUEUED\r\n")
        let exec = a.call("EXEC")
        #expect(exec.hasPrefix("*2\r\n$") && exec.contains("keys:20001\r\n") && exec.hasSuffix("$1\r\n2\r\n"), "\(exec.prefix(200))")
    }

    @Test("DEBUG is refused unless enable-debug-command allows it")
    func debugRefused() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("SET", "k", "v") == "+OK\r\n")
        #expect(c.call("DEBUG", "BREAK-MAP", "k").hasPrefix("-ERR DEBUG command not allowed."))
        #expect(c.call("VERIFY") == "+OK\r\n")
        #expect(c.call("CONFIG", "SET", "enable-debug-command", "yes").contains("can't set immutable config"))
    }

    @Test("metrics-port: Prometheus text on GET /metrics, 404 elsewhere, 405 for other methods")
    func metrics() throws {
        let metricsPort = freePort()
        let server = try TestServer(["--metrics-port", String(metricsPort)])
        defer { server.stop() }
        let c = try server.client()
        for i in 0..<500 { _ = c.call("SET", "m\(i)", "v", "EX", i % 2 == 0 ? "100" : "1000") }
        _ = c.call("SELECT", "3")
        _ = c.call("SET", "other", "v")
        _ = c.call("GET", "other")
        _ = c.call("HSET", "profile", "name", "ada")
        _ = c.call(["SADD", "members"] + (0..<600).map { "m\($0)" })

        let response = httpGet(port: metricsPort, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(response.contains("Content-Type: text/plain; version=0.0.4"))
        let body = String(response[response.range(of: "\r\n\r\n")!.upperBound...])
        // Every line is a HELP/TYPE comment or `name{labels} value` with a number.
        var samples: [String: Double] = [:]
        var typed = Set<String>()
        for line in body.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let w = line.split(separator: " ")
                #expect(w.count == 4 && ["gauge", "counter"].contains(w[3]))
                typed.insert(String(w[2]))
                continue
            }
            if line.hasPrefix("# HELP ") { continue }
            let w = line.split(separator: " ")
            #expect(w.count == 2, "\(line)")
            let name = String(w[0].prefix { $0 != "{" })
            #expect(typed.contains(name), "\(name) has no TYPE line before it")
            #expect(Double(w[1]) != nil, "\(line)")
            samples[String(w[0])] = Double(w[1])
        }
        #expect(samples["kvserver_keys{db=\"0\"}"] == 500 && samples["kvserver_keys{db=\"3\"}"] == 3)
        // The small hash is inline (in its entry); the 600-member set is an object, in its map form.
        #expect(samples["kvserver_value_objects{db=\"3\"}"] == 1 && samples["kvserver_inner_maps{db=\"3\"}"] == 1)
        #expect(samples["kvserver_value_objects{db=\"0\"}"] == 0 && samples["kvserver_inner_maps{db=\"0\"}"] == 0)
        #expect(samples["kvserver_value_object_bytes{db=\"0\"}"] == 0 && (samples["kvserver_value_object_bytes{db=\"3\"}"] ?? 0) > 0)
        #expect(samples["kvserver_keys_expiring{db=\"0\"}"] == 500)
        #expect(samples["kvserver_connected_clients"] == 1)
        #expect((samples["kvserver_commands_processed_total"] ?? 0) >= 503)
        #expect(samples["kvserver_command_calls_total{cmd=\"set\"}"] == 501)
        #expect(samples["kvserver_keyspace_hits_total"] == 1)
        #expect((samples["kvserver_hashmap_buckets{db=\"0\"}"] ?? 0) >= 16)
        #expect(samples["kvserver_hashmap_growths_in_progress{db=\"0\"}"] != nil)
        #expect(samples["kvserver_hashmap_evacuated_buckets{db=\"0\"}"] != nil)
        #expect(samples["kvserver_rdb_bgsave_in_progress"] == 0 && samples["kvserver_loading"] == 0)
        #expect((samples["kvserver_memory_used_bytes"] ?? 0) > 0)

        #expect(httpGet(port: metricsPort, "GET / HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404 Not Found"))
        #expect(httpGet(port: metricsPort, "POST /metrics HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 405"))
        // The event loops never saw any of it.
        #expect(c.call("PING") == "+PONG\r\n")

        if toolExists("promtool") {
            let check = try run("/bin/sh", ["-c", "promtool check metrics"], input: Data(body.utf8))
            #expect(check.status == 0, "\(check.output)")
        }
    }

    @Test("redis-cli --stat prints its rows from our INFO", .enabled(if: clientsRequired || toolExists("redis-cli")))
    func redisCliStat() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        for i in 0..<42 { _ = c.call("SET", "k\(i)", "v") }
        // redis-cli buffers a pipe: stdbuf makes each row appear as it is printed.
        let r = try run("/usr/bin/env", ["timeout", "-s", "KILL", "3.5", "stdbuf", "-oL", "redis-cli", "-p", String(server.port), "--stat", "-i", "1"])
        #expect(r.output.contains("------- data ------"), "\(r.output)")
        let rows = r.output.split(separator: "\n").filter { $0.hasPrefix("42 ") }
        #expect(rows.count >= 2, "\(r.output)")
        #expect(!r.output.contains("ERROR"))
    }

    @Test("redis-py's info() parses our INFO", .enabled(if: clientsRequired || pythonRedisVersion() != nil))
    func redisPyInfo() throws {
        let server = try TestServer()
        defer { server.stop() }
        let script = """
            import sys, redis
            r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), protocol=2)
            r.set("a", "1"); r.set("b", "2", ex=100); r.get("a")
            i = r.info()
            assert i["redis_version"] == "7.0.15" and i["arch_bits"] == 64 and i["cluster_enabled"] == 0, i
            assert i["db0"] == {"keys": 2, "expires": 1, "avg_ttl": 0}, i["db0"]
            assert i["connected_clients"] >= 1 and i["role"] == "master" and i["keyspace_hits"] == 1
            assert i["hashmap_keys"] == 2 and i["hashmap_shards"] == 256
            a = r.info("all")
            assert a["cmdstat_set"]["calls"] == 2, a["cmdstat_set"]
            assert r.info("keyspace") == {"db0": {"keys": 2, "expires": 1, "avg_ttl": 0}}
            r3 = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))  # RESP3: a verbatim string
            assert r3.info("server")["tcp_port"] == int(sys.argv[1])
            assert r.config_resetstat() is True and r.info("stats")["keyspace_hits"] == 0
            print("ok")
            """
        let r = try run("/usr/bin/env", ["python3", "-c", script, String(server.port)])
        #expect(r.status == 0 && r.output.contains("ok"), "\(r.output)")
    }
}

/// One HTTP exchange on a fresh connection: the whole response.
func httpGet(port: Int, _ request: String) -> String {
    guard let c = try? RawClient(port: port) else { return "<no connection>" }
    c.send(request)
    return c.readUntilClosed()
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }

    @Test("SLOWLOG: what is logged at the threshold's edges, entries as Redis writes them, max-len, RESET")
    func slowlog() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        _ = c.call("SET", "k", "v")
        #expect(c.call("SLOWLOG", "LEN") == ":0\r\n", "nothing takes 10 ms here")
        #expect(c.call("CONFIG", "SET", "slowlog-log-slower-than", "0") == "+OK\r\n")
        _ = c.call("CLIENT", "SETNAME", "me")
        _ = c.call("SET", "long", String(repeating: "x", count: 200))
        c.send(encodeCommand(["MULTI"]) + encodeCommand(["INCR", "n"]) + encodeCommand(["EXEC"]))
        _ = (c.read(), c.read(), c.read())
        guard case .array(let entries)? = { c.send(encodeCommand(["SLOWLOG", "GET", "3"])); return c.readValue() }() else {
            Issue.record("no array")
            return
        }
        // Newest first; EXEC itself is not logged (skip_slowlog), its INCR is.
        #expect(entries.count == 3)
        func args(_ e: RESPValue) -> [RESPValue] { if case .array(let p) = e, case .array(let a) = p[3] { return a } else { return [] } }
        #expect(args(entries[0]) == [.bulk(Array("INCR".utf8)), .bulk(Array("n".utf8))])
        #expect(args(entries[1]) == [.bulk(Array("MULTI".utf8))])
        #expect(args(entries[2]).last == .bulk(Array((String(repeating: "x", count: 128) + "... (72 more bytes)").utf8)))
        if case .array(let p) = entries[0] {
            #expect(p.count == 6 && p[5] == .bulk(Array("me".utf8)))
            if case .integer(let t) = p[1] { #expect(abs(Int(t) - Int(Date().timeIntervalSince1970)) < 5) }
        }
        #expect(c.call("CONFIG", "SET", "slowlog-max-len", "2") == "+OK\r\n")
        #expect(c.call("SLOWLOG", "LEN") == ":2\r\n")
        #expect(c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1") == "+OK\r\n")
        #expect(c.call("SLOWLOG", "RESET") == "+OK\r\n")
        _ = c.call("SET", "k", "v")
        #expect(c.call("SLOWLOG", "LEN") == ":0\r\n")
        #expect(c.call("CONFIG", "SET", "slowlog-log-slower-than", "-2").hasPrefix("-ERR CONFIG SET failed"))
    }

    @Test("MEMORY USAGE grows with the value and the expiry; MEMORY STATS counts the keys")
    func memoryCommands() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        _ = c.call("SET", "small", "v")
        _ = c.call("SET", "big", String(repeating: "x", count: 10_000))
        _ = c.call("SET", "timed", "v", "EX", "100")
        let small = try #require(integerReply(c.call("MEMORY", "USAGE", "small")))
        let big = try #require(integerReply(c.call("MEMORY", "USAGE", "big", "SAMPLES", "0")))
        let timed = try #require(integerReply(c.call("MEMORY", "USAGE", "timed")))
        #expect(small > 8 && small < 64 && big >= 10_000 && big < 10_100 && timed > small)
        #expect(c.call("MEMORY", "USAGE", "missing") == "$-1\r\n")
        #expect(c.call("MEMORY", "USAGE", "small", "SAMPLES", "-1") == "-ERR syntax error\r\n")
        let stats = c.call("MEMORY", "STATS")
        #expect(stats.contains("$10\r\nkeys.count\r\n:3\r\n"), "\(stats)")
    }

    @Test("LATENCY: off by default; at a threshold, a slow command is recorded as Redis records it; RESET forgets")
    func latencyMonitor() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        _ = c.call("SETRANGE", "big", "50000000", "x")
        #expect(c.call("LATENCY", "LATEST") == "*0\r\n", "off: nothing recorded")
        #expect(c.call("CONFIG", "SET", "latency-monitor-threshold", "1") == "+OK\r\n")
        _ = c.call("DEL", "big")
        _ = c.call("SETRANGE", "big", "100000000", "x")  // zero-fills 100 MB: well over a millisecond
        guard case .array(let latest)? = { c.send(encodeCommand(["LATENCY", "LATEST"])); return c.readValue() }(),
              case .array(let e)? = latest.first else {
            Issue.record("LATENCY LATEST recorded nothing")
            return
        }
        #expect(e.count == 4 && e[0] == .bulk(Array("command".utf8)))
        if case .integer(let ms) = e[2], case .integer(let max) = e[3] { #expect(ms >= 1 && max >= ms) }
        let history = c.call("LATENCY", "HISTORY", "command")  // a sample per second with a slow command
        #expect(history.hasPrefix("*") && !history.hasPrefix("*0") && history.contains("*2\r\n:"), "\(history)")
        #expect(c.call("LATENCY", "RESET", "command", "nosuch") == ":1\r\n")
        #expect(c.call("LATENCY", "HISTORY", "command") == "*0\r\n")
        _ = c.call("CONFIG", "SET", "latency-monitor-threshold", "0")
        _ = c.call("LATENCY", "RESET")  // the others (DEL of 50 MB may be a slow fast-command)
        #expect(c.call("LATENCY", "LATEST") == "*0\r\n")
    }
}
