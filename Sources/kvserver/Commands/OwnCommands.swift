// Rows written by hand: our own commands (not Redis'), and those newer than the Redis 7.0 the generated
// rows come from (CommandRows.swift). A subcommand row joins the generated container of its name.

let ownCommandRows: [Command] = [
    Command(
        "stats", arity: -1, [.readonly, .loading, .stale], acl: "@read @slow",
        docs: docs("Draw the selected database's maps: buckets, chains, growth, memory (kvserver)", group: "server",
                   complexity: "O(N) where N is the number of buckets"),
        statsCommand),
    Command(
        // Not inside MULTI: it answers from another thread (Connection.replyLater).
        "verify", arity: 1, [.readonly, .loading, .stale, .noMulti], acl: "@read @slow",
        docs: docs("Check every invariant of every map, inner structures included (kvserver)", group: "server",
                   complexity: "O(N) where N is the number of keys"),
        verifyCommand),
    Command(
        "client|setinfo", arity: 4, [.noscript, .loading, .stale], acl: "@slow @connection",
        docs: docs("Set client or connection specific info", since: "7.2.0", group: "connection", complexity: "O(1)"),
        clientSetinfoCommand),
    Command("post", arity: -1, [.noAuth, .loading, .stale, .hidden], acl: "", docs: "", crossProtocolCommand),
    Command("host:", arity: -1, [.noAuth, .loading, .stale, .hidden], acl: "", docs: "", crossProtocolCommand),
]

/// COMMAND DOCS' map for a row written by hand, as RESP3 text (the generated rows carry Redis' own).
private func docs(_ summary: String, since: String = "1.0.0", group: String, complexity: String) -> String {
    let fields = [("summary", summary), ("since", since), ("group", group), ("complexity", complexity)]
    return "%\(fields.count)\r\n" + fields.map { bulk($0.0) + bulk($0.1) }.joined()
}

private func bulk(_ s: String) -> String { "$\(s.utf8.count)\r\n\(s)\r\n" }
