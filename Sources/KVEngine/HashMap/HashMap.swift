import Glibc
import Synchronization

// HashMap: a hash map from byte strings to byte strings, after Go's runtime map (src/runtime/map.go).
//
// LAYOUT. The map is an array of 2^B buckets (Bucket.swift). A bucket holds 8 slots; each slot has a
// tophash byte (TopHash.swift: the top 8 bits of the key's 64-bit hash, values 0-4 reserved as markers)
// and a 32-bit reference to the entry (Entry.swift: key, value and optional expiry in one block of the
// map's arena, Arena.swift). The low B bits of the hash select a bucket; the top byte tells the 8 slots
// apart without touching the entries: a lookup compares all 8 tophash bytes at once as one 64-bit word
// (SWAR) and reads an entry only on a byte match, which is wrong for 1 key in 256. A full bucket chains
// overflow buckets, allocated from the same arena.
//
// HASH. wyhash over the raw bytes, keyed by a 64-bit seed drawn from the system's random source for every
// map, and drawn again when the map empties (as Go does), so that the bucket a key lands in cannot be
// predicted from outside (hash flooding). `init(fixedSeed:)` exists for tests and debugging only.
//
// GROWTH. Triggered by an insert of a new key, when no growth is running:
//   - doubling, when the count would exceed 6.5 per bucket (loadFactorNum/loadFactorDen = 13/2). Go chose
//     6.5 from a measured table: at 8 slots per bucket it balances overflow chains (about 20% of buckets
//     at 6.5), probe length and memory. With our 6 bytes of bucket per slot, the bucket array costs 7.4
//     bytes per entry at 6.5 and 14.8 right after a doubling (3.25 per bucket).
//   - same-size, when there are as many overflow buckets as buckets (2^B; Go's 2^min(B,15) is the same
//     rule for its sampled counter, Growth.swift): deletes leave chains sparse, and rebuilding them at
//     the same size compacts them.
// Triggered at the end of a write that deleted (beyond Go, whose maps never shrink; not within the
// write, whose editor may insert the key again: HashMap+Write.swift):
//   - halving, when the count falls under 1.625 per bucket (a quarter of 6.5). The halved array is then
//     under 3.25 per bucket, half the growth threshold: the gap is the hysteresis that keeps a map from
//     oscillating, and after a mass delete the array is at most twice what a fresh map would have.
// A growth only allocates the new array (zeroed pages from mmap) and keeps the old one. Each later write
// first evacuates the old bucket its key maps to, and one more in index order (`nevacuate`; a halving
// three more), so no operation moves more than two old bucket chains (five while halving, which reads no
// entries); `advanceGrowth` lets an idle owner finish the job.
// An entry of old bucket i moves to new bucket i (same-size), i or i + 2^oldB by hash bit oldB (doubling:
// "X" and "Y", as Go; the slot's split hint has the bit, Bucket.swift, so the entry is read only when
// its hint ran out), or i & (2^B - 1) (halving: two old buckets merge into one).
//
// INVARIANTS (checked by verify(), HashMap+Verify.swift, which the tests run after every operation):
//   - A key is in old bucket (hash & oldMask) if that bucket is not evacuated, else in new bucket
//     (hash & mask); never in both, never twice. So a lookup reads exactly one chain, and only a write moves.
//   - Old buckets below `nevacuate` are evacuated; an evacuated old bucket has only evacuated markers and
//     no overflow chain (its overflow buckets are freed as it is evacuated).
//   - A slot's tophash is topHash(hash(key)); an empty slot's reference is 0.
//   - emptyRest in a slot means every later slot of the chain is empty and marked emptyRest; an emptyOne
//     slot is followed by a live slot somewhere later in its chain. No chain ends in an empty overflow
//     bucket: a delete that empties the last ones frees them (beyond Go, whose chains only ever grow).
//   - `count` is the number of live slots; `noverflow`/`oldNoverflow` count the overflow buckets chained to
//     each array; the arena's live units are those of all entries and overflow buckets.
//
// ITERATION. Iterator.swift returns every key present for the iterator's whole run exactly once, even if
// the map grows or shrinks between steps, by visiting hash classes (buckets of a fixed size 2^itB) in
// reverse-binary order from a random start; Scan.swift is Redis' stateless SCAN cursor (every key present
// from start to end at least once, with possible duplicates).
//
// CONCURRENCY. A map is not thread-safe. Writers set a flag for their duration and readers check it; a
// write that finds it set traps with "concurrent map writes", a read with "concurrent map read and map
// write" (WriteGuard.swift). It is a tripwire for misuse, not a lock: the Store locks.

let loadFactorNum = 13
let loadFactorDen = 2
let overflowBucketUnits = bucketSize >> arenaUnitShift

/// How a running growth changes the bucket array.
public enum GrowthKind: String, Sendable {
    case none, doubling, sameSize, shrinking
}

/// A hash map from byte strings to byte strings. Not thread-safe (see the design notes in HashMap.swift).
public final class HashMap {
    /// Live entries, in both arrays.
    public internal(set) var count = 0
    /// The current array: 2^B buckets.
    var buckets: BucketArray { didSet { publishLookupHint() } }
    /// The array being evacuated; non-nil exactly while a growth runs.
    var oldBuckets: BucketArray? { didSet { publishLookupHint() } }
    package internal(set) var growth = GrowthKind.none
    /// Old buckets with a lower index have all been evacuated.
    var nevacuate = 0
    /// Overflow buckets chained to `buckets`.
    var noverflow = 0
    /// Overflow buckets still chained to `oldBuckets`.
    var oldNoverflow = 0
    /// The hash key. Secret: only its fingerprint is ever shown.
    var seed: HashSeed { didSet { publishLookupHint() } }
    /// Where the map publishes its arrays and seed for readers without its lock (LookupHint.swift): its
    /// shard's, while the shard holds it.
    var lookupHint: LookupHint? { didSet { publishLookupHint() } }
    let seedIsFixed: Bool
    var arena = Arena()
    /// 1 while a write runs (WriteGuard.swift).
    let writing = Atomic<UInt8>(0)
    /// Entries written or removed since the map was made (Redis' "dirty" count, for save policies).
    /// Counted under the write guard, so it costs no atomic operation.
    public internal(set) var changes = 0
    /// Live entries that carry an expiry (Redis' `expires` count, read by INFO keyspace in O(1)).
    public internal(set) var expiringCount = 0
    /// Monotonic nanoseconds when the running growth started (0 when none runs): STATS reports its age,
    /// so a growth that stops progressing shows.
    var growthStartedAt: UInt64 = 0
    /// The running snapshot's capture of this map, if any (Capture.swift). Guarded like the map.
    var capture: MapCapture?
    /// Told of every change a write makes (HashMap+Write.swift); nil when nobody observes. Guarded like the map.
    var changeHook: ChangeHook?
    /// Set by a removal inside `update` that left the map empty or sparse; the write settles the map when it
    /// ends (HashMap+Write.swift).
    var settlePending = false
    /// The time entries record when read or written (Entry.touch): seconds modulo 2^24, set by the owner
    /// (Store.tickAccessClock, once per clock tick as Redis' cached LRU clock) so that a read costs no clock
    /// read. Guarded like the map.
    public var accessClock: UInt32 = 0
    /// What reads record in entries: the LRU clock or Redis' LFU counter (HashMap+Eviction.swift). Set by
    /// the owner with the eviction policy.
    var access = AccessTracking()
    /// The LFU counter's coin (HashMap+Eviction.swift).
    var lfuRandomState: UInt64 = 0x9E37_79B9_7F4A_7C15
    /// Our eviction policy's probation queue: the hashes of keys inserted, oldest first (HashMap+Eviction.swift).
    var probation = HashQueue()
    /// Our eviction policy's hand: the class it is at, and how many of that class's entries it has passed.
    var hand = 0
    var handOffset = 0
    /// The largest hash class `fairRandomEntry` has met since the last growth started (Iterator.swift): its
    /// rejection bound.
    var randomClassBound = bucketSlots
    /// The hash classes `fairRandomEntry` will try next, drawn ahead (Iterator.swift).
    var randomAhead = ClassesAhead()
    /// The running compaction's position: buckets of the current array below it are moved off the draining
    /// pages (HashMap+Compaction.swift).
    var compactionCursor = 0

    /// A map with a random hash seed.
    public init() {
        seed = HashSeed(randomSeed())
        seedIsFixed = false
        buckets = BucketArray(bits: 0)
    }

    /// A map with a fixed hash seed, for tests and debugging only: with a known seed, clients can choose
    /// keys that all land in one bucket.
    public init(fixedSeed: UInt64) {
        seed = HashSeed(fixedSeed)
        seedIsFixed = true
        buckets = BucketArray(bits: 0)
    }

    deinit {
        freeAllEntries()
        buckets.deallocate()
        oldBuckets?.deallocate()
        arena.destroy()
    }

    private func publishLookupHint() { lookupHint?.publish(buckets: buckets, old: oldBuckets, seed: seed) }

    public var isEmpty: Bool { count == 0 }

    /// log2 of the number of buckets.
    public var bucketBits: Int { buckets.bits }

    /// A fingerprint of the hash seed (never the seed itself).
    public var seedFingerprint: UInt64 { KVEngine.seedFingerprint(seed.secret) }

    @inline(__always) func hash(_ key: UnsafeRawBufferPointer) -> UInt64 { hashBytes(key, seed: seed) }

    /// Entries stored outside the arena own a malloc block each, and typed values an object; everything
    /// else goes with the arena.
    func freeAllEntries() {
        forEachLiveSlot { ref in arena.freeOwned(ref) }
    }

    /// Calls `body` with the entry reference of every live slot of both arrays (old buckets only while
    /// not evacuated), in bucket order.
    func forEachLiveSlot(_ body: (UInt32) throws -> Void) rethrows {
        func walk(_ array: BucketArray, skipEvacuated: Bool) throws {
            for i in 0..<array.count {
                var b = array[i]
                if skipEvacuated && b.isEvacuated { continue }
                while true {
                    var full = matchFull(b.tophashWord)
                    while full != 0 {
                        try body(b.ref(firstSlot(full)))
                        full &= full &- 1
                    }
                    if b.overflow == 0 { break }
                    b = Bucket(arena.pointer(b.overflow))
                }
            }
        }
        if let old = oldBuckets { try walk(old, skipEvacuated: true) }
        try walk(buckets, skipEvacuated: false)
    }

    /// Drops every entry and returns the map to one bucket, with a new seed.
    public func removeAll() {
        beginWrite()
        changes += count
        let guarded = capture?.beforeWrite(hash: nil, of: self)
        resetStorage()
        endWrite()
        guarded?.endGuardedWrite()
    }

    func resetStorage() {
        if let c = capture {
            // Every key of the cut is copied by now (Capture.swift), and the new seed would change classes.
            c.markComplete()
            capture = nil
        }
        freeAllEntries()
        buckets.deallocate()
        oldBuckets?.deallocate()
        oldBuckets = nil
        buckets = BucketArray(bits: 0)
        growth = .none
        nevacuate = 0
        growthStartedAt = 0
        noverflow = 0
        oldNoverflow = 0
        count = 0
        expiringCount = 0
        arena.releaseAll()  // ends a running compaction too: nothing is left to move
        compactionCursor = 0
        probation.removeAll()  // its hashes would not match under a new seed
        randomClassBound = bucketSlots
        if !seedIsFixed { seed = HashSeed(randomSeed()) }
    }
}

/// What a write did to one key, as the change hook hears it. The value view is valid only during the call.
enum MapChange {
    case written(StoredValue, expiry: Int64?, created: Bool, event: KeyspaceEvent?)
    case removed(event: KeyspaceEvent?)
    case expired
}

typealias ChangeHook = (_ key: UnsafeRawBufferPointer, _ change: MapChange) -> Void
