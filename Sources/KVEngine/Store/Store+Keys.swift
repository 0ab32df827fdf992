// Key-space operations (Redis' db.c and expire.c): DEL, EXISTS, TYPE, RENAME, EXPIRE family, TTL family,
// PERSIST, RANDOMKEY, SCAN, KEYS.

/// NX | XX | GT | LT of EXPIRE and its kin; Redis allows XX with GT or LT, and both must hold.
public struct ExpireCondition: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let always: ExpireCondition = []
    /// NX
    public static let ifNoExpiry = ExpireCondition(rawValue: 1)
    /// XX
    public static let ifHasExpiry = ExpireCondition(rawValue: 2)
    /// GT: a key without expiry counts as expiring never, so GT never applies to it.
    public static let ifGreater = ExpireCondition(rawValue: 4)
    /// LT: a key without expiry counts as expiring never, so LT always applies to it.
    public static let ifLess = ExpireCondition(rawValue: 8)
}

extension Store {
    /// DEL / UNLINK: how many of the keys existed. Atomic across shards.
    public func delete(_ keys: [UnsafeRawBufferPointer]) -> Int {
        if keys.count == 1 { return delete(keys[0]) ? 1 : 0 }
        let now = clock()
        let n = withShardsLocked(keys, write: true) {
            keys.reduce(0) { n, k in n + (removeLocked(k, now, event: .del) ? 1 : 0) }
        }
        return n
    }

    /// DEL of one key: true when it existed.
    public func delete(_ key: UnsafeRawBufferPointer) -> Bool {
        edit(key) { e in
            e.event = .del
            return e.remove()
        }
    }

    public func delete(_ key: [UInt8]) -> Bool { key.withUnsafeBytes { delete($0) } }

    /// EXISTS / TOUCH: how many of the keys exist, a key named twice counting twice. TOUCH (`touching`)
    /// sets their access clocks; EXISTS does not, as in Redis.
    public func exists(_ keys: [UnsafeRawBufferPointer], touching: Bool = false) -> Int {
        let now = clock()
        return withShardsLocked(keys, write: false) {
            keys.reduce(0) { n, k in n + (liveValueLocked(k, now, touching: touching) { _ in () } != nil ? 1 : 0) }
        }
    }

    /// RENAME (or RENAMENX with `onlyIfAbsent`): the value (of any type; an object moves without a copy)
    /// and its expiry move to `destination`. Returns
    /// false when RENAMENX found the destination taken; noSuchKey when the source is absent.
    public func rename(_ source: UnsafeRawBufferPointer, to destination: UnsafeRawBufferPointer, onlyIfAbsent: Bool) -> Result<Bool, StoreError> {
        let now = clock()
        let r = withShardsLocked([source, destination], write: true) { () -> Result<Bool, StoreError> in
            guard let moved = takeLocked(source, now) else { return .failure(.noSuchKey) }
            if source.elementsEqual(destination) { return .success(!onlyIfAbsent) }
            if existsLocked(destination, now) {
                if onlyIfAbsent { return .success(false) }
                removeLocked(destination, now, event: .quiet)
            }
            // In Redis' steps, so that observers hear its events in its order: the destination is added
            // (`new`), the source removed (`rename_from`), then `rename_to`.
            _ = placeLocked(destination, moved, now, replace: true, event: .quiet)
            removeLocked(source, now, event: .renameFrom)
            announceLocked(destination, now, event: .renameTo)
            return .success(true)
        }
        return r
    }

    /// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT at `time` (ms since the epoch) under `condition`. A key
    /// without expiry counts as expiring never for GT and LT. A time in the past deletes the key. True
    /// when the expiry was set (or the key deleted).
    public func expire(_ key: UnsafeRawBufferPointer, at time: Int64, _ condition: ExpireCondition = .always) -> Bool {
        let now = clock()
        let done = edit(key) { e -> Bool in
            guard e.exists else { return false }
            let current = e.expiry
            if condition.contains(.ifNoExpiry) && current != nil { return false }
            if condition.contains(.ifHasExpiry) && current == nil { return false }
            if condition.contains(.ifGreater) { guard let c = current, time > c else { return false } }
            if condition.contains(.ifLess), let c = current, time >= c { return false }
            if time <= now {
                e.remove()
                e.event = .del
            } else {
                e.setExpiry(time)
                e.event = .expire
            }
            return true
        }
        return done
    }

    /// Remaining time to live in milliseconds; -2 when the key is absent, -1 when it does not expire (PTTL).
    public func timeToLive(_ key: UnsafeRawBufferPointer) -> Int64 {
        let now = clock()
        return readLive(key, touching: false) { _, x in x.map { $0 - now } ?? -1 } ?? -2
    }

    /// The absolute expiry in milliseconds; -2 when absent, -1 when persistent (PEXPIRETIME).
    public func expiryTime(_ key: UnsafeRawBufferPointer) -> Int64 {
        readLive(key, touching: false) { _, x in x ?? -1 } ?? -2
    }

    /// PERSIST: true when an expiry was removed.
    public func persist(_ key: UnsafeRawBufferPointer) -> Bool {
        let done = edit(key) { e -> Bool in
            guard e.exists, e.expiry != nil else { return false }
            e.setExpiry(nil)
            e.event = .persist
            return true
        }
        return done
    }

    /// RANDOMKEY: a random live key, or nil when there is none.
    public func randomKey() -> [UInt8]? {
        var rng = SystemRandomNumberGenerator()
        let now = clock()
        for _ in 0..<100 {
            // Shards are picked in proportion to their size by trying a random one among the non-empty.
            let sizes = shards.map { s in s.lock.withReadLock { s.map.count } }
            let total = sizes.reduce(0, +)
            guard total > 0 else { return nil }
            var pick = Int(rng.next() % UInt64(total))
            var i = 0
            while pick >= sizes[i] {
                pick -= sizes[i]
                i += 1
            }
            let s = shards[i]
            guard let e = s.lock.withReadLock({ s.map.randomEntry(using: &rng) }) else { continue }
            if let x = e.expiry, x <= now {
                e.key.withUnsafeBytes { removeIfExpired(s, $0) }
                continue
            }
            return e.key
        }
        // Mostly expired keys: fall back to a sweep.
        var found: [UInt8]? = nil
        var cursor: UInt64 = 0
        repeat {
            cursor = scan(cursor: cursor, count: 100) { k in
                if found == nil { found = Array(k) }
            }
        } while cursor != 0 && found == nil
        return found
    }

    /// SCAN over all shards: calls `body` with each live key of the next batch (whose keys match `pattern`
    /// and whose values are of `type`, when given) and returns the next cursor, 0 at the end. The cursor holds the shard in its low bits
    /// and the shard map's SCAN cursor above them, so Redis' guarantee carries over: every key present
    /// from start to end is returned at least once. `body` runs under a shard's read lock: it must be
    /// quick and must not call the store.
    public func scan(
        cursor: UInt64, count: Int = 10, pattern: GlobPattern? = nil, type: ValueType? = nil,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) rethrows -> UInt64 {
        let bits = UInt64(shards.count.trailingZeroBitCount)
        var shardIndex = Int(cursor & UInt64(shards.count - 1))
        var mapCursor = cursor >> bits
        let now = clock()
        var visited = 0
        while true {
            let s = shards[shardIndex]
            mapCursor = try s.lock.withReadLock {
                try s.map.scan(cursor: mapCursor, count: Swift.max(1, count - visited)) { k, v, x in
                    visited += 1
                    if let x, x <= now { return }
                    if let type, v.type != type { return }
                    if let pattern, !pattern.matches(k) { return }
                    try body(k)
                }
            }
            if mapCursor == 0 {
                shardIndex += 1
                if shardIndex == shards.count { return 0 }
            }
            if visited >= count { return mapCursor << bits | UInt64(shardIndex) }
        }
    }

    /// KEYS: every live key matching `pattern`.
    public func keys(matching pattern: GlobPattern) -> [[UInt8]] {
        let now = clock()
        var out: [[UInt8]] = []
        for s in shards {
            s.lock.withReadLock {
                s.map.forEachEntry { k, _, x in
                    if let x, x <= now { return }
                    if pattern.matchesEverything || pattern.matches(k) { out.append(Array(k)) }
                }
            }
        }
        return out
    }
}
