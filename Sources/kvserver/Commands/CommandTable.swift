import KVEngine
import RESP

// The command table, as Redis' (server.c, commands.def): one row per command and subcommand, holding what
// the generic checks and COMMAND need — name, arity, flags, ACL categories, key positions and key
// specifications, tips, documentation — and the handler, a named function `<name>Command` with its usage
// line above it in the file of its group (StringCommands.swift, KeyCommands.swift...).
//
// The rows of Redis' commands are generated from redis-server 7.0's own COMMAND INFO and COMMAND DOCS
// (scripts/gen-command-table writes CommandRows.swift), so COMMAND answers what Redis answers; our own
// commands and the few newer than 7.0 are written by hand in OwnCommands.swift.
//
// `execute` runs every check that does not depend on one command's arguments, in Redis' order (unknown
// command, arity, protected, authentication, MISCONF, LOADING), reading only flags; then the handler. A
// handler reports failure by throwing (CommandError, or a StoreError, each one Redis error reply), which
// `execute` writes and counts; it writes its reply only when it succeeds.

struct CommandFlags: OptionSet, Sendable {
    let rawValue: UInt32

    // Redis' flags, in the order COMMAND lists them (server.c, addReplyCommandFlags).
    static let write = CommandFlags(rawValue: 1 << 0)
    static let readonly = CommandFlags(rawValue: 1 << 1)
    static let denyoom = CommandFlags(rawValue: 1 << 2)
    static let module = CommandFlags(rawValue: 1 << 3)
    static let admin = CommandFlags(rawValue: 1 << 4)
    static let pubsub = CommandFlags(rawValue: 1 << 5)
    static let noscript = CommandFlags(rawValue: 1 << 6)
    static let blocking = CommandFlags(rawValue: 1 << 7)
    /// Served while the snapshot loads at start-up; others get -LOADING.
    static let loading = CommandFlags(rawValue: 1 << 8)
    static let stale = CommandFlags(rawValue: 1 << 9)
    static let skipMonitor = CommandFlags(rawValue: 1 << 10)
    static let skipSlowlog = CommandFlags(rawValue: 1 << 11)
    static let asking = CommandFlags(rawValue: 1 << 12)
    static let fast = CommandFlags(rawValue: 1 << 13)
    /// Allowed before AUTH when a password is required (AUTH, HELLO, QUIT).
    static let noAuth = CommandFlags(rawValue: 1 << 14)
    static let mayReplicate = CommandFlags(rawValue: 1 << 15)
    static let sentinel = CommandFlags(rawValue: 1 << 16)
    static let onlySentinel = CommandFlags(rawValue: 1 << 17)
    static let noMandatoryKeys = CommandFlags(rawValue: 1 << 18)
    static let noAsyncLoading = CommandFlags(rawValue: 1 << 19)
    static let noMulti = CommandFlags(rawValue: 1 << 20)
    static let movableKeys = CommandFlags(rawValue: 1 << 21)
    static let allowBusy = CommandFlags(rawValue: 1 << 22)

    /// The names COMMAND shows, in its order.
    static let redisNames: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyoom, "denyoom"), (.module, "module"), (.admin, "admin"),
        (.pubsub, "pubsub"), (.noscript, "noscript"), (.blocking, "blocking"), (.loading, "loading"), (.stale, "stale"),
        (.skipMonitor, "skip_monitor"), (.skipSlowlog, "skip_slowlog"), (.asking, "asking"), (.fast, "fast"),
        (.noAuth, "no_auth"), (.mayReplicate, "may_replicate"), (.sentinel, "sentinel"), (.onlySentinel, "only_sentinel"),
        (.noMandatoryKeys, "no_mandatory_keys"), (.noAsyncLoading, "no_async_loading"), (.noMulti, "no_multi"),
        (.movableKeys, "movablekeys"), (.allowBusy, "allow_busy"),
    ]

    // Flags Redis keeps without showing them in COMMAND.
    /// Refused unless enable-debug-command allows it (Redis' CMD_PROTECTED), right after the arity check.
    static let protected = CommandFlags(rawValue: 1 << 24)
    /// Refused with MISCONF while a failed save stops writes, as write commands are (Redis does this for PING).
    static let deniedOnDiskError = CommandFlags(rawValue: 1 << 25)
    /// Not a command (the first words of an HTTP request): not listed by COMMAND (Redis checks these by name).
    static let hidden = CommandFlags(rawValue: 1 << 26)
    /// Runs at once inside MULTI rather than being queued (MULTI, EXEC, DISCARD, WATCH, QUIT).
    static let notQueued = CommandFlags(rawValue: 1 << 27)
    /// Changes the connection's database (SELECT): a transaction's later commands run in the new one.
    static let changesDatabase = CommandFlags(rawValue: 1 << 28)
    /// Refused, it ends the transaction and says so: `EXECABORT Transaction discarded because of: ...` (EXEC).
    static let abortsTransactionWhenRefused = CommandFlags(rawValue: 1 << 29)
    /// May touch a key in another database than the connection's (MOVE, COPY ... DB): EXEC locks them all.
    static let otherDatabase = CommandFlags(rawValue: 1 << 30)
    /// Runs on a RESP2 connection in subscribed mode; anything else is refused there.
    static let allowedWhileSubscribed = CommandFlags(rawValue: 1 << 31)
}

/// A handler runs one call: it writes exactly one reply, or throws the error that is the reply.
typealias Handler = @Sendable (Call) throws -> Void

/// Where a command's keys are, as Redis' key specifications say (COMMAND INFO, COMMAND GETKEYS).
struct KeySpec: Sendable {
    enum BeginSearch: Sendable {
        case index(Int)
        case keyword(String, startFrom: Int)
        case unknown
    }
    enum FindKeys: Sendable {
        case range(lastKey: Int, step: Int, limit: Int)
        case keyNumber(index: Int, firstKey: Int, step: Int)
        case unknown
    }
    let notes: String?
    /// Space-separated: "RO access", "RW insert"...
    let flags: String
    let begin: BeginSearch
    let find: FindKeys
    /// Read from `flags` once: the spec may not find every key; what it finds are not keys.
    let isIncomplete: Bool
    let isNotKey: Bool

    init(notes: String? = nil, flags: String, begin: BeginSearch, find: FindKeys) {
        self.notes = notes
        self.flags = flags
        self.begin = begin
        self.find = find
        let words = flags.split(separator: " ")
        isIncomplete = words.contains("incomplete")
        isNotKey = words.contains("not_key")
    }
}

/// One row of the command table. A container (CLIENT, CONFIG, COMMAND) has subcommands, each a full row of
/// its own named "client|id" and so on, and a handler only if its bare form is a command (COMMAND).
/// A class: the row is looked up on every call, and a reference costs one retain where a copy of the
/// row's fields cost one per string and array.
final class Command: Sendable {
    let name: String
    let arity: Int
    let flags: CommandFlags
    /// ACL categories, space-separated ("@read @string @fast").
    let acl: String
    /// Legacy key positions: first, last (negative counts from the end), step; (0, 0, 0) for none.
    let keys: (first: Int, last: Int, step: Int)
    let keySpecs: [KeySpec]
    /// Space-separated command tips ("nondeterministic_output").
    let tips: String
    /// COMMAND DOCS' map for this command (without subcommands), as RESP3 text.
    let docs: String
    let handler: Handler?
    /// Subcommands in table order, and by lower-case name.
    let subcommandList: [Command]
    let subcommands: [String: Command]
    /// INFO commandstats (subcommands count on their own rows, as Redis' `config|get`).
    let stats = CommandStats()
    /// Whether the command has keys at all (COMMAND GETKEYS refuses one that has none).
    let hasKeys: Bool
    /// About the connection or the transaction only (PING, SELECT, CLIENT, MULTI...): touches no data.
    let isConnectionCommand: Bool

    convenience init(_ name: String, arity: Int, _ flags: CommandFlags, acl: String, keys: (Int, Int, Int) = (0, 0, 0),
                     keySpecs: [KeySpec] = [], tips: String = "", docs: String, _ handler: @escaping Handler) {
        self.init(name, arity, flags, acl, keys, keySpecs, tips, docs, handler, [])
    }

    convenience init(_ name: String, arity: Int, _ flags: CommandFlags, acl: String, keys: (Int, Int, Int) = (0, 0, 0),
                     keySpecs: [KeySpec] = [], tips: String = "", docs: String, subcommands: [Command], _ handler: Handler? = nil) {
        self.init(name, arity, flags, acl, keys, keySpecs, tips, docs, handler, subcommands)
    }

    private init(_ name: String, _ arity: Int, _ flags: CommandFlags, _ acl: String, _ keys: (Int, Int, Int),
                 _ keySpecs: [KeySpec], _ tips: String, _ docs: String, _ handler: Handler?, _ subcommands: [Command]) {
        self.name = name
        self.arity = arity
        self.flags = flags
        self.acl = acl
        self.keys = keys
        self.keySpecs = keySpecs
        self.tips = tips
        self.docs = docs
        self.handler = handler
        subcommandList = subcommands
        hasKeys = keySpecs.contains { !$0.isNotKey }
        isConnectionCommand = acl.split(separator: " ").contains { $0 == "@connection" || $0 == "@transaction" }
        self.subcommands = Dictionary(uniqueKeysWithValues: subcommands.map { (String($0.name.split(separator: "|")[1]), $0) })
    }

    /// This container with one more subcommand (a row of OwnCommands.swift joining a generated container).
    func adding(_ sub: Command) -> Command {
        Command(name, arity, flags, acl, keys, keySpecs, tips, docs, handler, subcommandList + [sub])
    }

    var isContainer: Bool { !subcommandList.isEmpty }

    func arityAccepts(_ n: Int) -> Bool { arity >= 0 ? n == arity : n >= -arity }
}

/// An error reply a handler throws: the text without the leading "-", as raw bytes (Redis quotes client
/// input into some errors as it came, not necessarily UTF-8).
struct CommandError: Error {
    let message: [UInt8]

    init(_ text: String) { message = Array(text.utf8) }
    init(bytes: [UInt8]) { message = bytes }

    static let syntax = CommandError("ERR syntax error")
    static let notAnInteger = CommandError("ERR value is not an integer or out of range")
}

/// A command name folded to lower case and packed into 16 bytes: the table is looked up without
/// allocating. Longer names are not commands.
struct CommandName: Hashable {
    let low: UInt64
    let high: UInt64

    /// For the table's own open addressing: a multiplicative hash, a few instructions (Swift's seeded
    /// Hasher took about 200 a lookup, measured with callgrind).
    @inline(__always)
    func slot(bits: Int) -> Int {
        let h = (low &* 0x9E37_79B9_7F4A_7C15) ^ (high &* 0xC2B2_AE3D_27D4_EB4F)
        return Int(truncatingIfNeeded: h >> UInt64(64 - bits))
    }

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count <= 16, bytes.count > 0 else { return nil }
        var w: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &w) { out in
            for i in 0..<bytes.count {
                let c = bytes[i]
                out[i] = c >= 0x41 && c <= 0x5A ? c | 0x20 : c
            }
        }
        low = w.0
        high = w.1
    }

    init(_ s: String) {
        self = Array(s.utf8).withUnsafeBytes { CommandName($0)! }
    }

    /// An empty slot of the table.
    static let none = CommandName(low: 0, high: 0)
    private init(low: UInt64, high: UInt64) { (self.low, self.high) = (low, high) }
}

/// The command table: every command the server knows, checked generically before any handler runs.
struct CommandTable: Sendable {
    /// Name -> command, open addressing with linear probing in a table at most a quarter full; an empty
    /// slot's name is all zero bytes (no command's is).
    private let slotNames: [CommandName]
    private let slotCommands: [Command?]
    /// Each slot's command's first key position (`keys.first`; 0 for none), read without touching the row:
    /// a reference to a row is a retain on a count both event loops write.
    private let slotFirstKeys: [Int8]
    private let slotBits: Int
    /// The top-level commands COMMAND lists, in table order.
    let listed: [Command]
    /// Every row with a handler: commands and the subcommands of containers (INFO commandstats).
    let allRows: [Command]

    /// `rows`: whole commands, and subcommands ("client|setinfo") that join the container of their name.
    init(_ rows: [Command]) {
        var ordered: [Command] = []
        for row in rows {
            if let bar = row.name.firstIndex(of: "|") {
                let parent = String(row.name[..<bar])
                guard let i = ordered.firstIndex(where: { $0.name == parent }) else {
                    preconditionFailure("subcommand \(row.name) before its container")
                }
                ordered[i] = ordered[i].adding(row)
            } else {
                precondition(!ordered.contains { $0.name == row.name }, "command \(row.name) twice")
                ordered.append(row)
            }
        }
        var bits = 4
        while 1 << bits < 4 * ordered.count { bits += 1 }
        var names = [CommandName](repeating: .none, count: 1 << bits)
        var slots = [Command?](repeating: nil, count: 1 << bits)
        for c in ordered {
            let name = CommandName(c.name)
            var i = name.slot(bits: bits)
            while slots[i] != nil { i = (i + 1) & ((1 << bits) - 1) }
            names[i] = name
            slots[i] = c
        }
        (slotNames, slotCommands, slotBits) = (names, slots, bits)
        slotFirstKeys = slots.map { Int8(clamping: $0?.keys.first ?? 0) }
        listed = ordered.filter { !$0.flags.contains(.hidden) }
        allRows = ordered.flatMap { ($0.handler == nil ? [] : [$0]) + $0.subcommandList }
    }

    func lookup(_ name: UnsafeRawBufferPointer) -> Command? {
        slot(of: name).map { slotCommands[$0] } ?? nil
    }

    /// Where the command named `name` has its first key (`keys.first`): 0 for none or an unknown command.
    func firstKeyPosition(_ name: UnsafeRawBufferPointer) -> Int {
        slot(of: name).map { Int(slotFirstKeys[$0]) } ?? 0
    }

    @inline(__always)
    private func slot(of name: UnsafeRawBufferPointer) -> Int? {
        guard let key = CommandName(name) else { return nil }
        let mask = slotNames.count - 1
        var i = key.slot(bits: slotBits)
        while true {
            let n = slotNames[i]
            if n == key { return i }
            if n.low == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    /// The row a call names: the command, or its subcommand when the command is a container called with a
    /// subcommand. `.unknownSubcommand` carries the container.
    enum Resolution {
        case command(Command)
        case unknownCommand
        case unknownSubcommand(Command)
    }

    func resolve(_ args: [UnsafeRawBufferPointer]) -> Resolution {
        guard let command = lookup(args[0]) else { return .unknownCommand }
        guard command.isContainer && args.count >= 2 else { return .command(command) }
        guard let sub = command.subcommands[String(decoding: args[1], as: UTF8.self).lowercased()] else {
            return .unknownSubcommand(command)
        }
        return .command(sub)
    }

    /// Runs one command: the generic checks, in Redis' order, so no handler repeats them; then the handler.
    /// Counts the call for INFO: time, and whether it was refused or failed.
    func execute(_ call: Call) {
        let args = call.args
        let command: Command
        switch resolve(args) {
        case .command(let c): command = c
        case .unknownCommand:
            return reject(call, nil, Array("ERR unknown command '".utf8) + quoted(args[0], max: 128)
                + Array("', with args beginning with: ".utf8) + argumentSummary(args))
        case .unknownSubcommand(let container):
            return reject(call, container,
                Array("ERR unknown subcommand '".utf8) + quoted(args[1], max: 128) + Array("'. Try \(container.name.uppercased()) HELP.".utf8))
        }
        guard command.arityAccepts(args.count), command.handler != nil else {
            return reject(call, command, Array(wrongArityMessage(command.name).utf8))
        }
        let flags = command.flags
        if flags.contains(.protected) && !protectedAllowed(call) {
            return reject(call, command, Array("ERR \(command.name.uppercased()) command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.".utf8))
        }
        if !call.client.authenticated && !flags.contains(.noAuth) {
            return reject(call, command, Array("NOAUTH Authentication required.".utf8))
        }
        if call.server.evictor.hasLimit && call.server.evictor.performEvictions() == .failed && refusedWhenOutOfMemory(command, call) {
            return reject(call, command, Array(outOfMemoryError.utf8))
        }
        let gate = call.server.gate.load(ordering: .relaxed)
        if gate != 0 {
            if gate == gateMisconf && !flags.isDisjoint(with: [.write, .deniedOnDiskError]) {
                return reject(call, command, Array(misconfError.utf8))
            }
            if gate == gateLoading && !flags.contains(.loading) {
                return reject(call, command, Array("LOADING Redis is loading the dataset in memory".utf8))
            }
        }
        if call.client.inSubscribedMode && !flags.contains(.allowedWhileSubscribed) {
            return reject(call, command, Array("ERR Can't execute '\(command.name)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context".utf8))
        }
        if call.client.transaction.isOpen && !flags.contains(.notQueued) {
            if flags.contains(.noMulti) {
                return reject(call, command, Array("ERR Command not allowed inside a transaction".utf8))
            }
            call.client.transaction.queue(command, args)
            return call.reply.simple("QUEUED")
        }
        run(command, call)
    }

    /// Runs a command that passed the checks (or was queued by MULTI, for EXEC): its handler, its reply or
    /// error, and its statistics.
    func run(_ command: Command, _ call: Call) {
        let client = call.client
        let start = client.commandClock != 0 ? client.commandClock : monotonicMicroseconds()
        client.lastCommand = command
        var failure: [UInt8]? = nil
        do {
            try command.handler!(call)  // not .unsafelyUnwrapped: its generic result cost a thunk allocation per call
        } catch let e as CommandError {
            failure = e.message
        } catch let e as StoreError {
            failure = Array(e.redisMessage.utf8)
        } catch {
            failure = Array("ERR \(error)".utf8)
        }
        let end = monotonicMicroseconds()
        client.commandClock = end
        let micros = end - start
        command.stats.microseconds.wrappingAdd(micros, ordering: .relaxed)
        command.stats.calls.wrappingAdd(1, ordering: .relaxed)
        if let failure {
            call.reply.error(bytes: failure)
            command.stats.failed.wrappingAdd(1, ordering: .relaxed)
            failure.withUnsafeBytes { call.server.stats.recordError($0) }
        }
        if call.client.heldPushes != nil { call.client.releaseHeldPushes() }
        if micros >= 1000 { call.server.latency.report(command.flags.contains(.fast) ? "fast-command" : "command", milliseconds: micros / 1000) }
        if Int64(micros) >= call.server.slowlog.threshold.load(ordering: .relaxed) && !command.flags.contains(.skipSlowlog) {
            call.server.slowlog.record(call.args, micros: Int64(micros), client: call.client)
        }
        if !call.server.monitors.isEmpty && command.flags.isDisjoint(with: [.skipMonitor, .admin]) {
            call.server.monitors.feed(call.args, client: call.client)
        }
    }

    /// A command refused before its handler ran: the error reply, counted as rejected. Inside MULTI it
    /// also dooms the transaction (EXEC answers EXECABORT), as Redis' flagTransaction.
    private func reject(_ call: Call, _ command: Command?, _ message: [UInt8]) {
        command?.stats.rejected.wrappingAdd(1, ordering: .relaxed)
        var message = message
        if let command, command.flags.contains(.abortsTransactionWhenRefused) {
            _ = call.client.transaction.close()
            call.client.unwatchAll()
            let reason = message.starts(with: Array("ERR ".utf8)) ? Array(message.dropFirst(4)) : message
            message = Array("EXECABORT Transaction discarded because of: ".utf8) + reason
        } else if call.client.transaction.isOpen {
            call.client.transaction.hasQueueError = true
        }
        call.reply.error(bytes: message)
        message.withUnsafeBytes { call.server.stats.recordError($0) }
    }
}

let outOfMemoryError = "OOM command not allowed when used memory > 'maxmemory'."

/// Over maxmemory with nothing left to evict, Redis' processCommand refuses commands flagged denyoom, an EXEC
/// of a transaction that queued one, and inside MULTI anything it would queue (the queue grows too).
private func refusedWhenOutOfMemory(_ command: Command, _ call: Call) -> Bool {
    let flags = command.flags
    if flags.contains(.denyoom) { return true }
    let t = call.client.transaction
    guard t.isOpen else { return false }
    if flags.contains(.abortsTransactionWhenRefused) { return t.queued.contains { $0.command.flags.contains(.denyoom) } }
    return !flags.contains(.notQueued)
}

/// Whether enable-debug-command lets this client run protected commands.
private func protectedAllowed(_ call: Call) -> Bool {
    switch call.server.settings.enableDebugCommand {
    case "yes": true
    case "local": call.client.isLocal
    default: false
    }
}

/// Client input inside an error text as Redis' "%.*s" puts it there: the bytes as they came (not
/// necessarily UTF-8), up to the first NUL, at most `max` of them.
func quoted(_ bytes: UnsafeRawBufferPointer, max: Int) -> [UInt8] {
    Array(bytes.prefix(max).prefix { $0 != 0 })
}

/// "'a' 'b' " for an unknown command's arguments: each quoted, while the text is under 128 bytes, as Redis does.
private func argumentSummary(_ args: [UnsafeRawBufferPointer]) -> [UInt8] {
    var s: [UInt8] = []
    var i = 1
    while i < args.count && s.count < 128 {
        s += [UInt8(ascii: "'")] + quoted(args[i], max: 128 - s.count) + Array("' ".utf8)
        i += 1
    }
    return s
}

let misconfError = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error."

/// The whole table: Redis' commands, then ours.
let commandTable = CommandTable(redisCommandRows + ownCommandRows)
