import Testing
import KVEngine

/// OBJECT IDLETIME's data: the 24-bit access clock in each entry (Store/AccessClock.swift).
@Suite struct AccessClockTests {
    func idle(_ s: Store, _ k: String) -> Int64? { bytes(k).withUnsafeBytes { s.idleTime($0) } }

    @Test func readsAndWritesTouchInspectionDoesNot() throws {
        let clock = ManualClock()
        let s = makeStore(clock)
        let wideKey = String(repeating: "w", count: 300)  // the wide header form
        _ = s.put("a", "1")
        _ = s.put("b", "2")
        _ = s.put(wideKey, "3")
        _ = s.put("x", "4", SetOptions(expiry: .at(clock.now + 100_000)))
        #expect(idle(s, "a") == 0 && idle(s, "missing") == nil)
        clock.advance(5_000)
        #expect(idle(s, "a") == 0, "the clock moves only when ticked, as Redis' cached LRU clock")
        s.tickAccessClock()
        for k in ["a", "b", wideKey, "x"] { #expect(idle(s, k) == 5) }
        // Reads that inspect do not touch (Redis' LOOKUP_NOTOUCH): TYPE, TTL, EXISTS, OBJECT ENCODING.
        bytes("b").withUnsafeBytes { k in
            _ = s.type(k)
            _ = s.timeToLive(k)
            _ = s.encoding(k)
            _ = s.memoryUsage(k)
        }
        _ = withRaw([bytes("b")]) { s.exists($0) }
        #expect(idle(s, "b") == 5)
        // Commands' reads and writes do.
        #expect(s.str("a") == "1")
        #expect(idle(s, "a") == 0)
        _ = withRaw([bytes("b")]) { s.getMany($0) }
        #expect(idle(s, "b") == 0)
        #expect(s.str(wideKey) == "3")
        #expect(idle(s, wideKey) == 0)
        #expect(s.incr("x", 1) == .success(5))
        #expect(idle(s, "x") == 0)
        bytes("x").withUnsafeBytes { k in #expect(s.timeToLive(k) == 95_000, "the expiry survives the header's new field") }
        // A value that grows into a new block keeps its clock; a write touches it anyway.
        clock.advance(3_000)
        s.tickAccessClock()
        bytes("a").withUnsafeBytes { k in [UInt8](repeating: 7, count: 2000).withUnsafeBytes { _ = s.append(k, $0) } }
        #expect(idle(s, "a") == 0 && idle(s, "b") == 3)
        #expect(s.verify() == nil)
    }

    @Test func restoreBackdatesAndTheClockWrapsAsRedis() throws {
        let clock = ManualClock()
        // Two seconds before the 24-bit clock wraps.
        clock.ms.store(Int64((1 << 24) * 7 + (1 << 24) - 2) * 1000, ordering: .relaxed)
        let s = makeStore(clock)
        _ = s.put("k", "v")
        clock.advance(5_000)
        s.tickAccessClock()
        // Redis' estimateObjectIdleTime counts the wrapped case one second short.
        #expect(idle(s, "k") == 4)
        let payload = try #require(bytes("k").withUnsafeBytes { s.dump($0) })
        try bytes("r").withUnsafeBytes { k in
            try payload.withUnsafeBytes { p in try s.restore(k, payload: p, expiry: nil, replace: false, idleTime: 2) }
        }
        #expect(idle(s, "r") == 2)
        // Backdating past the clock's zero clamps at zero, as Redis' objectSetLRUOrLFU.
        try bytes("r").withUnsafeBytes { k in
            try payload.withUnsafeBytes { p in try s.restore(k, payload: p, expiry: nil, replace: true, idleTime: 1000) }
        }
        #expect(idle(s, "r") == 3)
    }
}
