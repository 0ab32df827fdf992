import RESP

// String operations (Redis' t_string.c): GET, SET and its options, INCR family, APPEND, STRLEN, GETRANGE,
// SETRANGE, MGET, MSET, MSETNX, GETDEL, GETEX. SET, SETNX, SETEX, PSETEX and GETSET all go through `set`.
// Each fails with wrongType, changing nothing, on a key that holds another type, except where Redis
// replaces the value whatever it was (SET without GET, MSET) or answers nil (MGET).

public struct SetOptions: Sendable {
    public enum Condition: Sendable { case always, ifAbsent, ifPresent }
    public enum Expiry: Sendable, Equatable {
        /// Drop any expiry (plain SET).
        case clear
        /// KEEPTTL.
        case keep
        /// Expire at this time (milliseconds since the epoch).
        case at(Int64)
    }

    public var condition: Condition
    public var expiry: Expiry
    /// GET: return the old value.
    public var returnOld: Bool

    public init(condition: Condition = .always, expiry: Expiry = .clear, returnOld: Bool = false) {
        self.condition = condition
        self.expiry = expiry
        self.returnOld = returnOld
    }
}

public struct SetOutcome: Sendable, Equatable {
    /// False when NX or XX stopped the write.
    public let performed: Bool
    /// The old value, when `returnOld` was asked for and the key existed.
    public let oldValue: [UInt8]?

    public init(performed: Bool, oldValue: [UInt8]?) {
        self.performed = performed
        self.oldValue = oldValue
    }
}

/// What GETEX does to the expiry.
public enum GetExpiryChange: Sendable {
    case persist
    case at(Int64)
}

extension Store {
    /// A copy of the string at `key`, or nil. `touching`: the read is an access (OBJECT IDLETIME).
    public func get(_ key: UnsafeRawBufferPointer, touching: Bool = true) throws(StoreError) -> [UInt8]? {
        try readString(key, touching: touching) { v, _ in Array(v) }
    }

    public func get(_ key: [UInt8], touching: Bool = true) throws(StoreError) -> [UInt8]? {
        try key.withUnsafeBytes { k in Result { () throws(StoreError) in try get(k, touching: touching) } }.get()
    }

    /// Runs `body` with the live string at `key` under the shard's read lock (no copy); nil if absent.
    /// `body` must be quick and must not call the store.
    @inline(__always)
    public func withValue<R>(_ key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) throws(StoreError) -> R? {
        try readString(key) { v, _ in body(v) }
    }

    /// SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT|KEEPTTL]. An expiry already in the past stores the key
    /// already expired, as Redis 7.0 does: reads see it absent, expiry removes it (notified `expired`).
    @discardableResult
    public func set(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ options: SetOptions = SetOptions()) throws(StoreError) -> SetOutcome {
        let outcome = try edit(key) { (e: inout EntryEditor) throws(StoreError) -> SetOutcome in
            if options.returnOld { try e.expect(.string) }
            let old = options.returnOld && e.exists ? Array(e.value) : nil
            switch options.condition {
            case .ifAbsent where e.exists, .ifPresent where !e.exists:
                return SetOutcome(performed: false, oldValue: old)
            default: break
            }
            switch options.expiry {
            case .clear: e.setValue(value, expiry: nil); e.event = .set
            case .keep: e.setValue(value, expiry: e.expiry); e.event = .set
            case .at(let t): e.setValue(value, expiry: t); e.event = .setWithExpiry
            }
            return SetOutcome(performed: true, oldValue: old)
        }
        return outcome
    }

    @discardableResult
    public func set(_ key: [UInt8], _ value: [UInt8], _ options: SetOptions = SetOptions()) throws(StoreError) -> SetOutcome {
        try key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in Result { () throws(StoreError) in try set(k, v, options) } }
        }.get()
    }

    /// INCRBY / DECRBY / INCR / DECR: the new value. The expiry is kept.
    public func increment(_ key: UnsafeRawBufferPointer, by delta: Int64) -> Result<Int64, StoreError> {
        let r = edit(key) { e -> Result<Int64, StoreError> in
            if let t = e.type, t != .string { return .failure(.wrongType) }
            var current: Int64 = 0
            if e.exists {
                guard let v = parseInt64(e.value) else { return .failure(.notAnInteger) }
                current = v
            }
            let (sum, overflow) = current.addingReportingOverflow(delta)
            if overflow { return .failure(.overflow) }
            let dst = e.resizeValue(to: decimalLength(sum), expiry: e.expiry, preserving: 0)
            _ = writeDecimal(sum, into: dst.baseAddress!)
            e.event = .incrby
            return .success(sum)
        }
        return r
    }

    public func increment(_ key: [UInt8], by delta: Int64) -> Result<Int64, StoreError> {
        key.withUnsafeBytes { increment($0, by: delta) }
    }

    /// INCRBYFLOAT: the new value as Redis prints it. The expiry is kept.
    public func increment(_ key: UnsafeRawBufferPointer, byFloat delta: LongDouble) -> Result<[UInt8], StoreError> {
        let r = edit(key) { e -> Result<[UInt8], StoreError> in
            if let t = e.type, t != .string { return .failure(.wrongType) }
            var current: LongDouble = 0
            if e.exists {
                guard let v = parseLongDouble(e.value) else { return .failure(.notAFloat) }
                current = v
            }
            let sum = current + delta
            guard !sum.isNaN && !sum.isInfinite, let text = formatLongDouble(sum) else { return .failure(.nanOrInfinity) }
            text.withUnsafeBytes { e.setValue($0, expiry: e.expiry) }
            e.event = .incrbyfloat
            return .success(text)
        }
        return r
    }

    /// APPEND: the new length. Creates the key when absent.
    public func append(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Result<Int, StoreError> {
        let r = edit(key) { e -> Result<Int, StoreError> in
            if let t = e.type, t != .string { return .failure(.wrongType) }
            let old = e.exists ? e.value.count : 0
            guard old + value.count <= maxValueSize else { return .failure(.stringTooLong) }
            let dst = e.resizeValue(to: old + value.count, expiry: e.expiry, preserving: old)
            if value.count > 0 { (dst.baseAddress! + old).copyMemory(from: value.baseAddress!, byteCount: value.count) }
            e.event = .append
            return .success(old + value.count)
        }
        return r
    }

    /// STRLEN: 0 when absent.
    public func length(_ key: UnsafeRawBufferPointer) throws(StoreError) -> Int {
        try readString(key) { v, _ in v.count } ?? 0
    }

    /// GETRANGE with Redis' index rules (negative counts from the end; out of range clamps).
    public func getRange(_ key: UnsafeRawBufferPointer, start: Int64, end: Int64) throws(StoreError) -> [UInt8] {
        try readString(key) { v, _ -> [UInt8] in
            var start = start
            var end = end
            if start < 0 && end < 0 && start > end { return [] }
            let n = Int64(v.count)
            if start < 0 { start = n + start }
            if end < 0 { end = n + end }
            if start < 0 { start = 0 }
            if end < 0 { end = 0 }
            if end >= n { end = n - 1 }
            if start > end || n == 0 { return [] }
            return Array(v[Int(start)...Int(end)])
        } ?? []
    }

    /// SETRANGE: writes `value` at `offset` (>= 0), padding with zero bytes; the new length. An empty
    /// `value` creates nothing and returns the current length.
    public func setRange(_ key: UnsafeRawBufferPointer, offset: Int, _ value: UnsafeRawBufferPointer) -> Result<Int, StoreError> {
        precondition(offset >= 0)
        let r = edit(key) { e -> Result<Int, StoreError> in
            if let t = e.type, t != .string { return .failure(.wrongType) }
            let old = e.exists ? e.value.count : 0
            if value.isEmpty { return .success(old) }
            guard offset <= maxValueSize - value.count else { return .failure(.stringTooLong) }
            let newLength = Swift.max(old, offset + value.count)
            let dst = e.resizeValue(to: newLength, expiry: e.expiry, preserving: old)
            if offset > old { (dst.baseAddress! + old).initializeMemory(as: UInt8.self, repeating: 0, count: offset - old) }
            (dst.baseAddress! + offset).copyMemory(from: value.baseAddress!, byteCount: value.count)
            e.event = .setrange
            return .success(newLength)
        }
        return r
    }

    /// GETDEL.
    public func getAndDelete(_ key: UnsafeRawBufferPointer) throws(StoreError) -> [UInt8]? {
        try editString(key) { e -> [UInt8]? in
            guard e.exists else { return nil }
            let v = Array(e.value)
            e.remove()
            e.event = .del
            return v
        }
    }

    /// GETEX: the value, after changing the expiry as asked (a time in the past deletes the key).
    public func getAndChangeExpiry(_ key: UnsafeRawBufferPointer, _ change: GetExpiryChange?) throws(StoreError) -> [UInt8]? {
        guard let change else { return try get(key) }
        let now = clock()
        return try editString(key) { e -> [UInt8]? in
            guard e.exists else { return nil }
            let v = Array(e.value)
            switch change {
            case .persist:
                // Only a TTL removed is a change (it invalidates a WATCH, and is notified).
                if e.expiry != nil { e.setExpiry(nil); e.event = .persist }
            case .at(let t) where t <= now: e.remove(); e.event = .del
            case .at(let t): e.setExpiry(t); e.event = .expire
            }
            return v
        }
    }

    /// MGET, atomic across shards: nil for a key that is absent or holds another type.
    public func getMany(_ keys: [UnsafeRawBufferPointer]) -> [[UInt8]?] {
        let now = clock()
        return withShardsLocked(keys, write: false) {
            keys.map { k in liveValueLocked(k, now, touching: true) { $0.type == .string ? Array($0.bytes) : nil } ?? nil }
        }
    }

    /// MSET (every pair, clearing expiries), atomic across shards. Later pairs win over earlier ones.
    public func setMany(_ pairs: [(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)]) {
        let now = clock()
        withShardsLocked(pairs.map(\.key), write: true) {
            for p in pairs { editLocked(shard(p.key), p.key, now) { e in e.setValue(p.value, expiry: nil); e.event = .set } }
        }
    }

    /// MSETNX: sets every pair only if none of the keys exists; true when it did.
    public func setManyIfNoneExist(_ pairs: [(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)]) -> Bool {
        let now = clock()
        let done = withShardsLocked(pairs.map(\.key), write: true) { () -> Bool in
            for p in pairs where liveValueLocked(p.key, now, touching: true, { _ in () }) != nil { return false }
            for p in pairs { editLocked(shard(p.key), p.key, now) { e in e.setValue(p.value, expiry: nil); e.event = .set } }
            return true
        }
        return done
    }
}
