import KVEngine

// Transactions (Redis' multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH. The queueing itself is a generic
// check (CommandTable.execute); the state is Transaction.swift. Rows: CommandRows.swift.

/// MULTI
func multiCommand(_ c: Call) throws {
    guard !c.client.transaction.isOpen else { throw CommandError("ERR MULTI calls can not be nested") }
    c.client.transaction.open()
    c.reply.ok()
}

/// EXEC
func execCommand(_ c: Call) throws {
    let client = c.client
    guard client.transaction.isOpen else { throw CommandError("ERR EXEC without MULTI") }
    let transaction = client.transaction.close()
    let watchedKeys = client.watched
    defer { client.forget(watchedKeys) }
    if transaction.hasQueueError { throw CommandError("EXECABORT Transaction discarded because of previous errors.") }
    var locks = transaction.locks(startingIn: client.databaseIndex, databases: c.server.databases)
    client.addWatchedKeys(to: &locks)
    locks.withLocks {
        // Holding the watched keys' shards: no change to them can slip in between this check and the commands.
        if client.watchedKeyChanged() { return c.reply.nullArray() }
        // Unwatched before the commands run, as Redis does: a queued UNWATCH finds nothing to do (and does
        // not reach the registry while EXEC holds shard locks).
        client.watched = []
        c.reply.arrayHeader(transaction.queued.count)
        client.executingTransaction = true
        defer { client.executingTransaction = false }
        transaction.forEach { command, args in commandTable.run(command, Call(args: args, client: client)) }
    }
}

/// DISCARD
func discardCommand(_ c: Call) throws {
    guard c.client.transaction.isOpen else { throw CommandError("ERR DISCARD without MULTI") }
    _ = c.client.transaction.close()
    c.client.unwatchAll()
    c.reply.ok()
}

/// WATCH key [key ...]
func watchCommand(_ c: Call) throws {
    guard !c.client.transaction.isOpen else { throw CommandError("ERR WATCH inside MULTI is not allowed") }
    for k in c.keys() { c.client.watch(k) }
    c.reply.ok()
}

/// UNWATCH
func unwatchCommand(_ c: Call) throws {
    c.client.unwatchAll()
    c.reply.ok()
}
