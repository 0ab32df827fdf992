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

extension Store {
    /// The access clock at `milliseconds` since the epoch.
    static func accessClock(at milliseconds: Int64) -> UInt32 {
        UInt32(truncatingIfNeeded: milliseconds / 1000) & accessClockMask
    }

    /// Brings every map's access clock to the current second. Cheap when it has not moved: one atomic load.
    public func tickAccessClock() {
        let c = Store.accessClock(at: clock())
        guard accessClockValue.exchange(c, ordering: .relaxed) != c else { return }
        for s in shards { s.lock.withWriteLock { s.map.accessClock = c } }
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
        guard bucket != nil else { return }
        let now = Int64(map.accessClock)
        entry.touch(UInt32(max(0, now - seconds)))
    }
}
