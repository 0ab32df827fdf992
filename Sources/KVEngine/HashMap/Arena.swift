import CKVSupport
import Glibc

// The arena: slab memory for one map's entries and overflow buckets, addressed by 32-bit references.
//
// Why not malloc per entry: glibc puts an 8-byte header on each chunk and rounds to 16 bytes, and a
// pointer in a bucket slot costs 8 bytes. The arena hands out 8-byte units with no header, and a slot
// holds a 4-byte reference. For a 16-byte key and value (36-byte entry) that is 40 bytes instead of 48,
// plus 4 bytes of slot instead of 8.
//
// A reference is (page << 18) | unit offset; 0 is null (page 0 starts at offset 1). Pages grow from 4 KiB
// (so an empty map costs nothing and a small one little) to 2 MiB, and 16384 pages address 32 GiB per map.
// Freed blocks go onto one free list per size (in units); blocks of up to `maxSmallUnits` units are served
// from those lists first, then from the current page. Entries larger than that live in their own malloc
// block behind a 2-unit stub (Entry.swift), so the lists stay few and short.
//
// Invariants (checked by the map's verifier through `liveUnits`): every live reference points inside an
// allocated page; liveUnits is the sum of the sizes of all blocks handed out and not freed.

let arenaUnitShift = 3
let arenaOffsetBits = 18
let arenaOffsetMask: UInt32 = (1 << 18) - 1
let arenaMaxPages = 1 << 14
let arenaMinPageUnits = 512  // 4 KiB
let arenaMaxPageUnits = 1 << 18  // 2 MiB
let maxSmallUnits = 128  // 1 KiB: larger entries are stored outside the arena

struct Arena {
    private var pages: UnsafeMutablePointer<UnsafeMutableRawPointer>
    private var pageCapacity = 0
    private(set) var pageCount = 0
    private var bump = 0  // next free unit in the last page
    private var pageUnits = 0  // size of the last page, in units
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

    init() {
        pages = .allocate(capacity: 1)
        freeLists = .allocate(capacity: maxSmallUnits + 1)
        freeLists.initialize(repeating: 0, count: maxSmallUnits + 1)
    }

    /// Adds (sign 1) or takes away (sign -1) an object's share of the object totals.
    @inline(__always)
    mutating func account(_ o: StoredObject, _ sign: Int) {
        objectBytes += sign * o.memoryBytes
        objects += sign
        if o.hasInnerMap { innerMaps += sign }
    }

    /// Frees every page. References handed out before are dangling afterwards.
    mutating func releaseAll() {
        kv_arena_idle_add(-idleBytes)
        for i in 0..<pageCount { releasePage(i) }
        pageCount = 0
        bump = 0
        pageUnits = 0
        liveUnits = 0
        reservedBytes = 0
        externalBytes = 0
        objectBytes = 0
        objects = 0
        innerMaps = 0
        freeLists.update(repeating: 0, count: maxSmallUnits + 1)
    }

    /// Called once by the owner's deinit.
    mutating func destroy() {
        releaseAll()
        pages.deallocate()
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
            return head
        }
        if bump + units > pageUnits { addPage() }
        let ref = UInt32(truncatingIfNeeded: ((pageCount - 1) << arenaOffsetBits) | bump)
        bump += units
        return ref
    }

    @inline(__always)
    mutating func free(_ ref: UInt32, units: Int) {
        pointer(ref).storeBytes(of: freeLists[units], as: UInt32.self)
        freeLists[units] = ref
        liveUnits -= units
        kv_arena_idle_add(units << arenaUnitShift)
    }

    private mutating func addPage() {
        // The tail of the current page becomes a free block of its own size, so nothing is lost.
        let rest = pageUnits - bump
        if rest > 0 {
            let ref = UInt32(truncatingIfNeeded: ((pageCount - 1) << arenaOffsetBits) | bump)
            pointer(ref).storeBytes(of: freeLists[rest], as: UInt32.self)
            freeLists[rest] = ref
        }
        guard pageCount < arenaMaxPages else { fatalError("map arena exhausted (32 GiB of entries in one map)") }
        if pageCount == pageCapacity {
            let newCapacity = max(8, pageCapacity * 2)
            let grown = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: newCapacity)
            grown.moveInitialize(from: pages, count: pageCount)
            pages.deallocate()
            pages = grown
            pageCapacity = newCapacity
        }
        let units = Arena.pageUnits(pageCount)
        let bytes = units << arenaUnitShift
        if bytes == hugePageSize {
            pages[pageCount] = mapHugeRegion(bytes)
        } else {
            guard let p = malloc(bytes) else { fatalError("out of memory allocating a \(bytes)-byte arena page") }
            pages[pageCount] = p
        }
        pageCount += 1
        pageUnits = units
        reservedBytes += bytes
        kv_arena_idle_add(bytes)
        bump = pageCount == 1 ? 1 : 0  // reference 0 stays null
    }

    /// Page sizes double every 4 pages from 4 KiB to 2 MiB, so the unused end of the newest page is at
    /// most about a quarter of what the arena holds (a map of 2.5 MB, one of 16 shards of a 1M-key
    /// store, would otherwise sit on a mostly empty 2 MiB page). 2 MiB pages are huge-page backed
    /// (PageMemory.swift). 36 small pages hold 8 MiB; the other 16348 pages address 32 GiB.
    static func pageUnits(_ page: Int) -> Int { Swift.min(arenaMaxPageUnits, arenaMinPageUnits << Swift.min(page / 4, 9)) }

    private func releasePage(_ i: Int) {
        let bytes = Arena.pageUnits(i) << arenaUnitShift
        if bytes == hugePageSize { unmapHugeRegion(pages[i], bytes) } else { Glibc.free(pages[i]) }
    }

    /// Whether `ref` lies inside a page (for the verifier).
    func contains(_ ref: UInt32, units: Int) -> Bool {
        let page = Int(ref >> arenaOffsetBits)
        guard ref != 0, page < pageCount else { return false }
        return Int(ref & arenaOffsetMask) + units <= Arena.pageUnits(page)
    }

    /// Bytes held on free lists (freed blocks not yet reused) plus the unused tail of the last page.
    var idleBytes: Int { reservedBytes - liveUnits << arenaUnitShift }
}
