// A set value: members without values, a map inside the map.
//
// Three forms, as Redis 7.2: an intset while every member is a canonical integer and there are at most
// `set-max-intset-entries` (IntSet.swift); a listpack of members while there are at most
// `set-max-listpack-entries` of at most `set-max-listpack-value` bytes (Listpack.swift); else the engine's
// HashMap (member -> empty value). A set converts only towards the map, never back. OBJECT ENCODING says
// "intset", "listpack" or "hashtable".
//
// Exactly one form holds the members: `table` when non-nil, else `ints` when `isIntset`, else `packed`.

import RESP

public final class SetObject: StoredObject, @unchecked Sendable {
    var ints = IntSet()
    var packed = Listpack()
    var table: HashMap?
    var isIntset = true

    public override init() { super.init() }

    public override var valueType: ValueType { .set }
    public override var encodingName: String { table != nil ? "hashtable" : isIntset ? "intset" : "listpack" }
    public override var memoryBytes: Int { table?.heapBytes ?? (isIntset ? ints.memoryBytes : packed.memoryBytes) }
    public override var innerMap: HashMap? { table }
    public override var hasInnerMap: Bool { table != nil }

    public override var count: Int { table?.count ?? (isIntset ? ints.count : packed.count) }

    override var inlineSize: InlineSize? {
        table != nil ? nil : isIntset ? InlineSize(count: 2 + ints.raw.count, form: .intset) : KVEngine.inlineSize(of: packed, stride: 1)
    }

    override func writeInline(to p: UnsafeMutableRawPointer, _ size: InlineSize) {
        if isIntset { KVEngine.writeInline(ints, to: p) } else { KVEngine.writeInline(packed, stride: 1, size, to: p) }
    }

    public func contains(_ m: UnsafeRawBufferPointer) -> Bool {
        if let table { return table.contains(m) }
        if isIntset { return parseCanonicalInt(m).map { ints.contains($0) } ?? false }
        return packed.find(m, stride: 1) != nil
    }

    /// Adds `m`; true when it is new. Converts first when `m` would cross a threshold.
    @discardableResult
    public func insert(_ m: UnsafeRawBufferPointer, limits: EncodingLimits.Values) -> Bool {
        if let table { return table.set(m, UnsafeRawBufferPointer(start: nil, count: 0)) }
        if isIntset {
            if let v = parseCanonicalInt(m) {
                if ints.contains(v) { return false }
                if ints.count + 1 <= limits[.setMaxIntsetEntries] { return ints.insert(v) }
                // One integer too many: the map, as Redis (maybeConvertIntset).
                toTable()
                return insert(m, limits: limits)
            }
            // A non-integer: a listpack if it would fit one, else the map.
            let fits = count + 1 <= limits[.setMaxListpackEntries] && m.count <= limits[.setMaxListpackValue]
                && ints.members.allSatisfy { String($0).utf8.count <= limits[.setMaxListpackValue] }
            if fits { toListpack() } else { toTable() }
            return insert(m, limits: limits)
        }
        if packed.find(m, stride: 1) != nil { return false }
        if packed.count + 1 > limits[.setMaxListpackEntries] || m.count > limits[.setMaxListpackValue] {
            toTable()
            return insert(m, limits: limits)
        }
        packed.append(m)
        return true
    }

    /// Removes `m`; true when it was there.
    @discardableResult
    public func remove(_ m: UnsafeRawBufferPointer) -> Bool {
        if let table { return table.remove(m) }
        if isIntset { return parseCanonicalInt(m).map { ints.remove($0) } ?? false }
        guard let p = packed.find(m, stride: 1) else { return false }
        packed.remove(at: p, elements: 1)
        return true
    }

    /// Every member, in the set's order, without copying; `body` must not change the set.
    public func forEach(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        if let table {
            try table.forEachEntry { k, _, _ in try body(k) }
        } else if isIntset {
            for i in 0..<ints.count {
                var s = String(ints[i])
                try s.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
            }
        } else {
            try packed.forEach { e, _ in
                try e.withUnsafeBytes { try body($0) }
                return true
            }
        }
    }

    /// The members, copied.
    public var members: [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        forEach { out.append(Array($0)) }
        return out
    }

    /// A uniformly random member (a copy); nil when empty. Under the write lock (the map's draw updates
    /// its bound).
    public func randomMember<G: RandomNumberGenerator>(using rng: inout G) -> [UInt8]? {
        if let table { return table.fairRandomEntry(using: &rng)?.key }
        guard count > 0 else { return nil }
        let i = Int(rng.next() % UInt64(count))
        if isIntset { return Array(String(ints[i]).utf8) }
        var p = 0
        for _ in 0..<i { p = packed.element(at: p).next }
        return Array(packed.element(at: p).bytes)
    }

    /// SSCAN: the members of one step from `cursor` and the next cursor (0 when done). A compact set is
    /// returned whole at cursor 0, as Redis does.
    public func scan(cursor: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> UInt64 {
        guard let table else {
            forEach(body)
            return 0
        }
        return table.scan(cursor: cursor, count: count) { k, _, _ in body(k) }
    }

    private func toListpack() {
        var lp = Listpack()
        forEach { lp.append($0) }
        packed = lp
        ints = IntSet()
        isIntset = false
    }

    private func toTable() {
        guard table == nil else { return }
        let map = HashMap()
        forEach { map.set($0, UnsafeRawBufferPointer(start: nil, count: 0)) }
        table = map
        ints = IntSet()
        packed = Listpack()
        isIntset = false
    }

    public override func verify() -> String? {
        if let table {
            if !packed.isEmpty || !ints.isEmpty { return "a hashtable set with compact members left" }
            if let v = table.verify() { return "its map: \(v)" }
            return nil
        }
        if isIntset {
            if !packed.isEmpty { return "an intset set with listpack members" }
            return ints.verify()
        }
        if !ints.isEmpty { return "a listpack set with intset members" }
        if let problem = packed.verify() { return problem }
        var seen = Set<[UInt8]>()
        var problem: String? = nil
        forEach { if !seen.insert(Array($0)).inserted { problem = "member '\(String(decoding: $0, as: UTF8.self))' twice" } }
        return problem
    }

    public override func duplicate() -> StoredObject {
        let copy = SetObject()
        copy.isIntset = isIntset
        if let table {
            let map = HashMap()
            table.forEachEntry { k, _, _ in map.set(k, UnsafeRawBufferPointer(start: nil, count: 0)) }
            copy.table = map
        } else {
            copy.ints = ints
            copy.packed = packed
        }
        return copy
    }
}
