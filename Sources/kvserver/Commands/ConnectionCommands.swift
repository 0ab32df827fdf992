import Glibc
import KVEngine
import RESP

// Connection commands: PING ECHO QUIT SELECT AUTH HELLO and CLIENT's subcommands.

/// The Redis version whose commands and replies we follow; what HELLO reports, so client libraries
/// that check the version enable the right features.
let compatibleRedisVersion = "7.0.15"

let connectionCommands: [Command] = [
    Command("ping", arity: -1) { c in
        switch c.count {
        case 1: c.reply.simple("PONG")
        case 2: c.reply.bulk(c[1])
        default: c.wrongArity("ping")
        }
    },
    Command("echo", arity: 2) { c in c.reply.bulk(c[1]) },
    Command("quit", arity: -1, [.noAuth, .okLoading]) { c in
        c.reply.ok()
        c.client.closeAfterReply = true
    },
    Command("select", arity: 2, .okLoading) { c in
        guard let index = parseInt64(c[1]) else { return c.reply.error("ERR value is not an integer or out of range") }
        guard index >= Int64(Int32.min), index <= Int64(Int32.max) else {
            return c.reply.error("ERR value is out of range, value must between -2147483648 and 2147483647")
        }
        guard index >= 0 && index < Int64(c.server.databases.count) else {
            return c.reply.error("ERR DB index is out of range")
        }
        c.client.select(Int(index))
        c.reply.ok()
    },
    Command("auth", arity: -2, [.noAuth, .okLoading]) { c in
        guard c.count <= 3 else { return c.syntaxError() }
        if c.count == 2 && c.server.settings.requirePass.isEmpty {
            return c.reply.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
        }
        let user = c.count == 3 ? c.bytes(1) : Array("default".utf8)
        guard c.client.authenticate(user: user, password: c.bytes(c.count - 1)) else {
            return c.reply.error("WRONGPASS invalid username-password pair or user is disabled.")
        }
        c.reply.ok()
    },
    Command("hello", arity: -1, [.noAuth, .okLoading]) { c in hello(c) },
    // Not commands: the first words of an HTTP request, registered so the table catches them (as Redis does).
    Command("post", arity: -1, [.noAuth, .okLoading]) { c in c.client.abortAsCrossProtocolAttack() },
    Command("host:", arity: -1, [.noAuth, .okLoading]) { c in c.client.abortAsCrossProtocolAttack() },
    Command(container: "client", subcommands: [
        Command("client|id", arity: 2, .okLoading) { c in c.reply.integer(c.client.id) },
        Command("client|getname", arity: 2, .okLoading) { c in c.reply.bulk(c.client.name) },
        Command("client|setname", arity: 3, .okLoading) { c in
            guard validClientName(c[2]) else {
                return c.reply.error("ERR Client names cannot contain spaces, newlines or special characters.")
            }
            c.client.name = c[2].isEmpty ? nil : c.bytes(2)
            c.reply.ok()
        },
        Command("client|setinfo", arity: 4, .okLoading) { c in
            let isName = c.argument(2, is: "lib-name")
            guard isName || c.argument(2, is: "lib-ver") else {
                return c.error("ERR Unrecognized option '", quoting: 2, "'")
            }
            guard validClientName(c[3]) else {
                return c.reply.error("ERR \(isName ? "lib-name" : "lib-ver") cannot contain spaces, newlines or special characters.")
            }
            if isName { c.client.libraryName = c.string(3) } else { c.client.libraryVersion = c.string(3) }
            c.reply.ok()
        },
        Command("client|help", arity: 2, .okLoading) { c in
            c.help([
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME", "    Return the name of the current connection.",
                "ID", "    Return the ID of the current connection.",
                "SETINFO <option> <value>", "    Set client meta attr. Options are:",
                "    * LIB-NAME: the client lib name.", "    * LIB-VER: the client lib version.",
                "SETNAME <name>", "    Assign the name <name> to the current connection.",
                "HELP", "    Print this help.",
            ])
        },
    ]),
]

/// Redis allows only printable ASCII without spaces in client names and library attributes.
private func validClientName(_ b: UnsafeRawBufferPointer) -> Bool {
    b.allSatisfy { $0 > 0x20 && $0 < 0x7F }
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]: switches the protocol and answers the
/// server's description as a map (a flat array in RESP2).
private func hello(_ c: Call) {
    var version: Int64? = nil
    if c.count >= 2 {
        guard let v = parseInt64(c[1]) else {
            return c.reply.error("ERR Protocol version is not an integer or out of range")
        }
        guard v == 2 || v == 3 else { return c.reply.error("NOPROTO unsupported protocol version") }
        version = v
    }
    var credentials: (user: [UInt8], password: [UInt8])? = nil
    var name: [UInt8]? = nil
    var j = 2
    while j < c.count {
        let more = c.count - 1 - j
        if c.argument(j, is: "auth") && more >= 2 {
            credentials = (c.bytes(j + 1), c.bytes(j + 2))
            j += 3
        } else if c.argument(j, is: "setname") && more >= 1 {
            guard validClientName(c[j + 1]) else {
                return c.reply.error("ERR Client names cannot contain spaces, newlines or special characters.")
            }
            name = c.bytes(j + 1)
            j += 2
        } else {
            return c.error("ERR Syntax error in HELLO option '", quoting: j, "'")
        }
    }
    if let credentials, !c.client.authenticate(user: credentials.user, password: credentials.password) {
        return c.reply.error("WRONGPASS invalid username-password pair or user is disabled.")
    }
    guard c.client.authenticated else {
        return c.reply.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
    }
    if let name { c.client.name = name.isEmpty ? nil : name }
    if let version { c.client.setProtocol(resp3: version == 3) }
    let r = c.reply
    r.mapHeader(7)
    r.bulk("server"); r.bulk("redis")
    r.bulk("version"); r.bulk(compatibleRedisVersion)
    r.bulk("proto"); r.integer(c.client.resp3 ? 3 : 2)
    r.bulk("id"); r.integer(c.client.id)
    r.bulk("mode"); r.bulk("standalone")
    r.bulk("role"); r.bulk("master")
    r.bulk("modules"); r.arrayHeader(0)
}
