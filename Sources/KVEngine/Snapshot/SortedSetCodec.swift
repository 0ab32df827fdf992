import RESP

// Sorted sets in snapshots, DUMP and RDB files, as Redis 7.0 writes them: a listpack set as
// RDB_TYPE_ZSET_LISTPACK (17), a listpack of member, score in order whose scores are integers when
// integral, else "%.17g" text; a large one as RDB_TYPE_ZSET_2 (5), each member then its score's 8 bytes,
// from the highest score down (so a DUMP is byte for byte Redis'). A large set captured for BGSAVE
// shares its member -> score map (HashMap/NestedCapture.swift) and is written in that map's order,
// which any reader accepts.
//
// Read: those two and the older ones, RDB_TYPE_ZSET (3: scores as length-prefixed text, or 253/254/255
// for NaN/+inf/-inf) and RDB_TYPE_ZSET_ZIPLIST (12). A NaN score, a duplicate member or an empty set is a
// corrupt file.

extension RDB {
    static let typeZset: UInt8 = 3
    static let typeZset2: UInt8 = 5
    static let typeZsetZiplist: UInt8 = 12
    static let typeZsetListpack: UInt8 = 17
}

enum SortedSetCodec: ValueCodec {
    static let valueType = ValueType.zset
    static let rdbTypes = [RDB.typeZset, RDB.typeZset2, RDB.typeZsetZiplist, RDB.typeZsetListpack]

    static func capture(_ value: StoredValue, into out: ByteBuffer, nested: NestedCaptures?) {
        let z = value.object as! SortedSetObject
        if appendNested(out, z.innerMap, count: 2 * z.count, nested) { return }
        if z.innerMap == nil {
            appendElements(out, form: .listpack, count: 2 * z.count) { append in
                z.forEach { s, m in
                    append(m)
                    formatDouble(s).withUnsafeBytes(append)
                }
            }
            return
        }
        appendElements(out, form: .plain, count: 2 * z.count) { append in
            z.forEach(fromRank: z.count - 1, reverse: true) { s, m in
                append(m)
                withUnsafeBytes(of: s.bitPattern.littleEndian, append)
                return true
            }
        }
    }

    static func rdbType(of payload: UnsafeRawBufferPointer) -> UInt8 {
        form(payload) == .listpack ? RDB.typeZsetListpack : RDB.typeZset2
    }

    static func writeValue(_ payload: UnsafeRawBufferPointer, to writer: RDBWriter) throws {
        if form(payload) == .listpack { return writeListpack(payload, to: writer) }
        writer.appendLength(elementCount(payload) / 2)
        if form(payload) == .nested {
            return try writeNested(payload, elementsPerRecord: 2, to: writer) { m, score in
                writer.appendString(m)
                writer.appendBytes(score)
            }
        }
        var isScore = false
        _ = forEachElement(payload) { e in
            if isScore { writer.appendBytes(e) } else { writer.appendString(e) }
            isScore.toggle()
        }
    }

    static func read(rdbType: UInt8, key: UnsafeRawBufferPointer, from reader: inout RDBReader) throws -> LoadedValue {
        let z = SortedSetObject()
        let limits = EncodingLimits.Values()
        let start = reader.pos
        func add(_ m: UnsafeRawBufferPointer, _ s: Double?) throws {
            guard let s, !s.isNaN else { throw reader.error("sorted set '\(printable(key))' has a score that is not a number", at: start) }
            if !z.set(m, s, limits: limits) { throw reader.error("duplicate sorted set member in key '\(printable(key))'", at: start) }
        }
        switch rdbType {
        case RDB.typeZsetListpack, RDB.typeZsetZiplist:
            let blob = try reader.string("the value of key '\(printable(key))'", slot: 1)
            let elements: [[UInt8]]
            do {
                elements = rdbType == RDB.typeZsetListpack ? try listpackElements(blob) : try ziplistElements(blob)
            } catch let e as CompactBlobError {
                throw reader.error("the value of key '\(printable(key))': \(e.reason)", at: start)
            }
            guard elements.count % 2 == 0 else { throw reader.error("sorted set '\(printable(key))' has a member without a score", at: start) }
            for i in stride(from: 0, to: elements.count, by: 2) {
                try elements[i].withUnsafeBytes { try add($0, parseDouble(elements[i + 1])) }
            }
        default:
            let n = try reader.plainLength("the member count of key '\(printable(key))'")
            for _ in 0..<n {
                let m = Array(try reader.string("a member of key '\(printable(key))'", slot: 0))
                let s: Double?
                if rdbType == RDB.typeZset2 {
                    s = Double(bitPattern: try reader.littleEndian(UInt64.self, "a score of key '\(printable(key))'"))
                } else {
                    s = try textScore(&reader, key)
                }
                try m.withUnsafeBytes { try add($0, s) }
            }
        }
        if z.isEmpty { throw reader.error("empty sorted set '\(printable(key))'", at: start) }
        return .object(z)
    }

    /// RDB_TYPE_ZSET's score: a length byte then text, or 253 (NaN), 254 (+inf), 255 (-inf).
    private static func textScore(_ reader: inout RDBReader, _ key: UnsafeRawBufferPointer) throws -> Double? {
        let n = try reader.byte("a score of key '\(printable(key))'")
        switch n {
        case 253: return nil
        case 254: return .infinity
        case 255: return -.infinity
        default:
            var text: [UInt8] = []
            for _ in 0..<n { text.append(try reader.byte("a score of key '\(printable(key))'")) }
            return text.withUnsafeBytes { parseLenientDouble($0) }
        }
    }
}
