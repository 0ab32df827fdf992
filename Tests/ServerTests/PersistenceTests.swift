import Foundation
import Glibc
import RESP
import Testing
import KVEngine

// Snapshots through the server: SAVE/BGSAVE/LASTSAVE, save at shutdown, loading (and -LOADING while it
// runs), MISCONF after a failed background save, refusal of corrupt files, kill -9 during BGSAVE, and
// interoperability with Debian's redis-server and redis-check-rdb.

/// Polls `condition` every 10 ms for up to `seconds`.
func waitFor(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// The value of an integer reply (":42\r\n").
/// A redis-server on `port` with no persistence of its own, its files in `dir`, and a client of it.
func startRedisServer(port: Int, dir: String) throws -> (Process, RawClient) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
    p.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"]
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    var rc: RawClient? = nil
    _ = waitFor { rc = try? RawClient(port: port); return rc.map { $0.call("PING") == "+PONG\r\n" } ?? false }
    return (p, try #require(rc))
}

func integerReply(_ reply: String) -> Int? {
    reply.hasPrefix(":") ? Int(reply.dropFirst().trimmingCharacters(in: .whitespacesAndNewlines)) : nil
}

/// Keys of database `db` in an RDB file, parsed with the engine's reader.
func snapshotKeys(_ path: String, db: Int = 0) throws -> [String: (String, Int64?)] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    var out: [String: (String, Int64?)] = [:]
    var current = -1
    _ = try data.withUnsafeBytes { b in
        try parseRDB(b, now: 0, onDatabase: { current = $0 }, onKey: { k, v, x in
            if current == db { out[String(decoding: k, as: UTF8.self)] = (String(decoding: v.stringBytes!, as: UTF8.self), x) }
        })
    }
    return out
}

/// Writes an RDB file of `keys` keys "key:i" = "value:i" into `dir`/dump.rdb with the engine.
func writeSnapshot(dir: String, keys: Int) throws {
    let store = Store()
    for i in 0..<keys { try store.set(Array("key:\(i)".utf8), Array("value:\(i)".utf8)) }
    _ = try Snapshot(of: [store]).write(to: dir + "/dump.rdb", options: SnapshotOptions())
}

@Suite("Snapshots through the server", .serialized)
struct PersistenceTests {
    @Test("SAVE, BGSAVE, BGSAVE SCHEDULE, LASTSAVE; the server serves reads and writes during BGSAVE")
    func saveCommands() throws {
        let dir = temporaryDirectory()
        let server = try TestServer(["--dir", dir])
        defer { server.stop() }
        let c = try server.client()
        let before = integerReply(c.call("LASTSAVE"))!
        #expect(c.call("SET", "a", "1") == "+OK\r\n")
        sleep(1)
        #expect(c.call("SAVE") == "+OK\r\n")
        let after = integerReply(c.call("LASTSAVE"))!
        #expect(after > before)
        #expect(try snapshotKeys(dir + "/dump.rdb")["a"]?.0 == "1")

        for i in 0..<2000 { c.command("SET", "k\(i)", "v\(i)") }
        for _ in 0..<2000 { _ = c.read() }
        #expect(c.call("CONFIG", "SET", "rdb-key-save-delay", "500") == "+OK\r\n")  // about 1 s per save
        #expect(c.call("BGSAVE") == "+Background saving started\r\n")
        #expect(c.call("BGSAVE") == "-ERR Background save already in progress\r\n")
        #expect(c.call("SAVE") == "-ERR Background save already in progress\r\n")
        #expect(c.call("BGSAVE", "SCHEDULE") == "+Background saving scheduled\r\n")
        #expect(c.call("BGSAVE", "NOW") == "-ERR syntax error\r\n")
        // Served meanwhile; the write comes after the cut, so the running save leaves it out.
        #expect(c.call("SET", "during", "x") == "+OK\r\n")
        #expect(c.call("GET", "k7") == "$2\r\nv7\r\n")
        #expect(waitFor(seconds: 20) { server.log.components(separatedBy: "Background saving terminated with success").count == 3 })
        // The scheduled save ran after the first and has the later write.
        #expect(try snapshotKeys(dir + "/dump.rdb")["during"]?.0 == "x")
        #expect(try snapshotKeys(dir + "/dump.rdb").count == 2002)
    }

    @Test("Restart: SIGTERM saves (save points set), data, TTLs and databases come back; NOSAVE and save \"\" do not save")
    func restart() throws {
        let dir = temporaryDirectory()
        var server = try TestServer(["--dir", dir])
        var c = try server.client()
        #expect(c.call("SET", "plain", "v") == "+OK\r\n")
        #expect(c.call("SET", "ttl", "v", "EX", "1000") == "+OK\r\n")
        #expect(c.call("SET", "gone", "v", "PX", "300") == "+OK\r\n")
        #expect(c.call("SELECT", "5") == "+OK\r\n")
        #expect(c.call("SET", "five", "5") == "+OK\r\n")
        #expect(server.stop() == 0)
        #expect(server.log.contains("Saving the final RDB snapshot before exiting."))
        usleep(400_000)  // "gone" expires on disk

        server = try TestServer(["--dir", dir])
        c = try server.client()
        #expect(c.call("GET", "plain") == "$1\r\nv\r\n")
        let ttl = integerReply(c.call("TTL", "ttl")) ?? -5
        #expect(ttl > 990 && ttl <= 1000)
        #expect(c.call("EXISTS", "gone") == ":0\r\n")
        #expect(c.call("SELECT", "5") == "+OK\r\n")
        #expect(c.call("GET", "five") == "$1\r\n5\r\n")
        #expect(server.log.contains("Done loading RDB, keys loaded: 3, keys expired: 1."))
        #expect(c.call("SET", "five", "changed") == "+OK\r\n")
        c.send(encodeCommand(["SHUTDOWN", "NOSAVE"]))
        #expect(server.waitForExit() == 0)

        server = try TestServer(["--dir", dir, "--save", ""])
        c = try server.client()
        #expect(c.call("SELECT", "5") == "+OK\r\n")
        #expect(c.call("GET", "five") == "$1\r\n5\r\n")
        #expect(c.call("SET", "five", "changed again") == "+OK\r\n")
        #expect(server.stop() == 0)
        #expect(!server.log.contains("Saving the final RDB snapshot"))

        server = try TestServer(["--dir", dir])
        c = try server.client()
        #expect(c.call("SELECT", "5") == "+OK\r\n")
        #expect(c.call("GET", "five") == "$1\r\n5\r\n")
        c.send(encodeCommand(["SHUTDOWN", "SAVE", "NOSAVE"]))
        #expect(c.read() == "-ERR syntax error\r\n")
        #expect(c.call("FLUSHALL") == "+OK\r\n")  // with save points, FLUSHALL saves the empty keyspace
        kill(server.pid, SIGKILL)
        _ = server.waitForExit()
        #expect(try snapshotKeys(dir + "/dump.rdb").isEmpty)
    }

    @Test("-LOADING while the snapshot loads; TIME, CONFIG and LASTSAVE are served meanwhile")
    func loading() throws {
        let dir = temporaryDirectory()
        try writeSnapshot(dir: dir, keys: 20_000)
        let server = try TestServer(["--dir", dir, "--key-load-delay", "100"], readyLine: "Server initialized")
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("PING") == "-LOADING Redis is loading the dataset in memory\r\n")
        #expect(c.call("GET", "key:1") == "-LOADING Redis is loading the dataset in memory\r\n")
        #expect(c.call("TIME").hasPrefix("*2\r\n"))
        #expect(c.call("CONFIG", "GET", "dbfilename") == "*2\r\n$10\r\ndbfilename\r\n$8\r\ndump.rdb\r\n")
        #expect(waitFor(seconds: 30) { server.log.contains("Ready to accept connections") })
        #expect(c.call("PING") == "+PONG\r\n")
        #expect(c.call("DBSIZE") == ":20000\r\n")
        #expect(c.call("GET", "key:19999") == "$11\r\nvalue:19999\r\n")
        #expect(server.log.contains("Done loading RDB, keys loaded: 20000"))
    }

    @Test("A failed BGSAVE: MISCONF for writes and PING, reads go on; stop-writes-on-bgsave-error no lifts it; a good save clears it")
    func misconf() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("SET", "k", "v") == "+OK\r\n")
        let gone = temporaryDirectory()
        #expect(c.call("CONFIG", "SET", "dir", gone) == "+OK\r\n")
        rmdir(gone)  // the temporary file cannot be created, even by root
        #expect(c.call("BGSAVE") == "+Background saving started\r\n")
        #expect(waitFor { server.log.contains("Background saving error") })
        let misconf = "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.\r\n"
        #expect(waitFor { c.call("SET", "k", "w") == misconf })
        #expect(c.call("PING") == misconf)
        #expect(c.call("GET", "k") == "$1\r\nv\r\n")
        #expect(c.call("CONFIG", "SET", "stop-writes-on-bgsave-error", "no") == "+OK\r\n")
        #expect(c.call("SET", "k", "w") == "+OK\r\n")
        #expect(c.call("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes") == "+OK\r\n")
        #expect(c.call("INCR", "n") == misconf)
        #expect(c.call("CONFIG", "SET", "dir", temporaryDirectory()) == "+OK\r\n")
        #expect(c.call("BGSAVE") == "+Background saving started\r\n")
        #expect(waitFor { c.call("INCR", "n") == ":1\r\n" })
    }

    @Test("Snapshot directives: CONFIG GET/SET, conf file save lines add up, bad values rejected")
    func directives() throws {
        let dir = temporaryDirectory()
        let conf = dir + "/kv.conf"
        try "save 900 1\nsave 60 500\ndbfilename snap.rdb\nrdbcompression no\nrdb-save-incremental-fsync no\n".write(toFile: conf, atomically: true, encoding: .utf8)
        let server = try TestServer(["--dir", dir], configFile: conf)
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("CONFIG", "GET", "save") == "*2\r\n$4\r\nsave\r\n$12\r\n900 1 60 500\r\n")
        #expect(c.call("CONFIG", "GET", "dir") == "*2\r\n$3\r\ndir\r\n$\(dir.utf8.count)\r\n\(dir)\r\n")
        #expect(c.call("CONFIG", "GET", "rdbcompression") == "*2\r\n$14\r\nrdbcompression\r\n$2\r\nno\r\n")
        #expect(c.call("CONFIG", "GET", "rdb-save-incremental-fsync") == "*2\r\n$26\r\nrdb-save-incremental-fsync\r\n$2\r\nno\r\n")
        #expect(c.call("CONFIG", "SET", "rdb-save-incremental-fsync", "maybe") == "-ERR CONFIG SET failed (possibly related to argument 'rdb-save-incremental-fsync') - argument must be 'yes' or 'no'\r\n")
        #expect(c.call("CONFIG", "SET", "save", "") == "+OK\r\n")
        #expect(c.call("CONFIG", "GET", "save") == "*2\r\n$4\r\nsave\r\n$0\r\n\r\n")
        #expect(c.call("CONFIG", "SET", "save", "10 1 5") == "-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n")
        #expect(c.call("CONFIG", "SET", "dbfilename", "a/b.rdb") == "-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - dbfilename can't be a path, just a filename\r\n")
        #expect(c.call("CONFIG", "SET", "dir", "/nonexistent/x") == "-ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory\r\n")
        #expect(c.call("SET", "a", "b") == "+OK\r\n")
        #expect(c.call("SAVE") == "+OK\r\n")
        #expect(FileManager.default.fileExists(atPath: dir + "/snap.rdb"))
    }

    @Test("A corrupt snapshot, or one with a type we lack, stops start-up with the offset and reason; --check-snapshot agrees")
    func corruptFilesRefused() throws {
        let dir = temporaryDirectory()
        try writeSnapshot(dir: dir, keys: 100)
        let ok = try runServer(["--check-snapshot", dir + "/dump.rdb"])
        #expect(ok.status == 0)
        #expect(ok.output.contains("OK \(dir)/dump.rdb: RDB version 10, 100 keys"))
        #expect(ok.output.contains("checksum OK"))

        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/dump.rdb")))
        data[data.count / 2] ^= 0x20
        try Data(data).write(to: URL(fileURLWithPath: dir + "/dump.rdb"))
        let check = try runServer(["--check-snapshot", dir + "/dump.rdb"])
        #expect(check.status == 1)
        #expect(check.output.contains("--- RDB ERROR DETECTED ---") && check.output.contains("offset "))
        let start = try runServer(["--dir", dir, "--port", String(freePort()), "--bind", "127.0.0.1"])
        #expect(start.status == 1)
        #expect(start.output.contains("Fatal error loading the DB") && start.output.contains("offset "))

        // REDIS0010, SELECTDB 0, a stream (type 15, not read) named "user:1", EOF, checksum 0 (not computed).
        let zset: [UInt8] = Array("REDIS0010".utf8) + [0xFE, 0, 15, 6] + Array("user:1".utf8) + [1, 1, 0x61, 1, 0x31, 0xFF] + [UInt8](repeating: 0, count: 8)
        try Data(zset).write(to: URL(fileURLWithPath: dir + "/dump.rdb"))
        let typed = try runServer(["--dir", dir, "--port", String(freePort()), "--bind", "127.0.0.1"])
        #expect(typed.status == 1)
        #expect(typed.output.contains("key 'user:1' is a stream"), "\(typed.output)")
    }

    @Test("kill -9 at random moments of BGSAVE, 8 times: the previous snapshot always loads")
    func killDuringBackgroundSave() throws {
        let dir = temporaryDirectory()
        var rng = SplitMix64(seed: 99)
        var savedGeneration = -1
        for generation in 0..<8 {
            let server = try TestServer(["--dir", dir])
            let c = try server.client()
            if savedGeneration >= 0 {
                #expect(c.call("GET", "generation") == "$1\r\n\(savedGeneration)\r\n", "after kill \(generation)")
                #expect(c.call("DBSIZE") == ":3001\r\n")
            }
            #expect(c.call("SET", "generation", String(generation)) == "+OK\r\n")
            for i in 0..<3000 { c.command("SET", "key:\(i)", "g\(generation)") }
            for _ in 0..<3000 { _ = c.read() }
            #expect(c.call("SAVE") == "+OK\r\n")
            savedGeneration = generation
            // A newer state, and a slow BGSAVE of it that dies part way.
            #expect(c.call("SET", "generation", "9") == "+OK\r\n")
            #expect(c.call("CONFIG", "SET", "rdb-key-save-delay", "50") == "+OK\r\n")
            #expect(c.call("BGSAVE") == "+Background saving started\r\n")
            usleep(UInt32.random(in: 0...150_000, using: &rng))
            kill(server.pid, SIGKILL)
            _ = server.waitForExit()
        }
        #expect(try snapshotKeys(dir + "/dump.rdb")["generation"]?.0 == String(savedGeneration))
    }

    @Test("Interop: redis-check-rdb accepts our file; redis-server 7 loads it; we load redis-server's",
          .enabled(if: clientsRequired || toolExists("redis-server")))
    func redisInterop() throws {
        let dir = temporaryDirectory()
        let ours = try TestServer(["--dir", dir])
        var c = try ours.client()
        let long = String(repeating: "compressible ", count: 50)
        for (k, v) in [("s", "hello"), ("int", "12345"), ("neg", "-7"), ("big", "123456789012"), ("empty", ""), ("long", long)] {
            #expect(c.call("SET", k, v) == "+OK\r\n")
        }
        #expect(c.call("SET", "ttl", "x", "EX", "5000") == "+OK\r\n")
        #expect(c.call("SELECT", "2") == "+OK\r\n")
        #expect(c.call("SET", "two", "2") == "+OK\r\n")
        #expect(c.call("SAVE") == "+OK\r\n")
        ours.stop()
        let check = try run("/usr/bin/redis-check-rdb", [dir + "/dump.rdb"])
        #expect(check.status == 0)
        #expect(check.output.contains("RDB looks OK"))
        #expect(check.output.contains("8 keys read"))

        // redis-server loads our file and saves its own.
        let port = freePort()
        let redis = Process()
        redis.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        redis.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"]
        redis.standardOutput = FileHandle.nullDevice
        try redis.run()
        defer { if redis.isRunning { kill(redis.processIdentifier, SIGKILL) } }
        var rc: RawClient? = nil
        #expect(waitFor { rc = try? RawClient(port: port); return rc.map { $0.call("PING") == "+PONG\r\n" } ?? false })
        guard let r = rc else { return }
        #expect(r.call("GET", "long") == "$\(long.utf8.count)\r\n\(long)\r\n")
        #expect(r.call("GET", "big") == "$12\r\n123456789012\r\n")
        #expect(r.call("GET", "empty") == "$0\r\n\r\n")
        #expect(r.call("DBSIZE") == ":7\r\n")
        let ttl = integerReply(r.call("TTL", "ttl")) ?? 0
        #expect(ttl > 4900)
        #expect(r.call("SELECT", "2") == "+OK\r\n")
        #expect(r.call("GET", "two") == "$1\r\n2\r\n")
        #expect(r.call("SET", "from-redis", "yes") == "+OK\r\n")
        #expect(r.call("SAVE") == "+OK\r\n")
        kill(redis.processIdentifier, SIGKILL)
        redis.waitUntilExit()

        // And we load Redis' file.
        let again = try TestServer(["--dir", dir])
        defer { again.stop() }
        c = try again.client()
        #expect(c.call("GET", "long") == "$\(long.utf8.count)\r\n\(long)\r\n")
        #expect(c.call("GET", "int") == "$5\r\n12345\r\n")
        #expect(c.call("SELECT", "2") == "+OK\r\n")
        #expect(c.call("GET", "from-redis") == "$3\r\nyes\r\n")
        #expect(again.log.contains("Loading RDB produced by version 7."))
    }

    @Test("Hashes and sets in RDB files, both ways with redis-server 7, in every encoding it writes (listpack, intset, hashtable) on both sides of the thresholds",
          .enabled(if: clientsRequired || toolExists("redis-server")))
    func hashAndSetInterop() throws {
        let dir = temporaryDirectory()
        let port = freePort()
        func startRedis() throws -> (Process, RawClient) { try startRedisServer(port: port, dir: dir) }
        // What each key holds, and the encoding Redis 7.0 gives it.
        let smallHash = [("a", "1"), ("b", "hello"), ("n", "-70000"), ("e", "")]
        let bigHash = (0..<600).map { ("field:\($0)", "value:\($0)") }
        let longHash = [("x", String(repeating: "y", count: 100))]
        let intSet = ["1", "2", "-3", "70000", "5000000000"]
        let bigIntSet = (0..<600).map { String($0 * 7) }
        let strSet = ["a", "b", "über", ""]
        func fill(_ c: RawClient) {
            for (k, pairs) in [("hsmall", smallHash), ("hbig", bigHash), ("hlong", longHash)] {
                for chunk in stride(from: 0, to: pairs.count, by: 100) {
                    #expect(integerReply(c.call(["HSET", k] + pairs[chunk..<min(chunk + 100, pairs.count)].flatMap { [$0.0, $0.1] })) != nil)
                }
            }
            for (k, members) in [("sint", intSet), ("sbigint", bigIntSet), ("sstr", strSet)] {
                #expect(integerReply(c.call(["SADD", k] + members)) == members.count)
            }
        }
        func check(_ c: RawClient, _ who: String) {
            #expect(c.call("DBSIZE") == ":6\r\n", "\(who)")
            #expect(c.call("HGET", "hsmall", "n") == "$6\r\n-70000\r\n", "\(who)")
            #expect(c.call("HGET", "hsmall", "e") == "$0\r\n\r\n", "\(who)")
            #expect(c.call("HLEN", "hbig") == ":600\r\n" && c.call("HGET", "hbig", "field:599") == "$9\r\nvalue:599\r\n", "\(who)")
            #expect(c.call("HGET", "hlong", "x") == "$100\r\n\(longHash[0].1)\r\n", "\(who)")
            #expect(c.call("SCARD", "sint") == ":5\r\n" && c.call("SISMEMBER", "sint", "5000000000") == ":1\r\n", "\(who)")
            #expect(c.call("SCARD", "sbigint") == ":600\r\n" && c.call("SISMEMBER", "sbigint", "4193") == ":1\r\n", "\(who)")
            #expect(c.call("SCARD", "sstr") == ":4\r\n" && c.call("SISMEMBER", "sstr", "über") == ":1\r\n", "\(who)")
            for (k, e) in [("hsmall", "listpack"), ("hbig", "hashtable"), ("hlong", "hashtable"), ("sint", "intset"), ("sbigint", "hashtable")] {
                #expect(c.call("OBJECT", "ENCODING", k) == "$\(e.count)\r\n\(e)\r\n", "\(who): \(k)")
            }
        }
        // Redis writes them; we load them.
        var (redis, r) = try startRedis()
        fill(r)
        #expect(r.call("SAVE") == "+OK\r\n")
        kill(redis.processIdentifier, SIGKILL)
        redis.waitUntilExit()
        let ours = try TestServer(["--dir", dir])
        let c = try ours.client()
        check(c, "kvserver loading redis-server's file")
        #expect(c.call("VERIFY") == "+OK\r\n")
        // We write them; redis-check-rdb and redis-server load them.
        #expect(c.call("SAVE") == "+OK\r\n")
        ours.stop()
        let checked = try run("/usr/bin/redis-check-rdb", [dir + "/dump.rdb"])
        #expect(checked.status == 0 && checked.output.contains("RDB looks OK"), "\(checked.output)")
        (redis, r) = try startRedis()
        defer { if redis.isRunning { kill(redis.processIdentifier, SIGKILL) } }
        check(r, "redis-server loading kvserver's file")
    }

    @Test("Lists in RDB files and DUMP payloads, both ways with redis-server 7: one node and many, integers, long and empty elements",
          .enabled(if: clientsRequired || toolExists("redis-server")))
    func listInterop() throws {
        let dir = temporaryDirectory()
        let port = freePort()
        func startRedis() throws -> (Process, RawClient) { try startRedisServer(port: port, dir: dir) }
        let small = ["a", "1", "-70000", "", "über", "5000000000"]
        let big = (0..<10_000).map { "element:\($0)" }
        let long = [String(repeating: "x", count: 100), String(repeating: "y", count: 5000), "z"]
        func fill(_ c: RawClient) {
            #expect(integerReply(c.call(["RPUSH", "lsmall"] + small)) == small.count)
            for chunk in stride(from: 0, to: big.count, by: 500) {
                #expect(integerReply(c.call(["RPUSH", "lbig"] + big[chunk..<(chunk + 500)])) == chunk + 500)
            }
            #expect(integerReply(c.call(["LPUSH", "llong"] + long.reversed())) == long.count)
        }
        func check(_ c: RawClient, _ who: String) {
            #expect(c.call("DBSIZE") == ":3\r\n", "\(who)")
            #expect(c.call(["LRANGE", "lsmall", "0", "-1"]) == "*\(small.count)\r\n" + small.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined(), "\(who)")
            #expect(c.call("LLEN", "lbig") == ":10000\r\n" && c.call("LINDEX", "lbig", "7777") == "$12\r\nelement:7777\r\n", "\(who)")
            #expect(c.call("LINDEX", "llong", "1") == "$5000\r\n\(long[1])\r\n" && c.call("LINDEX", "llong", "-1") == "$1\r\nz\r\n", "\(who)")
            #expect(c.call("OBJECT", "ENCODING", "lbig") == "$9\r\nquicklist\r\n", "\(who)")
        }
        var (redis, r) = try startRedis()
        fill(r)
        // A small list's DUMP is Redis' byte for byte.
        let ours = try TestServer()
        let c = try ours.client()
        #expect(integerReply(c.call(["RPUSH", "lsmall"] + small)) == small.count)
        for who in [r, c] { who.send(encodeCommand(["DUMP", "lsmall"])) }
        #expect(r.readValue() == c.readValue())
        #expect(r.call("SAVE") == "+OK\r\n")
        kill(redis.processIdentifier, SIGKILL)
        redis.waitUntilExit()
        ours.stop()
        // Redis wrote them; we load them.
        let loaded = try TestServer(["--dir", dir])
        let l = try loaded.client()
        check(l, "kvserver loading redis-server's file")
        #expect(l.call("VERIFY") == "+OK\r\n")
        // We write them; redis-check-rdb and redis-server load them.
        #expect(l.call("SAVE") == "+OK\r\n")
        loaded.stop()
        let checked = try run("/usr/bin/redis-check-rdb", [dir + "/dump.rdb"])
        #expect(checked.status == 0 && checked.output.contains("RDB looks OK"), "\(checked.output)")
        (redis, r) = try startRedis()
        defer { if redis.isRunning { kill(redis.processIdentifier, SIGKILL) } }
        check(r, "redis-server loading kvserver's file")
    }

    @Test("Sorted sets in RDB files and DUMP payloads, both ways with redis-server 7: listpack and skiplist, integral and fractional scores, infinities",
          .enabled(if: clientsRequired || toolExists("redis-server")))
    func sortedSetInterop() throws {
        let dir = temporaryDirectory()
        let port = freePort()
        let small = [("1", "a"), ("2.5", "b"), ("-inf", "c"), ("inf", "d"), ("100000", "e"), ("0.1", "f"), ("-3", "")]
        let big = (0..<5_000).map { ("\($0 % 97).5", "member:\($0)") }
        func fill(_ c: RawClient) {
            #expect(integerReply(c.call(["ZADD", "zsmall"] + small.flatMap { [$0.0, $0.1] })) == small.count)
            for chunk in stride(from: 0, to: big.count, by: 500) {
                #expect(integerReply(c.call(["ZADD", "zbig"] + big[chunk..<(chunk + 500)].flatMap { [$0.0, $0.1] })) == 500)
            }
        }
        func check(_ c: RawClient, _ who: String) {
            #expect(c.call("DBSIZE") == ":2\r\n", "\(who)")
            #expect(c.call("ZRANGE", "zsmall", "0", "-1", "WITHSCORES")
                == "*14\r\n$1\r\nc\r\n$4\r\n-inf\r\n$0\r\n\r\n$2\r\n-3\r\n$1\r\nf\r\n$19\r\n0.10000000000000001\r\n$1\r\na\r\n$1\r\n1\r\n"
                + "$1\r\nb\r\n$3\r\n2.5\r\n$1\r\ne\r\n$6\r\n100000\r\n$1\r\nd\r\n$3\r\ninf\r\n", "\(who)")
            #expect(c.call("ZCARD", "zbig") == ":5000\r\n" && c.call("ZSCORE", "zbig", "member:4321") == "$4\r\n53.5\r\n", "\(who)")
            #expect(c.call("ZRANK", "zbig", "member:97") == ":50\r\n", "\(who)")
            #expect(c.call("OBJECT", "ENCODING", "zbig") == "$8\r\nskiplist\r\n", "\(who)")
            #expect(c.call("OBJECT", "ENCODING", "zsmall") == "$8\r\nlistpack\r\n", "\(who)")
        }
        var (redis, r) = try startRedisServer(port: port, dir: dir)
        fill(r)
        // A listpack set's DUMP is Redis' byte for byte (one short enough that neither compresses it: the
        // LZF encoders differ), and so is a skiplist set's of short members.
        let ours = try TestServer()
        let c = try ours.client()
        fill(c)
        for who in [r, c] { #expect(who.call("ZADD", "ztiny", "1", "a", "2.5", "b", "-7", "c") == ":3\r\n") }
        for key in ["ztiny", "zbig"] {
            for who in [r, c] { who.send(encodeCommand(["DUMP", key])) }
            #expect(r.readValue() == c.readValue(), "DUMP \(key)")
        }
        #expect(r.call("DEL", "ztiny") == ":1\r\n")
        #expect(r.call("SAVE") == "+OK\r\n")
        kill(redis.processIdentifier, SIGKILL)
        redis.waitUntilExit()
        ours.stop()
        let loaded = try TestServer(["--dir", dir])
        let l = try loaded.client()
        check(l, "kvserver loading redis-server's file")
        #expect(l.call("VERIFY") == "+OK\r\n")
        #expect(l.call("SAVE") == "+OK\r\n")
        loaded.stop()
        let checked = try run("/usr/bin/redis-check-rdb", [dir + "/dump.rdb"])
        #expect(checked.status == 0 && checked.output.contains("RDB looks OK"), "\(checked.output)")
        (redis, r) = try startRedisServer(port: port, dir: dir)
        defer { if redis.isRunning { kill(redis.processIdentifier, SIGKILL) } }
        check(r, "redis-server loading kvserver's file")
    }

    @Test("DUMP/RESTORE with redis-server 7 both ways: every value comes back byte for byte, with its TTL",
          .enabled(if: clientsRequired || toolExists("redis-server")))
    func dumpRestoreInterop() throws {
        let server = try TestServer()
        defer { server.stop() }
        let port = freePort()
        let redis = Process()
        redis.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        redis.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        redis.standardOutput = FileHandle.nullDevice
        try redis.run()
        defer { if redis.isRunning { kill(redis.processIdentifier, SIGKILL) } }
        var rc: RawClient? = nil
        #expect(waitFor { rc = try? RawClient(port: port); return rc.map { $0.call("PING") == "+PONG\r\n" } ?? false })
        let theirs = try #require(rc), ours = try server.client()
        let values: [[UInt8]] = [Array("v".utf8), Array("12345".utf8), Array("-7".utf8), Array("4294967296".utf8), [],
                                 [UInt8](repeating: 120, count: 5000), Array(String(repeating: "abcdefgh", count: 40).utf8),
                                 (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7919) }]
        func dump(_ c: RawClient, _ v: [UInt8]) -> [UInt8]? {
            c.send(encodeCommand([Array("SET".utf8), Array("src".utf8), v]))
            _ = c.read()
            c.send(encodeCommand(["DUMP", "src"]))
            if case .bulk(let p)? = c.readValue() { return p }
            return nil
        }
        for v in values {
            for (from, to) in [(ours, theirs), (theirs, ours)] {
                let payload = try #require(dump(from, v))
                to.send(encodeCommand([Array("RESTORE".utf8), Array("dst".utf8), Array("100000".utf8), payload, Array("REPLACE".utf8)]))
                #expect(to.read() == "+OK\r\n")
                to.send(encodeCommand(["GET", "dst"]))
                #expect(to.readValue() == .bulk(v))
                #expect((integerReply(to.call("PTTL", "dst")) ?? 0) > 90_000)
            }
        }
        // A payload from the other server, damaged by one flipped bit anywhere, is refused by both, and
        // nothing is written.
        let payload = try #require(dump(theirs, Array("some value".utf8)))
        for i in 0..<payload.count {
            var broken = payload
            broken[i] ^= 0x10
            for c in [ours, theirs] {
                c.send(encodeCommand([Array("RESTORE".utf8), Array("flip".utf8), Array("0".utf8), broken]))
                #expect(c.read().hasPrefix("-ERR"), "byte \(i)")
            }
        }
        #expect(ours.call("EXISTS", "flip") == ":0\r\n")
    }
}
