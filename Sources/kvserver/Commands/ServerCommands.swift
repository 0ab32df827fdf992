import Foundation
import Glibc
import KVEngine

// Server commands: CONFIG GET/SET (through the directive table), TIME, SHUTDOWN. Rows: CommandRows.swift.

/// TIME
func timeCommand(_ c: Call) throws {
    var tv = timeval()
    gettimeofday(&tv, nil)
    c.reply.arrayHeader(2)
    c.reply.bulk(String(tv.tv_sec))
    c.reply.bulk(String(tv.tv_usec))
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
func shutdownCommand(_ c: Call) throws {
    var save: Bool? = nil
    var force = false
    var abort = false
    for j in 1..<c.count {
        if c.argument(j, is: "nosave") || c.argument(j, is: "save") {
            let wanted = c.argument(j, is: "save")
            if save == !wanted { throw CommandError.syntax }  // SAVE and NOSAVE together
            save = wanted
        } else if c.argument(j, is: "now") {
            continue
        } else if c.argument(j, is: "force") {
            force = true
        } else if c.argument(j, is: "abort") {
            abort = true
        } else {
            throw CommandError.syntax
        }
    }
    if abort { throw c.count == 2 ? CommandError("ERR No shutdown in progress.") : CommandError.syntax }
    // Save here, on this connection's thread as Redis does, so that a failure can be the reply.
    c.server.log.warning("User requested shutdown...")
    if save ?? !c.server.settings.savePoints.isEmpty {
        if !c.server.persistence.saveBeforeExit() && !force { throw CommandError("ERR Errors trying to SHUTDOWN. Check logs.") }
    }
    // As in Redis, a successful SHUTDOWN has no reply: the connection closes as the server exits.
    c.client.closeAfterReply = true
    c.server.requestShutdown(reason: nil, save: false)
}

/// CONFIG GET parameter [parameter ...]
func configGetCommand(_ c: Call) throws {
    let patterns = (2..<c.count).map { GlobPattern(c.bytes($0)) }
    let config = c.server.settings
    let matched = directives.filter { d in patterns.contains { $0.matches(Array(d.name.utf8)) } }
    c.reply.mapHeader(matched.count)
    for d in matched {
        c.reply.bulk(d.name)
        c.reply.bulk(d.get(config))
    }
}

/// CONFIG SET parameter value [parameter value ...]
func configSetCommand(_ c: Call) throws {
    // Redis: the arity (at least one pair) is checked first; an unpaired parameter is a syntax error.
    guard c.count % 2 == 0 else { throw CommandError.syntax }
    var changes: [(Directive, String)] = []
    for j in stride(from: 2, to: c.count, by: 2) {
        guard let d = directive(named: c.string(j)) else {
            throw c.error("ERR Unknown option or number of arguments for CONFIG SET - '", quoting: j, "'")
        }
        let failed = { (why: String) in
            c.error("ERR CONFIG SET failed (possibly related to argument '", quoting: j, "') - \(why)")
        }
        guard d.mutable else { throw failed("can't set immutable config") }
        guard !changes.contains(where: { $0.0.name == d.name }) else { throw failed("duplicate parameter") }
        changes.append((d, c.string(j + 1)))
    }
    // All or nothing: every value is checked on a copy before any takes effect.
    var config = c.server.settings
    for (d, value) in changes {
        let words = d.multiWord ? value.split(separator: " ").map(String.init) : [value]
        do throws(ConfigError) {
            try d.set(&config, words)
        } catch {
            throw CommandError("ERR CONFIG SET failed (possibly related to argument '\(d.name)') - \(error.message)")
        }
    }
    c.server.updateSettings(config)
    c.reply.ok()
}

/// CONFIG RESETSTAT
func configResetstatCommand(_ c: Call) throws {
    c.server.resetStatistics()
    c.reply.ok()
}

/// CONFIG REWRITE: the conf file the server started from, updated to the running configuration
/// (Config/ConfigRewrite.swift).
func configRewriteCommand(_ c: Call) throws {
    let path = c.server.configFile
    guard !path.isEmpty else { throw CommandError("ERR The server is running without a config file") }
    let old = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    do {
        try replaceFile(path, with: rewrittenConf(old, config: c.server.settings))
    } catch {
        c.server.log.warning("CONFIG REWRITE failed: \(error.message)")
        throw CommandError("ERR Rewriting config file: \(error.message)")
    }
    c.server.log.notice("CONFIG REWRITE executed with success.")
    c.reply.ok()
}

/// CONFIG HELP
func configHelpCommand(_ c: Call) throws {
    c.help([
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
        "RESETSTAT", "    Reset statistics reported by the INFO command.",
        "REWRITE", "    Rewrite the configuration file.",
        "HELP", "    Print this help.",
    ])
}
