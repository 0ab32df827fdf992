// Front coding: a listpack stored with each element's shared prefix left out, the `prefixed` form of an
// inline value (InlineValues.swift).
//
// Small hashes, sets and sorted sets are mostly names an application numbers or namespaces: fields
// "field:0000000001", "field:0000000002"..., members "user:1041", "user:1042"... In a listpack each is
// stored whole. Front coding (as LevelDB's blocks and Lucene's term dictionaries do) stores each element as
//
//   LEB128 p   how many leading bytes it shares with the element `stride` places before it (0 for the first
//              `stride` elements)
//   LEB128 s   how many bytes follow
//   s bytes    the rest of the element
//
// Stride 2 compares a hash's field with the previous field and its value with the previous value (and a
// sorted set's member with the previous member, its score with the previous score); stride 1 a set's
// member with the previous member. Ten 16-byte fields numbered in order cost 3 bytes each instead of 17.
// An element sharing nothing costs one byte more than in the listpack, so the form is used only when it
// is the smallest (`inlineSize(of:stride:)` decides, `writeInline` follows the decision):
// values without shared prefixes stay exactly as they were. Which values are inline does not change: the
// plain form's size decides that, as before.
//
// Only the inline encoding is front-coded. A read decodes it into the value's listpack (`decodeFrontCoded`),
// so everything above the entry sees a listpack as before.

/// The common prefix of two byte ranges.
@inline(__always)
func sharedPrefix(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Int {
    var i = 0
    while i + 8 <= n && a.loadUnaligned(fromByteOffset: i, as: UInt64.self) == b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
        i += 8
    }
    while i < n && a.load(fromByteOffset: i, as: UInt8.self) == b.load(fromByteOffset: i, as: UInt8.self) { i += 1 }
    return i
}

/// `copyBytes` into a walk's slots: 16 bytes at once when `count` is no more and a 16-byte load and store
/// stay within the `readable` bytes at `from` (all initialized) and the `writable` at `to` (the bytes
/// past `count` are garbage the caller never reads): one load and store where copyBytes chooses among
/// four widths.
@_transparent
func copyShort(to: UnsafeMutableRawPointer, from: UnsafeRawPointer, count: Int, readable: Int, writable: Int) {
    if count <= 16 && readable >= 16 && writable >= 16 {
        let (a, b) = (from.loadUnaligned(as: UInt64.self), from.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        to.storeBytes(of: a, as: UInt64.self)
        to.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
    } else {
        copyBytes(to: to, from: from, count: count)
    }
}

/// The header of the front-coded element at `i` of the `end` bytes at `input`, `i` moved past it: the prefix
/// it shares with the element a stride before (`before` bytes long) and the length of the rest, which
/// follows. Nil when malformed: a varint or the rest past the end, a prefix longer than `before`, an element
/// longer than `limit`. Every walk of the form checks its elements with it.
@_transparent
func frontCodedHeader(_ input: UnsafeRawPointer, at i: inout Int, _ end: Int, before: Int, limit: Int) -> (shared: Int, rest: Int)? {
    // Wrapping arithmetic: every operand is bounded by the varints' 35 bits or the limit.
    guard i < end, let shared = loadVarint(input, &i, end), let rest = loadVarint(input, &i, end), rest <= end &- i,
          shared <= before, shared &+ rest <= limit else { return nil }
    return (shared, rest)
}

/// One key's step of the comparison `findFrontCoded` describes: a key sharing `shared` bytes with the key
/// before it, its other `rest` bytes at `bytes`, moves `match` (the prefix shared with `needle`, whose bytes
/// are at `wanted`) on; whether the key is the needle.
@inline(__always)
private func keyMatches(_ match: inout Int, shared: Int, rest: Int, bytes: UnsafeRawPointer,
                        needle: UnsafeRawBufferPointer, wanted: UnsafeRawPointer) -> Bool {
    guard shared <= match else { return false }
    match = shared &+ sharedPrefix(bytes, wanted + shared, min(rest, needle.count &- shared))
    return match == needle.count && shared &+ rest == needle.count
}

extension Listpack {
    /// Calls `body` with each element's bytes and the shared prefix with the element `stride` before it.
    @inline(__always)
    fileprivate func forEachFrontCoded(stride: Int, _ body: (_ element: UnsafeRawBufferPointer, _ shared: Int) -> Void) {
        bytes.withUnsafeBytes { all in
            guard let base = all.baseAddress else { return }
            // Start and length of the last two elements (`stride` is 1 or 2), by the parity of their index.
            var previous = ((0, 0), (0, 0))
            var p = 0, i = 0
            while p < all.count {
                let length = loadVarint(base, &p, all.count)!
                var shared = 0
                if i >= stride {
                    let (s, n) = (i - stride) & 1 == 0 ? previous.0 : previous.1
                    shared = sharedPrefix(base + p, base + s, Swift.min(length, n))
                }
                body(UnsafeRawBufferPointer(start: base + p, count: length), shared)
                if i & 1 == 0 { previous.0 = (p, length) } else { previous.1 = (p, length) }
                p += length
                i += 1
            }
        }
    }

    /// The size of the front-coded elements (without the inline header).
    func frontCodedCount(stride: Int) -> Int {
        var total = 0
        forEachFrontCoded(stride: stride) { e, shared in
            total += varintSize(shared) + varintSize(e.count - shared) + e.count - shared
        }
        return total
    }

    /// Writes the front-coded elements at `p`.
    func writeFrontCoded(stride: Int, to p: UnsafeMutableRawPointer) {
        var at = p
        forEachFrontCoded(stride: stride) { e, shared in
            at += storeLEB128(shared, at: at)
            at += storeLEB128(e.count - shared, at: at)
            copyBytes(to: at, from: e.baseAddress! + shared, count: e.count - shared)
            at += e.count - shared
        }
    }
}

/// The listpack front-coded in `raw` (its `count` elements, each sharing a prefix with the one `stride`
/// before it), or nil when `raw` is not such an encoding: a prefix longer than the element it refers to, a
/// length or varint running past the end, a listpack over the inline limit (no inline value's plain form
/// is larger), or a different number of elements. One pass, into a buffer on the stack.
func decodeFrontCoded(_ raw: UnsafeRawBufferPointer, count: Int, stride: Int) -> Listpack? {
    let limit = inlineValueLimit
    guard stride == 1 || stride == 2, let input = raw.baseAddress else { return nil }
    return withUnsafeTemporaryAllocation(byteCount: limit, alignment: 1) { buffer -> Listpack? in
        let o = buffer.baseAddress!
        // Start and length in the output of the last two elements, by the parity of their index.
        var previous = ((0, 0), (0, 0))
        var at = 0, i = 0, n = 0
        while i < raw.count {
            guard let shared = loadVarint(input, &i, raw.count), let rest = loadVarint(input, &i, raw.count),
                  rest <= raw.count - i else { return nil }
            let (from, before) = n < stride ? (0, 0) : (n - stride) & 1 == 0 ? previous.0 : previous.1
            let length = shared + rest
            guard shared <= before, varintSize(length) + length <= limit - at else { return nil }
            at += storeLEB128(length, at: o + at)
            copyBytes(to: o + at, from: o + from, count: shared)
            copyBytes(to: o + at + shared, from: input + i, count: rest)
            if n & 1 == 0 { previous.0 = (at, length) } else { previous.1 = (at, length) }
            at += length
            i += rest
            n += 1
        }
        guard n == count else { return nil }
        return Listpack(raw: UnsafeRawBufferPointer(start: o, count: at), count: count)
    }
}

/// The front-coded form's elements read in order, each rebuilt from the one `stride` before it in a slot of
/// its own: `slotCount` slots (2 by default: the last element of each index parity) of `slotSize` bytes each,
/// at `slots`, element n in slot n % `slotCount`, so that it stays readable until element n + `slotCount`.
/// Each is checked against the bytes left, the element it refers to and the slot size.
struct FrontCodedElements {
    let input: UnsafeRawPointer, end: Int, stride: Int, slots: UnsafeMutableRawPointer, slotSize: Int, slotCount: Int
    /// The last rebuilt element's length of each index parity.
    private(set) var lengths = (0, 0)
    private(set) var i = 0, n = 0
    /// The slot element n goes to: n % slotCount, kept by counting (a division per element cost more than
    /// the rest of reading it).
    private var slot = 0

    init?(_ raw: UnsafeRawBufferPointer, stride: Int, slots: UnsafeMutableRawPointer, slotSize: Int = inlineValueLimit, slotCount: Int = 2) {
        guard stride == 1 || stride == 2, slotCount % 2 == 0, let input = raw.baseAddress else { return nil }
        (self.input, end, self.stride, self.slots, self.slotSize, self.slotCount) = (input, raw.count, stride, slots, slotSize, slotCount)
    }

    /// Whether every byte has been read.
    var atEnd: Bool { i == end }

    /// `frontCodedHeader` at `i`, elements no longer than a slot.
    @_transparent
    func header(at i: inout Int, before: Int) -> (shared: Int, rest: Int)? {
        frontCodedHeader(input, at: &i, end, before: before, limit: slotSize)
    }

    /// The next element, rebuilt in its slot, and where its bytes began; nil at the end or when malformed (a
    /// varint or length past the end, a prefix longer than the element it refers to, an element longer than
    /// a slot).
    // Transparent: @inline(__always) left it a call in `locateFrontCoded`'s loop (callgrind: HSET of a field
    // already in a front-coded hash of 20 fields, 10,522 -> 9,700 instructions a request).
    @_transparent
    mutating func next() -> (start: Int, element: UnsafeRawBufferPointer)? {
        let start = i
        var i = start  // a local: the varint reads through it stay in registers
        // The element `stride` before is in its slot; this one goes in the slot of its own. Its length is the
        // last of its index parity (`stride` is 1 or 2).
        let n = self.n
        guard let (shared, rest) = header(at: &i, before: n < stride ? 0 : (n &- stride) & 1 == 0 ? lengths.0 : lengths.1) else { return nil }
        let length = shared &+ rest
        let slot = self.slot
        let to = slots + slot &* slotSize
        if shared > 0 {
            let from = slot >= stride ? slot &- stride : slot &+ slotCount &- stride
            if from != slot { copyBytes(to: to, from: slots + from &* slotSize, count: shared) }
        }
        copyBytes(to: to + shared, from: input + i, count: rest)
        if n & 1 == 0 { lengths.0 = length } else { lengths.1 = length }
        self.i = i &+ rest
        self.n = n &+ 1
        self.slot = slot &+ 1 == slotCount ? 0 : slot &+ 1
        return (start, UnsafeRawBufferPointer(start: to, count: length))
    }

    /// The next pair (stride 2, from an even element, `slotCount` even): its key and value rebuilt in the
    /// slots of their own (an even one and the next), and where its bytes began; nil at the end or when
    /// malformed, as `next()` checks it. Half the calls and none of `next()`'s choices by parity: a sorted
    /// set's edit reads its pairs with it (`InlinePairs`).
    @_transparent
    mutating func nextPair() -> (start: Int, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        let start = i
        var i = start
        let slot = self.slot, size = slotSize
        let to = slots + slot &* size, from = slots + (slot == 0 ? slotCount &- 2 : slot &- 2) &* size
        guard let (shared, rest) = header(at: &i, before: lengths.0) else { return nil }  // (0 for the first pair: nothing read from `from`)
        // The rests are copied 16 bytes at once where they can be (`copyShort`); the prefixes exactly, so that
        // nothing is read from a slot that was not written.
        copyBytes(to: to, from: from, count: shared)
        copyShort(to: to + shared, from: input + i, count: rest, readable: end &- i, writable: size &- shared)
        i &+= rest
        guard let (vShared, vRest) = header(at: &i, before: lengths.1) else { return nil }
        copyBytes(to: to + size, from: from + size, count: vShared)
        copyShort(to: to + (size &+ vShared), from: input + i, count: vRest, readable: end &- i, writable: size &- vShared)
        lengths = (shared &+ rest, vShared &+ vRest)
        self.i = i &+ vRest
        n &+= 2
        self.slot = slot &+ 2 == slotCount ? 0 : slot &+ 2
        return (start, UnsafeRawBufferPointer(start: to, count: lengths.0), UnsafeRawBufferPointer(start: to + size, count: lengths.1))
    }

    /// Reads on from the start, a group (a key and its value) at a time, to the first key equal to `needle`
    /// and returns where its bytes began (its value not read yet), or nil when none is left before element
    /// `count`; each element read adds its plain size to `plainBytes`. Keys are compared by the prefix they
    /// share with the key before them, as `findFrontCoded` describes, and never rebuilt: `keyShared` is left
    /// the prefix the last key read shares with the needle, exact (what an appended needle is coded
    /// against). Only values are rebuilt, in their slot (the odd one). `malformed` is set when the bytes are
    /// (stride and slotCount must be 2).
    // One loop over locals, a group at a time: an element at a time, rebuilding keys too, cost HSET of the
    // last of 20 fields 103 instructions an element (callgrind), against 64 for HGET's walk, which compared keys only.
    mutating func seek(_ needle: UnsafeRawBufferPointer, before count: Int, plainBytes: inout Int, keyShared: inout Int,
                       malformed: inout Bool) -> Int? {
        guard stride == 2 && slotCount == 2 && n == 0 else { malformed = true; return nil }
        let wanted = needle.baseAddress ?? input  // an empty needle's bytes are never read
        let valueSlot = slots + slotSize
        var i = self.i, n = self.n, lengths = self.lengths, plain = plainBytes, match = 0
        defer { (self.i, self.n, self.slot, self.lengths, plainBytes, keyShared) = (i, n, n & 1, lengths, plain, match) }
        while n < count {
            // The key (n even), compared where it lies.
            let start = i
            guard let (shared, rest) = header(at: &i, before: lengths.0) else {  // lengths.0: the key before (0 for the first)
                malformed = true
                return nil
            }
            let length = shared &+ rest
            lengths.0 = length
            plain &+= varintSize(length) &+ length
            n &+= 1
            let isNeedle = keyMatches(&match, shared: shared, rest: rest, bytes: input + i, needle: needle, wanted: wanted)
            i &+= rest
            if isNeedle { return start }
            guard n < count else { break }
            // Its value, rebuilt over the value before it.
            guard let (vShared, vRest) = header(at: &i, before: lengths.1) else {  // lengths.1: the value before (0 for the first)
                malformed = true
                return nil
            }
            let vLength = vShared &+ vRest
            copyBytes(to: valueSlot + vShared, from: input + i, count: vRest)
            lengths.1 = vLength
            plain &+= varintSize(vLength) &+ vLength
            n &+= 1
            i &+= vRest
        }
        return nil
    }
}

/// `findInline` in the front-coded form's `count` elements `raw` at stride 2 (a hash's fields, a sorted set's
/// members; a set's: `locateFrontCodedKey`). A key (an element at an even index) is compared without being
/// rebuilt: with `match` the length of the prefix the key before it shares with the needle, a key sharing p
/// bytes with that key
///   - when p <= match, agrees with the needle on its first p bytes, so only its rest is compared;
///   - when p > match, agrees with the key before on byte `match`, where the needle differs (or has ended):
///     it is not the needle, and shares the same `match` with it.
/// Only values (the element after each key) are rebuilt, in one slot (`FrontCodedElements.seek`). Nil when
/// `raw` is malformed, with the checks `FrontCodedElements` makes (the caller decodes, which reports it).
func findFrontCoded(_ raw: UnsafeRawBufferPointer, count: Int, _ needle: UnsafeRawBufferPointer) -> InlineMatch? {
    withUnsafeTemporaryAllocation(byteCount: 2 * inlineValueLimit, alignment: 1) { slots -> InlineMatch? in
        guard var elements = FrontCodedElements(raw, stride: 2, slots: slots.baseAddress!) else { return nil }
        var plainBytes = 0, keyShared = 0, malformed = false
        guard elements.seek(needle, before: count, plainBytes: &plainBytes, keyShared: &keyShared, malformed: &malformed) != nil else {
            return malformed || !elements.atEnd ? nil : .missing
        }
        guard elements.n < count, let (_, value) = elements.next() else { return nil }
        return .found(Array(value))
    }
}

/// `locatePacked` for a front-coded hash's elements `raw` (stride 2; a set's: `locateFrontCodedKey`), keys
/// compared by their shared prefix, values rebuilt in `slots` (2 * `inlineValueLimit` bytes;
/// `FrontCodedElements.seek`): when the needle is missing the last value is in its slot (at
/// `inlineValueLimit`), its length in `lastValueLength`, and `lastKeyShared` is the prefix the last key
/// shares with the needle, for an append to code its elements against. A found value is copied to
/// `column` (2 * `inlineValueLimit` bytes) after the value before it in its column, and the value after it
/// after both (`InlineLocation.columnBefore`, `.columnAfter`): a replacement codes the new value against
/// the first and the last against the new value. With `stopAfterFound` the walk ends once the field and
/// the value after it in its column are read (`InlineLocation.partial`). Nil when `raw` is malformed.
func locateFrontCoded(
    _ raw: UnsafeRawBufferPointer, count: Int, _ needle: UnsafeRawBufferPointer,
    slots: UnsafeMutableRawPointer, lastKeyShared: inout Int, lastValueLength: inout Int, column: UnsafeMutableRawPointer,
    stopAfterFound: Bool = false
) -> InlineLocation? {
    guard var elements = FrontCodedElements(raw, stride: 2, slots: slots) else { return nil }
    var location = InlineLocation(columns: PackedColumns())
    var plainBytes = 0
    // Each element after the needle's key read, rebuilt in its slot and counted (a key's slot, never read
    // again, holds its rest after a prefix `seek` did not rebuild).
    @_transparent func next() -> (start: Int, element: UnsafeRawBufferPointer)? {
        guard elements.n < count, let next = elements.next() else { return nil }
        plainBytes &+= varintSize(next.element.count) &+ next.element.count
        return next
    }
    func finish() -> InlineLocation? {
        while elements.n < count { guard next() != nil else { return nil } }
        guard elements.atEnd else { return nil }
        lastValueLength = elements.lengths.1
        location.plainBytes = plainBytes
        return location
    }
    func stop() -> InlineLocation? {
        guard stopAfterFound && elements.n < count else { return finish() }
        location.partial = true
        location.plainBytes = plainBytes
        return location
    }
    // The needle's key.
    var malformed = false
    guard let key = elements.seek(needle, before: count, plainBytes: &plainBytes, keyShared: &lastKeyShared, malformed: &malformed) else {
        return malformed ? nil : finish()
    }
    if elements.n >= 3 {  // the key is not the first
        // The found value is next: its slot still holds the value before it in the column (values are odd).
        location.columnBefore = elements.lengths.1
        copyBytes(to: column, from: slots + inlineValueLimit, count: location.columnBefore)
    }
    guard let (start, value) = next() else { return nil }
    location.found = start..<elements.i
    location.foundLength = value.count
    location.group = key..<elements.i
    copyBytes(to: column + location.columnBefore, from: value.baseAddress!, count: value.count)
    // The value after it in its column, two elements on.
    guard elements.n + 1 < count else { return finish() }
    guard next() != nil, let (after, e) = next() else { return nil }
    // Three elements of one value: together no more than its plain size, within `column` unless malformed.
    let at = location.columnBefore + location.foundLength
    guard at + e.count <= 2 * inlineValueLimit else { return nil }
    location.columnAfter = (after..<elements.i, e.count)
    copyBytes(to: column + at, from: e.baseAddress!, count: e.count)
    return stop()
}

/// A key (a set's member, a hash's field, a sorted set's member: the first element of each group of
/// `stride`) located in the front-coded form's elements `raw`, no element rebuilt: SADD, SISMEMBER (through
/// `findInline`), SREM, HDEL and ZREM. Keys are compared by the prefix each shares with the key before, as
/// `findFrontCoded` compares; the other elements are only checked. The walk also leaves, in `lastShared`, the
/// prefix the last key shares with the needle, which is what an appended needle is coded against: the
/// comparison keeps it exact (a key sharing more with the one before than that differs from the needle where
/// the one before did). Stops after the found group, noting where the group before it begins
/// (`InlineLocation.groupBefore`). Nil when `raw` is malformed, with the checks `FrontCodedElements` makes.
/// (Rebuilding each member to code an append against the last one cost SADD of a new 21st member about 90
/// instructions a member more than SISMEMBER.)
@inline(__always)
func locateFrontCodedKey(
    _ raw: UnsafeRawBufferPointer, count: Int, _ needle: UnsafeRawBufferPointer, stride: Int, lastShared: inout Int
) -> InlineLocation? {
    guard stride == 1 || stride == 2, count & (stride &- 1) == 0, let input = raw.baseAddress else { return nil }
    let end = raw.count, wanted = needle.baseAddress ?? input  // an empty needle's bytes are never read
    var location = InlineLocation(columns: PackedColumns())
    var i = 0, n = 0, match = 0, plain = 0, previous: Int? = nil
    var keyBefore = 0, valueBefore = 0  // the lengths of the last key and value read
    // A group at a time: its key, then (stride 2) its value.
    while n < count {
        let start = i
        guard let (shared, rest) = frontCodedHeader(input, at: &i, end, before: keyBefore, limit: inlineValueLimit) else { return nil }
        let length = shared &+ rest
        plain &+= varintSize(length) &+ length
        let isNeedle = keyMatches(&match, shared: shared, rest: rest, bytes: input + i, needle: needle, wanted: wanted)
        keyBefore = length
        i &+= rest
        var value = i..<i
        if stride == 2 {
            guard let (shared, rest) = frontCodedHeader(input, at: &i, end, before: valueBefore, limit: inlineValueLimit) else { return nil }
            let length = shared &+ rest
            plain &+= varintSize(length) &+ length
            valueBefore = length
            i &+= rest
            value = value.lowerBound..<i
        }
        n &+= stride
        if isNeedle {
            (location.found, location.foundLength) = stride == 1 ? (start..<start, 0) : (value, valueBefore)
            location.group = start..<i
            location.partial = n < count
            location.plainBytes = plain
            location.groupBefore = previous
            return location
        }
        previous = start
    }
    guard i == end else { return nil }
    location.plainBytes = plain
    lastShared = match
    return location
}

/// Writes `e` at `p` front-coded against `previous` (`count` bytes, the element a stride before it);
/// returns the bytes written.
func storeFrontCoded(_ e: UnsafeRawBufferPointer, previous: UnsafeRawPointer, count: Int, to p: UnsafeMutableRawPointer) -> Int {
    storeFrontCoded(e, shared: e.count == 0 ? 0 : sharedPrefix(e.baseAddress!, previous, min(e.count, count)), to: p)
}

/// Writes `e` at `p` front-coded with its first `shared` bytes those of the element a stride before it.
func storeFrontCoded(_ e: UnsafeRawBufferPointer, shared: Int, to p: UnsafeMutableRawPointer) -> Int {
    var k = storeLEB128(shared, at: p)
    k += storeLEB128(e.count - shared, at: p + k)
    copyBytes(to: p + k, from: e.baseAddress.map { $0 + shared }, count: e.count - shared)
    return k + e.count - shared
}
