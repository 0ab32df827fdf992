import KVEngine
import RESP

func wrongArityMessage(_ name: String) -> String { "ERR wrong number of arguments for '\(name)' command" }

/// One command being executed: its arguments (valid only during the call) and the client. Handlers read
/// arguments through the helpers below, which throw Redis' error texts for malformed numbers.
struct Call {
    let args: [UnsafeRawBufferPointer]
    let client: Connection

    var reply: ReplyWriter { client.reply }
    var server: Server { client.server }
    var db: Store { client.database }

    subscript(_ i: Int) -> UnsafeRawBufferPointer { args[i] }

    var count: Int { args.count }

    /// Whether argument `i` equals `word` (lower-case ASCII), ignoring case.
    func argument(_ i: Int, is word: StaticString) -> Bool {
        let a = args[i]
        guard a.count == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for j in 0..<a.count {
            let c = a[j]
            if (c >= 0x41 && c <= 0x5A ? c | 0x20 : c) != w[j] { return false }
        }
        return true
    }

    func string(_ i: Int) -> String { String(decoding: args[i], as: UTF8.self) }

    /// Argument `i` (2 or 3) of the next pipelined request when it is this same command on this same key
    /// (HSET after HSET on one hash: its field; ZADD after ZADD: its member), and of the request after it
    /// when that one is too: the store prefetches where it will look for them (`UpcomingElements`). A hint
    /// only: with options in front it names something else.
    func upcomingArgument(_ i: Int) -> UpcomingElements {
        guard let u = client.upcomingSameKey, let next = CommandName(u.name), next == CommandName(args[0]) else { return .none }
        return i == 2 ? UpcomingElements(next: u.second, afterNext: u.afterNext?.second)
            : UpcomingElements(next: u.third, afterNext: u.afterNext?.third)
    }

    func bytes(_ i: Int) -> [UInt8] { Array(args[i]) }

    /// Argument `i` as a 64-bit integer, or the error "value is not an integer or out of range".
    func integer(_ i: Int) throws(CommandError) -> Int64 {
        guard let v = parseInt64(args[i]) else { throw .notAnInteger }
        return v
    }

    /// Argument `i` as a database number (SELECT, MOVE, COPY ... DB), with Redis' errors: an int, then in range.
    func databaseIndex(_ i: Int) throws(CommandError) -> Int {
        let index = try integer(i)
        guard index >= Int64(Int32.min), index <= Int64(Int32.max) else {
            throw CommandError("ERR value is out of range, value must between -2147483648 and 2147483647")
        }
        guard index >= 0 && index < Int64(server.databases.count) else { throw CommandError("ERR DB index is out of range") }
        return Int(index)
    }

    /// For a command that, in Redis, looks its key (argument `i`) up and checks its type before it reads
    /// the rest of its arguments: that lookup (an access: OBJECT IDLETIME), WRONGTYPE when the key holds
    /// another type than `type`, and whether the key exists. Its callers then report the argument's error.
    func lookUpFirst(_ i: Int, expecting type: ValueType) throws -> Bool {
        guard let t = db.type(args[i], touching: true) else { return false }
        if t != type { throw StoreError.wrongType }
        return true
    }

    /// The error of a command called with a wrong number of arguments that only its handler can tell.
    func wrongArity() -> CommandError { CommandError(wrongArityMessage(string(0).lowercased())) }

    /// An error text with argument `i` where Redis' "%s" puts it: the raw bytes, up to the first NUL.
    func error(_ before: String, quoting i: Int, _ after: String = "") -> CommandError {
        CommandError(bytes: Array(before.utf8) + quoted(args[i], max: Int.max) + Array(after.utf8))
    }

    /// Redis' addReplySubcommandSyntaxError, for a command that reads its own subcommands (DEBUG).
    func unknownSubcommand() -> CommandError {
        error("ERR unknown subcommand or wrong number of arguments for '", quoting: 1, "'. Try \(string(0).uppercased()) HELP.")
    }

    /// A container command's HELP: one status line per line of text.
    func help(_ lines: [String]) {
        reply.arrayHeader(lines.count)
        for l in lines { reply.simple(l) }
    }

    /// INFO's keyspace_hits / keyspace_misses, counted by the commands that read a value (GET, MGET,
    /// GETDEL, GETEX).
    @inline(__always)
    func countLookup(_ hit: Bool) {
        if hit {
            server.stats.keyspaceHits.wrappingAdd(1, ordering: .relaxed)
        } else {
            server.stats.keyspaceMisses.wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// The arguments from `from` on, without a copy: the elements of LPUSH, SADD, HSET's pairs...
    func rest(from: Int) -> ArraySlice<UnsafeRawBufferPointer> { args[from...] }

    /// The arguments from `from` on, `step` apart: the keys of DEL, MGET, EXISTS...
    func keys(from: Int = 1, step: Int = 1) -> [UnsafeRawBufferPointer] {
        stride(from: from, to: args.count, by: step).map { args[$0] }
    }
}
