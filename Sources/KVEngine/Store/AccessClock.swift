// The access clock: when each key was last read or written, for OBJECT IDLETIME (and, with maxmemory, the
// LRU policies' idle time).
//
// As Redis (evict.c), every entry carries a 24-bit clock in seconds, which wraps every 194 days; the idle
// time is the difference modulo 2^24. The clock lives in bytes 1-3 of the entry's header (Entry.swift),
// where a 16-byte key with a 16-byte value had padding, so for that shape it costs nothing.
//
// A read must not read the wall clock (HashMap+Lookup and Store.readLive explain why), so each map holds
// the current clock value (`HashMap.accessClock`) and entries copy it: `tickAccessClock` advances it
// from the server's cron, as Redis' serverCron refreshes its cached `lruclock`. A read stores into the
// entry only when the clock has moved since its last access.

//
// Under the LFU policies the same bits hold Redis' LFU word (HashMap+Eviction.swift), and the maps' clock
// is what a new key records: the minute in the upper 16 bits, the initial counter in the lower 8.

extension Store {
    /// The access clock at `milliseconds` since the epoch.
    static func accessClock(at milliseconds: Int64) -> UInt32 {
        UInt32(truncatingIfNeeded: milliseconds / 1000) & accessClockMask
    }

    /// What a new key records at `milliseconds` under `tracking`.
    static func accessClock(at milliseconds: Int64, _ tracking: AccessTracking) -> UInt32 {
        guard tracking.isLFU else { return accessClock(at: milliseconds) }
        return UInt32(truncatingIfNeeded: milliseconds / 60_000) & 0xFFFF << 8 | lfuInitialCounter
    }

    /// Brings every map's access clock to the current second. Cheap when it has not moved: one atomic load.
    public func tickAccessClock() {
        let c = Store.accessClock(at: clock(), accessTracking.withLock { $0 })
        guard accessClockValue.exchange(c, ordering: .relaxed) != c else { return }
        for s in shards { s.lock.withWriteLock { s.map.accessClock = c } }
    }

    /// Makes reads record Redis' LFU counter (`lfu`: lfu-log-factor and lfu-decay-time) or the LRU clock
    /// (nil), as the eviction policy needs.
    /// `probation`: new keys are queued for our eviction policy (HashMap+Eviction.swift).
    public func trackAccess(lfu: (logFactor: Int, decayMinutes: Int)?, probation: Bool = false) {
        var t = AccessTracking()
        t.probation = probation
        if let lfu {
            t.lfuLogFactor = lfu.logFactor
            t.lfuDecayMinutes = lfu.decayMinutes
        }
        accessTracking.withLock { $0 = t }
        let c = Store.accessClock(at: clock(), t)
        accessClockValue.store(c, ordering: .relaxed)
        for s in shards {
            s.lock.withWriteLock {
                s.map.access = t
                s.map.accessClock = c
                if !probation { s.map.probation.removeAll() }
            }
        }
    }

    /// OBJECT FREQ: the key's LFU counter after decay (meaningful under an LFU policy); nil when absent.
    public func accessFrequency(_ key: UnsafeRawBufferPointer) -> Int? {
        let s = shard(key)
        guard readLive(key, touching: false, { _, _ in () }) != nil else { return nil }
        return s.lock.withReadLock { () -> Int? in
            guard let e = s.map.lookup(key) else { return nil }
            return Int(s.map.lfuCounter(e.access))
        }
    }

    /// OBJECT IDLETIME: seconds since `key` was last read or written (by commands that touch, as in Redis;
    /// TYPE, TTL, EXISTS and OBJECT do not); nil when absent.
    public func idleTime(_ key: UnsafeRawBufferPointer) -> Int64? {
        let s = shard(key)
        guard readLive(key, touching: false, { _, _ in () }) != nil else { return nil }
        return s.lock.withReadLock { () -> Int64? in
            guard let e = s.map.lookup(key) else { return nil }
            let now = s.map.accessClock, then = e.access
            // Redis' estimateObjectIdleTime: modulo 2^24, the wrapped case one short as there.
            return Int64(now >= then ? now - then : now + (accessClockMask - then))
        }
    }
}

extension EntryEditor {
    /// Sets the entry's access clock to `seconds` before the map's clock (RESTORE ... IDLETIME), at the
    /// clock's zero at most, as Redis clamps it.
    public mutating func setIdleTime(seconds: Int64) {
        guard bucket != nil, withMap({ !$0.access.isLFU }) else { return }
        let now = Int64(withMap { $0.accessClock })
        entry.touch(UInt32(max(0, now - seconds)))
    }

    /// Sets the entry's LFU counter (RESTORE ... FREQ), under an LFU policy only, as Redis.
    public mutating func setFrequency(_ counter: Int) {
        guard bucket != nil, withMap({ $0.access.isLFU }) else { return }
        let word = entry.base.load(as: UInt32.self)
        entry.base.storeBytes(of: word & 0xFF | ((withMap { $0.accessClock } >> 8) << 8 | UInt32(min(255, max(0, counter)))) << 8, as: UInt32.self)
    }
}
