import Glibc
import RESP

// The interactive mode: a prompt ("127.0.0.1:6379> ", "[n]" after SELECT n), arguments split with Redis'
// quoting rules (sdssplitargs), `help`, `quit`. Without a terminal on standard input it reads one
// command per line with no prompt, as redis-cli does, so `printf 'set a 1\nget a\n' | kvcli` works.

func interactive(_ first: Client, _ o: Options) -> Int32 {
    let tty = isatty(0) != 0
    var client = first
    var db = o.database
    while true {
        if tty { writeOut(Array("\(o.host):\(o.port)\(db == 0 ? "" : "[\(db)]")> ".utf8)) }
        guard let line = readLine(strippingNewline: true) else {
            if tty { writeOut([10]) }
            return 0
        }
        var storage: [UInt8] = []
        var spans: [Range<Int>] = []
        let balanced = Array(line.utf8).withUnsafeBytes { splitInlineArguments($0, into: &storage, &spans) }
        guard balanced else {
            writeOut(Array("Invalid argument(s)\n".utf8))
            continue
        }
        let args = spans.map { Array(storage[$0]) }
        guard let first = args.first else { continue }
        switch String(decoding: first, as: UTF8.self).lowercased() {
        case "quit", "exit":
            return 0
        case "help":
            writeOut(Array(helpText(args.dropFirst().map { String(decoding: $0, as: UTF8.self) }).utf8))
            continue
        case "clear" where args.count == 1:
            writeOut(Array("\u{1B}[H\u{1B}[2J".utf8))
            continue
        default:
            break
        }
        let reply: RESPValue
        do {
            reply = try client.call(args)
        } catch {
            // The server went away (restart, timeout): reconnect once (AUTH and SELECT again) and retry.
            warn("Error: Server closed the connection")
            var again = o
            again.database = db
            again.authWarning = false
            client = connectOrExit(again)
            guard let retried = try? client.call(args) else { connectionLost(o) }
            reply = retried
        }
        printReply(reply, o)
        if case .simple("OK") = reply, args.count == 2, String(decoding: args[0], as: UTF8.self).lowercased() == "select",
           let n = Int(String(decoding: args[1], as: UTF8.self)) {
            db = n
        }
    }
}

/// `help`, `help <command>`, `help @<group>`: the commands the server knows, with their arguments.
func helpText(_ topic: [String]) -> String {
    guard let word = topic.first?.lowercased() else {
        return """
            kvcli 0.3.0 (the server speaks Redis' protocol: redis-cli works too)
            To get help about commands type:
                  "help @<group>" to get a list of commands in <group> (\(commandGroups.map(\.0).joined(separator: ", ")))
                  "help <command>" for help on <command>
                  "quit" to exit

            """
    }
    if word.hasPrefix("@") {
        guard let group = commandGroups.first(where: { "@" + $0.0 == word }) else { return "No such group: \(word)\n" }
        return group.1.map { usageLine($0) }.joined()
    }
    let name = topic.joined(separator: " ").lowercased()
    for (_, commands) in commandGroups {
        if let c = commands.first(where: { $0.name.lowercased() == name }) { return usageLine(c) }
    }
    return "No help for '\(topic.joined(separator: " "))'\n"
}

private func usageLine(_ c: (name: String, args: String, summary: String)) -> String {
    "\n  \(c.name) \(c.args)\n  summary: \(c.summary)\n"
}

/// kvcli's help table (redis-cli keeps one too: help.h).
private let commandGroups: [(String, [(name: String, args: String, summary: String)])] = [
    ("string", [
        ("GET", "key", "Get the value of a key"),
        ("SET", "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time|PXAT unix-time-ms|KEEPTTL]", "Set the string value of a key"),
        ("SETNX", "key value", "Set the value of a key, only if the key does not exist"),
        ("SETEX", "key seconds value", "Set the value and expiration of a key"),
        ("PSETEX", "key milliseconds value", "Set the value and expiration in milliseconds of a key"),
        ("GETSET", "key value", "Set the string value of a key and return its old value"),
        ("GETDEL", "key", "Get the value of a key and delete the key"),
        ("GETEX", "key [EX seconds|PX milliseconds|EXAT unix-time|PXAT unix-time-ms|PERSIST]", "Get the value of a key and optionally set its expiration"),
        ("MGET", "key [key ...]", "Get the values of all the given keys"),
        ("MSET", "key value [key value ...]", "Set multiple keys to multiple values"),
        ("MSETNX", "key value [key value ...]", "Set multiple keys to multiple values, only if none of the keys exist"),
        ("INCR", "key", "Increment the integer value of a key by one"),
        ("DECR", "key", "Decrement the integer value of a key by one"),
        ("INCRBY", "key increment", "Increment the integer value of a key by the given amount"),
        ("DECRBY", "key decrement", "Decrement the integer value of a key by the given number"),
        ("INCRBYFLOAT", "key increment", "Increment the float value of a key by the given amount"),
        ("APPEND", "key value", "Append a value to a key"),
        ("STRLEN", "key", "Get the length of the value stored in a key"),
        ("GETRANGE", "key start end", "Get a substring of the string stored at a key"),
        ("SETRANGE", "key offset value", "Overwrite part of a string at key starting at the specified offset"),
    ]),
    ("generic", [
        ("DEL", "key [key ...]", "Delete a key"),
        ("UNLINK", "key [key ...]", "Delete a key"),
        ("EXISTS", "key [key ...]", "Determine if a key exists"),
        ("TYPE", "key", "Determine the type stored at key"),
        ("KEYS", "pattern", "Find all keys matching the given pattern"),
        ("SCAN", "cursor [MATCH pattern] [COUNT count] [TYPE type]", "Incrementally iterate the keys space"),
        ("RANDOMKEY", "", "Return a random key from the keyspace"),
        ("RENAME", "key newkey", "Rename a key"),
        ("RENAMENX", "key newkey", "Rename a key, only if the new key does not exist"),
        ("EXPIRE", "key seconds [NX|XX|GT|LT]", "Set a key's time to live in seconds"),
        ("PEXPIRE", "key milliseconds [NX|XX|GT|LT]", "Set a key's time to live in milliseconds"),
        ("EXPIREAT", "key unix-time-seconds [NX|XX|GT|LT]", "Set the expiration for a key as a UNIX timestamp"),
        ("PEXPIREAT", "key unix-time-milliseconds [NX|XX|GT|LT]", "Set the expiration for a key as a UNIX timestamp in milliseconds"),
        ("TTL", "key", "Get the time to live for a key in seconds"),
        ("PTTL", "key", "Get the time to live for a key in milliseconds"),
        ("PERSIST", "key", "Remove the expiration from a key"),
    ]),
    ("connection", [
        ("PING", "[message]", "Ping the server"),
        ("ECHO", "message", "Echo the given string"),
        ("AUTH", "[username] password", "Authenticate to the server"),
        ("HELLO", "[protover [AUTH username password] [SETNAME clientname]]", "Handshake with the server"),
        ("SELECT", "index", "Change the selected database for the current connection"),
        ("CLIENT ID", "", "Returns the client ID for the current connection"),
        ("CLIENT SETNAME", "connection-name", "Set the current connection name"),
        ("CLIENT GETNAME", "", "Get the current connection name"),
        ("QUIT", "", "Close the connection"),
    ]),
    ("server", [
        ("DBSIZE", "", "Return the number of keys in the selected database"),
        ("FLUSHDB", "[ASYNC|SYNC]", "Remove all keys from the current database"),
        ("FLUSHALL", "[ASYNC|SYNC]", "Remove all keys from all databases"),
        ("INFO", "[section [section ...]]", "Get information and statistics about the server"),
        ("STATS", "[SHARD n]", "Hash map statistics of the selected database: buckets, chains, growth"),
        ("VERIFY", "", "Check every invariant of every shard's map"),
        ("CONFIG GET", "parameter [parameter ...]", "Get the values of configuration parameters"),
        ("CONFIG SET", "parameter value [parameter value ...]", "Set configuration parameters to the given values"),
        ("CONFIG RESETSTAT", "", "Reset the stats returned by INFO"),
        ("SAVE", "", "Synchronously save the dataset to disk"),
        ("BGSAVE", "[SCHEDULE]", "Asynchronously save the dataset to disk"),
        ("LASTSAVE", "", "Get the UNIX time stamp of the last successful save to disk"),
        ("TIME", "", "Return the current server time"),
        ("SHUTDOWN", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]", "Synchronously save the dataset to disk and then shut down the server"),
    ]),
]
