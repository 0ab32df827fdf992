// A listpack: a short sequence of byte strings packed into one buffer, the compact form of small hashes
// and sets (Redis' listpack.c plays the same role). Each element is its length as a LEB128 varint, then
// its bytes; a hash stores field, value, field, value... Lookups are linear scans, which for the few
// hundred short elements the thresholds allow is faster than hashing, and the whole value is one
// allocation with no per-element header. Writes rebuild the buffer at its exact size, as Redis reallocs its
// listpack on every insert: a doubling array would leave a small value with up to half its bytes unused
// (measured: 15% more memory for a million 10-field hashes).
//
// Invariants (checked by `verify`): the elements exactly fill `bytes`, and there are `count` of them.

/// The LEB128 varint at `p` (a length: 7 bits a byte, low bits first, the high bit set on all but the
/// last) and the position after it. Listpacks and list nodes (ListObject.swift) prefix elements with it.
@inline(__always)
func readLEB128(_ bytes: [UInt8], at p: Int) -> (value: Int, next: Int) {
    var value = 0, shift = 0, i = p
    while true {
        let b = bytes[i]
        value |= Int(b & 0x7F) << shift
        i += 1
        if b < 0x80 { return (value, i) }
        shift += 7
    }
}

/// `appendLengthPrefixed` into memory at `p` (room for `varintSize(x.count) + x.count` bytes); returns the
/// bytes written.
@discardableResult
func storeLengthPrefixed(_ x: UnsafeRawBufferPointer, at p: UnsafeMutableRawPointer) -> Int {
    let k = storeLEB128(x.count, at: p)
    copyBytes(to: p + k, from: x)
    return k + x.count
}

/// Stores `n` as a LEB128 varint at `p`; returns its size (`varintSize(n)`).
@inline(__always)
func storeLEB128(_ n: Int, at p: UnsafeMutableRawPointer) -> Int {
    var n = n, k = 0
    repeat {
        p.storeBytes(of: UInt8(n & 0x7F) | (n >= 0x80 ? 0x80 : 0), toByteOffset: k, as: UInt8.self)
        n >>= 7
        k += 1
    } while n > 0
    return k
}

/// Appends `x` as listpacks, list nodes and score-tree leaves store an element: its length as a LEB128
/// varint (`readLEB128` reads it), then its bytes.
@inline(__always)
func appendLengthPrefixed(_ x: UnsafeRawBufferPointer, to out: inout [UInt8]) {
    var n = x.count
    repeat {
        out.append(UInt8(n & 0x7F) | (n >= 0x80 ? 0x80 : 0))
        n >>= 7
    } while n > 0
    out.append(contentsOf: x)
}

/// `readLEB128` for VERIFY, which trusts nothing: nil when the varint runs past `bytes` or its value
/// past them too.
func readLEB128Checked(_ bytes: [UInt8], at p: Int) -> (value: Int, next: Int)? {
    var value = 0, shift = 0, i = p
    while i < bytes.count, shift < 35 {
        let b = bytes[i]
        value |= Int(b & 0x7F) << shift
        i += 1
        if b < 0x80 { return value <= bytes.count - i ? (value, i) : nil }
        shift += 7
    }
    return nil
}

/// The LEB128 varint at `i` of the `end` bytes at `p`, moving `i` past it; nil when it runs past them or
/// past 32 bits. The inline forms' readers (FrontCoding.swift, SymbolPacking.swift, `findInline`) trust
/// nothing they read with it.
@inline(__always)
func loadVarint(_ p: UnsafeRawPointer, _ i: inout Int, _ end: Int) -> Int? {
    var value = 0, shift = 0
    while i < end, shift < 35 {
        let b = p.load(fromByteOffset: i, as: UInt8.self)
        value |= Int(b & 0x7F) << shift
        i += 1
        if b < 0x80 { return value }
        shift += 7
    }
    return nil
}

public struct Listpack: Sendable, Equatable {
    private(set) var bytes: [UInt8] = []
    /// Number of elements.
    public private(set) var count = 0

    public init() {}

    /// The `count` elements `raw` holds (an inline value's, Values/InlineValues.swift).
    init(raw: UnsafeRawBufferPointer, count: Int) {
        bytes = Array(raw)
        self.count = count
    }

    public var isEmpty: Bool { count == 0 }

    /// Heap bytes held (the buffer's capacity and the array's header).
    var memoryBytes: Int { bytes.capacity == 0 ? 0 : bytes.capacity + 32 }

    /// Position of an element: the offset of its length prefix.
    public typealias Position = Int

    /// The element at `p` and the position after it.
    @inline(__always)
    func element(at p: Position) -> (bytes: ArraySlice<UInt8>, next: Position) {
        let (length, i) = readLEB128(bytes, at: p)
        return (bytes[i..<(i + length)], i + length)
    }

    /// Calls `body` with each element in order (with its position) until it returns false.
    func forEach(_ body: (ArraySlice<UInt8>, Position) throws -> Bool) rethrows {
        var p = 0
        while p < bytes.count {
            let (e, next) = element(at: p)
            if try !body(e, p) { return }
            p = next
        }
    }

    /// The elements, copied.
    public var elements: [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        forEach { e, _ in out.append(Array(e)); return true }
        return out
    }

    /// The position of the first element equal to `x` at an even index when `stride` is 2 (a hash's
    /// fields), at any index when 1; nil when absent.
    func find(_ x: UnsafeRawBufferPointer, stride: Int) -> Position? {
        var p = 0, i = 0
        while p < bytes.count {
            let (e, next) = element(at: p)
            if i % stride == 0 && e.count == x.count && e.withUnsafeBytes({ bytesEqual($0.baseAddress!, x.baseAddress, x.count) }) {
                return p
            }
            p = next
            i += 1
        }
        return nil
    }

    mutating func append(_ x: UnsafeRawBufferPointer) {
        var grown = [UInt8]()
        grown.reserveCapacity(bytes.count + x.count + 5)
        grown += bytes
        appendLengthPrefixed(x, to: &grown)
        bytes = grown
        count += 1
    }

    /// Inserts the elements `xs` before the element at `p` (at the end when `p` is the buffer's end).
    mutating func insert(_ xs: UnsafeRawBufferPointer..., at p: Position) {
        var grown = [UInt8]()
        grown.reserveCapacity(bytes.count + xs.reduce(0) { $0 + $1.count + 5 })
        grown += bytes[..<p]
        for x in xs { appendLengthPrefixed(x, to: &grown) }
        grown += bytes[p...]
        bytes = grown
        count += xs.count
    }

    /// The buffer's end: the position `insert` appends at.
    var endPosition: Position { bytes.count }

    /// Removes `n` consecutive elements starting at `p`.
    mutating func remove(at p: Position, elements n: Int) {
        var end = p
        for _ in 0..<n { end = element(at: end).next }
        bytes.removeSubrange(p..<end)
        count -= n
    }

    /// Replaces the element at `p` with `x`.
    mutating func replace(at p: Position, with x: UnsafeRawBufferPointer) {
        let end = element(at: p).next
        var replaced = [UInt8]()
        replaced.reserveCapacity(bytes.count - (end - p) + x.count + 5)
        replaced += bytes[..<p]
        appendLengthPrefixed(x, to: &replaced)
        replaced += bytes[end...]
        bytes = replaced
    }

    /// VERIFY: nil when sound.
    func verify() -> String? {
        var p = 0, n = 0
        while p < bytes.count {
            guard let (length, i) = readLEB128Checked(bytes, at: p) else { return "listpack: an element runs past the buffer" }
            p = i + length
            n += 1
        }
        if n != count { return "listpack: \(n) elements, count says \(count)" }
        return nil
    }
}
