import Foundation
import RESP
import Synchronization
import Testing

@Suite("Concurrency", .serialized)
struct ConcurrencyTests {
    /// 200 clients at once increment shared counters; the totals are exact.
    @Test("200 concurrent clients incrementing shared counters", arguments: allBackends)
    func sharedCounters(backend: String) throws {
        let server = try TestServer(backend: backend)
        defer { server.stop() }
        let clients = try (0..<200).map { _ in try server.client() }
        let perClient = 100
        let threads = 8
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let mine = stride(from: t, to: clients.count, by: threads).map { clients[$0] }
            for round in 0..<perClient {
                // Each client pipelines one INCR and one INCRBY per round; all of this thread's clients
                // have requests in flight at once.
                for (i, c) in mine.enumerated() {
                    c.send(encodeCommand(["INCR", "counter:\((i + round) % 4)"]) + encodeCommand(["INCRBY", "total", "3"]))
                }
                for c in mine {
                    let a = c.read(), b = c.read()
                    if !a.hasPrefix(":") || !b.hasPrefix(":") { failures.withLock { $0 += 1 } }
                }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        let c = try server.client()
        var sum = 0
        for k in 0..<4 {
            let r = c.call("GET", "counter:\(k)")
            sum += Int(r.split(separator: "\r\n")[1]) ?? 0
        }
        #expect(sum == 200 * perClient)
        #expect(c.call("GET", "total") == "$5\r\n\(200 * perClient * 3)\r\n")
    }
}

