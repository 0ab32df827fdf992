import Dispatch
import Glibc
import Synchronization

// Eviction: keeping the server's memory under `maxmemory` (Redis' evict.c, docs/memory.md).
//
// WHEN. The server asks `performEvictions` before it runs a command (Redis' processCommand does the same)
// and from its cron. Nothing happens while used memory (Memory.swift: a counter, no system call) is under
// the limit. Over it, keys are evicted until it is a little under (`headroom`: a 1024th of the limit, at
// most 16 KiB, so that the commands after this one find room and keys go in batches), or until the time
// budget runs out (maxmemory-eviction-tenacity, Redis' formula: 500 us at the default 10), so one command never
// stalls. When a command's budget runs out with memory still over (a limit lowered under load), a
// background task evicts the rest in the same slices on another core, and commands go on meanwhile
// unless memory runs 5% past the limit: so 50 clients do not each spend 500 us in turn (Redis' are
// served one after another behind its evictions; measured in docs/memory.md). Only when the policy finds
// nothing it may evict (noeviction, or a volatile policy and no key with an expiry) is the answer
// `failed`, and the server then refuses commands flagged denyoom with Redis' OOM error.
//
// WHICH KEY. Redis' eight policies, with Redis' sampling: each round samples maxmemory-samples keys from
// one shard of every database (the shards in turn) into a pool of the 16 best candidates kept across
// rounds, and evicts the best candidate that still exists: the longest idle (LRU), the least frequent
// (LFU: the maps then keep Redis' LFU counter, HashMap+Eviction.swift), the nearest expiry (TTL), or a
// random one. Our own policy, `allkeys-clock` (and `volatile-clock`), needs no sampling and no pool: each
// shard's probation queue and hand (HashMap+Eviction.swift) name its next victim, the shards in turn.
//
// Memory a large value takes leaves on the lazy-free queue (LazyFree.swift) a little after its key goes:
// that memory counts as free already, so eviction does not take more keys while the queue catches up.

public enum EvictionPolicy: String, CaseIterable, Sendable {
    // Redis' order (its error message lists them so), then ours.
    case volatileLRU = "volatile-lru", volatileLFU = "volatile-lfu", volatileRandom = "volatile-random"
    case volatileTTL = "volatile-ttl"
    case allKeysLRU = "allkeys-lru", allKeysLFU = "allkeys-lfu", allKeysRandom = "allkeys-random"
    case noEviction = "noeviction"
    /// Ours: CLOCK over the map's hash order (HashMap+Eviction.swift).
    case allKeysClock = "allkeys-clock", volatileClock = "volatile-clock"

    var volatileOnly: Bool {
        switch self {
        case .volatileLRU, .volatileLFU, .volatileRandom, .volatileTTL, .volatileClock: true
        default: false
        }
    }

    /// The policy keeps Redis' LFU counters (OBJECT FREQ) rather than the LRU clock (OBJECT IDLETIME).
    public var usesLFU: Bool { self == .allKeysLFU || self == .volatileLFU }

    /// The policy queues new keys (HashMap+Eviction.swift).
    var usesProbation: Bool { self == .allKeysClock || self == .volatileClock }

    var score: EvictionScore? {
        switch self {
        case .allKeysLRU, .volatileLRU: .idle
        case .allKeysLFU, .volatileLFU: .rarity
        case .volatileTTL: .nearExpiry
        default: nil
        }
    }
}

/// The memory limit's settings (CONFIG SET changes them while the server runs).
public struct EvictionSettings: Sendable, Equatable {
    /// Bytes; 0 for no limit.
    public var maxMemory = 0
    public var policy = EvictionPolicy.noEviction
    public var samples = 5
    public var tenacity = 10
    public var lfuLogFactor = 10
    public var lfuDecayMinutes = 1

    public init() {}
}

public final class Evictor: Sendable {
    public enum Outcome: Sendable { case ok, running, failed }

    private struct Candidate {
        var score: UInt64
        var database: Int
        var key: [UInt8]
    }

    private struct State {
        var settings = EvictionSettings()
        /// The best candidates met, ascending by score (Redis' EVPOOL_SIZE).
        var pool: [Candidate] = []
        var nextShard = 0
        var nextDatabase = 0
        /// The databases with keys the policy may take (activeDatabases), and evictions until it is made again.
        var active: [Int] = []
        var activeCountdown = 0
        var random = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
    }

    private let stores: [Store]
    private let state = Mutex(State())
    /// The limit, read before every command without taking the lock.
    private let limit = Atomic<Int>(0)
    private let evicted = Atomic<Int>(0)
    /// When a command last found memory over the limit (monotonic nanoseconds).
    private let lastCommandOverLimit = Atomic<UInt64>(0)
    /// A background task is bringing memory down after a command's budget ran out.
    private let catchingUp = Atomic(false)
    private let catchUpQueue = DispatchQueue(label: "kv.evictor", qos: .userInitiated)
    private static let poolSize = 16

    /// Told how long each eviction cycle on an event loop took, when it timed itself, in nanoseconds: the
    /// server reports it to LATENCY as Redis' `eviction-cycle` event. A cycle starts its clock at its 16th
    /// key (most commands over the limit evict a batch or two and read no clock), so a cycle is reported a
    /// few microseconds short, and one of fewer keys not at all: nothing near LATENCY's smallest
    /// threshold, 1 ms.
    private let onCycle: @Sendable (UInt64) -> Void

    public init(stores: [Store], onCycle: @escaping @Sendable (UInt64) -> Void = { _ in }) {
        self.stores = stores
        self.onCycle = onCycle
    }

    public var settings: EvictionSettings { state.withLock { $0.settings } }

    public func configure(_ new: EvictionSettings) {
        let old = state.withLock { st in
            let old = st.settings
            st.settings = new
            if old.policy != new.policy { st.pool.removeAll() }
            return old
        }
        limit.store(new.maxMemory, ordering: .relaxed)
        if old.policy.usesLFU != new.policy.usesLFU || old.policy.usesProbation != new.policy.usesProbation
            || old.lfuLogFactor != new.lfuLogFactor || old.lfuDecayMinutes != new.lfuDecayMinutes
        {
            let lfu = new.policy.usesLFU ? (new.lfuLogFactor, new.lfuDecayMinutes) : nil
            for s in stores { s.trackAccess(lfu: lfu, probation: new.policy.usesProbation) }
        }
    }

    /// Keys evicted since start (INFO's evicted_keys).
    public var evictedKeys: Int { evicted.load(ordering: .relaxed) }
    public func resetStatistics() {
        evicted.store(0, ordering: .relaxed)
    }

    /// The memory the limit is checked against: used memory less what the lazy-free queue is about to free.
    public static func countedMemory() -> Int { usedMemory() - LazyFree.pendingBytes }

    /// Whether a limit is set: one atomic load, all a command pays without one.
    @inline(__always)
    public var hasLimit: Bool { limit.load(ordering: .relaxed) > 0 }

    /// Whether a command found memory over the limit within the last second, or the background task is
    /// catching up: writes then reuse what eviction frees, and compaction would move entries about to go.
    public var evictingLately: Bool {
        guard hasLimit else { return false }
        let now = coarseNanoseconds()
        return catchingUp.load(ordering: .relaxed) || now - min(now, lastCommandOverLimit.load(ordering: .relaxed)) < 1_000_000_000
    }

    /// Evicts until memory is under the limit or the time budget is spent. `failed`: over the limit with
    /// nothing the policy may evict. `running`: over the limit, with work left for later (or another
    /// thread evicting now).
    ///
    /// `background` (the server's cron, and the catch-up task) works only while catching up or when no
    /// command has found memory over the limit in the last 100 ms: memory a command on another thread
    /// holds for a moment (a large reply being built) is then not paid for with keys; commands evict for
    /// themselves before they run, as in Redis.
    public func performEvictions(background: Bool = false) -> Outcome {
        performEvictions(background: background, onCaller: true)
    }

    /// `onCaller`: whether the caller is an event loop (a command or the cron), whose clients wait while it
    /// evicts; only such cycles are told to `onCycle`, not the catch-up task's on its own thread.
    private func performEvictions(background: Bool, onCaller: Bool) -> Outcome {
        let l = limit.load(ordering: .relaxed)
        guard l > 0 else { return .ok }
        var used = Evictor.countedMemory()
        guard used > l else { return .ok }
        let now = coarseNanoseconds()
        if background {
            if !catchingUp.load(ordering: .relaxed) && now - min(now, lastCommandOverLimit.load(ordering: .relaxed)) < 100_000_000 {
                return .ok  // theirs to do
            }
        } else {
            lastCommandOverLimit.store(now, ordering: .relaxed)
            // While the background task catches up, commands go on unless memory runs 5% past the limit.
            if catchingUp.load(ordering: .relaxed) && used <= l + l / 20 { return .running }
        }
        let outcome = evict(limit: l, used: &used, reported: onCaller)
        if outcome == .running && !background && !catchingUp.exchange(true, ordering: .relaxed) {
            // A command's budget ran out with memory still over (a limit lowered under load, a large value
            // written): the rest is evicted on another thread, in the same slices, so that the commands
            // behind this one do not each spend their budget too.
            catchUpQueue.async { [self] in
                while true {
                    let r = performEvictions(background: true, onCaller: false)
                    if r != .running { break }
                    sched_yield()
                }
                catchingUp.store(false, ordering: .relaxed)
            }
        }
        return outcome
    }

    private func evict(limit l: Int, used: inout Int, reported: Bool) -> Outcome {
        state.withLockIfAvailable { st -> Outcome in
            let policy = st.settings.policy
            if policy == .noEviction { return .failed }
            let budget = Evictor.timeLimitNanoseconds(tenacity: st.settings.tenacity)
            let target = l - Evictor.headroom(limit: l)
            // The clock is read every 16 evictions, the first time to start the budget: most commands over
            // the limit evict a batch or two and read no clock at all.
            var start: UInt64 = 0
            var n = 0, timed = 0
            defer {
                evicted.wrappingAdd(n, ordering: .relaxed)
                if start != 0 && reported { onCycle(DispatchTime.now().uptimeNanoseconds - start) }
            }
            while used > target {
                let k = evictSome(&st) {
                    used = Evictor.countedMemory()
                    return used > target
                }
                guard k > 0 else { return used > l ? .failed : .ok }
                n += k
                used = Evictor.countedMemory()
                if n - timed >= 16 {
                    timed = n
                    let t = DispatchTime.now().uptimeNanoseconds
                    if start == 0 {
                        start = t
                    } else if t - start > budget {
                        return used > l ? .running : .ok
                    }
                }
            }
            return .ok
        } ?? .running
    }

    /// How far under the limit eviction brings memory once it is over.
    static func headroom(limit: Int) -> Int { min(limit >> 10, 16 << 10) }

    /// Evicts up to `count` keys under the policy, whatever the memory (the randomized tests step eviction
    /// with it); returns how many went.
    public func evict(count: Int) -> Int {
        state.withLock { st in
            var n = 0
            while n < count {
                var left = count - n
                let k = evictSome(&st) {
                    left -= 1
                    return left > 0
                }
                guard k > 0 else { break }
                n += k
            }
            evicted.wrappingAdd(n, ordering: .relaxed)
            return n
        }
    }

    /// Redis' evictionTimeLimitUs: 50 us per step of tenacity up to 10, then growing 15% a step; 100 is
    /// no limit.
    static func timeLimitNanoseconds(tenacity: Int) -> UInt64 {
        if tenacity <= 10 { return UInt64(50 * max(0, tenacity)) * 1000 }
        if tenacity < 100 { return UInt64(500.0 * pow115(tenacity - 10)) * 1000 }
        return UInt64.max
    }

    private static func pow115(_ n: Int) -> Double { (0..<n).reduce(1.0) { x, _ in x * 1.15 } }

    /// Evicts a key under the policy, or (our policy) a batch of one shard's while `more()` says so;
    /// returns how many went, 0 when there is none it may take.
    private func evictSome(_ st: inout State, while more: () -> Bool) -> Int {
        let n = evictSome(&st, from: activeDatabases(&st), while: more)
        if n > 0 { return n }
        return evictSome(&st, from: activeDatabases(&st, refresh: true), while: more)  // a database may have filled since
    }

    /// The databases holding keys the policy may take. Counting them locks every shard, so the list is
    /// kept for 1024 rounds of eviction, and made again when a search finds nothing.
    private func activeDatabases(_ st: inout State, refresh: Bool = false) -> [Int] {
        if refresh || st.activeCountdown <= 0 {
            let volatile = st.settings.policy.volatileOnly
            st.active = stores.indices.filter { stores[$0].evictableCount(volatileOnly: volatile) > 0 }
            st.activeCountdown = 1024
        }
        st.activeCountdown -= 1
        return st.active
    }

    private func evictSome(_ st: inout State, from databases: [Int], while more: () -> Bool) -> Int {
        guard !databases.isEmpty else { return 0 }
        let policy = st.settings.policy
        let volatile = policy.volatileOnly
        let shardCount = stores[0].shardCount
        switch policy {
        case .noEviction:
            return 0
        case .allKeysClock, .volatileClock:
            // The (database, shard) pairs in turn, first for a probation queue over its share (so probation
            // is a tenth of all keys, however they fall into shards), then for any victim.
            for probationOnly in [true, false] {
                for _ in 0..<(databases.count * shardCount) {
                    let db = databases[st.nextDatabase % databases.count], shard = st.nextShard
                    st.nextShard = (shard + 1) & (shardCount - 1)
                    if st.nextShard == 0 { st.nextDatabase += 1 }
                    let n = stores[db].evictByHand(shard: shard, volatileOnly: volatile, probationOnly: probationOnly, while: more)
                    if n > 0 { return n }
                }
            }
            return 0
        case .allKeysRandom, .volatileRandom:
            for _ in 0..<4 {
                let db = databases.randomElement(using: &st.random)!
                for _ in 0..<shardCount {
                    let start = Int(truncatingIfNeeded: st.random.next() >> 1)
                    if stores[db].evictRandom(shard: Int(st.random.next() % UInt64(shardCount)), volatileOnly: volatile, start: start) {
                        return 1
                    }
                }
            }
            return 0
        default:
            return evictFromPool(&st, from: databases, score: policy.score!, volatile: volatile) ? 1 : 0
        }
    }

    private func evictFromPool(_ st: inout State, from databases: [Int], score: EvictionScore, volatile: Bool) -> Bool {
        let samples = max(1, st.settings.samples)
        let shardCount = stores[0].shardCount
        var emptyRounds = 0
        for _ in 0..<64 {
            var offered = 0
            let shard = st.nextShard
            st.nextShard = (shard + 1) & (shardCount - 1)
            for db in databases {
                let start = Int(truncatingIfNeeded: st.random.next() >> 1)
                offered += stores[db].sampleForEviction(shard: shard, count: samples, volatileOnly: volatile, score: score, start: start) { k, value in
                    Evictor.insert(Candidate(score: value, database: db, key: []), key: k, into: &st.pool)
                }
            }
            if offered == 0 && st.pool.isEmpty {
                // A round of empty shards: after all of them, there is nothing to take.
                emptyRounds += 1
                if emptyRounds >= shardCount { return false }
                continue
            }
            while let best = st.pool.popLast() {
                if best.key.withUnsafeBytes({ stores[best.database].evict($0, volatileOnly: volatile) }) { return true }
            }
        }
        return false
    }

    /// Puts a candidate into the pool, keeping it sorted and at most `poolSize` long; a key already there
    /// is not added twice. The key is copied only when it gets in.
    private static func insert(_ c: Candidate, key: UnsafeRawBufferPointer, into pool: inout [Candidate]) {
        if pool.count == poolSize && c.score <= pool[0].score { return }
        if pool.contains(where: { $0.database == c.database && $0.key.elementsEqual(key) }) { return }
        var i = 0
        while i < pool.count && pool[i].score < c.score { i += 1 }
        var copy = c
        copy.key = Array(key)
        pool.insert(copy, at: i)
        if pool.count > poolSize { pool.removeFirst() }
    }
}

/// A monotonic clock to a few milliseconds, at a fraction of the precise one's cost.
private func coarseNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
