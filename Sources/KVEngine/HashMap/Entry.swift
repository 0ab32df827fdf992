import Glibc
import CKVSupport

// An entry: one key, its value and its optional expiry, in one block.
//
//   byte 0        flags: hasExpiry (bit 0), wide (bit 1), external (bit 2), value type (bits 3-5,
//                 ValueType's raw value; 0 = string: Values/ValueType.swift), inline (bit 6: a hash or
//                 set whose compact form is the value bytes themselves, Values/InlineValues.swift),
//                 visited (bit 7: read since the eviction hand last passed, HashMap+Eviction.swift)
//   bytes 1-3     access clock: when the key was last read or written, in seconds modulo 2^24 (Redis'
//                 24-bit LRU clock, OBJECT IDLETIME; the map's `accessClock`); under an LFU eviction
//                 policy, Redis' LFU word instead (minutes and a logarithmic counter, OBJECT FREQ)
//   narrow form   byte 4 key length (<= 255), bytes 5-6 value length (<= 65535): a 7-byte header
//   wide form     bytes 4-7 key length, bytes 8-11 value length: a 12-byte header
//   then          expiry (Int64 milliseconds since the epoch, unaligned) when hasExpiry, the key, the value
//
// Entries of up to 2 KiB live in the map's arena, rounded up to 8 bytes: a 16-byte key with a 16-byte
// value takes 40 bytes (39 rounded up: the access clock fits in what was padding). A larger entry lives in its own malloc block, and the arena holds a 16-byte stub
// (flags = external, bytes 8-15 the block's address); its value can then grow in place up to the block's
// usable size, which is what makes repeated APPEND amortised O(1).
//
// A value of another type than string is 8 value bytes: a retained reference to its StoredObject, released
// by `freeEntry` and when the value is overwritten (EntryEditor) — or, for a small hash or set, its compact
// encoding inline (the inline bit), which owns nothing outside the entry.
//
// The key's hash is not stored: its bucket slot keeps the few bits a growth needs (split hints,
// Bucket.swift), and evacuation recomputes it from the key when those have run out, as Go's map does.

let entryHasExpiry: UInt8 = 1
let entryWide: UInt8 = 2
let entryExternal: UInt8 = 4
let entryTypeShift: UInt8 = 3
/// The value type's bits and the inline bit: what a value's kind is, moved and kept as one.
let entryTypeMask: UInt8 = 15 << 3
let entryInline: UInt8 = 1 << 6
let stubUnits = 2
let narrowHeaderSize = 7
/// The access clock's range: 24 bits, as Redis' LRU_CLOCK_MAX.
let accessClockMask: UInt32 = (1 << 24) - 1

/// The layout of an entry with these lengths.
struct EntryShape {
    let wide: Bool
    let hasExpiry: Bool
    let keyCount: Int
    let valueCount: Int

    @inline(__always)
    init(keyCount: Int, valueCount: Int, hasExpiry: Bool) {
        self.keyCount = keyCount
        self.valueCount = valueCount
        self.hasExpiry = hasExpiry
        self.wide = keyCount > 255 || valueCount > 65535
    }

    @inline(__always) var headerSize: Int { (wide ? 12 : narrowHeaderSize) + (hasExpiry ? 8 : 0) }
    @inline(__always) var byteCount: Int { headerSize + keyCount + valueCount }
    @inline(__always) var units: Int { (byteCount + 7) >> arenaUnitShift }
    @inline(__always) var isExternal: Bool { units > maxSmallUnits }

    @inline(__always)
    func writeHeader(_ p: UnsafeMutableRawPointer, expiry: Int64, access: UInt32) {
        var flags: UInt8 = 0
        if hasExpiry { flags |= entryHasExpiry }
        if wide {
            flags |= entryWide
            p.storeBytes(of: UInt32(keyCount), toByteOffset: 4, as: UInt32.self)
            p.storeBytes(of: UInt32(valueCount), toByteOffset: 8, as: UInt32.self)
        } else {
            p.storeBytes(of: UInt8(keyCount), toByteOffset: 4, as: UInt8.self)
            p.storeBytes(of: UInt16(valueCount), toByteOffset: 5, as: UInt16.self)
        }
        p.storeBytes(of: UInt32(flags) | access << 8, as: UInt32.self)
        if hasExpiry { p.storeBytes(of: expiry, toByteOffset: wide ? 12 : narrowHeaderSize, as: Int64.self) }
    }
}

/// A view of an entry's block (never of a stub). Valid until the map's next write.
struct Entry {
    let base: UnsafeMutableRawPointer

    @inline(__always) init(_ base: UnsafeMutableRawPointer) { self.base = base }

    /// Resolves an arena block, following the stub of an external entry.
    @inline(__always)
    init(arenaBlock p: UnsafeMutableRawPointer) {
        if p.load(as: UInt8.self) & entryExternal != 0 {
            base = p.load(fromByteOffset: 8, as: UnsafeMutableRawPointer.self)
        } else {
            base = p
        }
    }

    @inline(__always) var flags: UInt8 { base.load(as: UInt8.self) }
    @inline(__always) var isWide: Bool { flags & entryWide != 0 }
    @inline(__always) var hasExpiry: Bool { flags & entryHasExpiry != 0 }
    /// The value type's bits with the inline bit (0 for a string).
    @inline(__always) var typeBits: UInt8 { flags & entryTypeMask }
    /// Whether the value bytes are a reference to a StoredObject (a value of another type, not inline).
    @inline(__always) var holdsObject: Bool { typeBits != 0 && typeBits & entryInline == 0 }
    @inline(__always) var storedValue: StoredValue { StoredValue(raw: value, typeBits: typeBits) }

    /// Sets the value type's bits, leaving the other flags.
    @inline(__always)
    func setTypeBits(_ bits: UInt8) { base.storeBytes(of: flags & ~entryTypeMask | bits, as: UInt8.self) }

    /// Releases the object a non-string value references (the bytes stay; the caller overwrites or frees them).
    @inline(__always)
    func releaseObject() { objectReference(keyPointer + keyCount).release() }

    @inline(__always)
    var keyCount: Int {
        isWide ? Int(base.load(fromByteOffset: 4, as: UInt32.self)) : Int(base.load(fromByteOffset: 4, as: UInt8.self))
    }

    @inline(__always)
    var valueCount: Int {
        isWide ? Int(base.load(fromByteOffset: 8, as: UInt32.self)) : Int(base.loadUnaligned(fromByteOffset: 5, as: UInt16.self))
    }

    @inline(__always) var headerSize: Int { (isWide ? 12 : narrowHeaderSize) + (hasExpiry ? 8 : 0) }

    /// Absolute expiry in milliseconds, or nil.
    @inline(__always)
    var expiry: Int64? {
        hasExpiry ? base.loadUnaligned(fromByteOffset: isWide ? 12 : narrowHeaderSize, as: Int64.self) : nil
    }

    /// The access clock (bytes 1-3): when the key was last read or written.
    @inline(__always) var access: UInt32 { base.load(as: UInt32.self) >> 8 }

    /// Sets the access clock and the visited bit (HashMap+Eviction.swift). Readers call it under a shared
    /// lock: it stores only when something changes (so a hot key is written once a second, or once per
    /// pass of the eviction hand, not on every read), and racing readers store the same flags byte and
    /// clocks at most a tick apart, which is harmless.
    @inline(__always)
    func touch(_ clock: UInt32) {
        let word = base.load(as: UInt32.self)
        let new = word & 0xFF | UInt32(entryVisited) | clock << 8
        if new != word { base.storeBytes(of: new, as: UInt32.self) }
    }

    @inline(__always) var keyPointer: UnsafeMutableRawPointer { base + headerSize }
    @inline(__always) var key: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: keyPointer, count: keyCount) }
    @inline(__always)
    var value: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: keyPointer + keyCount, count: valueCount) }

    @inline(__always) var shape: EntryShape { EntryShape(keyCount: keyCount, valueCount: valueCount, hasExpiry: hasExpiry) }

    @inline(__always)
    func keyEquals(_ k: UnsafeRawBufferPointer) -> Bool {
        keyCount == k.count && bytesEqual(keyPointer, k.baseAddress, k.count)
    }
}

/// Byte equality with a fast path for the short keys that dominate key-value workloads.
@inline(__always)
func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer?, _ n: Int) -> Bool {
    guard n > 0, let b else { return true }
    if n >= 8 && n <= 16 {
        // Two overlapping 8-byte words cover 8...16 bytes.
        return a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
            && a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
                == b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
    }
    if n < 8 {
        // Two overlapping loads of 4, 2 or 1 bytes: packed members (InlineWalk.swift) are often this short.
        if n >= 4 {
            return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
                && a.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
        }
        if n >= 2 {
            return a.loadUnaligned(as: UInt16.self) == b.loadUnaligned(as: UInt16.self)
                && a.loadUnaligned(fromByteOffset: n - 2, as: UInt16.self) == b.loadUnaligned(fromByteOffset: n - 2, as: UInt16.self)
        }
        return a.load(as: UInt8.self) == b.load(as: UInt8.self)
    }
    return memcmp(a, b, n) == 0
}

// Entry blocks: allocation, release and in-place change. Every function returns the entry's (possibly new)
// arena reference; the caller stores it in the slot.
extension Arena {
    /// A new entry holding `key`, a value of `valueCount` bytes (contents undefined) and `expiry`.
    @inline(__always)
    mutating func makeEntry(
        key: UnsafeRawBufferPointer, valueCount: Int, expiry: Int64?, access: UInt32, spare: Int = 0
    ) -> UInt32 {
        let shape = EntryShape(keyCount: key.count, valueCount: valueCount, hasExpiry: expiry != nil)
        let ref: UInt32
        let base: UnsafeMutableRawPointer
        if shape.byteCount + spare > maxSmallUnits << arenaUnitShift {
            ref = allocate(units: stubUnits)
            let stub = pointer(ref)
            guard let block = malloc(shape.byteCount + spare) else {
                fatalError("out of memory allocating a \(shape.byteCount + spare)-byte entry")
            }
            externalBytes += malloc_usable_size(block)
            stub.storeBytes(of: entryExternal, as: UInt8.self)
            stub.storeBytes(of: block, toByteOffset: 8, as: UnsafeMutableRawPointer.self)
            base = block
        } else {
            ref = allocate(units: shape.units)
            base = pointer(ref)
        }
        shape.writeHeader(base, expiry: expiry ?? 0, access: access)
        copyBytes(to: base + shape.headerSize, from: key.baseAddress, count: key.count)
        return ref
    }

    /// Frees the entry at `ref` and returns true if it is the common kind: a string without expiry, in its
    /// block, narrow. Returns false, freeing nothing, for any other.
    @inline(__always)
    mutating func freePlainString(_ ref: UInt32) -> Bool {
        let p = pointer(ref)
        guard p.load(as: UInt8.self) & (entryExternal | entryTypeMask | entryHasExpiry | entryWide) == 0 else { return false }
        // The narrow layout's size written out: through `Entry.shape`, which also decides wide or narrow and
        // with or without expiry (settled by the guard), a delete took 27 more instructions (callgrind).
        let bytes = narrowHeaderSize + Int(p.load(fromByteOffset: 4, as: UInt8.self)) + Int(p.loadUnaligned(fromByteOffset: 5, as: UInt16.self))
        free(ref, units: (bytes + 7) >> arenaUnitShift)
        return true
    }

    /// Frees an entry and, if it has one, its external block.
    @inline(__always)
    mutating func freeEntry(_ ref: UInt32) {
        let p = pointer(ref)
        // The common case, a string in the arena, owns nothing outside its block.
        if p.load(as: UInt8.self) & (entryExternal | entryTypeMask) == 0 {
            free(ref, units: Entry(p).shape.units)
            return
        }
        let units = blockUnits(ref)
        freeOwned(ref)
        free(ref, units: units)
    }

    /// The size of an entry's arena block: its stub's when the entry is external.
    @inline(__always)
    func blockUnits(_ ref: UInt32) -> Int {
        let p = pointer(ref)
        return p.load(as: UInt8.self) & entryExternal != 0 ? stubUnits : Entry(p).shape.units
    }

    /// Releases what the entry owns outside the arena: its object, its external block (the arena block stays).
    @inline(__always)
    mutating func freeOwned(_ ref: UInt32) {
        let p = pointer(ref)
        let e = Entry(arenaBlock: p)
        if e.holdsObject {
            // The map's reference, borrowed to account for it: a strong local released after the queue's
            // release would make this thread the one that frees a large object (a test caught it, under load).
            let reference = objectReference(e.keyPointer + e.keyCount)
            let bytes = reference._withUnsafeGuaranteedRef { account($0, -1) }
            if bytes >= LazyFree.thresholdBytes {
                LazyFree.release(reference, bytes: bytes)  // freed off this thread
            } else {
                reference.release()
            }
        }
        guard p.load(as: UInt8.self) & entryExternal != 0 else { return }
        let block = e.base
        externalBytes -= malloc_usable_size(block)
        Glibc.free(block)
    }

    /// Gives the entry a value of `newCount` bytes and the expiry `expiry`. The first `preserve` bytes of
    /// the old value are kept (preserve <= both lengths); the rest is undefined; the value type is kept
    /// (the caller changes it, releasing any object first). Moves the entry only when
    /// its block cannot hold the new shape; an external block grows greedily (doubling up to 1 MiB of
    /// spare room, as Redis' sds does) so that repeated appends are amortised.
    mutating func resizeEntry(_ ref: UInt32, valueCount newCount: Int, expiry: Int64?, preserve: Int) -> UInt32 {
        let p = pointer(ref)
        let isExternal = p.load(as: UInt8.self) & entryExternal != 0
        let old = Entry(arenaBlock: p)
        let oldShape = old.shape
        let typeBits = old.typeBits
        if newCount == oldShape.valueCount && (expiry != nil) == oldShape.hasExpiry {
            // The common overwrite: same length, same layout. Only the expiry may change.
            if let expiry { old.base.storeBytes(of: expiry, toByteOffset: oldShape.wide ? 12 : narrowHeaderSize, as: Int64.self) }
            return ref
        }
        let newShape = EntryShape(keyCount: oldShape.keyCount, valueCount: newCount, hasExpiry: expiry != nil)
        let sameLayout = newShape.headerSize == oldShape.headerSize
        if sameLayout {
            let fits = isExternal
                ? newShape.byteCount <= malloc_usable_size(old.base)
                : !newShape.isExternal && newShape.units == oldShape.units
            if fits {
                newShape.writeHeader(old.base, expiry: expiry ?? 0, access: old.access)
                if typeBits != 0 { old.setTypeBits(typeBits) }
                return ref
            }
        }
        let growing = newCount > oldShape.valueCount && (isExternal || newShape.isExternal)
        let spare = growing ? min(newShape.byteCount, 1 << 20) : 0
        let fresh = makeEntry(key: old.key, valueCount: newCount, expiry: expiry, access: old.access, spare: spare)
        let dst = Entry(arenaBlock: pointer(fresh))
        if preserve > 0 {
            (dst.keyPointer + dst.keyCount).copyMemory(from: old.keyPointer + old.keyCount, byteCount: preserve)
        }
        if typeBits != 0 {
            // The object's reference moved with the bytes: the old block goes without releasing it.
            dst.setTypeBits(typeBits)
            old.setTypeBits(0)
        }
        freeEntry(ref)
        return fresh
    }
}

/// `copyBytes(to:from:count:)` of a whole buffer.
@inline(__always)
func copyBytes(to dst: UnsafeMutableRawPointer, from src: UnsafeRawBufferPointer) {
    copyBytes(to: dst, from: src.baseAddress, count: src.count)
}

/// memcpy, inlined for the short keys and values that dominate (a call costs more than the copy).
@inline(__always)
func copyBytes(to dst: UnsafeMutableRawPointer, from src: UnsafeRawPointer?, count n: Int) {
    guard n > 0, let src else { return }
    // Two overlapping loads and stores of the widest word that fits: no call, no loop.
    if n <= 16 && n >= 8 {
        let a = src.loadUnaligned(as: UInt64.self)
        let b = src.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        dst.storeBytes(of: a, as: UInt64.self)
        dst.storeBytes(of: b, toByteOffset: n - 8, as: UInt64.self)
    } else if n >= 4 && n < 8 {
        let a = src.loadUnaligned(as: UInt32.self)
        let b = src.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
        dst.storeBytes(of: a, as: UInt32.self)
        dst.storeBytes(of: b, toByteOffset: n - 4, as: UInt32.self)
    } else if n < 4 {
        let a = src.load(as: UInt8.self), m = src.load(fromByteOffset: n >> 1, as: UInt8.self)
        let z = src.load(fromByteOffset: n - 1, as: UInt8.self)
        dst.storeBytes(of: a, as: UInt8.self)
        dst.storeBytes(of: m, toByteOffset: n >> 1, as: UInt8.self)
        dst.storeBytes(of: z, toByteOffset: n - 1, as: UInt8.self)
    } else {
        dst.copyMemory(from: src, byteCount: n)
    }
}
