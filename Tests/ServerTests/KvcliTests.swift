import Foundation
import Glibc
import RESP
import Testing
import KVEngine

/// The kvcli binary built next to kvserver.
let kvcliBinary = URL(fileURLWithPath: serverBinary).deletingLastPathComponent().appendingPathComponent("kvcli").path

/// Runs kvcli (standard output is a pipe, so its default output is raw, as redis-cli's).
func kvcli(_ args: [String], input: String? = nil) throws -> (status: Int32, output: String, errors: String) {
    try run(kvcliBinary, args, input: input.map { Data($0.utf8) }, seconds: 30, separateErrors: true)
}

/// The `kvcli stats --json` document.
func statsJSON(_ port: Int, _ extra: [String] = []) throws -> [String: Any] {
    let r = try kvcli(["-p", String(port), "stats", "--json"] + extra)
    #expect(r.status == 0, "\(r.errors)")
    let line = r.output.split(separator: "\n").first.map(String.init) ?? ""
    return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
}

@Suite("kvcli against a real server", .serialized)
struct KvcliTests {
    @Test("one command: redis-cli's reply formats, --raw, exit status")
    func replyFormats() throws {
        let server = try TestServer()
        defer { server.stop() }
        let p = ["-p", String(server.port)]
        let human = p + ["--no-raw"]
        var r = try kvcli(p + ["set", "k", "hello world"])
        #expect(r.status == 0 && r.output == "OK\n")
        #expect(try kvcli(human + ["get", "k"]).output == "\"hello world\"\n")
        #expect(try kvcli(p + ["get", "k"]).output == "hello world\n")  // a pipe: raw, as redis-cli
        #expect(try kvcli(p + ["--raw", "get", "k"]).output == "hello world\n")
        #expect(try kvcli(human + ["get", "missing"]).output == "(nil)\n")
        #expect(try kvcli(p + ["get", "missing"]).output == "\n")
        #expect(try kvcli(human + ["incr", "n"]).output == "(integer) 1\n")
        #expect(try kvcli(p + ["incr", "n"]).output == "2\n")
        _ = try kvcli(p + ["set", "bin", "a\"b\\c\nd\u{1}"])
        #expect(try kvcli(human + ["get", "bin"]).output == "\"a\\\"b\\\\c\\nd\\x01\"\n")
        _ = try kvcli(p + ["mset", "a", "1", "b", "2"])
        #expect(try kvcli(human + ["mget", "a", "missing", "b"]).output == "1) \"1\"\n2) (nil)\n3) \"2\"\n")
        #expect(try kvcli(p + ["mget", "a", "missing", "b"]).output == "1\n\n2\n")
        for i in 0..<10 { _ = try kvcli(p + ["set", "many\(i)", "v"]) }
        let twelve = try kvcli(human + ["mget"] + (0..<10).map { "many\($0)" } + ["a", "b"]).output
        #expect(twelve.hasPrefix(" 1) \"v\"\n 2) \"v\"\n") && twelve.hasSuffix("10) \"v\"\n11) \"1\"\n12) \"2\"\n"), "\(twelve)")
        // Nested arrays indent under their index: SCAN's [cursor, [keys]].
        let scan = try kvcli(human + ["scan", "0", "match", "a", "count", "1000"]).output
        #expect(scan == "1) \"0\"\n2) 1) \"a\"\n", "\(scan)")
        #expect(try kvcli(human + ["keys", "nothing*"]).output == "(empty array)\n")

        r = try kvcli(human + ["incr", "k"])
        #expect(r.status == 1 && r.output == "(error) ERR value is not an integer or out of range\n")
        r = try kvcli(p + ["nosuchcommand"])
        #expect(r.status == 1 && r.output.hasPrefix("ERR unknown command 'nosuchcommand'"))
        r = try kvcli(p + ["-n", "2", "set", "indb2", "x"])
        #expect(r.status == 0)
        #expect(try kvcli(p + ["-n", "2", "get", "indb2"]).output == "x\n")
        #expect(try kvcli(p + ["get", "indb2"]).output == "\n")
    }

    @Test("a refused connection: one clear line, exit 2")
    func refused() throws {
        let port = freePort()  // nothing listens there
        let r = try kvcli(["-p", String(port), "get", "k"])
        #expect(r.status == 2)
        #expect(r.output == "")
        #expect(r.errors == "Could not connect to 127.0.0.1:\(port): Connection refused\n")
        let bad = try kvcli(["-p"])
        #expect(bad.status == 1 && bad.errors.contains("Unrecognized option or bad number of args for: '-p'"))
    }

    @Test("AUTH with -a (and --user), a wrong password, the warning")
    func auth() throws {
        let server = try TestServer(["--requirepass", "s3cret"])
        defer { server.stop() }
        let p = ["-p", String(server.port)]
        var r = try kvcli(p + ["get", "k"])
        #expect(r.status == 1 && r.output == "NOAUTH Authentication required.\n")
        r = try kvcli(p + ["-a", "s3cret", "set", "k", "v"])
        #expect(r.status == 0 && r.output == "OK\n")
        #expect(r.errors.contains("Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe."))
        r = try kvcli(p + ["--user", "default", "-a", "s3cret", "--no-auth-warning", "get", "k"])
        #expect(r.status == 0 && r.output == "v\n" && r.errors == "")
        r = try kvcli(p + ["-a", "wrong", "--no-auth-warning", "get", "k"])
        #expect(r.status == 1)
        #expect(r.errors.hasPrefix("AUTH failed: WRONGPASS"))
        #expect(r.output == "NOAUTH Authentication required.\n")
    }

    @Test("interactive mode through a pipe: quoting, SELECT, help, quit")
    func interactivePipe() throws {
        let server = try TestServer()
        defer { server.stop() }
        let script = """
            set greeting "hello \\"world\\"\\n"
            get greeting
            set 'single quoted' x
            exists 'single quoted'

            select 1
            get greeting
            help get
            help @nosuchgroup
            set "unbalanced
            set t x
            incr t
            quit
            set after quit
            """
        let r = try kvcli(["-p", String(server.port), "--no-raw"], input: script + "\n")
        #expect(r.status == 0)
        let expected = [
            "OK", "\"hello \\\"world\\\"\\n\"", "OK", "(integer) 1", "OK", "(nil)",
            "", "  GET key", "  summary: Get the value of a key",
            "No such group: @nosuchgroup", "Invalid argument(s)", "OK",
            "(error) ERR value is not an integer or out of range",
        ].joined(separator: "\n") + "\n"
        #expect(r.output == expected, "\(r.output)")
        let c = try server.client()
        #expect(c.call("EXISTS", "after") == ":0\r\n")  // nothing after quit ran
        // No prompt without a terminal; the server saw the commands in database 1 after SELECT.
        #expect(!r.output.contains("127.0.0.1:"))
    }

    @Test("kvcli stats: an empty store, a store mid-growth, long chains from a fixed seed; --watch")
    func stats() throws {
        let seed: UInt64 = 77
        // hz 1: the cron moves a growth along slowly, so the test can see one in progress.
        let server = try TestServer(["--hash-seed", String(seed), "--hz", "1"])
        defer { server.stop() }
        let p = ["-p", String(server.port)]

        // Empty.
        var json = try statsJSON(server.port)
        let summary = try #require(json["summary"] as? [String: Any])
        #expect(summary["keys"] as? Int == 0 && summary["shards"] as? Int == 16)
        #expect((json["shards"] as? [Any])?.count == 16 && (json["warnings"] as? [Any])?.isEmpty == true)
        var report = try kvcli(p + ["stats"])
        #expect(report.status == 0)
        #expect(report.output.hasPrefix("kvserver 127.0.0.1:\(server.port), db 0: 0 keys in 16 shards\n"), "\(report.output)")
        #expect(report.output.contains("No warnings"))
        #expect(!report.output.contains("\u{1B}["))  // no colour without a terminal

        // Mid-growth: add keys in batches until some shard is growing, then look at once.
        let c = try server.client()
        var growing = false
        var n = 0
        for _ in 0..<200 where !growing {
            var batch: [UInt8] = []
            for _ in 0..<2000 {
                batch += encodeCommand(["SET", "g:\(n)", "v"])
                n += 1
            }
            c.send(batch)
            for _ in 0..<2000 { _ = c.readRaw() }
            growing = infoFields(textReply(c, "STATS"))["growths_in_progress"] != "0"
        }
        #expect(growing)
        json = try statsJSON(server.port)
        let shards = try #require(json["shards"] as? [[String: Any]])
        let inGrowth = shards.filter { $0["growth"] as? String != "none" }
        #expect(!inGrowth.isEmpty)
        for s in inGrowth {
            #expect(s["growth"] as? String == "doubling")
            #expect((s["old_buckets"] as? Int ?? 0) > 0 && (s["evacuated_buckets"] as? Int ?? -1) < (s["old_buckets"] as? Int ?? 0))
        }
        report = try kvcli(p + ["stats"])
        #expect(report.output.contains("shards growing") || report.output.contains("shard growing"), "\(report.output)")
        #expect(report.output.contains("doubling"))

        // Long chains: keys of shard 0 that share the low 8 bits of the map's hash land in one bucket
        // (the map holds 16 buckets or fewer for them), so they chain.
        _ = c.call("SELECT", "5")
        var colliding: [String] = []
        var i = 0
        while colliding.count < 80 && i < 5_000_000 {
            let k = "chain:\(i)"
            if debugHash(Array(k.utf8), seed: seed) >> 60 == 0 && debugHash(Array(k.utf8), seed: seed &+ 0) & 0xff == 0x2a {
                colliding.append(k)
            }
            i += 1
        }
        #expect(colliding.count == 80)
        for k in colliding { #expect(c.call("SET", k, "v") == "+OK\r\n") }
        json = try statsJSON(server.port, ["-n", "5"])
        let shard0 = try #require((json["shards"] as? [[String: Any]])?.first)
        #expect(shard0["keys"] as? Int == 80)
        #expect((shard0["longest_chain"] as? Int ?? 0) >= 9, "\(shard0)")
        let warnings = try #require(json["warnings"] as? [String])
        #expect(warnings.contains { $0.hasPrefix("shard 0 has a chain of") }, "\(warnings)")
        report = try kvcli(p + ["-n", "5", "stats"])
        #expect(report.output.contains("Warnings\n  ! shard 0 has a chain of"), "\(report.output)")
        #expect(report.output.contains("Chain lengths"))
        // The bars: the row of empty-chain buckets is the longest.
        #expect(report.output.contains(String(repeating: "#", count: 40)))

        // Hashes, sets, lists and sorted sets: their forms, the inner maps, the list nodes, the trees and the largest values, in
        // STATS and drawn.
        _ = c.call("SELECT", "6")
        #expect(c.call(["HSET", "big:hash"] + (0..<600).flatMap { ["f\($0)", "v"] }) == ":600\r\n")
        _ = c.call("HSET", "small", "a", "1")
        _ = c.call("SADD", "ints", "1", "2", "3")
        _ = c.call("SADD", "words", "x", "y")
        #expect(c.call("CONFIG", "SET", "list-max-listpack-size", "2") == "+OK\r\n")
        _ = c.call("RPUSH", "queue", "a", "b", "c")
        #expect(c.call("CONFIG", "SET", "list-max-listpack-size", "-2") == "+OK\r\n")
        #expect(c.call("CONFIG", "SET", "zset-max-listpack-entries", "2") == "+OK\r\n")
        _ = c.call("ZADD", "board", "1", "a", "2", "b", "3", "c", "4", "d")
        #expect(c.call("CONFIG", "SET", "zset-max-listpack-entries", "128") == "+OK\r\n")
        let inner = infoFields(textReply(c, "STATS"))
        #expect(inner["values_by_encoding"] == "hashtable=1,intset=1,listpack=2,quicklist=1,skiplist=1", "\(inner)")
        #expect(inner["list_elements"] == "3" && inner["list_nodes"] == "2", "\(inner)")
        #expect(inner["zset_elements"] == "4" && inner["zset_tree_leaves"] == "1", "\(inner)")
        #expect(inner["inner_maps"] == "2" && inner["inner_map_entries"] == "604")
        #expect(Int(inner["inner_map_buckets"] ?? "") ?? 0 >= 600 / 8)
        #expect(inner["largest_0"] == "hash:600:big:hash" && inner["largest_1"] == "zset:4:board", "\(inner)")
        report = try kvcli(p + ["-n", "6", "stats"])
        #expect(report.output.contains("Hashes, sets, lists and sorted sets\n  values       1 hashtable, 1 intset, 2 listpack, 1 quicklist, 1 skiplist\n"),
                "\(report.output)")
        #expect(report.output.contains("list nodes   2 holding 3 elements, 1.50 per node\n"), "\(report.output)")
        #expect(report.output.contains("sorted sets  4 elements; 1 leaf blocks in the large ones' trees\n"), "\(report.output)")
        #expect(report.output.contains("inner maps   2 (values grown past the compact forms, each its own map): 604 entries in"))
        #expect(report.output.contains("big:hash  hash       600"), "\(report.output)")
        json = try statsJSON(server.port, ["-n", "6"])
        #expect((json["summary"] as? [String: Any])?["inner_map_entries"] as? Int == 604)

        // --watch refreshes until stopped.
        let watched = try run(kvcliBinary, p + ["stats", "--json", "--watch", "0.3"], seconds: 1.5)
        #expect(watched.output.split(separator: "\n").count >= 3, "\(watched.output)")
    }

    @Test("kvcli verify: sound, then broken on purpose")
    func verify() throws {
        let server = try TestServer(["--enable-debug-command", "yes"])
        defer { server.stop() }
        let p = ["-p", String(server.port)]
        _ = try kvcli(p + ["set", "k", "v"])
        var r = try kvcli(p + ["verify"])
        #expect(r.status == 0 && r.output.hasPrefix("The map is sound: every invariant holds in all 256 shards (1 keys"), "\(r.output)")
        #expect(try kvcli(p + ["debug", "break-map", "k"]).output == "OK\n")
        r = try kvcli(p + ["verify"])
        #expect(r.status == 1)
        #expect(r.output.hasPrefix("The map is BROKEN: db 0 shard "), "\(r.output)")
        #expect(r.output.contains("tophash"))
    }
}
