import Testing
import KVEngine

@Suite struct StoreKeyTests {
    @Test func deleteExistsType() {
        let s = makeStore()
        _ = s.put("a", "1")
        _ = s.put("b", "2")
        #expect(withRaw([bytes("a"), bytes("a"), bytes("c")]) { s.exists($0) } == 2)
        #expect(bytes("a").withUnsafeBytes { s.type($0)?.name } == "string")
        #expect(bytes("c").withUnsafeBytes { s.type($0) } == nil)
        #expect(withRaw([bytes("a"), bytes("b"), bytes("c")]) { s.delete($0) } == 2)
        #expect(s.count == 0)
    }

    @Test func renameMovesValueAndExpiry() {
        let clock = ManualClock()
        let s = makeStore(clock)
        _ = s.put("src", "v", SetOptions(expiry: .at(clock.now + 777)))
        _ = s.put("dst", "old")
        let r = bytes("src").withUnsafeBytes { a in bytes("dst").withUnsafeBytes { s.rename(a, to: $0, onlyIfAbsent: false) } }
        #expect(r == .success(true))
        #expect(s.str("src") == nil && s.str("dst") == "v")
        bytes("dst").withUnsafeBytes { k in #expect(s.timeToLive(k) == 777) }
        #expect(bytes("nope").withUnsafeBytes { a in bytes("x").withUnsafeBytes { s.rename(a, to: $0, onlyIfAbsent: false) } } == .failure(.noSuchKey))
        _ = s.put("a", "1")
        #expect(bytes("a").withUnsafeBytes { a in bytes("dst").withUnsafeBytes { s.rename(a, to: $0, onlyIfAbsent: true) } } == .success(false))
        #expect(s.str("a") == "1")
        #expect(bytes("a").withUnsafeBytes { a in s.rename(a, to: a, onlyIfAbsent: false) } == .success(true))
        #expect(bytes("a").withUnsafeBytes { a in s.rename(a, to: a, onlyIfAbsent: true) } == .success(false))
        #expect(s.str("a") == "1")
    }

    @Test func expireConditionsAndTTL() {
        let clock = ManualClock()
        let s = makeStore(clock)
        let now = clock.now
        _ = s.put("k", "v")
        bytes("k").withUnsafeBytes { k in
            #expect(!s.expire(k, at: now + 100, .ifHasExpiry))
            #expect(!s.expire(k, at: now + 100, .ifGreater), "no TTL counts as infinite for GT")
            #expect(s.expire(k, at: now + 100, .ifLess), "no TTL counts as infinite for LT")
            #expect(!s.expire(k, at: now + 200, .ifNoExpiry))
            #expect(s.expire(k, at: now + 200, .ifGreater))
            #expect(!s.expire(k, at: now + 150, .ifGreater))
            #expect(s.expire(k, at: now + 150, .ifLess))
            #expect(s.timeToLive(k) == 150)
            #expect(s.expiryTime(k) == now + 150)
            #expect(s.persist(k))
            #expect(!s.persist(k))
            #expect(s.timeToLive(k) == -1)
            #expect(!s.expire(k, at: now + 100, [.ifHasExpiry, .ifLess]), "XX LT: both must hold")
            #expect(s.expire(k, at: now + 100, .ifLess))
            #expect(s.expire(k, at: now + 90, [.ifHasExpiry, .ifLess]))
            #expect(s.timeToLive(k) == 90)
            #expect(s.persist(k))
            #expect(s.expire(k, at: now - 1))
            #expect(s.timeToLive(k) == -2)
            #expect(!s.expire(k, at: now + 100))
        }
    }

    @Test func expiredKeysAreNeverReturned() {
        let clock = ManualClock()
        let s = makeStore(clock)
        for i in 0..<1000 { _ = s.put("e\(i)", "v", SetOptions(expiry: .at(clock.now + 1000))) }
        for i in 0..<1000 { _ = s.put("p\(i)", "v") }
        #expect(s.count == 2000)
        clock.advance(1000)
        #expect(s.str("e1") == nil)
        #expect(bytes("e2").withUnsafeBytes { s.timeToLive($0) } == -2)
        #expect(withRaw([bytes("e3"), bytes("p3")]) { s.exists($0) } == 1)
        #expect(s.keys(matching: GlobPattern(bytes("e*"))).isEmpty)
        var scanned = 0
        var cursor: UInt64 = 0
        repeat { cursor = s.scan(cursor: cursor, count: 50) { _ in scanned += 1 } } while cursor != 0
        #expect(scanned == 1000)
        // The two keys read (GET, PTTL) went at once; the active cycle takes the rest without anybody asking.
        #expect(s.count == 1998)
        var rounds = 0
        while s.count > 1000 && rounds < 10_000 {
            s.activeExpireCycle()
            rounds += 1
        }
        #expect(s.count == 1000)
        #expect(s.expiryCycleStats.expired == 998)
        #expect(s.verify() == nil)
        for _ in 0..<20 { #expect(s.randomKey()?.starts(with: bytes("p")) == true) }
    }

    @Test func backgroundMaintenanceExpiresKeys() async throws {
        let s = Store(shardCount: 4)
        for i in 0..<500 { _ = s.put("t\(i)", "v", SetOptions(expiry: .at(s.now + 50))) }
        s.startMaintenance(interval: .milliseconds(10))
        defer { s.stopMaintenance() }
        var waited = 0
        while s.count > 0 && waited < 1000 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        #expect(s.count == 0)
    }

    @Test func scanReturnsEveryKeyAcrossShardsWithPattern() {
        let s = makeStore()
        for i in 0..<3000 { _ = s.put("user:\(i)", "x") }
        for i in 0..<1000 { _ = s.put("other:\(i)", "x") }
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var calls = 0
        let pattern = GlobPattern(bytes("user:*"))
        repeat {
            cursor = s.scan(cursor: cursor, count: 25, pattern: pattern) { seen.insert(Array($0)) }
            calls += 1
        } while cursor != 0 && calls < 100_000
        #expect(seen.count == 3000)
        #expect(s.keys(matching: GlobPattern(bytes("other:1??"))).count == 100)
        #expect(s.randomKey() != nil)
        #expect(makeStore().randomKey() == nil)
    }

    @Test func flushEmptiesEveryShard() {
        let s = makeStore()
        for i in 0..<1000 { _ = s.put("f\(i)", "x") }
        s.flush()
        #expect(s.count == 0 && s.str("f1") == nil)
        for i in 0..<1000 { _ = s.put("f\(i)", "x") }
        s.flush(async: true)
        #expect(s.count == 0)
        _ = s.put("after", "y")
        #expect(s.str("after") == "y")
        #expect(s.verify() == nil)
    }

    @Test func changesCountWritesNotReads() {
        let clock = ManualClock()
        let s = makeStore(clock)
        _ = s.put("a", "1")
        _ = s.put("b", "2", SetOptions(expiry: .at(clock.now + 10)))
        _ = s.put("a", "3", SetOptions(condition: .ifAbsent))  // not performed
        _ = s.str("a")
        #expect(s.changesSinceReset == 2)
        _ = s.incr("n", 1)
        _ = bytes("a").withUnsafeBytes { s.delete($0) }
        #expect(s.changesSinceReset == 4)
        s.resetChanges()
        #expect(s.changesSinceReset == 0)
        clock.advance(10)
        s.activeExpireCycle()  // removing the expired key is a change too
        s.flush(async: true)  // and so is every key a flush drops
        #expect(s.changesSinceReset == 2)
    }

    @Test func statisticsAddUpShards() {
        let s = makeStore()
        for i in 0..<5000 { _ = s.put("s\(i)", "0123456789abcdef") }
        let st = s.statistics()
        #expect(st.shards.count == 4)
        #expect(st.total.count == 5000)
        #expect(st.shards.map(\.count).reduce(0, +) == 5000)
        #expect(st.shards.allSatisfy { $0.count > 1000 }, "keys spread over the shards")
        #expect(st.total.entryBytes >= 5000 * (16 + 2 + 4))  // value, shortest key, header
    }
}
