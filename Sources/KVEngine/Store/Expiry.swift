import Dispatch

// Active expiry: removing expired keys that nobody touches (Redis' activeExpireCycle, expire.c).
//
// Redis samples its separate table of keys with a TTL; our expiry lives in the entry, so the cycle sweeps
// each shard with a SCAN cursor (which survives growth and shrink and reaches every key) in small batches,
// each under the shard's write lock for a bounded time. A cycle spends up to `budget`, and up to
// `maxBudget` (Redis: 25% of the CPU) while more than 10% of the keys with a TTL it meets are expired;
// it stops early once a whole round of shards finds nothing expired. As in Redis, the expired keys left
// in memory are then about 10% of the keys with a TTL at most.

public struct ExpiryCycleStats: Sendable {
    public var cycles = 0
    public var sampled = 0
    public var expired = 0
}

extension Store {
    /// One active-expiry cycle. Returns how many keys it removed.
    @discardableResult
    public func activeExpireCycle(budget: Duration = .milliseconds(1), maxBudget: Duration = .milliseconds(25)) -> Int {
        let start = DispatchTime.now().uptimeNanoseconds
        let soft = start + budget.nanoseconds
        let hard = start + maxBudget.nanoseconds
        var volatile = 0
        var expired = 0
        var sampled = 0
        var i = Int.random(in: 0..<shards.count)
        var idleShards = 0
        while idleShards < shards.count {
            let t = DispatchTime.now().uptimeNanoseconds
            if t >= hard || (t >= soft && expired * 10 <= volatile) { break }
            let s = shards[i]
            var batch: [[UInt8]] = []
            s.lock.withWriteLock {
                let now = clock()
                if s.map.isEmpty { return }
                s.expiryCursor = s.map.scan(cursor: s.expiryCursor, count: 32) { k, _, x in
                    sampled += 1
                    guard let x else { return }
                    volatile += 1
                    if x <= now { batch.append(Array(k)) }
                }
                for k in batch { k.withUnsafeBytes { k in s.map.update(k) { $0.remove(expired: true) } } }
                s.expiredKeys += batch.count
                if s.map.isGrowing { s.map.advanceGrowth(maxBuckets: 32) }
            }
            expired += batch.count
            idleShards = batch.isEmpty ? idleShards + 1 : 0
            i = (i + 1) & (shards.count - 1)
        }
        expiryStats.withLock {
            $0.cycles += 1
            $0.sampled += sampled
            $0.expired += expired
        }
        return expired
    }

    public var expiryCycleStats: ExpiryCycleStats { expiryStats.withLock { $0 } }

    /// Runs `activeExpireCycle` every `interval` on a background queue (Redis' hz 10 = every 100 ms),
    /// which also finishes map growths left half-done by idle shards.
    public func startMaintenance(interval: Duration = .milliseconds(100)) {
        maintenance.withLock { timer in
            guard timer == nil else { return }
            let t = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "kv.store.maintenance", qos: .utility))
            let ns = Int(Swift.max(1_000_000, interval.nanoseconds))
            t.schedule(deadline: .now() + .nanoseconds(ns), repeating: .nanoseconds(ns))
            t.setEventHandler { [weak self] in
                self?.tickAccessClock()
                self?.activeExpireCycle()
            }
            t.resume()
            timer = t
        }
    }

    public func stopMaintenance() {
        maintenance.withLock { timer in
            timer?.cancel()
            timer = nil
        }
    }
}

extension Duration {
    var nanoseconds: UInt64 {
        UInt64(Swift.max(0, components.seconds)) * 1_000_000_000 + UInt64(Swift.max(0, components.attoseconds)) / 1_000_000_000
    }
}
