import CKVSupport
import Dispatch
import Glibc
import Synchronization

// Compaction: giving memory back after deletes (Redis' active defragmentation, in our terms).
//
// Deletes free entries into their map's arena, whose pages stay held while anything lives on them
// (Arena.swift). The server's cron calls `cron` `hz` times a second; when the arenas' idle bytes are at
// least `active-defrag-ignore-bytes` and at least `active-defrag-threshold-lower` percent of used memory,
// a cycle starts: it visits every shard of every database, and in each compacts the keyspace map, the
// inner map of every hash, set or sorted set and the tree of every sorted set (HashMap+Compaction.swift,
// ScoreTree+Compaction.swift: one mechanism for all of them) whose arena is at least a quarter idle,
// moving the live blocks off the pages under three quarters live and returning those pages to the system.
// A cycle's share of each cron period grows from `active-defrag-cycle-min` to `-max` percent as the idle
// share goes from the lower threshold to the upper one, as Redis' does; the work is done in steps of a few
// hundred blocks, each under one shard's write lock (tens of microseconds), so no client waits on more
// than one step.
//
// A cycle that gave nothing back (every page still three quarters live) is not repeated until the idle
// bytes have grown by half the ignore threshold again, so a steady fragmentation costs no CPU; one that
// did is followed by another while the thresholds hold (deletes may have gone on behind it).
//
// Values that are not maps are moved into the arena: a list, or a hash, set or sorted set in its compact
// form, that grew past the inline limit is an object of its own, and stays one when it shrinks back (no
// conversions back and forth at the limit). The write that shrinks it counts, once, what moving it into its
// entry would give back (`Arena.shrunkBytes`); a cycle also starts when that has grown by the ignore
// threshold, and its scan moves each such value inline (HashMap.inlineObject): its object and heap blocks
// go, its bytes join the keyspace arena, which compaction moves like any entry.
// The small pages of an arena come from malloc: once held memory has fallen (`trimHeap`), malloc_trim
// gives the holes freed pages leave in glibc's heaps back to the system.

/// Redis' active-defrag-* directives, with our defaults (docs/memory.md says why they differ).
public struct CompactionSettings: Sendable, Equatable {
    public var enabled = true
    public var ignoreBytes = 4 << 20
    public var thresholdLower = 10
    public var thresholdUpper = 100
    public var cycleMin = 1
    public var cycleMax = 25

    public init() {}
}

public final class Compactor: Sendable {
    /// Pages under this live fraction are emptied; a map is looked at when at least 1 - maxFill of its
    /// arena is idle.
    static let maxFill = 0.75
    /// Blocks per step (one shard lock hold).
    static let stepBudget = 256

    /// Whether a map or tree has a growth to finish, a compaction under way, or enough idle to start one.
    static func hasWork(_ c: any Compactable, minBytes: Int = 0) -> Bool {
        c.isGrowing || c.isCompacting || c.worthCompacting(minBytes: minBytes, minFraction: 1 - maxFill)
    }

    private struct Position {
        var database = 0
        var shard = 0
        /// false: the shard's keyspace map; true: scanning the shard for inner maps from `cursor`.
        var scanningValues = false
        var cursor: UInt64 = 0
        var scanFinished = false
        /// Keys of this shard found holding a sparse inner map or tree, and the one being compacted (the
        /// index of its part, `StoredObject.compactables`).
        var queue: [[UInt8]] = []
        var current: (key: [UInt8], object: StoredObject, part: Int)?
    }

    private struct State {
        var settings = CompactionSettings()
        var position: Position?
        var idleAfterLastCycle = 0
        var gainThisCycle = 0
        var heldAtTrim = 0
        /// Pages returned and values inlined by the last cycle (-1 before the first): a cycle that gave
        /// nothing back is not repeated until the idle bytes grow.
        var gainLastCycle = -1
        /// The maps' `shrunkBytes` summed when the last cycle started.
        var shrunkSeen = 0
    }

    private let stores: [Store]
    private let state = Mutex(State())
    private let pages = Atomic<Int>(0)
    private let bytes = Atomic<Int>(0)
    private let cycles = Atomic<Int>(0)
    private let inlined = Atomic<Int>(0)
    private let moving = Atomic(false)
    private let longestHold = Atomic<UInt64>(0)
    private let longestCPU = Atomic<UInt64>(0)

    public init(stores: [Store]) {
        self.stores = stores
    }

    public func configure(_ new: CompactionSettings) { state.withLock { $0.settings = new } }
    public var settings: CompactionSettings { state.withLock { $0.settings } }

    /// Pages and bytes returned to the system, cycles completed, and whether a cycle runs now.
    public var pagesReturned: Int { pages.load(ordering: .relaxed) }
    public var bytesReturned: Int { bytes.load(ordering: .relaxed) }
    public var cyclesCompleted: Int { cycles.load(ordering: .relaxed) }
    /// Values moved from their objects into their entries, having shrunk back into the inline range.
    public var valuesInlined: Int { inlined.load(ordering: .relaxed) }
    public var isRunning: Bool { moving.load(ordering: .relaxed) }
    /// The longest a step has held a shard's lock, in nanoseconds: what a client of that shard can wait.
    public var longestStepNanoseconds: UInt64 { longestHold.load(ordering: .relaxed) }
    /// The most CPU time one step has taken (the rest of a longer hold is the thread waiting for a core).
    public var longestStepCPUNanoseconds: UInt64 { longestCPU.load(ordering: .relaxed) }

    /// The idle arena bytes as a percentage of used memory (Redis' fragmentation percentage, for our arenas).
    public static func idlePercent() -> Int { percentOfUsed(kv_arena_idle_bytes()) }

    private static func percentOfUsed(_ bytes: Int) -> Int { bytes * 100 / max(1, usedMemory()) }

    /// The cron's call: finishes growths (a halving holds both arrays until done), gives freed heap back,
    /// starts a cycle when there is enough to gain and works on it for its share of `period` nanoseconds.
    /// Returns true while a cycle runs.
    @discardableResult
    public func cron(periodNanoseconds period: UInt64) -> Bool {
        let shrunkTotal = survey(finishingGrowthsUntil: DispatchTime.now().uptimeNanoseconds + period / 100)
        return state.withLock { st in
            trimHeap(&st)
            let s = st.settings
            // What a cycle can give back: the arenas' idle bytes, and the objects shrunk since the last.
            let idle = kv_arena_idle_bytes()
            st.shrunkSeen = min(st.shrunkSeen, shrunkTotal)  // a map replaced (FLUSHALL) counts from 0
            let shrunk = shrunkTotal - st.shrunkSeen
            let percent = Compactor.percentOfUsed(idle + shrunk)
            st.idleAfterLastCycle = min(st.idleAfterLastCycle, idle)
            if st.position == nil {
                guard s.enabled, idle + shrunk >= s.ignoreBytes, percent >= s.thresholdLower,
                      st.gainLastCycle > 0 || idle >= st.idleAfterLastCycle + s.ignoreBytes / 2 || shrunk >= s.ignoreBytes
                else { return false }
                st.shrunkSeen = shrunkTotal
                st.position = Position()
                st.gainThisCycle = 0
                moving.store(true, ordering: .relaxed)
            }
            guard s.enabled else {
                endCycle(&st)
                return false
            }
            let span = Double(max(1, s.thresholdUpper - s.thresholdLower))
            let effort = Double(s.cycleMin) + Double(s.cycleMax - s.cycleMin) * min(1, max(0, Double(percent - s.thresholdLower) / span))
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(Double(period) * effort / 100)
            repeat {
                if !step(&st) {
                    endCycle(&st)
                    return false
                }
            } while DispatchTime.now().uptimeNanoseconds < deadline
            return true
        }
    }

    /// Runs a whole cycle now, whatever the thresholds (tests). Returns the pages it returned and the values
    /// it moved inline.
    @discardableResult
    public func compactNow() -> Int {
        state.withLock { st in
            st.position = Position()
            st.gainThisCycle = 0
            while step(&st) {}
            let n = st.gainThisCycle
            endCycle(&st)
            return n
        }
    }

    /// Sums the maps' `shrunkBytes`, and moves old buckets of maps left growing (nothing writes to them),
    /// 64 at a time under the shard's lock, until `deadline`: the writes' share of a growth would
    /// otherwise leave an idle map holding both arrays after a mass delete (Go #51410), and the expiry
    /// cycle's share is small.
    private func survey(finishingGrowthsUntil deadline: UInt64) -> Int {
        var shrunk = 0
        var inTime = true
        for store in stores {
            for shard in store.shards {
                let (growing, s) = shard.lock.withReadLock { (shard.map.isGrowing, shard.map.arena.shrunkBytes) }
                shrunk += s
                guard growing && inTime else { continue }
                while shard.lock.withWriteLock({ shard.map.advanceGrowth(maxBuckets: 64) }) {
                    if DispatchTime.now().uptimeNanoseconds >= deadline {
                        inTime = false
                        break
                    }
                }
            }
        }
        return shrunk
    }

    /// glibc keeps freed memory inside its heaps (only the top is returned by itself); once the memory the
    /// server holds has fallen by 8 MiB since the last look (pages compacted, arrays halved, values freed),
    /// or a cycle has given something back (`force`), malloc_trim gives the whole free pages back.
    private func trimHeap(_ st: inout State, force: Bool = false) {
        let held = heldMemory()
        if held + (8 << 20) < st.heldAtTrim || (force && held < st.heldAtTrim) {
            malloc_trim(0)
            st.heldAtTrim = heldMemory()
        } else {
            st.heldAtTrim = max(st.heldAtTrim, held)
        }
    }

    private func endCycle(_ st: inout State) {
        if st.position != nil {
            cycles.wrappingAdd(1, ordering: .relaxed)
            st.gainLastCycle = st.gainThisCycle
            if st.gainThisCycle > 0 { trimHeap(&st, force: true) }
        }
        st.position = nil
        st.idleAfterLastCycle = max(1, kv_arena_idle_bytes())
        moving.store(false, ordering: .relaxed)
    }

    /// One step under one shard's lock. False when the cycle is over.
    private func step(_ st: inout State) -> Bool {
        guard var p = st.position, p.database < stores.count else { return false }
        defer { st.position = p }
        let shard = stores[p.database].shards[p.shard]
        var finished: (pages: Int, bytes: Int)?
        var valuesInlinedNow = 0
        var shardDone = false
        var retired: RetiredPages?  // returned to the system once the lock is released, below
        shard.lock.withWriteLock {
            let start = DispatchTime.now().uptimeNanoseconds
            let cpuStart = threadCPUNanoseconds()
            defer {
                let held = DispatchTime.now().uptimeNanoseconds - start
                if held > longestHold.load(ordering: .relaxed) { longestHold.store(held, ordering: .relaxed) }
                let cpu = threadCPUNanoseconds() - cpuStart
                if cpu > longestCPU.load(ordering: .relaxed) { longestCPU.store(cpu, ordering: .relaxed) }
            }
            let map = shard.map
            if !p.scanningValues {
                if Compactor.hasWork(map) {
                    let r = map.compactStep(budget: Compactor.stepBudget, maxFill: Compactor.maxFill)
                    if case .running = r { return }
                    if case .finished(let n, let b) = r {
                        finished = (n, b)
                        retired = map.takeRetiredPages()
                    }
                }
                p.scanningValues = true
                p.cursor = 0
                if map.arena.objects == 0 { shardDone = true }
                return
            }
            if let (key, object, part) = p.current {
                let r = key.withUnsafeBytes {
                    map.compactObject(at: $0, object: object, part: part, budget: Compactor.stepBudget, maxFill: Compactor.maxFill)
                }
                guard let (step, pages) = r else {
                    p.current = nil  // the value was deleted or replaced
                    return
                }
                if step == .running { return }
                if case .finished(let n, let b) = step {
                    finished = (n, b)
                    retired = pages
                }
                p.current = part + 1 < object.compactables.count ? (key, object, part + 1) : nil
                return
            }
            if let key = p.queue.popLast() {
                key.withUnsafeBytes { k in
                    guard let e = map.lookup(k), e.holdsObject else { return }
                    let o = e.storedValue.object
                    if o.fitsInline {
                        if map.inlineObject(at: k, o) { valuesInlinedNow += 1 }
                    } else {
                        p.current = (key, o, 0)
                    }
                }
                return
            }
            if p.scanFinished || map.isEmpty || map.arena.objects == 0 {
                shardDone = true
                return
            }
            var visited = 0
            repeat {
                p.cursor = map.scanStep(p.cursor) { e in
                    visited += 1
                    guard e.holdsObject else { return }
                    let o = e.storedValue.object
                    guard o.fitsInline || o.compactables.contains(where: { Compactor.hasWork($0, minBytes: 4096) }) else { return }
                    p.queue.append(Array(e.key))
                }
            } while p.cursor != 0 && visited < Compactor.stepBudget
            p.scanFinished = p.cursor == 0
        }
        withExtendedLifetime(retired) {}  // the lock is released: the pages go back here, not under it
        if valuesInlinedNow > 0 {
            st.gainThisCycle += valuesInlinedNow
            inlined.wrappingAdd(valuesInlinedNow, ordering: .relaxed)
        }
        if let (n, b) = finished {
            st.gainThisCycle += n
            pages.wrappingAdd(n, ordering: .relaxed)
            bytes.wrappingAdd(b, ordering: .relaxed)
        }
        if shardDone {
            p = Position(database: p.database, shard: p.shard + 1)
            if p.shard == stores[p.database].shards.count {
                p = Position(database: p.database + 1)
                while p.database < stores.count && stores[p.database].count == 0 { p.database += 1 }
            }
        }
        return true
    }
}

/// CPU time of the calling thread.
private func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
