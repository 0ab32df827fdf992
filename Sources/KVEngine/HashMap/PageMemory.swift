import Glibc
import Synchronization

// Large regions (2 MiB arena pages, bucket arrays of 2 MiB or more) come straight from mmap, aligned to
// 2 MiB and marked MADV_HUGEPAGE. Random lookups in a large map are bound by TLB misses, worse under
// virtualisation (two-level page walks); 2 MiB pages cut the lookup time by about a quarter here (see
// docs/benchmarks.md). Redis warns against transparent huge pages because fork's copy-on-write then
// copies 2 MiB per touched page; this server never forks.
//
// Such regions are invisible to malloc's statistics, so they are counted here: `mappedBytes` plus the
// allocator's in-use bytes is everything the engine holds.

let hugePageSize = 2 << 20
private let mappedByteCount = Atomic<Int>(0)

/// Bytes the engine holds in regions mapped directly (not through malloc).
public func engineMappedBytes() -> Int { mappedByteCount.load(ordering: .relaxed) }

/// A zeroed region of `bytes` (a multiple of 2 MiB), aligned to 2 MiB.
func mapHugeRegion(_ bytes: Int) -> UnsafeMutableRawPointer {
    precondition(bytes % hugePageSize == 0)
    let span = bytes + hugePageSize
    guard let raw = mmap(nil, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
          raw != MAP_FAILED
    else { fatalError("out of memory mapping \(bytes) bytes") }
    let start = Int(bitPattern: raw)
    let aligned = (start + hugePageSize - 1) & ~(hugePageSize - 1)
    if aligned > start { munmap(raw, aligned - start) }
    let tail = start + span - (aligned + bytes)
    if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + bytes), tail) }
    let p = UnsafeMutableRawPointer(bitPattern: aligned)!
    madvise(p, bytes, MADV_HUGEPAGE)
    mappedByteCount.wrappingAdd(bytes, ordering: .relaxed)
    return p
}

func unmapHugeRegion(_ p: UnsafeMutableRawPointer, _ bytes: Int) {
    munmap(p, bytes)
    mappedByteCount.wrappingSubtract(bytes, ordering: .relaxed)
}
