// Observers: one path for every change.
//
// Every change to a database reaches its maps through `HashMap.update` — command writes, lazy expiry
// (`Store.edit` removes an expired entry first), active expiry (Expiry.swift), the snapshot loader
// (Shard.insertLoaded) — or through `Store.flush`. While a store has observers it installs a change hook
// in each shard's map; the map calls it at the end of each write with what the write did to its key
// (HashMap+Write.swift), and the store turns that into a KeyspaceChange for every observer. So observers
// hear every change, under the lock that orders it, in the order changes are applied; times are absolute
// (an expiry is the instant, whatever relative form the command used), so a log of changes replays
// exactly. With no observer the maps have no hook, and a write pays one test of a nil pointer.
//
// WATCH, keyspace notifications, blocking pops, eviction accounting and later an append-only file and
// replicas are observers.

/// One change to a database.
public struct KeyspaceChange {
    public enum Kind: Sendable, Equatable {
        /// A command wrote the key (a new value, a changed value or a changed expiry).
        case written
        /// A command removed the key.
        case removed
        /// The key's time had come: removed by lazy or active expiry.
        case expired
        /// The whole database was emptied (FLUSHDB, FLUSHALL); `key` is empty.
        case flushed
        /// The database exchanged its contents with another (SWAPDB); `key` is empty.
        case swapped
    }

    public let database: Int
    public let kind: Kind
    /// What the change is in Redis' words, as the store operation that made it says (nil for the loader's
    /// writes, expiry and flushes, which have their own kinds).
    public let event: KeyspaceEvent?
    /// A `written` change created the key (it was absent or expired).
    public let created: Bool
    /// For `flushed` and `swapped`, during the call: whether a key was live just before (for `swapped`, in
    /// either database).
    public let containsKey: ((UnsafeRawBufferPointer) -> Bool)?
    /// Valid only during the call.
    public let key: UnsafeRawBufferPointer
    /// The value after a `written` change: valid only during the call.
    public let value: StoredValue?
    /// The absolute expiry (milliseconds since the epoch) after a `written` change; nil for none.
    public let expiry: Int64?

    init(database: Int, kind: Kind, key: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
         value: StoredValue? = nil, expiry: Int64? = nil, created: Bool = false, event: KeyspaceEvent? = nil,
         containsKey: ((UnsafeRawBufferPointer) -> Bool)? = nil) {
        self.containsKey = containsKey
        self.database = database
        self.kind = kind
        self.event = event
        self.created = created
        self.key = key
        self.value = value
        self.expiry = expiry
    }
}

/// Something that must hear of every change. Called under the changed key's shard lock (every shard's,
/// for a flush): it must be quick and must not call the store.
public protocol KeyspaceObserver: AnyObject, Sendable {
    func keyspaceDidChange(_ change: KeyspaceChange)
}

extension Store {
    /// Starts telling `observer` of every change from now on.
    public func addObserver(_ observer: any KeyspaceObserver) {
        withAllShardsLocked {
            observers.append(observer)
            installHooks()
        }
    }

    /// Stops telling `observer`.
    public func removeObserver(_ observer: any KeyspaceObserver) {
        withAllShardsLocked {
            observers.removeAll { $0 === observer }
            installHooks()
        }
    }

    /// With every shard locked: each map gets the hook when there are observers, none otherwise.
    func installHooks() {
        let hook: ChangeHook?
        if observers.isEmpty {
            hook = nil
        } else {
            hook = { [unowned self] key, change in
                switch change {
                case .written(let v, let x, let created, let event):
                    tell(KeyspaceChange(database: index, kind: .written, key: key, value: v, expiry: x, created: created, event: event))
                case .removed(let event): tell(KeyspaceChange(database: index, kind: .removed, key: key, event: event))
                case .expired: tell(KeyspaceChange(database: index, kind: .expired, key: key))
                }
            }
        }
        for s in shards { s.map.changeHook = hook }
    }

    func tell(_ change: KeyspaceChange) {
        for o in observers { o.keyspaceDidChange(change) }
    }
}

/// What a command's change to a key is, in the words of Redis' keyspace notifications (notify.c). The store
/// operation that makes a change names it on the entry editor; observers that need it (notifications) read
/// it from the change.
public enum KeyspaceEvent: UInt8, Sendable {
    /// SET, SETNX, GETSET, MSET, BITOP: `set`; SET with an expiry, SETEX, PSETEX: `set` then `expire`.
    case set, setWithExpiry
    case setrange, append, incrby, incrbyfloat, setbit
    /// DEL, UNLINK, GETDEL, an expiry in the past, an empty BITOP result.
    case del
    case expire, persist
    case renameFrom, renameTo, moveFrom, moveTo, copyTo, restore
    /// A step of a larger change that its last step notifies (RENAME replacing its destination, then
    /// placing the value there before rename_from and rename_to are told).
    case quiet
    /// Hashes (Store+Hashes.swift); `...Deleted`: the change emptied the hash, so its key went too.
    case hset, hdel, hdelDeleted, hincrby, hincrbyfloat
    /// Sets (Store+Sets.swift).
    case sadd, srem, sremDeleted, spop, spopDeleted, sinterstore, sunionstore, sdiffstore
    /// Lists (Store+Lists.swift). LMOVE within one list: the push's event, then the pop's.
    case lpush, rpush, lpop, lpopDeleted, rpop, rpopDeleted, linsert, lset, lrem, lremDeleted, ltrim, ltrimDeleted
    case rotateLeftToLeft, rotateLeftToRight, rotateRightToLeft, rotateRightToRight
    /// SORT ... STORE (a list).
    case sortstore
    /// Sorted sets (Store+SortedSets.swift).
    case zadd, zincr, zrem, zremDeleted, zremrangebyrank, zremrangebyrankDeleted, zremrangebyscore, zremrangebyscoreDeleted
    case zremrangebylex, zremrangebylexDeleted, zpopmin, zpopminDeleted, zpopmax, zpopmaxDeleted
    case zunionstore, zinterstore, zdiffstore, zrangestore
    /// The memory limit took the key (Evictor.swift).
    case evicted

    /// The event of a change that also emptied its value, so that its key was removed.
    public var deletingKey: KeyspaceEvent {
        switch self {
        case .hdel: .hdelDeleted
        case .srem: .sremDeleted
        case .spop: .spopDeleted
        case .lpop: .lpopDeleted
        case .rpop: .rpopDeleted
        case .lrem: .lremDeleted
        case .ltrim: .ltrimDeleted
        case .zrem: .zremDeleted
        case .zremrangebyrank: .zremrangebyrankDeleted
        case .zremrangebyscore: .zremrangebyscoreDeleted
        case .zremrangebylex: .zremrangebylexDeleted
        case .zpopmin: .zpopminDeleted
        case .zpopmax: .zpopmaxDeleted
        default: self
        }
    }

    /// The class an event belongs to (the letters of notify-keyspace-events).
    public enum Class: Sendable { case generic, string, list, hash, set, zset, evicted }

    /// The notifications, in order: each event's name and class.
    public var notices: [(name: String, class: Class)] {
        switch self {
        case .set, .setrange, .append, .incrby, .incrbyfloat, .setbit: [(String(describing: self), .string)]
        case .setWithExpiry: [("set", .string), ("expire", .generic)]
        case .del, .expire, .persist, .restore: [(String(describing: self), .generic)]
        case .renameFrom: [("rename_from", .generic)]
        case .renameTo: [("rename_to", .generic)]
        case .moveFrom: [("move_from", .generic)]
        case .moveTo: [("move_to", .generic)]
        case .copyTo: [("copy_to", .generic)]
        case .quiet: []
        case .hset, .hdel, .hincrby, .hincrbyfloat: [(String(describing: self), .hash)]
        case .hdelDeleted: [("hdel", .hash), ("del", .generic)]
        case .sadd, .srem, .spop, .sinterstore, .sunionstore, .sdiffstore: [(String(describing: self), .set)]
        case .sremDeleted: [("srem", .set), ("del", .generic)]
        case .spopDeleted: [("spop", .set), ("del", .generic)]
        case .lpush, .rpush, .lpop, .rpop, .linsert, .lset, .lrem, .ltrim, .sortstore: [(String(describing: self), .list)]
        case .lpopDeleted: [("lpop", .list), ("del", .generic)]
        case .rpopDeleted: [("rpop", .list), ("del", .generic)]
        case .lremDeleted: [("lrem", .list), ("del", .generic)]
        case .ltrimDeleted: [("ltrim", .list), ("del", .generic)]
        case .rotateLeftToLeft: [("lpush", .list), ("lpop", .list)]
        case .rotateLeftToRight: [("rpush", .list), ("lpop", .list)]
        case .rotateRightToLeft: [("lpush", .list), ("rpop", .list)]
        case .rotateRightToRight: [("rpush", .list), ("rpop", .list)]
        case .zadd, .zincr, .zrem, .zremrangebyrank, .zremrangebyscore, .zremrangebylex, .zpopmin, .zpopmax,
             .zunionstore, .zinterstore, .zdiffstore, .zrangestore:
            [(String(describing: self), .zset)]
        case .evicted: [("evicted", .evicted)]
        case .zremDeleted, .zremrangebyrankDeleted, .zremrangebyscoreDeleted, .zremrangebylexDeleted, .zpopminDeleted, .zpopmaxDeleted:
            [(String(String(describing: self).dropLast("Deleted".count)), .zset), ("del", .generic)]
        }
    }
}
