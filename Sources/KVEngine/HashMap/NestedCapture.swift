import Glibc
import RESP
import Synchronization

// Nested captures: a large hash or set goes into a snapshot in bounded steps, as the keyspace does.
//
// A hash or set in its map form (HashObject/SetObject with an inner HashMap) can hold millions of fields.
// Copying it whole into the capture record, under its shard's lock, when the saver or a writer reaches its
// key would stall that shard for as long as the copy takes (measured: 284 ms for a 100k-field hash under
// BGSAVE). Instead its record holds a capture of the inner map itself — the same MapCapture, classes and
// "writers help" as the keyspace's (Capture.swift) — attached at the moment the key's class is copied.
// That moment the inner map still holds exactly what it held at the cut (a write to the key would have
// copied the key's class first), so the inner capture is of the cut too. From then on:
//   - a writer of the inner map copies the class of the field it is about to change first, as a writer of
//     the keyspace does (HashMap.update): its stall is one class, a few fields;
//   - the saver, when it reaches the record, copies the inner map's classes a batch at a time
//     (`drain`) and writes them out between batches.
//
// The lock. The saver copies long after the key's shard lock was released, and the value may have moved
// since (RENAME or MOVE to a key of another shard takes the object with it), so the shard lock cannot
// protect the saver's reads. An inner capture has its own mutex instead (`guardLock`): a writer of the
// inner map holds it for the whole of its write (from `beforeWrite` to the end of `HashMap.update`, and
// during growth work), and the saver holds it for one batch. Readers of the inner map need nothing more:
// the saver only reads. The keyspace's own captures have no such lock (the shard lock is theirs).
//
// Lifetime. The capture keeps the inner map alive (DEL of the key while the saver is behind frees
// nothing under it; LazyFree releases just a reference). The registry (`NestedCaptures`, one per
// snapshot) holds every inner capture; the saver abandons each once written, and the snapshot abandons the
// rest when it ends or is cancelled: an abandoned capture drops its map, pending copies and bitmap, and the
// inner map's next writer detaches it. Only writers of the map change `HashMap.capture`; the saver never
// does, so no lock is needed to read it.
//
// A record holding an inner capture: payload form byte `nested` (CollectionCodecs.swift), the element count
// at attachment, and the capture's address (the registry owns the reference).

/// The inner captures of one snapshot, and the saver's pacing options they need.
final class NestedCaptures: @unchecked Sendable {
    let cutTime: Int64
    private let captures = Mutex<[MapCapture]>([])
    let cancelled = Atomic<Bool>(false)
    /// The saver's options, set before it writes (Snapshot.write).
    var yieldsBetweenSteps = false
    var lockHeld: (@Sendable (Int) -> Void)? = nil

    init(cutTime: Int64) { self.cutTime = cutTime }

    /// Under the lock that guards the value holding `inner`: a capture of `inner` as it is now, or nil
    /// when a live capture is already attached (the caller then copies the value whole).
    func attach(to inner: HashMap) -> MapCapture? {
        if let c = inner.capture, !c.abandoned.load(ordering: .relaxed) { return nil }
        let c = MapCapture(map: inner, cutTime: cutTime, nested: nil, guarded: true)
        c.owner = self
        inner.capture = c
        captures.withLock { $0.append(c) }
        return c
    }

    /// Values shared with the live keyspace until the save ends (a list's copy-on-write nodes,
    /// ListCodec.swift).
    private let held = Mutex<[UInt]>([])

    /// Keeps `object` alive until the save ends (one reference, released by `abandonAll`); its address,
    /// for a capture payload.
    func hold(_ object: AnyObject) -> UInt {
        let address = UInt(bitPattern: Unmanaged.passRetained(object).toOpaque())
        held.withLock { $0.append(address) }
        return address
    }

    /// The save ended: every inner capture is abandoned.
    func abandonAll() {
        for a in held.withLock({ list in defer { list = [] }; return list }) {
            Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(bitPattern: a)!).release()
        }
        let all = captures.withLock { list -> [MapCapture] in
            defer { list = [] }
            return list
        }
        for c in all { c.abandon() }
    }
}

extension MapCapture {
    /// What the saver copies per hold of an inner map's guard lock. Smaller than the keyspace's batch
    /// (Snapshot.batchBytes): every writer of a large value contends for this one lock, and a saver
    /// preempted while holding it (it runs at nice 19) keeps them waiting. Measured with
    /// `DATA=hashes scripts/snapshot-bench`: 16 KiB batches held it over 2 ms 205 times in one save of
    /// 100 hashes of 100k fields (worst 21 ms), 4 KiB ones 33 times (worst 12 ms), for a save 10% longer.
    static let nestedBatchBytes = 4 << 10

    /// The saver's side of an inner capture: copies the inner map's classes a batch at a time under the
    /// guard lock and calls `body` with each chunk of records (field, value) outside it; then abandons the
    /// capture. Throws SnapshotCancelled when the snapshot is cancelled meanwhile.
    func drain(_ options: NestedCaptures, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let batch = ByteBuffer(capacity: MapCapture.nestedBatchBytes + 4096)
        defer { abandon() }
        var done = false
        while !done {
            if options.cancelled.load(ordering: .relaxed) { throw SnapshotCancelled() }
            if options.yieldsBetweenSteps { sched_yield() }
            batch.removeAll()
            pthread_mutex_lock(guardLock!)
            let start = options.lockHeld == nil ? 0 : monotonicMicroseconds()
            let taken = takePending()
            if !abandoned.load(ordering: .relaxed) { copyNextClasses(into: batch, maxBytes: MapCapture.nestedBatchBytes) }
            done = nextClass == classCount
            pthread_mutex_unlock(guardLock!)
            if let report = options.lockHeld { report(monotonicMicroseconds() - start) }
            for records in taken { try body(records.readable) }
            try body(batch.readable)
        }
    }
}
