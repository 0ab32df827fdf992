// Bitmaps (Redis' bitops.c): a string seen as bits, bit 0 the most significant bit of byte 0. SETBIT
// grows the string with zero bytes; a missing key reads as all zeros. BITCOUNT and BITPOS take byte or
// bit ranges with Redis' index rules.

/// BITOP's operation.
public enum BitOperation: Sendable { case and, or, xor, not }

extension Store {
    /// SETBIT: sets bit `offset` to `value`, growing the string with zeros; the bit's old value.
    public func setBit(_ key: UnsafeRawBufferPointer, offset: Int, _ value: Bool) throws(StoreError) -> Bool {
        let byte = offset >> 3
        let mask = UInt8(0x80) >> UInt8(offset & 7)
        return try editString(key) { e -> Bool in
            let old = e.exists ? e.value.count : 0
            if byte < old {
                let p = UnsafeMutableRawPointer(mutating: e.value.baseAddress!) + byte
                let was = p.load(as: UInt8.self) & mask != 0
                // A bit set to what it was changes nothing: no notification, no WATCH, as Redis 7.0.
                if was == value { return was }
                p.storeBytes(of: value ? p.load(as: UInt8.self) | mask : p.load(as: UInt8.self) & ~mask, as: UInt8.self)
                e.touched()
                e.event = .setbit
                return was
            }
            let dst = e.resizeValue(to: byte + 1, expiry: e.expiry, preserving: old)
            (dst.baseAddress! + old).initializeMemory(as: UInt8.self, repeating: 0, count: byte + 1 - old)
            if value { dst[byte] = mask }
            e.event = .setbit
            return false
        }
    }

    /// GETBIT: the bit at `offset` (0 past the end or for a missing key).
    public func getBit(_ key: UnsafeRawBufferPointer, offset: Int) throws(StoreError) -> Bool {
        try readString(key) { v, _ in offset >> 3 < v.count && v[offset >> 3] & (UInt8(0x80) >> UInt8(offset & 7)) != 0 } ?? false
    }

    /// BITCOUNT key [start end [BYTE|BIT]]: `range` nil for the whole string.
    public func bitCount(_ key: UnsafeRawBufferPointer, range: (start: Int64, end: Int64, bits: Bool)?) throws(StoreError) -> Int {
        try readString(key) { v, _ -> Int in
            guard let range else { return popcount(v, 0, v.count - 1) }
            guard let r = resolveBitRange(range.start, range.end, length: v.count, bits: range.bits) else { return 0 }
            var count = popcount(v, r.start, r.end)
            if r.firstMask != 0 { count -= (v[r.start] & r.firstMask).nonzeroBitCount }
            if r.lastMask != 0 { count -= (v[r.end] & r.lastMask).nonzeroBitCount }
            return count
        } ?? 0
    }

    /// BITPOS key bit [start [end [BYTE|BIT]]]: the first `bit` in the range; -1 when there is none (a
    /// missing key is all zeros). `end` nil: the range runs to the end, past which a string reads as zeros.
    public func bitPosition(_ key: UnsafeRawBufferPointer, bit: Bool, start: Int64?, end: Int64?, bits: Bool) throws(StoreError) -> Int64 {
        try readString(key) { v, _ -> Int64 in
            guard let start else { return v.isEmpty ? -1 : firstBit(v, 0, v.count, bit, endGiven: false) }
            let e = end ?? (bits ? Int64(v.count) * 8 + 7 : Int64(v.count) - 1)
            guard let r = resolveBitRange(start, e, length: v.count, bits: bits, emptyIfReversedNegative: false) else { return -1 }
            // Mask out the bits of the edge bytes that are outside the range, then search byte by byte.
            var bytes = [UInt8](v[r.start...r.end])
            if r.firstMask != 0 { bytes[0] = bit ? bytes[0] & ~r.firstMask : bytes[0] | r.firstMask }
            if r.lastMask != 0 { bytes[bytes.count - 1] = bit ? bytes[bytes.count - 1] & ~r.lastMask : bytes[bytes.count - 1] | r.lastMask }
            let pos = bytes.withUnsafeBytes { firstBit($0, 0, $0.count, bit, endGiven: end != nil) }
            return pos < 0 ? pos : pos + Int64(r.start) * 8
        } ?? (bit ? -1 : 0)
    }

    /// BITOP: `operation` over `sources` into `destination`; the result's length (0 deletes it).
    public func bitOperation(_ operation: BitOperation, destination: UnsafeRawBufferPointer, sources: [UnsafeRawBufferPointer]) throws(StoreError) -> Int {
        let now = clock()
        return try withShardsLocked(sources + [destination], write: true) { () throws(StoreError) -> Int in
            var values: [[UInt8]] = []
            for k in sources {
                let v = liveValueLocked(k, now, touching: true) { $0.type == .string ? Array($0.bytes) : nil }
                if let v, v == nil { throw .wrongType }
                values.append((v ?? nil) ?? [])
            }
            let length = values.map(\.count).max() ?? 0
            var out = [UInt8](repeating: 0, count: length)
            for i in 0..<length {
                func byte(_ j: Int) -> UInt8 { i < values[j].count ? values[j][i] : 0 }
                switch operation {
                case .not: out[i] = ~byte(0)
                case .and: out[i] = (0..<values.count).reduce(0xFF) { $0 & byte($1) }
                case .or: out[i] = (0..<values.count).reduce(0) { $0 | byte($1) }
                case .xor: out[i] = (0..<values.count).reduce(0) { $0 ^ byte($1) }
                }
            }
            editLocked(shard(destination), destination, now) { e in
                if length == 0 { e.remove(); e.event = .del } else { out.withUnsafeBytes { e.setValue($0, expiry: nil) }; e.event = .set }
            }
            return length
        }
    }
}

/// A byte or bit range resolved as Redis does: bytes [start, end] of a string of `length` bytes, and masks
/// of the bits of the first and last byte that fall outside a bit range. Nil for an empty range.
private func resolveBitRange(
    _ start: Int64, _ end: Int64, length: Int, bits: Bool, emptyIfReversedNegative: Bool = true
) -> (start: Int, end: Int, firstMask: UInt8, lastMask: UInt8)? {
    var start = start, end = end
    if emptyIfReversedNegative && start < 0 && end < 0 && start > end { return nil }
    let total = bits ? Int64(length) * 8 : Int64(length)
    if start < 0 { start += total }
    if end < 0 { end += total }
    if start < 0 { start = 0 }
    if end < 0 { end = 0 }
    if end >= total { end = total - 1 }
    guard start <= end else { return nil }
    guard bits else { return (Int(start), Int(end), 0, 0) }
    let firstMask = UInt8(truncatingIfNeeded: ~((1 << (8 - (start & 7))) - 1) & 0xFF)
    let lastMask = UInt8(truncatingIfNeeded: (1 << (7 - (end & 7))) - 1)
    return (Int(start >> 3), Int(end >> 3), firstMask, lastMask)
}

private func popcount(_ v: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int {
    guard start <= end else { return 0 }
    var n = 0
    for i in start...end { n += v[i].nonzeroBitCount }
    return n
}

/// The position of the first `bit` in bytes [start, start + count) of `v`, counted from `start`; when none:
/// -1 for a set bit, and for a clear bit the position just past the bytes (Redis' redisBitpos: the string
/// continues with zeros), or -1 when the range's end was given.
private func firstBit(_ v: UnsafeRawBufferPointer, _ start: Int, _ count: Int, _ bit: Bool, endGiven: Bool) -> Int64 {
    for i in 0..<count {
        let b = bit ? v[start + i] : ~v[start + i]
        if b != 0 { return Int64(i * 8 + b.leadingZeroBitCount) }
    }
    return bit || endGiven ? -1 : Int64(count * 8)
}
