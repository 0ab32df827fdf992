import Testing
import KVEngine

/// Randomized runs of the hash and set operations against a model (Swift dictionaries and sets), with
/// conversion thresholds low enough that values change encoding every few steps, a clock that moves so
/// keys expire mid-run, and the verifier (every inner map, listpack and intset) after every step.
@Suite struct HashSetModelTests {
    enum Value: Equatable { case hash([[UInt8]: [UInt8]]), set(Set<[UInt8]>), string }

    struct Model {
        var entries: [[UInt8]: (value: Value, expiry: Int64?)] = [:]
        func live(_ k: [UInt8], _ now: Int64) -> Value? {
            guard let e = entries[k] else { return nil }
            if let x = e.expiry, x <= now { return nil }
            return e.value
        }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomOperationsMatchModel(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let clock = ManualClock()
        let limits = EncodingLimits()
        limits[.hashMaxListpackEntries] = 6
        limits[.hashMaxListpackValue] = 8
        limits[.setMaxIntsetEntries] = 5
        limits[.setMaxListpackEntries] = 7
        limits[.setMaxListpackValue] = 8
        let store = Store(shardCount: 4, clock: { clock.now }, encodingLimits: limits)
        var model = Model()
        let keys = (0..<6).map { bytes("k\($0)") }
        func element() -> [UInt8] {
            switch rng.next() % 4 {
            case 0: return bytes(String(Int(rng.next() % 40) - 10))          // integers: intsets
            case 1: return bytes(String(repeating: "L", count: 9 + Int(rng.next() % 4)))  // past the value limits
            default: return bytes("e\(rng.next() % 30)")
            }
        }
        func wrongType(_ k: [UInt8], _ want: (Value) -> Bool) -> Bool {
            guard let v = model.live(k, clock.now) else { return false }
            return !want(v)
        }
        func isHash(_ v: Value) -> Bool { if case .hash = v { return true }; return false }
        func isSet(_ v: Value) -> Bool { if case .set = v { return true }; return false }

        for step in 0..<3000 {
            let k = keys[Int(rng.next() % UInt64(keys.count))]
            let now = clock.now
            try k.withUnsafeBytes { kb in
                switch rng.next() % 12 {
                case 0, 1:  // HSET
                    let pairs = (0..<(1 + Int(rng.next() % 3))).map { _ in (element(), element()) }
                    let r = withRaw(pairs.flatMap { [$0.0, $0.1] }) { raw in
                        Result { () throws(StoreError) in
                            try store.hashSet(kb, stride(from: 0, to: raw.count, by: 2).map { (raw[$0], raw[$0 + 1]) })
                        }
                    }
                    if wrongType(k, isHash) { #expect(r == .failure(.wrongType)); break }
                    var h: [[UInt8]: [UInt8]] = [:]
                    if case .hash(let old)? = model.live(k, now) { h = old }
                    var added = 0
                    for (f, v) in pairs { if h[f] == nil { added += 1 }; h[f] = v }
                    #expect(r == .success(added), "step \(step)")
                    let expiry = model.live(k, now) == nil ? nil : model.entries[k]?.expiry
                    model.entries[k] = (.hash(h), expiry)
                case 2:  // HDEL
                    let fields = (0..<(1 + Int(rng.next() % 3))).map { _ in element() }
                    let r = withRaw(fields) { raw in Result { () throws(StoreError) in try store.hashDelete(kb, fields: raw) } }
                    if wrongType(k, isHash) { #expect(r == .failure(.wrongType)); break }
                    guard case .hash(var h)? = model.live(k, now) else { #expect(r == .success(0)); break }
                    var removed = 0
                    for f in fields where h.removeValue(forKey: f) != nil { removed += 1 }
                    #expect(r == .success(removed), "step \(step)")
                    model.entries[k] = h.isEmpty ? nil : (.hash(h), model.entries[k]!.expiry)
                case 3:  // HINCRBY
                    let f = element()
                    let r = f.withUnsafeBytes { fb in Result { () throws(StoreError) in try store.hashIncrement(kb, fb, by: 3) } }
                    if wrongType(k, isHash) { #expect(r == .failure(.wrongType)); break }
                    var h: [[UInt8]: [UInt8]] = [:]
                    if case .hash(let old)? = model.live(k, now) { h = old }
                    if let old = h[f], Int64(String(decoding: old, as: UTF8.self)) == nil || old.first == UInt8(ascii: "+") {
                        #expect(r == .failure(.hashValueNotAnInteger) || r == .failure(.overflow))
                        break
                    }
                    let sum = (h[f].flatMap { Int64(String(decoding: $0, as: UTF8.self)) } ?? 0) + 3
                    #expect(r == .success(sum), "step \(step)")
                    h[f] = bytes(String(sum))
                    let expiry = model.live(k, now) == nil ? nil : model.entries[k]?.expiry
                    model.entries[k] = (.hash(h), expiry)
                case 4, 5:  // SADD
                    let members = (0..<(1 + Int(rng.next() % 4))).map { _ in element() }
                    let r = withRaw(members) { raw in Result { () throws(StoreError) in try store.setAdd(kb, raw) } }
                    if wrongType(k, isSet) { #expect(r == .failure(.wrongType)); break }
                    var s: Set<[UInt8]> = []
                    if case .set(let old)? = model.live(k, now) { s = old }
                    var added = 0
                    for m in members where s.insert(m).inserted { added += 1 }
                    #expect(r == .success(added), "step \(step)")
                    let expiry = model.live(k, now) == nil ? nil : model.entries[k]?.expiry
                    if !s.isEmpty { model.entries[k] = (.set(s), expiry) }
                case 6:  // SREM
                    let members = (0..<(1 + Int(rng.next() % 3))).map { _ in element() }
                    let r = withRaw(members) { raw in Result { () throws(StoreError) in try store.setRemove(kb, raw) } }
                    if wrongType(k, isSet) { #expect(r == .failure(.wrongType)); break }
                    guard case .set(var s)? = model.live(k, now) else { #expect(r == .success(0)); break }
                    var removed = 0
                    for m in Set(members) where s.remove(m) != nil { removed += 1 }
                    #expect(r == .success(removed), "step \(step)")
                    model.entries[k] = s.isEmpty ? nil : (.set(s), model.entries[k]!.expiry)
                case 7:  // SPOP
                    let n = 1 + Int(rng.next() % 3)
                    let r = Result { () throws(StoreError) in try store.setPop(kb, count: n) }
                    if wrongType(k, isSet) { #expect(r == .failure(.wrongType)); break }
                    guard case .set(var s)? = model.live(k, now) else { #expect((try? r.get()) == []); break }
                    let popped = try r.get()
                    #expect(popped.count == min(n, s.count) && Set(popped).count == popped.count && Set(popped).isSubset(of: s))
                    for m in popped { s.remove(m) }
                    model.entries[k] = s.isEmpty ? nil : (.set(s), model.entries[k]!.expiry)
                case 8:  // SUNIONSTORE into another key
                    let dst = keys[Int(rng.next() % UInt64(keys.count))]
                    let r = dst.withUnsafeBytes { db in Result { () throws(StoreError) in try store.setAlgebraStore(.union, destination: db, [kb]) } }
                    if wrongType(k, isSet) { #expect(r == .failure(.wrongType)); break }
                    let s: Set<[UInt8]> = { if case .set(let s)? = model.live(k, now) { return s }; return [] }()
                    #expect(r == .success(s.count))
                    model.entries[dst] = s.isEmpty ? nil : (.set(s), nil)
                case 9:  // an expiry a few ms ahead, or a string over the value
                    if rng.next() % 2 == 0 {
                        let at = now + Int64(1 + rng.next() % 20)
                        if store.expire(kb, at: at), model.live(k, now) != nil { model.entries[k]!.expiry = at }
                    } else {
                        _ = try bytes("s").withUnsafeBytes { try store.set(kb, $0) }
                        model.entries[k] = (.string, nil)
                    }
                default:  // reads compared with the model
                    switch model.live(k, now) {
                    case .hash(let h)?:
                        let pairs = try store.hashPairs(kb)
                        #expect(Dictionary(uniqueKeysWithValues: pairs.map { ($0.field, $0.value) }) == h, "step \(step)")
                        #expect(try store.hashLength(kb) == h.count)
                        var scanned: [[UInt8]: [UInt8]] = [:]
                        var cursor: UInt64 = 0
                        repeat {
                            let (next, page) = try store.hashScan(kb, cursor: cursor, count: 2, pattern: nil)
                            for p in page { scanned[p.field] = p.value }
                            cursor = next
                        } while cursor != 0
                        #expect(scanned == h, "HSCAN returns every field")
                        // Point reads (an inline value's are answered from its bytes: findInline).
                        let probes = Array(h.keys.prefix(3)) + [element(), element()]
                        for f in probes {
                            let (value, present) = try f.withUnsafeBytes { fb in (try store.hashGet(kb, fb), try store.hashContains(kb, fb)) }
                            #expect(value == h[f] && present == (h[f] != nil), "step \(step)")
                        }
                        #expect(try withRaw(probes) { try store.hashGet(kb, fields: $0) } == probes.map { h[$0] }, "step \(step)")
                    case .set(let s)?:
                        #expect(Set(try store.setMembers(kb)) == s, "step \(step)")
                        let probes = Array(s.prefix(3)) + [element(), element()]
                        #expect(try withRaw(probes) { try store.setContains(kb, $0) } == probes.map(s.contains), "step \(step)")
                        #expect(try store.setCount(kb) == s.count)
                        let random = try store.setRandomMembers(kb, count: 3)
                        #expect(random.count == min(3, s.count) && Set(random).isSubset(of: s))
                    case .string?:
                        #expect(throws: StoreError.wrongType) { try store.setMembers(kb) }
                    case nil:
                        #expect(try store.hashLength(kb) == 0 || store.type(kb) != .hash)
                    }
                }
            }
            if let v = store.verify() { Issue.record("step \(step): \(v)"); return }
            clock.advance(Int64(rng.next() % 3))
        }
    }

    @Test func encodingsConvertAtTheThresholdsAndNeverBack() throws {
        let limits = EncodingLimits()
        limits[.hashMaxListpackEntries] = 3
        limits[.setMaxIntsetEntries] = 3
        limits[.setMaxListpackEntries] = 4
        let store = Store(shardCount: 1, encodingLimits: limits)
        func enc(_ k: String) -> String? { bytes(k).withUnsafeBytes { store.encoding($0) } }
        try bytes("h").withUnsafeBytes { h in
            for i in 0..<3 { _ = try bytes("f\(i)").withUnsafeBytes { f in try store.hashSet(h, [(f, f)]) } }
            #expect(enc("h") == "listpack")
            _ = try bytes("f3").withUnsafeBytes { f in try store.hashSet(h, [(f, f)]) }
            #expect(enc("h") == "hashtable")
            _ = try withRaw([bytes("f0"), bytes("f1"), bytes("f2")]) { try store.hashDelete(h, fields: $0) }
            #expect(enc("h") == "hashtable", "a hash never converts back")
        }
        try bytes("s").withUnsafeBytes { s in
            _ = try withRaw([bytes("1"), bytes("2"), bytes("3")]) { try store.setAdd(s, $0) }
            #expect(enc("s") == "intset")
            _ = try withRaw([bytes("007")]) { try store.setAdd(s, $0) }  // not canonical: a string
            #expect(enc("s") == "listpack")
            _ = try withRaw([bytes("x")]) { try store.setAdd(s, $0) }
            #expect(enc("s") == "hashtable")
        }
        try bytes("big").withUnsafeBytes { s in
            _ = try withRaw((0..<4).map { bytes(String($0)) }) { try store.setAdd(s, $0) }
            #expect(enc("big") == "hashtable", "an intset past its entries goes to the map, as Redis 7.0")
        }
        #expect(store.verify() == nil)
    }

    /// Small values live inline in their entries (Values/InlineValues.swift): no object, a few bytes per
    /// member; past `inlineValueLimit` bytes of encoding they become objects, still compact, and stay so.
    @Test func smallValuesAreInlineUntilTheirEncodingOutgrowsTheEntry() throws {
        let store = Store(shardCount: 1)
        func objects() -> Int { store.statistics(histograms: false).total.valueObjects }
        func enc(_ k: String) -> String? { bytes(k).withUnsafeBytes { store.encoding($0) } }
        func usage(_ k: String) -> Int { bytes(k).withUnsafeBytes { store.memoryUsage($0) } ?? 0 }
        try bytes("ints").withUnsafeBytes { s in
            _ = try withRaw((0..<10).map { bytes(String($0)) }) { try store.setAdd(s, $0) }
            #expect(enc("ints") == "intset" && objects() == 0)
            #expect(usage("ints") <= 48 + 8, "10 two-byte members, the key and the header: \(usage("ints"))")
            // 255 two-byte members are 512 bytes inline with the form and width: the 256th moves it out.
            _ = try withRaw((10..<255).map { bytes(String($0)) }) { try store.setAdd(s, $0) }
            #expect(enc("ints") == "intset" && objects() == 0)
            _ = try withRaw([bytes("255")]) { try store.setAdd(s, $0) }
            #expect(enc("ints") == "intset" && objects() == 1)
            _ = try withRaw((0..<200).map { bytes(String($0)) }) { try store.setRemove(s, $0) }
            #expect(objects() == 1, "an object stays one")
            #expect(try store.setCount(s) == 56)
        }
        try bytes("h").withUnsafeBytes { h in
            _ = try withRaw([bytes("f"), bytes("v")]) { b in try store.hashSet(h, [(b[0], b[1])]) }
            #expect(enc("h") == "listpack" && objects() == 1)
            #expect(try bytes("n").withUnsafeBytes { try store.hashIncrement(h, $0, by: 5) } == 5)
            #expect(try store.hashLength(h) == 2 && bytes("n").withUnsafeBytes { try store.hashGet(h, $0) } == bytes("5"))
            // Values that take the encoding past the inline limit (each within the listpack's 64): still a
            // listpack, now an object. (They differ in their first byte: equal values would front-code to a few
            // bytes each and stay inline, FrontCoding.swift.)
            for i in 0..<9 {
                _ = try withRaw([bytes("long\(i)"), bytes("\(i)" + String(repeating: "x", count: 59))]) { b in
                    try store.hashSet(h, [(b[0], b[1])])
                }
            }
            #expect(enc("h") == "listpack" && objects() == 2)
        }
        // Read paths decode, write paths store back: RENAME, COPY, DUMP/RESTORE, and removal of the last member.
        try bytes("words").withUnsafeBytes { s in
            _ = try withRaw([bytes("a"), bytes("b")]) { try store.setAdd(s, $0) }
            #expect(enc("words") == "listpack" && objects() == 2)
            let payload = try #require(store.dump(s))
            try payload.withUnsafeBytes { p in
                try bytes("restored").withUnsafeBytes { r in try store.restore(r, payload: p, expiry: nil, replace: false) }
            }
            #expect(Set(try bytes("restored").withUnsafeBytes { try store.setMembers($0) }) == [bytes("a"), bytes("b")])
            _ = try withRaw([bytes("a"), bytes("b")]) { try store.setRemove(s, $0) }
            #expect(store.type(s) == nil, "the key goes with its last member")
        }
        #expect(objects() == 2)
        #expect(store.verify() == nil)
    }

    /// `drainedFrom`: the set first held that many members and lost all but 600 (the inner map halved
    /// several times, each halving resetting the draws' rejection bound: HashMap.startGrowth).
    @Test(arguments: [0, 40_000])
    func randomDrawsFromAnInnerMapAreFair(drainedFrom: Int) throws {
        let store = Store(shardCount: 1)
        let n = 600  // past set-max-intset-entries: a HashMap
        try bytes("s").withUnsafeBytes { s in
            if drainedFrom > 0 {
                _ = try withRaw((n..<drainedFrom).map { bytes("gone\($0)") }) { try store.setAdd(s, $0) }
            }
            _ = try withRaw((0..<n).map { bytes("m\($0)") }) { try store.setAdd(s, $0) }
            if drainedFrom > 0 {
                _ = try withRaw((n..<drainedFrom).map { bytes("gone\($0)") }) { try store.setRemove(s, $0) }
                #expect(try store.setCount(s) == n)
            }
            #expect(store.encoding(s) == "hashtable")
            var counts: [[UInt8]: Int] = [:]
            for _ in 0..<60 {
                for m in try store.setRandomMembers(s, count: -1000) { counts[m, default: 0] += 1 }
            }
            // 60000 draws over 600 members: 100 each expected, sd 10; a member drawn from a bucket of
            // average occupancy would be off by its bucket's load, far past these bounds.
            #expect(counts.count == n)
            let low = counts.values.min()!, high = counts.values.max()!
            #expect(low > 45 && high < 160, "min \(low) max \(high)")
        }
    }
}
