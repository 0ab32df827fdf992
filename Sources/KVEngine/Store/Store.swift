import Dispatch
import Glibc
import Synchronization

// The store: what the server calls. Keys are spread over 2^n shards by a keyed hash (its own seed,
// independent of the maps' seeds); each shard is one HashMap behind a reader-writer lock, so reads of
// different keys run in parallel and writes exclude only their own shard.
//
// Locking rules: an operation on one key takes that key's shard lock once. An operation on several keys
// (MGET, MSET, MSETNX, DEL, EXISTS, RENAME) takes the locks of all shards involved in ascending shard
// order and releases them together, so it is atomic to every other client and cannot deadlock. No I/O
// and no callback into the server happens under a lock beyond copying bytes.
//
// Expiry (Redis' semantics): an expired key is never returned. A read that finds one answers "absent" and
// then deletes it under the write lock; a write removes it before acting. The active cycle (Expiry.swift)
// sweeps keys nobody touches. Times are milliseconds since the Unix epoch, from `clock`.
//
// Every change reaches a map through `HashMap.update` (commands, lazy and active expiry, the loader) or
// through `flush`; the map reports each write's effect to the change hook the store installs while it
// has observers (Observers.swift), so WATCH, notifications and the like see every change in order.

public final class Store: @unchecked Sendable {
    /// Owns the shards.
    let shards: [Shard]
    /// The same shards, read without reference counting on every operation (see Shard.map).
    let shardTable: ContiguousArray<UnownedShard>
    let shardShift: UInt64
    let shardSeed: HashSeed
    /// Largest value a write may produce (Redis' proto-max-bulk-len): larger ones fail with stringTooLong.
    /// May change while the store is in use (CONFIG SET).
    public var maxValueSize: Int {
        get { maxValueSizeLimit.load(ordering: .relaxed) }
        set { maxValueSizeLimit.store(newValue, ordering: .relaxed) }
    }
    private let maxValueSizeLimit: Atomic<Int>
    let clock: @Sendable () -> Int64
    /// changesSinceReset = the shards' counts minus this.
    let changesBaseline = Mutex(0)
    let maintenance = Mutex<DispatchSourceTimer?>(nil)
    let expiryStats = Mutex(ExpiryCycleStats())
    /// The database number this store is (what observers are told).
    public let index: Int
    /// Told of every change (Observers.swift). Written only with every shard's write lock held, so
    /// holding any one shard's lock is enough to read it.
    var observers: [any KeyspaceObserver] = []
    /// When hashes and sets leave their compact forms (shared by a server's databases: CONFIG SET).
    public let encodingLimits: EncodingLimits
    /// The maps' access clock as last set by `tickAccessClock` (AccessClock.swift).
    let accessClockValue = Atomic<UInt32>(0)
    /// What the maps' entries record on access (AccessClock.swift, HashMap+Eviction.swift).
    let accessTracking = Mutex(AccessTracking())
    /// Random draws (SPOP, SRANDMEMBER, HRANDFIELD) seed their generator from this counter, from a random
    /// start: a relaxed add per command instead of a getrandom system call (5% of SPOP's time at P16 in a
    /// profile).
    private let drawCounter = Atomic<UInt64>(UInt64.random(in: 0...UInt64.max))

    /// A generator for one command's random draws: its seed is the counter's next value passed through
    /// SplitMix64's mixer, so consecutive commands start at unrelated points of the sequence (seeding with
    /// the counter itself would make command k+1 draw command k's numbers shifted by one).
    func drawGenerator() -> SplitMix64 {
        var mixer = SplitMix64(seed: drawCounter.wrappingAdd(1, ordering: .relaxed).oldValue)
        return SplitMix64(seed: mixer.next())
    }

    /// - Parameters:
    ///   - shardCount: a power of two (16 by default: see docs/benchmarks.md).
    ///   - maxValueSize: bytes (512 MiB by default, as Redis).
    ///   - clock: milliseconds since the epoch; the wall clock by default (tests pass their own).
    ///   - fixedSeed: for tests and debugging only; every map then hashes with a known seed.
    ///   - shardSeed: the seed that spreads keys over shards; a server gives all its databases one, so that
    ///     SWAPDB can exchange their shards' maps pairwise (Store+Swap.swift). Random by default.
    public init(
        shardCount: Int = 16, maxValueSize: Int = 512 << 20,
        clock: (@Sendable () -> Int64)? = nil, fixedSeed: UInt64? = nil, shardSeed: UInt64? = nil, index: Int = 0,
        encodingLimits: EncodingLimits = EncodingLimits()
    ) {
        self.index = index
        self.encodingLimits = encodingLimits
        precondition(shardCount > 0 && shardCount & (shardCount - 1) == 0, "shard count must be a power of two")
        shards = (0..<shardCount).map { i in
            Shard(map: fixedSeed.map { HashMap(fixedSeed: $0 &+ UInt64(i)) } ?? HashMap())
        }
        shardTable = ContiguousArray(shards.map { UnownedShard(shard: $0) })
        shardShift = UInt64(64 - shardCount.trailingZeroBitCount)
        self.shardSeed = HashSeed(fixedSeed ?? shardSeed ?? randomSeed())
        maxValueSizeLimit = Atomic(maxValueSize)
        self.clock = clock ?? { wallClockMilliseconds() }
        tickAccessClock()
    }

    deinit { stopMaintenance() }

    public var shardCount: Int { shards.count }

    /// Milliseconds since the epoch, as the store sees it.
    public var now: Int64 { clock() }

    /// Keys written or removed since the counter was last reset (Redis' "changes since last save"). Each
    /// map counts its own under its write lock: a store-wide atomic would bounce one cache line between
    /// the cores on every write.
    public var changesSinceReset: Int { totalChanges() - changesBaseline.withLock { $0 } }
    public func resetChanges() {
        let now = totalChanges()
        changesBaseline.withLock { $0 = now }
    }

    /// Makes the counter count from a snapshot's cut (Snapshot.changesAtCut) after that snapshot is saved:
    /// changes made while it was written still count.
    public func resetChanges(to changesAtCut: Int) {
        changesBaseline.withLock { $0 = Swift.max($0, changesAtCut) }
    }

    private func totalChanges() -> Int {
        shards.reduce(0) { n, s in n + s.lock.withReadLock { s.retiredChanges + s.map.changes } }
    }

    @inline(__always)
    func shardIndex(_ key: UnsafeRawBufferPointer) -> Int { KVEngine.shardIndex(key, seed: shardSeed, shift: shardShift) }

    @inline(__always) func shard(_ key: UnsafeRawBufferPointer) -> Shard { shardTable[shardIndex(key)].shard }

    /// A hint that `key` is about to be looked up (the next request of a pipeline): prefetches its bucket,
    /// without a lock (LookupHint.swift).
    @inline(__always)
    public func prefetch(_ key: UnsafeRawBufferPointer) {
        shardTable[shardIndex(key)].reference._withUnsafeGuaranteedRef { $0.lookupHint.prefetch(key) }
    }

    /// A hint that `key` is looked up next, its bucket asked for by `prefetch` a request ago: reads that
    /// bucket under the shard's read lock and prefetches the entry it points to.
    @inline(__always)
    public func prefetchEntry(_ key: UnsafeRawBufferPointer) {
        withShard(key) { (s) -> Void in s.lock.withReadLock { s.withMap { m in m.prefetchEntry(m.hash(key)) } } }
    }

    /// Runs `body` with `key`'s shard, borrowed: the paths every GET and SET take, where `shard(key)` would
    /// cost an atomic retain and release (callgrind). Its map is borrowed under its lock (`Shard.withMap`).
    @inline(__always)
    func withShard<R, E: Error>(_ key: UnsafeRawBufferPointer, _ body: (Shard) throws(E) -> R) throws(E) -> R {
        let result = shardTable[shardIndex(key)].reference._withUnsafeGuaranteedRef { s in
            Result { () throws(E) -> R in try body(s) }
        }
        return try result.get()
    }

    // MARK: One-key access

    /// Runs `body` with the live value of `key` under its shard's read lock; nil if absent or expired.
    /// The clock is read only for keys that have an expiry: reading it (rdtsc behind an lfence) stops the
    /// processor from overlapping one lookup's memory misses with the next one's. `touching`: the read is
    /// an access (OBJECT IDLETIME; false for TYPE, TTL, OBJECT, as Redis' LOOKUP_NOTOUCH).
    @inline(__always)
    package func readLive<R, E: Error>(
        _ key: UnsafeRawBufferPointer, touching: Bool = true, _ body: (StoredValue, Int64?) throws(E) -> R
    ) throws(E) -> R? {
        try withShard(key) { (s) throws(E) -> R? in
            var expired = false
            let r: R?? = try s.lock.withReadLock { () throws(E) -> R?? in
                try s.withMap { (map) throws(E) -> R?? in
                    try map.withStoredValue(forKey: key, touching: touching) { v, x throws(E) -> R? in
                        if let x, x <= clock() {
                            expired = true
                            return nil
                        }
                        return try body(v, x)
                    }
                }
            }
            if expired { removeIfExpired(s, key) }
            return r ?? nil
        }
    }

    /// Runs `body` with the editor of `key` under its shard's write lock. An expired entry is removed
    /// first, so `body` sees only live keys.
    @inline(__always)
    func edit<R, E: Error>(_ key: UnsafeRawBufferPointer, _ body: (inout EntryEditor) throws(E) -> R) throws(E) -> R {
        try withShard(key) { (s) throws(E) -> R in
            try s.lock.withWriteLock { () throws(E) -> R in
                try s.withMap { (map) throws(E) -> R in
                    try map.update(key) { (e: inout EntryEditor) throws(E) -> R in
                        removeIfExpired(&e, s, now: clock())
                        return try body(&e)
                    }
                }
            }
        }
    }

    /// `edit` for a caller that holds the shard's write lock already.
    @inline(__always)
    func editLocked<R, E: Error>(
        _ s: Shard, _ key: UnsafeRawBufferPointer, _ now: Int64, _ body: (inout EntryEditor) throws(E) -> R
    ) throws(E) -> R {
        try s.map.update(key) { (e: inout EntryEditor) throws(E) -> R in
            removeIfExpired(&e, s, now: now)
            return try body(&e)
        }
    }

    /// Removes the editor's entry if it has expired by `now` (read only for entries with an expiry) and
    /// counts it in the shard's expired keys.
    @inline(__always)
    func removeIfExpired(_ e: inout EntryEditor, _ s: Shard, now: @autoclosure () -> Int64) {
        if let x = e.expiry, x <= now() {
            e.remove(expired: true)
            s.expiredKeys += 1
        }
    }

    func removeIfExpired(_ s: Shard, _ key: UnsafeRawBufferPointer) {
        let now = clock()
        s.lock.withWriteLock {
            s.map.update(key) { e in removeIfExpired(&e, s, now: now) }
        }
    }

    // MARK: Several keys

    /// Runs `body` holding the locks of every shard the keys live in, taken in ascending shard order.
    func withShardsLocked<R, E: Error>(_ keys: [UnsafeRawBufferPointer], write: Bool, _ body: () throws(E) -> R) throws(E) -> R {
        var indexes = keys.map(shardIndex)
        indexes.sort()
        var last = -1
        var locked: [Int] = []
        locked.reserveCapacity(indexes.count)
        for i in indexes where i != last {
            if write { shards[i].lock.lockWrite() } else { shards[i].lock.lockRead() }
            locked.append(i)
            last = i
        }
        defer { for i in locked.reversed() { shards[i].lock.unlock() } }
        return try body()
    }

    /// `body` of the live value of `key`, for a caller that holds the key's shard lock (read or write);
    /// nil when absent or expired at `now`.
    @inline(__always)
    func liveValueLocked<R>(
        _ key: UnsafeRawBufferPointer, _ now: Int64, touching: Bool = false, _ body: (StoredValue) -> R
    ) -> R? {
        shard(key).map.withStoredValue(forKey: key, touching: touching) { v, x -> R? in
            if let x, x <= now { return nil }
            return body(v)
        } ?? nil
    }

    // MARK: The whole keyspace

    /// Number of keys (expired keys not yet removed included, as Redis' DBSIZE). Exact once writers are done.
    public var count: Int {
        shards.reduce(0) { n, s in n + s.lock.withReadLock { s.map.count } }
    }

    /// Removes every key, holding every shard's lock so that the flush is one change in the order observers
    /// see. With `async`, each shard's map is swapped for an empty one and freed on a background queue, so
    /// the caller does not wait for the memory to be released.
    public func flush(async: Bool = false) {
        withAllShardsLocked {
            if !observers.isEmpty {
                // Told before the keys go, so that observers may ask which existed (WATCH dirties only those).
                let now = clock()
                tell(KeyspaceChange(database: index, kind: .flushed, containsKey: { self.liveValueLocked($0, now) { _ in () } != nil }))
            }
            for s in shards {
                s.expiryCursor = 0
                if async || s.map.capture != nil {
                    // A running snapshot keeps reading the old map through its capture, so FLUSHALL
                    // during BGSAVE copies nothing.
                    nonisolated(unsafe) let old = s.replaceMap(with: freshMap(like: s.map))  // no one else holds it now
                    s.retiredChanges += old.changes + old.count
                    DispatchQueue.global(qos: .utility).async { withExtendedLifetime(old) {} }
                } else {
                    s.map.removeAll()
                }
            }
        }
    }

    private func freshMap(like old: HashMap) -> HashMap {
        let map = old.seedIsFixed ? HashMap(fixedSeed: old.seed.secret &+ 1) : HashMap()
        map.changeHook = old.changeHook
        map.accessClock = old.accessClock
        map.access = old.access
        return map
    }

    /// Runs `body` holding every shard's write lock, taken in ascending order.
    func withAllShardsLocked<R>(_ body: () throws -> R) rethrows -> R {
        for s in shards { s.lock.lockWrite() }
        defer { for s in shards.reversed() { s.lock.unlock() } }
        return try body()
    }

    /// Per-shard map statistics and their sum. Each shard is read under its read lock, one at a time.
    /// `histograms: false` gives the O(1) summaries (HashMap.summary()).
    public func statistics(histograms: Bool = true) -> StoreStatistics {
        let perShard = shards.map { s in s.lock.withReadLock { histograms ? s.map.statistics() : s.map.summary() } }
        var total = MapStatistics()
        for st in perShard { total.add(st) }
        return StoreStatistics(shards: perShard, total: total)
    }

    /// One shard's statistics (STATS SHARD n).
    public func statistics(shard i: Int) -> MapStatistics {
        let s = shards[i]
        return s.lock.withReadLock { s.map.statistics() }
    }

    /// Keys removed because they had expired, since the store was made (INFO's expired_keys).
    public var expiredKeys: Int {
        shards.reduce(0) { n, s in n + s.lock.withReadLock { s.expiredKeys } }
    }

    /// DEBUG BREAK-MAP: corrupts the map holding `key` (HashMap.debugCorruptTopHash). Tests only.
    package func debugCorruptTopHash(ofKey key: UnsafeRawBufferPointer) -> Bool {
        let s = shard(key)
        return s.lock.withWriteLock { s.map.debugCorruptTopHash(ofKey: key) }
    }

    /// Keys that carry an expiry (Redis' `expires` in INFO keyspace).
    public var expiringCount: Int {
        shards.reduce(0) { n, s in n + s.lock.withReadLock { s.map.expiringCount } }
    }

    /// Runs the map verifier over every shard, one shard at a time under its read lock.
    public func verify() -> StoreInvariantViolation? {
        for (i, s) in shards.enumerated() {
            let v = s.lock.withReadLock { () -> MapInvariantViolation? in
                if s.map.lookupHint !== s.lookupHint {
                    return MapInvariantViolation(array: "current", bucket: 0, slot: nil, message: "the map publishes its lookup hint to another shard")
                }
                return s.map.verify()
            }
            if let v { return StoreInvariantViolation(shard: i, violation: v) }
        }
        return nil
    }
}

/// The shard of `key` among 2^(64 - shift) shards: the top bits of its keyed hash (shift 64 = one shard).
@inline(__always)
func shardIndex(_ key: UnsafeRawBufferPointer, seed: HashSeed, shift: UInt64) -> Int {
    shift == 64 ? 0 : Int(truncatingIfNeeded: hashBytes(key, seed: seed) >> shift)
}

/// A shard, unretained (the store's `shards` array owns it): `withShard` borrows it with no reference
/// counting; `shard`, for the other paths, is retained around each use (see EntryEditor.withMap).
struct UnownedShard {
    let reference: Unmanaged<Shard>
    init(shard: Shard) { reference = .passUnretained(shard) }
    var shard: Shard { @inline(__always) _read { yield reference.takeUnretainedValue() } }
}

public struct StoreStatistics: Sendable {
    public let shards: [MapStatistics]
    public let total: MapStatistics
}

public struct StoreInvariantViolation: Error, CustomStringConvertible, Sendable {
    public let shard: Int
    public let violation: MapInvariantViolation
    public var description: String { "shard \(shard): \(violation)" }
}
