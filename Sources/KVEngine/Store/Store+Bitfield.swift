// BITFIELD (Redis' bitops.c): integers of 1 to 64 bits (unsigned up to 63) at any bit offset of a string,
// most significant bit first, read, set and incremented in order, with Redis' overflow rules: WRAP (modulo,
// sign-extended for signed types), SAT (clamp), FAIL (nothing written, nil returned).

/// One BITFIELD operation, parsed.
public struct BitfieldOperation: Sendable {
    public enum Kind: Sendable, Equatable { case get, set(Int64), incrBy(Int64) }
    public enum Overflow: Sendable { case wrap, saturate, fail }
    public let kind: Kind
    public let signed: Bool
    public let bits: Int
    /// In bits.
    public let offset: Int
    public let overflow: Overflow

    public init(kind: Kind, signed: Bool, bits: Int, offset: Int, overflow: Overflow) {
        self.kind = kind
        self.signed = signed
        self.bits = bits
        self.offset = offset
        self.overflow = overflow
    }

    var writes: Bool { kind != .get }
}

extension Store {
    /// Runs `ops` in order on the string at `key`: one value per operation (a SET's old value, an INCRBY's
    /// new one; nil where OVERFLOW FAIL refused). With writes the string is first grown with zeros to the
    /// farthest bit they reach; with only GETs nothing is created.
    public func bitfield(_ key: UnsafeRawBufferPointer, _ ops: [BitfieldOperation]) throws(StoreError) -> [Int64?] {
        guard let farthest = ops.filter(\.writes).map({ $0.offset + $0.bits - 1 }).max() else {
            return try readString(key) { v, _ in ops.map { read(v, $0) } } ?? ops.map { _ in 0 }
        }
        return try editString(key) { e -> [Int64?] in
            let old = e.exists ? e.value.count : 0
            let need = farthest >> 3 + 1
            var grew = false
            if need > old {
                let dst = e.resizeValue(to: need, expiry: e.expiry, preserving: old)
                (dst.baseAddress! + old).initializeMemory(as: UInt8.self, repeating: 0, count: need - old)
                grew = true
            }
            let p = UnsafeMutableRawBufferPointer(mutating: e.value)
            var changed = false
            var results: [Int64?] = []
            for op in ops {
                let current = read(UnsafeRawBufferPointer(p), op)
                var target: Int64
                var overflowed: Bool
                switch op.kind {
                case .get:
                    results.append(current)
                    continue
                case .set(let v):
                    (overflowed, target) = op.signed ? signedOverflow(v, 0, op) : unsignedOverflow(UInt64(bitPattern: v), 0, op)
                    if !overflowed { target = v }
                case .incrBy(let d):
                    (overflowed, target) = op.signed ? signedOverflow(current, d, op) : unsignedOverflow(UInt64(bitPattern: current), d, op)
                    if !overflowed { target = current &+ d }
                }
                if overflowed && op.overflow == .fail {
                    results.append(nil)
                    continue
                }
                if case .set = op.kind { results.append(current) } else { results.append(target) }
                write(p, op, UInt64(bitPattern: target))
                changed = true
            }
            if changed && !grew { e.touched() }
            e.event = changed ? .setbit : .quiet
            return results
        }
    }
}

/// The integer `op` reads at its offset (bits past the end of the string read as zeros).
private func read(_ v: UnsafeRawBufferPointer, _ op: BitfieldOperation) -> Int64 {
    var value: UInt64 = 0
    for j in 0..<op.bits {
        let o = op.offset + j
        let byte = o >> 3
        let bit = byte < v.count ? (v[byte] >> UInt8(7 - (o & 7))) & 1 : 0
        value = value << 1 | UInt64(bit)
    }
    if op.signed && op.bits < 64 && value & (1 << UInt64(op.bits - 1)) != 0 { value |= ~0 << UInt64(op.bits) }
    return Int64(bitPattern: value)
}

private func write(_ p: UnsafeMutableRawBufferPointer, _ op: BitfieldOperation, _ value: UInt64) {
    for j in 0..<op.bits {
        let o = op.offset + j
        let mask = UInt8(0x80) >> UInt8(o & 7)
        if value >> UInt64(op.bits - 1 - j) & 1 != 0 { p[o >> 3] |= mask } else { p[o >> 3] &= ~mask }
    }
}

/// Redis' checkUnsignedBitfieldOverflow: whether `value + incr` leaves the type, and what WRAP or SAT make
/// of it.
private func unsignedOverflow(_ value: UInt64, _ incr: Int64, _ op: BitfieldOperation) -> (Bool, Int64) {
    let bits = UInt64(op.bits)
    let max: UInt64 = bits == 64 ? .max : (1 << bits) - 1
    let maxIncr = Int64(bitPattern: max &- value)
    let minIncr = Int64(bitPattern: 0 &- value)
    func wrapped() -> Int64 { Int64(bitPattern: (value &+ UInt64(bitPattern: incr)) & ~(~0 << bits)) }
    if value > max || (bits != 64 && incr > maxIncr) || (incr > 0 && incr > maxIncr) {
        return (true, op.overflow == .wrap ? wrapped() : Int64(bitPattern: max))
    }
    if incr < 0 && incr < minIncr {
        return (true, op.overflow == .wrap ? wrapped() : 0)
    }
    return (false, 0)
}

/// Redis' checkSignedBitfieldOverflow.
private func signedOverflow(_ value: Int64, _ incr: Int64, _ op: BitfieldOperation) -> (Bool, Int64) {
    let bits = op.bits
    let max: Int64 = bits == 64 ? .max : (1 << Int64(bits - 1)) - 1
    let min = -max - 1
    let maxIncr = Int64(bitPattern: UInt64(bitPattern: max) &- UInt64(bitPattern: value))
    let minIncr = min &- value
    func wrapped() -> Int64 {
        var c = UInt64(bitPattern: value) &+ UInt64(bitPattern: incr)
        if bits < 64 {
            let mask: UInt64 = ~0 << UInt64(bits)
            if c & (1 << UInt64(bits - 1)) != 0 { c |= mask } else { c &= ~mask }
        }
        return Int64(bitPattern: c)
    }
    if value > max || (bits != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr) {
        return (true, op.overflow == .wrap ? wrapped() : max)
    }
    if value < min || (bits != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr) {
        return (true, op.overflow == .wrap ? wrapped() : min)
    }
    return (false, 0)
}
