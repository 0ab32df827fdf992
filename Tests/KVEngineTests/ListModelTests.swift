import Dispatch
import Glibc
import Synchronization
import Testing
import KVEngine

/// Randomized runs of the list operations against a model (Swift arrays), with node bounds small enough
/// that lists span many nodes and split and drop them every few steps, interior nodes compressed
/// (list-compress-depth, changed mid-run too), values moving between inline and object forms, a clock
/// that moves so keys expire mid-run, and the verifier (every node's elements and back lengths, the
/// compressed ones decompressed, the counts) after every step.
@Suite struct ListModelTests {
    enum Value: Equatable { case list([[UInt8]]), string }

    @Test(arguments: [(1, 3, 1), (2, -1, 0), (3, 1, 2), (4, 0, 1), (5, -2, 1), (6, -1, 1)] as [(UInt64, Int, Int)])
    func randomOperationsMatchModel(seed: UInt64, fill: Int, depth: Int) throws {
        var rng = SplitMix64(seed: seed)
        let clock = ManualClock()
        let limits = EncodingLimits()
        limits[.listMaxListpackSize] = fill
        limits[.listCompressDepth] = depth
        let store = Store(shardCount: 4, clock: { clock.now }, encodingLimits: limits)
        var model: [[UInt8]: (value: Value, expiry: Int64?)] = [:]
        func live(_ k: [UInt8]) -> Value? {
            guard let e = model[k] else { return nil }
            if let x = e.expiry, x <= clock.now { return nil }
            return e.value
        }
        func list(_ k: [UInt8]) -> [[UInt8]]? { if case .list(let l)? = live(k) { return l }; return nil }
        func isString(_ k: [UInt8]) -> Bool { live(k) == .string }
        func save(_ k: [UInt8], _ l: [[UInt8]]) {
            let expiry = live(k) == nil ? nil : model[k]?.expiry
            model[k] = l.isEmpty ? nil : (.list(l), expiry)
        }
        let keys = (0..<4).map { bytes("k\($0)") }
        func element() -> [UInt8] {
            switch rng.next() % 6 {
            case 0: return [UInt8](repeating: UInt8(ascii: "L"), count: 100 + Int(rng.next() % 3000))  // spans node bounds
            case 1: return bytes(String(rng.next() % 5))
            default: return bytes("e\(rng.next() % 8)")
            }
        }
        func index(_ n: Int) -> Int { Int(rng.next() % UInt64(2 * n + 6)) - n - 3 }
        func normalized(_ i: Int, _ n: Int) -> Int? { let j = i < 0 ? i + n : i; return j >= 0 && j < n ? j : nil }

        for step in 0..<2500 {
            let k = keys[Int(rng.next() % UInt64(keys.count))]
            let old = list(k) ?? []
            try k.withUnsafeBytes { kb in
                switch rng.next() % 13 {
                case 0, 1:  // LPUSH / RPUSH
                    let front = rng.next() % 2 == 0
                    let xs = (0..<(1 + Int(rng.next() % (rng.next() % 8 == 0 ? 40 : 3)))).map { _ in element() }
                    let r = withRaw(xs) { raw in Result { () throws(StoreError) in try store.listPush(kb, raw, at: front ? .left : .right) } }
                    if isString(k) { #expect(r == .failure(.wrongType)); break }
                    let new = front ? xs.reversed() + old : old + xs
                    #expect(r == .success(new.count), "step \(step)")
                    save(k, new)
                case 2, 3:  // LPOP / RPOP with a count
                    let front = rng.next() % 2 == 0, n = 1 + Int(rng.next() % 4)
                    let r = Result { () throws(StoreError) in try store.listPop(kb, from: front ? .left : .right, count: n) }
                    if isString(k) { #expect(r == .failure(.wrongType)); break }
                    guard live(k) != nil else { #expect(r == .success(nil)); break }
                    let taken = front ? Array(old.prefix(n)) : Array(old.suffix(n).reversed())
                    #expect(r == .success(taken), "step \(step)")
                    save(k, front ? Array(old.dropFirst(n)) : Array(old.dropLast(n)))
                case 4:  // LRANGE
                    let a = index(old.count), b = index(old.count)
                    var got: [[UInt8]] = []
                    var announced = -1
                    let r = Result { () throws(StoreError) in
                        try store.forEachListElement(kb, start: a, stop: b, count: { announced = $0 }) { got.append(Array($0)) }
                    }
                    if isString(k) { #expect(r.isFailure); break }
                    var s = a < 0 ? a + old.count : a, e = b < 0 ? b + old.count : b
                    s = max(s, 0)
                    e = min(e, old.count - 1)
                    let want = s > e || s >= old.count ? [] : Array(old[s...e])
                    #expect(got == want && announced == want.count, "step \(step)")
                case 5:  // LINDEX
                    let i = index(old.count)
                    let r = Result { () throws(StoreError) in try store.listIndex(kb, i) }
                    if isString(k) { #expect(r == .failure(.wrongType)); break }
                    #expect(r == .success(normalized(i, old.count).map { old[$0] }), "step \(step)")
                case 6:  // LSET
                    let i = index(old.count), x = element()
                    let r = x.withUnsafeBytes { xb in Result { () throws(StoreError) in try store.listSet(kb, i, xb) } }
                    if isString(k) { #expect(r == .failure(.wrongType)); break }
                    guard live(k) != nil else { #expect(r == .success(.noSuchKey)); break }
                    guard let j = normalized(i, old.count) else { #expect(r == .success(.outOfRange)); break }
                    #expect(r == .success(.ok))
                    var new = old
                    new[j] = x
                    save(k, new)
                case 7:  // LINSERT
                    let before = rng.next() % 2 == 0, pivot = element(), x = element()
                    let r = withRaw([pivot, x]) { raw in Result { () throws(StoreError) in try store.listInsert(kb, before: before, pivot: raw[0], raw[1]) } }
                    if isString(k) { #expect(r == .failure(.wrongType)); break }
                    guard live(k) != nil else { #expect(r == .success(0)); break }
                    guard let at = old.firstIndex(of: pivot) else { #expect(r == .success(-1)); break }
                    var new = old
                    new.insert(x, at: before ? at : at + 1)
                    #expect(r == .success(new.count), "step \(step)")
                    save(k, new)
                case 8:  // LREM
                    let count = Int(rng.next() % 7) - 3, x = element()
                    let r = x.withUnsafeBytes { xb in Result { () throws(StoreError) in try store.listRemove(kb, count: count, xb) } }
                    if isString(k) { #expect(r == .failure(.wrongType)); break }
                    let limit = count == 0 ? Int.max : abs(count)
                    let order = count < 0 ? Array(old.indices.reversed()) : Array(old.indices)
                    let drop = Set(order.filter { old[$0] == x }.prefix(limit))
                    let removed = drop.count
                    let kept = old.indices.filter { !drop.contains($0) }.map { old[$0] }
                    #expect(r == .success(removed), "step \(step)")
                    save(k, kept)
                case 9:  // LTRIM
                    let a = index(old.count), b = index(old.count)
                    let r = Result { () throws(StoreError) in try store.listTrim(kb, start: a, stop: b) }
                    if isString(k) { #expect(r.isFailure); break }
                    var s = a < 0 ? a + old.count : a, e = b < 0 ? b + old.count : b
                    s = max(s, 0)
                    e = min(e, old.count - 1)
                    save(k, s > e || s >= old.count ? [] : Array(old[s...e]))
                case 10:  // LMOVE to another key (or the same)
                    let dst = keys[Int(rng.next() % UInt64(keys.count))]
                    let from = rng.next() % 2 == 0, to = rng.next() % 2 == 0
                    let r = dst.withUnsafeBytes { db in
                        Result { () throws(StoreError) in try store.listMove(kb, db, from: from ? .left : .right, to: to ? .left : .right) }
                    }
                    guard live(k) != nil else { #expect(r == .success(nil)); break }
                    if isString(k) || isString(dst) { #expect(r == .failure(.wrongType)); break }
                    let x = from ? old.first! : old.last!
                    #expect(r == .success(x), "step \(step)")
                    save(k, from ? Array(old.dropFirst()) : Array(old.dropLast()))
                    let d = list(dst) ?? []
                    save(dst, to ? [x] + d : d + [x])
                case 11:  // an expiry a few ms ahead, or a string over the value
                    if rng.next() % 3 != 0 {
                        let at = clock.now + Int64(1 + rng.next() % 20)
                        if store.expire(kb, at: at), live(k) != nil { model[k]!.expiry = at }
                    } else {
                        _ = try store.set(kb, UnsafeRawBufferPointer(start: nil, count: 0))
                        model[k] = (.string, nil)
                    }
                default:  // LLEN and LPOS; now and then list-compress-depth changes (CONFIG SET)
                    if rng.next() % 40 == 0 { limits[.listCompressDepth] = Int(rng.next() % 3) }
                    let r = Result { () throws(StoreError) in try store.listLength(kb) }
                    if isString(k) { #expect(r == .failure(.wrongType)); break }
                    #expect(r == .success(old.count))
                    let x = element()
                    let p = x.withUnsafeBytes { xb in Result { () throws(StoreError) in try store.listPositions(kb, xb, rank: -1, count: 0, maxLength: 0) } }
                    if live(k) != nil {
                        #expect(p == .success(old.indices.reversed().filter { old[$0] == x }), "step \(step)")
                    }
                }
            }
            clock.advance(Int64(rng.next() % 3))
            if let problem = store.verify() { Issue.record("step \(step): \(problem)"); return }
        }
        // The model and the store agree on every key at the end.
        for k in keys {
            let got = try k.withUnsafeBytes { kb -> [[UInt8]]? in
                guard store.type(kb) == .list else { return nil }
                var out: [[UInt8]] = []
                try store.forEachListElement(kb, start: 0, stop: -1, count: { _ in }) { out.append(Array($0)) }
                return out
            }
            #expect(got == list(k))
        }
    }

    @Test func interiorNodesAreCompressedUnderACompressDepth() throws {
        let limits = EncodingLimits()
        limits[.listCompressDepth] = 1
        let store = Store(shardCount: 1, encodingLimits: limits)
        let elements = (0..<20_000).map { bytes("element:\($0 % 1000)") }
        try bytes("l").withUnsafeBytes { l in
            for chunk in stride(from: 0, to: elements.count, by: 1000) {
                _ = try withRaw(Array(elements[chunk..<(chunk + 1000)])) { try store.listPush(l, $0, at: .right) }
            }
            let compressed = store.memoryUsage(l) ?? 0
            limits[.listCompressDepth] = 0
            _ = try store.listPop(l, from: .left, count: 1)  // a change under depth 0 leaves the nodes as they are
            #expect(compressed < elements.count * 14 / 2, "compressible elements: \(compressed) bytes")
            #expect(try store.listIndex(l, 12_345) == bytes("element:346"), "index 12345 after the first element went")
            var all: [[UInt8]] = []
            try store.forEachListElement(l, start: 0, stop: -1, count: { _ in }) { all.append(Array($0)) }
            #expect(all == Array(elements.dropFirst()))
            // Popped down to its last nodes, the compressed ones are read as they reach the ends.
            _ = try store.listPop(l, from: .right, count: 19_990)
            #expect(try store.listPop(l, from: .right, count: 100) == elements[1..<10].reversed().map { $0 })
        }
        #expect(store.verify() == nil)
    }

    @Test func nodesSplitAndListsStayInlineWhileSmall() throws {
        let limits = EncodingLimits()
        let store = Store(shardCount: 1, encodingLimits: limits)
        func objects() -> Int { store.statistics(histograms: false).total.valueObjects }
        try bytes("l").withUnsafeBytes { l in
            _ = try withRaw((0..<10).map { bytes("element-\($0)") }) { try store.listPush(l, $0, at: .right) }
            #expect(store.encoding(l) == "quicklist" && objects() == 0, "ten short elements live in the entry")
            // Past one 8 KiB node: an object of several nodes.
            _ = try withRaw((0..<2000).map { bytes("element-\($0)") }) { try store.listPush(l, $0, at: .left) }
            #expect(objects() == 1)
            #expect(try store.listLength(l) == 2010)
            #expect(try store.listIndex(l, 0) == bytes("element-1999") && store.listIndex(l, -1) == bytes("element-9"))
            let usage = store.memoryUsage(l) ?? 0
            #expect(usage > 2010 * 12 && usage < 2010 * 30, "packed: \(usage) bytes for 2010 elements of 12 bytes")
            // Popped back to a few: it stays an object; its nodes went.
            _ = try store.listPop(l, from: .left, count: 2005)
            #expect(try store.listLength(l) == 5 && objects() == 1)
            #expect(try store.listPop(l, from: .right, count: 10) == (5..<10).reversed().map { bytes("element-\($0)") })
            #expect(store.type(l) == nil, "the key goes with its last element")
        }
        #expect(store.verify() == nil)
    }
}

/// Lists in snapshots (Snapshot/ListCodec.swift): a large list shares its nodes with the saver, so the
/// writes after the cut — at both ends, in the middle, to whole keys — copy the nodes they change and
/// never reach the file.
@Suite struct ListSnapshotTests {
    static func lists(of store: Store) throws -> [[UInt8]: [[UInt8]]] {
        var out: [[UInt8]: [[UInt8]]] = [:]
        for k in store.keys(matching: GlobPattern(bytes("*"))) {
            try k.withUnsafeBytes { kb in
                var l: [[UInt8]] = []
                try store.forEachListElement(kb, start: 0, stop: -1, count: { _ in }) { l.append(Array($0)) }
                out[k] = l
            }
        }
        return out
    }

    @Test(arguments: [false, true])
    func largeListsAreSavedAsTheyWereAtTheCut(writesDuringSave: Bool) throws {
        let dir = temporaryDirectory()
        let store = Store(shardCount: 4)
        for l in 0..<6 {
            for chunk in 0..<40 {
                let xs = (0..<500).map { bytes("l\(l):\(chunk * 500 + $0)") }
                _ = try withRaw(xs) { x in try bytes("list:\(l)").withUnsafeBytes { try store.listPush($0, x, at: .right) } }
            }
        }
        _ = try withRaw([bytes("tiny")]) { x in try bytes("small").withUnsafeBytes { try store.listPush($0, x, at: .left) } }
        let atCut = try Self.lists(of: store)
        let snap = Snapshot(of: [store])
        let mutate = { @Sendable (round: Int) throws in
            let r = bytes("r\(round)")
            try withRaw([r]) { x in
                try bytes("list:\(round % 6)").withUnsafeBytes { k in
                    _ = try store.listPush(k, x, at: round % 2 == 0 ? .left : .right)
                    _ = try store.listPop(k, from: round % 3 == 0 ? .left : .right, count: 2)
                    _ = try store.listSet(k, (round * 37) % 1000, x[0])
                    _ = try store.listInsert(k, before: true, pivot: x[0], x[0])
                }
            }
            if round % 100 == 0 {
                try bytes("list:5").withUnsafeBytes { k in try store.listTrim(k, start: 1, stop: -2) }
                _ = try bytes("small").withUnsafeBytes { k in try store.listPop(k, from: .left, count: 1) }
            }
        }
        if !writesDuringSave { for round in 0..<3000 { try mutate(round) } }
        let done = Atomic<Bool>(false)
        let progress = Atomic<Int>(0)
        let writer = DispatchGroup()
        if writesDuringSave {
            DispatchQueue.global().async(group: writer) {
                var round = 0
                let deadline = monotonicMicroseconds() + 20_000_000
                while !done.load(ordering: .relaxed) && round < 1_000_000 && monotonicMicroseconds() < deadline {
                    try? mutate(round)
                    round += 1
                    progress.store(round, ordering: .relaxed)
                }
            }
            while progress.load(ordering: .relaxed) < 10 { usleep(100) }
        }
        var options = SnapshotOptions()
        options.yieldsBetweenSteps = true
        _ = try snap.write(to: dir + "/lists.rdb", options: options)
        done.store(true, ordering: .relaxed)
        writer.wait()
        let loaded = Store(shardCount: 2)
        _ = try loadSnapshot(from: dir + "/lists.rdb", into: [loaded])
        let saved = try Self.lists(of: loaded)
        #expect(saved.count == atCut.count)
        let differing = atCut.filter { saved[$0.key] != $0.value }.map { String(decoding: $0.key, as: UTF8.self) }
        #expect(differing.isEmpty, "saved differently from the cut: \(differing.sorted())")
        #expect(store.verify() == nil && loaded.verify() == nil)
    }
}

extension Result {
    var isFailure: Bool { if case .failure = self { return true }; return false }
}
