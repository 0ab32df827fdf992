import Foundation
import Glibc
import RESP
import Synchronization
import Testing

/// Publish/subscribe across event loops: every message to every subscriber, in order; no message after
/// the UNSUBSCRIBE confirmation that ends it; a subscriber that does not read is cut by the pubsub output
/// limit and nobody else notices; RESP2 subscribed mode and RESP3 pushes; redis-py's PubSub in both
/// protocols. kvdifftest compares the replies of single connections with redis-server's.
@Suite("Pub/sub", .serialized)
struct PubSubTests {
    @Test("Every subscriber on every loop gets every message, each publisher's in order", arguments: allBackends)
    func deliveryAcrossLoops(backend: String) throws {
        let server = try TestServer(["--io-threads", "2"], backend: backend)
        defer { server.stop() }
        // Six subscribers (round-robin: three on each loop): four on the channel, two on a pattern.
        var subscribers: [RawClient] = []
        for i in 0..<6 {
            let s = try server.client()
            let pattern = i >= 4
            #expect(s.call(pattern ? "PSUBSCRIBE" : "SUBSCRIBE", pattern ? "ne*s" : "news")
                    == (pattern ? "*3\r\n$10\r\npsubscribe\r\n$4\r\nne*s\r\n:1\r\n" : "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"))
            subscribers.append(s)
        }
        let perPublisher = 400
        let receivers = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { p in
            guard let c = try? server.client() else { return }
            var counts: [Int] = []
            for i in 0..<perPublisher {
                let r = c.call("PUBLISH", "news", "p\(p):\(i)")
                counts.append(Int(r.dropFirst().dropLast()) ?? -1)  // "\r\n" is one Character
            }
            receivers.withLock { $0 += counts }
        }
        #expect(receivers.withLock { $0.allSatisfy { $0 == 6 } }, "PUBLISH counts every receiver")
        for s in subscribers {
            var next = [0, 0]
            for _ in 0..<(2 * perPublisher) {
                guard let payload = nextPayload(s) else { break }
                let text = String(decoding: payload, as: UTF8.self)
                let parts = text.dropFirst().split(separator: ":")
                guard let p = Int(parts[0]), let i = Int(parts[1]) else { continue }
                #expect(i == next[p], "publisher \(p)'s messages in order")
                next[p] = i + 1
            }
            #expect(next == [perPublisher, perPublisher])
        }
        let c = try server.client()
        #expect(c.call("PUBSUB", "NUMSUB", "news", "other") == "*4\r\n$4\r\nnews\r\n:4\r\n$5\r\nother\r\n:0\r\n")
        #expect(c.call("PUBSUB", "NUMPAT") == ":1\r\n")
        #expect(c.call("PUBSUB", "CHANNELS") == "*1\r\n$4\r\nnews\r\n")
        // A subscriber that goes away is forgotten.
        for s in subscribers { s.close() }
        var left = ""
        for _ in 0..<100 {
            left = c.call("PUBLISH", "news", "anyone?")
            if left == ":0\r\n" { break }
            usleep(20_000)
        }
        #expect(left == ":0\r\n")
    }

    @Test("No message follows the UNSUBSCRIBE confirmation, while another loop publishes nonstop")
    func unsubscribeIsExact() throws {
        let server = try TestServer(["--io-threads", "2"])
        defer { server.stop() }
        let stop = Atomic<Bool>(false)
        let publisher = try server.client()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            while !stop.load(ordering: .relaxed) {
                publisher.send(encodeCommand(["PUBLISH", "flood", "x"]) + encodeCommand(["PUBLISH", "flood", "y"]))
                _ = publisher.read()
                _ = publisher.read()
            }
            done.signal()
        }
        // Two subscribers, so that one shares the publisher's loop and one does not.
        for _ in 0..<2 {
            let s = try server.client()
            var strays = 0
            for _ in 0..<200 {
                s.command("SUBSCRIBE", "flood")
                // Messages may come once subscribed...
                var v = s.readValue()
                if case .array(let p)? = v { #expect(p.first == .bulk(Array("subscribe".utf8))) }
                s.command("UNSUBSCRIBE", "flood")
                repeat { v = s.readValue() } while v.map(isMessage) ?? false
                #expect(v.map(unsubscribeConfirmation) ?? false, "\(String(describing: v))")
                // ...none after the confirmation: in RESP2 the next reply must be PING's +PONG.
                s.command("PING")
                let pong = s.read()
                if pong != "+PONG\r\n" { strays += 1 }
            }
            #expect(strays == 0)
        }
        stop.store(true, ordering: .relaxed)
        done.wait()
    }

    private func isMessage(_ v: RESPValue) -> Bool {
        if case .array(let p) = v, p.first == .bulk(Array("message".utf8)) { return true }
        return false
    }

    private func unsubscribeConfirmation(_ v: RESPValue) -> Bool {
        if case .array(let p) = v, p.first == .bulk(Array("unsubscribe".utf8)) { return true }
        return false
    }

    @Test("A subscriber that does not read is cut at the pubsub output limit; the others get everything")
    func slowSubscriberIsCut() throws {
        let server = try TestServer(["--io-threads", "2", "--client-output-buffer-limit", "pubsub", "2mb", "1mb", "1"])
        defer { server.stop() }
        let stalled = try server.client(), reader = try server.client(), publisher = try server.client()
        #expect(stalled.call("SUBSCRIBE", "big").hasPrefix("*3"))
        #expect(reader.call("SUBSCRIBE", "big").hasPrefix("*3"))
        let payload = String(repeating: "z", count: 64 << 10)
        let received = Atomic<Int>(0)
        let readerDone = DispatchSemaphore(value: 0)
        let messages = 400  // 25 MB: far past the limit of a subscriber that reads nothing
        DispatchQueue.global().async {
            for _ in 0..<messages {
                guard let p = nextPayload(reader), p.count == payload.utf8.count else { break }
                received.add(1, ordering: .relaxed)
            }
            readerDone.signal()
        }
        var counts: [String] = []
        for i in 0..<messages {
            counts.append(publisher.call("PUBLISH", "big", payload))
            // In step with the reader, so that only the stalled subscriber falls behind, however slow this
            // machine is.
            let deadline = Date().addingTimeInterval(10)
            while received.load(ordering: .relaxed) <= i && Date() < deadline { usleep(100) }
        }
        readerDone.wait()
        #expect(received.load(ordering: .relaxed) == messages, "the reading subscriber got every message")
        #expect(counts.first == ":2\r\n")
        #expect(counts.last == ":1\r\n", "the stalled subscriber was dropped")
        #expect(stalled.isClosedByServer())
        #expect(server.log.contains("overcoming of output buffer limits"))
        #expect(publisher.call("PING") == "+PONG\r\n")
        #expect(publisher.call("PUBSUB", "NUMSUB", "big") == "*2\r\n$3\r\nbig\r\n:1\r\n")
    }

    @Test("RESP2 subscribed mode refuses other commands; RESP3 keeps working, with pushes before the reply")
    func protocolModes() throws {
        let server = try TestServer()
        defer { server.stop() }
        let c = try server.client()
        _ = c.call("SET", "k", "v")
        #expect(c.call("SUBSCRIBE", "a") == "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n")
        #expect(c.call("GET", "k") == "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")
        #expect(c.call("CONFIG", "GET", "x").hasPrefix("-ERR Can't execute 'config|get'"))
        #expect(c.call("GET") == "-ERR wrong number of arguments for 'get' command\r\n", "arity is checked first")
        #expect(c.call("PING") == "*2\r\n$4\r\npong\r\n$0\r\n\r\n")
        #expect(c.call("RESET") == "+RESET\r\n")
        #expect(c.call("GET", "k") == "$1\r\nv\r\n")
        _ = c.call("HELLO", "3")
        #expect(c.call("SUBSCRIBE", "a") == ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n")
        #expect(c.call("GET", "k") == "$1\r\nv\r\n")
        c.command("PUBLISH", "a", "self")
        #expect(c.read() == ">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$4\r\nself\r\n")
        #expect(c.read() == ":1\r\n")
        #expect(c.call("UNSUBSCRIBE") == ">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n")
        #expect(c.call("UNSUBSCRIBE") == ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n")
    }

    @Test("redis-py 8: PubSub in RESP2 and RESP3, channels and patterns, across loops",
          .enabled(if: clientsRequired || pythonRedisVersion() != nil))
    func redisPy() throws {
        _ = try #require(pythonRedisVersion())
        let server = try TestServer(["--io-threads", "2"])
        defer { server.stop() }
        let script = """
            import sys, time, redis
            port = int(sys.argv[1])
            def wait_message(p):
                deadline = time.time() + 5
                while time.time() < deadline:
                    m = p.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if m: return m
                raise AssertionError("no message")
            for proto in (2, 3):
                r = redis.Redis(host="127.0.0.1", port=port, protocol=proto)
                p = r.pubsub()
                p.subscribe("orders")
                p.psubscribe("user:*")
                # The confirmations first: the subscriber's connection may be on the other loop, where
                # its SUBSCRIBE may not have run yet when this connection publishes.
                confirmed, deadline = 0, time.time() + 5
                while confirmed < 2 and time.time() < deadline:
                    m = p.get_message(timeout=0.5)
                    if m and m["type"] in ("subscribe", "psubscribe"): confirmed += 1
                assert confirmed == 2
                assert r.publish("orders", "o1") == 1
                m = wait_message(p)
                assert m["type"] == "message" and m["channel"] == b"orders" and m["data"] == b"o1", m
                assert r.publish("user:7", "hi") == 1
                m = wait_message(p)
                assert m["type"] == "pmessage" and m["pattern"] == b"user:*" and m["channel"] == b"user:7" and m["data"] == b"hi", m
                assert r.pubsub_numsub("orders") == [(b"orders", 1)]
                assert r.pubsub_numpat() == 1
                p.unsubscribe("orders")
                p.punsubscribe()
                deadline = time.time() + 5
                while (p.subscribed) and time.time() < deadline:
                    p.get_message(timeout=0.2)
                assert not p.subscribed
                assert r.publish("orders", "nobody") == 0
                p.close()
                r.close()
            print("ok")
            """
        let r = try run("/usr/bin/env", ["python3", "-c", script, String(server.port)])
        #expect(r.status == 0 && r.output.contains("ok"), "\(r.output)")
    }

    @Test("Keyspace notifications: events of writes, of active and lazy expiry, across loops; off again is silent")
    func keyspaceNotifications() throws {
        let server = try TestServer(["--io-threads", "2", "--hz", "50", "--enable-debug-command", "yes"])
        defer { server.stop() }
        let c = try server.client(), watcher = try server.client()
        #expect(c.call("CONFIG", "SET", "notify-keyspace-events", "bogus!") == "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n")
        #expect(c.call("CONFIG", "SET", "notify-keyspace-events", "KEAmn") == "+OK\r\n")
        #expect(c.call("CONFIG", "GET", "notify-keyspace-events") == "*2\r\n$22\r\nnotify-keyspace-events\r\n$4\r\nAKEm\r\n")
        #expect(c.call("CONFIG", "SET", "notify-keyspace-events", "Kg$xn") == "+OK\r\n")
        _ = watcher.call("PSUBSCRIBE", "__keyspace@*")
        func heard(_ n: Int) -> [String] {
            (0..<n).compactMap { _ in
                guard case .array(let p)? = watcher.readValue(), p.count == 4, case .bulk(let ch) = p[2], case .bulk(let ev) = p[3] else { return nil }
                return String(decoding: ch, as: UTF8.self) + " " + String(decoding: ev, as: UTF8.self)
            }
        }
        _ = c.call("SET", "k", "1", "EX", "100")
        _ = c.call("INCR", "k")
        _ = c.call("RENAME", "k", "r")
        _ = c.call("DEL", "r")
        #expect(heard(7) == ["__keyspace@0__:k new", "__keyspace@0__:k set", "__keyspace@0__:k expire", "__keyspace@0__:k incrby",
                             "__keyspace@0__:r new", "__keyspace@0__:k rename_from", "__keyspace@0__:r rename_to"])
        #expect(heard(1) == ["__keyspace@0__:r del"])
        // Active expiry (nobody touches the key) and lazy expiry (a read finds it past its time).
        _ = c.call("SET", "a", "1", "PX", "20")
        #expect(heard(3) == ["__keyspace@0__:a new", "__keyspace@0__:a set", "__keyspace@0__:a expire"])
        #expect(heard(1) == ["__keyspace@0__:a expired"])
        _ = c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        _ = c.call("SELECT", "3")
        _ = c.call("PSETEX", "b", "10", "x")
        #expect(heard(3).count == 3)
        usleep(50_000)
        #expect(c.call("GET", "b") == "$-1\r\n")
        #expect(heard(1) == ["__keyspace@3__:b expired"])
        // Off: nothing more is published (the next message the watcher gets is this PUBLISH's).
        #expect(c.call("CONFIG", "SET", "notify-keyspace-events", "") == "+OK\r\n")
        _ = c.call("SET", "quiet", "1")
        _ = c.call("PUBLISH", "__keyspace@0__:marker", "end")
        #expect(heard(1) == ["__keyspace@0__:marker end"])
    }

    @Test("redis-py 8 receives keyspace notifications", .enabled(if: clientsRequired || pythonRedisVersion() != nil))
    func redisPyNotifications() throws {
        _ = try #require(pythonRedisVersion())
        let server = try TestServer(["--io-threads", "2"])
        defer { server.stop() }
        let script = """
            import sys, time, redis
            r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), protocol=3)
            r.config_set("notify-keyspace-events", "KEA")
            p = r.pubsub()
            p.psubscribe("__keyevent@0__:*")
            # The confirmation first: the subscriber may be on the other loop, its PSUBSCRIBE not yet run.
            deadline = time.time() + 5
            while time.time() < deadline:
                m = p.get_message(timeout=0.5)
                if m and m["type"] == "psubscribe": break
            r.set("session:1", "x", px=50)
            got = []
            deadline = time.time() + 5
            while len(got) < 3 and time.time() < deadline:
                m = p.get_message(ignore_subscribe_messages=True, timeout=0.5)
                if m: got.append((m["channel"], m["data"]))
            assert got == [(b"__keyevent@0__:set", b"session:1"), (b"__keyevent@0__:expire", b"session:1"),
                           (b"__keyevent@0__:expired", b"session:1")], got
            print("ok")
            """
        let r = try run("/usr/bin/env", ["python3", "-c", script, String(server.port)])
        #expect(r.status == 0 && r.output.contains("ok"), "\(r.output)")
    }
}

/// The next message frame's payload on `c` ("message" or "pmessage"), nil when none comes.
private func nextPayload(_ c: RawClient) -> [UInt8]? {
    guard let v = c.readValue() else { return nil }
    switch v {
    case .array(let p), .push(let p):
        guard case .bulk(let last)? = p.last else { return nil }
        return last
    default: return nil
    }
}
