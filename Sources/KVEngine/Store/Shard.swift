/// One shard: a map and the lock that guards it. Readers share the lock, writers exclude.
final class Shard: @unchecked Sendable {
    let lock = RWLock()
    /// Owns the map. Guarded by `lock`. Replaced whole by an asynchronous flush.
    private var ownedMap: HashMap
    /// The same map, unretained: the store's hot paths borrow it through `withMap` with no reference
    /// counting (an atomic retain and release per operation on an object other threads also touch costs
    /// more than the lookup's arithmetic). Valid while `ownedMap` holds it, which the lock guarantees to
    /// anyone holding it: read before taking the lock, it may be a map that a FLUSHALL ASYNC or SWAPDB has
    /// replaced meanwhile (and is freeing).
    private(set) var mapReference: Unmanaged<HashMap>
    /// The map, for the other paths: Swift retains it around each use, as it would an `unowned(unsafe)`
    /// reference (see EntryEditor.withMap).
    var map: HashMap { @inline(__always) _read { yield mapReference.takeUnretainedValue() } }
    /// Where the active expiry cycle resumes its sweep (a SCAN cursor). Guarded by `lock` (write).
    var expiryCursor: UInt64 = 0
    /// Changes counted by maps this shard has replaced (asynchronous flush). Guarded by `lock`.
    var retiredChanges = 0
    /// Keys removed because they had expired (lazily or by the active cycle). Guarded by `lock` (write).
    var expiredKeys = 0

    /// The map's bucket arrays and seed, for prefetching without the lock (LookupHint.swift).
    let lookupHint = LookupHint()

    init(map: HashMap) {
        ownedMap = map
        mapReference = .passUnretained(map)
        map.lookupHint = lookupHint
    }

    deinit { lock.destroy() }

    /// Runs `body` with the map, borrowed. The caller holds the lock.
    @inline(__always)
    func withMap<R, E: Error>(_ body: (HashMap) throws(E) -> R) throws(E) -> R {
        try mapReference._withUnsafeGuaranteedRef { map in Result { () throws(E) -> R in try body(map) } }.get()
    }

    /// Puts `new` in place of the map (under the write lock) and returns the old one.
    func replaceMap(with new: HashMap) -> HashMap {
        let old = ownedMap
        ownedMap = new
        mapReference = .passUnretained(new)
        // SWAPDB exchanges two shards' maps in two calls: the old map may already publish to the other shard.
        if old.lookupHint === lookupHint { old.lookupHint = nil }
        new.lookupHint = lookupHint
        return old
    }

    /// The loader's write (SnapshotLoader.swift): the same path as every write, so observers hear it.
    /// False when the key was there already.
    @inline(__always)
    func insertLoaded(_ key: UnsafeRawBufferPointer, _ value: LoadedValue, expiry: Int64?) -> Bool {
        lock.withWriteLock {
            map.update(key) { e in
                let inserted = !e.exists
                switch value {
                case .string(let bytes): e.setValue(bytes, expiry: expiry)
                case .object(let o): e.setObject(o, expiry: expiry)
                }
                return inserted
            }
        }
    }
}
