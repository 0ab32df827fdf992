import Foundation
import Testing

/// The differential tester (kvdifftest, docs/testing.md) in the suite: fixed seeds, bounded in commands and
/// time. It starts its own redis-server and kvserver; a mismatch fails the test with the tester's report
/// (seed, command, both replies, the shortest stream that reproduces it).
@Suite("Differential: kvserver against redis-server", .serialized, .enabled(if: clientsRequired || toolExists("redis-server")))
struct DifferentialTests {
    static let tester = URL(fileURLWithPath: serverBinary).deletingLastPathComponent().appendingPathComponent("kvdifftest").path
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test("random streams get the same replies as from redis-server", arguments: [
        ["--seed", "1", "--seeds", "3", "--commands", "15000"],
        ["--seed", "101", "--commands", "15000", "--resp3"],
        ["--seed", "201", "--commands", "15000", "--io-backend", "dispatch"],
        // Keyspace notifications on, every one compared; RESP3, so a client subscribed to its own events
        // sees them among its replies in Redis' order.
        ["--seed", "301", "--commands", "10000", "--notifications", "--resp3"],
    ])
    func randomStreams(arguments: [String]) throws {
        let r = try run(Self.tester, arguments + ["--seconds", "60", "--out", temporaryDirectory()], seconds: 180)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains(" 0 mismatch(es)"), "\(r.output)")
    }

    @Test("a difference is reported with both replies, shrunk to the one command that shows it")
    func reportsAndShrinks() throws {
        // VERIFY is ours alone: Redis answers unknown command. The commands before it do not matter.
        let r = try Self.replay("SET a 1\nINCR a\nGET a\nDEL a\nVERIFY\n")
        #expect(r.status == 1, "\(r.output)")
        #expect(r.output.contains("MISMATCH (replay, command #5)"), "\(r.output)")
        #expect(r.output.contains("kvserver:     +OK"), "\(r.output)")
        #expect(r.output.contains("redis-server: -ERR unknown command 'VERIFY'"), "\(r.output)")
        #expect(r.output.contains("shortest stream that reproduces it (1 commands"), "\(r.output)")
        #expect(r.output.contains(" 1 mismatch(es)"))
    }

    @Test("keys SPOP made differ are excused until the tester can delete them, even from a subscribed client")
    func resynchronisesAfterSubscription() throws {
        // The servers pop different members. The DEL that makes them agree again is refused while the client
        // listens to a pattern (RESP2), so it waits for PUNSUBSCRIBE; SMEMBERS before it is excused, SCARD
        // after it compared (an empty set on both).
        let members = (1...59).map(String.init).joined(separator: " ")
        let r = try Self.replay("SADD s \(members)\nSPOP s 30\nPSUBSCRIBE p*\nSCAN 0\nPUNSUBSCRIBE\nSMEMBERS s\nSCAN 0\nSCARD s\n")
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains(" 0 mismatch(es)"), "\(r.output)")
    }

    /// The tester's run of `stream` (one command a line, redis-cli quoting) with `--commands-from`.
    static func replay(_ stream: String) throws -> (status: Int32, output: String, errors: String) {
        let dir = temporaryDirectory(), file = dir + "/stream.txt"
        #expect(FileManager.default.createFile(atPath: file, contents: Data(stream.utf8)))
        return try run(tester, ["--commands-from", file, "--out", dir], seconds: 120)
    }

    @Test("every known difference the tester accepts is explained in docs/compat.md")
    func knownDifferencesAreDocumented() throws {
        let r = try run(Self.tester, ["--list-known"], seconds: 30)
        #expect(r.status == 0)
        let doc = readWholeFile(Self.repository + "/docs/compat.md")
        let ids = r.output.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
        #expect(!ids.isEmpty)
        for id in ids { #expect(doc.contains("`\(id)`"), "docs/compat.md has no entry for \(id)") }
    }
}
