import KVEngine
import Testing

/// Randomized runs of eviction under every policy, interleaved with writes, reads, deletes and expiries on a
/// clock that moves (keys expire mid-run): after every step the verifier passes, and the keyspace rebuilt
/// from the change path alone (an `evicted` removal for each victim) matches the store. Volatile policies
/// never take a key without an expiry; the hand's policy takes a key not read since its last pass first.
@Suite struct EvictionModelTests {
    final class Replica: KeyspaceObserver, @unchecked Sendable {
        var entries: [[UInt8]: Int64?] = [:]
        var evicted: [([UInt8], Int64?)] = []

        func keyspaceDidChange(_ change: KeyspaceChange) {
            let key = Array(change.key)
            switch change.kind {
            case .written: entries[key] = .some(change.expiry)
            case .removed:
                if change.event == .evicted { evicted.append((key, entries[key] ?? nil)) }
                entries[key] = nil
            case .expired: entries[key] = nil
            case .flushed, .swapped: entries.removeAll()
            }
        }
    }

    @Test("Every policy: verifier after each step, evictions told through the change path", arguments: EvictionPolicy.allCases.filter { $0 != .noEviction })
    func randomized(policy: EvictionPolicy) {
        for seed in UInt64(1)...3 {
            var rng = SplitMix64(seed: seed)
            let clock = ManualClock()
            let store = Store(shardCount: 4, clock: { clock.now })
            let replica = Replica()
            store.addObserver(replica)
            let evictor = Evictor(stores: [store])
            var settings = EvictionSettings()
            settings.policy = policy
            evictor.configure(settings)
            let volatile = policy.rawValue.hasPrefix("volatile")
            for step in 0..<3000 {
                clock.advance(Int64(rng.next() % 3))
                let k = Array("k\(rng.next() % 400)".utf8)
                let context = "\(policy.rawValue) seed \(seed) step \(step)"
                switch rng.next() % 8 {
                case 0, 1, 2:
                    let expiry: SetOptions.Expiry = rng.next() % 3 == 0 ? .at(clock.now + Int64(rng.next() % 400)) : .clear
                    _ = try! store.set(k, Array("v".utf8), SetOptions(expiry: expiry))
                case 3, 4: _ = try! store.get(k)
                case 5: _ = store.delete(k)
                default:
                    let before = replica.evicted.count
                    let n = evictor.evict(count: Int(rng.next() % 4))
                    #expect(replica.evicted.count - before == n, "\(context): each eviction told once")
                    for (key, expiry) in replica.evicted[before...] {
                        #expect(!volatile || expiry != nil, "\(context): \(String(decoding: key, as: UTF8.self)) had no expiry")
                    }
                }
                if let v = store.verify() { Issue.record("\(context): \(v)"); return }
                let keys = Set(store.keys(matching: GlobPattern(Array("*".utf8))))
                let live = Set(replica.entries.filter { $0.value.map { $0 > clock.now } ?? true }.keys)
                #expect(keys == live, "\(context): the store holds what the change path told")
                if keys != live { return }
            }
            #expect(!replica.evicted.isEmpty, "\(policy.rawValue) evicted something")
        }
    }

    @Test("allkeys-clock: new keys leave in the order they came unless read meanwhile")
    func probationOrder() {
        let store = Store(shardCount: 1)
        let evictor = Evictor(stores: [store])
        var settings = EvictionSettings()
        settings.policy = .allKeysClock
        evictor.configure(settings)
        for i in 0..<1000 { _ = try! store.set(Array("k\(i)".utf8), Array("v".utf8), SetOptions()) }
        for i in 0..<100 { _ = try! store.get(Array("k\(i)".utf8)) }
        #expect(evictor.evict(count: 100) == 100)
        let gone = (0..<1000).filter { (try? store.get(Array("k\($0)".utf8), touching: false)) == nil }
        #expect(gone == Array(100..<200), "the oldest unread keys went; the read ones graduated")
        #expect(store.verify() == nil)
    }

    @Test("LRU's pool takes the longest idle, volatile-ttl the nearest expiry, LFU the least used")
    func scoresOrder() {
        let clock = ManualClock()
        for policy in [EvictionPolicy.allKeysLRU, .volatileTTL, .allKeysLFU] {
            let store = Store(shardCount: 1, clock: { clock.now })
            let evictor = Evictor(stores: [store])
            var settings = EvictionSettings()
            settings.policy = policy
            settings.samples = 64
            evictor.configure(settings)
            for i in 0..<100 {
                _ = try! store.set(Array("k\(i)".utf8), Array("v".utf8), SetOptions(expiry: .at(clock.now + 1_000_000 + Int64(i) * 1000)))
            }
            // k0...k9 are the victims: not read again (LRU, LFU) and expiring first (TTL).
            clock.advance(5000)
            store.tickAccessClock()
            for _ in 0..<30 { for i in 10..<100 { _ = try! store.get(Array("k\(i)".utf8)) } }
            #expect(evictor.evict(count: 10) == 10)
            let gone = (0..<100).filter { (try? store.get(Array("k\($0)".utf8), touching: false)) == nil }
            #expect(gone.filter { $0 < 10 }.count >= 8, "\(policy.rawValue): \(gone)")
        }
    }
}
