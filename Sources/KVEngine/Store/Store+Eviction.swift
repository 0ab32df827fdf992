// One database's part in eviction (the policies and the loop are Evictor.swift's): candidates sampled from
// a shard with their scores, and the removal itself, which goes through the change path like every other
// (event `evicted`: keyspace notifications, WATCH and a running snapshot see it as Redis' evict.c makes
// them see it).

/// How a policy ranks a sampled key: the higher the score, the sooner it goes.
enum EvictionScore {
    /// LRU: seconds since the last access.
    case idle
    /// LFU: 255 minus the decayed counter.
    case rarity
    /// TTL: the nearer the expiry, the higher.
    case nearExpiry
}

extension Store {
    /// Keys the policy could evict: all of them, or (`volatileOnly`) those with an expiry. Locks each shard.
    func evictableCount(volatileOnly: Bool) -> Int {
        shards.reduce(0) { n, s in n + s.lock.withReadLock { volatileOnly ? s.map.expiringCount : s.map.count } }
    }

    /// Calls `body` with up to `count` keys of shard `shardIndex` (keys with an expiry only, for
    /// `volatileOnly`), each with its score, near a random position. Returns how many it offered.
    @discardableResult
    func sampleForEviction(
        shard shardIndex: Int, count: Int, volatileOnly: Bool, score: EvictionScore, start: Int,
        _ body: (UnsafeRawBufferPointer, UInt64) -> Void
    ) -> Int {
        let s = shards[shardIndex & (shards.count - 1)]
        var offered = 0
        s.lock.withReadLock {
            let m = s.map
            guard volatileOnly ? m.expiringCount > 0 : m.count > 0 else { return }
            let now = m.accessClock
            // A volatile sample walks further: keys with an expiry may be few among the rest.
            m.sample(fromClass: start, count: volatileOnly ? 16 * count : count, maxClasses: volatileOnly ? 64 : 16) { e in
                guard offered < count, !volatileOnly || e.hasExpiry else { return }
                let value: UInt64
                switch score {
                case .idle:
                    let then = e.access
                    value = UInt64(now >= then ? now - then : now + (accessClockMask - then))
                case .rarity: value = UInt64(255 - m.lfuCounter(e.access))
                case .nearExpiry: value = UInt64.max - UInt64(max(0, e.expiry ?? Int64.max))
                }
                body(e.key, value)
                offered += 1
            }
        }
        return offered
    }

    /// Removes `key` because memory must be freed; false when it is gone already (or has expired, and is
    /// removed as such), or, with `volatileOnly`, has no expiry any more (a candidate sampled earlier may
    /// have been overwritten since: Redis looks volatile candidates up in its expires table).
    func evict(_ key: UnsafeRawBufferPointer, volatileOnly: Bool) -> Bool {
        edit(key) { $0.evict(volatileOnly: volatileOnly) }
    }

    /// Evicts a random key of shard `shardIndex` (with an expiry, for `volatileOnly`); false when it has none.
    func evictRandom(shard shardIndex: Int, volatileOnly: Bool, start: Int) -> Bool {
        var key: [UInt8]? = nil
        sampleForEviction(shard: shardIndex, count: 1, volatileOnly: volatileOnly, score: .idle, start: start) { k, _ in
            key = Array(k)
        }
        guard let key else { return false }
        return key.withUnsafeBytes { evict($0, volatileOnly: volatileOnly) }
    }

    /// Our own policy: evicts shard `shardIndex`'s next victims (HashMap+Eviction.swift), from its probation
    /// queue or (unless `probationOnly`) from its hand, while `more()` (asked after each) says so, at most
    /// `evictionBatch` under one hold of the shard's lock; returns how many went, 0 when the bound found no
    /// victim. One key at a time, the lock, the turn of shards and the policy's bookkeeping cost as much as
    /// finding and removing the key (a profile of an evicting server, docs/memory.md).
    func evictByHand(shard shardIndex: Int, volatileOnly: Bool, probationOnly: Bool, while more: () -> Bool) -> Int {
        let s = shards[shardIndex & (shards.count - 1)]
        let now = clock()
        return s.lock.withWriteLock {
            var evicted = 0
            // A victim whose time had come is removed as expired; the hand then names another.
            while evicted < Store.evictionBatch && (volatileOnly ? s.map.expiringCount > 0 : s.map.count > 0) {
                guard let key = s.map.nextVictim(volatileOnly: volatileOnly, probationOnly: probationOnly) else { break }
                if key.withUnsafeBytes({ editLocked(s, $0, now) { $0.evict(volatileOnly: false) } }) {
                    evicted += 1
                    if !more() { break }
                }
            }
            return evicted
        }
    }

    /// The most keys `evictByHand` takes under one hold of a shard's lock: a few microseconds.
    static let evictionBatch = 16
}

extension EntryEditor {
    /// Removes the key as eviction's (event `evicted`); false when it is absent (an expired entry was
    /// removed as such by the store's edit) or, with `volatileOnly`, has no expiry.
    mutating func evict(volatileOnly: Bool) -> Bool {
        guard exists, !volatileOnly || expiry != nil else { return false }
        event = .evicted
        remove()
        return true
    }
}
