import Testing
import KVEngine
import Dispatch
import Synchronization

@Suite struct StoreConcurrencyTests {
    @Test func concurrentIncrementsTotalExactly() {
        let s = Store(shardCount: 16)
        let threads = 8
        let perThread = 20_000
        let keys = (0..<5).map { bytes("counter:\($0)") }
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<perThread {
                _ = keys[(i + t) % keys.count].withUnsafeBytes { s.increment($0, by: 1) }
            }
        }
        let total = keys.map { Int(String(decoding: try! s.get($0)!, as: UTF8.self))! }.reduce(0, +)
        #expect(total == threads * perThread)
        #expect(s.verify() == nil)
    }

    @Test func countIsExactAfterConcurrentInserts() {
        let s = Store(shardCount: 16)
        let threads = 8
        let perThread = 25_000
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<perThread { _ = s.put("t\(t):\(i)", "v") }
        }
        #expect(s.count == threads * perThread)
        #expect(s.statistics().total.count == threads * perThread)
        #expect(s.verify() == nil)
    }

    /// A writer MSETs k0...k19 to the same round number; readers MGET them and must never see two rounds.
    @Test func multiSetIsAtomicToReaders() {
        let s = Store(shardCount: 16)
        let keys = (0..<20).map { bytes("atomic:\($0)") }
        let rounds = 3000
        let torn = UnsafeMutablePointer<Int>.allocate(capacity: 3)
        torn.initialize(repeating: 0, count: 3)
        defer { torn.deallocate() }
        nonisolated(unsafe) let tornCounts = torn
        withRaw(keys) { ks in
            nonisolated(unsafe) let rawKeys = ks
            DispatchQueue.concurrentPerform(iterations: 3) { t in
                if t == 0 {
                    for r in 1...rounds {
                        let v = bytes("\(r)")
                        withRaw(Array(repeating: v, count: rawKeys.count)) { vs in
                            s.setMany(Array(zip(rawKeys, vs)).map { (key: $0.0, value: $0.1) })
                        }
                    }
                } else {
                    for _ in 0..<rounds {
                        let got = s.getMany(rawKeys)
                        if Set(got.map { $0 ?? [] }).count > 1 { tornCounts[t] += 1 }
                    }
                }
            }
        }
        #expect(torn[1] == 0 && torn[2] == 0)
        #expect(try! s.get(keys[0]) == bytes("\(rounds)"))
    }

    /// FLUSHALL ASYNC and SWAPDB replace shards' maps under every shard's lock while other threads write:
    /// a write must borrow its shard's map after taking the lock (one borrowed before could be a map being
    /// freed, or by now the other database's).
    @Test func writesRacingMapReplacementsLandInTheLiveMap() {
        let a = Store(shardCount: 2, shardSeed: 7, index: 0), b = Store(shardCount: 2, shardSeed: 7, index: 1)
        let stop = Atomic<Bool>(false)
        let replacerDone = DispatchSemaphore(value: 0)
        startThread {
            var i = 0
            while !stop.load(ordering: .relaxed) {
                if i % 2 == 0 { a.flush(async: true) } else { _ = a.swapContents(with: b) }
                i += 1
            }
            replacerDone.signal()
        }
        DispatchQueue.concurrentPerform(iterations: 3) { t in
            for i in 0..<20_000 {
                let k = bytes("k\(t):\(i % 1000)")
                _ = try! a.set(k, bytes("value \(i)"))
                _ = try! a.get(k)
            }
        }
        stop.store(true, ordering: .relaxed)
        replacerDone.wait()
        #expect(a.verify() == nil && b.verify() == nil)
    }

    @Test func mixedLoadKeepsTheStoreSound() {
        let s = Store(shardCount: 4)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            var rng = SplitMix64(seed: UInt64(t))
            for _ in 0..<50_000 {
                let k = bytes("k\(rng.next() % 5000)")
                switch rng.next() % 6 {
                case 0, 1: _ = try! s.set(k, bytes("value"))
                case 2: _ = k.withUnsafeBytes { s.delete([$0]) }
                case 3: _ = k.withUnsafeBytes { s.expire($0, at: s.now + 1_000_000) }
                // A pipeline's look ahead: a bucket with no lock, an entry under the read lock, while maps
                // grow, shrink and are replaced by flushes.
                case 4: k.withUnsafeBytes { s.prefetch($0); s.prefetchEntry($0) }
                case 5 where rng.next() % 1000 == 0: s.flush(async: true)
                default: _ = try! s.get(k)
                }
            }
        }
        #expect(s.verify() == nil)
    }
}
