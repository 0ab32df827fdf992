import KVEngine
import Synchronization

// MULTI/EXEC and WATCH: a connection's queue of commands, the keys it watches, and the registry that marks
// a watcher when one of its keys changes.
//
// A queued command keeps a copy of its arguments (the parser's buffer moves on). EXEC takes the write locks
// of every shard the queued commands and the watched keys touch (Store.withTransactionLocks), then checks
// the watches — a change to a watched key happens under its shard's lock, so once EXEC holds them the
// answer is final — and runs the commands. Which shards: a command's keys from its key specifications,
// in the database it will run in (a queued SELECT moves the rest); a keyless read, its whole database; any
// other keyless command that is not about the connection (FLUSHALL, SAVE, INFO...), every database. No
// command inside can then lock a shard EXEC does not already hold, so the global lock order holds.
//
// WATCH: the registry observes the keyspace (Store/Observers.swift) only while some client watches a key
// in that database: a write costs nothing more when nobody watches. Every change the store reports marks
// the key's watchers — writes by any client, expiry (lazy or active), FLUSHDB/FLUSHALL, RENAME in or out —
// and reads report nothing. A watched key that expires without being removed yet counts too (EXEC checks
// that a key live at WATCH time still is), as in Redis 7.0.

struct Transaction {
    struct Queued {
        let command: Command
        /// The arguments, end to end; `ends[i]` is where argument i stops.
        let bytes: [UInt8]
        let ends: [Int]

        func withArguments<R>(_ body: ([UnsafeRawBufferPointer]) -> R) -> R {
            bytes.withUnsafeBytes { all in
                var start = 0
                let args = ends.map { end in
                    defer { start = end }
                    return UnsafeRawBufferPointer(rebasing: all[start..<end])
                }
                return body(args)
            }
        }
    }

    private(set) var isOpen = false
    /// A command was refused while queueing: EXEC answers EXECABORT.
    var hasQueueError = false
    private(set) var queued: [Queued] = []

    mutating func open() { isOpen = true }

    mutating func queue(_ command: Command, _ args: [UnsafeRawBufferPointer]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(args.reduce(0) { $0 + $1.count })
        var ends: [Int] = []
        for a in args {
            bytes.append(contentsOf: a)
            ends.append(bytes.count)
        }
        queued.append(Queued(command: command, bytes: bytes, ends: ends))
    }

    /// Ends the transaction (EXEC, DISCARD) and returns what was queued.
    mutating func close() -> [Queued] {
        defer { self = Transaction() }
        return queued
    }
}

/// What a queued transaction touches: the footprints EXEC locks, starting in database `db`.
func footprints(of queued: [Transaction.Queued], startingIn db: Int, databases: [Store]) -> [TransactionFootprint] {
    var db = db
    var out: [TransactionFootprint] = []
    for q in queued {
        let flags = q.command.flags
        q.withArguments { args in
            if flags.contains(.changesDatabase) {
                // SELECT: the commands after it run in that database (an invalid index fails, and the
                // database stays).
                if args.count > 1, let i = parseInt64(args[1]), i >= 0, i < databases.count { db = Int(i) }
                return
            }
            if q.command.hasKeys, let keys = q.command.keyPositions(args) {
                out.append(TransactionFootprint(store: databases[db], keys: keys.map { Array(args[$0.position]) }))
            } else if flags.contains(.readonly) {
                out.append(TransactionFootprint(store: databases[db], keys: nil))
            } else if !q.command.acl.contains("@connection") && !q.command.acl.contains("@transaction") {
                out += databases.map { TransactionFootprint(store: $0, keys: nil) }
            }
        }
    }
    return out
}

import RESP

/// A watched key: its database, and whether it was live when watched (for the expiry check at EXEC).
struct WatchedKey {
    let db: Int
    let key: [UInt8]
    let wasLive: Bool
}

/// Set when a key its client watches changes. One per connection.
final class WatchFlag: Sendable {
    let changed = Atomic<Bool>(false)
}

/// The clients watching each key of each database; observes a database only while someone watches in it.
final class WatchRegistry: KeyspaceObserver, @unchecked Sendable {
    private let databases: [Store]
    /// database → key → the flags of its watchers (a client appears once per key).
    private let table = Mutex<[Int: [[UInt8]: [WatchFlag]]]>([:])
    /// Which databases this registry observes. Taken before a store's shard locks (addObserver) and never
    /// under them, so it orders after nothing the change path holds.
    private let observing: Mutex<[Bool]>

    init(databases: [Store]) {
        self.databases = databases
        observing = Mutex([Bool](repeating: false, count: databases.count))
    }

    func watch(_ key: WatchedKey, _ flag: WatchFlag) {
        observing.withLock { on in
            if !on[key.db] {
                databases[key.db].addObserver(self)
                on[key.db] = true
            }
            table.withLock { t in
                var watchers = t[key.db, default: [:]][key.key, default: []]
                if !watchers.contains(where: { $0 === flag }) { watchers.append(flag) }
                t[key.db, default: [:]][key.key] = watchers
            }
        }
    }

    /// Forgets `flag`'s watches of `keys`; stops observing a database nobody watches in any more.
    func unwatch(_ keys: [WatchedKey], _ flag: WatchFlag) {
        guard !keys.isEmpty else { return }
        observing.withLock { on in
            let emptied = table.withLock { t -> [Int] in
                for k in keys {
                    guard var watchers = t[k.db]?[k.key] else { continue }
                    watchers.removeAll { $0 === flag }
                    t[k.db]![k.key] = watchers.isEmpty ? nil : watchers
                }
                let dbs = Set(keys.map(\.db)).filter { t[$0]?.isEmpty ?? true }
                for db in dbs { t[db] = nil }
                return Array(dbs)
            }
            for db in emptied where on[db] {
                databases[db].removeObserver(self)
                on[db] = false
            }
        }
    }

    func keyspaceDidChange(_ change: KeyspaceChange) {
        table.withLock { t in
            guard let keys = t[change.database] else { return }
            if change.kind == .flushed {
                for flags in keys.values { for f in flags { f.changed.store(true, ordering: .relaxed) } }
            } else if let flags = keys[Array(change.key)] {
                for f in flags { f.changed.store(true, ordering: .relaxed) }
            }
        }
    }
}

extension Connection {
    /// WATCH of `key` in the current database.
    func watch(_ key: UnsafeRawBufferPointer) {
        let k = Array(key)
        guard !watched.contains(where: { $0.db == databaseIndex && $0.key == k }) else { return }
        let w = WatchedKey(db: databaseIndex, key: k, wasLive: database.exists([key]) > 0)
        watched.append(w)
        server.watches.watch(w, watchFlag)
    }

    /// UNWATCH, and the end of every transaction.
    func unwatchAll() {
        server.watches.unwatch(watched, watchFlag)
        watched = []
        watchFlag.changed.store(false, ordering: .relaxed)
    }

    /// Whether a watched key changed since WATCH, or expired (a key live then that is not now). Called by
    /// EXEC holding the watched keys' shard locks.
    func watchedKeyChanged() -> Bool {
        if watchFlag.changed.load(ordering: .relaxed) { return true }
        return watched.contains { w in
            w.wasLive && w.key.withUnsafeBytes { server.databases[w.db].exists([$0]) } == 0
        }
    }

    /// The watched keys as EXEC must lock them.
    var watchedFootprints: [TransactionFootprint] {
        watched.map { TransactionFootprint(store: server.databases[$0.db], keys: [$0.key]) }
    }
}
