import Glibc

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

extension Store {
    /// Inserts a key read from a snapshot; false when the key is already there (a duplicate in the file).
    func insertLoaded(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, expiry: Int64?) -> Bool {
        let s = shard(key)
        return s.lock.withWriteLock {
            s.map.update(key) { e in
                if e.exists { return false }
                e.setValue(value, expiry: expiry)
                return true
            }
        }
    }

    /// Pre-sizes every shard's map for `keys` keys in all.
    func reserveCapacity(_ keys: Int) {
        let perShard = keys / shards.count + keys / (shards.count * 8)  // hashing is not perfectly even
        for s in shards { s.lock.withWriteLock { s.map.reserveCapacity(perShard) } }
    }
}

/// Loads the RDB file at `path` into `stores` (database i = stores[i]), which should be empty. Returns nil
/// when there is no file. On any error every store is emptied again before the error is thrown: a
/// snapshot is loaded whole or not at all. `progress(keys, bytesRead, fileSize)` is called about every
/// million keys. `keyLoadDelayMicroseconds`: a sleep after each key (Redis' key-load-delay, for tests).
public func loadSnapshot(
    from path: String, into stores: [Store], now: Int64 = wallClockMilliseconds(), keyLoadDelayMicroseconds: Int = 0,
    progress: (Int, Int, Int) -> Void = { _, _, _ in }
) throws -> RDBSummary? {
    guard let file = try MappedFile(path: path) else { return nil }
    var store: Store? = nil
    do {
        let maxSize = stores.map(\.maxValueSize).max() ?? 512 << 20
        return try parseRDB(
            file.bytes, now: now, maxStringSize: maxSize,
            onDatabase: { db in
                guard db < stores.count else {
                    throw SnapshotLoadError(description: "the file has database \(db), but only \(stores.count) are configured (databases)")
                }
                store = stores[db]
            },
            onResize: { keys, _ in store?.reserveCapacity(keys) },
            onKey: { key, value, expiry in
                if !store!.insertLoaded(key, value, expiry: expiry) {
                    throw SnapshotLoadError(description: "duplicate key '\(printable(key))'")
                }
                if keyLoadDelayMicroseconds > 0 { usleep(UInt32(keyLoadDelayMicroseconds)) }
            },
            onProgress: { keys, offset in progress(keys, offset, file.bytes.count) })
    } catch {
        for s in stores { s.flush() }
        throw error
    }
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
