import Synchronization

// Lookup hints: where a key's bucket is, for a reader that does not hold the map's lock.
//
// A pipeline's next request is in the buffer before the current one runs, and its lookup's first cache
// miss, the bucket, can be taken while the current one runs (it was a third of the server's time for GET at
// -P 16 on a 1M-key store: perf annotate puts the samples on the bucket's and the entry's loads). But a map
// is read only under its shard's lock. So a map given a hint publishes there, in relaxed atomics, its bucket
// arrays and seed whenever they change (a growth starts or ends, the map is reset); `prefetch` computes the
// key's bucket from them and prefetches it, and never reads it: the address may be stale (an array freed
// since, a seed from the map before a reset), and a prefetch of any address is harmless. The entry, the
// second miss, is not hinted: finding it would read the bucket, which may be gone.

final class LookupHint: Sendable {
    /// Each array's base (64-byte aligned) with its bits in the low six; 0 when there is none.
    private let current = Atomic<UInt>(0)
    private let old = Atomic<UInt>(0)
    /// The seed's `mixed` value (HashSeed).
    private let seed = Atomic<UInt64>(0)

    init() {}

    func publish(buckets: BucketArray, old oldBuckets: BucketArray?, seed s: HashSeed) {
        seed.store(s.mixed, ordering: .relaxed)
        current.store(Self.pack(buckets), ordering: .relaxed)
        old.store(oldBuckets.map(Self.pack) ?? 0, ordering: .relaxed)
    }

    private static func pack(_ a: BucketArray) -> UInt { UInt(bitPattern: a.base) | UInt(a.bits) }

    /// Whether the hint holds `map`'s arrays and seed (the map's verifier asks, under the lock).
    func describes(_ map: HashMap) -> Bool {
        current.load(ordering: .relaxed) == Self.pack(map.buckets)
            && old.load(ordering: .relaxed) == (map.oldBuckets.map(Self.pack) ?? 0)
            && seed.load(ordering: .relaxed) == map.seed.mixed
    }

    /// Prefetches the bucket (in both arrays during a growth) that a lookup of `key` reads first.
    @inline(__always)
    func prefetch(_ key: UnsafeRawBufferPointer) {
        let c = current.load(ordering: .relaxed)
        guard c != 0 else { return }
        let h = UInt(truncatingIfNeeded: hashBytes(key.baseAddress, key.count, mixedSeed: seed.load(ordering: .relaxed)))
        Self.prefetch(c, h)
        let o = old.load(ordering: .relaxed)
        if o != 0 { Self.prefetch(o, h) }
    }

    @inline(__always)
    private static func prefetch(_ packed: UInt, _ h: UInt) {
        let bits = packed & 63
        prefetchBucketLines(UnsafeRawPointer(bitPattern: (packed & ~63) &+ (h & ((1 << bits) &- 1)) &* UInt(bucketSize)))
    }
}
