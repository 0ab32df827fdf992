// Transactions: EXEC runs its queued commands as one step. It takes, before the first command, the write
// locks of every shard the commands will touch, and holds them until the last command is done; the
// commands lock as they always do, which for the holding thread is a no-op (RWLock.lockForTransaction).
// So no other client sees a state between two of the commands, and none writes between them.
//
// Order: databases in ascending order, within each the shards in ascending order — the one global order
// the snapshot cut also follows, and that every multi-key operation follows within its database — so a
// transaction cannot deadlock with anything.

/// The shards a transaction touches, database by database: built key by key, then locked at once.
public struct TransactionLocks {
    /// Per database index: the store and a bit per shard.
    private var shards: [Int: (store: Store, bits: [UInt64])] = [:]

    public init() {}

    /// The shard of `key` in `store`.
    public mutating func add(_ store: Store, key: UnsafeRawBufferPointer) {
        let i = store.shardIndex(key)
        update(store) { $0[i >> 6] |= 1 << UInt64(i & 63) }
    }

    /// Every shard of `store`.
    public mutating func addAll(_ store: Store) {
        let n = store.shards.count
        update(store) { bits in for i in 0..<n { bits[i >> 6] |= 1 << UInt64(i & 63) } }
    }

    private mutating func update(_ store: Store, _ body: (inout [UInt64]) -> Void) {
        var entry = shards[store.index] ?? (store, [UInt64](repeating: 0, count: (store.shards.count + 63) / 64))
        body(&entry.bits)
        shards[store.index] = entry
    }

    /// Runs `body` holding the write locks of every shard added, taken in the global order.
    public func withLocks<R>(_ body: () throws -> R) rethrows -> R {
        var locked: [RWLock] = []
        for db in shards.keys.sorted() {
            let (store, bits) = shards[db]!
            for (w, word) in bits.enumerated() {
                var m = word
                while m != 0 {
                    let lock = store.shards[w * 64 + m.trailingZeroBitCount].lock
                    if lock.lockForTransaction() { locked.append(lock) }
                    m &= m - 1
                }
            }
        }
        defer { for lock in locked.reversed() { lock.unlockTransaction() } }
        return try body()
    }
}

extension Store {
    /// COPY: `key`'s value and expiry to `newKey` in `destination` (which may be this store); false when
    /// `key` is absent or `newKey` exists and `replace` is not set. Atomic across both databases.
    public func copy(_ key: UnsafeRawBufferPointer, to destination: Store, as newKey: UnsafeRawBufferPointer, replace: Bool) -> Bool {
        var locks = TransactionLocks()
        locks.add(self, key: key)
        locks.add(destination, key: newKey)
        return locks.withLocks {
            let now = clock()
            guard var source = takeLocked(key, now) else { return false }
            if case .object(let o) = source.value { source.value = .object(o.duplicate()) }
            if destination.existsLocked(newKey, now) {
                guard replace else { return false }
                // Replaced as Redis does it, deleted then added: observers hear `new`, then `copy_to`.
                destination.removeLocked(newKey, now, event: .quiet)
            }
            return destination.placeLocked(newKey, source, now, replace: true, event: .copyTo)
        }
    }

    /// MOVE: `key` with its value and expiry to `destination` (another store); false when `key` is absent
    /// here or present there. Atomic across both databases.
    public func move(_ key: UnsafeRawBufferPointer, to destination: Store) -> Bool {
        var locks = TransactionLocks()
        locks.add(self, key: key)
        locks.add(destination, key: key)
        return locks.withLocks {
            let now = clock()
            guard let taken = takeLocked(key, now), !destination.existsLocked(key, now) else { return false }
            // In Redis' steps, so that observers hear `new` there, `move_from` here, then `move_to` there.
            _ = destination.placeLocked(key, taken, now, replace: true, event: .quiet)
            removeLocked(key, now, event: .moveFrom)
            destination.announceLocked(key, now, event: .moveTo)
            return true
        }
    }
}
