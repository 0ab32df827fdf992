import Dispatch
import Synchronization

// Lazy freeing: a large value leaves the keyspace at once (DEL, UNLINK, an overwrite, expiry, a flush)
// but is freed on a background queue, as Redis' lazyfree does, so that freeing a 10M-field hash does not
// stall the event loop that deleted it. Nothing can reach the object any more when it is queued: the map's
// entry is gone and snapshots hold copies, so the queue holds its last reference.
//
// "Large" is by the bytes the object reports: freeing a compact value is a single free(), cheaper than a
// hand-off; an inner map of thousands of entries is worth moving off the loop (Redis' threshold is 64
// elements; 64 KiB is about that many fields of a few dozen bytes).

public enum LazyFree {
    static let thresholdBytes = 64 << 10
    private static let queue = DispatchQueue(label: "kv.lazyfree", qos: .utility)
    private static let pending = Atomic<Int>(0)
    private static let freed = Atomic<Int>(0)
    private static let queuedBytes = Atomic<Int>(0)

    /// Objects queued and not yet freed (INFO's lazyfree_pending_objects).
    public static var pendingObjects: Int { pending.load(ordering: .relaxed) }
    /// The bytes the queued objects reported: memory about to come back, which eviction counts as gone
    /// (Evictor.swift) rather than evicting more while the queue frees it.
    public static var pendingBytes: Int { queuedBytes.load(ordering: .relaxed) }
    /// Objects freed in the background since start (INFO's lazyfreed_objects).
    public static var freedObjects: Int { freed.load(ordering: .relaxed) }

    /// Drops `reference` (the map's own, handed over: the caller holds no other) on the background queue.
    static func release(_ reference: Unmanaged<StoredObject>, bytes: Int) {
        nonisolated(unsafe) let r = reference
        pending.wrappingAdd(1, ordering: .relaxed)
        queuedBytes.wrappingAdd(bytes, ordering: .relaxed)
        queue.async {
            r.release()
            queuedBytes.wrappingSubtract(bytes, ordering: .relaxed)
            pending.wrappingSubtract(1, ordering: .relaxed)
            freed.wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// Waits until every queued object has been freed (tests, shutdown).
    public static func drain() { queue.sync {} }
}
