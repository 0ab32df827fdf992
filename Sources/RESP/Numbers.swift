import Glibc

// Redis' strict number syntax (util.c string2ll, string2ld, ld2string), shared by the store's INCR
// family and the server's argument parsing.

/// Parses a signed 64-bit decimal as Redis' string2ll does: no spaces, no '+', no leading zeros (but "0"),
/// no "-0", at most 20 characters, within Int64.
public func parseInt64(_ s: UnsafeRawBufferPointer) -> Int64? {
    let n = s.count
    guard n > 0, n <= 20 else { return nil }
    if n == 1 && s[0] == UInt8(ascii: "0") { return 0 }
    var i = 0
    let negative = s[0] == UInt8(ascii: "-")
    if negative {
        i = 1
        guard n > 1 else { return nil }
    }
    guard s[i] >= UInt8(ascii: "1") && s[i] <= UInt8(ascii: "9") else { return nil }
    var v: UInt64 = 0
    while i < n {
        let c = s[i]
        guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
        if o1 || o2 { return nil }
        v = a
        i += 1
    }
    if negative {
        guard v <= UInt64(Int64.max) + 1 else { return nil }
        return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
    }
    guard v <= UInt64(Int64.max) else { return nil }
    return Int64(v)
}

public func parseInt64(_ s: [UInt8]) -> Int64? { s.withUnsafeBytes { parseInt64($0) } }

#if arch(x86_64) || arch(i386)
/// Redis computes INCRBYFLOAT in C's long double; on x86 that is the 80-bit extended type.
public typealias LongDouble = Float80
#else
public typealias LongDouble = Double
#endif

/// Parses a float as Redis' string2ld does: strtold over the whole string, no leading space, not NaN.
public func parseLongDouble(_ s: UnsafeRawBufferPointer) -> LongDouble? {
    guard s.count > 0, s.count < 5 * 1024 else { return nil }
    if isspace(Int32(s[0])) != 0 { return nil }
    var buf = [CChar](repeating: 0, count: s.count + 1)
    for i in 0..<s.count {
        if s[i] == 0 { return nil }
        buf[i] = CChar(bitPattern: s[i])
    }
    return buf.withUnsafeMutableBufferPointer { b -> LongDouble? in
        var end: UnsafeMutablePointer<CChar>? = nil
        errno = 0
        #if arch(x86_64) || arch(i386)
        let v = strtold(b.baseAddress!, &end)
        #else
        let v = strtod(b.baseAddress!, &end)
        #endif
        guard end == b.baseAddress! + s.count, !v.isNaN else { return nil }
        if errno == ERANGE && (v == 0 || v.isInfinite) { return nil }
        return v
    }
}

public func parseLongDouble(_ s: [UInt8]) -> LongDouble? { s.withUnsafeBytes { parseLongDouble($0) } }

/// Formats as Redis' ld2string in human mode ("%.17Lf" with trailing zeros and dot removed).
public func formatLongDouble(_ v: LongDouble) -> [UInt8]? {
    var buf = [CChar](repeating: 0, count: 5 * 1024 + 32)
    let n = buf.withUnsafeMutableBufferPointer { b in
        withVaList([v]) { vsnprintf(b.baseAddress!, b.count, LongDouble.self == Double.self ? "%.17f" : "%.17Lf", $0) }
    }
    guard n > 0, Int(n) < buf.count - 1 else { return nil }
    var out = buf[0..<Int(n)].map { UInt8(bitPattern: $0) }
    if out.contains(UInt8(ascii: ".")) {
        while out.last == UInt8(ascii: "0") { out.removeLast() }
        if out.last == UInt8(ascii: ".") { out.removeLast() }
    }
    if out == Array("-0".utf8) { out = [UInt8(ascii: "0")] }
    return out
}

/// `v` with `digits` decimals, as C's "%.Nf" (how Redis prints INFO's ratios and CPU seconds).
public func formatFixed(_ v: Double, digits: Int) -> String {
    var buf = [CChar](repeating: 0, count: 64)
    _ = withVaList([v]) { vsnprintf(&buf, buf.count, "%.\(digits)f", $0) }
    return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// Writes `v` in decimal into `dst` (at least 20 bytes) and returns the byte count.
@inline(__always)
package func writeDecimal(_ v: Int64, into dst: UnsafeMutableRawPointer) -> Int {
    var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
    return withUnsafeMutableBytes(of: &tmp) { t in
        var u = v < 0 ? UInt64(bitPattern: 0 &- v) : UInt64(v)
        var i = 24
        repeat {
            i -= 1
            t[i] = UInt8(ascii: "0") + UInt8(u % 10)
            u /= 10
        } while u != 0
        if v < 0 {
            i -= 1
            t[i] = UInt8(ascii: "-")
        }
        dst.copyMemory(from: t.baseAddress! + i, byteCount: 24 - i)
        return 24 - i
    }
}

/// The number of decimal characters of `v`.
@inline(__always)
package func decimalLength(_ v: Int64) -> Int {
    var u = v < 0 ? UInt64(bitPattern: 0 &- v) : UInt64(v)
    var n = v < 0 ? 2 : 1
    while u >= 10 {
        u /= 10
        n += 1
    }
    return n
}
