// The parts of Redis' RDB format (version 10, written by Redis 7.0) that a string keyspace uses. The full
// description, as this project writes and reads it, is docs/snapshots.md.
//
//   "REDIS0010"                      magic and version
//   0xFA <string> <string>           aux field (redis-ver, redis-bits, ctime, used-mem, aof-base)
//   0xFE <length>                    SELECTDB
//   0xFB <length> <length>           RESIZEDB: keys, keys with expiry (a hint for pre-sizing)
//   [0xFC <int64 LE ms>] 0x00 <string> <string>   a string key, optionally with its expiry
//   0xFF <uint64 LE>                 EOF and CRC-64 of every byte before the checksum (0 = not computed)
//
// Lengths: 00xxxxxx (6 bits), 01xxxxxx xxxxxxxx (14 bits, big-endian), 0x80 + 4 bytes BE, 0x81 + 8 bytes BE.
// A length byte 11xxxxxx introduces a special string: 0xC0/0xC1/0xC2 an 8/16/32-bit little-endian integer
// written as text, 0xC3 LZF (<compressed length> <original length> <bytes>).

enum RDB {
    static let magic: [UInt8] = Array("REDIS".utf8)
    static let version = 10
    /// Oldest version we read: the string encodings we know have not changed since RDB 1, but other
    /// types have; files from Redis 2.6 on (version 6) are what users still have.
    static let oldestReadableVersion = 1

    static let opFunction2: UInt8 = 0xF5
    static let opModuleAux: UInt8 = 0xF7
    static let opIdle: UInt8 = 0xF8
    static let opFreq: UInt8 = 0xF9
    static let opAux: UInt8 = 0xFA
    static let opResizeDB: UInt8 = 0xFB
    static let opExpireTimeMs: UInt8 = 0xFC
    static let opExpireTime: UInt8 = 0xFD
    static let opSelectDB: UInt8 = 0xFE
    static let opEOF: UInt8 = 0xFF

    static let typeString: UInt8 = 0

    static let encInt8: UInt8 = 0
    static let encInt16: UInt8 = 1
    static let encInt32: UInt8 = 2
    static let encLZF: UInt8 = 3

    /// Redis compresses strings longer than this when rdbcompression is on (rdbSaveRawString).
    static let compressionThreshold = 20

    /// Redis' names of its object types, for the error that names a key of a type we do not have.
    static func typeName(_ t: UInt8) -> String {
        switch t {
        case 0: return "string"
        case 1, 10, 14, 18: return "list"
        case 2, 11, 20: return "set"
        case 3, 5, 12, 17: return "zset"
        case 4, 9, 13, 16, 22, 24: return "hash"
        case 6, 7: return "module"
        case 15, 19, 21: return "stream"
        default: return "unknown type \(t)"
        }
    }
}

/// The value of a decimal string that Redis would store as an integer: canonical form (no leading zeros,
/// no "+", no "-0") and within 32 bits, which is what RDB's integer encodings hold.
@inline(__always)
func canonicalInt32(_ s: UnsafeRawBufferPointer) -> Int32? {
    let n = s.count
    guard n > 0 && n <= 11 else { return nil }
    var i = 0
    var negative = false
    if s[0] == UInt8(ascii: "-") {
        negative = true
        i = 1
        guard n > 1 else { return nil }
    }
    let first = s[i]
    if first == UInt8(ascii: "0") {
        return n == 1 ? 0 : nil  // "0" only: "00", "-0", "01" are not canonical
    }
    var v: Int64 = 0
    while i < n {
        let d = s[i] &- UInt8(ascii: "0")
        guard d <= 9 else { return nil }
        v = v * 10 + Int64(d)
        i += 1
    }
    if negative { v = -v }
    guard v >= Int64(Int32.min) && v <= Int64(Int32.max) else { return nil }
    return Int32(v)
}
