import Glibc
import Synchronization

// LATENCY (Redis' latency.c): events that took at least `latency-monitor-threshold` milliseconds (0, the
// default, turns the monitor off), each with its latest sample, its maximum and a history of the last 160
// samples (one per second at most: a second's samples keep the largest), as Redis keeps them. Reported:
// `command` and `fast-command` (a command's handler), `event-loop` (one pass of an event loop over its ready
// clients, or one read of a Dispatch client: how long the others waited), `expire-cycle` (one active expiry
// pass over the databases), `snapshot-cut` (the pause while BGSAVE/SAVE takes every shard's lock to cut its
// instant), `snapshot-step` (one hold of a shard's read lock by the saver between its yields) and
// `eviction-cycle` (one call of the evictor that evicted keys, as Redis names it: Evictor.swift).
// Off, a report costs one relaxed load.

final class LatencyMonitor: @unchecked Sendable {
    struct Sample {
        var time: Int
        var milliseconds: Int
    }
    struct Series {
        var history: [Sample] = []
        var max = 0
    }

    /// latency-monitor-threshold in milliseconds; 0 off.
    let threshold = Atomic<Int>(0)
    private let events = Mutex<[String: Series]>([:])
    static let historyLength = 160

    /// Records `milliseconds` for `event` when the monitor is on and it reaches the threshold.
    func report(_ event: String, milliseconds: Int) {
        let t = threshold.load(ordering: .relaxed)
        guard t > 0, milliseconds >= t else { return }
        let now = time(nil)
        events.withLock { all in
            var s = all[event, default: Series()]
            if let last = s.history.last, last.time == now {
                s.history[s.history.count - 1].milliseconds = Swift.max(last.milliseconds, milliseconds)
            } else {
                s.history.append(Sample(time: now, milliseconds: milliseconds))
                if s.history.count > Self.historyLength { s.history.removeFirst() }
            }
            s.max = Swift.max(s.max, milliseconds)
            all[event] = s
        }
    }

    /// Every event: its name, latest sample and maximum, by name.
    func latest() -> [(event: String, sample: Sample, max: Int)] {
        events.withLock { all in all.keys.sorted().compactMap { k in all[k]!.history.last.map { (k, $0, all[k]!.max) } } }
    }

    func history(_ event: String) -> [Sample] { events.withLock { $0[event]?.history ?? [] } }

    /// Forgets the events named (all when none); how many there were.
    func reset(_ names: [String]) -> Int {
        events.withLock { all in
            if names.isEmpty {
                defer { all.removeAll() }
                return all.count
            }
            return Set(names).reduce(0) { n, k in n + (all.removeValue(forKey: k) != nil ? 1 : 0) }
        }
    }
}
