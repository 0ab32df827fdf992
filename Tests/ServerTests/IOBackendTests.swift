import CKVSupport
import Foundation
import Glibc
import RESP
import Synchronization
import Testing

/// What differs between the I/O back ends: how bytes reach the query buffer (one read per readiness, or
/// the io_uring ring's provided buffers, several per large request) and how replies leave (a write per
/// burst, or a send in flight from a second buffer). Every other server test also runs on each back end
/// where it concerns the loops (allBackends).
@Suite("I/O back ends") struct IOBackendTests {
    @Test("io-backend io_uring runs io_uring where the kernel allows a ring, and falls back to epoll, saying why, where not")
    func uringOrFallback() throws {
        var error: Int32 = 0
        let ring = kv_uring_create(8, 8, 4096, &error)
        let available = ring != nil
        kv_uring_destroy(ring)
        let server = try TestServer(backend: "io_uring")
        defer { _ = server.stop() }
        let c = try server.client()
        let info = c.call("INFO", "server")
        #expect(info.contains("multiplexing_api:\(available ? "io_uring" : "epoll")\r\n"))
        #expect(c.call("CONFIG", "GET", "io-backend").contains(available ? "io_uring" : "epoll"))
        #expect(readWholeFile(server.logPath).contains("io_uring is not available") == !available)
        #expect(c.call("SET", "k", "v") == "+OK\r\n")
        #expect(c.call("GET", "k") == "$1\r\nv\r\n")
    }

    @Test("many clients at once send large values and read them back whole, more than the receive buffers hold",
          arguments: allBackends)
    func largeValuesConcurrently(backend: String) throws {
        let server = try TestServer(backend: backend)
        defer { _ = server.stop() }
        let clients = 16, size = 300_000
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: clients) { i in
            do {
                let c = try server.client()
                let value = String((0..<size).map { Character(UnicodeScalar(UInt8(97 + ($0 * 7 + i) % 26))) })
                // SET and GET in one write: the request spans many receive completions, the reply many sends.
                c.send(encodeCommand(["SET", "big:\(i)", value]) + encodeCommand(["GET", "big:\(i)"]) + encodeCommand(["STRLEN", "big:\(i)"]))
                let set = c.read(), get = c.read(), length = c.read()
                if set != "+OK\r\n" || get != "$\(size)\r\n\(value)\r\n" || length != ":\(size)\r\n" {
                    failures.withLock { $0.append("client \(i): \(set.prefix(20)) \(get.prefix(20)) \(length)") }
                }
            } catch {
                failures.withLock { $0.append("client \(i): \(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
    }

    @Test("20,000 pipelined commands in one write are answered in order", arguments: allBackends)
    func longPipeline(backend: String) throws {
        let server = try TestServer(backend: backend)
        defer { _ = server.stop() }
        let c = try server.client()
        var batch: [UInt8] = []
        for i in 0..<20_000 { batch += encodeCommand(["INCR", "n"]) + (i % 1000 == 0 ? encodeCommand(["ECHO", "mark\(i)"]) : []) }
        c.send(batch)
        for i in 0..<20_000 {
            let r = c.read()
            guard r == ":\(i + 1)\r\n" else { Issue.record("reply \(i): \(r)"); return }
            if i % 1000 == 0 {
                let mark = c.read()
                guard mark == "$\(4 + String(i).count)\r\nmark\(i)\r\n" else { Issue.record("mark \(i): \(mark)"); return }
            }
        }
    }

    @Test("a client that closes while a large reply is still being sent costs nothing; others are served",
          arguments: allBackends)
    func closeWithSendInFlight(backend: String) throws {
        let server = try TestServer(backend: backend)
        defer { _ = server.stop() }
        let admin = try server.client()
        #expect(admin.call("SET", "big", String(repeating: "x", count: 4_000_000)) == "+OK\r\n")
        for _ in 0..<5 {
            let c = try server.client()
            c.send((0..<8).flatMap { _ in encodeCommand(["GET", "big"]) })
            usleep(20_000)
            c.close()
        }
        #expect(admin.call("PING") == "+PONG\r\n")
        // The closed clients leave the list (bounded wait: the server notices each close).
        var clients = ""
        for _ in 0..<100 {
            clients = admin.call("CLIENT", "LIST")
            if clients.components(separatedBy: " addr=").count == 2 { break }
            usleep(20_000)
        }
        #expect(clients.components(separatedBy: " addr=").count == 2, "\(clients)")
        #expect(admin.call("STRLEN", "big") == ":4000000\r\n")
    }
}
