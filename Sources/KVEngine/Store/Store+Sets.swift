// Set operations (the value: Values/SetObject.swift). Single-key reads run under the shard's read lock,
// writes through `updateObject`; the multi-key commands (SINTER, SUNION, SDIFF and their STORE forms,
// SMOVE) hold every shard they touch, taken in order, so they see and make one consistent state.
// Notifications: `sadd`, `srem`, `spop` (then `del` when the set empties), `sinterstore`/`sunionstore`/
// `sdiffstore` (or `del` when the result is empty and the destination existed), as Redis.

extension Store {
    /// SADD: how many members were new.
    public func setAdd(
        _ key: UnsafeRawBufferPointer, _ members: ArraySlice<UnsafeRawBufferPointer>, prefetching upcoming: UpcomingElements = .none
    ) throws(StoreError) -> Int {
        let limits = encodingLimits.current
        // Through a buffer pointer: the slice, captured by the closures below, was retained and released
        // twice a command (callgrind: 4 retains and 3 releases of it and of the limits, ~225 instructions).
        return try members.withUnsafeBufferPointer { (members) throws(StoreError) -> Int in
            if members.count == 1 {
                return try addElement(
                    key, as: SetObject.self, type: .set, members[0], value: nil, maxEntries: limits[.setMaxListpackEntries],
                    maxValue: limits[.setMaxListpackValue], maxIntsetEntries: limits[.setMaxIntsetEntries], event: .sadd, create: SetObject.init, prefetching: upcoming
                ) { s in
                    let added = s.insert(members[0], limits: limits)
                    return (added ? 1 : 0, added ? .sadd : nil)
                }
            }
            return try updateObject(key, as: SetObject.self, create: SetObject.init, prefetching: upcoming) { s -> (Int, KeyspaceEvent?) in
                var added = 0
                for m in members where s.insert(m, limits: limits) { added += 1 }
                return (added, added > 0 ? .sadd : nil)
            } ?? 0
        }
    }

    /// SREM: how many members were there (and are gone). One member leaves a small set kept inline in its
    /// bytes where it can (InlineRemovals.swift).
    public func setRemove(_ key: UnsafeRawBufferPointer, _ members: ArraySlice<UnsafeRawBufferPointer>) throws(StoreError) -> Int {
        try removeElements(key, as: SetObject.self, type: .set, stride: 1, members, event: .srem) { $0.remove($1) }
    }

    /// SISMEMBER / SMISMEMBER.
    public func setContains(_ key: UnsafeRawBufferPointer, _ members: [UnsafeRawBufferPointer]) throws(StoreError) -> [Bool] {
        try readElements(key, as: SetObject.self, type: .set, stride: 1, inline: { find in members.map { find($0) != .missing } }) { s in
            members.map { s.contains($0) }
        } ?? members.map { _ in false }
    }

    /// SCARD.
    public func setCount(_ key: UnsafeRawBufferPointer) throws(StoreError) -> Int {
        try countElements(key, as: SetObject.self, type: .set)
    }

    /// SMEMBERS without a copy: as `forEachHashPair` (Store+Hashes.swift).
    public func forEachSetMember(_ key: UnsafeRawBufferPointer, count: (Int) -> Void, _ body: (UnsafeRawBufferPointer) -> Void) throws(StoreError) {
        let found: Void? = try readObject(key, as: SetObject.self) { s in
            count(s.count)
            s.forEach(body)
        }
        if found == nil { count(0) }
    }

    /// The members, copied under the read lock.
    public func setMembers(_ key: UnsafeRawBufferPointer) throws(StoreError) -> [[UInt8]] {
        try readObject(key, as: SetObject.self) { $0.members } ?? []
    }

    /// SRANDMEMBER key count: as HRANDFIELD (Store+Hashes.swift). Changes nothing.
    public func setRandomMembers(_ key: UnsafeRawBufferPointer, count: Int) throws(StoreError) -> [[UInt8]] {
        try updateObject(key, as: SetObject.self) { s -> ([[UInt8]], KeyspaceEvent?) in
            (randomSelection(count: count, size: s.count, all: { s.members }, draw: { s.randomMember(using: &$0)! }, id: { $0 }), nil)
        } ?? []
    }

    /// SPOP without a count: a random member, removed; nil when the key is absent.
    public func setPop(_ key: UnsafeRawBufferPointer) throws(StoreError) -> [UInt8]? {
        try updateObject(key, as: SetObject.self) { s -> ([UInt8]?, KeyspaceEvent?) in
            var rng = drawGenerator()
            let m = s.randomMember(using: &rng)!  // a stored set is never empty
            m.withUnsafeBytes { _ = s.remove($0) }
            return (m, .spop)
        } ?? nil
    }

    /// SPOP key [count]: up to `count` distinct members, drawn fairly and removed (the key goes with the
    /// last one).
    public func setPop(_ key: UnsafeRawBufferPointer, count: Int) throws(StoreError) -> [[UInt8]] {
        try updateObject(key, as: SetObject.self) { s -> ([[UInt8]], KeyspaceEvent?) in
            guard count > 0 else { return ([], nil) }
            var rng = drawGenerator()
            var out: [[UInt8]] = []
            if count >= s.count {
                out = s.members
                for m in out { m.withUnsafeBytes { _ = s.remove($0) } }
            } else {
                while out.count < count {
                    let m = s.randomMember(using: &rng)!
                    m.withUnsafeBytes { _ = s.remove($0) }
                    out.append(m)
                }
            }
            return (out, .spop)
        } ?? []
    }

    /// SMOVE: true when `member` moved from `source` to `destination`. In Redis' order: a missing source
    /// answers false before any type check; then both types; then the move.
    public func setMove(
        _ source: UnsafeRawBufferPointer, _ destination: UnsafeRawBufferPointer, _ member: UnsafeRawBufferPointer
    ) throws(StoreError) -> Bool {
        let now = clock(), limits = encodingLimits.current
        return try withShardsLocked([source, destination], write: true) { () throws(StoreError) -> Bool in
            guard let srcType = liveValueLocked(source, now, touching: true, { $0.type }) else { return false }
            let dstType = liveValueLocked(destination, now, touching: true) { $0.type }
            guard srcType == .set, dstType == nil || dstType == .set else { throw .wrongType }
            if source.elementsEqual(destination) {
                return liveValueLocked(source, now) { ($0.object as! SetObject).contains(member) } ?? false
            }
            let removed = try editLocked(shard(source), source, now) { (e: inout EntryEditor) throws(StoreError) -> Bool in
                try updateObjectLocked(&e, as: SetObject.self) { s in s.remove(member) ? (true, .srem) : (false, nil) } ?? false
            }
            guard removed else { return false }
            try editLocked(shard(destination), destination, now) { (e: inout EntryEditor) throws(StoreError) in
                _ = try updateObjectLocked(&e, as: SetObject.self, create: SetObject.init) { s in
                    s.insert(member, limits: limits) ? ((), .sadd) : ((), nil)
                }
            }
            return true
        }
    }

    /// SSCAN: one step's members (filtered by `pattern`) and the next cursor.
    public func setScan(
        _ key: UnsafeRawBufferPointer, cursor: UInt64, count: Int, pattern: GlobPattern?
    ) throws(StoreError) -> (cursor: UInt64, members: [[UInt8]]) {
        try readObject(key, as: SetObject.self) { s in
            var out: [[UInt8]] = []
            let next = s.scan(cursor: cursor, count: count) { m in
                if pattern.map({ $0.matches(m) }) ?? true { out.append(Array(m)) }
            }
            return (next, out)
        } ?? (0, [])
    }

    public enum SetAlgebra: Sendable { case inter, union, diff }

    /// SINTER / SUNION / SDIFF: the result's members. Every key's type is checked first (a missing key is
    /// an empty set), as Redis 7.0 does. `limit` (SINTERCARD) stops an intersection early; 0 is none.
    public func setAlgebra(_ op: SetAlgebra, _ keys: [UnsafeRawBufferPointer], limit: Int = 0) throws(StoreError) -> [[UInt8]] {
        let now = clock()
        return try withShardsLocked(keys, write: false) { () throws(StoreError) -> [[UInt8]] in
            try setAlgebraLocked(op, keys, now, limit: limit)
        }
    }

    /// SINTERSTORE / SUNIONSTORE / SDIFFSTORE: the result's size. The destination is replaced by the result,
    /// or removed when the result is empty.
    public func setAlgebraStore(_ op: SetAlgebra, destination: UnsafeRawBufferPointer, _ keys: [UnsafeRawBufferPointer]) throws(StoreError) -> Int {
        let now = clock(), limits = encodingLimits.current
        return try withShardsLocked(keys + [destination], write: true) { () throws(StoreError) -> Int in
            let members = try setAlgebraLocked(op, keys, now, limit: 0)
            editLocked(shard(destination), destination, now) { e in
                if members.isEmpty {
                    if e.remove() { e.event = .del }
                    return
                }
                let s = SetObject()
                for m in members { m.withUnsafeBytes { _ = s.insert($0, limits: limits) } }
                e.replace(with: s)
                e.event = op == .inter ? .sinterstore : op == .union ? .sunionstore : .sdiffstore
            }
            return members.count
        }
    }

    private func setAlgebraLocked(_ op: SetAlgebra, _ keys: [UnsafeRawBufferPointer], _ now: Int64, limit: Int) throws(StoreError) -> [[UInt8]] {
        var sets: [SetObject?] = []
        for k in keys {
            // nil: absent; .some(nil): another type.
            let found: SetObject?? = liveValueLocked(k, now, touching: true) { v in v.type == .set ? v.object as? SetObject : nil }
            switch found {
            case .none: sets.append(nil)
            case .some(.none): throw .wrongType
            case .some(.some(let s)): sets.append(s)
            }
        }
        switch op {
        case .inter:
            if sets.contains(where: { $0 == nil }) { return [] }
            let ordered = sets.map { $0! }.sorted { $0.count < $1.count }
            guard let smallest = ordered.first else { return [] }
            var out: [[UInt8]] = []
            smallest.forEach { m in
                if limit > 0 && out.count >= limit { return }
                if ordered.dropFirst().allSatisfy({ $0.contains(m) }) { out.append(Array(m)) }
            }
            return out
        case .union:
            var seen = Set<[UInt8]>()
            var out: [[UInt8]] = []
            for s in sets { s?.forEach { m in if seen.insert(Array(m)).inserted { out.append(Array(m)) } } }
            return out
        case .diff:
            guard let first = sets.first ?? nil else { return [] }
            var out: [[UInt8]] = []
            first.forEach { m in if !sets.dropFirst().contains(where: { $0?.contains(m) ?? false }) { out.append(Array(m)) } }
            return out
        }
    }
}
