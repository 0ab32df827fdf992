import CKVSupport
import Glibc
import Synchronization

// The arena: slab memory for one map's entries and overflow buckets, addressed by 32-bit references.
//
// Why not malloc per entry: glibc puts an 8-byte header on each chunk and rounds to 16 bytes, and a
// pointer in a bucket slot costs 8 bytes. The arena hands out 8-byte units with no header, and a slot
// holds a 4-byte reference. For a 16-byte key and value (36-byte entry) that is 40 bytes instead of 48,
// plus 4 bytes of slot instead of 8.
//
// A reference is (page << 18) | unit offset; 0 is null (offset 0 of page slot 0 is never handed out).
// Pages grow from 4 KiB (so an empty map costs nothing and a small one little) to 2 MiB, each about half
// the size of what the arena already holds, and 16384 page slots address 32 GiB per map. Freed blocks go
// onto one free list per size (in units); blocks of up to `maxSmallUnits` units are served from those
// lists first, then from the current page. Entries larger than that live in their own malloc block behind
// a 2-unit stub (Entry.swift), so the lists stay few and short.
//
// COMPACTION (HashMap+Compaction.swift drives it). Every page counts its live units, so a page whose live
// fraction has fallen low is known without looking at it. `beginCompaction` marks such pages draining
// and detaches every free list; `filterFreeLists` then puts back, a bounded number of blocks at a time,
// the free blocks of the pages that stay, and drops those of the draining pages. From the start, nothing
// is allocated on a draining page (its free blocks are off the lists, and it is never the current page)
// and a block freed there is not listed again: so once the map has moved each live block off (`move`,
// repointing the one slot or overflow field that references it), the page holds nothing and nothing
// refers into it, and `finishCompaction` returns it to the system and its slot to reuse.
//
// Invariants (checked by the map's verifier, `verifyPages`): every live reference points inside a page in
// use; each page's live count is the sum of the sizes of the blocks on it handed out and not freed, and
// liveUnits their total; every listed free block lies inside a page in use that is not draining.

let arenaUnitShift = 3
let arenaOffsetBits = 18
let arenaOffsetMask: UInt32 = (1 << 18) - 1
let arenaMaxPages = 1 << 14
let arenaMinPageUnits = 512  // 4 KiB
let arenaMaxPageUnits = 1 << 18  // 2 MiB
/// 2 KiB: larger entries are stored outside the arena. Large enough that a 1 KB value with its key stays
/// in the arena, where compaction can move it: a malloc block cannot be moved, and after a mass delete of
/// 1 KB values glibc keeps most of its pages for the few blocks left on each.
let maxSmallUnits = 256

/// Bytes of all arenas' pages (INFO's arena_page_bytes); changes only when a page comes or goes.
private let arenaPageBytes = Atomic<Int>(0)
public func arenaPageByteCount() -> Int { arenaPageBytes.load(ordering: .relaxed) }

struct Arena {
    private var pages: UnsafeMutablePointer<UnsafeMutableRawPointer>
    /// Per page slot: its size in units (0: the slot is free; negative: retired by compaction, its memory
    /// not yet returned, `takeRetired`), its live units, whether it is draining.
    private var pageSize: UnsafeMutablePointer<Int32>
    private var pageLive: UnsafeMutablePointer<Int32>
    private var pageDraining: UnsafeMutablePointer<Bool>
    private var pageCapacity = 0
    /// Page slots used so far (some may have been returned: `pageSize` 0, on the free-slot stack).
    private(set) var pageCount = 0
    /// Slots free for reuse, a stack of at most `pageCapacity`. Everything the arena holds is a plain
    /// value or an unsafe pointer, so that the struct is trivial: read through its map on every request,
    /// it is never copied with retains (an array here cost two retains and releases a SET: callgrind).
    private var freeSlotStack: UnsafeMutablePointer<Int32>
    private var freeSlotCount = 0
    private var current = -1  // the page `bump` allocates from
    private var bump = 0  // next free unit in the current page
    private var pageUnits = 0  // size of the current page, in units
    private var freeLists: UnsafeMutablePointer<UInt32>  // index = block size in units
    /// Units handed out and not freed.
    private(set) var liveUnits = 0
    /// Bytes of all pages.
    private(set) var reservedBytes = 0
    /// Usable bytes of the malloc blocks of external entries (Entry.swift).
    var externalBytes = 0
    /// Bytes the objects of non-string values report (StoredObject.memoryBytes), kept by EntryEditor.
    var objectBytes = 0
    /// Values that are objects, and those of them in their map form (StoredObject.innerMap): /metrics.
    var objects = 0
    var innerMaps = 0
    /// What moving the objects that shrank back into the inline range into their entries would give back,
    /// summed as each shrank (only ever grows: the Compactor compares it with its last look).
    var shrunkBytes = 0
    /// A compaction's state: pages draining, the free lists detached at its start and not yet filtered
    /// (nil when none runs), and the size class the filter is at.
    private(set) var drainingPages = 0
    private var drainingBytes = 0
    private var detachedLists: UnsafeMutablePointer<UInt32>?
    private var filterClass = 0
    /// Pages emptied by compaction and not yet returned (`pageSize` negative): returning them (munmap,
    /// free) takes the kernel milliseconds for megabytes, which the owner does after releasing its lock
    /// (`takeRetired`).
    private var retiredPages = 0
    /// Pages returned to the system by compaction since the arena was made.
    private(set) var pagesReturned = 0

    init() {
        pages = .allocate(capacity: 1)
        pageSize = .allocate(capacity: 1)
        pageLive = .allocate(capacity: 1)
        pageDraining = .allocate(capacity: 1)
        freeSlotStack = .allocate(capacity: 1)
        freeLists = .allocate(capacity: maxSmallUnits + 1)
        freeLists.initialize(repeating: 0, count: maxSmallUnits + 1)
    }

    /// Adds (sign 1) or takes away (sign -1) an object's share of the object totals; returns its bytes.
    @inline(__always) @discardableResult
    mutating func account(_ o: StoredObject, _ sign: Int) -> Int {
        let bytes = o.memoryBytes
        objectBytes += sign * bytes
        objects += sign
        if o.hasInnerMap { innerMaps += sign }
        return bytes
    }

    /// Frees every page. References handed out before are dangling afterwards.
    mutating func releaseAll() {
        kv_arena_idle_add(-idleBytes)
        arenaPageBytes.wrappingSubtract(reservedBytes, ordering: .relaxed)
        for i in 0..<pageCount where pageSize[i] != 0 { releasePage(i) }
        retiredPages = 0
        pageCount = 0
        freeSlotCount = 0
        current = -1
        bump = 0
        pageUnits = 0
        liveUnits = 0
        reservedBytes = 0
        externalBytes = 0
        objectBytes = 0
        objects = 0
        innerMaps = 0
        freeLists.update(repeating: 0, count: maxSmallUnits + 1)
        detachedLists?.deallocate()
        detachedLists = nil
        drainingPages = 0
        drainingBytes = 0
    }

    /// Called once by the owner's deinit.
    mutating func destroy() {
        releaseAll()
        pages.deallocate()
        pageSize.deallocate()
        pageLive.deallocate()
        pageDraining.deallocate()
        freeSlotStack.deallocate()
        freeLists.deallocate()
    }

    @inline(__always)
    func pointer(_ ref: UInt32) -> UnsafeMutableRawPointer {
        pages[Int(ref >> arenaOffsetBits)] + (Int(ref & arenaOffsetMask) << arenaUnitShift)
    }

    /// A block of `units` 8-byte units (1...maxSmallUnits), 8-byte aligned, contents undefined.
    @inline(__always)
    mutating func allocate(units: Int) -> UInt32 {
        let head = freeLists[units]
        liveUnits += units
        kv_arena_idle_add(-(units << arenaUnitShift))
        if head != 0 {
            freeLists[units] = pointer(head).load(as: UInt32.self)
            pageLive[Int(head >> arenaOffsetBits)] += Int32(truncatingIfNeeded: units)
            return head
        }
        if bump + units > pageUnits { addPage() }
        let ref = UInt32(truncatingIfNeeded: (current << arenaOffsetBits) | bump)
        bump += units
        pageLive[current] += Int32(truncatingIfNeeded: units)
        return ref
    }

    @inline(__always)
    mutating func free(_ ref: UInt32, units: Int) {
        let page = Int(ref >> arenaOffsetBits)
        pageLive[page] -= Int32(truncatingIfNeeded: units)
        liveUnits -= units
        kv_arena_idle_add(units << arenaUnitShift)
        // A draining page's free blocks are not listed: it is returned whole once empty.
        if pageDraining[page] { return }
        pointer(ref).storeBytes(of: freeLists[units], as: UInt32.self)
        freeLists[units] = ref
    }

    /// Lists a free block of the current page (its unused tail when a new page starts).
    private mutating func listTail() {
        let rest = pageUnits - bump
        guard current >= 0, rest > 0 else { return }
        let ref = UInt32(truncatingIfNeeded: (current << arenaOffsetBits) | bump)
        if rest <= maxSmallUnits {
            pointer(ref).storeBytes(of: freeLists[rest], as: UInt32.self)
            freeLists[rest] = ref
        } else {
            // Larger than any block: list it as blocks of the largest size (the last piece its own size).
            var offset = bump
            while offset < pageUnits {
                let n = Swift.min(maxSmallUnits, pageUnits - offset)
                let r = UInt32(truncatingIfNeeded: (current << arenaOffsetBits) | offset)
                pointer(r).storeBytes(of: freeLists[n], as: UInt32.self)
                freeLists[n] = r
                offset += n
            }
        }
        bump = pageUnits
    }

    private mutating func addPage() {
        listTail()  // the tail of the current page stays usable, so nothing is lost
        // Filled, it may become a huge page (PageMemory.swift).
        if current >= 0, pageSize[current] == Int32(arenaMaxPageUnits), !pageDraining[current] {
            adviseHugePages(pages[current])
        }
        let slot: Int
        if freeSlotCount > 0 {
            freeSlotCount -= 1
            slot = Int(freeSlotStack[freeSlotCount])
        } else {
            guard pageCount < arenaMaxPages else { fatalError("map arena exhausted (32 GiB of entries in one map)") }
            if pageCount == pageCapacity { growPageTable() }
            slot = pageCount
            pageCount += 1
        }
        // About half of what the arena holds, so that the unused end of the newest page is at most about a
        // third of the arena (a map of 2.5 MB, one of 16 shards of a 1M-key store, would otherwise sit on
        // a mostly empty 2 MiB page). 2 MiB pages are huge-page backed once filled (PageMemory.swift).
        var units = arenaMinPageUnits
        // During a compaction, by what stays: the live units to be moved onto new pages are known.
        let kept = Swift.max(reservedBytes - drainingBytes, drainingBytes > 0 ? liveUnits << arenaUnitShift : 0)
        while units < arenaMaxPageUnits && units << (arenaUnitShift + 1) <= kept / 2 { units <<= 1 }
        let bytes = units << arenaUnitShift
        if bytes == hugePageSize {
            pages[slot] = mapHugeRegion(bytes, lazily: true)
        } else {
            guard let p = malloc(bytes) else { fatalError("out of memory allocating a \(bytes)-byte arena page") }
            pages[slot] = p
        }
        pageSize[slot] = Int32(units)
        pageLive[slot] = 0
        pageDraining[slot] = false
        current = slot
        pageUnits = units
        reservedBytes += bytes
        arenaPageBytes.wrappingAdd(bytes, ordering: .relaxed)
        kv_arena_idle_add(bytes)
        bump = slot == 0 ? 1 : 0  // reference 0 stays null
    }

    private mutating func growPageTable() {
        let newCapacity = Swift.max(8, pageCapacity * 2)
        func grown<T>(_ old: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: newCapacity)
            p.moveInitialize(from: old, count: pageCount)
            old.deallocate()
            return p
        }
        pages = grown(pages)
        pageSize = grown(pageSize)
        pageLive = grown(pageLive)
        pageDraining = grown(pageDraining)
        freeSlotStack = grown(freeSlotStack)
        pageCapacity = newCapacity
    }

    private func releasePage(_ i: Int) { releaseRegion(pages[i], bytes: Int(abs(pageSize[i])) << arenaUnitShift) }

    /// Whether `ref` lies inside a page in use (for the verifier).
    func contains(_ ref: UInt32, units: Int) -> Bool {
        let page = Int(ref >> arenaOffsetBits)
        guard ref != 0, page < pageCount, pageSize[page] > 0 else { return false }
        return Int(ref & arenaOffsetMask) + units <= Int(pageSize[page])
    }

    /// Bytes held on free lists (freed blocks not yet reused), on draining pages, and the unused tail of
    /// the current page.
    var idleBytes: Int { reservedBytes - liveUnits << arenaUnitShift }
}

// Compaction: the arena's side (see the header).
extension Arena {
    var isCompacting: Bool { detachedLists != nil || drainingPages > 0 }

    /// Whether `ref` is on a draining page: its block must move.
    @inline(__always) func isDraining(_ ref: UInt32) -> Bool { pageDraining[Int(ref >> arenaOffsetBits)] }

    /// Marks draining every page (but the current one) whose live fraction is below `maxFill`, and detaches
    /// the free lists for `filterFreeLists`. Returns the number of pages marked.
    mutating func beginCompaction(maxFill: Double) -> Int {
        precondition(!isCompacting)
        var marked = 0
        for i in 0..<pageCount where pageSize[i] > 0 {
            // The current page counts by what is handed out of it so far.
            let used = i == current ? bump : Int(pageSize[i])
            if Double(pageLive[i]) < maxFill * Double(used) {
                pageDraining[i] = true
                drainingBytes += Int(pageSize[i]) << arenaUnitShift
                marked += 1
            }
        }
        guard marked > 0 else { return 0 }
        if current >= 0 && pageDraining[current] {
            // Retired: the next allocation starts a page sized for what stays (its tail is not listed).
            current = -1
            bump = 0
            pageUnits = 0
        }
        drainingPages = marked
        let lists = UnsafeMutablePointer<UInt32>.allocate(capacity: maxSmallUnits + 1)
        lists.moveInitialize(from: freeLists, count: maxSmallUnits + 1)
        freeLists.initialize(repeating: 0, count: maxSmallUnits + 1)
        detachedLists = lists
        filterClass = 1
        return marked
    }

    /// Puts back on the free lists at most `budget` detached free blocks of pages that stay, dropping those
    /// of draining pages; returns the blocks looked at. `filtered` tells when none are left.
    mutating func filterFreeLists(budget: Int) -> Int {
        guard let lists = detachedLists else { return 0 }
        var n = 0
        while n < budget && filterClass <= maxSmallUnits {
            let head = lists[filterClass]
            if head == 0 {
                filterClass += 1
                continue
            }
            let p = pointer(head)
            lists[filterClass] = p.load(as: UInt32.self)
            if !isDraining(head) {
                p.storeBytes(of: freeLists[filterClass], as: UInt32.self)
                freeLists[filterClass] = head
            }
            n += 1
        }
        if filterClass > maxSmallUnits {
            lists.deallocate()
            detachedLists = nil
        }
        return n
    }

    var filtered: Bool { detachedLists == nil }

    /// Live units still on draining pages (0 when the map has moved everything off them).
    var drainingLiveUnits: Int {
        var n = 0
        for i in 0..<pageCount where pageDraining[i] { n += Int(pageLive[i]) }
        return n
    }

    /// Moves a block of `units` units off its draining page; returns its new reference (never draining).
    @inline(__always)
    mutating func move(_ ref: UInt32, units: Int) -> UInt32 {
        let fresh = allocate(units: units)
        pointer(fresh).copyMemory(from: pointer(ref), byteCount: units << arenaUnitShift)
        free(ref, units: units)
        return fresh
    }

    /// Retires every draining page (each must hold nothing: the free lists are filtered and the map has
    /// moved every block off) for `takeRetired` to return to the system. Returns the pages and bytes.
    mutating func finishCompaction() -> (pages: Int, bytes: Int) {
        precondition(filtered && drainingLiveUnits == 0)
        var bytes = 0, pages = 0
        for i in 0..<pageCount where pageDraining[i] {
            let b = Int(pageSize[i]) << arenaUnitShift
            pageDraining[i] = false
            pageSize[i] = -pageSize[i]
            retiredPages += 1
            bytes += b
            pages += 1
        }
        pagesReturned += pages
        drainingPages = 0
        drainingBytes = 0
        reservedBytes -= bytes
        arenaPageBytes.wrappingSubtract(bytes, ordering: .relaxed)
        kv_arena_idle_add(-bytes)
        return (pages, bytes)
    }
}

extension Arena {
    /// The pages compaction retired, to return once the owner's lock is released (dropping the result
    /// returns them).
    mutating func takeRetired() -> RetiredPages? {
        guard retiredPages > 0 else { return nil }
        var regions: [(UnsafeMutableRawPointer, Int)] = []
        for i in 0..<pageCount where pageSize[i] < 0 {
            regions.append((pages[i], Int(-pageSize[i]) << arenaUnitShift))
            pageSize[i] = 0
            freeSlotStack[freeSlotCount] = Int32(i)
            freeSlotCount += 1
        }
        retiredPages = 0
        return RetiredPages(regions)
    }
}

/// Arena pages nothing refers to any more; returned to the system when this goes.
public final class RetiredPages: @unchecked Sendable {
    private let regions: [(UnsafeMutableRawPointer, Int)]
    init(_ regions: [(UnsafeMutableRawPointer, Int)]) { self.regions = regions }
    deinit { for (p, bytes) in regions { releaseRegion(p, bytes: bytes) } }
}

private func releaseRegion(_ p: UnsafeMutableRawPointer, bytes: Int) {
    if bytes == hugePageSize { unmapHugeRegion(p, bytes) } else { Glibc.free(p) }
}

extension Arena {
    /// Bytes of the pages the kernel holds: mincore for the 2 MiB pages, which are mapped lazily
    /// (PageMemory.swift); the smaller ones, malloc's, counted whole.
    func residentBytes() -> Int {
        var total = 0
        let small = 4096
        var vector = [UInt8](repeating: 0, count: hugePageSize / small)
        for i in 0..<pageCount where pageSize[i] > 0 {
            let bytes = Int(pageSize[i]) << arenaUnitShift
            guard bytes == hugePageSize, mincore(pages[i], bytes, &vector) == 0 else {
                total += bytes
                continue
            }
            total += vector.reduce(0) { $0 + Int($1 & 1) } * small
        }
        return total
    }
}

// The verifier's view of the pages.
extension Arena {
    /// Per-page live units as the arena counts them, and each page's size (0: slot free).
    func pageFill() -> [(size: Int, live: Int, draining: Bool)] {
        (0..<pageCount).map { (Int(max(0, pageSize[$0])), Int(pageLive[$0]), pageDraining[$0]) }
    }

    /// Checks the pages against every block the owner holds, as (reference, units): each inside a page in
    /// use, each page's live count the sum of its blocks, and the free lists. Returns the first fault.
    func verify(blocks: [(UInt32, Int)]) -> String? {
        var live = [Int](repeating: 0, count: pageCount)
        var total = 0
        for (ref, units) in blocks {
            guard contains(ref, units: units) else { return "block \(ref) of \(units) units outside the pages in use" }
            live[Int(ref >> arenaOffsetBits)] += units
            total += units
        }
        if total != liveUnits { return "\(liveUnits) live units counted, blocks hold \(total)" }
        for (page, fill) in pageFill().enumerated() where fill.live != live[page] {
            return "page \(page) counts \(fill.live) live units, its blocks hold \(live[page])"
        }
        return verifyFreeLists()
    }

    /// Checks the free lists against the pages: every listed block inside a page in use and not draining,
    /// every list finite. Returns a description of the first fault.
    func verifyFreeLists() -> String? {
        let limit = reservedBytes >> arenaUnitShift
        for units in 1...maxSmallUnits {
            var ref = freeLists[units]
            var n = 0
            while ref != 0 {
                guard contains(ref, units: units) else { return "free block \(ref) of \(units) units outside the pages in use" }
                if isDraining(ref) { return "free block \(ref) listed on a draining page" }
                n += 1
                if n > limit { return "free list of \(units) units does not end" }
                ref = pointer(ref).load(as: UInt32.self)
            }
        }
        return nil
    }
}
