import CKVSupport
import Glibc

// A bucket: 8 slots in 48 bytes. Buckets of the main array sit back to back; overflow buckets live in the
// map's arena and are chained by 32-bit references.
//
//   offset  0  tophash[8]   one byte per slot (TopHash.swift); byte i belongs to slot i
//   offset  8  refs[8]      UInt32 arena reference of slot i's entry; 0 when the slot is empty
//   offset 40  overflow     UInt32 arena reference of the next bucket in the chain; 0 ends the chain
//   offset 44  hints[8]     4 bits per slot, slot i at bits 4i: the entry's split hint (below)
//
// SPLIT HINTS. Moving an entry to a doubled array needs the hash bit just above the bucket index, and the
// hash is not stored (as in Go): evacuation would read every entry's key to rehash it, a cache miss per
// entry (12% of the server's time under HSET into a growing hash at -P 16, perf). A slot's nibble keeps
// the next hash bits instead: 1abc holds three (c is bit B of the hash, B the array's bits; b bit B + 1; a
// bit B + 2), 01bc two, 001c one, 0001 and 0000 none. An insert writes three; a doubling consumes the
// lowest (shifts right) and a halving adds the one the old bucket's index gives (shifts left); only an
// entry whose hint has run out (three doublings in a row) is read and rehashed, and gets three again. A
// hint is only ever an answer the key would give (VERIFY checks every live slot's); 0 is always safe.
//
// 4-byte references instead of 8-byte pointers are what keep a bucket at 48 bytes: 6 bytes of bucket per
// slot, which at Go's 6.5 average load is 7.4 bytes per entry and 14.8 just after a doubling.

let bucketSlots = 8
let bucketSize = 48

/// The split hint of a hash in an array of 2^bits buckets: its three bits above the index.
@inline(__always)
func splitHint(_ hash: UInt64, bits: Int) -> UInt32 { 8 | UInt32(truncatingIfNeeded: hash >> UInt64(bits)) & 7 }

/// How many hash bits a split hint holds (0-3).
@inline(__always)
func hintBits(_ v: UInt32) -> Int { v >= 8 ? 3 : v >= 4 ? 2 : v >= 2 ? 1 : 0 }

struct Bucket: Equatable {
    let raw: UnsafeMutableRawPointer

    @inline(__always) init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    @inline(__always) var tophashWord: UInt64 {
        get { raw.load(as: UInt64.self) }
        nonmutating set { raw.storeBytes(of: newValue, as: UInt64.self) }
    }

    @inline(__always) func top(_ i: Int) -> UInt8 { raw.load(fromByteOffset: i, as: UInt8.self) }
    @inline(__always) func setTop(_ i: Int, _ v: UInt8) { raw.storeBytes(of: v, toByteOffset: i, as: UInt8.self) }

    @inline(__always) func ref(_ i: Int) -> UInt32 { raw.load(fromByteOffset: 8 + 4 * i, as: UInt32.self) }
    @inline(__always) func setRef(_ i: Int, _ r: UInt32) { raw.storeBytes(of: r, toByteOffset: 8 + 4 * i, as: UInt32.self) }

    @inline(__always) var overflow: UInt32 {
        get { raw.load(fromByteOffset: 40, as: UInt32.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 40, as: UInt32.self) }
    }

    /// Slot i's split hint.
    @inline(__always) func hint(_ i: Int) -> UInt32 { (raw.load(fromByteOffset: 44, as: UInt32.self) >> (4 * i)) & 15 }
    @inline(__always) func setHint(_ i: Int, _ v: UInt32) {
        let w = raw.load(fromByteOffset: 44, as: UInt32.self)
        raw.storeBytes(of: w & ~(15 << (4 * i)) | v << (4 * i), toByteOffset: 44, as: UInt32.self)
    }

    /// Whether this (old-array) bucket has been evacuated: slot 0 of an evacuated bucket always holds a
    /// marker in evacuatedX...evacuatedEmpty, which no live bucket uses.
    @inline(__always) var isEvacuated: Bool { isEvacuatedMarker(top(0)) }

    @inline(__always) func clear() { raw.initializeMemory(as: UInt8.self, repeating: 0, count: bucketSize) }
}

/// Prefetches the bucket at `p`: its tophash word and its last reference, the two lines a bucket (48 bytes in
/// an array aligned to 64) may straddle. A hint: `p` may be stale, a prefetch never faults.
@inline(__always)
func prefetchBucketLines(_ p: UnsafeRawPointer?) {
    kv_prefetch(p)
    kv_prefetch(p.map { $0 + 36 })
}

/// A contiguous array of 2^B buckets, zeroed (all slots emptyRest), aligned to 64 bytes so that bucket
/// 4k starts a cache line.
struct BucketArray {
    let base: UnsafeMutableRawPointer
    let allocation: UnsafeMutableRawPointer
    let bits: Int

    /// `lazily`: a growth's new array, which its writes fill over time (PageMemory.swift); it becomes
    /// huge-page backed once the growth ends (`adviseHugePages`).
    init(bits: Int, lazily: Bool = false) {
        self.bits = bits
        let bytes = (1 << bits) * bucketSize
        if bytes >= hugePageSize {
            // Zero pages from mmap, faulted in as buckets are touched; huge pages (PageMemory.swift).
            allocation = mapHugeRegion((bytes + hugePageSize - 1) & ~(hugePageSize - 1), lazily: lazily)
            base = allocation
        } else {
            guard let p = calloc(1, bytes + 64) else { fatalError("out of memory allocating \(bytes) bytes of buckets") }
            allocation = p
            base = UnsafeMutableRawPointer(bitPattern: (Int(bitPattern: p) + 63) & ~63)!
        }
    }

    @inline(__always) var count: Int { 1 << bits }
    @inline(__always) var mask: Int { (1 << bits) - 1 }
    @inline(__always) subscript(i: Int) -> Bucket { Bucket(base + i * bucketSize) }
    var byteCount: Int { count * bucketSize }

    /// A growth's array, every bucket written now that it has ended: from now on khugepaged may make its
    /// whole 2 MiB pages huge ones (not a last partial one, which would make memory no bucket uses resident).
    func adviseHugePages() {
        let whole = byteCount & ~(hugePageSize - 1)
        if whole > 0 { KVEngine.adviseHugePages(allocation, bytes: whole) }
    }

    func deallocate() {
        let bytes = byteCount
        if bytes >= hugePageSize { unmapHugeRegion(allocation, (bytes + hugePageSize - 1) & ~(hugePageSize - 1)) } else { free(allocation) }
    }
}
