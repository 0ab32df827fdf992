import RESP

// Hash operations (the value: Values/HashObject.swift). Reads run under the shard's read lock; writes go
// through `updateObject`, so WATCH, notifications (`hset`, `hdel`, `hincrby`, `hincrbyfloat`; `del` when
// the last field goes) and the save points see every field-level change, and nothing else.

extension Store {
    /// HSET / HMSET: sets every pair; the number of fields that were new.
    public func hashSet(
        _ key: UnsafeRawBufferPointer, fieldsAndValues pairs: ArraySlice<UnsafeRawBufferPointer>, prefetching upcoming: UpcomingElements = .none
    ) throws(StoreError) -> Int {
        precondition(pairs.count % 2 == 0, "fields and values alternate")
        let limits = encodingLimits.current
        // Through a buffer pointer: the slice, captured by the closures below, was retained and released
        // twice a command (as in setAdd).
        return try pairs.withUnsafeBufferPointer { (pairs) throws(StoreError) -> Int in
            if pairs.count == 2 {
                return try addElement(
                    key, as: HashObject.self, type: .hash, pairs[0], value: pairs[1], maxEntries: limits[.hashMaxListpackEntries],
                    maxValue: limits[.hashMaxListpackValue], event: .hset, create: HashObject.init, prefetching: upcoming
                ) { h in (h.set(pairs[0], pairs[1], limits: limits) ? 1 : 0, .hset) }
            }
            return try updateObject(key, as: HashObject.self, create: HashObject.init, prefetching: upcoming) { h in
                var added = 0
                for i in stride(from: 0, to: pairs.count, by: 2) where h.set(pairs[i], pairs[i + 1], limits: limits) { added += 1 }
                return (added, .hset)
            } ?? 0
        }
    }

    /// HSETNX: true when the field was absent and is now set.
    public func hashSetIfAbsent(_ key: UnsafeRawBufferPointer, _ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(StoreError) -> Bool {
        let limits = encodingLimits.current
        return try updateObject(key, as: HashObject.self, create: HashObject.init) { h -> (Bool, KeyspaceEvent?) in
            if h.contains(field) { return (false, nil) }
            h.set(field, value, limits: limits)
            return (true, .hset)
        } ?? false
    }

    /// HGET: a copy of the field's value; nil when the key or the field is absent.
    public func hashGet(_ key: UnsafeRawBufferPointer, _ field: UnsafeRawBufferPointer) throws(StoreError) -> [UInt8]? {
        try readElements(key, as: HashObject.self, type: .hash, stride: 2, inline: { find in
            if case .found(let value) = find(field) { return value } else { return nil }
        }) { h in h.withValue(field) { Array($0) } } ?? nil
    }

    /// HMGET: each field's value or nil (all nil when the key is absent).
    public func hashGet(_ key: UnsafeRawBufferPointer, fields: [UnsafeRawBufferPointer]) throws(StoreError) -> [[UInt8]?] {
        try readElements(key, as: HashObject.self, type: .hash, stride: 2, inline: { find in
            fields.map { f -> [UInt8]? in if case .found(let value) = find(f) { return value } else { return nil } }
        }) { h in fields.map { f in h.withValue(f) { Array($0) } } } ?? [[UInt8]?](repeating: nil, count: fields.count)
    }

    /// HDEL: how many of the fields were there (and are gone). The key goes with the last field. One field
    /// leaves a small hash kept inline in its bytes where it can (InlineRemovals.swift).
    public func hashDelete(_ key: UnsafeRawBufferPointer, fields: ArraySlice<UnsafeRawBufferPointer>) throws(StoreError) -> Int {
        try removeElements(key, as: HashObject.self, type: .hash, stride: 2, fields, event: .hdel) { $0.remove($1) }
    }

    /// HLEN.
    public func hashLength(_ key: UnsafeRawBufferPointer) throws(StoreError) -> Int {
        try countElements(key, as: HashObject.self, type: .hash)
    }

    /// HEXISTS.
    public func hashContains(_ key: UnsafeRawBufferPointer, _ field: UnsafeRawBufferPointer) throws(StoreError) -> Bool {
        try readElements(key, as: HashObject.self, type: .hash, stride: 2, inline: { find in find(field) != .missing }) {
            $0.contains(field)
        } ?? false
    }

    /// HSTRLEN: the value's length, 0 when absent.
    public func hashValueLength(_ key: UnsafeRawBufferPointer, _ field: UnsafeRawBufferPointer) throws(StoreError) -> Int {
        try readObject(key, as: HashObject.self) { h in h.withValue(field) { $0.count } ?? 0 } ?? 0
    }

    /// HINCRBY: the new value. A missing key or field counts from 0. A small hash kept inline is changed in
    /// its bytes where it can be, in one walk (`incrementInline`, InlineEdits.swift).
    public func hashIncrement(_ key: UnsafeRawBufferPointer, _ field: UnsafeRawBufferPointer, by delta: Int64) throws(StoreError) -> Int64 {
        let limits = encodingLimits.current
        return try edit(key) { (e: inout EntryEditor) throws(StoreError) -> Int64 in
            var result: Int64 = 0
            if editInlineValue(&e, type: .hash, event: .hincrby, { raw, out in
                incrementInline(raw, field, by: delta, maxEntries: limits[.hashMaxListpackEntries], maxValue: limits[.hashMaxListpackValue],
                                to: out, sum: &result).map { ($0, ()) }
            }) != nil {
                return result
            }
            return try updateObjectLocked(&e, as: HashObject.self, create: HashObject.init) { h throws(StoreError) -> (Int64, KeyspaceEvent?) in
                var current: Int64 = 0
                if let old = h.withValue(field, { parseInt64($0) }) {
                    guard let v = old else { throw .hashValueNotAnInteger }
                    current = v
                }
                let (sum, overflow) = current.addingReportingOverflow(delta)
                if overflow { throw .overflow }
                var text = String(sum)
                text.withUTF8 { h.set(field, UnsafeRawBufferPointer($0), limits: limits) }
                return (sum, .hincrby)
            }!
        }
    }

    /// HINCRBYFLOAT: the new value as Redis prints it.
    public func hashIncrement(_ key: UnsafeRawBufferPointer, _ field: UnsafeRawBufferPointer, byFloat delta: LongDouble) throws(StoreError) -> [UInt8] {
        let limits = encodingLimits.current
        return try updateObject(key, as: HashObject.self, create: HashObject.init) { h throws(StoreError) -> ([UInt8], KeyspaceEvent?) in
            var current: LongDouble = 0
            if let old = h.withValue(field, { parseLongDouble($0) }) {
                guard let v = old else { throw .hashValueNotAFloat }
                current = v
            }
            let sum = current + delta
            guard !sum.isNaN && !sum.isInfinite, let text = formatLongDouble(sum) else { throw .nanOrInfinity }
            text.withUnsafeBytes { h.set(field, $0, limits: limits) }
            return (text, .hincrbyfloat)
        }!
    }

    /// HGETALL / HKEYS / HVALS without a copy: under the read lock, `count` with the field count (0 when
    /// absent), then `body` with each pair. Neither may call the store. (A reply written this way costs one
    /// pass over the hash; copying the pairs first cost two million small arrays for a 1M-field hash.)
    public func forEachHashPair(
        _ key: UnsafeRawBufferPointer, count: (Int) -> Void, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void
    ) throws(StoreError) {
        let found: Void? = try readObject(key, as: HashObject.self) { h in
            count(h.count)
            h.forEach(body)
        }
        if found == nil { count(0) }
    }

    /// The pairs, copied under the read lock.
    public func hashPairs(_ key: UnsafeRawBufferPointer) throws(StoreError) -> [(field: [UInt8], value: [UInt8])] {
        try readObject(key, as: HashObject.self) { h in
            var out: [(field: [UInt8], value: [UInt8])] = []
            out.reserveCapacity(h.count)
            h.forEach { f, v in out.append((Array(f), Array(v))) }
            return out
        } ?? []
    }

    /// HRANDFIELD key count: `count` distinct fields when positive (at most all of them), |count| fields
    /// that may repeat when negative, each drawn fairly. Drawn under the write lock (the inner map's draw
    /// updates its bound); changes nothing.
    public func hashRandomPairs(_ key: UnsafeRawBufferPointer, count: Int) throws(StoreError) -> [(field: [UInt8], value: [UInt8])] {
        try updateObject(key, as: HashObject.self) { h -> ([(field: [UInt8], value: [UInt8])], KeyspaceEvent?) in
            let all = { () -> [(field: [UInt8], value: [UInt8])] in
                var out: [(field: [UInt8], value: [UInt8])] = []
                h.forEach { f, v in out.append((Array(f), Array(v))) }
                return out
            }
            return (randomSelection(count: count, size: h.count, all: all, draw: { h.randomPair(using: &$0)! }, id: \.field), nil)
        } ?? []
    }

    /// HSCAN: one step's pairs (filtered by `pattern` on the field) and the next cursor.
    public func hashScan(
        _ key: UnsafeRawBufferPointer, cursor: UInt64, count: Int, pattern: GlobPattern?
    ) throws(StoreError) -> (cursor: UInt64, pairs: [(field: [UInt8], value: [UInt8])]) {
        try readObject(key, as: HashObject.self) { h in
            var out: [(field: [UInt8], value: [UInt8])] = []
            let next = h.scan(cursor: cursor, count: count) { f, v in
                if pattern.map({ $0.matches(f) }) ?? true { out.append((Array(f), Array(v))) }
            }
            return (next, out)
        } ?? (0, [])
    }
}
