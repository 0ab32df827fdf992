import Foundation
import KVEngine
import RESP

/// What the command line asks for.
enum StartupRequest {
    case run(Config, configFile: String?)
    case help
    case version
    /// --check-snapshot FILE: verify an RDB file and exit.
    case checkSnapshot(String)
}

/// `kvserver [conf-file] [--name value ...]`: the file is read first, then the flags override it, as
/// redis-server does. Errors name the file, the line and the reason.
func parseCommandLine(_ arguments: [String]) throws(ConfigError) -> StartupRequest {
    var args = arguments[...]
    if let first = args.first {
        if first == "--help" || first == "-h" { return .help }
        if first == "--version" || first == "-v" { return .version }
        if first == "--check-snapshot" {
            guard args.count == 2 else { throw ConfigError("Usage: kvserver --check-snapshot <file.rdb>") }
            return .checkSnapshot(args[args.startIndex + 1])
        }
    }
    var config = Config()
    var configFile: String? = nil
    if let first = args.first, !first.hasPrefix("--") {
        configFile = first
        args = args.dropFirst()
        let text: String
        do {
            text = try String(contentsOfFile: first, encoding: .utf8)
        } catch {
            throw ConfigError("Fatal error, can't open config file '\(first)': \(error.localizedDescription)")
        }
        try apply(confText: text, file: first, to: &config)
    }
    // Flags: --name followed by its words up to the next --name.
    var i = args.startIndex
    while i < args.endIndex {
        let flag = args[i]
        guard flag.hasPrefix("--"), flag.count > 2 else {
            throw ConfigError("FATAL CONFIG ERROR: expected --name, got '\(flag)' (see kvserver --help)")
        }
        var words: [String] = []
        var j = i + 1
        while j < args.endIndex && !args[j].hasPrefix("--") {
            words.append(args[j])
            j += 1
        }
        do throws(ConfigError) {
            try apply(name: String(flag.dropFirst(2)), words, to: &config)
        } catch {
            throw ConfigError("FATAL CONFIG ERROR in option \(flag) \(words.joined(separator: " ")): \(error.message)")
        }
        i = j
    }
    return .run(config, configFile: configFile)
}

/// Applies the lines of a conf file. Blank lines and lines starting with # are skipped; words are split
/// with the inline-command quoting rules, as Redis does.
func apply(confText: String, file: String, to config: inout Config) throws(ConfigError) {
    var sawSave = false
    for (n, line) in confText.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
        var storage: [UInt8] = []
        var spans: [Range<Int>] = []
        let ok = Array(trimmed.utf8).withUnsafeBytes { splitInlineArguments($0, into: &storage, &spans) }
        do throws(ConfigError) {
            guard ok, let nameSpan = spans.first else { throw ConfigError("Unbalanced quotes in configuration line") }
            let words = spans.dropFirst().map { String(decoding: storage[$0], as: UTF8.self) }
            let name = String(decoding: storage[nameSpan], as: UTF8.self)
            if name.lowercased() == "save" && sawSave {
                // As Redis: the file's first `save` line replaces the defaults, later ones add points.
                let before = config.savePoints
                try apply(name: name, words, to: &config)
                config.savePoints = before + config.savePoints
            } else {
                try apply(name: name, words, to: &config)
            }
            if name.lowercased() == "save" { sawSave = true }
        } catch {
            throw ConfigError("FATAL CONFIG FILE ERROR: \(file), line \(n + 1): >>> '\(trimmed)': \(error.message)")
        }
    }
}

func apply(name: String, _ words: [String], to config: inout Config) throws(ConfigError) {
    guard let d = directive(named: name) else { throw ConfigError("Bad directive or wrong number of arguments") }
    try d.set(&config, words)
}

let usage = """
    Usage: kvserver [/path/to/kvserver.conf] [options]
           kvserver -v or --version
           kvserver -h or --help
           kvserver --check-snapshot /path/to/dump.rdb

    Every directive of the conf file also works as an option:
           kvserver --port 7777
           kvserver --bind 127.0.0.1 -::1 --requirepass secret
           kvserver conf/kvserver.conf --loglevel verbose

    With no arguments it serves on 127.0.0.1:6379 (and ::1 when available) with the defaults
    documented in conf/kvserver.conf.

    """
