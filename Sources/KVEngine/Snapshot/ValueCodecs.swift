import RESP

// How each value type goes into a snapshot and out of an RDB file. The snapshot code (capture records,
// Snapshot.write, parseRDB) knows no type: it asks `codec(for:)` / `codec(rdbType:)`. A new type adds
// one file with its codec and one line in `valueCodecs`. Strings, the hot path, are the StringCodec
// below; the writer and reader keep their inlined string encoding, which the codec calls.

/// A value read from an RDB file: a string's bytes (valid until the next key), or a new object.
public enum LoadedValue {
    case string(UnsafeRawBufferPointer)
    case object(StoredObject)

    /// The bytes of a string value; nil for an object.
    public var stringBytes: UnsafeRawBufferPointer? {
        if case .string(let b) = self { return b }
        return nil
    }
}

protocol ValueCodec {
    static var valueType: ValueType { get }
    /// The RDB type bytes this codec reads (Redis has several encodings for most types).
    static var rdbTypes: [UInt8] { get }
    /// Copies `value` as it is now into a capture record's payload (under the shard's lock: keep it a copy,
    /// or for a large value a capture attached through `nested`, NestedCapture.swift; nil for DUMP).
    static func capture(_ value: StoredValue, into out: ByteBuffer, nested: NestedCaptures?)
    /// The RDB type byte a captured payload is written with.
    static func rdbType(of payload: UnsafeRawBufferPointer) -> UInt8
    /// Writes a captured payload's value encoding (after its type byte and, in a file, its key).
    static func writeValue(_ payload: UnsafeRawBufferPointer, to writer: RDBWriter) throws
    /// Reads the value of RDB type `rdbType` (its type byte and key already read).
    static func read(rdbType: UInt8, key: UnsafeRawBufferPointer, from reader: inout RDBReader) throws -> LoadedValue
}

/// Every type's codec.
let valueCodecs: [any ValueCodec.Type] = [StringCodec.self, ListCodec.self, HashCodec.self, SetCodec.self, SortedSetCodec.self]

private let codecsByType: [(any ValueCodec.Type)?] = {
    var t = [(any ValueCodec.Type)?](repeating: nil, count: 8)
    for c in valueCodecs { t[Int(c.valueType.rawValue)] = c }
    return t
}()

private let codecsByRDBType: [(any ValueCodec.Type)?] = {
    var t = [(any ValueCodec.Type)?](repeating: nil, count: 256)
    for c in valueCodecs { for r in c.rdbTypes { t[Int(r)] = c } }
    return t
}()

func codec(for type: ValueType) -> (any ValueCodec.Type)? { codecsByType[Int(type.rawValue)] }
func codec(rdbType: UInt8) -> (any ValueCodec.Type)? { codecsByRDBType[Int(rdbType)] }

/// Strings: the value's bytes are the payload, and RDB type 0 with Redis' string encodings.
enum StringCodec: ValueCodec {
    static let valueType = ValueType.string
    static let rdbTypes = [RDB.typeString]

    static func capture(_ value: StoredValue, into out: ByteBuffer, nested: NestedCaptures?) { out.append(value.bytes) }

    static func rdbType(of payload: UnsafeRawBufferPointer) -> UInt8 { RDB.typeString }

    static func writeValue(_ payload: UnsafeRawBufferPointer, to writer: RDBWriter) { writer.appendString(payload) }

    static func read(rdbType: UInt8, key: UnsafeRawBufferPointer, from reader: inout RDBReader) throws -> LoadedValue {
        .string(try reader.string("the value of key '\(printable(key))'", slot: 1))
    }
}
