// A sorted set value: members with scores, in order of score, then member bytes.
//
// Two forms, as Redis: a listpack of member, score, member, score... in that order while there are at most
// `zset-max-listpack-entries` members of at most `zset-max-listpack-value` bytes (OBJECT ENCODING
// "listpack"); else, for good, the engine's HashMap (member -> score: O(1) ZSCORE and membership) beside a
// ScoreTree (the order: O(log n) rank and ranges), OBJECT ENCODING "skiplist" as Redis names its form.
//
// A listpack score takes as few bytes as it can: an integral score within ±2^55 is its two's-complement
// little-endian bytes, 0 to 7 of them (0 is no bytes), any other score the Double's 8 bytes. So `-0` reads
// back as 0 in the listpack form, as in Redis (docs/compat.md).
//
// Exactly one form holds the members: `tree` and `table` both or neither; `packed` is empty once they
// exist. Ranks count from 0 at the lowest element.

import RESP

/// A score as a listpack element's bytes (see the header), passed to `body`.
@inline(__always)
func withPackedScore<R>(_ s: Double, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    if s == s.rounded(.towardZero), abs(s) < 36_028_797_018_963_968 {  // 2^55
        let v = Int64(s)
        var n = 0
        while n < 7 && (v >> (8 * n + 7)) != (v < 0 ? -1 : 0) { n += 1 }
        if v != 0 { n += 1 }  // a nonzero value needs the byte holding its sign bit
        return withUnsafeBytes(of: v.littleEndian) { body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }
    return withUnsafeBytes(of: s.bitPattern.littleEndian) { body($0) }
}

/// The score a listpack score element holds.
@inline(__always)
func unpackScore(_ b: UnsafeRawBufferPointer) -> Double {
    let n = b.count
    guard n > 0, let p = b.baseAddress else { return 0 }
    if n >= 8 { return Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))) }  // (longer: malformed, never written)
    // Two loads that overlap where n is not a power of two (the bytes they share are the same): no loop.
    var v: UInt64
    if n >= 4 {
        v = UInt64(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
        v |= UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self))) &<< UInt64(8 &* (n &- 4))
    } else if n >= 2 {
        v = UInt64(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self)))
        v |= UInt64(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: n &- 2, as: UInt16.self))) &<< UInt64(8 &* (n &- 2))
    } else {
        v = UInt64(p.load(as: UInt8.self))
    }
    let unused = UInt64(64 &- 8 &* n)  // n < 8: sign-extend the top byte
    return Double(Int64(bitPattern: v &<< unused) &>> Int64(unused))
}

func unpackScore(_ b: ArraySlice<UInt8>) -> Double { b.withUnsafeBytes { unpackScore($0) } }

/// A score as the table stores it: the Double's bits.
@inline(__always)
func tableScore(_ v: UnsafeRawBufferPointer) -> Double { Double(bitPattern: v.loadUnaligned(as: UInt64.self)) }

public final class SortedSetObject: StoredObject, @unchecked Sendable {
    var packed = Listpack()
    var tree: ScoreTree?
    var table: HashMap?

    public override init() { super.init() }

    public override var valueType: ValueType { .zset }
    public override var encodingName: String { tree == nil ? "listpack" : "skiplist" }
    public override var memoryBytes: Int { tree.map { $0.heapBytes + table!.heapBytes } ?? packed.memoryBytes }
    public override var innerMap: HashMap? { table }
    public override var hasInnerMap: Bool { table != nil }
    override var compactables: [any Compactable] {
        guard let tree, let table else { return [] }
        return [table, tree]
    }
    public override var count: Int { tree?.count ?? packed.count / 2 }
    override var inlineSize: InlineSize? { tree != nil ? nil : KVEngine.inlineSize(of: packed, stride: 2) }
    override func writeInline(to p: UnsafeMutableRawPointer, _ size: InlineSize) {
        KVEngine.writeInline(packed, stride: 2, size, to: p)
    }

    /// The listpack's pairs in order, with each member's position, until `body` returns false.
    private func forEachPacked(_ body: (Double, ArraySlice<UInt8>, Listpack.Position) -> Bool) {
        var member: (ArraySlice<UInt8>, Listpack.Position)? = nil
        packed.forEach { e, p in
            guard let (m, mp) = member else {
                member = (e, p)
                return true
            }
            member = nil
            return body(unpackScore(e), m, mp)
        }
    }

    /// The score of `m`; nil when absent.
    public func score(_ m: UnsafeRawBufferPointer) -> Double? {
        if let table { return table.withValue(forKey: m) { v, _ in tableScore(v) } }
        guard let p = packed.find(m, stride: 2) else { return nil }
        return unpackScore(packed.element(at: packed.element(at: p).next).bytes)
    }

    /// Sets the score of `m`; true when `m` is new. Converts first when `m` would cross a threshold.
    @discardableResult
    public func set(_ m: UnsafeRawBufferPointer, _ s: Double, limits: EncodingLimits.Values) -> Bool {
        upsert(m, limits: limits) { old in old?.bitPattern == s.bitPattern ? nil : s } == nil
    }

    /// One member's write with one lookup of it (ZADD's options decide from the current score): `decide`
    /// gets the score of `m` (nil when absent) and returns the score to give it, or nil to change nothing.
    /// Converts first when the write would cross a threshold, as Redis' zsetAdd: a new member past the
    /// entry or value limit. Returns the score `decide` was given.
    @discardableResult
    public func upsert<E: Error>(
        _ m: UnsafeRawBufferPointer, limits: EncodingLimits.Values, _ decide: (Double?) throws(E) -> Double?
    ) throws(E) -> Double? {
        if let tree, let table {
            return try table.update(m) { e throws(E) -> Double? in
                let old = e.exists ? tableScore(e.value) : nil
                guard let s = try decide(old) else { return old }
                if let old { tree.remove(old, m) }
                tree.insert(s, m)
                var bits = s.bitPattern
                withUnsafeBytes(of: &bits) { e.setValue($0, expiry: nil) }
                return old
            }
        }
        let p = packed.find(m, stride: 2)
        let old = p.map { unpackScore(packed.element(at: packed.element(at: $0).next).bytes) }
        guard let s = try decide(old) else { return old }
        if let p {
            packed.remove(at: p, elements: 2)
        } else if packed.count / 2 + 1 > limits[.zsetMaxListpackEntries] || m.count > limits[.zsetMaxListpackValue] {
            convert()
            upsert(m, limits: limits) { _ in s }
            return nil
        }
        var at = packed.endPosition
        forEachPacked { es, em, p in
            let after = em.withUnsafeBytes { scoreOrderLess(s, m, es, $0) }
            if after { at = p }
            return !after
        }
        withPackedScore(s) { packed.insert(m, $0, at: at) }
        return old
    }

    /// Removes `m`; true when it was there.
    @discardableResult
    public func remove(_ m: UnsafeRawBufferPointer) -> Bool {
        if let tree, let table {
            // One lookup of the member, as upsert.
            return table.update(m) { e in
                guard e.exists else { return false }
                tree.remove(tableScore(e.value), m)
                return e.remove()
            }
        }
        guard let p = packed.find(m, stride: 2) else { return false }
        packed.remove(at: p, elements: 2)
        return true
    }

    /// Removes the element (`m`, `s`) read from the set (pops, range removals): no lookup of its score.
    func remove(_ m: UnsafeRawBufferPointer, score s: Double) {
        guard let tree, let table else { return _ = remove(m) }
        tree.remove(s, m)
        table.remove(m)
    }

    /// Removes the lowest element (or, `max`, the highest), showing `body` its member and score first; false
    /// when empty. A listpack's member is copied to the stack first (its bytes go with the element), not to
    /// an array; a tree's is shown in its leaf, which the tree rebuilds after `body`.
    @discardableResult
    public func popEnd(max: Bool, _ body: (UnsafeRawBufferPointer, Double) -> Void) -> Bool {
        if let tree, let table {
            // Removing a member from the table costs two cache misses (bucket, entry), most of a pop's time
            // when the table is large; each pop prefetches the entry of the next one (whose bucket the pop
            // before brought in) and the bucket of the one after.
            return tree.popEnd(max: max, { s, m in
                body(m, s)
                table.remove(m)
            }, upcoming: { next, afterNext in
                if let afterNext { table.prefetchBucket(table.hash(afterNext)) }
                table.prefetchEntry(table.hash(next))
            })
        }
        let n = count
        guard n > 0 else { return false }
        let rank = max ? n - 1 : 0
        var length = 0
        forEach(fromRank: rank, reverse: max) { _, m in length = m.count; return false }
        withUnsafeTemporaryAllocation(byteCount: Swift.max(length, 1), alignment: 1) { copy in
            var score = 0.0
            forEach(fromRank: rank, reverse: max) { s, m in copyBytes(to: copy.baseAddress!, from: m); score = s; return false }
            let member = UnsafeRawBufferPointer(start: copy.baseAddress!, count: length)
            body(member, score)
            remove(member, score: score)
        }
        return true
    }

    /// The rank of the first element satisfying `pred` (false for a prefix of the order, true after);
    /// `count` when none does.
    public func rank(ofFirst pred: (Double, UnsafeRawBufferPointer) -> Bool) -> Int {
        if let tree { return tree.rank(ofFirst: pred) }
        var rank = 0
        forEachPacked { s, m, _ in
            if m.withUnsafeBytes({ pred(s, $0) }) { return false }
            rank += 1
            return true
        }
        return rank
    }

    /// The rank of `m`, nil when absent.
    public func rank(of m: UnsafeRawBufferPointer) -> Int? {
        guard let s = score(m) else { return nil }
        return rank { es, em in !scoreOrderLess(es, em, s, m) }
    }

    /// Calls `body` with the elements from rank `rank`, ascending or (`reverse`) descending, until it
    /// returns false. `body` must not change the set.
    public func forEach(fromRank rank: Int, reverse: Bool = false, _ body: (Double, UnsafeRawBufferPointer) -> Bool) {
        if let tree { return tree.forEach(fromRank: rank, reverse: reverse, body) }
        guard rank >= 0 && rank < count else { return }
        if reverse {
            var pairs: [(Double, ArraySlice<UInt8>)] = []
            pairs.reserveCapacity(rank + 1)
            forEachPacked { s, m, _ in pairs.append((s, m)); return pairs.count <= rank }
            for (s, m) in pairs.reversed() where !m.withUnsafeBytes({ body(s, $0) }) { return }
            return
        }
        var i = 0
        forEachPacked { s, m, _ in
            defer { i += 1 }
            return i < rank || m.withUnsafeBytes { body(s, $0) }
        }
    }

    /// Every element in order.
    public func forEach(_ body: (Double, UnsafeRawBufferPointer) -> Void) {
        forEach(fromRank: 0) { s, m in body(s, m); return true }
    }

    /// The elements of ranks `ranks` (ascending) or of the same ranks read from the top (`reverse`), copied.
    public func elements(_ ranks: Range<Int>, reverse: Bool = false) -> [(member: [UInt8], score: Double)] {
        var out: [(member: [UInt8], score: Double)] = []
        guard !ranks.isEmpty else { return out }
        out.reserveCapacity(ranks.count)
        forEach(fromRank: reverse ? ranks.upperBound - 1 : ranks.lowerBound, reverse: reverse) { s, m in
            out.append((Array(m), s))
            return out.count < ranks.count
        }
        return out
    }

    /// A uniformly random element (a copy); nil when empty. Under the write lock (the map's draw updates
    /// its bound).
    public func randomElement<G: RandomNumberGenerator>(using rng: inout G) -> (member: [UInt8], score: Double)? {
        if let table {
            return table.fairRandomEntry(using: &rng).map { e in (e.key, e.value.withUnsafeBytes { tableScore($0) }) }
        }
        guard count > 0 else { return nil }
        let r = Int(rng.next() % UInt64(count))
        return elements(r..<(r + 1)).first
    }

    /// ZSCAN: the elements of one step from `cursor` and the next cursor (0 when done). A listpack is
    /// returned whole at cursor 0, as Redis does.
    public func scan(cursor: UInt64, count: Int, _ body: (UnsafeRawBufferPointer, Double) -> Void) -> UInt64 {
        guard let table else {
            forEach { s, m in body(m, s) }
            return 0
        }
        return table.scan(cursor: cursor, count: count) { k, v, _ in body(k, tableScore(v.bytes)) }
    }

    /// Moves the elements into the map and the tree, for good.
    func convert() {
        guard tree == nil else { return }
        (tree, table) = treeAndTable()
        packed = Listpack()
    }

    /// A new tree and map holding the elements.
    private func treeAndTable() -> (ScoreTree, HashMap) {
        let t = ScoreTree(), map = HashMap()
        forEach { s, m in
            t.insert(s, m)
            var bits = s.bitPattern
            _ = withUnsafeBytes(of: &bits) { map.set(m, $0) }
        }
        return (t, map)
    }

    public override func verify() -> String? {
        if let tree {
            guard let table else { return "a tree without its map" }
            if !packed.isEmpty { return "a skiplist sorted set with listpack elements left" }
            if let v = tree.verify() { return v }
            if let v = table.verify() { return "its map: \(v)" }
            if table.count != tree.count { return "its map holds \(table.count) members, its order \(tree.count)" }
            var problem: String? = nil
            tree.forEach(fromRank: 0, reverse: false) { s, m in
                let t = table.withValue(forKey: m) { v, _ in tableScore(v) }
                if t?.bitPattern != s.bitPattern { problem = "member '\(String(decoding: m, as: UTF8.self))' scored \(s) in order, \(String(describing: t)) in its map" }
                return problem == nil
            }
            return problem
        }
        if table != nil { return "a map without its tree" }
        if let problem = packed.verify() { return problem }
        if packed.count % 2 != 0 { return "a listpack with a member without a score" }
        var previous: (Double, [UInt8])? = nil
        var problem: String? = nil
        forEachPacked { s, m, _ in
            if s.isNaN { problem = "a NaN score" }
            if let (ps, pm) = previous, !(pm.withUnsafeBytes { a in m.withUnsafeBytes { b in scoreOrderLess(ps, a, s, b) } }) {
                problem = "elements out of order at '\(String(decoding: m, as: UTF8.self))'"
            }
            previous = (s, Array(m))
            return problem == nil
        }
        return problem
    }

    public override func duplicate() -> StoredObject {
        let copy = SortedSetObject()
        if tree != nil {
            (copy.tree, copy.table) = treeAndTable()
        } else {
            copy.packed = packed
        }
        return copy
    }
}
