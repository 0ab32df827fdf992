// SWAPDB: two databases exchange their contents at once. Every store of a server shares one shard seed
// (Store.init's `shardSeed`), so a key's shard index is the same in every database and the swap exchanges
// shard i's map with the other store's shard i's, under the write locks of every shard of both (taken in
// the global order, as a transaction takes them). Clients keep their database objects; what those hold
// changes under them, as in Redis.
//
// Observers hear `swapped` in each database, with a way to ask whether a key was live in either before
// (WATCH dirties exactly the watchers of such keys, as Redis does). Each map's change hook is the store's
// own, so the hooks are installed again after the maps change places.
//
// A running snapshot reads captured maps under the locks of the shards it started with: while any shard of
// either store has a capture attached the swap does not happen (false); the caller retries once the saver
// has let them go.

extension Store {
    /// Exchanges this store's contents with `other`'s; false (nothing done) while a snapshot is capturing
    /// either of them.
    public func swapContents(with other: Store) -> Bool {
        precondition(other.shardSeed == shardSeed && other.shards.count == shards.count, "SWAPDB needs stores that share a shard seed")
        if other === self { return true }
        var locks = TransactionLocks()
        locks.addAll(self)
        locks.addAll(other)
        return locks.withLocks {
            if shards.contains(where: { $0.map.capture != nil }) || other.shards.contains(where: { $0.map.capture != nil }) {
                return false
            }
            let now = clock()
            let eitherLive: (UnsafeRawBufferPointer) -> Bool = { key in
                self.liveValueLocked(key, now) { _ in () } != nil || other.liveValueLocked(key, now) { _ in () } != nil
            }
            if !observers.isEmpty { tell(KeyspaceChange(database: index, kind: .swapped, containsKey: eitherLive)) }
            if !other.observers.isEmpty { other.tell(KeyspaceChange(database: other.index, kind: .swapped, containsKey: eitherLive)) }
            for (a, b) in zip(shards, other.shards) {
                let mine = a.replaceMap(with: b.map)
                _ = b.replaceMap(with: mine)
                a.expiryCursor = 0
                b.expiryCursor = 0
            }
            installHooks()
            other.installHooks()
            return true
        }
    }
}
