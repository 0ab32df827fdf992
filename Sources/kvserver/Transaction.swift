import KVEngine
import Synchronization

// MULTI/EXEC and WATCH: a connection's queue of commands, the keys it watches, and the registry that marks
// a watcher when one of its keys changes.
//
// A queued command keeps a copy of its arguments (the parser's buffer moves on). EXEC takes the write locks
// of every shard the queued commands and the watched keys touch (TransactionLocks), then checks
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
        /// Its arguments are `ends[firstArgument ..< firstArgument + argumentCount]` of the shared storage.
        let firstArgument: Int
        let argumentCount: Int
    }

    private(set) var isOpen = false
    /// A command was refused while queueing: EXEC answers EXECABORT.
    var hasQueueError = false
    private(set) var queued: [Queued] = []
    /// Every queued argument end to end (one buffer for the whole transaction), and where each ends.
    private var storage: [UInt8] = []
    private var ends: [Int] = []

    mutating func open() { isOpen = true }

    mutating func queue(_ command: Command, _ args: [UnsafeRawBufferPointer]) {
        queued.append(Queued(command: command, firstArgument: ends.count, argumentCount: args.count))
        for a in args {
            storage.append(contentsOf: a)
            ends.append(storage.count)
        }
    }

    /// Calls `body` with each queued command and its arguments, in order.
    func forEach(_ body: (Command, [UnsafeRawBufferPointer]) -> Void) {
        storage.withUnsafeBytes { all in
            var args: [UnsafeRawBufferPointer] = []
            for q in queued {
                args.removeAll(keepingCapacity: true)
                var start = q.firstArgument == 0 ? 0 : ends[q.firstArgument - 1]
                for i in q.firstArgument..<(q.firstArgument + q.argumentCount) {
                    args.append(UnsafeRawBufferPointer(rebasing: all[start..<ends[i]]))
                    start = ends[i]
                }
                body(q.command, args)
            }
        }
    }

    /// Ends the transaction (EXEC, DISCARD) and returns what was queued.
    mutating func close() -> Transaction {
        defer { self = Transaction() }
        return self
    }

    /// The shards the queued commands touch, starting in database `db` (see the top of this file).
    func locks(startingIn db: Int, databases: [Store]) -> TransactionLocks {
        var db = db
        var locks = TransactionLocks()
        forEach { command, args in
            let flags = command.flags
            if flags.contains(.changesDatabase) {
                // SELECT: the commands after it run in that database (an invalid index fails; it stays).
                if args.count > 1, let i = parseInt64(args[1]), i >= 0, i < databases.count { db = Int(i) }
                return
            }
            if flags.contains(.otherDatabase) {
                for store in databases { locks.addAll(store) }
            } else if command.hasKeys, let keys = command.keyPositions(args) {
                for k in keys { locks.add(databases[db], key: args[k.position]) }
            } else if flags.contains(.readonly) {
                locks.addAll(databases[db])
            } else if !command.isConnectionCommand {
                for store in databases { locks.addAll(store) }
            }
        }
        return locks
    }
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
            if change.kind == .flushed || change.kind == .swapped {
                // Only the watchers of keys that existed (in either database, for SWAPDB), as Redis'
                // touchAllWatchedKeysInDb.
                for (key, flags) in keys where key.withUnsafeBytes({ change.containsKey?($0) ?? true }) {
                    for f in flags { f.changed.store(true, ordering: .relaxed) }
                }
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
    func unwatchAll() { forget(watched) }

    /// Unregisters `keys` (watched until now) and clears the client's watches. Never under shard locks: the
    /// registry may stop observing a database, which takes all its shards' locks.
    func forget(_ keys: [WatchedKey]) {
        server.watches.unwatch(keys, watchFlag)
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

    /// Adds the watched keys' shards to what EXEC locks.
    func addWatchedKeys(to locks: inout TransactionLocks) {
        for w in watched { w.key.withUnsafeBytes { locks.add(server.databases[w.db], key: $0) } }
    }
}
