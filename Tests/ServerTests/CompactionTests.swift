import Foundation
import Glibc
import RESP
import Testing

/// Memory coming back after deletes, as a user meets it (Compactor.swift, docs/memory.md): the activedefrag
/// directives with Redis' names, ranges and errors; the sparse arena shown by STATS, INFO and kvcli stats
/// (which warns while compaction is off); then, once it is on, the pages given back, for the keyspace and
/// for a large hash's inner map, with every value intact and VERIFY sound. The RSS figures side by side
/// with redis-server are scripts/compaction-bench's.
@Suite("Compaction", .serialized)
struct CompactionTests {
    func info(_ c: RawClient) -> [String: String] { infoFields(textReply(c, "INFO", "memory")) }

    /// Sends `commands` pipelined 500 at a time and reads every reply.
    func pipelined(_ c: RawClient, _ commands: [[String]]) {
        for start in stride(from: 0, to: commands.count, by: 500) {
            let part = commands[start..<min(start + 500, commands.count)]
            c.send(part.flatMap { encodeCommand($0) })
            for _ in part { _ = c.read() }
        }
    }

    @Test("the directives: Redis' names, defaults of ours, Redis' ranges and errors")
    func directives() throws {
        let server = try TestServer([])
        defer { server.stop() }
        let c = try server.client()
        #expect(c.call("CONFIG", "GET", "activedefrag") == "*2\r\n$12\r\nactivedefrag\r\n$3\r\nyes\r\n")
        #expect(c.call("CONFIG", "GET", "active-defrag-ignore-bytes") == "*2\r\n$26\r\nactive-defrag-ignore-bytes\r\n$7\r\n4194304\r\n")
        for (name, bad, range) in [("active-defrag-cycle-min", "0", "1 and 99"), ("active-defrag-cycle-max", "100", "1 and 99"),
                                   ("active-defrag-threshold-lower", "1001", "0 and 1000"), ("active-defrag-threshold-upper", "-1", "0 and 1000")] {
            #expect(c.call("CONFIG", "SET", name, bad)
                == "-ERR CONFIG SET failed (possibly related to argument '\(name)') - argument must be between \(range) inclusive\r\n")
        }
        #expect(c.call("CONFIG", "SET", "active-defrag-ignore-bytes", "0")
            == "-ERR CONFIG SET failed (possibly related to argument 'active-defrag-ignore-bytes') - argument must be between 1 and 9223372036854775807 inclusive\r\n")
        #expect(c.call("CONFIG", "SET", "activedefrag", "maybe")
            == "-ERR CONFIG SET failed (possibly related to argument 'activedefrag') - argument must be 'yes' or 'no'\r\n")
        #expect(c.call("CONFIG", "SET", "active-defrag-ignore-bytes", "2mb", "active-defrag-cycle-max", "99") == "+OK\r\n")
        #expect(c.call("CONFIG", "GET", "active-defrag-cycle-max") == "*2\r\n$23\r\nactive-defrag-cycle-max\r\n$2\r\n99\r\n")
        let fields = info(c)
        for f in ["active_defrag_running", "arena_live_bytes", "arena_page_bytes", "compaction_pages_returned", "mem_fragmentation_ratio"] {
            #expect(fields[f] != nil, "INFO memory has \(f)")
        }
    }

    @Test("a mass delete leaves the arenas sparse; with activedefrag on the pages come back, values intact")
    func pagesComeBack() throws {
        let server = try TestServer(["--activedefrag", "no", "--active-defrag-ignore-bytes", "1mb"])
        defer { server.stop() }
        let c = try server.client()
        let n = 200_000
        pipelined(c, (0..<n).map { ["SET", "key:\($0)", "value-\($0)-padding"] })
        var hset: [[String]] = []
        for h in 0..<4 {
            for start in stride(from: 0, to: 20_000, by: 1000) {
                var cmd = ["HSET", "hash:\(h)"]
                for f in start..<(start + 1000) { cmd += ["field:\(f)", "v\(f)"] }
                hset.append(cmd)
            }
        }
        pipelined(c, hset)
        pipelined(c, (0..<n).filter { $0 % 10 != 0 }.map { ["DEL", "key:\($0)"] })
        pipelined(c, (0..<4).flatMap { h in (0..<20_000).filter { $0 % 10 != 0 }.map { ["HDEL", "hash:\(h)", "field:\($0)"] } })

        // Off: the pages stay, STATS shows the arenas sparse and kvcli stats says what to do.
        usleep(500_000)
        let before = info(c)
        let pagesBefore = Int(before["arena_page_bytes"] ?? "") ?? 0
        let liveBefore = Int(before["arena_live_bytes"] ?? "") ?? 0
        #expect(pagesBefore > 3 * liveBefore, "\(before)")
        #expect(before["compaction_pages_returned"] == "0")
        let stats = infoFields(textReply(c, "STATS"))
        #expect(stats["activedefrag"] == "no" && (Double(stats["arena_fill"] ?? "") ?? 1) < 0.5, "\(stats)")
        let report = try kvcli(["-p", String(server.port), "stats"])
        #expect(report.output.contains("compaction is off: CONFIG SET activedefrag yes gives the sparse pages back"), "\(report.output)")

        // On: within seconds the sparse pages are given back.
        #expect(c.call("CONFIG", "SET", "activedefrag", "yes") == "+OK\r\n")
        var after = info(c)
        for _ in 0..<200 {
            after = info(c)
            if let p = Int(after["arena_page_bytes"] ?? ""), p < 2 * liveBefore, after["active_defrag_running"] == "0" { break }
            usleep(100_000)
        }
        let pagesAfter = Int(after["arena_page_bytes"] ?? "") ?? 0
        #expect(pagesAfter < 2 * liveBefore, "arena pages \(pagesBefore) -> \(pagesAfter) for \(liveBefore) live")
        #expect((Int(after["compaction_pages_returned"] ?? "") ?? 0) > 0)
        // Compaction moves, it neither adds nor drops (the halvings it finishes free a few overflow buckets);
        // the idle count behind arena_live_bytes is exact to 16 KiB per thread (CKVSupport/shim.c).
        let liveAfter = Int(after["arena_live_bytes"] ?? "") ?? 0
        #expect(liveAfter <= liveBefore + 4 * 16384 && liveAfter > liveBefore * 9 / 10, "\(liveBefore) -> \(liveAfter)")
        #expect(c.call("VERIFY") == "+OK\r\n")
        #expect(c.call("DBSIZE") == ":\(n / 10 + 4)\r\n")
        for i in stride(from: 0, to: n, by: 10) where i % 1000 == 0 {
            #expect(c.call("GET", "key:\(i)") == "$\("value-\(i)-padding".utf8.count)\r\nvalue-\(i)-padding\r\n")
        }
        for h in 0..<4 {
            #expect(c.call("HLEN", "hash:\(h)") == ":2000\r\n")
            #expect(c.call("HGET", "hash:\(h)", "field:19990") == "$6\r\nv19990\r\n")
        }
        let quiet = try kvcli(["-p", String(server.port), "stats"])
        #expect(!quiet.output.contains("compaction is off"), "\(quiet.output)")
    }
}
