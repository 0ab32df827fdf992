// Sorted-set operations (the value: Values/SortedSetObject.swift). Single-key reads run under the shard's
// read lock, writes through `updateObject`; the multi-key ones (ZUNION, ZINTER, ZDIFF and their STORE
// forms, ZRANGESTORE, ZMPOP) hold every shard they touch. Notifications as Redis (t_zset.c): `zadd`,
// `zincr`, `zrem`, `zremrangebyrank|score|lex`, `zpopmin`, `zpopmax` (then `del` when the set empties),
// `zunionstore`, `zinterstore`, `zdiffstore`, `zrangestore` (or `del` when the result is empty and the
// destination existed).

/// A score range's end: `(` makes it exclusive.
public struct ScoreBound: Sendable {
    public var value: Double
    public var exclusive: Bool
    public init(_ value: Double, exclusive: Bool = false) {
        self.value = value
        self.exclusive = exclusive
    }
}

/// A lexicographic range's end: `-`, `+`, `[member`, `(member`.
public enum LexBound: Sendable {
    case minusInfinity, plusInfinity
    case inclusive([UInt8]), exclusive([UInt8])
}

/// Which elements a range command means.
public enum SortedSetRange: Sendable {
    /// Ranks as given (negative from the end), both ends included.
    case rank(Int, Int)
    /// Scores from min to max.
    case score(ScoreBound, ScoreBound)
    /// Members from min to max (meant for elements of one score, as Redis).
    case lex(LexBound, LexBound)
}

/// The elements a range read answers (ZRANGE and its older forms) in reply order, flat: the members' bytes
/// end to end and each element's end and score. Two allocations for any number of elements, freed without a
/// walk: an array of (member, score) tuples, one array for each member, cost ZRANGEBYSCORE of 8 of a small
/// set's 20 elements about a third of its 16,300 instructions a request to build and free.
public struct ScoredRun {
    private var bytes: [UInt8] = []
    private var items: [(end: Int, score: Double)] = []

    init(reservingCapacity n: Int = 0) { items.reserveCapacity(n) }

    public var count: Int { items.count }

    mutating func append(_ member: UnsafeRawBufferPointer, _ score: Double) {
        bytes.append(contentsOf: member)
        items.append((bytes.count, score))
    }

    /// Each element in order: its member's bytes (valid during the call) and score.
    public func forEach(_ body: (UnsafeRawBufferPointer, Double) -> Void) {
        bytes.withUnsafeBytes { b in
            var start = 0
            for (end, score) in items {
                body(UnsafeRawBufferPointer(rebasing: b[start..<end]), score)
                start = end
            }
        }
    }

    /// The elements as (member, score) pairs.
    public var elements: [(member: [UInt8], score: Double)] {
        var out: [(member: [UInt8], score: Double)] = []
        out.reserveCapacity(count)
        forEach { m, s in out.append((Array(m), s)) }
        return out
    }

    /// The run read backwards, past its last `offset` elements, at most `limit` of them (< 0: all).
    func reversed(droppingLast offset: Int, limit: Int) -> ScoredRun {
        let n = Swift.max(0, limit < 0 ? count - offset : Swift.min(limit, count - offset))
        var run = ScoredRun(reservingCapacity: n)
        bytes.withUnsafeBytes { b in
            for i in stride(from: count - 1 - offset, to: count - 1 - offset - n, by: -1) {
                run.append(UnsafeRawBufferPointer(rebasing: b[(i == 0 ? 0 : items[i - 1].end)..<items[i].end]), items[i].score)
            }
        }
        return run
    }
}

/// ZADD's options.
public struct SortedSetAddOptions: Sendable {
    public var nx = false, xx = false, gt = false, lt = false, incr = false
    public init() {}
}

public enum SortedSetAggregate: Sendable { case sum, min, max }

/// The ascending ranks of `range` among `count` elements in order, `rank` giving the rank of the first element
/// satisfying a predicate (false for a prefix of the order, true after); for a rank range with `reverse`, its
/// ranks counted from the top. For an object (`SortedSetObject.ranks`) and an inline value's pairs alike.
func sortedSetRanks(
    _ range: SortedSetRange, reverse: Bool, count: Int, rank: ((Double, UnsafeRawBufferPointer) -> Bool) -> Int
) -> Range<Int> {
    switch range {
    case .rank(let start, let stop):
        guard let (s, e) = clampRange(start, stop, length: count) else { return 0..<0 }
        return reverse ? (count - 1 - e)..<(count - s) : s..<(e + 1)
    case .score(let min, let max):
        let lo = rank { s, _ in min.exclusive ? s > min.value : s >= min.value }
        let hi = rank { s, _ in max.exclusive ? s >= max.value : s > max.value }
        return lo..<Swift.max(lo, hi)
    case .lex(let min, let max):
        /// The rank where a lexicographic bound starts (`upper`: where the range ends).
        func lexRank(_ b: LexBound, upper: Bool) -> Int {
            switch b {
            case .minusInfinity: return 0
            case .plusInfinity: return count
            default: return rank { _, m in lexBoundReached(b, m, upper: upper) }
            }
        }
        let lo = lexRank(min, upper: false), hi = lexRank(max, upper: true)
        return lo..<Swift.max(lo, hi)
    }
}

/// Whether member `m` is at or past the lexicographic range's start `b` (`upper`: past its end `b`).
func lexBoundReached(_ b: LexBound, _ m: UnsafeRawBufferPointer, upper: Bool) -> Bool {
    switch b {
    case .minusInfinity: return true
    case .plusInfinity: return false
    case .inclusive(let x): return x.withUnsafeBytes { x in upper ? compareBytes(m, x) > 0 : compareBytes(m, x) >= 0 }
    case .exclusive(let x): return x.withUnsafeBytes { x in upper ? compareBytes(m, x) >= 0 : compareBytes(m, x) > 0 }
    }
}

extension SortedSetObject {
    /// The ascending ranks of `range`; for a rank range with `reverse`, its ranks counted from the top.
    func ranks(_ range: SortedSetRange, reverse: Bool) -> Range<Int> {
        sortedSetRanks(range, reverse: reverse, count: count) { rank(ofFirst: $0) }
    }

    /// The elements of `range` in reply order, after skipping `offset` and taking at most `limit` (< 0: all).
    func select(_ range: SortedSetRange, reverse: Bool, offset: Int, limit: Int) -> ScoredRun {
        let r = ranks(range, reverse: reverse)
        guard offset >= 0, offset < r.count, limit != 0 else { return ScoredRun() }
        let n = limit < 0 ? r.count - offset : Swift.min(limit, r.count - offset)
        var run = ScoredRun(reservingCapacity: n)
        forEach(fromRank: reverse ? r.upperBound - offset - 1 : r.lowerBound + offset, reverse: reverse) { s, m in
            run.append(m, s)
            return run.count < n
        }
        return run
    }
}

extension Store {
    /// ZADD (and ZINCRBY, as ZADD INCR): how many members were added and how many changed score; with
    /// INCR the new score, nil when an option stopped it. Scores are parsed by the caller; a NaN sum is
    /// `.scoreIsNaN`, with nothing changed. `prefetching`: the members the next commands will look up here.
    public func zsetAdd(
        _ key: UnsafeRawBufferPointer, _ elements: UnsafeBufferPointer<(score: Double, member: UnsafeRawBufferPointer)>,
        options o: SortedSetAddOptions, prefetching upcoming: UpcomingElements = .none
    ) throws(StoreError) -> (added: Int, changed: Int, score: Double?) {
        let limits = encodingLimits.current
        let create: (() -> SortedSetObject)? = o.xx ? nil : { SortedSetObject() }
        let event: KeyspaceEvent = o.incr ? .zincr : .zadd
        typealias Outcome = (added: Int, changed: Int, score: Double?)
        // Nothing here captures a variable: each one a closure captured cost an allocation per command.
        /// The score the options settle on for a member scored `current` (nil: absent), or nil to skip it.
        func target(_ current: Double?, _ score: Double) throws(StoreError) -> Double? {
            guard let current else { return o.xx ? nil : score }
            if o.nx { return nil }
            let new = o.incr ? current + score : score
            if new.isNaN { throw .scoreIsNaN }
            return (o.gt && new <= current) || (o.lt && new >= current) ? nil : new
        }
        /// The score to write (nil: none), for `upsert`.
        func decide(_ current: Double?, _ score: Double) throws(StoreError) -> Double? {
            let new = try target(current, score)
            return new == current ? nil : new
        }
        func tally(_ outcome: inout Outcome, _ current: Double?, _ score: Double) {
            guard let new = try? target(current, score) else { return }
            outcome.score = new
            if let current {
                if new != current { outcome.changed += 1 }
            } else {
                outcome.added += 1
            }
        }
        func apply(_ z: SortedSetObject) throws(StoreError) -> (Outcome, KeyspaceEvent?) {
            var outcome: Outcome = (0, 0, nil)
            for (score, m) in elements {
                tally(&outcome, try z.upsert(m, limits: limits) { current throws(StoreError) -> Double? in try decide(current, score) }, score)
            }
            return (outcome, outcome.added + outcome.changed == 0 ? nil : event)
        }
        guard elements.count == 1 else { return try updateObject(key, as: SortedSetObject.self, create: create, prefetching: upcoming, apply) ?? (0, 0, nil) }
        // One member into a small sorted set: edited in its bytes when it can be (InlineSortedSetEdits.swift).
        // The candidate score is ZADD's; with INCR, the increment for an absent member and the sum for one there.
        let (score, m) = elements[0]
        return try edit(key) { (e: inout EntryEditor) throws(StoreError) -> Outcome in
            let edited = try editInlineValue(&e, type: .zset, event: event) { raw, out throws(StoreError) -> (InlineEdit, Double?)? in
                try editInlineSortedSet(
                    raw, m, candidate: score, incrementing: o.incr, maxEntries: limits[.zsetMaxListpackEntries],
                    maxValue: limits[.zsetMaxListpackValue], to: out, { current throws(StoreError) -> Double? in try decide(current, score) }
                ).map { ($0.edit, $0.old) }
            }
            if let (_, _, old) = edited {
                var outcome: Outcome = (0, 0, nil)
                tally(&outcome, old, score)
                return outcome
            }
            return try updateObjectLocked(&e, as: SortedSetObject.self, create: create) { (z: SortedSetObject) throws(StoreError) -> (Outcome, KeyspaceEvent?) in
                let outcome = try apply(z)
                if upcoming.next != nil, let table = z.innerMap { upcoming.prefetch(in: table) }
                return outcome
            } ?? (0, 0, nil)
        }
    }

    /// ZREM: how many members were there (and are gone).
    public func zsetRemove(_ key: UnsafeRawBufferPointer, _ members: ArraySlice<UnsafeRawBufferPointer>) throws(StoreError) -> Int {
        try removeElements(key, as: SortedSetObject.self, type: .zset, stride: 2, members, event: .zrem) { $0.remove($1) }
    }

    /// ZREMRANGEBY* and ZPOPMIN|ZPOPMAX on a small sorted set kept inline: the pairs of the ranks `ranks`
    /// picks (given the pair count and the encoding) removed in its bytes (`removeInlinePairs`,
    /// InlineRemovals.swift). How many were removed and (`collect`) which, in ascending order; nil when the
    /// value is not an inline sorted set or the edit declines (the caller takes the general way).
    private func removeInlineRanks(
        _ e: inout EntryEditor, event: KeyspaceEvent, collect: Bool, _ ranks: (_ count: Int, _ raw: UnsafeRawBufferPointer) -> Range<Int>
    ) -> (Int, [(member: [UInt8], score: Double)])? {
        editInlineValue(&e, type: .zset, event: event) { raw, out -> (InlineEdit, (Int, [(member: [UInt8], score: Double)]))? in
            let r = ranks(inlineCount(.zset, raw), raw)
            var removed: [(member: [UInt8], score: Double)] = []
            guard let edit = removeInlinePairs(raw, ranks: r, to: out, { m, s in if collect { removed.append((Array(m), s)) } }) else { return nil }
            return (edit, (r.count, removed))
        }.map { $0.2 }
    }

    /// ZSCORE / ZMSCORE: each member's score, nil when absent.
    public func zsetScores(_ key: UnsafeRawBufferPointer, _ members: [UnsafeRawBufferPointer]) throws(StoreError) -> [Double?] {
        try readElements(key, as: SortedSetObject.self, type: .zset, stride: 2, inline: { find in
            members.map { m -> Double? in if case .found(let score) = find(m) { return unpackScore(score[...]) } else { return nil } }
        }) { z in members.map { z.score($0) } } ?? members.map { _ in nil }
    }

    /// ZCARD.
    public func zsetCount(_ key: UnsafeRawBufferPointer) throws(StoreError) -> Int {
        try countElements(key, as: SortedSetObject.self, type: .zset)
    }

    /// ZCOUNT / ZLEXCOUNT: how many elements `range` holds.
    public func zsetCount(_ key: UnsafeRawBufferPointer, in range: SortedSetRange) throws(StoreError) -> Int {
        try readValue(key, as: SortedSetObject.self, type: .zset, inline: { inlineSortedSetCount($0, range) }) {
            $0.ranks(range, reverse: false).count
        } ?? 0
    }

    /// ZRANK / ZREVRANK: nil when the key or the member is absent.
    public func zsetRank(_ key: UnsafeRawBufferPointer, _ member: UnsafeRawBufferPointer, reverse: Bool) throws(StoreError) -> Int? {
        try readValue(key, as: SortedSetObject.self, type: .zset, inline: { raw in
            inlineSortedSetRank(raw, of: member).map { reverse ? inlineCount(.zset, raw) - 1 - $0 : $0 }
        }) { z in z.rank(of: member).map { reverse ? z.count - 1 - $0 : $0 } } ?? nil
    }

    /// ZRANGE and its older forms: the elements in reply order (see `SortedSetObject.select`).
    public func zsetRange(
        _ key: UnsafeRawBufferPointer, _ range: SortedSetRange, reverse: Bool, offset: Int = 0, limit: Int = -1
    ) throws(StoreError) -> ScoredRun {
        try readValue(key, as: SortedSetObject.self, type: .zset, inline: {
            inlineSortedSetSelect($0, range, reverse: reverse, offset: offset, limit: limit)
        }) { $0.select(range, reverse: reverse, offset: offset, limit: limit) } ?? ScoredRun()
    }

    /// ZRANGESTORE: stores the selection at `destination` (removing it when empty); its size.
    public func zsetRangeStore(
        _ destination: UnsafeRawBufferPointer, _ source: UnsafeRawBufferPointer, _ range: SortedSetRange,
        reverse: Bool, offset: Int, limit: Int
    ) throws(StoreError) -> Int {
        let now = clock()
        return try withShardsLocked([source, destination], write: true) { () throws(StoreError) -> Int in
            let found: SortedSetObject?? = liveValueLocked(source, now, touching: true) { v in v.type == .zset ? v.object as? SortedSetObject : nil }
            if case .some(.none) = found { throw .wrongType }
            let selected = found??.select(range, reverse: reverse, offset: offset, limit: limit).elements ?? []
            storeLocked(destination, selected, now, event: .zrangestore)
            return selected.count
        }
    }

    /// ZREMRANGEBYRANK / BYSCORE / BYLEX: how many elements were removed.
    public func zsetRemoveRange(_ key: UnsafeRawBufferPointer, _ range: SortedSetRange) throws(StoreError) -> Int {
        let event: KeyspaceEvent = switch range {
        case .rank: .zremrangebyrank
        case .score: .zremrangebyscore
        case .lex: .zremrangebylex
        }
        return try edit(key) { (e: inout EntryEditor) throws(StoreError) -> Int in
            if let (removed, _) = removeInlineRanks(&e, event: event, collect: false, { count, raw in
                sortedSetRanks(range, reverse: false, count: count) { inlineSortedSetRank(raw, ofFirst: $0) }
            }) {
                return removed
            }
            return try updateObjectLocked(&e, as: SortedSetObject.self) { z -> (Int, KeyspaceEvent?) in
                let doomed = z.elements(z.ranks(range, reverse: false))
                for e in doomed { e.member.withUnsafeBytes { z.remove($0, score: e.score) } }
                return (doomed.count, doomed.isEmpty ? nil : event)
            } ?? 0
        }
    }

    /// ZPOPMIN / ZPOPMAX without a count: `body` sees the popped member (valid only during the call) and
    /// its score; false when the key is absent.
    public func zsetPop(_ key: UnsafeRawBufferPointer, max: Bool, _ body: (UnsafeRawBufferPointer, Double) -> Void) throws(StoreError) -> Bool {
        try edit(key) { (e: inout EntryEditor) throws(StoreError) -> Bool in
            if let (_, popped) = popInline(&e, max: max, count: 1), let (m, s) = popped.first {
                m.withUnsafeBytes { body($0, s) }
                return true
            }
            return try updateObjectLocked(&e, as: SortedSetObject.self) { z -> (Bool, KeyspaceEvent?) in
                let popped = z.popEnd(max: max, body)
                return (popped, popped ? max ? .zpopmax : .zpopmin : nil)
            } ?? false
        }
    }

    /// ZPOPMIN / ZPOPMAX: up to `count` elements from the bottom (or `max`: the top), removed.
    public func zsetPop(_ key: UnsafeRawBufferPointer, max: Bool, count: Int) throws(StoreError) -> [(member: [UInt8], score: Double)] {
        try edit(key) { (e: inout EntryEditor) throws(StoreError) -> [(member: [UInt8], score: Double)] in try popLocked(&e, max: max, count: count) ?? [] }
    }

    /// `zsetPop` on an editor the caller holds: nil when the key is absent.
    private func popLocked(_ e: inout EntryEditor, max: Bool, count: Int) throws(StoreError) -> [(member: [UInt8], score: Double)]? {
        if let (_, popped) = popInline(&e, max: max, count: count) { return popped }
        return try updateObjectLocked(&e, as: SortedSetObject.self) { z -> ([(member: [UInt8], score: Double)], KeyspaceEvent?) in
            let n = Swift.min(count, z.count)
            guard n > 0 else { return ([], nil) }
            var popped: [(member: [UInt8], score: Double)] = []
            popped.reserveCapacity(n)
            for _ in 0..<n { z.popEnd(max: max) { m, s in popped.append((Array(m), s)) } }
            return (popped, max ? .zpopmax : .zpopmin)
        }
    }

    /// `popLocked` on a small sorted set kept inline (`removeInlineRanks`): the popped elements in pop order.
    private func popInline(_ e: inout EntryEditor, max: Bool, count: Int) -> (Int, [(member: [UInt8], score: Double)])? {
        guard let (n, popped) = removeInlineRanks(&e, event: max ? .zpopmax : .zpopmin, collect: true, { pairs, _ in
            let n = Swift.max(0, Swift.min(count, pairs))
            return max ? (pairs - n)..<pairs : 0..<n
        }) else { return nil }
        return (n, max ? popped.reversed() : popped)
    }

    /// ZMPOP / BZPOP*: pops from the first of `keys` that holds a sorted set; nil when none does. A key of
    /// another type met first is WRONGTYPE.
    public func zsetPopFirst(
        _ keys: [UnsafeRawBufferPointer], max: Bool, count: Int
    ) throws(StoreError) -> (key: [UInt8], elements: [(member: [UInt8], score: Double)])? {
        let now = clock()
        return try withShardsLocked(keys, write: true) { () throws(StoreError) -> (key: [UInt8], elements: [(member: [UInt8], score: Double)])? in
            for k in keys {
                guard let type = liveValueLocked(k, now, touching: true, { $0.type }) else { continue }
                guard type == .zset else { throw .wrongType }
                let popped = try editLocked(shard(k), k, now) { (e: inout EntryEditor) throws(StoreError) in try popLocked(&e, max: max, count: count) }
                if let popped, !popped.isEmpty { return (Array(k), popped) }
            }
            return nil
        }
    }

    /// ZRANDMEMBER key count: as HRANDFIELD (Store+Hashes.swift). Changes nothing.
    public func zsetRandom(_ key: UnsafeRawBufferPointer, count: Int) throws(StoreError) -> [(member: [UInt8], score: Double)] {
        try updateObject(key, as: SortedSetObject.self) { z -> ([(member: [UInt8], score: Double)], KeyspaceEvent?) in
            (randomSelection(count: count, size: z.count, all: { z.elements(0..<z.count) }, draw: { z.randomElement(using: &$0)! }, id: { $0.member }), nil)
        } ?? []
    }

    /// ZSCAN: one step's elements (filtered by `pattern` on the member) and the next cursor.
    public func zsetScan(
        _ key: UnsafeRawBufferPointer, cursor: UInt64, count: Int, pattern: GlobPattern?
    ) throws(StoreError) -> (cursor: UInt64, elements: [(member: [UInt8], score: Double)]) {
        try readObject(key, as: SortedSetObject.self) { z in
            var out: [(member: [UInt8], score: Double)] = []
            let next = z.scan(cursor: cursor, count: count) { m, s in
                if pattern.map({ $0.matches(m) }) ?? true { out.append((Array(m), s)) }
            }
            return (next, out)
        } ?? (0, [])
    }

    public enum SortedSetAlgebra: Sendable { case union, inter, diff }

    /// ZUNION / ZINTER / ZDIFF: the result in order. Inputs may be sets (each member scored 1) or sorted
    /// sets; a missing key is empty. Weighted scores and SUM aggregates that come out NaN count 0, as in Redis.
    public func zsetAlgebra(
        _ op: SortedSetAlgebra, _ keys: [UnsafeRawBufferPointer], weights: [Double]? = nil, aggregate: SortedSetAggregate = .sum
    ) throws(StoreError) -> [(member: [UInt8], score: Double)] {
        let now = clock()
        return try withShardsLocked(keys, write: false) { () throws(StoreError) -> [(member: [UInt8], score: Double)] in
            inOrder(try zsetAlgebraLocked(op, keys, weights, aggregate, now))
        }
    }

    /// ZINTERCARD: the intersection's size, stopping at `limit` (0: none).
    public func zsetIntersectionCount(_ keys: [UnsafeRawBufferPointer], limit: Int) throws(StoreError) -> Int {
        let now = clock()
        let count = try withShardsLocked(keys, write: false) { () throws(StoreError) -> Int in
            try zsetAlgebraLocked(.inter, keys, nil, .sum, now).count
        }
        return limit > 0 ? Swift.min(count, limit) : count
    }

    /// ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE: the result's size, stored at `destination` (removed when empty).
    public func zsetAlgebraStore(
        _ op: SortedSetAlgebra, destination: UnsafeRawBufferPointer, _ keys: [UnsafeRawBufferPointer],
        weights: [Double]?, aggregate: SortedSetAggregate
    ) throws(StoreError) -> Int {
        let now = clock()
        return try withShardsLocked(keys + [destination], write: true) { () throws(StoreError) -> Int in
            let result = inOrder(try zsetAlgebraLocked(op, keys, weights, aggregate, now))
            storeLocked(destination, result, now, event: op == .union ? .zunionstore : op == .inter ? .zinterstore : .zdiffstore)
            return result.count
        }
    }

    /// Replaces `key` (shard lock held) with a sorted set of `elements`, or removes it when there are none.
    private func storeLocked(_ key: UnsafeRawBufferPointer, _ elements: [(member: [UInt8], score: Double)], _ now: Int64, event: KeyspaceEvent) {
        let limits = encodingLimits.current
        editLocked(shard(key), key, now) { e in
            if elements.isEmpty {
                if e.remove() { e.event = .del }
                return
            }
            let z = SortedSetObject()
            for x in elements { x.member.withUnsafeBytes { _ = z.set($0, x.score, limits: limits) } }
            e.replace(with: z)
            e.event = event
        }
    }

    /// A result (member -> score) in the sorted set's order.
    private func inOrder(_ result: [[UInt8]: Double]) -> [(member: [UInt8], score: Double)] {
        result.map { (member: $0.key, score: $0.value) }.sorted { a, b in
            a.member.withUnsafeBytes { x in b.member.withUnsafeBytes { y in scoreOrderLess(a.score, x, b.score, y) } }
        }
    }

    /// The members and scores of the union, intersection or difference, in no order.
    private func zsetAlgebraLocked(
        _ op: SortedSetAlgebra, _ keys: [UnsafeRawBufferPointer], _ weights: [Double]?, _ aggregate: SortedSetAggregate, _ now: Int64
    ) throws(StoreError) -> [[UInt8]: Double] {
        // Each input as (member -> score) pairs; nil for a missing key.
        var inputs: [[[UInt8]: Double]?] = []
        for k in keys {
            let found: StoredObject?? = liveValueLocked(k, now, touching: true) { v in v.type == .zset || v.type == .set ? v.object : nil }
            switch found {
            case .none: inputs.append(nil)
            case .some(.none): throw .wrongType
            case .some(.some(let o)):
                var d: [[UInt8]: Double] = [:]
                if let z = o as? SortedSetObject {
                    d.reserveCapacity(z.count)
                    z.forEach { s, m in d[Array(m)] = s }
                } else if let s = o as? SetObject {
                    s.forEach { d[Array($0)] = 1 }
                }
                inputs.append(d)
            }
        }
        func weighted(_ s: Double, _ i: Int) -> Double {
            let w = s * (weights?[i] ?? 1)
            return w.isNaN ? 0 : w
        }
        func combine(_ a: Double, _ b: Double) -> Double {
            switch aggregate {
            case .sum: let s = a + b; return s.isNaN ? 0 : s
            case .min: return Swift.min(a, b)
            case .max: return Swift.max(a, b)
            }
        }
        var result: [[UInt8]: Double] = [:]
        switch op {
        case .union:
            for (i, input) in inputs.enumerated() {
                for (m, s) in input ?? [:] {
                    let w = weighted(s, i)
                    result[m] = result[m].map { combine($0, w) } ?? w
                }
            }
        case .inter:
            guard !inputs.contains(where: { $0 == nil }) else { return [:] }
            // The smallest input first, as Redis orders them.
            let order = inputs.indices.sorted { inputs[$0]!.count < inputs[$1]!.count }
            for (m, s) in inputs[order[0]]! {
                var score = weighted(s, order[0])
                var everywhere = true
                for i in order.dropFirst() {
                    guard let other = inputs[i]![m] else { everywhere = false; break }
                    score = combine(score, weighted(other, i))
                }
                if everywhere { result[m] = score }
            }
        case .diff:
            guard let first = inputs.first ?? nil else { return [:] }
            for (m, s) in first where !inputs.dropFirst().contains(where: { $0?[m] != nil }) { result[m] = s }
        }
        return result
    }
}
