import Glibc
import KVEngine

// kvbench hints: what a pipeline's look ahead buys, through the store alone. Each call is given the hints
// the server gives a pipelined request: none, the next request's bucket (one ahead), or the next request's
// entry and the bucket of the one after it (two ahead; Connection.prefetchNextKey).
// - keys: GET of random keys of 1M (16-byte keys and values), the keys back to back in query order as in
//   a request buffer. The entry is read under its shard's lock (`Store.prefetchEntry`).
// - members: SADD of members "element:N", N random below 1M (redis-benchmark's `sadd` test), into one set
//   that fills to nearly all of them (`UpcomingElements`; each call's one-element array included).
// Rounds alternate the order of the three; medians of ns per call, with the range.
struct HintBench {
    let rounds = 5
    static let hints = ["no hint", "one ahead: the next one's bucket", "two ahead: next entry, then bucket"]

    func run() {
        report("GET of random keys of 1M", measureKeys())
        report("SADD into one set of 1M members", measureMembers())
    }

    /// ns per call for each hint, `rounds` times, the order of the hints alternating by round.
    private func alternating(_ measure: (Int) -> Double) -> [[Double]] {
        var ns = [[Double]](repeating: [], count: Self.hints.count)
        for r in 0..<rounds {
            for hint in r % 2 == 0 ? [0, 1, 2] : [2, 1, 0] { ns[hint].append(measure(hint)) }
        }
        return ns
    }

    private func report(_ title: String, _ ns: [[Double]]) {
        print("\(title): ns per call, median of \(rounds) rounds [min-max]")
        for (hint, name) in Self.hints.enumerated() {
            let s = ns[hint].sorted()
            print("  \(name.padding(toLength: 36, withPad: " ", startingAt: 0)) \(Int(s[s.count / 2]))  [\(Int(s[0]))-\(Int(s[s.count - 1]))]")
        }
    }

    private func measureKeys() -> [[Double]] {
        let n = 1_000_000
        let store = Store(shardCount: 16)
        let keys = KeySet(count: n, width: 16, seed: 7)
        for i in 0..<n { try! store.set(keys[i], keys[i]) }
        var rng = SplitMix64(seed: 9)
        let queries = KeySet(keys, permutation: (0..<n).map { _ in Int(rng.next() % UInt64(n)) })
        return alternating { hint in
            let start = monotonicSeconds()
            var found = 0
            for i in 0..<(n - 2) {
                if hint == 1 { store.prefetch(queries[i + 1]) }
                if hint == 2 {
                    store.prefetch(queries[i + 2])
                    store.prefetchEntry(queries[i + 1])
                }
                found &+= (store.readLive(queries[i]) { v, _ in v.type == .string ? 1 : 0 }) ?? 0
            }
            precondition(found == n - 2)
            return (monotonicSeconds() - start) / Double(n - 2) * 1e9
        }
    }

    private func measureMembers() -> [[Double]] {
        let calls = 2_000_000
        let store = Store(shardCount: 16)
        var rng = SplitMix64(seed: 42)
        var members: [[UInt8]] = []
        func draw() { members = (0..<calls).map { _ in Array("element:\(rng.next() % 1_000_000)".utf8) } }
        let key = Array("myset".utf8)
        func measure(_ hint: Int) -> Double {
            draw()
            let start = monotonicSeconds()
            key.withUnsafeBytes { k in
                for i in 0..<(calls - 2) {
                    members[i].withUnsafeBytes { m in
                        members[i + 1].withUnsafeBytes { next in
                            members[i + 2].withUnsafeBytes { after in
                                let upcoming = hint == 0 ? UpcomingElements.none
                                    : UpcomingElements(next: next, afterNext: hint == 2 ? after : nil)
                                _ = try? store.setAdd(k, [m][...], prefetching: upcoming)
                            }
                        }
                    }
                }
            }
            return (monotonicSeconds() - start) / Double(calls - 2) * 1e9
        }
        _ = measure(2)  // fills the set
        return alternating(measure)
    }

    private func monotonicSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
