import Glibc
import Synchronization

// Large regions (2 MiB arena pages, bucket arrays of 2 MiB or more) come straight from mmap, aligned to
// 2 MiB, to be backed by huge pages (MADV_HUGEPAGE; an arena page once it is full, below). Random lookups
// in a large map are bound by TLB misses, worse under virtualisation (two-level page walks); 2 MiB pages
// cut the lookup time by about a quarter here (see docs/benchmarks.md). Redis warns against transparent
// huge pages because fork's copy-on-write then copies 2 MiB per touched page; this server never forks.
//
// Such regions are invisible to malloc's statistics, so they are counted here: `mappedBytes` plus the
// allocator's in-use bytes is everything the engine holds.
//
// ARENA PAGES BECOME HUGE WHEN FULL. An arena fills its newest page from the front (Arena.swift). Faulted
// in as one huge page, that page is resident whole from its first entry: every map's newest page, on
// average half unused, cost its full 2 MiB (16 shards: up to 32 MiB of RSS holding nothing; measured 31 MB,
// 11% of a 1M-key keyspace of small sorted sets), and the fault itself zeroes 2 MiB, after direct
// compaction when memory is fragmented (0.2 to 5.8 ms measured here), on an event loop under a shard's
// write lock. So an arena page is mapped `lazily`, with MADV_NOHUGEPAGE (which also holds where THP is
// "always"): 4 KiB pages come in as the bump pointer reaches them. When the arena moves on to a new page,
// the filled one is advised MADV_HUGEPAGE (`adviseHugePages`), and khugepaged collapses it in its own time.
// Not MADV_COLLAPSE at once, from a thread of our own: that was tried, and its copy under the process's
// mmap lock (with the compaction before it) raised the longest SET under `redis-benchmark -t set -r 10000000
// -P 16` from 1-4 ms to 6-11 ms, where lookups through the server gained nothing measurable from the huge
// pages (docs/memory.md, "Huge pages only when full"). A growth's new bucket array is mapped lazily too
// (its writes reach every part of it at once, so each huge page was faulted, and zeroed, inside some
// command while the growth ran: LATENCY showed 12-33 ms commands during a 12M-key load) and is advised
// when the growth ends. Until khugepaged has collapsed it, lookups in one process cost about a quarter
// more (kvbench map, 10M keys); through the server that is lost in its system calls. An array sized up
// front (`reserveCapacity`, before a snapshot's load) is huge from the start.

let hugePageSize = 2 << 20
private let mappedByteCount = Atomic<Int>(0)

/// Bytes the engine holds in regions mapped directly (not through malloc).
public func engineMappedBytes() -> Int { mappedByteCount.load(ordering: .relaxed) }

/// A zeroed region of `bytes` (a multiple of 2 MiB), aligned to 2 MiB: huge-page backed from its first
/// touch, or, `lazily`, in 4 KiB pages until `adviseHugePages`.
func mapHugeRegion(_ bytes: Int, lazily: Bool = false) -> UnsafeMutableRawPointer {
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
    madvise(p, bytes, lazily ? MADV_NOHUGEPAGE : MADV_HUGEPAGE)
    mappedByteCount.wrappingAdd(bytes, ordering: .relaxed)
    return p
}

func unmapHugeRegion(_ p: UnsafeMutableRawPointer, _ bytes: Int) {
    munmap(p, bytes)
    mappedByteCount.wrappingSubtract(bytes, ordering: .relaxed)
}

/// A region mapped `lazily` whose memory is now all in use (an arena page the bump pointer has left, a
/// growth's bucket array once the growth ends): from now on khugepaged may make it huge pages.
func adviseHugePages(_ p: UnsafeMutableRawPointer, bytes: Int = hugePageSize) {
    madvise(p, bytes, MADV_HUGEPAGE)
}
