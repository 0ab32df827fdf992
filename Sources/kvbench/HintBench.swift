import Glibc
import KVEngine

// kvbench hints: what a pipeline's look ahead buys a command on one large value. SADD of members
// "element:N", N random below 1M (redis-benchmark's `sadd` test), into one set that fills to nearly all of
// them, through the store, each call given the hints the server would give it (`UpcomingElements`): none,
// the next member's bucket, or the next two (the next one's entry and the one after's bucket). Rounds
// alternate the order of the three; medians of ns per SADD (each call's one-element array included).
struct HintBench {
    let calls = 2_000_000
    let rounds = 5

    func run() {
        let store = Store(shardCount: 16)
        var rng = SplitMix64(seed: 42)
        var members: [[UInt8]] = []
        func draw() { members = (0..<calls).map { _ in Array("element:\(rng.next() % 1_000_000)".utf8) } }
        let names = ["no hint", "next member's bucket", "next's entry, the one after's bucket"]
        func measure(_ mode: Int) -> Double {
            let key = Array("myset".utf8)
            let start = monotonicSeconds()
            key.withUnsafeBytes { k in
                for i in 0..<(calls - 2) {
                    members[i].withUnsafeBytes { m in
                        members[i + 1].withUnsafeBytes { next in
                            members[i + 2].withUnsafeBytes { after in
                                let hint = mode == 0 ? UpcomingElements.none
                                    : UpcomingElements(next: next, afterNext: mode == 2 ? after : nil)
                                _ = try? store.setAdd(k, [m][...], prefetching: hint)
                            }
                        }
                    }
                }
            }
            return (monotonicSeconds() - start) / Double(calls - 2) * 1e9
        }
        draw()
        _ = measure(2)  // fills the set
        var ns = [[Double]](repeating: [], count: names.count)
        for r in 0..<rounds {
            for mode in r % 2 == 0 ? [0, 1, 2] : [2, 1, 0] {
                draw()
                ns[mode].append(measure(mode))
            }
        }
        let size = Array("myset".utf8).withUnsafeBytes { (try? store.setCount($0)) ?? 0 }
        print("SADD into one set of \(size) members: ns per call, median of \(rounds) rounds [min-max]")
        for (mode, name) in names.enumerated() {
            let s = ns[mode].sorted()
            print("  \(name.padding(toLength: 40, withPad: " ", startingAt: 0)) \(Int(s[s.count / 2]))  [\(Int(s[0]))-\(Int(s[s.count - 1]))]")
        }
    }

    private func monotonicSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
