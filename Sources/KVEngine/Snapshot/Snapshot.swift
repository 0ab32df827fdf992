import Glibc
import Synchronization
import RESP

// Point-in-time snapshots without fork.
//
// `Snapshot(of:)` is the cut: it takes the write lock of every shard of every database (databases in
// order, shards in order: the one global order, so it cannot deadlock with multi-key operations, which
// lock shards of one store in ascending order), attaches a MapCapture to each map and releases them all.
// Holding every lock at once makes the cut one instant for the whole keyspace; it costs microseconds
// (one small bitset per map). From then on writers copy what they are about to change (Capture.swift),
// and `write(to:)` — on any thread, while the server serves — walks each map's classes under its shard's
// read lock (readers go on in parallel; a writer of that shard waits for one batch of about 16 KiB),
// encodes the batch as RDB outside the lock and appends it to the file. A shard's capture detaches as
// soon as the shard is written, so writers pay for the snapshot only while their shard is pending.
//
// The file: `temp-<pid>.rdb` in the target's directory, fsync, rename over the target, fsync the
// directory (Redis' rdbSave): a crash at any point leaves either the old file or the new one, whole.

public struct SnapshotOptions: Sendable {
    /// LZF-compress strings over 20 bytes (Redis' rdbcompression).
    public var compression = true
    /// Write the CRC-64 (Redis' rdbchecksum); off writes zero, which readers take as "not computed".
    public var checksum = true
    /// Aux fields written after the header, in order.
    public var aux: [(String, String)] = []
    /// Sleep this many microseconds after each key (Redis' rdb-key-save-delay, for tests of slow saves).
    public var keySaveDelayMicroseconds = 0
    /// Give up the CPU (sched_yield) before each step of some tens of microseconds: before each hold of a
    /// shard's lock, each chunk of records encoded and each write to the file. For a background save, so
    /// that an event loop never waits for the saver to use up its time slice. Measured at 10M keys
    /// (docs/snapshots.md): without it, a saver at nice 19 still kept an event loop off its core for a whole
    /// 4 ms scheduler tick several times per save.
    public var yieldsBetweenSteps = false
    /// Write the file back to disk every this many bytes as it is written (Redis' rdb-save-incremental-fsync,
    /// which uses 4 MB), rather than all of it in the final fsync; 0 turns it off.
    public var incrementalSyncBytes = 0
    /// Told how many microseconds each step held a shard's read lock (the server's latency monitor).
    public var lockHeld: (@Sendable (Int) -> Void)? = nil

    public init(compression: Bool = true, checksum: Bool = true, aux: [(String, String)] = []) {
        self.compression = compression
        self.checksum = checksum
        self.aux = aux
    }
}

public struct SnapshotSummary: Sendable {
    public var keys = 0
    public var keysWithExpiry = 0
    public var bytes = 0
}

public final class Snapshot: @unchecked Sendable {
    let stores: [Store]
    /// captures[db][shard], all attached at the cut.
    private let captures: [[MapCapture]]
    /// The captures of large hashes' and sets' inner maps, attached as their keys are copied.
    private let nested: NestedCaptures
    private let keysAtCut: [Int]
    /// Each store's change counter at the cut: after a successful save, the changes since the last save
    /// are those counted beyond it (Store.resetChanges(to:)).
    public let changesAtCut: [Int]
    private let cancelled = Atomic<Bool>(false)
    /// The cut's time, milliseconds since the epoch: keys expired at this time are not in the snapshot.
    public let cutTime: Int64
    private var detached = false
    /// What the saver copies per hold of a shard's read lock: a writer of that shard waits for at most this.
    static let batchBytes = 16 << 10

    /// Takes the cut of `stores` (database i = stores[i]).
    public init(of stores: [Store]) {
        self.stores = stores
        for store in stores { store.lockForCut() }
        let now = stores.first?.now ?? wallClockMilliseconds()
        cutTime = now
        let nested = NestedCaptures(cutTime: now)
        self.nested = nested
        let cut = stores.map { $0.attachCaptures(cutTime: now, nested: nested) }
        captures = cut.map(\.captures)
        keysAtCut = cut.map(\.keys)
        changesAtCut = cut.map(\.changes)
        for store in stores.reversed() { store.unlockAfterCut() }
    }

    deinit { detachAll() }

    /// Makes a running `write` stop at its next batch and fail (its temporary file is removed).
    public func cancel() {
        cancelled.store(true, ordering: .relaxed)
        nested.cancelled.store(true, ordering: .relaxed)
    }

    /// Writes the snapshot to `path` crash-safely and detaches it. Call once.
    @discardableResult
    public func write(to path: String, options: SnapshotOptions) throws -> SnapshotSummary {
        defer { detachAll() }
        return try writeFileAtomically(path) { fd, tempPath in
            let writer = RDBWriter(fd: fd, path: tempPath, compression: options.compression, checksum: options.checksum,
                                   yieldsBeforeWrites: options.yieldsBetweenSteps, incrementalSyncBytes: options.incrementalSyncBytes)
            try writer.writeHeader(aux: options.aux)
            nested.yieldsBetweenSteps = options.yieldsBetweenSteps
            nested.lockHeld = options.lockHeld
            var summary = SnapshotSummary()
            let batch = ByteBuffer(capacity: 128 << 10)
            for (db, store) in stores.enumerated() where keysAtCut[db] > 0 {
                writer.selectDB(db, keys: keysAtCut[db], expires: 0)
                for (i, capture) in captures[db].enumerated() {
                    var done = false
                    while !done {
                        if cancelled.load(ordering: .relaxed) { throw SnapshotCancelled() }
                        // Start each lock hold on a fresh time slice: a saver preempted while holding the
                        // read lock would keep this shard's writers waiting until it runs again.
                        if options.yieldsBetweenSteps { sched_yield() }
                        batch.removeAll()
                        let held = options.lockHeld == nil ? 0 : monotonicMicroseconds()
                        let step = store.captureStep(shard: i, capture, into: batch, maxBytes: Snapshot.batchBytes)
                        if let report = options.lockHeld { report(monotonicMicroseconds() - held) }
                        done = step.done
                        let copiedByWriters = step.copiedByWriters
                        for (n, records) in (copiedByWriters + [batch]).enumerated() {
                            if n > 0 && options.yieldsBetweenSteps { sched_yield() }
                            try forEachRecord(records.readable) { k, t, v, x in
                                try writer.writeKey(k, type: t, payload: v, expiry: x)
                                summary.keys += 1
                                if x != nil { summary.keysWithExpiry += 1 }
                                if options.keySaveDelayMicroseconds > 0 { usleep(UInt32(options.keySaveDelayMicroseconds)) }
                            }
                        }
                    }
                    store.detachCapture(shard: i, capture)
                }
            }
            summary.bytes = try writer.finish()
            return summary
        }
    }

    private func detachAll() {
        if detached { return }
        detached = true
        nested.abandonAll()
        for (db, store) in stores.enumerated() {
            for (i, c) in captures[db].enumerated() { store.detachCapture(shard: i, c) }
        }
    }
}

public struct SnapshotCancelled: Error, CustomStringConvertible {
    public var description: String { "snapshot cancelled" }
}

/// Runs `body` with a new temporary file beside `path`, then fsyncs it (the body's writer does), renames
/// it over `path` and fsyncs the directory. On any error the temporary file is removed and `path` is
/// untouched.
func writeFileAtomically<R>(_ path: String, _ body: (Int32, String) throws -> R) throws -> R {
    let dir = directoryOf(path)
    let temp = dir + "/temp-\(getpid()).rdb"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    if fd < 0 { throw SnapshotIOError("cannot create temporary file", path: temp) }
    var open = true
    do {
        let r = try body(fd, temp)
        open = false
        if close(fd) != 0 { throw SnapshotIOError("close", path: temp) }
        if rename(temp, path) != 0 { throw SnapshotIOError("rename to \(path) of", path: temp) }
        let dfd = Glibc.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            defer { close(dfd) }
            if fsync(dfd) != 0 { throw SnapshotIOError("fsync of directory", path: dir) }
        }
        return r
    } catch {
        if open { close(fd) }
        unlink(temp)
        throw error
    }
}

func directoryOf(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}
