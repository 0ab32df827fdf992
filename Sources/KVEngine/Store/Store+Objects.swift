// The typed values' common access: read an object under the shard's read lock, or change it (creating it
// when absent, removing its key when it empties) under the write lock, through the editor so that every
// change reaches the observers with its event. Store+Hashes.swift, Store+Sets.swift, Store+Lists.swift and Store+SortedSets.swift are built on these.

extension Store {
    /// `body` of the object at `key` (of `O`'s type) under the shard's read lock: nil when absent,
    /// wrongType when the key holds another type. `body` must not call the store.
    @inline(__always)
    func readObject<O: StoredObject, R>(_ key: UnsafeRawBufferPointer, as: O.Type, _ body: (O) throws(StoreError) -> R) throws(StoreError) -> R? {
        try readLive(key) { v, _ throws(StoreError) -> R in try withTypedObject(v, as: O.self, body) }
    }

    /// A read of the `type` value at `key` that an inline value answers from its bytes, no object decoded
    /// (`inline`, given the encoding); any other value is `body`'s, as `readObject`'s. Nil when the key is
    /// absent.
    @inline(__always)
    func readValue<O: StoredObject, R>(
        _ key: UnsafeRawBufferPointer, as: O.Type, type: ValueType, inline: (UnsafeRawBufferPointer) -> R, _ body: (O) throws(StoreError) -> R
    ) throws(StoreError) -> R? {
        try readLive(key) { v, _ throws(StoreError) -> R in
            if v.isInline, v.type == type { return inline(v.raw) }
            return try withTypedObject(v, as: O.self, body)
        }
    }

    /// HLEN, SCARD, ZCARD, LLEN: the number of elements of the `type` value at `key` (0 when absent); an
    /// inline value's is read from its header (`inlineCount`).
    @inline(__always)
    func countElements<O: StoredObject>(_ key: UnsafeRawBufferPointer, as: O.Type, type: ValueType) throws(StoreError) -> Int {
        try readValue(key, as: O.self, type: type, inline: { inlineCount(type, $0) }) { $0.count } ?? 0
    }

    /// A point read (HGET, HMGET, HEXISTS, SISMEMBER, SMISMEMBER, ZSCORE, ZMSCORE) of the `type` value at
    /// `key`: an inline value is searched in its bytes, no object decoded, by `inline`, given a function that
    /// looks a needle up among the elements at multiples of `stride` (`findInline`); any other value is
    /// `body`'s, as `readObject`'s. Nil when the key is absent.
    @inline(__always)
    func readElements<O: StoredObject, R>(
        _ key: UnsafeRawBufferPointer, as: O.Type, type: ValueType, stride: Int,
        inline: (_ find: (UnsafeRawBufferPointer) -> InlineMatch) -> R, _ body: (O) throws(StoreError) -> R
    ) throws(StoreError) -> R? {
        try readLive(key) { v, _ throws(StoreError) -> R in
            if v.isInline, v.type == type, inlineIsSearchable(v.raw, stride: stride) {
                return inline { needle in
                    guard let match = findInline(v.raw, needle, stride: stride) else {
                        preconditionFailure("a malformed inline value")
                    }
                    return match
                }
            }
            return try withTypedObject(v, as: O.self, body)
        }
    }

    /// `body` of `v`'s object when it is an `O`, else wrongType.
    @inline(__always)
    private func withTypedObject<O: StoredObject, R>(_ v: StoredValue, as: O.Type, _ body: (O) throws(StoreError) -> R) throws(StoreError) -> R {
        guard v.type != .string else { throw .wrongType }
        return try v.withObject { (object: StoredObject) throws(StoreError) -> R in
            guard Swift.type(of: object) == O.self else { throw .wrongType }
            return try body(unsafeDowncast(object, to: O.self))
        }
    }

    /// Runs `body` on the object at `key` under the shard's write lock. A missing key gets a new object
    /// when `create` (stored only if `body` left it non-empty and named an event), else `body` is not
    /// called and nil returned. `body` returns its result and the event of its change, nil when it changed
    /// nothing (then no change is recorded: a WATCH stays valid, as in Redis). An object left empty is
    /// removed with its key, the event saying so (`KeyspaceEvent.deletingKey`).
    /// `prefetching`: elements the next commands (a pipeline's) will look up in this object, prefetched in
    /// its inner map once `body` is done (`UpcomingElements`).
    @inline(__always)
    func updateObject<O: StoredObject, R>(
        _ key: UnsafeRawBufferPointer, as: O.Type, create: (() -> O)? = nil, prefetching upcoming: UpcomingElements = .none,
        _ body: (O) throws(StoreError) -> (R, KeyspaceEvent?)
    ) throws(StoreError) -> R? {
        try edit(key) { (e: inout EntryEditor) throws(StoreError) -> R? in
            try updateObjectLocked(&e, as: O.self, create: create) { (o: O) throws(StoreError) -> (R, KeyspaceEvent?) in
                let result = try body(o)
                if upcoming.next != nil, let table = o.innerMap { upcoming.prefetch(in: table) }
                return result
            }
        }
    }

    /// HSET of one field (`value` its value) and SADD of one member (`value` nil): an inline value of the
    /// object's type changed in its bytes when `editInline` can (InlineEdits.swift), else `updateObject`'s
    /// way with `body`. Returns how many elements were added.
    @inline(__always)
    func addElement<O: StoredObject>(
        _ key: UnsafeRawBufferPointer, as: O.Type, type: ValueType, _ element: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?,
        maxEntries: Int, maxValue: Int, maxIntsetEntries: Int = 0, event: KeyspaceEvent, create: @escaping () -> O, prefetching upcoming: UpcomingElements,
        _ body: (O) throws(StoreError) -> (Int, KeyspaceEvent?)
    ) throws(StoreError) -> Int {
        try edit(key) { (e: inout EntryEditor) throws(StoreError) -> Int in
            let stride = value == nil ? 1 : 2
            if let (added, _) = editInlineValue(
                &e, type: type, stride: stride, element, value ?? UnsafeRawBufferPointer(start: nil, count: 0),
                maxEntries: maxEntries, maxValue: maxValue, maxIntsetEntries: maxIntsetEntries, event: event
            ) {
                return added ? 1 : 0
            }
            return try updateObjectLocked(&e, as: O.self, create: create) { (o: O) throws(StoreError) -> (Int, KeyspaceEvent?) in
                let result = try body(o)
                if upcoming.next != nil, let table = o.innerMap { upcoming.prefetch(in: table) }
                return result
            } ?? 0
        }
    }

    /// An edit of the editor's value in its bytes when it is an inline value of `type` (`editInline`,
    /// `editInlineSortedSet`): `edit` writes the new encoding to the buffer it is given
    /// (`inlineEditBufferSize` bytes), which is stored and `event` named when it changed; what else `edit`
    /// returns is passed back. Nil when the value is not such, or the edit declines (the caller takes the
    /// general way).
    @inline(__always)
    func editInlineValue<E: Error, P>(
        _ e: inout EntryEditor, type: ValueType, event: KeyspaceEvent,
        _ edit: (_ raw: UnsafeRawBufferPointer, _ out: UnsafeMutableRawPointer) throws(E) -> (InlineEdit, P)?
    ) throws(E) -> (added: Bool, changed: Bool, P)? {
        guard e.holdsInlineValue else { return nil }  // a flag test: large values pay no more than this
        let v = e.storedValue
        guard v.type == type else { return nil }
        return try withUnsafeTemporaryAllocation(byteCount: inlineEditBufferSize, alignment: 1) { (out) throws(E) -> (added: Bool, changed: Bool, P)? in
            switch try edit(v.raw, out.baseAddress!) {
            case nil: return nil
            case (.unchanged, let payload)?: return (false, false, payload)
            case (.written(let count, let added), let payload)?:
                e.setInlineEncoding(UnsafeRawBufferPointer(rebasing: out[..<count]), type: type)
                e.event = event
                return (added, true, payload)
            }
        }
    }

    /// `editInline` (HSET of one field, SADD of one member) on the editor's value.
    @inline(__always)
    func editInlineValue(
        _ e: inout EntryEditor, type: ValueType, stride: Int, _ element: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
        maxEntries: Int, maxValue: Int, maxIntsetEntries: Int = 0, event: KeyspaceEvent
    ) -> (added: Bool, changed: Bool)? {
        editInlineValue(&e, type: type, event: event) { raw, out in
            editInline(raw, stride: stride, element, value, maxEntries: maxEntries, maxValue: maxValue, maxIntsetEntries: maxIntsetEntries, to: out).map { ($0, ()) }
        }.map { ($0.added, $0.changed) }
    }

    /// HDEL, SREM and ZREM: how many of `elements` were there (and are gone), each taken out of the object by
    /// `remove`; the key goes with the last. One element leaves an inline value of the object's type in its
    /// bytes where it can (`removeInlineElement`, InlineRemovals.swift).
    @inline(__always)
    func removeElements<O: StoredObject>(
        _ key: UnsafeRawBufferPointer, as: O.Type, type: ValueType, stride: Int, _ elements: ArraySlice<UnsafeRawBufferPointer>,
        event: KeyspaceEvent, _ remove: (O, UnsafeRawBufferPointer) -> Bool
    ) throws(StoreError) -> Int {
        func apply(_ o: O) -> (Int, KeyspaceEvent?) {
            var removed = 0
            for x in elements where remove(o, x) { removed += 1 }
            return (removed, removed > 0 ? event : nil)
        }
        guard elements.count == 1, let x = elements.first else { return try updateObject(key, as: O.self, apply) ?? 0 }
        return try edit(key) { (e: inout EntryEditor) throws(StoreError) -> Int in
            let inline = editInlineValue(&e, type: type, event: event) { raw, out in
                removeInlineElement(raw, stride: stride, x, to: out).map { ($0, ()) }
            }
            if let inline { return inline.changed ? 1 : 0 }
            return try updateObjectLocked(&e, as: O.self, apply) ?? 0
        }
    }

    /// `updateObject` on an editor the caller holds (several keys under one set of locks).
    @inline(__always)
    func updateObjectLocked<O: StoredObject, R>(
        _ e: inout EntryEditor, as: O.Type, create: (() -> O)? = nil,
        _ body: (O) throws(StoreError) -> (R, KeyspaceEvent?)
    ) throws(StoreError) -> R? {
        guard e.exists else {
            guard let create else { return nil }
            let o = create()
            let (r, event) = try body(o)
            if let event, !o.isEmpty {
                e.setObject(o, expiry: nil)
                e.event = event
            }
            return r
        }
        guard e.type != .string else { throw .wrongType }
        var event: KeyspaceEvent? = nil
        var emptied = false
        // The object the editor hands over: for an inline value, a decoded copy it stores back if changed.
        let r = try e.modifyObjectIfChanged { object throws(StoreError) -> (R, changed: Bool) in
            // A class identity check and an unchecked cast: `as?` retained the object it returned.
            guard Swift.type(of: object) == O.self else { throw .wrongType }
            let o = unsafeDowncast(object, to: O.self)
            let (r, ev) = try body(o)
            event = ev
            emptied = o.isEmpty
            return (r, ev != nil)
        }
        if let event {
            if emptied {
                e.remove()
                e.event = event.deletingKey
            } else {
                e.event = event
            }
        }
        return r
    }

    /// HRANDFIELD and SRANDMEMBER with a count, over a value of `size` elements: |count| fair draws that
    /// may repeat when negative; else `count` distinct ones (all of them when count >= size) — drawn until
    /// enough while few against the size, else a shuffle of all.
    func randomSelection<T>(
        count: Int, size: Int, all: () -> [T], draw: (inout SplitMix64) -> T, id: (T) -> [UInt8]
    ) -> [T] {
        var rng = drawGenerator()
        if count < 0 { return (0..<(-count)).map { _ in draw(&rng) } }
        if count >= size { return all() }
        if count * 3 > size {
            var everything = all()
            everything.shuffle(using: &rng)
            return Array(everything.prefix(count))
        }
        var seen = Set<[UInt8]>()
        var out: [T] = []
        while out.count < count {
            let x = draw(&rng)
            if seen.insert(id(x)).inserted { out.append(x) }
        }
        return out
    }
}

/// Elements the next two pipelined commands will look up in the value the running command changes (a
/// pipeline of HSETs on one hash: their fields), so that their cache misses overlap this command's work.
/// A lookup in a large inner map takes two dependent misses, its bucket and then its entry; each command
/// asks for the bucket of the element two commands ahead, and for the entry of the next one, whose bucket
/// the command before asked for (asking again measured no better, as for keys). Hints only: nothing is read
/// that the lock does not protect, and a wrong guess costs a prefetch.
public struct UpcomingElements {
    public var next: UnsafeRawBufferPointer?
    public var afterNext: UnsafeRawBufferPointer?

    public init(next: UnsafeRawBufferPointer?, afterNext: UnsafeRawBufferPointer? = nil) {
        self.next = next
        self.afterNext = afterNext
    }

    public static var none: UpcomingElements { UpcomingElements(next: nil) }

    /// Under the lock of the value that owns `table`.
    @inline(__always)
    func prefetch(in table: HashMap) {
        if let afterNext { table.prefetchBucket(table.hash(afterNext)) }
        if let next { table.prefetchEntry(table.hash(next)) }
    }
}
