// A hash value: field -> value, a map inside the map.
//
// Small hashes are a listpack of field, value, field, value... (Listpack.swift): one allocation, linear
// lookups. A hash converts, once and for good, to the engine's own HashMap (field -> value; the Go-style
// map with its growth, shrinking, seed, iteration and SCAN guarantees) when it would exceed
// `hash-max-listpack-entries` fields or hold a field or value longer than `hash-max-listpack-value`, as
// Redis converts its listpack to a dict. OBJECT ENCODING says "listpack" or "hashtable", as Redis 7.
//
// Exactly one form is in use: `table` is nil while `packed` holds the fields, and `packed` is empty once
// `table` exists. Changes go through the store's editor (EntryEditor.modifyObject), which keeps the
// keyspace map's byte count in step with `memoryBytes`.

import RESP
import Synchronization

/// The conversion thresholds of the compact forms (CONFIG SET changes them for every database at once).
/// A command reads them once, as a value (`current`), and hands that to the value it changes: a reference
/// captured by a command's closures cost two retains and releases a command (callgrind, SADD).
public final class EncodingLimits: Sendable {
    /// Redis' defaults (7.2's for the set listpack, which 7.0 does not have).
    public enum Limit: Int, CaseIterable, Sendable {
        case hashMaxListpackEntries, hashMaxListpackValue, setMaxIntsetEntries, setMaxListpackEntries, setMaxListpackValue
        /// A list node's bound (ListObject.swift): negative, bytes (-2: 8 KiB); positive, elements.
        case listMaxListpackSize
        /// Nodes at each end of a list left uncompressed; 0: no compression (ListObject.swift).
        case listCompressDepth
        /// When a sorted set leaves its listpack (SortedSetObject.swift).
        case zsetMaxListpackEntries, zsetMaxListpackValue
        public var defaultValue: Int { [512, 64, 512, 128, 64, -2, 0, 128, 64][rawValue] }
    }

    /// Every threshold at one moment.
    public struct Values: Sendable {
        private var values = (Limit.hashMaxListpackEntries.defaultValue, Limit.hashMaxListpackValue.defaultValue,
                              Limit.setMaxIntsetEntries.defaultValue, Limit.setMaxListpackEntries.defaultValue,
                              Limit.setMaxListpackValue.defaultValue, Limit.listMaxListpackSize.defaultValue,
                              Limit.listCompressDepth.defaultValue, Limit.zsetMaxListpackEntries.defaultValue,
                              Limit.zsetMaxListpackValue.defaultValue)

        /// Redis' defaults.
        public init() {}

        /// In `Limit`'s order.
        fileprivate init(_ values: (Int, Int, Int, Int, Int, Int, Int, Int, Int)) { self.values = values }

        public subscript(_ l: Limit) -> Int {
            get { withUnsafeBytes(of: values) { $0.load(fromByteOffset: l.rawValue * 8, as: Int.self) } }
            set { withUnsafeMutableBytes(of: &values) { $0.storeBytes(of: newValue, toByteOffset: l.rawValue * 8, as: Int.self) } }
        }
    }

    private let hashEntries = Atomic(Limit.hashMaxListpackEntries.defaultValue)
    private let hashValue = Atomic(Limit.hashMaxListpackValue.defaultValue)
    private let intsetEntries = Atomic(Limit.setMaxIntsetEntries.defaultValue)
    private let setEntries = Atomic(Limit.setMaxListpackEntries.defaultValue)
    private let setValue = Atomic(Limit.setMaxListpackValue.defaultValue)
    private let listSize = Atomic(Limit.listMaxListpackSize.defaultValue)
    private let listDepth = Atomic(Limit.listCompressDepth.defaultValue)
    private let zsetEntries = Atomic(Limit.zsetMaxListpackEntries.defaultValue)
    private let zsetValue = Atomic(Limit.zsetMaxListpackValue.defaultValue)

    public init() {}

    /// The thresholds now.
    public var current: Values {
        Values((hashEntries.load(ordering: .relaxed), hashValue.load(ordering: .relaxed), intsetEntries.load(ordering: .relaxed),
                setEntries.load(ordering: .relaxed), setValue.load(ordering: .relaxed), listSize.load(ordering: .relaxed),
                listDepth.load(ordering: .relaxed), zsetEntries.load(ordering: .relaxed), zsetValue.load(ordering: .relaxed)))
    }

    public subscript(_ l: Limit) -> Int {
        get {
            switch l {
            case .hashMaxListpackEntries: hashEntries.load(ordering: .relaxed)
            case .hashMaxListpackValue: hashValue.load(ordering: .relaxed)
            case .setMaxIntsetEntries: intsetEntries.load(ordering: .relaxed)
            case .setMaxListpackEntries: setEntries.load(ordering: .relaxed)
            case .setMaxListpackValue: setValue.load(ordering: .relaxed)
            case .listMaxListpackSize: listSize.load(ordering: .relaxed)
            case .listCompressDepth: listDepth.load(ordering: .relaxed)
            case .zsetMaxListpackEntries: zsetEntries.load(ordering: .relaxed)
            case .zsetMaxListpackValue: zsetValue.load(ordering: .relaxed)
            }
        }
        set {
            switch l {
            case .hashMaxListpackEntries: hashEntries.store(newValue, ordering: .relaxed)
            case .hashMaxListpackValue: hashValue.store(newValue, ordering: .relaxed)
            case .setMaxIntsetEntries: intsetEntries.store(newValue, ordering: .relaxed)
            case .setMaxListpackEntries: setEntries.store(newValue, ordering: .relaxed)
            case .setMaxListpackValue: setValue.store(newValue, ordering: .relaxed)
            case .listMaxListpackSize: listSize.store(newValue, ordering: .relaxed)
            case .listCompressDepth: listDepth.store(newValue, ordering: .relaxed)
            case .zsetMaxListpackEntries: zsetEntries.store(newValue, ordering: .relaxed)
            case .zsetMaxListpackValue: zsetValue.store(newValue, ordering: .relaxed)
            }
        }
    }
}

public final class HashObject: StoredObject, @unchecked Sendable {
    var packed = Listpack()
    var table: HashMap?

    public override init() { super.init() }

    public override var valueType: ValueType { .hash }
    public override var encodingName: String { table == nil ? "listpack" : "hashtable" }
    public override var memoryBytes: Int { table?.heapBytes ?? packed.memoryBytes }
    public override var innerMap: HashMap? { table }
    public override var hasInnerMap: Bool { table != nil }

    public override var count: Int { table?.count ?? packed.count / 2 }

    override var inlineSize: InlineSize? { table != nil ? nil : KVEngine.inlineSize(of: packed, stride: 2) }

    override func writeInline(to p: UnsafeMutableRawPointer, _ size: InlineSize) {
        KVEngine.writeInline(packed, stride: 2, size, to: p)
    }

    /// Calls `body` with the value of `field` (valid only inside it); nil when absent.
    public func withValue<R>(_ field: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        if let table { return table.withValue(forKey: field) { v, _ in body(v) } }
        guard let p = packed.find(field, stride: 2) else { return nil }
        let v = packed.element(at: packed.element(at: p).next).bytes
        return v.withUnsafeBytes { body($0) }
    }

    public func contains(_ field: UnsafeRawBufferPointer) -> Bool { withValue(field) { _ in () } != nil }

    /// Sets `field` to `value`; true when the field is new. Converts first when the pair would cross a
    /// threshold.
    @discardableResult
    public func set(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, limits: EncodingLimits.Values) -> Bool {
        if table == nil {
            let maxValue = limits[.hashMaxListpackValue]
            if field.count > maxValue || value.count > maxValue { convert() }
        }
        if let table { return table.set(field, value) }
        if let p = packed.find(field, stride: 2) {
            packed.replace(at: packed.element(at: p).next, with: value)
            return false
        }
        if packed.count / 2 + 1 > limits[.hashMaxListpackEntries] {
            convert()
            return table!.set(field, value)
        }
        packed.append(field)
        packed.append(value)
        return true
    }

    /// Removes `field`; true when it was there.
    @discardableResult
    public func remove(_ field: UnsafeRawBufferPointer) -> Bool {
        if let table { return table.remove(field) }
        guard let p = packed.find(field, stride: 2) else { return false }
        packed.remove(at: p, elements: 2)
        return true
    }

    /// Every field and value, in the hash's order, without copying; `body` must not change the hash.
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) rethrows {
        if let table {
            try table.forEachEntry { k, v, _ in try body(k, v.bytes) }
            return
        }
        var field: ArraySlice<UInt8>? = nil
        try packed.forEach { e, _ in
            if let f = field {
                try f.withUnsafeBytes { f in try e.withUnsafeBytes { v in try body(f, v) } }
                field = nil
            } else {
                field = e
            }
            return true
        }
    }

    /// A uniformly random field and its value (copies); nil when empty. Under the write lock (the map's
    /// draw updates its bound).
    public func randomPair<G: RandomNumberGenerator>(using rng: inout G) -> (field: [UInt8], value: [UInt8])? {
        if let table { return table.fairRandomEntry(using: &rng).map { ($0.key, $0.value) } }
        guard count > 0 else { return nil }
        let i = Int(rng.next() % UInt64(count))
        var p = 0
        for _ in 0..<(2 * i) { p = packed.element(at: p).next }
        let (f, next) = packed.element(at: p)
        return (Array(f), Array(packed.element(at: next).bytes))
    }

    /// HSCAN: the pairs of one step from `cursor` and the next cursor (0 when done). A listpack is
    /// returned whole at cursor 0, as Redis does.
    public func scan(cursor: UInt64, count: Int, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) -> UInt64 {
        guard let table else {
            forEach(body)
            return 0
        }
        return table.scan(cursor: cursor, count: count) { k, v, _ in body(k, v.bytes) }
    }

    /// Moves the fields into a HashMap, for good.
    private func convert() {
        guard table == nil else { return }
        let map = HashMap()
        forEach { f, v in map.set(f, v) }
        table = map
        packed = Listpack()
    }

    public override func verify() -> String? {
        if let table {
            if !packed.isEmpty { return "a hashtable hash with listpack fields left" }
            if let v = table.verify() { return "its map: \(v)" }
            return nil
        }
        if let problem = packed.verify() { return problem }
        if packed.count % 2 != 0 { return "a listpack with a field without a value" }
        var seen = Set<[UInt8]>()
        var problem: String? = nil
        forEach { f, _ in if !seen.insert(Array(f)).inserted { problem = "field '\(String(decoding: f, as: UTF8.self))' twice" } }
        return problem
    }

    public override func duplicate() -> StoredObject {
        let copy = HashObject()
        if let table {
            let map = HashMap()
            table.forEachEntry { k, v, _ in map.set(k, v.bytes) }
            copy.table = map
        } else {
            copy.packed = packed
        }
        return copy
    }
}
