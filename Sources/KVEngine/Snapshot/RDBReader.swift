import Dispatch
import Glibc

// Reads an RDB file (RDBFormat.swift) from memory. It trusts nothing: every length is checked against the
// bytes that remain before anything is read or allocated (a string's bytes are referenced in place; only
// integers and LZF strings are materialised, into scratch buffers bounded by `maxStringSize` and by what
// LZF can expand), and every error names the offset and the reason. The CRC-64 of the file is computed on
// a second thread while the first parses, and compared at the EOF opcode: a file is accepted only once
// its last byte is checked, so a caller that loads as it parses must discard everything on error.

public struct SnapshotFormatError: Error, CustomStringConvertible, Sendable {
    public let offset: Int
    public let reason: String
    public var description: String { "offset \(offset): \(reason)" }
}

public struct RDBSummary: Sendable {
    public var version = 0
    public var aux: [(String, String)] = []
    public var keys = 0
    public var keysWithExpiry = 0
    /// Keys whose expiry had passed at load time (not delivered to `onKey`).
    public var alreadyExpired = 0
    public var databases: [Int] = []
    /// False when the file was written with checksums off (stored value 0), so none was compared.
    public var checksumVerified = false
}

struct RDBReader {
    let base: UnsafeRawPointer
    let count: Int
    var pos = 0
    let maxStringSize: Int
    private var scratch: [UnsafeMutableRawBufferPointer]

    init(_ bytes: UnsafeRawBufferPointer, maxStringSize: Int) {
        base = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!
        count = bytes.count
        self.maxStringSize = maxStringSize
        scratch = [.allocate(byteCount: 64, alignment: 8), .allocate(byteCount: 64, alignment: 8)]
    }

    func release() { for s in scratch { s.deallocate() } }

    func error(_ reason: String, at offset: Int? = nil) -> SnapshotFormatError {
        SnapshotFormatError(offset: offset ?? pos, reason: reason)
    }

    @inline(__always)
    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        if n > count - pos { throw error("file ends inside \(what()) (\(count - pos) bytes left, \(n) needed): truncated", at: count) }
    }

    @inline(__always)
    mutating func byte(_ what: @autoclosure () -> String) throws -> UInt8 {
        try need(1, what())
        let b = base.load(fromByteOffset: pos, as: UInt8.self)
        pos += 1
        return b
    }

    mutating func littleEndian<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, what())
        let v = T(littleEndian: base.loadUnaligned(fromByteOffset: pos, as: T.self))
        pos += MemoryLayout<T>.size
        return v
    }

    /// A length; `special` is the low 6 bits of an 11xxxxxx byte (an encoded string), else nil.
    @inline(__always)
    mutating func length(_ what: @autoclosure () -> String) throws -> (value: Int, special: UInt8?) {
        let b = try byte(what())
        switch b >> 6 {
        case 0: return (Int(b & 0x3f), nil)
        case 1: return ((Int(b & 0x3f) << 8) | Int(try byte(what())), nil)
        case 2:
            if b == 0x80 { return (Int(UInt32(bigEndian: try littleEndian(UInt32.self, what()))), nil) }
            if b == 0x81 {
                let v = UInt64(bigEndian: try littleEndian(UInt64.self, what()))
                guard v <= UInt64(Int.max) else { throw error("length \(v) of \(what()) is out of range", at: pos - 9) }
                return (Int(v), nil)
            }
            throw error("invalid length byte 0x\(String(b, radix: 16)) in \(what())", at: pos - 1)
        default: return (0, b & 0x3f)
        }
    }

    mutating func plainLength(_ what: @autoclosure () -> String) throws -> Int {
        let start = pos
        let (v, special) = try length(what())
        if special != nil { throw error("expected a length for \(what()), found an encoded string", at: start) }
        return v
    }

    /// A string: in place for raw strings, else decoded into scratch buffer `slot` (0 or 1), valid until
    /// the next read into the same slot.
    @inline(__always)
    mutating func string(_ what: @autoclosure () -> String, slot: Int) throws -> UnsafeRawBufferPointer {
        let start = pos
        let (n, special) = try length(what())
        guard let special else {
            try need(n, what())
            if n > maxStringSize { throw error("\(what()) of \(n) bytes is larger than the limit of \(maxStringSize)", at: start) }
            defer { pos += n }
            return UnsafeRawBufferPointer(start: base + pos, count: n)
        }
        switch special {
        case RDB.encInt8: return decimal(Int64(Int8(bitPattern: try byte(what()))), slot)
        case RDB.encInt16: return decimal(Int64(try littleEndian(Int16.self, what())), slot)
        case RDB.encInt32: return decimal(Int64(try littleEndian(Int32.self, what())), slot)
        case RDB.encLZF:
            let clen = try plainLength(what())
            let ulen = try plainLength(what())
            try need(clen, what())
            // LZF expands at most 264 bytes per 2-3 input bytes; anything beyond is a corrupt length.
            if ulen > maxStringSize || ulen > clen * 132 + 32 {
                throw error("\(what()): LZF length \(ulen) from \(clen) compressed bytes is impossible", at: start)
            }
            let out = scratchBuffer(slot, ulen)
            if !lzfDecompress(UnsafeRawBufferPointer(start: base + pos, count: clen), into: out) {
                throw error("\(what()): corrupt LZF data", at: start)
            }
            pos += clen
            return UnsafeRawBufferPointer(out)
        default:
            throw error("unknown string encoding \(special) in \(what())", at: start)
        }
    }

    private mutating func scratchBuffer(_ slot: Int, _ n: Int) -> UnsafeMutableRawBufferPointer {
        if scratch[slot].count < n {
            scratch[slot].deallocate()
            scratch[slot] = .allocate(byteCount: Swift.max(n, scratch[slot].count * 2), alignment: 8)
        }
        return UnsafeMutableRawBufferPointer(rebasing: scratch[slot][0..<n])
    }

    /// The decimal text of `v` in scratch buffer `slot`, written in place (integer-encoded values are
    /// common: no String per key).
    private mutating func decimal(_ v: Int64, _ slot: Int) -> UnsafeRawBufferPointer {
        var digits = 1
        var m = v.magnitude
        while m >= 10 {
            m /= 10
            digits += 1
        }
        let n = digits + (v < 0 ? 1 : 0)
        let out = scratchBuffer(slot, n)
        m = v.magnitude
        for i in stride(from: n - 1, through: n - digits, by: -1) {
            out[i] = UInt8(ascii: "0") + UInt8(m % 10)
            m /= 10
        }
        if v < 0 { out[0] = UInt8(ascii: "-") }
        return UnsafeRawBufferPointer(out)
    }
}

/// Parses a whole RDB file, calling `onDatabase` at each SELECTDB (with the RESIZEDB hint that follows,
/// if any) and `onKey` for each live string key, and checks its checksum. `now`: keys expiring at or
/// before it are counted in `alreadyExpired` and skipped. `verifyChecksum` false skips the CRC (for
/// the extra parsers of a parallel load: one of them checks it). Throws SnapshotFormatError for anything
/// malformed, and whatever the callbacks throw.
public func parseRDB(
    _ bytes: UnsafeRawBufferPointer, now: Int64, maxStringSize: Int = 512 << 20, verifyChecksum: Bool = true,
    onDatabase: (_ db: Int) throws -> Void = { _ in },
    onResize: (_ keys: Int, _ expires: Int) throws -> Void = { _, _ in },
    onKey: (_ key: UnsafeRawBufferPointer, _ value: LoadedValue, _ expiry: Int64?) throws -> Void,
    onProgress: (_ keys: Int, _ offset: Int) -> Void = { _, _ in }
) throws -> RDBSummary {
    var r = RDBReader(bytes, maxStringSize: maxStringSize)
    defer { r.release() }
    var summary = RDBSummary()

    try r.need(9, "the header")
    guard Array(UnsafeRawBufferPointer(start: r.base, count: 5)) == RDB.magic else {
        throw r.error("not an RDB file (no REDIS magic)", at: 0)
    }
    let digits = Array(UnsafeRawBufferPointer(start: r.base + 5, count: 4))
    guard digits.allSatisfy({ $0 >= 48 && $0 <= 57 }), let version = Int(String(decoding: digits, as: UTF8.self)) else {
        throw r.error("bad RDB version field", at: 5)
    }
    guard version >= RDB.oldestReadableVersion && version <= 11 else {
        throw r.error("RDB version \(version) is not supported (1 to 11 are)", at: 5)
    }
    summary.version = version
    r.pos = 9

    // The checksum covers every byte before its own 8; compute it alongside the parse.
    let hasChecksum = verifyChecksum && version >= 5 && bytes.count >= 17
    nonisolated(unsafe) var computed: UInt64 = 0
    let crcDone = DispatchSemaphore(value: 0)
    if hasChecksum {
        nonisolated(unsafe) let prefix = UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 8)])
        startThread {
            computed = crc64(0, prefix)
            crcDone.signal()
        }
    }
    // Wait for the checksum thread on every exit: it reads `bytes`, which the caller may unmap.
    var crcCollected = false
    defer { if hasChecksum && !crcCollected { crcDone.wait() } }

    var expiry: Int64? = nil
    var sawDB = false
    while true {
        let opOffset = r.pos
        let op = try r.byte("an opcode")
        switch op {
        case RDB.opEOF:
            if expiry != nil { throw r.error("expiry not followed by a key", at: opOffset) }
            if version >= 5 {
                try r.need(8, "the checksum")
                let stored = try r.littleEndian(UInt64.self, "the checksum")
                if r.pos != r.count { throw r.error("\(r.count - r.pos) bytes after the end of the file", at: r.pos) }
                if stored != 0 && hasChecksum {
                    crcDone.wait()
                    crcCollected = true
                    if computed != stored {
                        throw r.error("checksum mismatch: file says \(hex(stored)), contents give \(hex(computed))", at: opOffset + 1)
                    }
                    summary.checksumVerified = true
                }
            } else if r.pos != r.count {
                throw r.error("\(r.count - r.pos) bytes after the end of the file", at: r.pos)
            }
            onProgress(summary.keys, r.pos)
            return summary
        case RDB.opAux:
            let k = String(decoding: try r.string("an aux field name", slot: 0), as: UTF8.self)
            let v = String(decoding: try r.string("aux field \(k)", slot: 1), as: UTF8.self)
            summary.aux.append((k, v))
        case RDB.opSelectDB:
            let db = try r.plainLength("a database number")
            sawDB = true
            summary.databases.append(db)
            try onDatabase(db)
        case RDB.opResizeDB:
            let keys = try r.plainLength("a RESIZEDB key count")
            let expires = try r.plainLength("a RESIZEDB expires count")
            // A hint that pre-sizes the maps, so it is held to what the rest of the file can hold (a key
            // takes at least 3 bytes: its type, its name's length, its value's): a damaged or forged count
            // must not ask for terabytes of buckets before anything else is read.
            let room = (bytes.count - r.pos) / 3
            try onResize(Swift.min(keys, room), Swift.min(expires, room))
        case RDB.opExpireTimeMs:
            expiry = try r.littleEndian(Int64.self, "an expiry")
        case RDB.opExpireTime:
            expiry = Int64(try r.littleEndian(Int32.self, "an expiry")) * 1000
        case RDB.opIdle:
            _ = try r.plainLength("an LRU idle time")
        case RDB.opFreq:
            _ = try r.byte("an LFU frequency")
        case RDB.opFunction2:
            throw r.error("the file holds Redis functions, which kvserver does not support", at: opOffset)
        case RDB.opModuleAux:
            throw r.error("the file holds Redis module data, which kvserver does not support", at: opOffset)
        case _ where op < 0xF0 && codec(rdbType: op) != nil:
            // A key of a type we store: its codec reads the value.
            if !sawDB { throw r.error("key before any SELECTDB", at: opOffset) }
            let key = try r.string("a key", slot: 0)
            let value = op == RDB.typeString
                ? .string(try r.string("the value of key '\(printable(key))'", slot: 1))
                : try codec(rdbType: op)!.read(rdbType: op, key: key, from: &r)
            summary.keys += 1
            if expiry != nil { summary.keysWithExpiry += 1 }
            if let x = expiry, x <= now {
                summary.alreadyExpired += 1
            } else {
                try onKey(key, value, expiry)
            }
            expiry = nil
            if summary.keys & 0xFFFFF == 0 { onProgress(summary.keys, r.pos) }
        default:
            if op < 0xF0 {
                // A key of another type: name it (the key follows the type byte).
                let key = (try? r.string("a key", slot: 0)).map(printable) ?? "?"
                throw r.error("key '\(key)' is a \(RDB.typeName(op)) in an encoding kvserver does not read (RDB type \(op))", at: opOffset)
            }
            throw r.error("unknown opcode 0x\(String(op, radix: 16))", at: opOffset)
        }
    }
}

/// A key for an error message: printable ASCII as is, other bytes as \xNN, cut at 64 bytes.
func printable(_ b: UnsafeRawBufferPointer) -> String {
    var s = ""
    for c in b.prefix(64) {
        if c >= 0x20 && c < 0x7f && c != UInt8(ascii: "\\") { s.unicodeScalars.append(Unicode.Scalar(c)) } else { s += "\\x" + hex(UInt64(c), digits: 2) }
    }
    return b.count > 64 ? s + "..." : s
}

/// Zero-padded lowercase hexadecimal.
func hex(_ v: UInt64, digits: Int = 16) -> String {
    let h = String(v, radix: 16)
    return String(repeating: "0", count: Swift.max(0, digits - h.count)) + h
}
