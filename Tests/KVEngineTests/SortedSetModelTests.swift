import Testing
import KVEngine

/// Randomized runs of the sorted-set operations against a model (a dictionary, sorted on each read), with
/// thresholds low enough that sets convert to their large form mid-run, a clock that moves so keys expire,
/// strings written over sets, and the verifier (the listpack's order, the tree's order, counts and largest
/// elements, the map agreeing with the tree) after every step. The tree alone is driven through enough
/// elements to grow three levels and shrink back.
@Suite struct SortedSetModelTests {
    typealias Model = [[UInt8]: Double]

    static func ordered(_ m: Model) -> [(member: [UInt8], score: Double)] {
        m.map { (member: $0.key, score: $0.value) }.sorted { a, b in
            a.score != b.score ? a.score < b.score : a.member.lexicographicallyPrecedes(b.member)
        }
    }

    static func same(_ a: [(member: [UInt8], score: Double)], _ b: [(member: [UInt8], score: Double)]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.member == $1.member && $0.score == $1.score }
    }

    @Test(arguments: [(1, 4), (2, 16), (3, 0), (4, 128)] as [(UInt64, Int)])
    func randomOperationsMatchModel(seed: UInt64, entries: Int) throws {
        var rng = SplitMix64(seed: seed)
        let clock = ManualClock()
        let limits = EncodingLimits()
        limits[.zsetMaxListpackEntries] = entries
        limits[.zsetMaxListpackValue] = 16
        let store = Store(shardCount: 4, clock: { clock.now }, encodingLimits: limits)
        enum Value { case zset(Model), string }
        var model: [[UInt8]: (value: Value, expiry: Int64?)] = [:]
        func live(_ k: [UInt8]) -> Value? {
            guard let e = model[k] else { return nil }
            if let x = e.expiry, x <= clock.now { return nil }
            return e.value
        }
        func zset(_ k: [UInt8]) -> Model? { if case .zset(let z)? = live(k) { return z }; return nil }
        func isString(_ k: [UInt8]) -> Bool { if case .string? = live(k) { return true }; return false }
        func save(_ k: [UInt8], _ z: Model) {
            let expiry = live(k) == nil ? nil : model[k]?.expiry
            model[k] = z.isEmpty ? nil : (.zset(z), expiry)
        }
        let keys = (0..<4).map { bytes("z\($0)") }
        func member() -> [UInt8] {
            switch rng.next() % 8 {
            // Past the value bound; from 120 bytes, across a length's one-byte encoding in the tree's
            // leaves (a leaf scan steps over one-byte lengths without decoding them).
            case 0: return [UInt8](repeating: UInt8(ascii: "M"), count: rng.next() % 2 == 0 ? 17 + Int(rng.next() % 10) : 120 + Int(rng.next() % 20))
            case 1: return bytes("")
            default: return bytes("m\(rng.next() % 300)")
            }
        }
        func score() -> Double {
            switch rng.next() % 10 {
            case 0: return .infinity
            case 1: return -.infinity
            case 2: return Double(Int(rng.next() % 2001) - 1000) / 4
            default: return Double(rng.next() % 20)
            }
        }
        func bound() -> ScoreBound { ScoreBound(score(), exclusive: rng.next() % 3 == 0) }
        func lexBound() -> LexBound {
            switch rng.next() % 6 {
            case 0: return .minusInfinity
            case 1: return .plusInfinity
            case 2, 3: return .inclusive(member())
            default: return .exclusive(member())
            }
        }
        func inRange(_ e: (member: [UInt8], score: Double), _ r: SortedSetRange) -> Bool {
            switch r {
            case .rank: return true
            case .score(let lo, let hi):
                return (lo.exclusive ? e.score > lo.value : e.score >= lo.value) && (hi.exclusive ? e.score < hi.value : e.score <= hi.value)
            case .lex(let lo, let hi):
                let m = e.member
                let aboveLo: Bool = switch lo {
                case .minusInfinity: true
                case .plusInfinity: false
                case .inclusive(let x): !m.lexicographicallyPrecedes(x)
                case .exclusive(let x): x.lexicographicallyPrecedes(m)
                }
                let belowHi: Bool = switch hi {
                case .minusInfinity: false
                case .plusInfinity: true
                case .inclusive(let x): !x.lexicographicallyPrecedes(m)
                case .exclusive(let x): m.lexicographicallyPrecedes(x)
                }
                return aboveLo && belowHi
            }
        }
        /// The model's selection of `range` in reply order (lex ranges over one score only, as Redis means them).
        func select(_ z: Model, _ range: SortedSetRange, reverse: Bool, offset: Int, limit: Int) -> [(member: [UInt8], score: Double)] {
            var all = Self.ordered(z)
            if reverse { all.reverse() }
            if case .rank(let a, let b) = range {
                let n = all.count
                var s = a < 0 ? a + n : a, e = b < 0 ? b + n : b
                s = max(s, 0)
                e = min(e, n - 1)
                return s > e || s >= n ? [] : Array(all[s...e])
            }
            let matching = all.filter { inRange($0, range) }
            guard offset >= 0, offset < matching.count, limit != 0 else { return [] }
            return Array(matching.dropFirst(offset).prefix(limit < 0 ? Int.max : limit))
        }

        for step in 0..<3000 {
            let k = keys[Int(rng.next() % UInt64(keys.count))]
            let old = zset(k) ?? [:]
            try k.withUnsafeBytes { kb in
                switch rng.next() % 12 {
                case 0, 1, 2:  // ZADD with options
                    var o = SortedSetAddOptions()
                    switch rng.next() % 6 {
                    case 0: o.nx = true
                    case 1: o.xx = true
                    case 2: o.gt = true
                    case 3: o.lt = true
                    default: break
                    }
                    o.incr = rng.next() % 5 == 0
                    let n = o.incr ? 1 : 1 + Int(rng.next() % (rng.next() % 6 == 0 ? 40 : 3))
                    var pairs: [([UInt8], Double)] = []
                    // The last key's members all score 0: the one-score sets lex ranges are meant for.
                    for _ in 0..<n { pairs.append((member(), k == keys[3] ? 0 : score())) }
                    let r = withRaw(pairs.map(\.0)) { raw in
                        Result { () throws(StoreError) in try store.zsetAdd(kb, zip(pairs, raw).map { ($0.0.1, $0.1) }, options: o) }
                    }
                    if isString(k) { #expect(r.isFailure); break }
                    var z = old, added = 0, changed = 0
                    var result: Double? = nil
                    var failed = false
                    for (m, s) in pairs {
                        if let current = z[m] {
                            if o.nx { continue }
                            let new = o.incr ? current + s : s
                            if new.isNaN { failed = true; break }
                            if (o.gt && new <= current) || (o.lt && new >= current) { continue }
                            result = new
                            if new != current { z[m] = new; changed += 1 }
                        } else {
                            if o.xx { continue }
                            z[m] = s
                            result = s
                            added += 1
                        }
                    }
                    if failed {
                        if case .failure(let e) = r { #expect(e == .scoreIsNaN, "step \(step)") } else { Issue.record("step \(step): no NaN error") }
                        break
                    }
                    guard case .success(let got) = r else { Issue.record("step \(step): \(r)"); return }
                    #expect(got.added == added && got.changed == changed, "step \(step)")
                    if o.incr { #expect(got.score == result, "step \(step)") }
                    save(k, z)
                case 3:  // ZREM
                    let ms = (0..<(1 + Int(rng.next() % 3))).map { _ in member() }
                    let r = withRaw(ms) { raw in Result { () throws(StoreError) in try store.zsetRemove(kb, raw) } }
                    if isString(k) { #expect(r.isFailure); break }
                    var z = old
                    let removed = Set(ms).filter { z.removeValue(forKey: $0) != nil }.count
                    #expect(r == .success(removed), "step \(step)")
                    save(k, z)
                case 4:  // ZSCORE, ZRANK, ZREVRANK
                    let m = member()
                    let r = m.withUnsafeBytes { mb in Result { () throws(StoreError) in
                        (try store.zsetScores(kb, [mb])[0], try store.zsetRank(kb, mb, reverse: false), try store.zsetRank(kb, mb, reverse: true))
                    } }
                    if isString(k) { #expect(r.isFailure); break }
                    guard case .success(let (s, rank, revrank)) = r else { return }
                    let order = Self.ordered(old)
                    let want = order.firstIndex { $0.member == m }
                    #expect(s == old[m] && rank == want && revrank == want.map { order.count - 1 - $0 }, "step \(step)")
                case 5, 6:  // ZRANGE by rank, score or lex, maybe reversed, with LIMIT; and ZCOUNT
                    let reverse = rng.next() % 2 == 0
                    let range: SortedSetRange = switch rng.next() % 3 {
                    case 0: .rank(Int(rng.next() % 20) - 10, Int(rng.next() % 20) - 10)
                    case 1: .score(bound(), bound())
                    default: .lex(lexBound(), lexBound())
                    }
                    if case .lex = range, Set(old.values).count > 1 { break }
                    let (offset, limit) = rng.next() % 2 == 0 ? (0, -1) : (Int(rng.next() % 5) - 1, Int(rng.next() % 6) - 1)
                    let rankRange: Bool = if case .rank = range { true } else { false }
                    let r = Result { () throws(StoreError) in
                        try store.zsetRange(kb, range, reverse: reverse, offset: rankRange ? 0 : offset, limit: rankRange ? -1 : limit).elements
                    }
                    if isString(k) { #expect(r.isFailure); break }
                    guard case .success(let got) = r else { return }
                    let want = select(old, range, reverse: reverse, offset: rankRange ? 0 : offset, limit: rankRange ? -1 : limit)
                    #expect(Self.same(got, want), "step \(step): \(range) reverse \(reverse) \(offset) \(limit)")
                    if !rankRange {
                        #expect(try store.zsetCount(kb, in: range) == select(old, range, reverse: false, offset: 0, limit: -1).count, "step \(step)")
                    }
                case 7:  // ZREMRANGEBYRANK / BYSCORE
                    let range: SortedSetRange = rng.next() % 2 == 0 ? .rank(Int(rng.next() % 10) - 5, Int(rng.next() % 10) - 5) : .score(bound(), bound())
                    let r = Result { () throws(StoreError) in try store.zsetRemoveRange(kb, range) }
                    if isString(k) { #expect(r.isFailure); break }
                    let doomed = select(old, range, reverse: false, offset: 0, limit: -1)
                    #expect(r == .success(doomed.count), "step \(step)")
                    var z = old
                    for d in doomed { z[d.member] = nil }
                    save(k, z)
                case 8:  // ZPOPMIN / ZPOPMAX
                    let max = rng.next() % 2 == 0, n = 1 + Int(rng.next() % 4)
                    let r = Result { () throws(StoreError) in try store.zsetPop(kb, max: max, count: n) }
                    if isString(k) { #expect(r.isFailure); break }
                    var order = Self.ordered(old)
                    if max { order.reverse() }
                    let want = Array(order.prefix(n))
                    guard case .success(let got) = r else { return }
                    #expect(Self.same(got, want), "step \(step)")
                    var z = old
                    for w in want { z[w.member] = nil }
                    save(k, z)
                case 9:  // ZUNIONSTORE of two keys into a third
                    let a = keys[Int(rng.next() % UInt64(keys.count))]
                    let r = withRaw([a]) { raw in Result { () throws(StoreError) in
                        try store.zsetAlgebraStore(.union, destination: kb, [raw[0], kb], weights: nil, aggregate: .max)
                    } }
                    if isString(a) || isString(k) { #expect(r == .failure(.wrongType)); break }
                    var z = zset(a) ?? [:]
                    for (m, s) in old { z[m] = Swift.max(z[m] ?? s, s) }
                    #expect(r == .success(z.count), "step \(step)")
                    model[k] = z.isEmpty ? nil : (.zset(z), nil)
                case 10:  // an expiry a few ms ahead, or a string over the value
                    if rng.next() % 3 != 0 {
                        let at = clock.now + Int64(1 + rng.next() % 20)
                        if store.expire(kb, at: at), live(k) != nil { model[k]!.expiry = at }
                    } else {
                        _ = try store.set(kb, UnsafeRawBufferPointer(start: nil, count: 0))
                        model[k] = (.string, nil)
                    }
                default:  // ZCARD; now and then the thresholds change (CONFIG SET)
                    if rng.next() % 50 == 0 { limits[.zsetMaxListpackEntries] = Int(rng.next() % 20) }
                    let r = Result { () throws(StoreError) in try store.zsetCount(kb) }
                    if isString(k) { #expect(r == .failure(.wrongType)); break }
                    #expect(r == .success(old.count), "step \(step)")
                }
            }
            clock.advance(Int64(rng.next() % 3))
            if let problem = store.verify() { Issue.record("step \(step): \(problem)"); return }
        }
        for k in keys {
            let got = try k.withUnsafeBytes { kb -> [(member: [UInt8], score: Double)]? in
                store.type(kb) == .zset ? try store.zsetRange(kb, .rank(0, -1), reverse: false).elements : nil
            }
            #expect(Self.same(got ?? [], Self.ordered(zset(k) ?? [:])))
        }
    }

    /// Enough elements for a tree of three levels (leaves of ~2 KB, 64 children a node), in random order,
    /// then deleted down to a few: splits and merges at every level, checked against the model.
    @Test func treeGrowsAndShrinksThroughLevels() throws {
        var rng = SplitMix64(seed: 7)
        let limits = EncodingLimits()
        let store = Store(shardCount: 1, encodingLimits: limits)
        var model: Model = [:]
        let members = (0..<150_000).map { bytes("member:\($0)") }
        try bytes("big").withUnsafeBytes { kb in
            for chunk in stride(from: 0, to: members.count, by: 1000) {
                let batch = members[chunk..<(chunk + 1000)].map { ($0, Double(rng.next() % 5000) / 2) }
                for (m, s) in batch { model[m] = s }
                _ = try withRaw(batch.map(\.0)) { raw in try store.zsetAdd(kb, zip(batch, raw).map { ($0.0.1, $0.1) }, options: SortedSetAddOptions()) }
            }
            #expect(store.verify() == nil)
            #expect(store.encoding(kb) == "skiplist")
            let order = Self.ordered(model)
            #expect(try order[123_456].member.withUnsafeBytes { try store.zsetRank(kb, $0, reverse: false) } == 123_456)
            #expect(Self.same(try store.zsetRange(kb, .rank(70_000, 70_099), reverse: false).elements, Array(order[70_000..<70_100])))
            #expect(Self.same(try store.zsetRange(kb, .score(ScoreBound(1000), ScoreBound(1001, exclusive: true)), reverse: true).elements,
                              order.filter { $0.score >= 1000 && $0.score < 1001 }.reversed()))
            // Delete all but every 997th, in random order.
            var doomed = members.indices.filter { $0 % 997 != 0 }
            doomed.shuffle(using: &rng)
            for chunk in stride(from: 0, to: doomed.count, by: 5000) {
                let batch = doomed[chunk..<min(chunk + 5000, doomed.count)].map { members[$0] }
                _ = try withRaw(batch) { try store.zsetRemove(kb, $0) }
                for m in batch { model[m] = nil }
                if let problem = store.verify() { Issue.record("after \(chunk): \(problem)"); return }
            }
            #expect(Self.same(try store.zsetRange(kb, .rank(0, -1), reverse: false).elements, Self.ordered(model)))
        }
    }

    /// ZPOPMIN/ZPOPMAX on a tree of three levels, both ends alternately, one at a time and by count, until
    /// it is empty: each pop is the model's end, and the verifier passes after every batch.
    @Test func popsWalkDownBothEdgesOfATree() throws {
        var rng = SplitMix64(seed: 11)
        let store = Store(shardCount: 1, encodingLimits: EncodingLimits())
        var order = (0..<100_000).map { (member: bytes("member:\($0)"), score: Double(rng.next() % 3000) / 2) }
        try bytes("big").withUnsafeBytes { kb in
            for chunk in stride(from: 0, to: order.count, by: 1000) {
                let batch = order[chunk..<(chunk + 1000)]
                _ = try withRaw(batch.map(\.member)) { raw in try store.zsetAdd(kb, zip(batch, raw).map { ($0.0.score, $0.1) }, options: SortedSetAddOptions()) }
            }
            #expect(store.encoding(kb) == "skiplist")
            order.sort { $0.score != $1.score ? $0.score < $1.score : $0.member.lexicographicallyPrecedes($1.member) }
            var low = 0, high = order.count, batch = 0
            while low < high {
                let max = batch % 2 == 1, n = Swift.min(1 + Int(rng.next() % 3000), high - low)
                var got: [(member: [UInt8], score: Double)] = []
                if batch % 4 < 2 {
                    got = try store.zsetPop(kb, max: max, count: n)
                } else {
                    for _ in 0..<n { _ = try store.zsetPop(kb, max: max) { m, s in got.append((Array(m), s)) } }
                }
                let want = max ? Array(order[(high - n)..<high].reversed()) : Array(order[low..<(low + n)])
                if max { high -= n } else { low += n }
                #expect(Self.same(got, want), "batch \(batch)")
                if let problem = store.verify() { Issue.record("batch \(batch): \(problem)"); return }
                batch += 1
            }
            #expect(try store.zsetCount(kb) == 0)
            #expect(try store.zsetPop(kb, max: false) { _, _ in Issue.record("popped from an empty key") } == false)
        }
    }

    /// A large set's memory stays near its elements' bytes: a tree leaf packs them, the map holds each once.
    @Test func largeSetsAreCompact() throws {
        let store = Store(shardCount: 1)
        try bytes("z").withUnsafeBytes { kb in
            let ms = (0..<100_000).map { bytes("member:" + String(String($0 + 100_000_000).dropFirst())) }
            _ = try withRaw(ms) { raw in try store.zsetAdd(kb, raw.enumerated().map { (Double($0.offset), $0.element) }, options: SortedSetAddOptions()) }
            let perElement = (store.memoryUsage(kb) ?? 0) / ms.count
            #expect(perElement < 100, "\(perElement) bytes per 15-byte member")
        }
        // Members larger than half a leaf, in and out of order: every split leaves an element on each side.
        try bytes("huge").withUnsafeBytes { kb in
            for i in [5, 1, 9, 3, 7, 2, 8] {
                _ = try withRaw([[UInt8](repeating: UInt8(ascii: "a") + UInt8(i), count: 1500 + 100 * i)]) { raw in
                    try store.zsetAdd(kb, [(Double(i), raw[0])], options: SortedSetAddOptions())
                }
            }
            #expect(try store.zsetRange(kb, .rank(0, -1), reverse: false).elements.map(\.score) == [1, 2, 3, 5, 7, 8, 9])
        }
        #expect(store.verify() == nil)
    }
}
