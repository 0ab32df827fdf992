import Glibc

/// kvcli's command line, redis-cli's flags where they exist.
struct Options {
    var host = "127.0.0.1"
    var port = 6379
    var user: String? = nil
    var password: String? = nil
    var database = 0
    /// nil: raw when standard output is not a terminal, as redis-cli; --raw / --no-raw force it.
    var raw: Bool? = nil
    var json = false
    var watch: Double? = nil
    var authWarning = true
    var command: [String] = []

    var rawOutput: Bool { raw ?? (isatty(1) == 0) }
}

struct UsageError: Error {
    let message: String
}

let usage = """
    Usage: kvcli [OPTIONS] [command [arg [arg ...]]]
      -h <hostname>      Server hostname (default: 127.0.0.1).
      -p <port>          Server port (default: 6379).
      -a <password>      Password to use when connecting to the server (AUTH).
      --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.
      -n <db>            Database number.
      --raw              Use raw formatting for replies (default when STDOUT is not a tty).
      --no-raw           Force formatted output even when STDOUT is not a tty.
      --no-auth-warning  Don't show warning message when using password on command line interface.
      --json             With `stats`: print the statistics as JSON.
      --watch <seconds>  With `stats`: refresh the report every <seconds> until interrupted.
      --help             Output this help and exit.
      --version          Output version and exit.

    Commands run on the server as typed (kvcli set k v, kvcli get k). Two are kvcli's own:
      kvcli stats        The store's hash maps at a glance: summary, shards, chains, warnings.
      kvcli verify       Checks every map invariant on the server (VERIFY) and says whether the map is sound.
    With no command, kvcli reads commands interactively (or one per line from a pipe).

    Exit status: 0 on success, 1 when the server replied an error, 2 when it cannot connect.

    """

func parseOptions(_ args: [String]) throws(UsageError) -> Options? {
    var o = Options()
    var i = 0
    func value(_ flag: String) throws(UsageError) -> String {
        i += 1
        guard i < args.count else { throw UsageError(message: "Unrecognized option or bad number of args for: '\(flag)'") }
        return args[i]
    }
    func number(_ flag: String) throws(UsageError) -> Int {
        let v = try value(flag)
        guard let n = Int(v) else { throw UsageError(message: "Invalid number for \(flag): '\(v)'") }
        return n
    }
    while i < args.count {
        let a = args[i]
        switch a {
        case "-h": o.host = try value(a)
        case "-p": o.port = try number(a)
        case "-a", "--pass": o.password = try value(a)
        case "--user": o.user = try value(a)
        case "-n": o.database = try number(a)
        case "--raw": o.raw = true
        case "--no-raw": o.raw = false
        case "--no-auth-warning": o.authWarning = false
        case "--json": o.json = true
        case "--watch":
            let v = try value(a)
            guard let s = Double(v), s > 0 else { throw UsageError(message: "Invalid number for --watch: '\(v)'") }
            o.watch = s
        case "--help": return nil
        case "--version", "-v":
            print("kvcli 0.3.0")
            exit(0)
        default:
            if a.hasPrefix("-") && a.count > 1 && o.command.isEmpty {
                throw UsageError(message: "Unrecognized option or bad number of args for: '\(a)'")
            }
            o.command = Array(args[i...])
            return o
        }
        i += 1
    }
    return o
}
