import KVEngine

struct CommandFlags: OptionSet, Sendable {
    let rawValue: UInt8
    /// Changes data.
    static let write = CommandFlags(rawValue: 1)
    /// Only reads data.
    static let readonly = CommandFlags(rawValue: 2)
    /// Allowed before AUTH when a password is required (AUTH, HELLO, QUIT).
    static let noAuth = CommandFlags(rawValue: 4)
    /// Server administration (CONFIG, SHUTDOWN).
    static let admin = CommandFlags(rawValue: 8)
    /// Served while the snapshot loads at start-up (Redis' CMD_LOADING); others get -LOADING.
    static let okLoading = CommandFlags(rawValue: 16)
    /// Refused unless enable-debug-command allows it (Redis' CMD_PROTECTED), right after the arity check.
    static let protected = CommandFlags(rawValue: 32)
}

/// A handler gets the call (arguments, client) and writes exactly one reply.
typealias Handler = @Sendable (Call) -> Void

/// One row of the command table, as in Redis' command table: name, arity (positive: exactly that many
/// words counting the name; negative: at least that many), flags, key positions (first, last, step;
/// last -1 = the final argument), and the handler. Container commands (CLIENT, CONFIG) have subcommands
/// instead of a handler; each subcommand is a full row of its own, named "client|id" and so on.
struct Command: Sendable {
    let name: String
    let arity: Int
    let flags: CommandFlags
    let keys: (first: Int, last: Int, step: Int)
    let handler: Handler?
    let subcommands: [String: Command]
    /// INFO commandstats (subcommands count on their own rows, as Redis' `config|get`).
    let stats = CommandStats()

    init(_ name: String, arity: Int, _ flags: CommandFlags = [], keys: (Int, Int, Int) = (0, 0, 0), _ handler: @escaping Handler) {
        self.name = name
        self.arity = arity
        self.flags = flags
        self.keys = keys
        self.handler = handler
        self.subcommands = [:]
    }

    init(container name: String, arity: Int = -2, _ flags: CommandFlags = [], subcommands: [Command]) {
        self.name = name
        self.arity = arity
        self.flags = flags
        self.keys = (0, 0, 0)
        self.handler = nil
        self.subcommands = Dictionary(uniqueKeysWithValues: subcommands.map { (String($0.name.split(separator: "|")[1]), $0) })
    }

    func arityAccepts(_ n: Int) -> Bool { arity >= 0 ? n == arity : n >= -arity }
}

/// A command name folded to lower case and packed into 16 bytes: the table is looked up without
/// allocating. Longer names are not commands.
struct CommandName: Hashable {
    let low: UInt64
    let high: UInt64

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
}

/// The command table: every command the server knows, checked generically before any handler runs.
struct CommandTable: Sendable {
    private let commands: [CommandName: Command]
    /// Every row with a handler: commands and the subcommands of containers (INFO commandstats).
    let allRows: [Command]

    init(_ rows: [[Command]]) {
        var t: [CommandName: Command] = [:]
        for c in rows.joined() { t[CommandName(c.name)] = c }
        commands = t
        allRows = t.values.flatMap { $0.handler == nil ? Array($0.subcommands.values) : [$0] }
    }

    func lookup(_ name: UnsafeRawBufferPointer) -> Command? {
        guard let key = CommandName(name) else { return nil }
        return commands[key]
    }

    /// Runs one command: unknown command, arity and authentication are checked here, in Redis' order,
    /// so no handler repeats them. Counts the call for INFO: time, and whether it was refused or failed
    /// (an error reply, seen as a '-' where its reply starts).
    func execute(_ call: Call) {
        let args = call.args
        guard var command = lookup(args[0]) else {
            return reject(call, nil, Array("ERR unknown command '".utf8) + quoted(args[0], max: 128)
                + Array("', with args beginning with: ".utf8) + argumentSummary(args))
        }
        if command.flags.contains(.protected) {
            guard command.arityAccepts(args.count) else { return reject(call, command, wrongArityMessage(command.name)) }
            guard protectedAllowed(call) else {
                return reject(call, command, "ERR \(command.name.uppercased()) command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
            }
        }
        if command.handler == nil {
            guard command.arityAccepts(args.count) else { return reject(call, command, wrongArityMessage(command.name)) }
            guard let sub = command.subcommands[String(decoding: args[1], as: UTF8.self).lowercased()] else {
                return reject(call, command,
                    Array("ERR unknown subcommand '".utf8) + quoted(args[1], max: 128) + Array("'. Try \(command.name.uppercased()) HELP.".utf8))
            }
            command = sub
        }
        guard command.arityAccepts(args.count) else { return reject(call, command, wrongArityMessage(command.name)) }
        if !call.client.authenticated && !command.flags.contains(.noAuth) {
            return reject(call, command, "NOAUTH Authentication required.")
        }
        let gate = call.server.gate.load(ordering: .relaxed)
        if gate != 0 {
            if gate == gateLoading && !command.flags.contains(.okLoading) {
                return reject(call, command, "LOADING Redis is loading the dataset in memory")
            }
            if gate == gateMisconf && (command.flags.contains(.write) || command.name == "ping") {
                return reject(call, command, misconfError)
            }
        }
        let output = call.client.output
        let mark = output.count
        let start = monotonicMicroseconds()
        command.handler!(call)
        command.stats.microseconds.add(monotonicMicroseconds() - start, ordering: .relaxed)
        command.stats.calls.add(1, ordering: .relaxed)
        if output.count > mark && output.readable[mark] == UInt8(ascii: "-") {
            command.stats.failed.add(1, ordering: .relaxed)
            call.server.stats.recordError(UnsafeRawBufferPointer(rebasing: output.readable[(mark + 1)...]))
        }
    }

    /// A command refused before its handler ran: the error reply, counted as rejected.
    private func reject(_ call: Call, _ command: Command?, _ message: String) {
        reject(call, command, Array(message.utf8))
    }

    private func reject(_ call: Call, _ command: Command?, _ message: [UInt8]) {
        command?.stats.rejected.add(1, ordering: .relaxed)
        call.reply.error(bytes: message)
        message.withUnsafeBytes { call.server.stats.recordError($0) }
    }
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
