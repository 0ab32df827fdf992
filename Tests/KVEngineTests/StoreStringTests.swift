import Testing
import KVEngine
import Synchronization
import RESP

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    let ms = Atomic<Int64>(1_700_000_000_000)
    var now: Int64 { ms.load(ordering: .relaxed) }
    func advance(_ d: Int64) { ms.add(d, ordering: .relaxed) }
}

func makeStore(_ clock: ManualClock = ManualClock(), maxValueSize: Int = 512 << 20) -> Store {
    Store(shardCount: 4, maxValueSize: maxValueSize, clock: { clock.now })
}

extension Store {
    func incr(_ k: String, _ d: Int64) -> Result<Int64, StoreError> { increment(bytes(k), by: d) }
    func str(_ k: String) -> String? { try! get(bytes(k)).map { String(decoding: $0, as: UTF8.self) } }
    func put(_ k: String, _ v: String, _ o: SetOptions = SetOptions()) -> SetOutcome { try! set(bytes(k), bytes(v), o) }
}

@Suite struct StoreStringTests {
    @Test func setOptions() {
        let clock = ManualClock()
        let s = makeStore(clock)
        #expect(s.put("k", "v1", SetOptions(condition: .ifPresent)).performed == false)
        #expect(s.str("k") == nil)
        #expect(s.put("k", "v1", SetOptions(condition: .ifAbsent)).performed)
        #expect(s.put("k", "v2", SetOptions(condition: .ifAbsent, returnOld: true)) == SetOutcome(performed: false, oldValue: bytes("v1")))
        #expect(s.put("k", "v3", SetOptions(returnOld: true)) == SetOutcome(performed: true, oldValue: bytes("v1")))
        #expect(s.put("k", "v4", SetOptions(expiry: .at(clock.now + 5000))).performed)
        bytes("k").withUnsafeBytes { k in #expect(s.timeToLive(k) == 5000) }
        _ = s.put("k", "v5", SetOptions(expiry: .keep))
        bytes("k").withUnsafeBytes { k in #expect(s.timeToLive(k) == 5000) }
        _ = s.put("k", "v6")
        bytes("k").withUnsafeBytes { k in #expect(s.timeToLive(k) == -1) }
        // An expiry in the past stores and deletes at once.
        #expect(s.put("k", "v7", SetOptions(expiry: .at(clock.now - 1), returnOld: true)) == SetOutcome(performed: true, oldValue: bytes("v6")))
        #expect(s.str("k") == nil)
        #expect(s.count == 0)
    }

    @Test func incrementFamily() {
        let s = makeStore()
        #expect(s.incr("n", 1) == .success(1))
        #expect(s.incr("n", -11) == .success(-10))
        #expect(s.str("n") == "-10")
        _ = s.put("n", String(Int64.max - 1))
        #expect(s.incr("n", 1) == .success(Int64.max))
        #expect(s.incr("n", 1) == .failure(.overflow))
        _ = s.put("n", String(Int64.min))
        #expect(s.incr("n", -1) == .failure(.overflow))
        for bad in ["", " 1", "1 ", "+1", "01", "-0", "1.5", "abc", "99999999999999999999", "-"] {
            _ = s.put("b", bad)
            #expect(s.incr("b", 1) == .failure(.notAnInteger), "INCR of \"\(bad)\"")
        }
        _ = s.put("z", "0")
        #expect(s.incr("z", 0) == .success(0))
    }

    @Test func incrementKeepsExpiry() {
        let clock = ManualClock()
        let s = makeStore(clock)
        _ = s.put("n", "5", SetOptions(expiry: .at(clock.now + 1000)))
        #expect(s.incr("n", 5) == .success(10))
        bytes("n").withUnsafeBytes { k in #expect(s.timeToLive(k) == 1000) }
    }

    @Test func incrementByFloat() {
        let s = makeStore()
        func f(_ k: String, _ d: LongDouble) -> String? {
            try? bytes(k).withUnsafeBytes { s.increment($0, byFloat: d) }.map { String(decoding: $0, as: UTF8.self) }.get()
        }
        _ = s.put("f", "10.50")
        #expect(f("f", 0.1) == "10.6")
        _ = s.put("f", "5.0e3")
        #expect(f("f", 2.0e2) == "5200")
        #expect(f("new", 3) == "3")
        _ = s.put("f", "abc")
        #expect(bytes("f").withUnsafeBytes { s.increment($0, byFloat: 1) } == .failure(.notAFloat))
        _ = s.put("f", "1")
        #expect(bytes("f").withUnsafeBytes { s.increment($0, byFloat: LongDouble.infinity) } == .failure(.nanOrInfinity))
        #expect(s.str("f") == "1")
    }

    @Test func appendAndLength() {
        let s = makeStore(maxValueSize: 10)
        #expect(bytes("k").withUnsafeBytes { k in bytes("Hello").withUnsafeBytes { s.append(k, $0) } } == .success(5))
        #expect(bytes("k").withUnsafeBytes { k in bytes(" Worl").withUnsafeBytes { s.append(k, $0) } } == .success(10))
        #expect(bytes("k").withUnsafeBytes { k in bytes("d").withUnsafeBytes { s.append(k, $0) } } == .failure(.stringTooLong))
        #expect(s.str("k") == "Hello Worl")
        #expect(bytes("k").withUnsafeBytes { try! s.length($0) } == 10)
        #expect(bytes("missing").withUnsafeBytes { try! s.length($0) } == 0)
    }

    @Test func getRangeFollowsRedis() {
        let s = makeStore()
        _ = s.put("mykey", "This is a string")
        func r(_ a: Int64, _ b: Int64) -> String {
            String(decoding: bytes("mykey").withUnsafeBytes { try! s.getRange($0, start: a, end: b) }, as: UTF8.self)
        }
        #expect(r(0, 3) == "This")
        #expect(r(-3, -1) == "ing")
        #expect(r(0, -1) == "This is a string")
        #expect(r(10, 100) == "string")
        #expect(r(5, 3) == "")
        #expect(r(-1, -5) == "")
        #expect(r(-100, 2) == "Thi")
        #expect(bytes("none").withUnsafeBytes { try! s.getRange($0, start: 0, end: -1) } == [])
    }

    @Test func setRangeFollowsRedis() {
        let s = makeStore(maxValueSize: 100)
        _ = s.put("key1", "Hello World")
        #expect(bytes("key1").withUnsafeBytes { k in bytes("Redis").withUnsafeBytes { s.setRange(k, offset: 6, $0) } } == .success(11))
        #expect(s.str("key1") == "Hello Redis")
        #expect(bytes("key2").withUnsafeBytes { k in bytes("Redis").withUnsafeBytes { s.setRange(k, offset: 6, $0) } } == .success(11))
        #expect(try! s.get(bytes("key2")) == [0, 0, 0, 0, 0, 0] + bytes("Redis"))
        #expect(bytes("key3").withUnsafeBytes { k in [UInt8]().withUnsafeBytes { s.setRange(k, offset: 5, $0) } } == .success(0))
        #expect(try! s.get(bytes("key3")) == nil)
        #expect(bytes("key1").withUnsafeBytes { k in bytes("x").withUnsafeBytes { s.setRange(k, offset: 100, $0) } } == .failure(.stringTooLong))
        #expect(bytes("key1").withUnsafeBytes { k in bytes("x").withUnsafeBytes { s.setRange(k, offset: 99, $0) } } == .success(100))
    }

    @Test func getDelAndGetEx() {
        let clock = ManualClock()
        let s = makeStore(clock)
        _ = s.put("k", "v")
        #expect(bytes("k").withUnsafeBytes { try! s.getAndChangeExpiry($0, .at(clock.now + 100)) } == bytes("v"))
        bytes("k").withUnsafeBytes { k in #expect(s.timeToLive(k) == 100) }
        #expect(bytes("k").withUnsafeBytes { try! s.getAndChangeExpiry($0, .persist) } == bytes("v"))
        bytes("k").withUnsafeBytes { k in #expect(s.timeToLive(k) == -1) }
        #expect(bytes("k").withUnsafeBytes { try! s.getAndDelete($0) } == bytes("v"))
        #expect(bytes("k").withUnsafeBytes { try! s.getAndDelete($0) } == nil)
        _ = s.put("k", "v")
        #expect(bytes("k").withUnsafeBytes { try! s.getAndChangeExpiry($0, .at(clock.now - 1)) } == bytes("v"))
        #expect(s.count == 0)
    }

    @Test func multiGetAndSet() {
        let s = makeStore()
        let keys = (0..<50).map { bytes("m\($0)") }
        let values = (0..<50).map { bytes("v\($0)") }
        withRaw(keys) { ks in withRaw(values) { vs in s.setMany(Array(zip(ks, vs)).map { (key: $0.0, value: $0.1) }) } }
        let got = withRaw(keys + [bytes("nope")]) { s.getMany($0) }
        #expect(got == values.map { Optional($0) } + [nil])
        let ok = withRaw([bytes("m1"), bytes("new")]) { ks in withRaw([bytes("a"), bytes("b")]) { vs in
            s.setManyIfNoneExist([(key: ks[0], value: vs[0]), (key: ks[1], value: vs[1])]) } }
        #expect(!ok)
        #expect(try! s.get(bytes("new")) == nil)
        let ok2 = withRaw([bytes("x1"), bytes("x2")]) { ks in withRaw([bytes("a"), bytes("b")]) { vs in
            s.setManyIfNoneExist([(key: ks[0], value: vs[0]), (key: ks[1], value: vs[1])]) } }
        #expect(ok2)
        #expect(try! s.get(bytes("x2")) == bytes("b"))
    }
}

/// Runs `body` with raw views of every array (for the store's multi-key calls).
func withRaw<R>(_ arrays: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R {
    let buffers = arrays.map { a -> UnsafeMutableRawBufferPointer in
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: a.count, alignment: 1)
        a.withUnsafeBytes { b.copyMemory(from: $0) }
        return b
    }
    defer { buffers.forEach { $0.deallocate() } }
    return try body(buffers.map { UnsafeRawBufferPointer($0) })
}
