import Dispatch
import Glibc
import Synchronization

// Loading a snapshot into stores at start-up, and checking one without loading it.

/// A file mapped read-only for parsing in place.
final class MappedFile {
    let bytes: UnsafeRawBufferPointer
    private let length: Int

    /// nil when the file does not exist.
    init?(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SnapshotIOError("cannot open", path: path)
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw SnapshotIOError("cannot stat", path: path) }
        length = Int(st.st_size)
        if length == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw SnapshotIOError("cannot map", path: path)
        }
        madvise(p, length, MADV_SEQUENTIAL)
        madvise(p, length, MADV_WILLNEED)
        bytes = UnsafeRawBufferPointer(start: p, count: length)
    }

    deinit { if length > 0 { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), length) } }
}

public struct SnapshotLoadError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// One load thread's view of one store: the shards it fills (index % parts == part). Built per thread
/// and per database so that the per-key path touches nothing another thread writes: not even a
/// reference count (a retain of the shared Store on every key, from two threads, cost more than the
/// inserts themselves).
struct ShardLoader {
    let shards: [Shard]
    let seed: HashSeed
    let shift: UInt64
    let part: Int
    let parts: Int

    init(_ store: Store, part: Int, of parts: Int) {
        shards = store.shards.map { $0 }  // a buffer of this thread's own: its reference count is not shared
        seed = store.shardSeed
        shift = store.shardShift
        self.part = part
        self.parts = parts
    }

    /// Inserts the key if its shard is ours. False when the key was there already (a duplicate in the
    /// file: the load fails, so overwriting it does no harm).
    @inline(__always)
    func insert(_ key: UnsafeRawBufferPointer, _ value: LoadedValue, expiry: Int64?) -> Bool {
        let index = shardIndex(key, seed: seed, shift: shift)
        guard index % parts == part else { return true }
        return shards.withUnsafeBufferPointer { b in b[index].insertLoaded(key, value, expiry: expiry) }
    }

    /// Pre-sizes our shards' maps for `keys` keys in the whole store.
    func reserveCapacity(_ keys: Int) {
        let perShard = keys / shards.count + keys / (shards.count * 8)  // hashing is not perfectly even
        for (i, s) in shards.enumerated() where i % parts == part { s.lock.withWriteLock { s.map.reserveCapacity(perShard) } }
    }
}

/// Loads the RDB file at `path` into `stores` (database i = stores[i]), which should be empty. Returns nil
/// when there is no file. On any error every store is emptied again before the error is thrown: a
/// snapshot is loaded whole or not at all. `progress(keys, bytesRead, fileSize)` is called about every
/// million keys. `keyLoadDelayMicroseconds`: a sleep after each key (Redis' key-load-delay, for tests).
///
/// Inserting is most of the work (a cache miss or two per key), so it runs on up to 4 threads (one per
/// core): each parses the whole file, which is cheap, and inserts only the keys of its own shards, so
/// no two threads ever wait for the same lock. The caller's thread also checks the checksum.
public func loadSnapshot(
    from path: String, into stores: [Store], now: Int64 = wallClockMilliseconds(), keyLoadDelayMicroseconds: Int = 0,
    progress: (Int, Int, Int) -> Void = { _, _, _ in }
) throws -> RDBSummary? {
    guard let file = try MappedFile(path: path) else { return nil }
    let cores = Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    let threads = Swift.min(cores, 4, stores.first?.shardCount ?? 1)
    let maxSize = stores.map(\.maxValueSize).max() ?? 512 << 20
    nonisolated(unsafe) let bytes = file.bytes

    /// One parser; `part` picks the shards it inserts into (shard index % threads == part).
    @Sendable func load(part: Int, progress: (Int, Int, Int) -> Void) throws -> RDBSummary {
        var loader = ShardLoader(stores[0], part: part, of: threads)
        var selected = false
        return try parseRDB(
            bytes, now: now, maxStringSize: maxSize, verifyChecksum: part == 0,
            onDatabase: { db in
                guard db < stores.count else {
                    throw SnapshotLoadError(description: "the file has database \(db), but only \(stores.count) are configured (databases)")
                }
                loader = ShardLoader(stores[db], part: part, of: threads)
                selected = true
            },
            onResize: { keys, _ in if selected { loader.reserveCapacity(keys) } },
            onKey: { key, value, expiry in
                if !loader.insert(key, value, expiry: expiry) {
                    throw SnapshotLoadError(description: "duplicate key '\(printable(key))'")
                }
                if keyLoadDelayMicroseconds > 0 { usleep(UInt32(keyLoadDelayMicroseconds)) }
            },
            onProgress: { keys, offset in progress(keys, offset, bytes.count) })
    }

    let errors = Mutex<[Int: any Error]>([:])
    let done = DispatchSemaphore(value: 0)
    for part in 1..<threads {
        startThread {
            do { _ = try load(part: part, progress: { _, _, _ in }) } catch { errors.withLock { $0[part] = error } }
            done.signal()
        }
    }
    var summary: RDBSummary? = nil
    do { summary = try load(part: 0, progress: progress) } catch { errors.withLock { $0[0] = error } }
    for _ in 1..<threads { done.wait() }
    if let error = errors.withLock({ e in e.keys.min().map { e[$0]! } }) {
        for s in stores { s.flush() }
        throw error
    }
    return summary
}

/// Parses and checks the RDB file at `path` without loading it (kvserver --check-snapshot).
public func checkSnapshot(at path: String) throws -> RDBSummary {
    guard let file = try MappedFile(path: path) else {
        throw SnapshotIOError("cannot open", path: path, errno: ENOENT)
    }
    var seen = Set<Int>()
    return try parseRDB(
        file.bytes, now: wallClockMilliseconds(),
        onDatabase: { db in
            if !seen.insert(db).inserted { throw SnapshotLoadError(description: "database \(db) selected twice") }
        },
        onKey: { _, _, _ in })
}
