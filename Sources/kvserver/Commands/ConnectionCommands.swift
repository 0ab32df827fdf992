import Glibc
import KVEngine
import RESP

// Connection commands: PING ECHO QUIT SELECT AUTH HELLO RESET (CLIENT's subcommands: ClientCommands.swift).
// Rows: CommandRows.swift.

/// The Redis version whose commands and replies we follow; what HELLO reports, so client libraries
/// that check the version enable the right features.
let compatibleRedisVersion = "7.0.15"

/// PING [message]
func pingCommand(_ c: Call) throws {
    guard c.count <= 2 else { throw c.wrongArity() }
    if c.client.inSubscribedMode {
        // RESP2 subscribed mode: a frame the client's message reader understands.
        c.reply.arrayHeader(2)
        c.reply.bulk("pong")
        if c.count == 2 { c.reply.bulk(c[1]) } else { c.reply.bulk("") }
    } else if c.count == 2 {
        c.reply.bulk(c[1])
    } else {
        c.reply.simple("PONG")
    }
}

/// RESET: the connection as it was when it connected — no transaction or watches, no subscriptions,
/// database 0, RESP2, the default user (authenticated only if no password is required), no name.
func resetCommand(_ c: Call) throws {
    c.client.reset()
    c.reply.simple("RESET")
}

/// ECHO message
func echoCommand(_ c: Call) throws { c.reply.bulk(c[1]) }

/// QUIT
func quitCommand(_ c: Call) throws {
    c.reply.ok()
    c.client.closeAfterReply = true
}

/// SELECT index
func selectCommand(_ c: Call) throws {
    c.client.select(try c.databaseIndex(1))
    c.reply.ok()
}

/// AUTH [username] password
func authCommand(_ c: Call) throws {
    guard c.count <= 3 else { throw CommandError.syntax }
    if c.count == 2 && c.server.settings.requirePass.isEmpty {
        throw CommandError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    }
    let user = c.count == 3 ? c.bytes(1) : Array("default".utf8)
    guard c.client.authenticate(user: user, password: c.bytes(c.count - 1)) else { throw wrongPass }
    c.reply.ok()
}

private let wrongPass = CommandError("WRONGPASS invalid username-password pair or user is disabled.")

/// Not a command: the first words of an HTTP request, in the table so that it catches them (Redis'
/// securityWarningCommand).
func crossProtocolCommand(_ c: Call) throws { c.client.abortAsCrossProtocolAttack() }

let invalidClientName = CommandError("ERR Client names cannot contain spaces, newlines or special characters.")

/// Redis allows only printable ASCII without spaces in client names and library attributes.
func validClientName(_ b: UnsafeRawBufferPointer) -> Bool {
    b.allSatisfy { $0 > 0x20 && $0 < 0x7F }
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]: switches the protocol and answers the
/// server's description as a map (a flat array in RESP2).
func helloCommand(_ c: Call) throws {
    var version: Int64? = nil
    if c.count >= 2 {
        guard let v = parseInt64(c[1]) else { throw CommandError("ERR Protocol version is not an integer or out of range") }
        guard v == 2 || v == 3 else { throw CommandError("NOPROTO unsupported protocol version") }
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
            guard validClientName(c[j + 1]) else { throw invalidClientName }
            name = c.bytes(j + 1)
            j += 2
        } else {
            throw c.error("ERR Syntax error in HELLO option '", quoting: j, "'")
        }
    }
    if let credentials, !c.client.authenticate(user: credentials.user, password: credentials.password) {
        throw wrongPass
    }
    guard c.client.authenticated else {
        throw CommandError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
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
