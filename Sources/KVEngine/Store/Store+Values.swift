import RESP

// Typed access: what every operation on a value of one type goes through. A string operation on a key
// that holds another type fails with StoreError.wrongType before changing anything (Redis' WRONGTYPE);
// an operation that replaces the whole value (SET, MSET, RENAME's destination) takes a key of any type.

/// A value taken out of an entry to be put into another (RENAME): a string's bytes, or the object itself,
/// moved without copying.
enum OwnedValue {
    case string([UInt8])
    case object(StoredObject)
}

extension EntryEditor {
    /// The value, owned (the key must exist).
    var ownedValue: OwnedValue {
        let v = storedValue
        return v.type == .string ? .string(Array(v.bytes)) : .object(v.object)
    }

    mutating func setOwned(_ value: OwnedValue, expiry: Int64?) {
        switch value {
        case .string(let bytes): bytes.withUnsafeBytes { setValue($0, expiry: expiry) }
        case .object(let o): setObject(o, expiry: expiry)
        }
    }

    /// Replaces the value with `object`, without an expiry, as Redis' setKey does for the STORE commands:
    /// the old value leaves as a removal's does (a large one is freed off the loop, LazyFree.swift), and a
    /// key that existed is not reported as created (no `new` notification).
    mutating func replace(with object: StoredObject) {
        let existed = remove()
        setObject(object, expiry: nil)
        if existed { effects &= ~4 }
    }

    /// Throws wrongType when the key exists with a type other than `type`.
    @inline(__always)
    func expect(_ type: ValueType) throws(StoreError) {
        if let t = self.type, t != type { throw .wrongType }
    }
}

extension StoredValue {
    /// A string's bytes, or wrongType.
    @inline(__always)
    func string() throws(StoreError) -> UnsafeRawBufferPointer {
        guard type == .string else { throw .wrongType }
        return bytes
    }

    /// OBJECT ENCODING's answer. For a string, derived from the bytes as Redis' SET stores them: "int" for
    /// a canonical 64-bit integer, "embstr" up to 44 bytes, "raw" beyond (Redis also answers "raw" for a
    /// short string built by APPEND or SETRANGE: docs/compat.md).
    public var encodingName: String {
        guard type == .string else { return object.encodingName }
        if bytes.count <= 20 && parseInt64(bytes) != nil { return "int" }
        return bytes.count <= 44 ? "embstr" : "raw"
    }
}

extension Store {
    /// `body` of the live string at `key`; nil when absent; wrongType when the key holds another type.
    @inline(__always)
    func readString<R>(
        _ key: UnsafeRawBufferPointer, touching: Bool = true, _ body: (UnsafeRawBufferPointer, Int64?) -> R
    ) throws(StoreError) -> R? {
        try readLive(key, touching: touching) { v, x throws(StoreError) -> R in body(try v.string(), x) }
    }

    /// `edit` for an operation on a string: wrongType, unchanged, when the key holds another type.
    @inline(__always)
    func editString<R>(_ key: UnsafeRawBufferPointer, _ body: (inout EntryEditor) throws(StoreError) -> R) throws(StoreError) -> R {
        try edit(key) { (e: inout EntryEditor) throws(StoreError) -> R in
            try e.expect(.string)
            return try body(&e)
        }
    }

    /// The live value of `key` and its expiry, owned, for a caller holding the key's shard lock (RENAME,
    /// MOVE, COPY take a value out this way).
    func takeLocked(_ key: UnsafeRawBufferPointer, _ now: Int64) -> (value: OwnedValue, expiry: Int64?)? {
        editLocked(shard(key), key, now) { e in e.exists ? (e.ownedValue, e.expiry) : nil }
    }

    /// Puts a value taken by `takeLocked` at `key` (shard lock held), unless the key exists and `replace`
    /// is false; true when it did.
    func placeLocked(
        _ key: UnsafeRawBufferPointer, _ taken: (value: OwnedValue, expiry: Int64?), _ now: Int64, replace: Bool, event: KeyspaceEvent
    ) -> Bool {
        editLocked(shard(key), key, now) { e -> Bool in
            if e.exists && !replace { return false }
            e.setOwned(taken.value, expiry: taken.expiry)
            e.event = event
            return true
        }
    }

    /// Removes `key` (shard lock held); true when it existed.
    @discardableResult
    func removeLocked(_ key: UnsafeRawBufferPointer, _ now: Int64, event: KeyspaceEvent) -> Bool {
        editLocked(shard(key), key, now) { e in
            e.event = event
            return e.remove()
        }
    }

    /// Reports `key` (shard lock held) as changed by `event` without changing it: the last step of a change
    /// made in several, so that observers hear its events in Redis' order.
    func announceLocked(_ key: UnsafeRawBufferPointer, _ now: Int64, event: KeyspaceEvent) {
        editLocked(shard(key), key, now) { e in
            e.announce()
            e.event = event
        }
    }

    /// Whether `key` is live (shard lock held): a command's lookup of its destination (RENAME, COPY, MOVE),
    /// which touches it, as Redis' lookupKeyWrite.
    func existsLocked(_ key: UnsafeRawBufferPointer, _ now: Int64) -> Bool {
        liveValueLocked(key, now, touching: true) { _ in () } != nil
    }

    /// TYPE: the type of the live key, nil when absent. `touching` for a command's own lookup (TYPE does not).
    public func type(_ key: UnsafeRawBufferPointer, touching: Bool = false) -> ValueType? {
        readLive(key, touching: touching) { v, _ in v.type }
    }

    /// OBJECT ENCODING: nil when absent.
    public func encoding(_ key: UnsafeRawBufferPointer) -> String? {
        readLive(key, touching: false) { v, _ in v.encodingName }
    }

    /// Stores `object` at `key` (replacing any value) with `expiry`. For engine tests of the typed paths
    /// and for the types' own operations.
    package func setObject(_ key: UnsafeRawBufferPointer, _ object: StoredObject, expiry: Int64? = nil, event: KeyspaceEvent = .set) {
        edit(key) { e in
            e.setObject(object, expiry: expiry)
            e.event = event
        }
    }

    /// Runs `body` on the object of type `type` at `key` (nil when absent; wrongType for another type),
    /// under the shard's write lock, counting it as a change.
    package func modifyObject<R>(
        _ key: UnsafeRawBufferPointer, _ type: ValueType, event: KeyspaceEvent = .set, _ body: (StoredObject) -> R
    ) throws(StoreError) -> R? {
        try edit(key) { (e: inout EntryEditor) throws(StoreError) -> R? in
            guard e.exists else { return nil }
            try e.expect(type)
            e.event = event
            return e.modifyObject(body)
        }
    }
}

extension Store {
    /// MEMORY USAGE: about how many bytes `key` takes — its entry (header, key, value, rounded as the arena
    /// rounds), its share of a bucket, and an object's own report (StoredObject.memoryBytes). Nil when absent.
    public func memoryUsage(_ key: UnsafeRawBufferPointer) -> Int? {
        readLive(key, touching: false) { v, expiry -> Int in
            let value = v.type == .string || v.isInline ? v.bytes.count : MemoryLayout<UnsafeRawPointer>.size + v.object.memoryBytes
            let header = narrowHeaderSize + (expiry == nil ? 0 : 8)
            // 48-byte buckets of 8 slots at a load of at most 6.5: about 8 bytes of bucket per key.
            return (header + key.count + value + 7) & ~7 + 8
        }
    }
}
