import RESP

// The store's side of a snapshot (Snapshot/Snapshot.swift drives it): the cut attaches a capture to each
// shard's map under every shard's write lock, the saver copies through the captures a batch at a time
// under a shard's read lock, and each capture detaches once its shard is written.

extension Store {
    /// Takes every shard's write lock (a cut across databases takes them database by database, the one
    /// global order).
    func lockForCut() { for s in shards { s.lock.lockWrite() } }

    func unlockAfterCut() { for s in shards.reversed() { s.lock.unlock() } }

    /// With every shard locked (lockForCut): attaches a capture to each shard's map and returns them with
    /// the key count and change count at the cut.
    func attachCaptures(cutTime: Int64, nested: NestedCaptures) -> (captures: [MapCapture], keys: Int, changes: Int) {
        let captures = shards.map { s in
            let c = MapCapture(map: s.map, cutTime: cutTime, nested: nested)
            s.map.capture = c
            return c
        }
        let keys = shards.reduce(0) { $0 + $1.map.count }
        let changes = shards.reduce(0) { $0 + $1.retiredChanges + $1.map.changes }
        return (captures, keys, changes)
    }

    /// One step of the saver on shard `i`: under its read lock, takes what writers copied and copies on
    /// into `batch` up to `maxBytes`. Returns the writers' records and whether the shard is done.
    func captureStep(shard i: Int, _ capture: MapCapture, into batch: ByteBuffer, maxBytes: Int) -> (copiedByWriters: [ByteBuffer], done: Bool) {
        shards[i].lock.withReadLock {
            // Take what writers copied, then copy on; with the lock held throughout, no writer can add to
            // `pending` once every class is copied.
            let taken = capture.takePending()
            capture.copyNextClasses(into: batch, maxBytes: maxBytes)
            return (taken, capture.nextClass == capture.classCount)
        }
    }

    /// Detaches `capture` from shard `i`'s map if it is still attached there.
    func detachCapture(shard i: Int, _ capture: MapCapture) {
        let s = shards[i]
        s.lock.withWriteLock { if s.map.capture === capture { s.map.capture = nil } }
    }
}
