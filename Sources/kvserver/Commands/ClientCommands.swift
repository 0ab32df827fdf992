import Dispatch
import Glibc
import KVEngine
import RESP
import Synchronization

// CLIENT's subcommands, and WAIT. Rows: CommandRows.swift (CLIENT SETINFO, newer than Redis 7.0:
// OwnCommands.swift). A client's state belongs to its owner thread, so CLIENT LIST asks each client's
// owner for its line (Connection.clientInfoLine) and waits for them all on a thread of its own, as VERIFY
// does; CLIENT KILL closes a client through its owner.

/// CLIENT ID
func clientIdCommand(_ c: Call) throws { c.reply.integer(c.client.id) }

/// CLIENT GETNAME
func clientGetnameCommand(_ c: Call) throws { c.reply.bulk(c.client.name) }

/// CLIENT SETNAME connection-name
func clientSetnameCommand(_ c: Call) throws {
    guard validClientName(c[2]) else { throw invalidClientName }
    c.client.name = c[2].isEmpty ? nil : c.bytes(2)
    c.reply.ok()
}

/// CLIENT SETINFO <LIB-NAME libname | LIB-VER libver> (Redis 7.2; clients send it on connect)
func clientSetinfoCommand(_ c: Call) throws {
    let isName = c.argument(2, is: "lib-name")
    guard isName || c.argument(2, is: "lib-ver") else { throw c.error("ERR Unrecognized option '", quoting: 2, "'") }
    guard validClientName(c[3]) else {
        throw CommandError("ERR \(isName ? "lib-name" : "lib-ver") cannot contain spaces, newlines or special characters.")
    }
    if isName { c.client.libraryName = c.string(3) } else { c.client.libraryVersion = c.string(3) }
    c.reply.ok()
}

/// CLIENT HELP
func clientHelpCommand(_ c: Call) throws {
    c.help([
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME", "    Return the name of the current connection.",
        "GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
        "ID", "    Return the ID of the current connection.",
        "INFO", "    Return information about the current client connection.",
        "KILL <ip:port>", "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Kill connections by type.",
        "    * USER <username>", "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)", "      Skip killing current connection (default: yes).",
        "    * ID <client-id>", "      Kill connections by client id.",
        "LIST [options ...]", "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Return clients of specified type.",
        "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
        "PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
        "SETINFO <option> <value>", "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.", "    * LIB-VER: the client lib version.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "UNPAUSE", "    Stop the current client pause, resuming traffic.",
        "HELP", "    Print this help.",
    ])
}

/// CLIENT INFO
func clientInfoCommand(_ c: Call) throws {
    c.reply.verbatim(c.client.clientInfoLine(now: monotonicMilliseconds()) + "\n")
}

/// CLIENT LIST [TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id [client-id ...]]
func clientListCommand(_ c: Call) throws {
    var type: ClientType? = nil
    var ids: Set<Int>? = nil
    if c.count >= 4 && c.argument(2, is: "type") && c.count == 4 {
        type = try clientType(c, 3)
    } else if c.count >= 4 && c.argument(2, is: "id") {
        ids = []
        for i in 3..<c.count {
            guard let id = parseInt64(c[i]) else { throw CommandError("ERR Invalid client ID") }
            ids!.insert(Int(id))
        }
    } else if c.count != 2 {
        throw CommandError.syntax
    }
    let chosen = c.server.clients.withLock { Array($0.values) }.filter { x in
        (ids.map { $0.contains(x.id) } ?? true) && (type.map { $0.matches(x) } ?? true)
    }
    c.client.replyLater {
        let lines = collectInfoLines(chosen)
        return { r in r.verbatim(lines) }
    }
}

/// Each client's line from its own owner thread, in id order; a client that closes meanwhile is left out.
private func collectInfoLines(_ clients: [Connection]) -> String {
    let lines = Mutex<[Int: String]>([:])
    let group = DispatchGroup()
    for x in clients {
        guard let owner = x.owner else { continue }
        group.enter()
        owner.resume(x) {
            let line = x.clientInfoLine(now: monotonicMilliseconds())
            lines.withLock { $0[x.id] = line }
            group.leave()
        }
    }
    // A client closed before its owner got to it never answers: wait a bounded time.
    _ = group.wait(timeout: .now() + .seconds(1))
    return lines.withLock { l in l.keys.sorted().map { l[$0]! + "\n" }.joined() }
}

/// CLIENT KILL ip:port | CLIENT KILL [ID client-id] [TYPE ...] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME YES|NO]
func clientKillCommand(_ c: Call) throws {
    var id: Int? = nil, type: ClientType? = nil, addr: String? = nil, laddr: String? = nil
    var skipMe = true
    if c.count == 3 {
        addr = c.string(2)
        skipMe = false
    } else {
        // Option by option, as Redis reads them: the first bad one is the error.
        for i in stride(from: 2, to: c.count, by: 2) {
            guard i + 1 < c.count else { throw CommandError.syntax }
            if c.argument(i, is: "id") {
                guard let v = parseInt64(c[i + 1]), v > 0 else { throw CommandError("ERR client-id should be greater than 0") }
                id = Int(v)
            } else if c.argument(i, is: "type") {
                type = try clientType(c, i + 1)
            } else if c.argument(i, is: "addr") {
                addr = c.string(i + 1)
            } else if c.argument(i, is: "laddr") {
                laddr = c.string(i + 1)
            } else if c.argument(i, is: "user") {
                guard c.string(i + 1) == "default" else { throw c.error("ERR No such user '", quoting: i + 1, "'") }
            } else if c.argument(i, is: "skipme") {
                if c.argument(i + 1, is: "yes") { skipMe = true } else if c.argument(i + 1, is: "no") { skipMe = false } else { throw CommandError.syntax }
            } else {
                throw CommandError.syntax
            }
        }
    }
    let me = c.client
    let victims = c.server.clients.withLock { Array($0.values) }.filter { x in
        (id.map { $0 == x.id } ?? true) && (type.map { $0.matches(x) } ?? true) && (addr.map { $0 == x.peer } ?? true)
            && (laddr.map { $0 == x.localAddress } ?? true) && !(skipMe && x === me)
    }
    for x in victims {
        if x === me {
            me.closeAfterReply = true  // after this reply, as Redis closes the caller
        } else {
            x.owner?.resume(x) {
                x.output.removeAll()
                x.closeAfterReply = true
            }
        }
    }
    if c.count == 3 {
        guard !victims.isEmpty else { throw CommandError("ERR No such client") }
        return c.reply.ok()
    }
    c.reply.integer(victims.count)
}

/// CLIENT REPLY ON | OFF | SKIP: OFF and SKIP answer nothing (Connection.processInput drops the replies).
func clientReplyCommand(_ c: Call) throws {
    if c.argument(2, is: "on") {
        c.client.replyMode = .on
        c.reply.ok()
    } else if c.argument(2, is: "off") {
        c.client.replyMode = .off
    } else if c.argument(2, is: "skip") {
        if c.client.replyMode == .on { c.client.replyMode = .skipNext }
    } else {
        throw CommandError.syntax
    }
}

/// CLIENT NO-EVICT ON | OFF
func clientNoEvictCommand(_ c: Call) throws {
    if c.argument(2, is: "on") { c.client.noEvict = true } else if c.argument(2, is: "off") { c.client.noEvict = false } else { throw CommandError.syntax }
    c.reply.ok()
}

/// CLIENT PAUSE timeout [WRITE | ALL]: every client's commands (or only writes) wait in their buffers
/// until the timeout (ms) passes or CLIENT UNPAUSE; the longest pause and the strictest mode win.
/// As Redis, a fifth argument is an unknown subcommand's error, and the mode is checked before the timeout.
func clientPauseCommand(_ c: Call) throws {
    guard c.count <= 4 else { throw c.unknownSubcommand() }
    var all = true
    if c.count == 4 {
        if c.argument(3, is: "write") { all = false } else if !c.argument(3, is: "all") { throw CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL") }
    }
    guard let ms = parseInt64(c[2]) else { throw CommandError("ERR timeout is not an integer or out of range") }
    guard ms >= 0 else { throw CommandError("ERR timeout is negative") }
    let until = monotonicMilliseconds() + ms
    let server = c.server
    let current = server.pausedUntil.load(ordering: .relaxed)
    if current == 0 || monotonicMilliseconds() >= current { server.pauseAll.store(all, ordering: .relaxed) } else if all { server.pauseAll.store(true, ordering: .relaxed) }
    server.pausedUntil.store(max(until, current), ordering: .relaxed)
    c.reply.ok()
}

/// CLIENT UNPAUSE: the held commands run at the owners' next cron tick (1/hz s).
func clientUnpauseCommand(_ c: Call) throws {
    c.server.pausedUntil.store(0, ordering: .relaxed)
    c.reply.ok()
}

/// CLIENT GETREDIR: -1, as no client tracking redirects anywhere.
func clientGetredirCommand(_ c: Call) throws { c.reply.integer(-1) }

/// CLIENT LIST's and KILL's TYPE: a normal client or a subscriber (no replicas or masters exist yet).
private enum ClientType {
    case normal, pubsub, replica, master

    func matches(_ c: Connection) -> Bool {
        switch self {
        case .normal: c.subscriptionsCount == 0
        case .pubsub: c.subscriptionsCount > 0
        case .replica, .master: false
        }
    }
}

private func clientType(_ c: Call, _ i: Int) throws -> ClientType {
    if c.argument(i, is: "normal") { return .normal }
    if c.argument(i, is: "pubsub") { return .pubsub }
    if c.argument(i, is: "replica") || c.argument(i, is: "slave") { return .replica }
    if c.argument(i, is: "master") { return .master }
    throw c.error("ERR Unknown client type '", quoting: i, "'")
}

/// MONITOR: from now on this client is sent every command the server runs (Monitor.swift).
func monitorCommand(_ c: Call) throws {
    if c.client.executingTransaction { throw CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client") }
    if c.server.monitors.contains(c.client) { return }  // already: no reply, as Redis
    c.server.monitors.add(c.client)
    c.reply.ok()
}

/// WAIT numreplicas timeout: there are no replicas, so 0 — at once when none is asked for (or inside
/// MULTI), else after the timeout, as Redis waits for acknowledgements that cannot come (0 = until the
/// client goes away).
func waitCommand(_ c: Call) throws {
    let wanted = try c.integer(1)
    guard let timeout = parseInt64(c[2]) else { throw CommandError("ERR timeout is not an integer or out of range") }
    guard timeout >= 0 else { throw CommandError("ERR timeout is negative") }
    if wanted <= 0 || c.client.executingTransaction { return c.reply.integer(0) }
    let client = c.client
    client.replyLater {
        let deadline = timeout == 0 ? Int64.max : monotonicMilliseconds() + timeout
        while !client.closed.load(ordering: .relaxed) {
            let left = deadline - monotonicMilliseconds()
            if left <= 0 { break }
            usleep(UInt32(min(left, 100) * 1000))
        }
        return { r in r.integer(0) }
    }
}
