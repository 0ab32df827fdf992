/// One shard: a map and the lock that guards it. Readers share the lock, writers exclude.
final class Shard: @unchecked Sendable {
    let lock = RWLock()
    /// Guarded by `lock`. Replaced whole by an asynchronous flush.
    var map: HashMap
    /// Where the active expiry cycle resumes its sweep (a SCAN cursor). Guarded by `lock` (write).
    var expiryCursor: UInt64 = 0
    /// Changes counted by maps this shard has replaced (asynchronous flush). Guarded by `lock`.
    var retiredChanges = 0

    init(map: HashMap) { self.map = map }
}
