import Glibc

// A bucket: 8 slots in 48 bytes. Buckets of the main array sit back to back; overflow buckets live in the
// map's arena and are chained by 32-bit references.
//
//   offset  0  tophash[8]   one byte per slot (TopHash.swift); byte i belongs to slot i
//   offset  8  refs[8]      UInt32 arena reference of slot i's entry; 0 when the slot is empty
//   offset 40  overflow     UInt32 arena reference of the next bucket in the chain; 0 ends the chain
//   offset 44  reserved     zero; room for a per-bucket snapshot epoch
//
// 4-byte references instead of 8-byte pointers are what keep a bucket at 48 bytes: 6 bytes of bucket per
// slot, which at Go's 6.5 average load is 7.4 bytes per entry and 14.8 just after a doubling.

let bucketSlots = 8
let bucketSize = 48

struct Bucket: Equatable {
    let raw: UnsafeMutableRawPointer

    @inline(__always) init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    @inline(__always) var tophashWord: UInt64 { raw.load(as: UInt64.self) }

    @inline(__always) func top(_ i: Int) -> UInt8 { raw.load(fromByteOffset: i, as: UInt8.self) }
    @inline(__always) func setTop(_ i: Int, _ v: UInt8) { raw.storeBytes(of: v, toByteOffset: i, as: UInt8.self) }

    @inline(__always) func ref(_ i: Int) -> UInt32 { raw.load(fromByteOffset: 8 + 4 * i, as: UInt32.self) }
    @inline(__always) func setRef(_ i: Int, _ r: UInt32) { raw.storeBytes(of: r, toByteOffset: 8 + 4 * i, as: UInt32.self) }

    @inline(__always) var overflow: UInt32 {
        get { raw.load(fromByteOffset: 40, as: UInt32.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 40, as: UInt32.self) }
    }

    /// Whether this (old-array) bucket has been evacuated: slot 0 of an evacuated bucket always holds a
    /// marker in evacuatedX...evacuatedEmpty, which no live bucket uses.
    @inline(__always) var isEvacuated: Bool { isEvacuatedMarker(top(0)) }

    @inline(__always) func clear() { raw.initializeMemory(as: UInt8.self, repeating: 0, count: bucketSize) }
}

/// A contiguous array of 2^B buckets, zeroed (all slots emptyRest), aligned to 64 bytes so that bucket
/// 4k starts a cache line.
struct BucketArray {
    let base: UnsafeMutableRawPointer
    let allocation: UnsafeMutableRawPointer
    let bits: Int

    init(bits: Int) {
        self.bits = bits
        let bytes = (1 << bits) * bucketSize
        if bytes >= hugePageSize {
            // Zero pages from mmap, faulted in as buckets are touched; huge pages (PageMemory.swift).
            allocation = mapHugeRegion((bytes + hugePageSize - 1) & ~(hugePageSize - 1))
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

    func deallocate() {
        let bytes = byteCount
        if bytes >= hugePageSize { unmapHugeRegion(allocation, (bytes + hugePageSize - 1) & ~(hugePageSize - 1)) } else { free(allocation) }
    }
}
