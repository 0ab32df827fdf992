import Synchronization
import KVEngine
import RESP

// Blocking pops (BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH; BZPOPMIN, BZPOPMAX, BZMPOP), with Redis 7.0's semantics (blocked.c).
//
// A blocking command first tries once as its non-blocking form. When every key is empty (and it is not
// inside EXEC, where it answers as if timed out), its client blocks: a `BlockedClient` is queued on each
// of its keys in the registry, and the connection stops reading commands (those it pipelined behind stay
// in its buffer, so its replies keep their order).
//
// The registry observes the databases someone blocks in (the change path, Observers.swift). A write that
// leaves a list at a key someone waits on marks the key ready; it only marks it, under the shard's lock.
// After the command that wrote it completes — the whole of an EXEC — its connection serves the ready
// keys (`serveReady`), on its own thread: for each ready key in the order they became ready, the waiters
// first-blocked-first-served, each popping (or moving) for itself through the store as its command
// would, until the key is empty. The pop's reply is written in the waiter's protocol and handed to the
// waiter's own thread (ConnectionOwner.resume), which appends it and resumes reading its commands: so a
// push on loop 1 wakes a client on loop 0 without polling. A BLMOVE that pushes to a key another client
// waits on marks that key ready in turn, and the same loop serves it: chains resolve in order.
//
// A waiter is claimed before anyone acts for it — served, timed out (the owner's cron), unblocked
// (CLIENT UNBLOCK) or gone (disconnect) — by one compare-and-exchange of its state, so exactly one of
// them answers it. Serving claims it only for the pop and returns it to waiting when the key turned out
// empty (taken meanwhile by a client on another loop, or replaced by another type).

/// What a blocked client does when one of its keys is ready.
enum BlockingOperation: Sendable {
    /// BLPOP / BRPOP (`count` nil: reply key and element) and BLMPOP (reply key and an array).
    case pop(ListEnd, count: Int?)
    /// BLMOVE / BRPOPLPUSH: reply the element moved.
    case move(destination: [UInt8], from: ListEnd, to: ListEnd)
    /// BZPOPMIN / BZPOPMAX (`count` nil: reply key, member, score) and BZMPOP (key and pairs); `max`: the top.
    case zpop(max: Bool, count: Int?)

    /// The reply of a client that gave up waiting (a null array, as Redis' replyToBlockedClientTimedOut).
    func writeTimeout(_ r: ReplyWriter) { r.nullArray() }
}

final class BlockedClient: @unchecked Sendable {
    static let waiting = 0, claimed = 1, finished = 2
    let state = Atomic<Int>(BlockedClient.waiting)
    let connection: Connection
    let database: Int
    let keys: [[UInt8]]
    let operation: BlockingOperation
    /// Monotonic milliseconds; Int64.max waits forever.
    let deadline: Int64

    init(connection: Connection, database: Int, keys: [[UInt8]], operation: BlockingOperation, deadline: Int64) {
        self.connection = connection
        self.database = database
        self.keys = keys
        self.operation = operation
        self.deadline = deadline
    }

    /// Takes the waiter from `from` for good; false when someone else has.
    func finish(from: Int = BlockedClient.waiting) -> Bool {
        state.compareExchange(expected: from, desired: BlockedClient.finished, ordering: .acquiringAndReleasing).exchanged
    }

    /// Runs the operation on `key` for this client: its reply, or nil when the key has nothing for it.
    func serve(_ key: [UInt8], in db: Store) -> [UInt8]? {
        let out = ByteBuffer(capacity: 64)
        let r = ReplyWriter(buffer: out, resp3: connection.pushesAsResp3)
        do {
            switch operation {
            case .pop(let end, let count):
                guard let popped = try key.withUnsafeBytes({ k in try db.listPop(k, from: end, count: count ?? 1) }),
                      !popped.isEmpty else { return nil }
                r.arrayHeader(2)
                r.bulk(key)
                if count == nil {
                    r.bulk(popped[0])
                } else {
                    r.arrayHeader(popped.count)
                    for e in popped { r.bulk(e) }
                }
            case .move(let destination, let from, let to):
                let moved = try key.withUnsafeBytes { k in
                    try destination.withUnsafeBytes { d in try db.listMove(k, d, from: from, to: to) }
                }
                guard let moved else { return nil }
                r.bulk(moved)
            case .zpop(let max, let count):
                guard let (_, popped) = try key.withUnsafeBytes({ k in try db.zsetPopFirst([k], max: max, count: count ?? 1) }) else {
                    return nil
                }
                if count == nil { replyPopped(r, key, popped[0]) } else { replyKeyAndElements(r, key, popped) }
            }
        } catch StoreError.wrongType {
            // The key became another type: keep waiting, as Redis does; a wrong-type destination is the
            // waiter's error (Redis' serveClientBlockedOnList).
            if case .move(let destination, _, _) = operation,
               destination.withUnsafeBytes({ db.type($0, touching: false) }).map({ $0 != .list }) ?? false,
               key.withUnsafeBytes({ db.type($0, touching: false) }) == .list {
                r.error(StoreError.wrongType.redisMessage)
            } else {
                return nil
            }
        } catch {
            r.error((error as? StoreError)?.redisMessage ?? "ERR \(error)")
        }
        return Array(out.readable)
    }
}

final class BlockingRegistry: KeyspaceObserver, @unchecked Sendable {
    private let databases: [Store]
    private struct Key: Hashable {
        let database: Int
        let key: [UInt8]
    }
    private struct Tables {
        var waiters: [Key: [BlockedClient]] = [:]
        var byClient: [Int: BlockedClient] = [:]
        var ready: [Key] = []
        var readySet: Set<Key> = []
    }
    private let tables = Mutex(Tables())
    /// Ready keys wait to be served: the one test each command pays.
    private let anyReady = Atomic<Bool>(false)
    /// Which databases are observed; taken before a store's shard locks, never under them.
    private let observing: Mutex<[Bool]>

    init(databases: [Store]) {
        self.databases = databases
        observing = Mutex([Bool](repeating: false, count: databases.count))
    }

    /// Clients blocked now (INFO's blocked_clients).
    var blockedCount: Int { tables.withLock { $0.byClient.count } }

    /// Queues `b` on its keys, then serves them at once: data that arrived after the first try, before
    /// the waiter was queued, is not missed.
    func block(_ b: BlockedClient) {
        observing.withLock { on in
            if !on[b.database] {
                databases[b.database].addObserver(self)
                on[b.database] = true
            }
            tables.withLock { t in
                for k in b.keys { t.waiters[Key(database: b.database, key: k), default: []].append(b) }
                t.byClient[b.connection.id] = b
            }
        }
        markReady(b.keys.map { Key(database: b.database, key: $0) })
        serveReady()
    }

    /// Forgets a finished waiter.
    func remove(_ b: BlockedClient) {
        tables.withLock { t in
            for k in b.keys {
                let key = Key(database: b.database, key: k)
                t.waiters[key]?.removeAll { $0 === b }
                if t.waiters[key]?.isEmpty ?? false { t.waiters[key] = nil }
            }
            if t.byClient[b.connection.id] === b { t.byClient[b.connection.id] = nil }
        }
    }

    /// The waiter of client `id`, if it is blocked.
    func waiter(ofClient id: Int) -> BlockedClient? { tables.withLock { $0.byClient[id] } }

    private func markReady(_ keys: [Key]) {
        tables.withLock { t in
            for k in keys where t.waiters[k] != nil && t.readySet.insert(k).inserted { t.ready.append(k) }
            if !t.ready.isEmpty { anyReady.store(true, ordering: .releasing) }
        }
    }

    func keyspaceDidChange(_ change: KeyspaceChange) {
        switch change.kind {
        case .written:
            guard let type = change.value?.type, type == .list || type == .zset else { return }
            markReady([Key(database: change.database, key: Array(change.key))])
        case .swapped:
            // Every key waited on in the database may hold a list now (Redis' scanDatabaseForReadyKeys).
            let keys = tables.withLock { t in t.waiters.keys.filter { $0.database == change.database } }
            markReady(keys)
        default:
            break
        }
    }

    /// After a command: serves the keys it made ready (see the header). Cheap when none are.
    @inline(__always)
    /// Whether any key was ready (and its clients served).
    @discardableResult
    func serveIfReady() -> Bool {
        guard anyReady.load(ordering: .acquiring) else { return false }
        serveReady()
        return true
    }

    private func serveReady() {
        while let key = tables.withLock({ t -> Key? in
            guard !t.ready.isEmpty else {
                anyReady.store(false, ordering: .releasing)
                return nil
            }
            let k = t.ready.removeFirst()
            t.readySet.remove(k)
            return k
        }) {
            serve(key)
        }
    }

    /// Serves the waiters of one key, first blocked first, while it has data for them.
    private func serve(_ key: Key) {
        var skipped: [BlockedClient] = []
        while let b = tables.withLock({ t in t.waiters[key]?.first { w in !skipped.contains { $0 === w } } }) {
            guard b.state.compareExchange(expected: BlockedClient.waiting, desired: BlockedClient.claimed, ordering: .acquiringAndReleasing).exchanged else {
                // Finished elsewhere (timed out, unblocked, gone) and not yet removed.
                skipped.append(b)
                continue
            }
            guard let reply = b.serve(key.key, in: databases[key.database]) else {
                b.state.store(BlockedClient.waiting, ordering: .releasing)
                return
            }
            _ = b.finish(from: BlockedClient.claimed)
            remove(b)
            b.connection.unblock(reply)
        }
    }
}

extension Connection {
    /// Blocks this client on `keys` until one serves `operation`, `timeout` (ms, 0: forever) passes, or
    /// CLIENT UNBLOCK. Called by the command after its first try found nothing.
    func block(on keys: [UnsafeRawBufferPointer], _ operation: BlockingOperation, timeout: Int64) {
        let deadline = timeout == 0 ? Int64.max : monotonicMilliseconds() + timeout
        let b = BlockedClient(connection: self, database: databaseIndex, keys: keys.map { Array($0) }, operation: operation, deadline: deadline)
        blockedOn = b
        blocked = true
        server.blocking.block(b)
    }

    /// On any thread: hands the reply of a finished wait to this client's thread, which writes it and
    /// resumes its commands. On that thread already, with nothing pipelined behind the wait, the reply
    /// goes out with this burst, as Redis answers unblocked clients before it sleeps: a hop through the
    /// loop's queue would let producers run ahead of their consumers.
    func unblock(_ reply: [UInt8]) {
        if let owner, owner.isCurrent, input.count == 0 {
            output.append(reply)
            blockedOn = nil
            blocked = false
            owner.outputWritten(self)
            return
        }
        let finish: @Sendable () -> Void = { [self] in
            output.append(reply)
            blockedOn = nil
            blocked = false
            processInput()
        }
        if let owner { owner.resume(self, finish) } else { finish() }
    }

    /// From the owner's cron: answers a wait whose time is up. True when it did.
    func timeOutBlock(now: Int64) -> Bool {
        guard let b = blockedOn, now >= b.deadline, b.finish() else { return false }
        server.blocking.remove(b)
        let out = ByteBuffer(capacity: 16)
        b.operation.writeTimeout(ReplyWriter(buffer: out, resp3: resp3))
        blockedOn = nil
        output.append(out.readable)
        blocked = false
        processInput()
        return true
    }

    /// The client is gone: its wait ends with no reply.
    func abandonBlock() {
        guard let b = blockedOn, b.finish() else { return }
        server.blocking.remove(b)
    }
}
