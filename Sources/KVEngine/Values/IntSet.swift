// An intset: the compact form of a small set whose members are all integers (Redis' intset.c). The
// members are kept sorted in one buffer, each in the narrowest width (2, 4 or 8 bytes) that holds them
// all; adding a wider member widens every member once. Lookups are binary searches.
//
// A member is an integer only in Redis' canonical form ("12", not "012" or "+12"): `parseCanonicalInt`.
//
// Invariants (checked by `verify`): the members are strictly increasing and each needs no more than
// `width` bytes; the buffer holds exactly `count` of them.

import RESP

public struct IntSet: Sendable, Equatable {
    private var bytes: [UInt8] = []
    private(set) var width = 2

    public init() {}

    /// The members `raw` holds, `width` bytes each (an inline value's, Values/InlineValues.swift).
    init(width: Int, raw: UnsafeRawBufferPointer) {
        self.width = width
        bytes = Array(raw)
    }

    /// The members' bytes, `width` each.
    var raw: [UInt8] { bytes }

    public var count: Int { bytes.count / width }
    public var isEmpty: Bool { bytes.isEmpty }
    var memoryBytes: Int { bytes.capacity == 0 ? 0 : bytes.capacity + 32 }

    @inline(__always)
    subscript(i: Int) -> Int64 {
        bytes.withUnsafeBytes { b in
            switch width {
            case 2: Int64(b.loadUnaligned(fromByteOffset: i * 2, as: Int16.self))
            case 4: Int64(b.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))
            default: b.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)
            }
        }
    }

    /// Redis' intset blob (RDB_TYPE_SET_INTSET): width and count as little-endian 32-bit numbers, then the
    /// members, little-endian, in the same width.
    var blob: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + bytes.count)
        withUnsafeBytes(of: UInt32(width).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: bytes)  // already little-endian on the machines we run on
        return out
    }

    /// The members in increasing order.
    public var members: [Int64] { (0..<count).map { self[$0] } }

    static func width(of v: Int64) -> Int {
        if v >= Int64(Int16.min) && v <= Int64(Int16.max) { return 2 }
        if v >= Int64(Int32.min) && v <= Int64(Int32.max) { return 4 }
        return 8
    }

    /// The index of `v`, or where it would go (found false).
    func search(_ v: Int64) -> (index: Int, found: Bool) {
        bytes.withUnsafeBytes { IntSet.search(v, in: $0, width: width) }
    }

    /// `search` among the members `members`, `width` bytes each (an inline intset's, InlineEdits.swift).
    @inline(__always)
    static func search(_ v: Int64, in members: UnsafeRawBufferPointer, width: Int) -> (index: Int, found: Bool) {
        var lo = 0, hi = members.count / width
        while lo < hi {
            let mid = (lo + hi) / 2
            let m: Int64 = switch width {
            case 2: Int64(members.loadUnaligned(fromByteOffset: mid * 2, as: Int16.self))
            case 4: Int64(members.loadUnaligned(fromByteOffset: mid * 4, as: Int32.self))
            default: members.loadUnaligned(fromByteOffset: mid * 8, as: Int64.self)
            }
            if m == v { return (mid, true) }
            if m < v { lo = mid + 1 } else { hi = mid }
        }
        return (lo, false)
    }

    public func contains(_ v: Int64) -> Bool { search(v).found }

    /// Adds `v`; false when it was there.
    @discardableResult
    mutating func insert(_ v: Int64) -> Bool {
        let w = IntSet.width(of: v)
        if w > width { widen(to: w) }
        let (i, found) = search(v)
        if found { return false }
        var encoded = [UInt8](repeating: 0, count: width)
        encoded.withUnsafeMutableBytes { b in
            switch width {
            case 2: b.storeBytes(of: Int16(v), as: Int16.self)
            case 4: b.storeBytes(of: Int32(v), as: Int32.self)
            default: b.storeBytes(of: v, as: Int64.self)
            }
        }
        // At the exact size, as Redis' intsetResize: no doubling slack in a small value.
        var grown = [UInt8]()
        grown.reserveCapacity(bytes.count + width)
        grown += bytes[..<(i * width)]
        grown += encoded
        grown += bytes[(i * width)...]
        bytes = grown
        return true
    }

    /// Removes `v`; false when it was not there.
    @discardableResult
    mutating func remove(_ v: Int64) -> Bool {
        guard IntSet.width(of: v) <= width else { return false }
        let (i, found) = search(v)
        guard found else { return false }
        bytes.removeSubrange((i * width)..<((i + 1) * width))
        return true
    }

    private mutating func widen(to w: Int) {
        let old = members
        width = w
        bytes = []
        bytes.reserveCapacity(old.count * w)
        for v in old { _ = insert(v) }
    }

    /// VERIFY: nil when sound.
    func verify() -> String? {
        if bytes.count % width != 0 { return "intset: \(bytes.count) bytes is not a whole number of \(width)-byte members" }
        var previous: Int64? = nil
        for i in 0..<count {
            let v = self[i]
            if let p = previous, p >= v { return "intset: members out of order at \(i)" }
            previous = v
        }
        return nil
    }
}

/// `s` as an integer if it is one in Redis' canonical form (string2ll: no '+', no leading zero, no spaces,
/// no "-0", fits 64 bits; RESP's parseInt64 is exactly that), else nil. Sets keep such members in an intset.
@inline(__always)
public func parseCanonicalInt(_ s: UnsafeRawBufferPointer) -> Int64? { parseInt64(s) }
