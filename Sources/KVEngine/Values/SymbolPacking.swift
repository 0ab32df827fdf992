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
// An element is
//
//   LEB128 h      its length in bytes << 2 | its way: 0 bytes, 1 digits, 2 symbols
//   the rest      its bytes, or its symbols' values (`alphabet`'s order: the digits are values 0-15)
//                 written high bits first, 4 or 6 bits each, the last byte's unused low bits 0
//
// An element is packed only when that saves a byte: digits from 2 bytes, symbols from 4. Sixteen random hex
// digits cost 9 bytes instead of 17, sixteen random letters and digits 13. The header takes a second byte
// from 32 bytes where the listpack's does from 128, so the form is used only when it is smaller than both
// the plain and the front-coded ones (`inlineSize(of:stride:)` decides). Which values are inline does not
// change: the plain form's size decides that.
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
private func storedCount(_ length: Int, _ way: Int) -> Int { way == 0 ? length : (length * symbolBits(way) + 7) / 8 }

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

    /// The size of the packed elements: what `writePacked` would write, learnt by classifying them only.
    func packedCount() -> Int {
        let values = symbolValues
        var total = 0
        forEachElement { e in total += varintSize(e.count << 2) + storedCount(e.count, way(of: e, values)) }
        return total
    }

    /// Writes the packed elements at `p`; returns how many bytes they took.
    func writePacked(to p: UnsafeMutableRawPointer) -> Int {
        let values = symbolValues
        var at = p
        forEachElement { e in
            let w = way(of: e, values)
            at += storeLEB128(e.count << 2 | w, at: at)
            at += packPayload(e, w, values, to: at)
        }
        return at - p
    }
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

/// The element header at `i` of the `end` bytes at `input` (moving `i` past it): the element's length, its
/// way and the bytes stored; nil when it runs past `end`, names no way, or claims a packed element too
/// short to have been packed or stored bytes past `end`.
@inline(__always)
private func readHeader(_ input: UnsafeRawPointer, _ i: inout Int, _ end: Int) -> (length: Int, way: Int, stored: Int)? {
    guard let h = loadVarint(input, &i, end) else { return nil }
    let length = h >> 2, w = h & 3
    guard w < 3, w == 0 || length >= (w == 1 ? 2 : 4) else { return nil }
    let stored = storedCount(length, w)
    guard stored <= end - i else { return nil }
    return (length, w, stored)
}

/// Writes the `length` bytes of an element stored in way `w` at `input` to `o`; false when its unused
/// bits are not 0 (not what the writer makes).
@inline(__always)
private func unpackPayload(_ input: UnsafeRawPointer, length: Int, way w: Int, stored: Int, to o: UnsafeMutableRawPointer) -> Bool {
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

/// The listpack packed in `raw` (its `count` elements), or nil when `raw` is not such an encoding: a length
/// or varint running past the end, an unknown way, a packed element too short to have been packed or with
/// unused bits set, a listpack over the inline limit (no inline value's plain form is larger), or a
/// different number of elements. One pass, into a buffer on the stack.
func decodePacked(_ raw: UnsafeRawBufferPointer, count: Int) -> Listpack? {
    let limit = inlineValueLimit
    guard let input = raw.baseAddress else { return count == 0 ? Listpack() : nil }
    return withUnsafeTemporaryAllocation(byteCount: limit, alignment: 1) { buffer -> Listpack? in
        let o = buffer.baseAddress!
        var at = 0, i = 0, n = 0
        while i < raw.count {
            guard let (length, w, stored) = readHeader(input, &i, raw.count),
                  varintSize(length) + length <= limit - at else { return nil }
            at += storeLEB128(length, at: o + at)
            guard unpackPayload(input + i, length: length, way: w, stored: stored, to: o + at) else { return nil }
            at += length
            i += stored
            n += 1
        }
        guard n == count else { return nil }
        return Listpack(raw: UnsafeRawBufferPointer(start: o, count: at), count: count)
    }
}

/// `findInline` in the packed form's elements `raw`: the needle is packed the way the writer would have
/// stored it, and compared with each element's stored bytes, so nothing is unpacked but the element after
/// a match. Nil when `raw` is malformed (the caller decodes, which reports it).
func findPacked(_ raw: UnsafeRawBufferPointer, _ needle: UnsafeRawBufferPointer, stride: Int) -> InlineMatch? {
    guard let input = raw.baseAddress else { return .missing }
    guard needle.count < inlineValueLimit else { return .missing }  // no element is that long
    let values = symbolValues
    return withUnsafeTemporaryAllocation(byteCount: inlineValueLimit, alignment: 1) { buffer -> InlineMatch? in
        let packedNeedle = buffer.baseAddress!
        let needleWay = way(of: needle, values)
        let needleStored = packPayload(needle, needleWay, values, to: packedNeedle)
        var i = 0, n = 0
        while i < raw.count {
            guard let (length, w, stored) = readHeader(input, &i, raw.count) else { return nil }
            if n % stride == 0 && length == needle.count && w == needleWay
                && bytesEqual(input + i, UnsafeRawPointer(packedNeedle), needleStored) {
                guard stride == 2 else { return .found([]) }
                var j = i + stored
                guard j < raw.count, let (nextLength, nextWay, nextStored) = readHeader(input, &j, raw.count) else { return nil }
                var next = [UInt8](repeating: 0, count: nextLength)
                let sound = next.withUnsafeMutableBytes { o in
                    nextLength == 0 || unpackPayload(input + j, length: nextLength, way: nextWay, stored: nextStored, to: o.baseAddress!)
                }
                return sound ? .found(next) : nil
            }
            i += stored
            n += 1
        }
        return .missing
    }
}
