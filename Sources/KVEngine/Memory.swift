import CKVSupport
import Glibc
import Synchronization

// The process's memory figures, in one place: what INFO, the metrics endpoint, snapshots and the
// benchmarks report, and what a memory limit will be checked against.

/// Bytes the process holds: its malloc blocks plus the engine's directly mapped regions. In the kvserver
/// executable the blocks are counted as they are allocated (CAllocCount: cheap enough to ask before every
/// command, as the memory limit does); elsewhere malloc's own statistics are walked (mallinfo2).
public func heldMemory() -> Int {
    let counted = kv_counted_allocation_bytes()
    if counted >= 0 { return counted + engineMappedBytes() }
    let m = mallinfo2()
    return Int(m.uordblks) + Int(m.hblkhd) + engineMappedBytes()
}

/// INFO's used_memory and what maxmemory limits: the memory held less the space the maps' arenas hold free
/// (freed entries' blocks, which new entries reuse, and unused page tails), as Redis' used_memory leaves
/// out the free space inside jemalloc's pages. So a key evicted or deleted frees its bytes at once, and
/// the arenas' free space shows where it belongs, in mem_fragmentation_ratio (docs/memory.md).
public func usedMemory() -> Int { heldMemory() - kv_arena_idle_bytes() }


/// Resident memory of the process (INFO's used_memory_rss, the used-mem aux field of snapshots), from
/// /proc/self/statm.
public func residentBytes() -> Int {
    guard let f = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    let text = line.withUnsafeMutableBufferPointer { b in fgets(b.baseAddress, 256, f).map { String(cString: $0) } }
    guard let fields = text?.split(separator: " ") else { return 0 }
    guard fields.count >= 2, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// The highest used_memory seen by INFO and the metrics endpoint. Not sampled by the cron: mallinfo2
/// holds malloc's arena locks while it walks them, and at 10 Hz that cost the event loop a fifth of its
/// SET throughput at pipeline 16 (measured with redis-benchmark, this binary against one without).
public final class MemoryPeak: Sendable {
    private let peak = Atomic<Int>(0)

    public init() {}

    /// Records `used`; returns the peak.
    public func update(_ used: Int) -> Int {
        var seen = peak.load(ordering: .relaxed)
        while used > seen {
            let (done, now) = peak.compareExchange(expected: seen, desired: used, ordering: .relaxed)
            if done { return used }
            seen = now
        }
        return seen
    }

    public func reset(_ used: Int) { peak.store(used, ordering: .relaxed) }
}
