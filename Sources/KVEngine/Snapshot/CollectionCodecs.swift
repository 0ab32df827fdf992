import RESP

// Hashes and sets in snapshots, DUMP and RDB files.
//
// Capture: the value's elements copied under the shard's lock into the capture record: a form byte, a
// count, then each element length-prefixed (hash field, value, field, value...; set members), or for an
// intset its blob. Written as Redis 7.0 writes the same value: a listpack hash as RDB_TYPE_HASH_LISTPACK
// (16) with a listpack built as Redis builds it, an intset as RDB_TYPE_SET_INTSET (11), anything else
// in the plain encodings RDB_TYPE_HASH (4) and RDB_TYPE_SET (2) — a listpack set too, as Redis 7.0 cannot
// read 7.2's RDB_TYPE_SET_LISTPACK. So a DUMP of a small hash or an integer set is byte for byte Redis'.
//
// Read: the plain encodings and every compact one Redis writes or wrote: hash listpack (16, Redis 7),
// ziplist (13) and zipmap (9); set intset (11) and listpack (20, Redis 7.2). A duplicate field or member
// is a corrupt file, as Redis says. Loaded values take the compact forms under the default thresholds
// (a server applies its configured ones to later writes).

/// The capture payload's first byte: how the value is written. `nested`: a large value's elements are
/// not in the payload but in a capture of its inner map, drained as the value is written
/// (HashMap/NestedCapture.swift); the payload holds the element count and the capture's address.
enum PayloadForm: UInt8 { case plain = 0, listpack = 1, intset = 2, nested = 3 }

/// A nested payload for `value`'s inner map when the snapshot defers large values; false (nothing
/// appended) when it copies them.
func appendNested(_ out: ByteBuffer, _ inner: HashMap?, count: Int, _ nested: NestedCaptures?) -> Bool {
    guard let inner, let nested, let c = nested.attach(to: inner) else { return false }
    out.append(PayloadForm.nested.rawValue)
    withUnsafeBytes(of: UInt64(count)) { out.append($0) }
    withUnsafeBytes(of: UInt(bitPattern: Unmanaged.passUnretained(c).toOpaque())) { out.append($0) }
    return true
}

/// Writes a nested payload's elements (keys and, for a hash, values of its inner map's records) in
/// steps; the count written before them must be what the capture yields, or the file would be corrupt.
private func writeNested(_ payload: UnsafeRawBufferPointer, pairs: Bool, to writer: RDBWriter) throws {
    try writeNested(payload, elementsPerRecord: pairs ? 2 : 1, to: writer) { k, v in
        writer.appendString(k)
        if pairs { writer.appendString(v) }
    }
}

/// `writeNested` with each record (key, value bytes) written by `write`, which writes `elementsPerRecord`
/// of the payload's elements.
func writeNested(
    _ payload: UnsafeRawBufferPointer, elementsPerRecord: Int, to writer: RDBWriter,
    _ write: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void
) throws {
    let address = payload.loadUnaligned(fromByteOffset: 9, as: UInt.self)
    let c = Unmanaged<MapCapture>.fromOpaque(UnsafeRawPointer(bitPattern: address)!).takeUnretainedValue()
    var written = 0
    try c.drain(c.owner!) { records in
        forEachRecord(records) { k, _, v, _ in
            write(k, v)
            written += elementsPerRecord
        }
        try writer.flushIfFull()
    }
    if written != elementCount(payload) {
        throw SnapshotFormatError(offset: 0, reason: "a large value changed size while it was saved (\(written) of \(elementCount(payload)) elements)")
    }
}

func appendElements(_ out: ByteBuffer, form: PayloadForm, count: Int, _ each: ((UnsafeRawBufferPointer) -> Void) -> Void) {
    out.append(form.rawValue)
    withUnsafeBytes(of: UInt64(count)) { out.append($0) }
    each { e in
        withUnsafeBytes(of: UInt32(e.count)) { out.append($0) }
        out.append(e)
    }
}

func forEachElement(_ payload: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
    let count = elementCount(payload)
    var p = 9
    for _ in 0..<count {
        let n = Int(payload.loadUnaligned(fromByteOffset: p, as: UInt32.self))
        body(UnsafeRawBufferPointer(rebasing: payload[(p + 4)..<(p + 4 + n)]))
        p += 4 + n
    }
    return count
}

func elementCount(_ payload: UnsafeRawBufferPointer) -> Int { Int(payload.loadUnaligned(fromByteOffset: 1, as: UInt64.self)) }

func form(_ payload: UnsafeRawBufferPointer) -> PayloadForm { PayloadForm(rawValue: payload[0]) ?? .plain }

/// A listpack-form payload's elements as Redis' listpack blob, written as one RDB string.
func writeListpack(_ payload: UnsafeRawBufferPointer, to writer: RDBWriter) {
    var elements: [UnsafeRawBufferPointer] = []
    elements.reserveCapacity(elementCount(payload))
    _ = forEachElement(payload) { elements.append($0) }
    writer.appendString(listpackBlob(elements))
}

extension RDB {
    static let typeSet: UInt8 = 2
    static let typeHash: UInt8 = 4
    static let typeHashZipmap: UInt8 = 9
    static let typeSetIntset: UInt8 = 11
    static let typeHashZiplist: UInt8 = 13
    static let typeHashListpack: UInt8 = 16
    static let typeSetListpack: UInt8 = 20
}

/// The elements of a compact blob value of RDB type `rdbType`, or nil for a plain encoding.
func compactElements(_ rdbType: UInt8, key: UnsafeRawBufferPointer, from reader: inout RDBReader) throws -> [[UInt8]]? {
    let decode: ((UnsafeRawBufferPointer) throws -> [[UInt8]])
    switch rdbType {
    case RDB.typeHashListpack, RDB.typeSetListpack: decode = listpackElements
    case RDB.typeHashZiplist: decode = ziplistElements
    case RDB.typeSetIntset: decode = intsetElements
    case RDB.typeHashZipmap: decode = zipmapElements
    default: return nil
    }
    let start = reader.pos
    let blob = try reader.string("the value of key '\(printable(key))'", slot: 1)
    do {
        return try decode(blob)
    } catch let e as CompactBlobError {
        throw reader.error("the value of key '\(printable(key))': \(e.reason)", at: start)
    }
}

enum HashCodec: ValueCodec {
    static let valueType = ValueType.hash
    static let rdbTypes = [RDB.typeHash, RDB.typeHashZipmap, RDB.typeHashZiplist, RDB.typeHashListpack]

    static func capture(_ value: StoredValue, into out: ByteBuffer, nested: NestedCaptures?) {
        let h = value.object as! HashObject
        if appendNested(out, h.innerMap, count: 2 * h.count, nested) { return }
        appendElements(out, form: h.innerMap == nil ? .listpack : .plain, count: 2 * h.count) { append in
            h.forEach { f, v in append(f); append(v) }
        }
    }

    static func rdbType(of payload: UnsafeRawBufferPointer) -> UInt8 { form(payload) == .listpack ? RDB.typeHashListpack : RDB.typeHash }

    static func writeValue(_ payload: UnsafeRawBufferPointer, to writer: RDBWriter) throws {
        if form(payload) == .listpack { return writeListpack(payload, to: writer) }
        writer.appendLength(elementCount(payload) / 2)
        if form(payload) == .nested { return try writeNested(payload, pairs: true, to: writer) }
        _ = forEachElement(payload) { writer.appendString($0) }
    }

    static func read(rdbType: UInt8, key: UnsafeRawBufferPointer, from reader: inout RDBReader) throws -> LoadedValue {
        let h = HashObject()
        let limits = EncodingLimits.Values()
        let start = reader.pos
        func add(_ f: UnsafeRawBufferPointer, _ v: UnsafeRawBufferPointer) throws {
            if !h.set(f, v, limits: limits) { throw reader.error("duplicate hash field in key '\(printable(key))'", at: start) }
        }
        if let elements = try compactElements(rdbType, key: key, from: &reader) {
            guard elements.count % 2 == 0 else { throw reader.error("hash '\(printable(key))' has a field without a value", at: start) }
            for i in stride(from: 0, to: elements.count, by: 2) {
                try elements[i].withUnsafeBytes { f in try elements[i + 1].withUnsafeBytes { v in try add(f, v) } }
            }
        } else {
            let n = try reader.plainLength("the field count of key '\(printable(key))'")
            for _ in 0..<n {
                let f = Array(try reader.string("a field of key '\(printable(key))'", slot: 0))
                let v = try reader.string("a value of key '\(printable(key))'", slot: 1)
                try f.withUnsafeBytes { try add($0, v) }
            }
        }
        if h.isEmpty { throw reader.error("empty hash '\(printable(key))'", at: start) }
        return .object(h)
    }
}

enum SetCodec: ValueCodec {
    static let valueType = ValueType.set
    static let rdbTypes = [RDB.typeSet, RDB.typeSetIntset, RDB.typeSetListpack]

    static func capture(_ value: StoredValue, into out: ByteBuffer, nested: NestedCaptures?) {
        let s = value.object as! SetObject
        if appendNested(out, s.innerMap, count: s.count, nested) { return }
        if s.isIntset {
            out.append(PayloadForm.intset.rawValue)
            out.append(s.ints.blob)
            return
        }
        appendElements(out, form: .plain, count: s.count) { append in s.forEach(append) }
    }

    static func rdbType(of payload: UnsafeRawBufferPointer) -> UInt8 { form(payload) == .intset ? RDB.typeSetIntset : RDB.typeSet }

    static func writeValue(_ payload: UnsafeRawBufferPointer, to writer: RDBWriter) throws {
        if form(payload) == .intset { return writer.appendString(UnsafeRawBufferPointer(rebasing: payload[1...])) }
        writer.appendLength(elementCount(payload))
        if form(payload) == .nested { return try writeNested(payload, pairs: false, to: writer) }
        _ = forEachElement(payload) { writer.appendString($0) }
    }

    static func read(rdbType: UInt8, key: UnsafeRawBufferPointer, from reader: inout RDBReader) throws -> LoadedValue {
        let s = SetObject()
        let limits = EncodingLimits.Values()
        let start = reader.pos
        func add(_ m: UnsafeRawBufferPointer) throws {
            if !s.insert(m, limits: limits) { throw reader.error("duplicate set member in key '\(printable(key))'", at: start) }
        }
        if let elements = try compactElements(rdbType, key: key, from: &reader) {
            for e in elements { try e.withUnsafeBytes { try add($0) } }
        } else {
            let n = try reader.plainLength("the member count of key '\(printable(key))'")
            for _ in 0..<n { try add(try reader.string("a member of key '\(printable(key))'", slot: 0)) }
        }
        if s.isEmpty { throw reader.error("empty set '\(printable(key))'", at: start) }
        return .object(s)
    }
}
