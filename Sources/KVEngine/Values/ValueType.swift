// Typed values. Every entry of the map carries its value's type in 3 bits of its flags byte (Entry.swift).
// A string's bytes live in the entry itself, as they always have: the type costs strings nothing. Every
// other type is a StoredObject (a hash's inner map, a list's nodes...) that the entry owns through one
// strong reference kept in its 8 value bytes. The map frees an object's reference exactly where it frees
// an entry (Arena.freeEntry), so DEL, overwrite, expiry, flush and the map's own reset release objects by
// the same path as strings, and counts the bytes objects report (`HashMap.objectBytes`) as it counts
// external string blocks, so statistics and (later) maxmemory see them.
//
// A command on a key of another type fails with `StoreError.wrongType` before it changes anything: the
// store's typed operations check the type on the entry they find (Store+Values.swift).

/// The type of a stored value. Raw values are Redis' object type numbers (OBJ_STRING 0 ... OBJ_HASH 4).
public enum ValueType: UInt8, Sendable, CaseIterable {
    case string = 0
    case list = 1
    case set = 2
    case zset = 3
    case hash = 4

    /// TYPE's answer.
    public var name: String {
        switch self {
        case .string: "string"
        case .list: "list"
        case .set: "set"
        case .zset: "zset"
        case .hash: "hash"
        }
    }

    /// The type TYPE calls `name` (SCAN's TYPE option), nil for names Redis does not know.
    public init?(name: some StringProtocol) {
        guard let t = ValueType.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = t
    }
}

/// A value of a type other than string: one class per type, each in a file of its own. The map holds a
/// strong reference to it; commands change it in place through `EntryEditor.modifyObject`, which keeps
/// the map's byte count in step with `memoryBytes`.
open class StoredObject {
    public init() {}

    /// The type the object stores. Constant for the object's lifetime.
    open var valueType: ValueType { fatalError("StoredObject subclasses define valueType") }

    /// OBJECT ENCODING's answer ("listpack", "hashtable"...).
    open var encodingName: String { fatalError("StoredObject subclasses define encodingName") }

    /// Heap bytes the object holds (MEMORY USAGE, statistics, maxmemory). Must change only inside
    /// `EntryEditor.modifyObject`, which records the difference.
    open var memoryBytes: Int { 0 }

    /// Elements (a hash's fields, a set's members): HLEN, SCARD, STATS.
    open var count: Int { 0 }

    /// Whether the value has no elements left: the store then removes its key, as Redis does.
    public var isEmpty: Bool { count == 0 }

    /// The engine map holding the elements once the value has left its compact form (STATS); nil before.
    open var innerMap: HashMap? { nil }

    /// `innerMap != nil`, without retaining the map (the map's accounting asks on every write).
    open var hasInnerMap: Bool { false }

    /// The structures whose arenas the Compactor compacts: the inner map, and a sorted set's order too.
    var compactables: [any Compactable] { innerMap.map { [$0] } ?? [] }

    /// Whether the value, an object because it once grew past the inline limit, now fits inline in its
    /// entry again (the Compactor moves it there: HashMap.inlineObject).
    var fitsInline: Bool { inlineSize.map { $0.count <= inlineValueLimit } ?? false }
    /// Set once the object has been counted in its map's `shrunkBytes`, so that it counts once.
    var countedShrunk = false

    /// Checks the object's own invariants (VERIFY): nil when sound, else what is broken.
    open func verify() -> String? { nil }

    /// A deep copy, for COPY: the copy shares nothing the original can change.
    open func duplicate() -> StoredObject { fatalError("StoredObject subclasses define duplicate()") }

    /// The size of the value's inline encoding (Values/InlineValues.swift), nil when it has none (a value
    /// in its map form).
    var inlineSize: InlineSize? { nil }

    /// Writes the inline encoding `inlineSize` returned: its `count` bytes, in its form.
    func writeInline(to p: UnsafeMutableRawPointer, _ size: InlineSize) {}
}

/// A view of a live value under its shard's lock: a string's bytes, or an object. Valid until the map's
/// next write.
public struct StoredValue {
    /// The entry's value bytes: the string, an object's reference, or an inline value's encoding.
    @usableFromInline let raw: UnsafeRawBufferPointer
    public let type: ValueType
    /// Whether a non-string value is inline (Values/InlineValues.swift) rather than an object.
    public let isInline: Bool

    @inline(__always)
    init(raw: UnsafeRawBufferPointer, typeBits: UInt8) {
        self.raw = raw
        type = ValueType(rawValue: (typeBits >> entryTypeShift) & 7).unsafelyUnwrapped
        isInline = typeBits & entryInline != 0
    }

    /// A string's bytes (type == .string), or an inline value's encoding.
    @inline(__always) public var bytes: UnsafeRawBufferPointer { raw }

    /// The object of a non-string value: for an inline value a new object decoded from it, which the
    /// caller may change without changing the stored value.
    public var object: StoredObject {
        isInline ? decodeInlineValue(type, raw) : objectReference(raw.baseAddress!).takeUnretainedValue()
    }

    /// `body` with the object, borrowed from the entry while the caller holds the shard's lock (no
    /// retain and release, which cost a typed command a fifth of its time): for an inline value, a
    /// decoded copy.
    @inline(__always)
    func withObject<R, E: Error>(_ body: (StoredObject) throws(E) -> R) throws(E) -> R {
        if isInline { return try body(decodeInlineValue(type, raw)) }
        var failure: E? = nil
        let r: R? = objectReference(raw.baseAddress!)._withUnsafeGuaranteedRef { object in
            do throws(E) {
                return try body(object)
            } catch {
                failure = error
                return nil
            }
        }
        if let failure { throw failure }
        return r.unsafelyUnwrapped
    }
}

@inline(__always)
func objectReference(_ p: UnsafeRawPointer) -> Unmanaged<StoredObject> {
    Unmanaged<StoredObject>.fromOpaque(p.loadUnaligned(as: UnsafeRawPointer.self))
}
