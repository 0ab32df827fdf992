// Transactions: EXEC runs its queued commands as one step. It takes, before the first command, the write
// locks of every shard the commands will touch, and holds them until the last command is done; the
// commands lock as they always do, which for the holding thread is a no-op (RWLock.lockForTransaction).
// So no other client sees a state between two of the commands, and none writes between them.
//
// Order: databases in ascending order, within each the shards in ascending order — the one global order
// the snapshot cut also follows, and that every multi-key operation follows within its database — so a
// transaction cannot deadlock with anything.

/// What a transaction touches in one database: the shards of `keys`, or every shard when `keys` is nil.
public struct TransactionFootprint {
    public let store: Store
    public let keys: [[UInt8]]?

    public init(store: Store, keys: [[UInt8]]?) {
        self.store = store
        self.keys = keys
    }
}

extension Store {
    /// Runs `body` holding the write locks of every shard `footprints` names (several footprints of one
    /// store are merged; stores are ordered by their database index).
    public static func withTransactionLocks<R>(_ footprints: [TransactionFootprint], _ body: () throws -> R) rethrows -> R {
        var byStore: [(store: Store, shards: Set<Int>)] = []
        for f in footprints {
            let shards = f.keys.map { keys in Set(keys.map { k in k.withUnsafeBytes { f.store.shardIndex($0) } }) }
                ?? Set(0..<f.store.shards.count)
            if let i = byStore.firstIndex(where: { $0.store === f.store }) {
                byStore[i].shards.formUnion(shards)
            } else {
                byStore.append((f.store, shards))
            }
        }
        byStore.sort { $0.store.index < $1.store.index }
        var locked: [RWLock] = []
        for (store, shards) in byStore {
            for i in shards.sorted() {
                let lock = store.shards[i].lock
                lock.lockForTransaction()
                locked.append(lock)
            }
        }
        defer { for lock in locked.reversed() { lock.unlockTransaction() } }
        return try body()
    }
}
