import Glibc
import Synchronization
import Testing
import KVEngine

/// A stand-in value for tests of the typed paths (never snapshotted: the sorted-set codec reads real
/// sorted sets): it says it is a sorted set, owns `memoryBytes` bytes, counts its releases, and can be
/// told to report itself broken.
final class TestObject: StoredObject, @unchecked Sendable {
    static let released = Atomic<Int>(0)
    /// For each TestObject freed, by its id: whether it was freed on the thread that made it (per object:
    /// a late free from an earlier test must not answer for this one).
    static let freedOnItsOwnThread = Mutex<[Int: Bool]>([:])
    private static let ids = Atomic<Int>(0)
    let id = TestObject.ids.wrappingAdd(1, ordering: .relaxed).oldValue
    let maker = pthread_self()
    var bytes: Int
    var broken = false

    init(bytes: Int = 100) {
        self.bytes = bytes
        super.init()
    }

    deinit {
        let own = pthread_equal(maker, pthread_self()) != 0
        TestObject.freedOnItsOwnThread.withLock { $0[id] = own }
        TestObject.released.add(1, ordering: .relaxed)
    }

    override var valueType: ValueType { .zset }
    override var encodingName: String { "testtable" }
    override var memoryBytes: Int { bytes }
    override func verify() -> String? { broken ? "broken on purpose" : nil }
    override func duplicate() -> StoredObject { TestObject(bytes: bytes) }
}

/// Typed entries: a key holding another type answers WRONGTYPE to string operations and is left as it
/// was; whole-value operations replace or move it; every way out of the keyspace releases the object
/// exactly once; the map counts its bytes and the verifier checks them.
@Suite(.serialized) struct TypedValueTests {
    func released() -> Int { TestObject.released.load(ordering: .relaxed) }

    func put(_ s: Store, _ k: String, _ o: StoredObject, expiry: Int64? = nil) {
        bytes(k).withUnsafeBytes { s.setObject($0, o, expiry: expiry) }
    }

    @Test func stringOperationsOnAnotherTypeAnswerWrongTypeAndChangeNothing() throws {
        let clock = ManualClock()
        let s = makeStore(clock)
        let object = TestObject()
        put(s, "h", object, expiry: clock.now + 10_000)
        let k = bytes("h")
        func wrong<T>(_ what: String, _ body: () throws(StoreError) -> T) {
            do {
                _ = try body()
                Issue.record("\(what) did not fail")
            } catch {
                #expect(error == .wrongType, "\(what)")
            }
        }
        k.withUnsafeBytes { kb in
            bytes("x").withUnsafeBytes { v in
                wrong("GET") { () throws(StoreError) in try s.get(kb) }
                wrong("STRLEN") { () throws(StoreError) in try s.length(kb) }
                wrong("GETRANGE") { () throws(StoreError) in try s.getRange(kb, start: 0, end: -1) }
                wrong("GETDEL") { () throws(StoreError) in try s.getAndDelete(kb) }
                wrong("GETEX PERSIST") { () throws(StoreError) in try s.getAndChangeExpiry(kb, .persist) }
                wrong("SET GET") { () throws(StoreError) in try s.set(kb, v, SetOptions(returnOld: true)) }
                #expect(s.append(kb, v) == .failure(.wrongType))
                #expect(s.increment(kb, by: 1) == .failure(.wrongType))
                #expect(s.increment(kb, byFloat: 1) == .failure(.wrongType))
                #expect(s.setRange(kb, offset: 0, v) == .failure(.wrongType))
                #expect(s.getMany([kb]) == [nil], "MGET answers nil for another type")
                #expect(s.type(kb) == .zset)
                #expect(s.encoding(kb) == "testtable")
                #expect(s.expiryTime(kb) == clock.now + 10_000, "the expiry is untouched")
            }
        }
        #expect(s.count == 1)
        #expect(s.verify() == nil)
        // Still the same object, never released.
        let same = k.withUnsafeBytes { kb in s.readLive(kb) { v, _ in v.object === object } }
        #expect(same == true)
    }

    @Test func everyWayOutReleasesTheObjectOnce() async throws {
        let clock = ManualClock()
        let s = makeStore(clock)
        let start = released()
        // Overwritten by SET, deleted by DEL, removed by lazy and by active expiry, emptied by both flushes.
        put(s, "a", TestObject())
        try s.set(bytes("a"), bytes("now a string"))
        #expect(try s.get(bytes("a")) == bytes("now a string"))
        put(s, "b", TestObject())
        #expect(s.delete(bytes("b")))
        put(s, "c", TestObject(), expiry: clock.now + 5)
        put(s, "d", TestObject(), expiry: clock.now + 5)
        clock.advance(10)
        #expect(bytes("c").withUnsafeBytes { s.type($0) } == nil)
        #expect(s.activeExpireCycle() == 1, "active expiry removes d")
        #expect(s.count == 1, "only the string a is left")
        put(s, "e", TestObject())
        s.flush()
        put(s, "f", TestObject())
        s.flush(async: true)
        // The asynchronous flush frees the old map on another queue.
        for _ in 0..<200 where released() - start < 6 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(released() - start == 6)
        #expect(s.verify() == nil)
    }

    @Test func aLargeObjectIsFreedOffTheDeletingThreadExactlyOnce() throws {
        let s = makeStore()
        let start = released(), freedBefore = LazyFree.freedObjects
        var bigID = 0, smallID = 0
        do {  // the store holds the only references after this block
            let big = TestObject(bytes: 1 << 20), small = TestObject(bytes: 100)  // past LazyFree's threshold, and not
            (bigID, smallID) = (big.id, small.id)
            put(s, "big", big)
            put(s, "small", small)
        }
        #expect(s.delete(bytes("small")))
        let smallOnOwnThread = TestObject.freedOnItsOwnThread.withLock { $0[smallID] } == true
        #expect(released() - start == 1 && smallOnOwnThread, "a small one is freed at once")
        #expect(s.delete(bytes("big")))
        // Waited for, not drained: a dispatch_sync may run the queued release on the waiting thread itself.
        // Waited for by its own record: the release count is global, and other suites' objects count too.
        for _ in 0..<2000 where TestObject.freedOnItsOwnThread.withLock({ $0[bigID] }) == nil { usleep(1000) }
        #expect(released() - start >= 2)
        let largeOnOwnThread = TestObject.freedOnItsOwnThread.withLock { $0[bigID] }
        #expect(largeOnOwnThread == false, "the large one is freed on the queue")
        // (Other suites running meanwhile may free large values too: at least this one went through it.)
        #expect(LazyFree.freedObjects - freedBefore >= 1)
        #expect(LazyFree.pendingObjects == 0)
        #expect(s.verify() == nil)
    }

    @Test func renameMovesTheObjectItself() throws {
        let s = makeStore()
        let object = TestObject()
        let start = released()
        put(s, "src", object)
        try s.set(bytes("dst"), bytes("old string"))
        let r = bytes("src").withUnsafeBytes { a in bytes("dst").withUnsafeBytes { s.rename(a, to: $0, onlyIfAbsent: false) } }
        #expect(r == .success(true))
        let moved = bytes("dst").withUnsafeBytes { kb in s.readLive(kb) { v, _ in v.object === object } }
        #expect(moved == true)
        #expect(released() == start, "the object moved, it was not released")
        #expect(s.count == 1)
        #expect(s.verify() == nil)
    }

    @Test func expiryComesAndGoesOnAnObjectWithoutTouchingIt() throws {
        let clock = ManualClock()
        let s = makeStore(clock)
        let object = TestObject()
        let start = released()
        put(s, "h", object)
        let k = bytes("h")
        k.withUnsafeBytes { kb in
            // EXPIRE adds the expiry field to the entry (it moves), PERSIST takes it away (it moves back).
            #expect(s.expire(kb, at: clock.now + 1000))
            #expect(s.timeToLive(kb) == 1000)
            #expect(s.readLive(kb) { v, _ in v.object === object } == true)
            #expect(s.persist(kb))
            #expect(s.timeToLive(kb) == -1)
            #expect(s.readLive(kb) { v, _ in v.type } == .zset)
        }
        #expect(released() == start)
        #expect(s.verify() == nil)
    }

    @Test func copyDuplicatesAnObjectAndMoveMovesIt() throws {
        let a = Store(shardCount: 4, index: 0), b = Store(shardCount: 4, index: 1)
        let object = TestObject(bytes: 7)
        put(a, "h", object)
        try a.set(bytes("s"), bytes("text"))
        let copied = bytes("h").withUnsafeBytes { k in bytes("h2").withUnsafeBytes { a.copy(k, to: b, as: $0, replace: false) } }
        #expect(copied)
        let other = bytes("h2").withUnsafeBytes { k in b.readLive(k) { v, _ in v.object } }
        #expect(other != nil && other! !== object && (other as? TestObject)?.bytes == 7, "a copy, not the same object")
        // MOVE: the object itself goes; a key present there stops it.
        #expect(bytes("h").withUnsafeBytes { a.move($0, to: b) })
        #expect(bytes("h").withUnsafeBytes { k in b.readLive(k) { v, _ in v.object === object } } == true)
        #expect(bytes("h").withUnsafeBytes { a.type($0) } == nil)
        try b.set(bytes("s"), bytes("taken"))
        #expect(!bytes("s").withUnsafeBytes { a.move($0, to: b) })
        #expect(try a.get(bytes("s")) == bytes("text"))
        #expect(!bytes("s").withUnsafeBytes { k in a.copy(k, to: b, as: k, replace: false) })
        #expect(bytes("s").withUnsafeBytes { k in a.copy(k, to: b, as: k, replace: true) })
        #expect(try b.get(bytes("s")) == bytes("text"))
        #expect(a.verify() == nil && b.verify() == nil)
    }

    @Test func theMapCountsObjectBytesAndTheVerifierChecksThem() throws {
        let s = makeStore()
        let before = s.statistics(histograms: false).total.entryBytes
        let object = TestObject(bytes: 1000)
        put(s, "h", object)
        #expect(s.statistics(histograms: false).total.entryBytes - before >= 1000)
        // A change in place through the store's path keeps the count.
        let grown = try bytes("h").withUnsafeBytes { kb in try s.modifyObject(kb, .zset) { o in (o as! TestObject).bytes += 500 } }
        #expect(grown != nil)
        #expect(s.verify() == nil)
        // A change behind the map's back is what the verifier must catch.
        object.bytes += 1
        #expect(s.verify()?.description.contains("bytes of objects") == true)
        object.bytes -= 1
        #expect(s.verify() == nil)
        object.broken = true
        #expect(s.verify()?.description.contains("broken on purpose") == true)
        object.broken = false
        // The wrong type through the object path is refused.
        #expect(throws: StoreError.wrongType) {
            try bytes("h").withUnsafeBytes { kb in _ = try s.modifyObject(kb, .set) { _ in () } }
        }
    }

    @Test func scanFiltersByType() throws {
        let s = makeStore()
        for i in 0..<50 { try s.set(bytes("s\(i)"), bytes("v")) }
        for i in 0..<30 { put(s, "h\(i)", TestObject()) }
        func all(_ type: ValueType?) -> Set<[UInt8]> {
            var out = Set<[UInt8]>()
            var cursor: UInt64 = 0
            repeat { cursor = s.scan(cursor: cursor, count: 7, type: type) { out.insert(Array($0)) } } while cursor != 0
            return out
        }
        #expect(all(.string).count == 50)
        #expect(all(.zset).count == 30)
        #expect(all(.list).isEmpty)
        #expect(all(nil).count == 80)
    }
}
