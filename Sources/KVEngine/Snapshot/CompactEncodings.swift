// Readers of Redis' compact blobs inside RDB values, for files Redis wrote: listpack (7.0's small hashes,
// 7.2's small sets), ziplist (older files' small hashes), intset (sets of integers) and zipmap (hashes of
// files before 2.6). Each returns the elements as byte strings, in order.
//
// They trust nothing: every length is checked against the blob before it is read, the element counts
// in headers are checked against what was found, and a blob that does not end where its header says is
// an error. Redis' own reader validates the same way (lpValidateIntegrity and friends), so a corrupt file
// fails to load rather than loading wrong data.

package struct CompactBlobError: Error {
    let reason: String
}

/// A cursor over a blob that throws instead of reading past its end.
private struct BlobCursor {
    let bytes: UnsafeRawBufferPointer
    var pos = 0

    init(_ b: UnsafeRawBufferPointer) { bytes = b }

    var remaining: Int { bytes.count - pos }

    mutating func need(_ n: Int, _ what: String) throws {
        guard n >= 0, n <= remaining else { throw CompactBlobError(reason: "\(what) runs past the end of the blob") }
    }

    mutating func byte(_ what: String) throws -> UInt8 {
        try need(1, what)
        defer { pos += 1 }
        return bytes[pos]
    }

    /// `n` bytes (n <= 8) as an unsigned little-endian number.
    mutating func littleEndian(_ n: Int, _ what: String) throws -> UInt64 {
        try need(n, what)
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(bytes[pos + i]) << (8 * UInt64(i)) }
        pos += n
        return v
    }

    mutating func take(_ n: Int, _ what: String) throws -> [UInt8] {
        try need(n, what)
        defer { pos += n }
        return Array(bytes[pos..<(pos + n)])
    }
}

/// The bytes of a listpack entry's back-length, by Redis' thresholds (lpEncodeBacklen).
private func backlenSize(_ size: Int) -> Int {
    size <= 127 ? 1 : size < 16383 ? 2 : size < 2_097_151 ? 3 : size < 268_435_455 ? 4 : 5
}

/// Sign-extends the low `bits` bits of `v`.
private func signExtend(_ v: UInt64, bits: Int) -> Int64 {
    let shift = UInt64(64 - bits)
    return Int64(bitPattern: v << shift) >> Int64(shift)
}

private func decimal(_ v: Int64) -> [UInt8] { Array(String(v).utf8) }

/// The elements of a listpack (listpack.c): total bytes (4), count (2, 65535 = unknown), entries each with
/// a back-length, then 0xFF.
package func listpackElements(_ blob: UnsafeRawBufferPointer) throws -> [[UInt8]] {
    var c = BlobCursor(blob)
    let total = try c.littleEndian(4, "the listpack header")
    let declared = Int(try c.littleEndian(2, "the listpack header"))
    guard total == UInt64(blob.count) else { throw CompactBlobError(reason: "listpack says \(total) bytes, holds \(blob.count)") }
    var out: [[UInt8]] = []
    while true {
        let start = c.pos
        let b = try c.byte("a listpack entry")
        if b == 0xFF { break }
        let element: [UInt8]
        switch b {
        case _ where b & 0x80 == 0: element = decimal(Int64(b))
        case _ where b & 0xC0 == 0x80: element = try c.take(Int(b & 0x3F), "a listpack string")
        case _ where b & 0xE0 == 0xC0:
            let v = UInt64(b & 0x1F) << 8 | UInt64(try c.byte("a listpack integer"))
            element = decimal(signExtend(v, bits: 13))
        case _ where b & 0xF0 == 0xE0:
            let n = Int(b & 0x0F) << 8 | Int(try c.byte("a listpack string length"))
            element = try c.take(n, "a listpack string")
        case 0xF0: element = try c.take(Int(try c.littleEndian(4, "a listpack string length")), "a listpack string")
        case 0xF1: element = decimal(signExtend(try c.littleEndian(2, "a listpack integer"), bits: 16))
        case 0xF2: element = decimal(signExtend(try c.littleEndian(3, "a listpack integer"), bits: 24))
        case 0xF3: element = decimal(signExtend(try c.littleEndian(4, "a listpack integer"), bits: 32))
        case 0xF4: element = decimal(Int64(bitPattern: try c.littleEndian(8, "a listpack integer")))
        default: throw CompactBlobError(reason: "listpack entry encoding \(b) is unknown")
        }
        // The back-length: the entry's size (encoding and data) in 1-5 bytes.
        let backlen = backlenSize(c.pos - start)
        try c.need(backlen, "a listpack back-length")
        c.pos += backlen
        out.append(element)
    }
    guard c.remaining == 0 else { throw CompactBlobError(reason: "bytes after the listpack's end") }
    guard declared == 65535 || declared == out.count else {
        throw CompactBlobError(reason: "listpack says \(declared) elements, holds \(out.count)")
    }
    return out
}

/// The elements of a ziplist (ziplist.c): total bytes (4), tail offset (4), count (2), entries each with
/// the previous entry's length and an encoding, then 0xFF.
package func ziplistElements(_ blob: UnsafeRawBufferPointer) throws -> [[UInt8]] {
    var c = BlobCursor(blob)
    let total = try c.littleEndian(4, "the ziplist header")
    let tail = Int(try c.littleEndian(4, "the ziplist header"))
    let declared = Int(try c.littleEndian(2, "the ziplist header"))
    guard total == UInt64(blob.count) else { throw CompactBlobError(reason: "ziplist says \(total) bytes, holds \(blob.count)") }
    var out: [[UInt8]] = []
    var lastStart = c.pos, previousLength = 0
    while true {
        let start = c.pos
        let first = try c.byte("a ziplist entry")
        if first == 0xFF { break }
        let prevlen = first == 0xFE ? Int(try c.littleEndian(4, "a ziplist previous length")) : Int(first)
        guard prevlen == previousLength else { throw CompactBlobError(reason: "ziplist entry's previous length is wrong") }
        defer {
            lastStart = start
            previousLength = c.pos - start
        }
        let e = try c.byte("a ziplist encoding")
        switch e >> 6 {
        case 0: out.append(try c.take(Int(e & 0x3F), "a ziplist string"))
        case 1: out.append(try c.take(Int(e & 0x3F) << 8 | Int(try c.byte("a ziplist length")), "a ziplist string"))
        case 2:
            var n = 0
            for _ in 0..<4 { n = n << 8 | Int(try c.byte("a ziplist length")) }
            out.append(try c.take(n, "a ziplist string"))
        default:
            switch e {
            case 0xC0: out.append(decimal(signExtend(try c.littleEndian(2, "a ziplist integer"), bits: 16)))
            case 0xD0: out.append(decimal(signExtend(try c.littleEndian(4, "a ziplist integer"), bits: 32)))
            case 0xE0: out.append(decimal(Int64(bitPattern: try c.littleEndian(8, "a ziplist integer"))))
            case 0xF0: out.append(decimal(signExtend(try c.littleEndian(3, "a ziplist integer"), bits: 24)))
            case 0xFE: out.append(decimal(signExtend(try c.littleEndian(1, "a ziplist integer"), bits: 8)))
            case 0xF1...0xFD: out.append(decimal(Int64(e & 0x0F) - 1))
            default: throw CompactBlobError(reason: "ziplist encoding \(e) is unknown")
            }
        }
    }
    guard c.remaining == 0 else { throw CompactBlobError(reason: "bytes after the ziplist's end") }
    guard tail == lastStart else { throw CompactBlobError(reason: "ziplist's tail offset is wrong") }
    guard declared == 65535 || declared == out.count else {
        throw CompactBlobError(reason: "ziplist says \(declared) elements, holds \(out.count)")
    }
    return out
}

/// The members of an intset (intset.c): encoding (4: 2, 4 or 8 bytes per member), count (4), members in
/// increasing order.
package func intsetElements(_ blob: UnsafeRawBufferPointer) throws -> [[UInt8]] {
    var c = BlobCursor(blob)
    let width = Int(try c.littleEndian(4, "the intset header"))
    let count = Int(try c.littleEndian(4, "the intset header"))
    guard width == 2 || width == 4 || width == 8 else { throw CompactBlobError(reason: "intset width \(width)") }
    guard count.multipliedReportingOverflow(by: width).partialValue == c.remaining, count <= c.remaining else {
        throw CompactBlobError(reason: "intset of \(count) members in \(c.remaining) bytes")
    }
    var out: [[UInt8]] = []
    var previous: Int64? = nil
    for _ in 0..<count {
        let v = signExtend(try c.littleEndian(width, "an intset member"), bits: width * 8)
        if let p = previous, p >= v { throw CompactBlobError(reason: "intset members out of order") }
        previous = v
        out.append(decimal(v))
    }
    return out
}

/// The fields and values of a zipmap (zipmap.c, files before Redis 2.6): count (1), then length, field,
/// length, free, value, free bytes, ..., 0xFF.
package func zipmapElements(_ blob: UnsafeRawBufferPointer) throws -> [[UInt8]] {
    var c = BlobCursor(blob)
    _ = try c.byte("the zipmap header")
    var out: [[UInt8]] = []
    func length() throws -> Int? {
        let b = try c.byte("a zipmap length")
        if b == 0xFF { return nil }
        if b < 254 { return Int(b) }
        guard b == 254 else { throw CompactBlobError(reason: "zipmap length byte \(b)") }
        return Int(try c.littleEndian(4, "a zipmap length"))
    }
    while true {
        guard let k = try length() else { break }
        out.append(try c.take(k, "a zipmap field"))
        guard let v = try length() else { throw CompactBlobError(reason: "zipmap field without a value") }
        let free = Int(try c.byte("a zipmap free count"))
        out.append(try c.take(v, "a zipmap value"))
        try c.need(free, "a zipmap value's free space")
        c.pos += free
    }
    guard c.remaining == 0 else { throw CompactBlobError(reason: "bytes after the zipmap's end") }
    return out
}

/// A listpack of `elements`, byte for byte as Redis 7.0 builds one (lpAppend): an element that is an
/// integer in canonical form takes the smallest integer encoding, others a string encoding; each entry
/// is followed by its back-length; the count saturates at 65535.
package func listpackBlob(_ elements: [UnsafeRawBufferPointer]) -> [UInt8] {
    var out: [UInt8] = [0, 0, 0, 0, 0, 0]
    for e in elements {
        let start = out.count
        if let v = parseCanonicalInt(e) {
            func le(_ x: Int64, _ n: Int) { for i in 0..<n { out.append(UInt8(truncatingIfNeeded: x >> (8 * Int64(i)))) } }
            switch v {
            case 0...127: out.append(UInt8(v))
            case -4096...4095:
                let u = UInt64(bitPattern: v) & 0x1FFF
                out.append(0xC0 | UInt8(u >> 8))
                out.append(UInt8(u & 0xFF))
            case -32768...32767: out.append(0xF1); le(v, 2)
            case -8_388_608...8_388_607: out.append(0xF2); le(v, 3)
            case -2_147_483_648...2_147_483_647: out.append(0xF3); le(v, 4)
            default: out.append(0xF4); le(v, 8)
            }
        } else if e.count < 64 {
            out.append(0x80 | UInt8(e.count))
            out.append(contentsOf: e)
        } else if e.count < 4096 {
            out.append(0xE0 | UInt8(e.count >> 8))
            out.append(UInt8(e.count & 0xFF))
            out.append(contentsOf: e)
        } else {
            out.append(0xF0)
            for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: e.count >> (8 * i))) }
            out.append(contentsOf: e)
        }
        // The back-length (lpEncodeBacklen): 7-bit groups, most significant first, every byte but the
        // first with its high bit set.
        let size = out.count - start
        let n = backlenSize(size)
        for i in stride(from: n - 1, through: 0, by: -1) {
            let g = UInt8((size >> (7 * i)) & 0x7F)
            out.append(i == n - 1 ? g : g | 0x80)
        }
    }
    out.append(0xFF)
    let total = UInt32(out.count), count = UInt16(min(elements.count, 65535))
    for i in 0..<4 { out[i] = UInt8(truncatingIfNeeded: total >> (8 * UInt32(i))) }
    out[4] = UInt8(count & 0xFF)
    out[5] = UInt8(count >> 8)
    return out
}
