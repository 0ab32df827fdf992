// List operations (the value: Values/ListObject.swift). Single-key reads run under the shard's read lock,
// writes through `updateObject`; LMOVE and the multi-key pops hold every shard they touch, taken in
// order, so they see and make one consistent state. Notifications as Redis 7.0 (t_list.c): the command's
// name as the event (`lpush`, `rpop`, `linsert`, `lset`, `lrem`, `ltrim`), then `del` when it empties the
// list; LMOVE tells the destination's push before the source's pop.

/// An end of a list.
public enum ListEnd: Sendable {
    case left, right

    var isFront: Bool { self == .left }
}

extension Store {
    var listShape: ListShape { ListShape(fill: encodingLimits[.listMaxListpackSize], depth: encodingLimits[.listCompressDepth]) }

    /// LPUSH / RPUSH, and LPUSHX / RPUSHX when `onlyIfExists`: the length after (0 when X and absent).
    public func listPush(_ key: UnsafeRawBufferPointer, _ elements: ArraySlice<UnsafeRawBufferPointer>, at end: ListEnd, onlyIfExists: Bool = false) throws(StoreError) -> Int {
        let shape = listShape
        return try updateObject(key, as: ListObject.self, create: onlyIfExists ? nil : { ListObject() }) { l -> (Int, KeyspaceEvent?) in
            for e in elements { l.push(e, front: end.isFront, shape: shape) }
            return (l.length, end.isFront ? .lpush : .rpush)
        } ?? 0
    }

    /// LPOP / RPOP with a count: up to `count` elements from one end; nil when the key is absent.
    public func listPop(_ key: UnsafeRawBufferPointer, from end: ListEnd, count: Int) throws(StoreError) -> [[UInt8]]? {
        let shape = listShape
        return try updateObject(key, as: ListObject.self) { l -> ([[UInt8]], KeyspaceEvent?) in
            var out: [[UInt8]] = []
            out.reserveCapacity(min(count, l.length))
            while out.count < count, let e = l.pop(front: end.isFront, shape: shape) { out.append(e) }
            return (out, out.isEmpty ? nil : end.isFront ? .lpop : .rpop)
        }
    }

    /// LPOP / RPOP without a count: `body` sees the element's bytes (valid only during the call, under the
    /// shard's lock: no copy), or nil when the key is absent.
    public func listPop(_ key: UnsafeRawBufferPointer, from end: ListEnd, _ body: (UnsafeRawBufferPointer?) -> Void) throws(StoreError) {
        let shape = listShape
        let popped = try updateObject(key, as: ListObject.self) { l -> (Bool, KeyspaceEvent?) in
            let popped = l.pop(front: end.isFront, shape: shape) { body($0) }
            return (popped, popped ? end.isFront ? .lpop : .rpop : nil)
        } ?? false
        if !popped { body(nil) }
    }

    /// LMPOP and the blocking pops' first try: pops from the first of `keys` that holds a list, in
    /// argument order; a key of another type met on the way fails the whole command, as in Redis.
    public func listPopFirst(_ keys: [UnsafeRawBufferPointer], from end: ListEnd, count: Int) throws(StoreError) -> (key: [UInt8], elements: [[UInt8]])? {
        let now = clock(), shape = listShape
        return try withShardsLocked(keys, write: true) { () throws(StoreError) -> (key: [UInt8], elements: [[UInt8]])? in
            for k in keys {
                guard let type = liveValueLocked(k, now, touching: true, { $0.type }) else { continue }
                guard type == .list else { throw .wrongType }
                let popped = try editLocked(shard(k), k, now) { (e: inout EntryEditor) throws(StoreError) -> [[UInt8]]? in
                    try updateObjectLocked(&e, as: ListObject.self) { l -> ([[UInt8]], KeyspaceEvent?) in
                        var out: [[UInt8]] = []
                        while out.count < count, let x = l.pop(front: end.isFront, shape: shape) { out.append(x) }
                        return (out, end.isFront ? .lpop : .rpop)
                    }
                }
                if let popped { return (Array(k), popped) }
            }
            return nil
        }
    }

    /// LLEN.
    public func listLength(_ key: UnsafeRawBufferPointer) throws(StoreError) -> Int {
        try countElements(key, as: ListObject.self, type: .list)
    }

    /// LRANGE without a copy: `count` with the number of elements, then `body` with each (valid only
    /// inside it), under the read lock. Indexes as Redis: negative from the end, clamped.
    public func forEachListElement(
        _ key: UnsafeRawBufferPointer, start: Int, stop: Int, count: (Int) -> Void, _ body: (UnsafeRawBufferPointer) -> Void
    ) throws(StoreError) {
        let found: Void? = try readObject(key, as: ListObject.self) { l in
            guard let (from, to) = clampRange(start, stop, length: l.length) else { return count(0) }
            count(to - from + 1)
            var left = to - from + 1
            l.forEach(from: from) { e in
                body(e)
                left -= 1
                return left > 0
            }
        }
        if found == nil { count(0) }
    }

    /// LINDEX: a copy of the element at `index` (negative from the end); nil when out of range or absent.
    public func listIndex(_ key: UnsafeRawBufferPointer, _ index: Int) throws(StoreError) -> [UInt8]? {
        try readObject(key, as: ListObject.self) { l -> [UInt8]? in
            let i = index < 0 ? index + l.length : index
            return i >= 0 && i < l.length ? l.element(at: i) : nil
        } ?? nil
    }

    public enum ListSetResult: Sendable { case ok, noSuchKey, outOfRange }

    /// LSET.
    public func listSet(_ key: UnsafeRawBufferPointer, _ index: Int, _ value: UnsafeRawBufferPointer) throws(StoreError) -> ListSetResult {
        let shape = listShape
        return try updateObject(key, as: ListObject.self) { l -> (ListSetResult, KeyspaceEvent?) in
            let i = index < 0 ? index + l.length : index
            guard i >= 0 && i < l.length else { return (.outOfRange, nil) }
            l.set(at: i, value, shape: shape)
            return (.ok, .lset)
        } ?? .noSuchKey
    }

    /// LINSERT: the length after, -1 when the pivot is not there, 0 when the key is absent.
    public func listInsert(_ key: UnsafeRawBufferPointer, before: Bool, pivot: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(StoreError) -> Int {
        let shape = listShape
        return try updateObject(key, as: ListObject.self) { l -> (Int, KeyspaceEvent?) in
            l.insert(value, pivot: pivot, before: before, shape: shape) ? (l.length, .linsert) : (-1, nil)
        } ?? 0
    }

    /// LREM: how many elements equal to `value` went (count > 0 from the head, < 0 from the tail, 0 all).
    public func listRemove(_ key: UnsafeRawBufferPointer, count: Int, _ value: UnsafeRawBufferPointer) throws(StoreError) -> Int {
        let shape = listShape
        return try updateObject(key, as: ListObject.self) { l -> (Int, KeyspaceEvent?) in
            let n = l.remove(value, count: count, shape: shape)
            return (n, n > 0 ? .lrem : nil)
        } ?? 0
    }

    /// LTRIM: keeps `start` through `stop` (Redis' indexes); an empty range removes the key. Told as
    /// `ltrim` even when nothing was cut, as Redis does.
    public func listTrim(_ key: UnsafeRawBufferPointer, start: Int, stop: Int) throws(StoreError) {
        let shape = listShape
        _ = try updateObject(key, as: ListObject.self) { l -> (Void, KeyspaceEvent?) in
            if let (from, to) = clampRange(start, stop, length: l.length) {
                l.trim(start: from, stop: to, shape: shape)
            } else {
                while l.pop(front: true, shape: shape, { _ in }) {}  // no copy of what is dropped
            }
            return ((), .ltrim)
        }
    }

    /// LPOS: the positions of the matches of `element` — skipping the first |rank|-1 (rank < 0: from the
    /// tail), at most `count` of them (0: all), among the first `maxLength` elements compared (0: all).
    /// Nil when the key is absent.
    public func listPositions(
        _ key: UnsafeRawBufferPointer, _ element: UnsafeRawBufferPointer, rank: Int, count: Int, maxLength: Int
    ) throws(StoreError) -> [Int]? {
        try readObject(key, as: ListObject.self) { l -> [Int] in
            var out: [Int] = []
            var compared = 0, skip = abs(rank) - 1
            func visit(_ e: UnsafeRawBufferPointer) -> Bool {
                if maxLength > 0 && compared >= maxLength { return false }
                let i = rank > 0 ? compared : l.length - 1 - compared
                compared += 1
                if e.elementsEqual(element) {
                    if skip > 0 { skip -= 1 } else { out.append(i) }
                }
                return count == 0 || out.count < count
            }
            if rank > 0 { l.forEach(visit) } else { l.forEachReversed(visit) }
            return out
        }
    }

    /// LMOVE / RPOPLPUSH: the element moved from `source`'s end to `destination`'s; nil when the source
    /// is absent (checked before the destination's type, as Redis).
    public func listMove(
        _ source: UnsafeRawBufferPointer, _ destination: UnsafeRawBufferPointer, from: ListEnd, to: ListEnd
    ) throws(StoreError) -> [UInt8]? {
        let now = clock(), shape = listShape
        return try withShardsLocked([source, destination], write: true) { () throws(StoreError) -> [UInt8]? in
            guard let srcType = liveValueLocked(source, now, touching: true, { $0.type }) else { return nil }
            guard srcType == .list else { throw .wrongType }
            if let dstType = liveValueLocked(destination, now, touching: true, { $0.type }), dstType != .list { throw .wrongType }
            if source.elementsEqual(destination) {
                let event: KeyspaceEvent = switch (from, to) {
                case (.left, .left): .rotateLeftToLeft
                case (.left, .right): .rotateLeftToRight
                case (.right, .left): .rotateRightToLeft
                case (.right, .right): .rotateRightToRight
                }
                return try editLocked(shard(source), source, now) { (e: inout EntryEditor) throws(StoreError) -> [UInt8]? in
                    try updateObjectLocked(&e, as: ListObject.self) { l -> ([UInt8], KeyspaceEvent?) in
                        let x = l.pop(front: from.isFront, shape: shape)!
                        x.withUnsafeBytes { l.push($0, front: to.isFront, shape: shape) }
                        return (x, event)
                    }
                }
            }
            // Peek, push to the destination, then pop: Redis' order of notifications.
            let x = liveValueLocked(source, now) { v -> [UInt8] in
                let l = v.object as! ListObject
                return l.element(at: from.isFront ? 0 : l.length - 1)
            }!
            try editLocked(shard(destination), destination, now) { (e: inout EntryEditor) throws(StoreError) in
                _ = try updateObjectLocked(&e, as: ListObject.self, create: { ListObject() }) { l -> (Void, KeyspaceEvent?) in
                    x.withUnsafeBytes { l.push($0, front: to.isFront, shape: shape) }
                    return ((), to.isFront ? .lpush : .rpush)
                }
            }
            try editLocked(shard(source), source, now) { (e: inout EntryEditor) throws(StoreError) in
                _ = try updateObjectLocked(&e, as: ListObject.self) { l -> (Void, KeyspaceEvent?) in
                    l.pop(front: from.isFront, shape: shape) { _ in }  // moved already: no copy
                    return ((), from.isFront ? .lpop : .rpop)
                }
            }
            return x
        }
    }
}

/// Redis' LRANGE / LTRIM range over `length` elements: negative indexes from the end, the start clamped
/// to 0 and the stop to the last; nil when empty.
func clampRange(_ start: Int, _ stop: Int, length: Int) -> (Int, Int)? {
    var s = start < 0 ? start + length : start
    var e = stop < 0 ? stop + length : stop
    if s < 0 { s = 0 }
    if s > e || s >= length { return nil }
    if e >= length { e = length - 1 }
    return (s, e)
}
