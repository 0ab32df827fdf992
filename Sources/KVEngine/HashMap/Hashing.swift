// Keyed 64-bit hashing of byte strings.
//
// The map hashes raw bytes itself: Swift's Hasher over [UInt8] feeds one byte at a time, and String
// equality merges distinct byte strings (canonical equivalence), which a binary-safe store cannot have.
//
// The function is wyhash (final version 4, public domain, Wang Yi): two 64x64->128 multiplies for keys of
// up to 16 bytes, one per 16 bytes above that. It is keyed by a per-map 64-bit seed drawn from the
// system's random source, so clients cannot precompute keys that share a bucket (hash flooding) without
// knowing the seed. wyhash is not a proven PRF like SipHash; the seed is what hides the collision
// structure, which is the trade Go (memhash/aeshash) and Abseil make for a 3-4x faster hash.

let wyp0: UInt64 = 0xa076_1d64_78bd_642f
let wyp1: UInt64 = 0xe703_7ed1_a0b4_28db
let wyp2: UInt64 = 0x8ebc_6af0_9c88_c6e3
let wyp3: UInt64 = 0x5899_65cc_7537_4cc3

@inline(__always)
func wymix(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let r = a.multipliedFullWidth(by: b)
    return r.high ^ r.low
}

@inline(__always)
private func read8(_ p: UnsafeRawPointer, _ i: Int) -> UInt64 {
    UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
}

@inline(__always)
private func read4(_ p: UnsafeRawPointer, _ i: Int) -> UInt64 {
    UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
}

/// A secret as the hash takes it. wyhash starts by mixing its secret with itself, a 64x64->128 multiply;
/// done here once, when the secret is drawn, it leaves every hash. A lookup's hash is on the path to its
/// bucket load, and multiplies are what delay that load when other work keeps the multiplier busy: with
/// this, `kvbench map`'s mixed 80/20 workload (a random draw, two multiplies, beside each operation) takes
/// 0.87x the time at 1M keys and 0.85x at 10M (docs/performance.md, "Overwrites, and the hash's
/// multiplies"). The hashes are unchanged.
struct HashSeed: Equatable {
    /// The secret as drawn: what fingerprints and derived seeds start from.
    let secret: UInt64
    let mixed: UInt64

    init(_ secret: UInt64) {
        self.secret = secret
        mixed = secret ^ wymix(secret ^ wyp0, wyp1)
    }
}

/// The keyed hash of `count` bytes at `p` under a HashSeed's `mixed` value.
@inline(__always)
func hashBytes(_ p: UnsafeRawPointer?, _ count: Int, mixedSeed: UInt64) -> UInt64 {
    var seed = mixedSeed
    var a: UInt64 = 0
    var b: UInt64 = 0
    if count <= 16 {
        if count >= 4 {
            let p = p!
            let shift = (count >> 3) << 2
            a = (read4(p, 0) << 32) | read4(p, shift)
            b = (read4(p, count - 4) << 32) | read4(p, count - 4 - shift)
        } else if count > 0 {
            let p = p!.assumingMemoryBound(to: UInt8.self)
            a = (UInt64(p[0]) << 16) | (UInt64(p[count >> 1]) << 8) | UInt64(p[count - 1])
        }
    } else {
        let p = p!
        var i = count
        var off = 0
        if i > 48 {
            var s1 = seed
            var s2 = seed
            repeat {
                seed = wymix(read8(p, off) ^ wyp1, read8(p, off + 8) ^ seed)
                s1 = wymix(read8(p, off + 16) ^ wyp2, read8(p, off + 24) ^ s1)
                s2 = wymix(read8(p, off + 32) ^ wyp3, read8(p, off + 40) ^ s2)
                off += 48
                i -= 48
            } while i > 48
            seed ^= s1 ^ s2
        }
        while i > 16 {
            seed = wymix(read8(p, off) ^ wyp1, read8(p, off + 8) ^ seed)
            off += 16
            i -= 16
        }
        a = read8(p, off + i - 16)
        b = read8(p, off + i - 8)
    }
    a ^= wyp1
    b ^= seed
    let r = a.multipliedFullWidth(by: b)
    return wymix(r.low ^ wyp0 ^ UInt64(truncatingIfNeeded: count), r.high ^ wyp1)
}

/// The keyed hash of `key`; `seed` is a map's (or the store's) secret.
@inline(__always)
func hashBytes(_ key: UnsafeRawBufferPointer, seed: HashSeed) -> UInt64 {
    hashBytes(key.baseAddress, key.count, mixedSeed: seed.mixed)
}

/// A fresh secret from the system's random source (getrandom(2) behind SystemRandomNumberGenerator).
func randomSeed() -> UInt64 {
    var g = SystemRandomNumberGenerator()
    return g.next()
}

/// A fingerprint that identifies a seed in diagnostics without revealing it.
func seedFingerprint(_ seed: UInt64) -> UInt64 {
    wymix(seed ^ 0x5eed_f1e7_da7a_0001, wyp0) & 0xffff_ffff
}

/// The map's hash of `key` under `seed`, for tests that need to place keys on purpose.
package func debugHash(_ key: [UInt8], seed: UInt64) -> UInt64 {
    key.withUnsafeBytes { hashBytes($0, seed: HashSeed(seed)) }
}
