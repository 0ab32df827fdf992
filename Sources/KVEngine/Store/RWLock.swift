import Glibc

/// A reader-writer lock (pthread_rwlock, writer-preferring so a stream of readers cannot starve writers).
/// Never do I/O or take another shard's lock out of order while holding one (Store.swift says the order).
/// A struct around the pthread lock's address: using it costs no reference counting (a class would add an
/// atomic retain and release per operation). Its owner calls `destroy()` once.
///
/// A transaction (EXEC) holds the write locks of the shards it touches for all its commands
/// (`lockForTransaction`), and those commands lock again as they always do: for the thread that holds a
/// lock that way, `lockRead`, `lockWrite` and `unlock` do nothing. The holder word is written only by the
/// thread that holds the write lock, so another thread never finds its own id there; a plain load of
/// zero is all it costs the others.
struct RWLock: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>
    /// The thread holding the write lock for a transaction, or 0. Beside the lock, in its cache lines.
    private let holder: UnsafeMutablePointer<UInt>

    init() {
        // Two cache lines of its own: the lock word of one shard must not share a line with another's
        // (adjacent-line prefetch pairs lines), or readers of different shards slow each other down.
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 128)
        lock = memory.bindMemory(to: pthread_rwlock_t.self, capacity: 1)
        holder = (memory + 64).bindMemory(to: UInt.self, capacity: 1)
        holder.initialize(to: 0)
        var attr = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attr)
        pthread_rwlockattr_setkind_np(&attr, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        precondition(pthread_rwlock_init(lock, &attr) == 0, "pthread_rwlock_init failed")
        pthread_rwlockattr_destroy(&attr)
    }

    func destroy() {
        pthread_rwlock_destroy(lock)
        UnsafeMutableRawPointer(lock).deallocate()
    }

    /// Whether this thread holds the lock for a transaction (then locking again is a no-op).
    @inline(__always)
    private var heldByThisThread: Bool { holder.pointee != 0 && holder.pointee == UInt(pthread_self()) }

    /// Takes the write lock for a transaction: until `unlockTransaction`, this thread's own lock calls on it
    /// do nothing. False (and nothing done) when this thread holds it so already: a step nested in a
    /// transaction (COPY inside EXEC) leaves it to the outer one.
    func lockForTransaction() -> Bool {
        if heldByThisThread { return false }
        lockWrite()
        holder.pointee = UInt(pthread_self())
        return true
    }

    func unlockTransaction() {
        holder.pointee = 0
        pthread_rwlock_unlock(lock)
    }

    /// Critical sections here last a few hundred nanoseconds; sleeping in the kernel and being woken costs
    /// microseconds. So a contended lock is retried this many times before the thread blocks (as glibc's
    /// adaptive mutexes do).
    static let spins = 100

    @inline(__always)
    func lockRead() {
        if heldByThisThread { return }
        if pthread_rwlock_tryrdlock(lock) == 0 { return }
        for _ in 0..<RWLock.spins where pthread_rwlock_tryrdlock(lock) == 0 { return }
        pthread_rwlock_rdlock(lock)
    }

    @inline(__always)
    func lockWrite() {
        if heldByThisThread { return }
        if pthread_rwlock_trywrlock(lock) == 0 { return }
        for _ in 0..<RWLock.spins where pthread_rwlock_trywrlock(lock) == 0 { return }
        pthread_rwlock_wrlock(lock)
    }

    @inline(__always)
    func unlock() {
        if heldByThisThread { return }
        pthread_rwlock_unlock(lock)
    }

    @inline(__always)
    func withReadLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lockRead()
        defer { unlock() }
        return try body()
    }

    @inline(__always)
    func withWriteLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lockWrite()
        defer { unlock() }
        return try body()
    }
}
