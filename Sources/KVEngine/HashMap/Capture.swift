import Glibc
import RESP
import Synchronization

// Capture: the map's side of a point-in-time snapshot without fork (Snapshot/Snapshot.swift drives it).
//
// At the cut (under the map's write lock) the capture fixes S = the bit count of the smaller of the map's
// arrays and splits the keyspace into 2^S hash classes: class c holds the keys whose hash has c in its low
// S bits. A class is one bucket chain of the smaller array, or several buckets of a larger one, so each
// class is a few keys. The saver copies classes in order; a class is copied exactly once, by whoever
// reaches it first:
//   - the saver, walking c = 0, 1, 2, ... (`copyNextClasses`), or
//   - a writer: every write goes through `HashMap.update` (or `removeAll`), which, before it changes
//     anything, copies the class of the key it is about to write into `pending` if the class is not yet
//     copied ("writers help", as with evacuation). So a class nobody copied still holds exactly what it
//     held at the cut, and every copy is of the class as it was at the cut.
// Growth, shrink and evacuation only move entries between buckets: a key's class is fixed by its hash,
// and `forEachEntry(inClass:)` finds the class's keys wherever they are (old array if not evacuated, new
// array otherwise; filtered by hash when an array has fewer than 2^S buckets). The one event that changes
// hashes is the reseed when the map empties (resetStorage): by then every key present at the cut has
// been deleted, each deletion having copied its class, so the capture is complete and detaches.
//
// Memory: classes copied by writers wait in `pending` until the saver takes them, so the extra memory is
// bounded by what is written during the save (one class per write at most), not by the dataset. `pending`
// is a list of chunks of about 16 KiB that are never moved once filled: a writer pays for the class it
// copies and never for a realloc of megabytes, and the saver takes the whole list under the lock in O(1)
// and encodes it outside. (A shard's pending records wait until the saver reaches the shard; moving them
// with a memcpy under the lock stalled that shard's writers for milliseconds at 10M keys.)
//
// Records in `pending` and in the saver's batches: [u32 key length][u32 payload length][i64 expiry ms, or
// Int64.min for none][u8 value type][key][payload], native byte order; the payload is what the type's
// codec copies (a string's bytes: Snapshot/ValueCodecs.swift). Keys already expired at the cut are left out.

let noExpiry = Int64.min

final class MapCapture: @unchecked Sendable {
    /// The captured map; nil once a nested capture is abandoned (NestedCapture.swift).
    private(set) var map: HashMap?
    let classBits: Int
    let cutTime: Int64
    /// Where the large hashes and sets this capture meets are captured in turn (nil for an inner map).
    let nested: NestedCaptures?
    /// Only for an inner map's capture: the lock a writer of the map holds from `beforeWrite` to the end
    /// of its write, and the saver while it copies (NestedCapture.swift).
    let guardLock: UnsafeMutablePointer<pthread_mutex_t>?
    /// For an inner map's capture: the snapshot's registry it belongs to (its pacing options).
    weak var owner: NestedCaptures?
    /// Set when the snapshot no longer needs this capture; writers then detach it.
    let abandoned = Atomic<Bool>(false)
    private var copied: [UInt64]
    /// The saver's position: classes below it are copied.
    private(set) var nextClass = 0
    private(set) var remaining: Int
    /// Classes copied by writers, waiting for the saver: full chunks, then the one being filled.
    private var pendingFull: [ByteBuffer] = []
    private var pending = ByteBuffer(capacity: 256)
    static let pendingChunkBytes = 16 << 10

    init(map: HashMap, cutTime: Int64, nested: NestedCaptures?, guarded: Bool = false) {
        self.map = map
        classBits = Swift.min(map.buckets.bits, map.oldBuckets?.bits ?? Int.max)
        self.cutTime = cutTime
        self.nested = nested
        remaining = 1 << classBits
        copied = [UInt64](repeating: 0, count: ((1 << classBits) + 63) / 64)
        if guarded {
            let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
            pthread_mutex_init(m, nil)
            guardLock = m
        } else {
            guardLock = nil
        }
    }

    deinit {
        if let m = guardLock {
            pthread_mutex_destroy(m)
            m.deallocate()
        }
    }

    var classCount: Int { 1 << classBits }
    var isComplete: Bool { remaining == 0 }

    @inline(__always) func isCopied(_ c: Int) -> Bool { copied[c >> 6] & (1 << UInt64(c & 63)) != 0 }

    /// A writer of `map` is about to change the key with this hash: copy its class first if nobody has.
    /// Returns self when the writer now holds the guard lock (an inner map's capture), to release with
    /// `endGuardedWrite` once its write is done; nil otherwise. `hash` nil: the writer is about to change
    /// every key (`removeAll`).
    @inline(__always)
    func beforeWrite(hash: UInt64?, of map: HashMap) -> MapCapture? {
        if guardLock != nil && !acquireGuard(of: map) { return nil }
        if let hash {
            let c = Int(truncatingIfNeeded: hash) & (classCount - 1)
            if !isCopied(c) { copyClassToPending(c) }
        } else {
            copyEverything()
        }
        return guardLock == nil ? nil : self
    }

    /// Takes the guard lock for a writer of `map` that moves entries without changing any (growth work):
    /// self when held, nil when there is no guard or the capture was abandoned (and is now detached).
    func guardForMoves(of map: HashMap) -> MapCapture? {
        guardLock != nil && acquireGuard(of: map) ? self : nil
    }

    /// Locks the guard; false (unlocked, and the capture detached from `map`) when abandoned.
    private func acquireGuard(of map: HashMap) -> Bool {
        pthread_mutex_lock(guardLock!)
        if !abandoned.load(ordering: .relaxed) { return true }
        // The snapshot is done with this map: detach (only writers of the map change `capture`).
        pthread_mutex_unlock(guardLock!)
        map.capture = nil
        return false
    }

    func endGuardedWrite() { pthread_mutex_unlock(guardLock!) }

    /// A nested capture the snapshot is done with (drained, or the save ended): drops what it holds,
    /// the map included (breaking the map -> capture -> map cycle); the map's next writer detaches it.
    func abandon() {
        pthread_mutex_lock(guardLock!)
        abandoned.store(true, ordering: .relaxed)
        map = nil
        pendingFull = []
        pending = ByteBuffer(capacity: 0)
        copied = []
        remaining = 0
        nextClass = classCount
        pthread_mutex_unlock(guardLock!)
    }

    private func copyClassToPending(_ c: Int) {
        if pending.count >= MapCapture.pendingChunkBytes {
            pendingFull.append(pending)
            pending = ByteBuffer(capacity: MapCapture.pendingChunkBytes + 4096)
        }
        copyClass(c, into: pending)
    }

    /// Hands every record copied by writers so far to the saver (O(1): the chunks change owner).
    func takePending() -> [ByteBuffer] {
        // Not `pending.isEmpty` alone: a copy that added nothing (a class of keys expired at the cut) can
        // follow the setting aside of a full chunk.
        if pending.isEmpty && pendingFull.isEmpty { return [] }
        var all = pendingFull
        all.append(pending)
        pendingFull = []
        pending = ByteBuffer(capacity: 256)
        return all
    }

    func copyClass(_ c: Int, into out: ByteBuffer) {
        map?.forEachEntry(inClass: c, classBits: classBits) { e in
            let x = e.expiry
            if let x, x <= cutTime { return }
            appendRecord(out, key: e.key, value: e.storedValue, expiry: x ?? noExpiry, nested: nested)
        }
        copied[c >> 6] |= 1 << UInt64(c & 63)
        remaining -= 1
    }

    /// The saver's step: copies classes from `nextClass` on until about `maxBytes` are in `out`.
    func copyNextClasses(into out: ByteBuffer, maxBytes: Int) {
        let start = out.count
        while nextClass < classCount && out.count - start < maxBytes {
            if !isCopied(nextClass) { copyClass(nextClass, into: out) }
            nextClass += 1
        }
    }

    /// Copies every class not yet copied into `pending` (before the map is emptied wholesale).
    func copyEverything() {
        for c in 0..<classCount where !isCopied(c) { copyClassToPending(c) }
    }

    /// Marks every class copied: the map holds nothing of the cut any more (it emptied; see above).
    func markComplete() {
        for i in copied.indices { copied[i] = ~0 }
        remaining = 0
        nextClass = classCount
    }
}

let recordHeaderSize = 17

@inline(__always)
func appendRecord(_ out: ByteBuffer, key: UnsafeRawBufferPointer, value: StoredValue, expiry: Int64, nested: NestedCaptures?) {
    let isString = value.type == .string
    let n = recordHeaderSize + key.count + (isString ? value.bytes.count : 0)
    out.reserve(n)
    let p = out.writable.baseAddress!
    p.storeBytes(of: UInt32(key.count), toByteOffset: 0, as: UInt32.self)
    p.storeBytes(of: UInt32(isString ? value.bytes.count : 0), toByteOffset: 4, as: UInt32.self)
    p.storeBytes(of: expiry, toByteOffset: 8, as: Int64.self)
    p.storeBytes(of: value.type.rawValue, toByteOffset: 16, as: UInt8.self)
    copyBytes(to: p + recordHeaderSize, from: key.baseAddress, count: key.count)
    if isString {
        copyBytes(to: p + recordHeaderSize + key.count, from: value.bytes.baseAddress, count: value.bytes.count)
        out.didWrite(n)
        return
    }
    // Another type: its codec appends the payload, whose length is then filled in.
    out.didWrite(n)
    let start = out.count
    let recordStart = start - n
    if let c = codec(for: value.type) { c.capture(value, into: out, nested: nested) }
    let length = UInt32(out.count - start)
    UnsafeMutableRawPointer(mutating: out.readable.baseAddress! + recordStart).storeBytes(of: length, toByteOffset: 4, as: UInt32.self)
}

/// Calls `body` with each record in `bytes` (as appended by `appendRecord`): key, type, payload, expiry.
@inline(__always)
func forEachRecord(
    _ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, ValueType, UnsafeRawBufferPointer, Int64?) throws -> Void
) rethrows {
    guard var p = bytes.baseAddress else { return }
    let end = p + bytes.count
    while p < end {
        let k = Int(p.loadUnaligned(as: UInt32.self))
        let v = Int(p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let x = p.loadUnaligned(fromByteOffset: 8, as: Int64.self)
        let t = ValueType(rawValue: p.load(fromByteOffset: 16, as: UInt8.self)).unsafelyUnwrapped
        let key = UnsafeRawBufferPointer(start: p + recordHeaderSize, count: k)
        try body(key, t, UnsafeRawBufferPointer(start: p + recordHeaderSize + k, count: v), x == noExpiry ? nil : x)
        p += recordHeaderSize + k + v
    }
}

extension HashMap {
    /// Calls `body` for every entry whose hash has `c` in its low `classBits` bits, wherever it is: in the
    /// old array's bucket if that is not evacuated, else in the new array (the invariants say never both).
    func forEachEntry(inClass c: Int, classBits s: Int, _ body: (Entry) -> Void) {
        let classMask = (1 << s) - 1
        func visit(_ array: BucketArray) {
            if array.bits >= s {
                // Buckets c, c + 2^S, c + 2·2^S, ...: all their keys are of class c.
                var i = c
                while i < array.count {
                    visitChain(array[i], body)
                    i += 1 << s
                }
            } else {
                // A smaller array (after a shrink): one bucket mixes classes; keep this one's keys.
                visitChain(array[c & array.mask]) { e in
                    if Int(truncatingIfNeeded: hash(e.key)) & classMask == c { body(e) }
                }
            }
        }
        if let old = oldBuckets { visit(old) }
        visit(buckets)
    }
}
