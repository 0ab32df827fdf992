// Symbol packing: a listpack stored with each element drawn from a small alphabet packed into fewer bits a
// byte, the `packed` form of an inline value (InlineValues.swift).
//
// Much of what small hashes, sets and sorted sets hold is not arbitrary bytes: numbers (counters,
// timestamps, ids, prices in cents), hex (digests, tokens, trace and session ids), and identifiers in the
// URL-safe alphabet `0-9a-zA-Z-_` (UUIDs, nanoids, Python's `secrets.token_urlsafe`, field names such as
// `created_at`). Redis' listpack stores an integer-looking element as an integer for the same reason. Here
// each element is stored in the narrowest of three ways:
//
//   digits   every byte `0-9a-f`: 4 bits each (decimal and lowercase hex alike; leading zeros kept: these
//            are strings, "007" stays "007")
//   symbols  every byte in `0-9a-zA-Z-_`: 6 bits each
//   bytes    as they are
//
// An element's header is
//
//   h = its length in bytes << 2 | its way: 0 bytes, 1 digits, 2 symbols
//
// and its stored bytes are its bytes, or its symbols' values (`alphabet`'s order: the digits are values
// 0-15) written high bits first, 4 or 6 bits each, the last byte's unused low bits 0.
//
// Names of one shape are often all the same length too (digests, UUIDs, fixed-width ids and timestamps), so
// headers are kept per column: the elements at one index modulo the stride (a hash's fields, its values; a
// sorted set's members, its scores; a set's members). The form is
//
//   1 byte        the stride, 1 or 2
//   LEB128 c      per column: its elements' shared header plus one, or 0 when each element has its own
//   elements      in order: LEB128 h unless its column's is shared, then its stored bytes
//
// An element is packed only when that saves a byte: digits from 2 bytes, symbols from 4. Ten fields and
// values of sixteen random hex digits cost 8 bytes each instead of 17, of random letters and digits 12. A
// header takes a second byte from 32 bytes where the listpack's does from 128, and a column of mixed
// lengths costs a byte more, so the form is used only when it is smaller than both the plain and the
// front-coded ones (`inlineSize(of:stride:)` decides). Which values are inline does not change: the plain
// form's size decides that.
//
// Only the inline encoding is packed. A read decodes it into the value's listpack (`decodePacked`), so
// everything above the entry sees a listpack as before.

/// The symbols, by value: the 16 digits first, so that a digit has one value in both ways.
private nonisolated(unsafe) let alphabet = table(Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_".utf8))

/// A byte's value in `alphabet`, or 0xFF.
private nonisolated(unsafe) let symbolValues = table((0..<256).map { b in
    UInt8((0..<64).first { alphabet[$0] == UInt8(b) } ?? 0xFF)
})

/// The two digits a byte of packed digits holds, as the two bytes they decode to (little-endian).
private nonisolated(unsafe) let digitPairs = table((0..<256).map { UInt16(alphabet[$0 >> 4]) | UInt16(alphabet[$0 & 15]) << 8 })

/// `xs` in memory allocated once and never freed: the tables are read in every loop here, as pointers
/// without bounds checks. Read-only after their one initialisation, so shared between threads. Each
/// function reads a global once into a local: every read of a global is a call to check it is initialised.
private func table<T>(_ xs: [T]) -> UnsafePointer<T> {
    let p = UnsafeMutablePointer<T>.allocate(capacity: xs.count)
    p.initialize(from: xs, count: xs.count)
    return UnsafePointer(p)
}

/// The way an element is stored: 0 bytes, 1 digits, 2 symbols. Values of symbols are below 64, and of
/// digits below 16, so the OR of an element's values says which, and 64 or more is a byte outside both:
/// an element of other bytes is given up within eight bytes of its first such byte. (Eight bytes at a time
/// with SWAR range checks measured more instructions per write, callgrind, for elements of 12 bytes.)
@inline(__always)
private func way(of e: UnsafeRawBufferPointer, _ values: UnsafePointer<UInt8>) -> Int {
    guard e.count >= 2, let p = e.baseAddress else { return 0 }
    var any: UInt8 = 0, i = 0
    while i + 8 <= e.count {
        let w = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        for k in 0..<8 { any |= values[Int(truncatingIfNeeded: w >> (8 * k)) & 0xFF] }
        if any >= 64 { return 0 }
        i += 8
    }
    while i < e.count {
        any |= values[Int(p.load(fromByteOffset: i, as: UInt8.self))]
        i += 1
    }
    return any < 16 ? 1 : any < 64 && e.count >= 4 ? 2 : 0
}

/// The bits a symbol takes in `way` (1 or 2).
@inline(__always)
private func symbolBits(_ way: Int) -> Int { way == 1 ? 4 : 6 }

/// The bytes an element of `length` takes stored in `way`, without its header.
@inline(__always)
private func storedCount(_ length: Int, _ way: Int) -> Int { way == 0 ? length : (length &* symbolBits(way) &+ 7) &>> 3 }  // length < 2^35: a varint's

extension Listpack {
    /// Calls `body` with each element's bytes.
    @inline(__always)
    private func forEachElement(_ body: (UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { all in
            guard let base = all.baseAddress else { return }
            var p = 0
            while p < all.count {
                let (length, next) = readLEB128(bytes, at: p)
                body(UnsafeRawBufferPointer(start: base + next, count: length))
                p = next + length
            }
        }
    }

    /// The size of the packed form (after the inline header) and its columns' shared headers: what
    /// `writePacked` would write, learnt by classifying the elements only.
    func packedCount(stride: Int) -> (count: Int, columns: PackedColumns) {
        let values = symbolValues
        var payload = 0, n = 0
        var first = ColumnTally(), second = ColumnTally()
        forEachElement { e in
            let w = way(of: e, values)
            payload += storedCount(e.count, w)
            if stride == 1 || n & 1 == 0 { first.add(e.count << 2 | w) } else { second.add(e.count << 2 | w) }
            n += 1
        }
        if stride == 1 { return (1 + first.cost + payload, PackedColumns(first: first.shared)) }
        return (1 + first.cost + second.cost + payload, PackedColumns(first: first.shared, second: second.shared))
    }

    /// Writes the packed form at `p`, with the `columns` `packedCount` chose; returns how many bytes it took.
    func writePacked(stride: Int, _ columns: PackedColumns, to p: UnsafeMutableRawPointer) -> Int {
        let values = symbolValues
        p.storeBytes(of: UInt8(stride), as: UInt8.self)
        var at = p + 1
        at += storeLEB128(columns.first, at: at)
        if stride == 2 { at += storeLEB128(columns.second, at: at) }
        var n = 0
        forEachElement { e in
            let w = way(of: e, values)
            if (stride == 1 || n & 1 == 0 ? columns.first : columns.second) == 0 { at += storeLEB128(e.count << 2 | w, at: at) }
            at += packPayload(e, w, values, to: at)
            n += 1
        }
        return at - p
    }
}

/// Each column's shared header plus one, or 0 when its elements have their own (the form's `c`s).
struct PackedColumns {
    var first = 0, second = 0
}

/// One column's headers as `packedCount` meets them: what giving each element its own costs (after the 0
/// saying so), and whether they are all one.
private struct ColumnTally {
    var header = -1, own = 1, uniform = true

    mutating func add(_ h: Int) {
        if header < 0 { header = h } else if h != header { uniform = false }
        own += varintSize(h)
    }

    /// The column's `c`: its shared header plus one when sharing it is smaller, else 0.
    var shared: Int { uniform && header >= 0 && varintSize(header + 1) < own ? header + 1 : 0 }

    /// The bytes its `c` and its elements' headers take.
    var cost: Int { shared != 0 ? varintSize(shared) : own }
}

/// Writes element `e`'s bytes stored in way `w` at `at`; returns how many bytes they took.
@inline(__always)
private func packPayload(_ e: UnsafeRawBufferPointer, _ w: Int, _ values: UnsafePointer<UInt8>, to at: UnsafeMutableRawPointer) -> Int {
    var k = 0
    if w == 0 {
        copyBytes(to: at, from: e.baseAddress, count: e.count)
        return e.count
    } else if w == 1 {
        // Two digits a byte, high first; an odd count leaves the last byte's low half 0.
        var i = 0
        while i + 1 < e.count {
            at.storeBytes(of: values[Int(e[i])] << 4 | values[Int(e[i + 1])], toByteOffset: k, as: UInt8.self)
            k += 1
            i += 2
        }
        if i < e.count {
            at.storeBytes(of: values[Int(e[i])] << 4, toByteOffset: k, as: UInt8.self)
            k += 1
        }
    } else {
        // Four symbols in three bytes, high bits first; the last byte's unused low bits 0.
        var acc = 0, held = 0
        for b in e {
            acc = acc << 6 | Int(values[Int(b)])
            held += 6
            if held >= 8 {
                held -= 8
                at.storeBytes(of: UInt8(truncatingIfNeeded: acc >> held), toByteOffset: k, as: UInt8.self)
                k += 1
            }
        }
        if held > 0 {
            at.storeBytes(of: UInt8(truncatingIfNeeded: acc << (8 - held)), toByteOffset: k, as: UInt8.self)
            k += 1
        }
    }
    return k
}

/// The packed form's elements, read in order: each one's header (its column's shared one or its own) checked
/// against the bytes left.
struct PackedElements {
    let input: UnsafeRawPointer, end: Int, stride: Int
    private let columns: (Int, Int)
    private(set) var i = 1, n = 0

    /// The reader of the form in `raw`; nil when its stride or columns are malformed.
    init?(_ raw: UnsafeRawBufferPointer) {
        guard let input = raw.baseAddress, raw.count >= 1 else { return nil }
        self.input = input
        end = raw.count
        stride = Int(input.load(as: UInt8.self))
        guard stride == 1 || stride == 2, let first = loadVarint(input, &i, end) else { return nil }
        var second = 0
        if stride == 2 {
            guard let c = loadVarint(input, &i, end) else { return nil }
            second = c
        }
        columns = (first, second)
    }

    /// The shared header plus one of the first column (a hash's fields), or 0.
    var firstColumn: Int { columns.0 }

    /// Both columns' `c`s (the second 0 for stride 1).
    var columnCodes: PackedColumns { PackedColumns(first: columns.0, second: columns.1) }

    /// Whether every byte has been read.
    var atEnd: Bool { i == end }

    /// The next element's length, way, stored byte count and where those bytes start, moving past them;
    /// nil when its header runs past the end, names no way, or claims a packed element too short to have
    /// been packed or stored bytes past the end. (A column's elements may all be empty and take no bytes:
    /// callers read as many elements as the count says, not until the end.) Inline: a call an element cost
    /// a packed sorted set's walk about 25 instructions an element.
    @inline(__always)
    mutating func next() -> (length: Int, way: Int, stored: Int, at: Int)? {
        let shared = stride == 1 || n & 1 == 0 ? columns.0 : columns.1
        let h: Int
        if shared != 0 {
            h = shared - 1
        } else {
            guard let own = loadVarint(input, &i, end) else { return nil }
            h = own
        }
        let length = h >> 2, w = h & 3
        guard w < 3, w == 0 || length >= (w == 1 ? 2 : 4) else { return nil }
        let stored = storedCount(length, w)
        guard stored <= end &- i else { return nil }
        defer { i &+= stored; n &+= 1 }
        return (length, w, stored, i)
    }
}

/// Writes the `length` bytes of an element stored in way `w` at `input` to `o`; false when its unused
/// bits are not 0 (not what the writer makes).
@inline(__always)
func unpackPayload(_ input: UnsafeRawPointer, length: Int, way w: Int, stored: Int, to o: UnsafeMutableRawPointer) -> Bool {
    let symbols = alphabet
    if w == 0 {
        copyBytes(to: o, from: input, count: length)
    } else if w == 1 {
        // Two digits a byte, the last byte's low half unused when the count is odd.
        let pairs = digitPairs
        for j in 0..<length / 2 {
            let pair = pairs[Int(input.load(fromByteOffset: j, as: UInt8.self))]
            (o + 2 * j).storeBytes(of: pair.littleEndian, as: UInt16.self)
        }
        if length & 1 == 1 {
            let last = input.load(fromByteOffset: stored - 1, as: UInt8.self)
            guard last & 0x0F == 0 else { return false }
            o.storeBytes(of: symbols[Int(last >> 4)], toByteOffset: length - 1, as: UInt8.self)
        }
    } else {
        // Four symbols in three bytes.
        var acc = 0, held = 0, j = 0
        for d in 0..<length {
            if held < 6 {
                acc = acc << 8 | Int(input.load(fromByteOffset: j, as: UInt8.self))
                j += 1
                held += 8
            }
            held -= 6
            o.storeBytes(of: symbols[(acc >> held) & 63], toByteOffset: d, as: UInt8.self)
        }
        if acc & ((1 << held) - 1) != 0 { return false }
    }
    return true
}

/// The listpack packed in `raw` (its `count` elements), or nil when `raw` is not such an encoding: a stride
/// other than 1 or 2, a length or varint running past the end, an unknown way, a packed element too short
/// to have been packed or with unused bits set, a listpack over the inline limit (no inline value's plain
/// form is larger), or bytes left after `count` elements. One pass, into a buffer on the stack.
func decodePacked(_ raw: UnsafeRawBufferPointer, count: Int) -> Listpack? {
    guard var elements = PackedElements(raw) else { return nil }
    let limit = inlineValueLimit
    return withUnsafeTemporaryAllocation(byteCount: limit, alignment: 1) { buffer -> Listpack? in
        let o = buffer.baseAddress!
        var at = 0
        for _ in 0..<count {
            guard let (length, w, stored, from) = elements.next(), varintSize(length) + length <= limit - at else { return nil }
            at += storeLEB128(length, at: o + at)
            guard unpackPayload(elements.input + from, length: length, way: w, stored: stored, to: o + at) else { return nil }
            at += length
        }
        guard elements.atEnd else { return nil }
        return Listpack(raw: UnsafeRawBufferPointer(start: o, count: at), count: count)
    }
}

/// A sought element packed as the writer would store it, so that it is compared with each element's stored
/// bytes where they lie: equal elements have the same length, way and stored bytes (the writer is
/// deterministic and leaves unused bits 0), and nothing need be unpacked to find one.
struct PackedNeedle {
    let length: Int, way: Int, stored: Int, bytes: UnsafeRawPointer

    /// `e` packed at `buffer`, which holds `storedCount` of it: `e.count` bytes always suffice.
    @inline(__always)
    fileprivate init(_ e: UnsafeRawBufferPointer, way w: Int, _ values: UnsafePointer<UInt8>, to buffer: UnsafeMutableRawPointer) {
        (length, way, bytes) = (e.count, w, UnsafeRawPointer(buffer))
        stored = packPayload(e, w, values, to: buffer)
    }

    /// `e` packed at `buffer` of `capacity` bytes; nil when it would not fit.
    init?(_ e: UnsafeRawBufferPointer, to buffer: UnsafeMutableRawPointer, capacity: Int) {
        let values = symbolValues, w = KVEngine.way(of: e, values)
        guard storedCount(e.count, w) <= capacity else { return nil }
        self.init(e, way: w, values, to: buffer)
    }

    /// Whether the element of `length` stored in way `w` at `p` is this one.
    @inline(__always)
    func matches(_ p: UnsafeRawPointer, length: Int, way w: Int) -> Bool {
        length == self.length && w == way && bytesEqual(p, bytes, stored)
    }
}

/// `findInline` in the packed form `raw` of `count` elements: the needle is packed the way the writer would
/// have stored it, and compared with each element's stored bytes, so nothing is unpacked but the element
/// after a match. Nil when `raw` is malformed or of another stride (the caller decodes, which reports it).
func findPacked(_ raw: UnsafeRawBufferPointer, count: Int, _ needle: UnsafeRawBufferPointer, stride: Int) -> InlineMatch? {
    guard var elements = PackedElements(raw), elements.stride == stride else { return nil }
    guard needle.count < inlineValueLimit else { return .missing }  // no element is that long
    let values = symbolValues
    let needleWay = way(of: needle, values)
    // Names of one shape and length, and the needle of another: nothing to compare.
    if elements.firstColumn != 0 && elements.firstColumn != (needle.count << 2 | needleWay) + 1 { return .missing }
    return withUnsafeTemporaryAllocation(byteCount: inlineValueLimit, alignment: 1) { buffer -> InlineMatch? in
        let packedNeedle = PackedNeedle(needle, way: needleWay, values, to: buffer.baseAddress!)
        var n = 0
        while n < count {
            guard let (length, w, _, at) = elements.next() else { return nil }
            if n % stride == 0 && packedNeedle.matches(elements.input + at, length: length, way: w) {
                guard stride == 2 else { return .found([]) }
                guard n + 1 < count, let (nextLength, nextWay, nextStored, nextAt) = elements.next() else { return nil }
                var next = [UInt8](repeating: 0, count: nextLength)
                let sound = next.withUnsafeMutableBytes { o in
                    nextLength == 0
                        || unpackPayload(elements.input + nextAt, length: nextLength, way: nextWay, stored: nextStored, to: o.baseAddress!)
                }
                return sound ? .found(next) : nil
            }
            n += 1
        }
        return .missing
    }
}

/// Where `needle` is in the packed form `raw` of `count` elements, for `editInline` (InlineEdits.swift): compared as
/// `findPacked` compares it, every element's plain size summed. At stride 2, a found field's value is unpacked
/// to `foundValue` when given (`inlineValueLimit` bytes; HINCRBY reads it). With `stopAfterFound` the walk
/// ends at a found element (`InlineLocation.partial`). Nil when `raw` is malformed or of another stride.
func locatePacked(
    _ raw: UnsafeRawBufferPointer, count: Int, _ needle: UnsafeRawBufferPointer, stride: Int, foundValue: UnsafeMutableRawPointer? = nil,
    stopAfterFound: Bool = false
) -> InlineLocation? {
    guard var elements = PackedElements(raw), elements.stride == stride, needle.count < inlineValueLimit else { return nil }
    let values = symbolValues
    let needleWay = way(of: needle, values)
    var location = InlineLocation(columns: elements.columnCodes)
    return withUnsafeTemporaryAllocation(byteCount: inlineValueLimit, alignment: 1) { buffer -> InlineLocation? in
        let packedNeedle = PackedNeedle(needle, way: needleWay, values, to: buffer.baseAddress!)
        var matched: Int? = nil
        for n in 0..<count {
            let start = elements.i
            guard let (length, w, stored, at) = elements.next() else { return nil }
            location.plainBytes += varintSize(length) + length
            if let m = matched {
                location.found = start..<(at + stored)
                location.foundLength = length
                location.group = m..<(at + stored)
                matched = nil
                if let foundValue {
                    guard length < inlineValueLimit,
                          length == 0 || unpackPayload(elements.input + at, length: length, way: w, stored: stored, to: foundValue) else { return nil }
                }
            } else if location.found == nil && n & (stride - 1) == 0  // stride 1 or 2
                        && packedNeedle.matches(elements.input + at, length: length, way: w) {
                if stride == 1 { (location.found, location.group) = (start..<start, start..<(at + stored)) } else { matched = start }
            }
            if stopAfterFound && location.found != nil && n + 1 < count {
                location.partial = true
                return location
            }
        }
        return elements.atEnd && matched == nil ? location : nil
    }
}

/// Writes element `e` at `p` as the packed form stores it in a column whose `c` is `column` (its own header
/// when 0, then its stored bytes); returns the bytes written, or nil when the column shares a header that is
/// not `e`'s (the value must be encoded again).
func storePackedElement(_ e: UnsafeRawBufferPointer, column: Int, to p: UnsafeMutableRawPointer) -> Int? {
    let values = symbolValues
    let w = way(of: e, values), h = e.count << 2 | w
    if column != 0 && column != h + 1 { return nil }
    let k = column == 0 ? storeLEB128(h, at: p) : 0
    return k + packPayload(e, w, values, to: p + k)
}

extension PackedElements {
    /// The next element unpacked at `slot` (`slotSize` bytes), or where it lies when stored as bytes, with the
    /// range of the bytes it takes (its own header included): for an edit that copies some elements as they
    /// are stored (`InlinePairs`, InlineWalk.swift). Nil at the end of the bytes or when malformed, as
    /// `decodePacked` checks it, or when it is to be unpacked and longer than a slot.
    @_transparent  // @inline(__always) left it a call under `InlinePairs.element()`: two calls an element
    mutating func next(to slot: UnsafeMutableRawPointer, slotSize: Int) -> (bytes: Range<Int>, element: UnsafeRawBufferPointer)? {
        let start = i
        guard let (length, w, stored, at) = next() else { return nil }
        // Bytes stored as they are (most scores) are read in place.
        if w == 0 { return (start..<(at &+ stored), UnsafeRawBufferPointer(start: input + at, count: length)) }
        guard length <= slotSize, unpackPayload(input + at, length: length, way: w, stored: stored, to: slot) else { return nil }
        return (start..<(at + stored), UnsafeRawBufferPointer(start: slot, count: length))
    }
}

/// Whether the unused low bits of the last stored byte of an element of `length` stored in way `w` (1 or
/// 2) at `p` are 0, as the writer leaves them: what `unpackPayload` checks, for an element left packed.
@inline(__always)
func packedPaddingIsZero(_ p: UnsafeRawPointer, length: Int, way w: Int, stored: Int) -> Bool {
    let unused = stored &* 8 &- length &* (w == 1 ? 4 : 6)
    return unused == 0 || p.load(fromByteOffset: stored &- 1, as: UInt8.self) & UInt8(truncatingIfNeeded: (1 &<< unused) &- 1) == 0
}

/// The columns' `c`s of the packed form `raw` (nil when malformed).
func packedColumns(_ raw: UnsafeRawBufferPointer) -> PackedColumns? { PackedElements(raw)?.columnCodes }
