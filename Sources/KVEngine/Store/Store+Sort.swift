import Glibc

// SORT and SORT_RO (Redis 7.0's sort.c): the elements of a list, set or sorted set, sorted as numbers (or bytes with
// ALPHA), by themselves or by the values of other keys (BY pattern: the first `*` replaced by the
// element, `->field` for a hash's field), with LIMIT, GET patterns (`#` is the element itself), and STORE
// into a list. It reads keys the pattern names anywhere in the database, so the whole command runs with
// every shard of the database locked: one consistent state, as Redis' single thread gives.
//
// Redis' details kept: a pattern is searched as a C string (up to its first NUL byte) but copied whole; a
// BY pattern without `*` means "do not sort" (a set then keeps its iteration order, except with STORE,
// where it is sorted as bytes so the stored list is the same everywhere); a number is what strtod reads
// of the text up to its first NUL, and anything else is an error for the whole command; equal scores
// order by the elements' bytes; an element whose BY key is missing scores 0 (or, with ALPHA, sorts
// first).

public struct SortRequest: Sendable {
    /// The last BY pattern.
    public private(set) var by: [UInt8]? = nil
    /// Some BY pattern had no `*`: do not sort (a later BY does not undo it, as in Redis).
    public private(set) var dontSort = false
    public var offset = 0
    public var count = -1
    public var gets: [[UInt8]] = []
    public var descending = false
    public var alpha = false
    public var store: [UInt8]? = nil
    public init() {}

    public mutating func addBy(_ pattern: [UInt8]) {
        by = pattern
        if !cString(pattern).contains(UInt8(ascii: "*")) { dontSort = true }
    }
}

public enum SortResult: Sendable, Equatable {
    /// The reply: the elements (or, with GET, each pattern's value per element; nil where it found none).
    case elements([[UInt8]?])
    /// With STORE: the length of the list stored.
    case stored(Int)
}

extension Store {
    public func sort(_ key: UnsafeRawBufferPointer, _ request: SortRequest) throws(StoreError) -> SortResult {
        let now = clock(), shape = listShape
        do {
            return try withAllShardsLocked { () throws -> SortResult in
                try sortLocked(key, request, now: now, shape: shape)
            }
        } catch let e as StoreError {
            throw e
        } catch {
            fatalError("SORT: \(error)")
        }
    }

    private func sortLocked(_ key: UnsafeRawBufferPointer, _ r: SortRequest, now: Int64, shape: ListShape) throws -> SortResult {
        // Redis 7.0 converts a small sorted set to its skiplist form to sort it ("destructively", even for
        // SORT_RO), and it stays so: OBJECT ENCODING and DUMP show it. As Redis, no change is recorded.
        editLocked(shard(key), key, now) { e in
            guard e.type == .zset else { return }
            e.restructureObject { o in (o as! SortedSetObject).convert() }
        }
        // The elements, in the value's own order.
        let found: (elements: [[UInt8]], isSet: Bool)?? = liveValueLocked(key, now, touching: true) { v in
            switch v.type {
            case .list: return ((v.object as! ListObject).elements, false)
            case .set: return ((v.object as! SetObject).members, true)
            case .zset:
                // In the set's order; not sorting with DESC, from the top (Redis' special case for zsets).
                let z = v.object as! SortedSetObject
                return (z.elements(0..<z.count, reverse: r.dontSort && r.descending).map(\.member), false)
            default: return nil
            }
        }
        if case .some(.none) = found { throw StoreError.wrongType }
        let elements = found??.elements ?? []
        var by = r.by, alpha = r.alpha
        var sorting = !r.dontSort
        if !sorting && (found??.isSet ?? false) && r.store != nil {
            // A set's order is its own: stored, it is sorted so that the list is the same everywhere.
            sorting = true
            alpha = true
            by = nil
        }

        // LIMIT, clamped as Redis clamps it.
        let n = elements.count
        var start = max(0, r.offset)
        var end = r.count < 0 ? n - 1 : start + r.count - 1
        if start >= n {
            start = n - 1
            end = n - 2
        }
        if end >= n { end = n - 1 }

        var items = elements.map { SortItem(element: $0) }
        if sorting {
            for i in items.indices {
                let byValue = by.map { lookUp($0, items[i].element, now) } ?? items[i].element
                if alpha {
                    if by != nil { items[i].key = byValue }
                } else if let text = byValue {
                    guard let score = sortScore(text) else { throw StoreError.sortScoreNotADouble }
                    items[i].score = score
                }
            }
            let byPattern = by != nil, storing = r.store != nil, descending = r.descending
            items.sort { a, b in
                let c = SortItem.compare(a, b, alpha: alpha, byPattern: byPattern, binary: storing)
                return descending ? c > 0 : c < 0
            }
        }

        var out: [[UInt8]?] = []
        if start <= end {
            for item in items[start...end] {
                if r.gets.isEmpty { out.append(item.element) }
                for g in r.gets { out.append(lookUp(g, item.element, now)) }
            }
        }
        guard let destination = r.store else { return .elements(out) }
        try destination.withUnsafeBytes { d in
            editLocked(shard(d), d, now) { e in
                if out.isEmpty {
                    if e.remove() { e.event = .del }
                    return
                }
                let l = ListObject(out.map { $0 ?? [] }, shape: shape)
                e.replace(with: l)
                e.event = .sortstore
            }
        }
        return .stored(out.count)
    }

    /// Redis' lookupKeyByPattern: `#` is the element; else the first `*` of the pattern (searched as a C
    /// string) replaced by the element, and with `->field` after it that field of a hash, else a string's
    /// value; nil when there is no `*`, no such key, or another type.
    private func lookUp(_ pattern: [UInt8], _ element: [UInt8], _ now: Int64) -> [UInt8]? {
        if pattern == [UInt8(ascii: "#")] { return element }
        let searchable = cString(pattern)
        guard let star = searchable.firstIndex(of: UInt8(ascii: "*")) else { return nil }
        var keyEnd = pattern.count
        var field: ArraySlice<UInt8>? = nil
        var i = star + 1
        while i + 1 < searchable.count {
            if searchable[i] == UInt8(ascii: "-") && searchable[i + 1] == UInt8(ascii: ">") {
                if i + 2 < searchable.count {
                    keyEnd = i
                    field = pattern[(i + 2)...]
                }
                break
            }
            i += 1
        }
        let key = Array(pattern[..<star]) + element + Array(pattern[(star + 1)..<keyEnd])
        return key.withUnsafeBytes { k in
            liveValueLocked(k, now, touching: true) { v -> [UInt8]? in
                if let field {
                    guard v.type == .hash else { return nil }
                    return field.withUnsafeBytes { f in (v.object as! HashObject).withValue(f) { Array($0) } }
                }
                return v.type == .string ? Array(v.bytes) : nil
            } ?? nil
        }
    }
}

private struct SortItem {
    let element: [UInt8]
    var score = 0.0
    /// ALPHA with BY: the BY key's value (nil when missing).
    var key: [UInt8]? = nil

    /// Redis' sortCompare (before DESC).
    static func compare(_ a: SortItem, _ b: SortItem, alpha: Bool, byPattern: Bool, binary: Bool) -> Int {
        if !alpha {
            if a.score != b.score { return a.score > b.score ? 1 : -1 }
            return bytesCompare(a.element, b.element)
        }
        if byPattern {
            switch (a.key, b.key) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let x?, let y?): return binary ? bytesCompare(x, y) : bytesCompare(cString(x), cString(y))
            }
        }
        return binary ? bytesCompare(a.element, b.element) : bytesCompare(cString(a.element), cString(b.element))
    }
}

/// The bytes before the first NUL: what C's string functions (strcoll, strtod, strchr) see.
private func cString(_ b: [UInt8]) -> [UInt8] {
    guard let nul = b.firstIndex(of: 0) else { return b }
    return Array(b[..<nul])
}

private func bytesCompare(_ a: [UInt8], _ b: [UInt8]) -> Int {
    for i in 0..<min(a.count, b.count) where a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
    return a.count == b.count ? 0 : a.count < b.count ? -1 : 1
}

/// A score as Redis reads one for SORT: strtod over the text up to its first NUL, all of it consumed, no
/// range error, not NaN.
private func sortScore(_ b: [UInt8]) -> Double? {
    let text = cString(b) + [0]
    var end: UnsafeMutablePointer<CChar>? = nil
    errno = 0
    let v = text.withUnsafeBufferPointer { p in p.withMemoryRebound(to: CChar.self) { strtod($0.baseAddress!, &end) } }
    guard let end, end.pointee == 0, errno != ERANGE, !v.isNaN else { return nil }
    return v
}
