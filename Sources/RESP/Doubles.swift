import Glibc

// Doubles as Redis 7.0 reads and prints them (util.c string2d, t_zset.c zslParseRange, networking.c
// addReplyDouble): sorted-set scores, weights and range bounds.

/// C text of `s` with a terminating NUL, for strtod (which stops at an embedded NUL, as in Redis).
private func withCString<R>(_ s: UnsafeRawBufferPointer, _ body: (UnsafePointer<CChar>) -> R) -> R {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: s.count + 1) { b in
        for i in 0..<s.count { b[i] = CChar(bitPattern: s[i]) }
        b[s.count] = 0
        return body(b.baseAddress!)
    }
}

/// A score, increment or weight as Redis' string2d reads it: strtod over the whole text, no leading space,
/// not NaN, no overflow or underflow to zero (denormals are fine). "inf", "-inf", "0x10" are accepted.
public func parseDouble(_ s: UnsafeRawBufferPointer) -> Double? {
    guard s.count > 0, s.count <= 4096, isspace(Int32(s[0])) == 0 else { return nil }
    if let v = smallIntegerDouble(s) { return v }
    return withCString(s) { p -> Double? in
        var end: UnsafeMutablePointer<CChar>? = nil
        errno = 0
        let v = strtod(p, &end)
        guard let end, end == UnsafeMutablePointer(mutating: p) + s.count, !v.isNaN else { return nil }
        if errno == ERANGE && (v.isInfinite || v == 0) { return nil }
        return v
    }
}

/// The common score, an integer of at most 15 digits with an optional minus sign, without strtod: such
/// a value is exact in a double, so the result is strtod's ("-0" is -0.0). nil for anything else.
@inline(__always)
private func smallIntegerDouble(_ s: UnsafeRawBufferPointer) -> Double? {
    let negative = s[0] == UInt8(ascii: "-")
    let digits = s.count - (negative ? 1 : 0)
    guard digits > 0, digits <= 15 else { return nil }
    var v: Int64 = 0
    for i in (negative ? 1 : 0)..<s.count {
        let d = s[i] &- UInt8(ascii: "0")
        guard d < 10 else { return nil }
        v = v &* 10 &+ Int64(d)
    }
    return negative ? -Double(v) : Double(v)
}

public func parseDouble(_ s: [UInt8]) -> Double? { s.withUnsafeBytes { parseDouble($0) } }

/// A score range bound's number as zslParseRange reads it: bare strtod, which only has to reach the end
/// of the C string and not be NaN (so leading spaces, overflow to infinity and "" = 0 are accepted).
public func parseLenientDouble(_ s: UnsafeRawBufferPointer) -> Double? {
    withCString(s) { p -> Double? in
        var end: UnsafeMutablePointer<CChar>? = nil
        let v = strtod(p, &end)
        guard let end, end.pointee == 0, !v.isNaN else { return nil }
        return v
    }
}

/// The value of a double that "%.17g" prints as an integer (not -0, below 1e17 in size); nil otherwise.
@inline(__always)
func integralValue(_ v: Double) -> Int64? {
    v == v.rounded(.towardZero) && abs(v) < 1e17 && !(v == 0 && v.sign == .minus) ? Int64(v) : nil
}

/// A double as Redis 7.0 replies it: "%.17g", "inf" and "-inf" (integral values print as integers).
public func formatDouble(_ v: Double) -> [UInt8] {
    if v.isInfinite { return v < 0 ? Array("-inf".utf8) : Array("inf".utf8) }
    if let i = integralValue(v) {
        var out = [UInt8](repeating: 0, count: 20)
        let n = out.withUnsafeMutableBytes { writeDecimal(i, into: $0.baseAddress!) }
        out.removeLast(20 - n)
        return out
    }
    var buf = [CChar](repeating: 0, count: 40)
    let n = withVaList([v]) { vsnprintf(&buf, buf.count, "%.17g", $0) }
    return buf[0..<Int(n)].map { UInt8(bitPattern: $0) }
}
