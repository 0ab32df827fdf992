import Dispatch
import Glibc
import Synchronization
import Testing
import KVEngine

// Large hashes, sets and sorted sets in snapshots (HashMap/NestedCapture.swift): their inner maps are captured at the
// cut like the keyspace, so writes after the cut — to fields, to whole keys, renames to other shards, a
// hash emptied field by field — never reach the file, whether they come before the saver starts or while
// it drains the value.
@Suite struct NestedCaptureTests {
    enum ValueKind: Equatable { case hash([[UInt8]: [UInt8]]), set(Set<[UInt8]>), zset([[UInt8]: Double]) }

    static func contents(of store: Store) throws -> [[UInt8]: ValueKind] {
        var out: [[UInt8]: ValueKind] = [:]
        for k in store.keys(matching: GlobPattern(bytes("*"))) {
            try k.withUnsafeBytes { kb in
                switch store.type(kb) {
                case .hash?: out[k] = .hash(Dictionary(uniqueKeysWithValues: try store.hashPairs(kb).map { ($0.field, $0.value) }))
                case .set?: out[k] = .set(Set(try store.setMembers(kb)))
                case .zset?:
                    out[k] = .zset(Dictionary(uniqueKeysWithValues: try store.zsetRange(kb, .rank(0, -1), reverse: false).elements.map { ($0.member, $0.score) }))
                default: break
                }
            }
        }
        return out
    }

    @Test(arguments: [0, 1, 2] as [Int])
    func largeValuesAreSavedAsTheyWereAtTheCut(writesDuringSave: Int) throws {
        let dir = temporaryDirectory()
        let store = Store(shardCount: 4)
        let fields = 20_000
        for h in 0..<8 {
            for f in stride(from: 0, to: fields, by: 100) {
                let pairs = (f..<(f + 100)).map { (bytes("field:\($0)"), bytes("h\(h):\($0)")) }
                _ = try withPairs(pairs) { p in try bytes("hash:\(h)").withUnsafeBytes { try store.hashSet($0, p) } }
            }
            let members = (0..<fields).map { bytes("m\(h):\($0)") }
            _ = try withRaw(members) { m in try bytes("set:\(h)").withUnsafeBytes { try store.setAdd($0, m) } }
            _ = try withRaw(members) { m in
                try bytes("zset:\(h)").withUnsafeBytes { try store.zsetAdd($0, m.enumerated().map { (Double($0.offset % 977), $0.element) }, options: SortedSetAddOptions()) }
            }
        }
        // Two values left sparse (90% of their fields deleted), for the compaction running during the save
        // to move their entries under the saver.
        for f in 0..<fields where f % 10 != 0 {
            _ = try withRaw([bytes("field:\(f)")]) { a in try bytes("hash:7").withUnsafeBytes { k in try store.hashDelete(k, fields: a) } }
            _ = try withRaw([bytes("m7:\(f)")]) { a in try bytes("set:7").withUnsafeBytes { k in try store.setRemove(k, a) } }
        }
        // Small values that grew past the inline limit and shrank back: compaction moves them into their
        // entries during the save, which must not change what it saves.
        for v in 0..<300 {
            let items = (0..<40).map { bytes("item-\(100_000 + $0):\(v)") }
            _ = try withPairs(items.map { ($0, $0) }) { p in try bytes("small:\(v)").withUnsafeBytes { try store.hashSet($0, p) } }
            _ = try withRaw(items) { m in try bytes("smallset:\(v)").withUnsafeBytes { try store.setAdd($0, m) } }
            _ = try withRaw(Array(items.dropFirst(4))) { m in try bytes("small:\(v)").withUnsafeBytes { try store.hashDelete($0, fields: m) } }
            _ = try withRaw(Array(items.dropFirst(4))) { m in try bytes("smallset:\(v)").withUnsafeBytes { try store.setRemove($0, m) } }
        }
        let atCut = try Self.contents(of: store)
        #expect(bytes("hash:0").withUnsafeBytes { store.encoding($0) } == "hashtable")

        let snap = Snapshot(of: [store])
        // The writes after the cut: every kind of change to a large value.
        let mutate = { @Sendable (round: Int) throws in
            let r = bytes("\(round)")
            _ = try withPairs([(bytes("field:\(round % fields)"), r), (bytes("new:\(round)"), r)]) { a in try bytes("hash:1").withUnsafeBytes { k in try store.hashSet(k, a) } }
            _ = try withRaw([bytes("field:\((round * 7) % fields)")]) { a in try bytes("hash:2").withUnsafeBytes { k in try store.hashDelete(k, fields: a) } }
            _ = try withRaw([bytes("x\(round)")]) { a in try bytes("set:1").withUnsafeBytes { k in try store.setAdd(k, a) } }
            _ = try withRaw([bytes("m2:\((round * 3) % fields)")]) { a in try bytes("set:2").withUnsafeBytes { k in try store.setRemove(k, a) } }
            _ = try withRaw([bytes("m1:\((round * 5) % fields)"), bytes("z\(round)")]) { a in
                try bytes("zset:1").withUnsafeBytes { k in try store.zsetAdd(k, [(Double(round), a[0]), (-1, a[1])], options: SortedSetAddOptions()) }
            }
            _ = try withRaw([bytes("m2:\((round * 3) % fields)")]) { a in try bytes("zset:2").withUnsafeBytes { k in try store.zsetRemove(k, a) } }
        }
        if writesDuringSave == 0 {
            // Before the saver starts: writers attach the inner captures and copy the classes they change.
            for round in 0..<2000 { try mutate(round) }
            _ = store.delete(bytes("hash:3"))
            _ = bytes("hash:4").withUnsafeBytes { a in bytes("moved:4").withUnsafeBytes { b in store.rename(a, to: b, onlyIfAbsent: false) } }
            for f in 0..<fields { _ = try withRaw([bytes("field:\(f)")]) { a in try bytes("hash:5").withUnsafeBytes { k in try store.hashDelete(k, fields: a) } } }
            _ = try withPairs([(bytes("after"), bytes("cut"))]) { a in try bytes("hash:5").withUnsafeBytes { k in try store.hashSet(k, a) } }
        }
        // While the saver drains: a writer thread changes the large values until the save ends.
        let done = Atomic<Bool>(false)
        let progress = Atomic<Int>(0)
        let writer = DispatchGroup()
        if writesDuringSave > 0 {
            DispatchQueue.global().async(group: writer) {
                var round = 0
                let deadline = monotonicMicroseconds() + 20_000_000
                while !done.load(ordering: .relaxed) && round < 2_000_000 && monotonicMicroseconds() < deadline {
                    try? mutate(round)
                    if writesDuringSave == 2 && round % 500 == 250 {
                        // Whole keys too: renamed back and forth across shards, deleted and recreated.
                        let (a, b) = round % 1000 == 250 ? ("hash:6", "moved:6") : ("moved:6", "hash:6")
                        _ = bytes(a).withUnsafeBytes { x in bytes(b).withUnsafeBytes { y in store.rename(x, to: y, onlyIfAbsent: false) } }
                        _ = store.delete(bytes("set:3"))
                        _ = try? withRaw([bytes("again")]) { a in try bytes("set:3").withUnsafeBytes { k in try store.setAdd(k, a) } }
                    }
                    round += 1
                    progress.store(round, ordering: .relaxed)
                }
            }
            while progress.load(ordering: .relaxed) < 10 { usleep(100) }
        }
        // Compaction cycles all along the save (Compactor.swift).
        let compactor = Compactor.eager(stores: [store])
        let compactionDone = Atomic<Bool>(false)
        let compacting = DispatchGroup()
        DispatchQueue.global().async(group: compacting) {
            while !compactionDone.load(ordering: .relaxed) { compactor.cron(periodNanoseconds: 1_000_000) }
        }
        for _ in 0..<10_000 where !compactor.isRunning && compactor.cyclesCompleted == 0 { usleep(100) }
        let roundsBefore = progress.load(ordering: .relaxed)
        var options = SnapshotOptions()
        options.yieldsBetweenSteps = true
        let summary = try snap.write(to: dir + "/nested.rdb", options: options)
        let roundsDuring = progress.load(ordering: .relaxed) - roundsBefore
        done.store(true, ordering: .relaxed)
        writer.wait()
        #expect(summary.keys == atCut.count)
        if writesDuringSave > 0 { #expect(roundsDuring > 0, "the writes overlapped the save") }
        for _ in 0..<10_000 where compactor.pagesReturned == 0 { usleep(1000) }
        compactionDone.store(true, ordering: .relaxed)
        compacting.wait()
        #expect(compactor.pagesReturned > 0, "compaction had sparse pages to give back")
        #expect(compactor.valuesInlined > 0, "compaction had shrunk values to move inline")

        let loaded = Store(shardCount: 2)
        _ = try loadSnapshot(from: dir + "/nested.rdb", into: [loaded])
        let saved = try Self.contents(of: loaded)
        #expect(saved.count == atCut.count)
        let differing = atCut.filter { saved[$0.key] != $0.value }.map { String(decoding: $0.key, as: UTF8.self) }
        #expect(differing.isEmpty, "saved differently from the cut: \(differing.sorted())")
        #expect(store.verify() == nil && loaded.verify() == nil)

        // The captures are gone: the next writes copy nothing, and the next snapshot is of the new state.
        let now = try Self.contents(of: store)
        try Snapshot(of: [store]).write(to: dir + "/after.rdb", options: SnapshotOptions())
        let again = Store(shardCount: 1)
        _ = try loadSnapshot(from: dir + "/after.rdb", into: [again])
        #expect(try Self.contents(of: again) == now)
    }

    @Test func aCancelledSaveLeavesNoCaptureBehind() throws {
        let dir = temporaryDirectory()
        let store = Store(shardCount: 1)
        let members = (0..<50_000).map { bytes("member:\($0)") }
        _ = try withRaw(members) { a in try bytes("big").withUnsafeBytes { k in try store.setAdd(k, a) } }
        let snap = Snapshot(of: [store])
        _ = try withRaw([bytes("member:1")]) { a in try bytes("big").withUnsafeBytes { k in try store.setRemove(k, a) } }  // attaches the inner capture
        snap.cancel()
        #expect(throws: SnapshotCancelled.self) { try snap.write(to: dir + "/x.rdb", options: SnapshotOptions()) }
        // Writes after the abandoned capture detach it and go on; a new snapshot saves the new state.
        for i in 2..<1000 { _ = try withRaw([bytes("member:\(i)")]) { a in try bytes("big").withUnsafeBytes { k in try store.setRemove(k, a) } } }
        try Snapshot(of: [store]).write(to: dir + "/y.rdb", options: SnapshotOptions())
        let loaded = Store(shardCount: 1)
        _ = try loadSnapshot(from: dir + "/y.rdb", into: [loaded])
        #expect(try bytes("big").withUnsafeBytes { try loaded.setCount($0) } == 50_000 - 999)
        #expect(store.verify() == nil)
    }
}

func withPairs<R>(_ pairs: [([UInt8], [UInt8])], _ body: ([(UnsafeRawBufferPointer, UnsafeRawBufferPointer)]) throws -> R) rethrows -> R {
    try withRaw(pairs.flatMap { [$0.0, $0.1] }) { b in
        try body(stride(from: 0, to: b.count, by: 2).map { (b[$0], b[$0 + 1]) })
    }
}
