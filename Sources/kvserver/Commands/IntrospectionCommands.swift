import KVEngine
import RESP

// COMMAND and its subcommands (Redis' server.c): the command table described to clients, from its rows
// (CommandTable.swift). Clients call these on connect (redis-cli's hints, go-redis, ioredis, redis-py's
// cluster client); proxies use GETKEYS.

/// COMMAND
func commandCommand(_ c: Call) throws {
    c.reply.arrayHeader(commandTable.listed.count)
    for command in commandTable.listed { writeInfo(command, c.reply) }
}

/// COMMAND COUNT
func commandCountCommand(_ c: Call) throws { c.reply.integer(commandTable.listed.count) }

/// COMMAND INFO [command-name ...]
func commandInfoCommand(_ c: Call) throws {
    if c.count == 2 { return try commandCommand(c) }
    c.reply.arrayHeader(c.count - 2)
    for i in 2..<c.count {
        if let command = lookupByFullName(c[i]) { writeInfo(command, c.reply) } else { c.reply.nullArray() }
    }
}

/// COMMAND DOCS [command-name ...]
func commandDocsCommand(_ c: Call) throws {
    let commands = c.count == 2 ? commandTable.listed : (2..<c.count).compactMap { lookupByFullName(c[$0]) }
    c.reply.mapHeader(commands.count)
    for command in commands {
        c.reply.bulk(command.name)
        writeDocs(command, c.reply)
    }
}

/// COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]
func commandListCommand(_ c: Call) throws {
    var filter: (Command) -> Bool = { _ in true }
    if c.count != 2 {
        guard c.count == 5, c.argument(2, is: "filterby") else { throw CommandError.syntax }
        if c.argument(3, is: "module") {
            filter = { _ in false }  // no modules here
        } else if c.argument(3, is: "aclcat") {
            let category = "@" + c.string(4).lowercased()
            filter = { $0.acl.split(separator: " ").contains(Substring(category)) }
        } else if c.argument(3, is: "pattern") {
            // Redis matches without case; command names are lower case, so a lower-cased pattern does the same.
            let pattern = GlobPattern(c.bytes(4).map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 })
            filter = { pattern.matches(Array($0.name.utf8)) }
        } else {
            throw CommandError.syntax
        }
    }
    let names = commandTable.listed.flatMap { [$0] + $0.subcommandList }.filter(filter).map(\.name)
    c.reply.arrayHeader(names.count)
    for n in names { c.reply.bulk(n) }
}

/// COMMAND GETKEYS command [arg ...]
func commandGetkeysCommand(_ c: Call) throws { try getKeys(c, withFlags: false) }

/// COMMAND GETKEYSANDFLAGS command [arg ...]
func commandGetkeysandflagsCommand(_ c: Call) throws { try getKeys(c, withFlags: true) }

/// COMMAND HELP
func commandHelpCommand(_ c: Call) throws {
    c.help([
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)", "    Return details about all Redis commands.",
        "COUNT", "    Return the total number of commands in this Redis server.",
        "LIST", "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all", "    commands are returned.",
        "DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all", "    commands are returned.",
        "GETKEYS <full-command>", "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full Redis command.",
        "HELP", "    Prints this help.",
    ])
}

/// Redis' getKeysSubcommandImpl.
private func getKeys(_ c: Call, withFlags: Bool) throws {
    let args = Array(c.args[2...])
    guard case .command(let command) = commandTable.resolve(args) else {
        throw CommandError("ERR Invalid command specified")
    }
    guard command.hasKeys else { throw CommandError("ERR The command has no key arguments") }
    guard command.arityAccepts(args.count) else { throw CommandError("ERR Invalid number of arguments specified for command") }
    guard let keys = command.keyPositions(args) ?? keysFunctions[command.name]?(args) else {
        if command.flags.contains(.noMandatoryKeys) { return c.reply.arrayHeader(0) }
        throw CommandError("ERR Invalid arguments specified for command")
    }
    c.reply.arrayHeader(keys.count)
    for k in keys {
        if withFlags {
            c.reply.arrayHeader(2)
            c.reply.bulk(args[k.position])
            statusSet(k.flags, c.reply)
        } else {
            c.reply.bulk(args[k.position])
        }
    }
}

/// A command or subcommand by its full name ("get", "config|get"), as Redis' lookupCommandBySds.
private func lookupByFullName(_ name: UnsafeRawBufferPointer) -> Command? {
    let parts = name.split(separator: UInt8(ascii: "|"), maxSplits: 1, omittingEmptySubsequences: false)
    guard let command = parts.first.flatMap({ $0.withUnsafeBytes { commandTable.lookup($0) } }) else { return nil }
    guard parts.count == 2 else { return command.flags.contains(.hidden) ? nil : command }
    return command.subcommands[String(decoding: parts[1], as: UTF8.self).lowercased()]
}

/// Redis' addReplyCommandInfo: name, arity, flags, first key, last key, step, ACL categories, tips, key
/// specifications, subcommands.
private func writeInfo(_ command: Command, _ r: ReplyWriter) {
    r.arrayHeader(10)
    r.bulk(command.name)
    r.integer(command.arity)
    let flags = CommandFlags.redisNames.filter { command.flags.contains($0.0) }.map(\.1)
    r.setHeader(flags.count)
    for f in flags { r.simple(f) }
    r.integer(command.keys.first)
    r.integer(command.keys.last)
    r.integer(command.keys.step)
    statusSet(command.acl, r)
    let tips = command.tips.split(separator: " ")
    r.setHeader(tips.count)  // bulk strings, unlike the flags
    for t in tips { r.bulk(String(t)) }
    // Sets in RESP3, as Redis 7.0 writes them.
    r.setHeader(command.keySpecs.count)
    for spec in command.keySpecs { writeKeySpec(spec, r) }
    r.setHeader(command.subcommandList.count)
    for sub in command.subcommandList { writeInfo(sub, r) }
}

private func writeKeySpec(_ spec: KeySpec, _ r: ReplyWriter) {
    r.mapHeader(spec.notes == nil ? 3 : 4)
    if let notes = spec.notes {
        r.bulk("notes")
        r.bulk(notes)
    }
    r.bulk("flags")
    statusSet(spec.flags, r)
    /// {type: `type`, spec: {`fields` pairs, written by `body`}}
    func part(_ name: String, _ type: String, fields: Int, _ body: () -> Void) {
        r.bulk(name)
        r.mapHeader(2)
        r.bulk("type"); r.bulk(type)
        r.bulk("spec"); r.mapHeader(fields)
        body()
    }
    switch spec.begin {
    case .index(let i):
        part("begin_search", "index", fields: 1) { r.bulk("index"); r.integer(i) }
    case .keyword(let word, let startFrom):
        part("begin_search", "keyword", fields: 2) {
            r.bulk("keyword"); r.bulk(word)
            r.bulk("startfrom"); r.integer(startFrom)
        }
    case .unknown:
        part("begin_search", "unknown", fields: 0) {}
    }
    switch spec.find {
    case .range(let lastKey, let step, let limit):
        part("find_keys", "range", fields: 3) {
            r.bulk("lastkey"); r.integer(lastKey)
            r.bulk("keystep"); r.integer(step)
            r.bulk("limit"); r.integer(limit)
        }
    case .keyNumber(let index, let firstKey, let step):
        part("find_keys", "keynum", fields: 3) {
            r.bulk("keynumidx"); r.integer(index)
            r.bulk("firstkey"); r.integer(firstKey)
            r.bulk("keystep"); r.integer(step)
        }
    case .unknown:
        part("find_keys", "unknown", fields: 0) {}
    }
}

/// Redis' addReplyCommandDocs: the row's own map, with its subcommands' docs as one more field.
private func writeDocs(_ command: Command, _ r: ReplyWriter) {
    guard case .map(var fields) = parsedDocs(command.docs) else { return r.mapHeader(0) }
    if command.isContainer {
        // Written below, after the row's own fields, as Redis orders them.
        fields.append((.bulk(Array("subcommands".utf8)), .null))
    }
    r.mapHeader(fields.count)
    for (k, v) in fields {
        r.value(k)
        if case .null = v, command.isContainer {
            r.mapHeader(command.subcommandList.count)
            for sub in command.subcommandList {
                r.bulk(sub.name)
                writeDocs(sub, r)
            }
        } else {
            r.value(v)
        }
    }
}

/// A row's docs text parsed (it is RESP3 text written by the generator, or by OwnCommands' helper).
private func parsedDocs(_ text: String) -> RESPValue? {
    var text = text
    return text.withUTF8 { b in (try? parseReply(UnsafeRawBufferPointer(b)))?.0 }
}

/// A set of status replies from space-separated words (flags, ACL categories, tips).
private func statusSet(_ words: String, _ r: ReplyWriter) {
    let list = words.split(separator: " ")
    r.setHeader(list.count)
    for w in list { r.simple(String(w)) }
}
