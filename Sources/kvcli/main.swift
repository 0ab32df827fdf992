import Glibc
import RESP

// kvcli [-h host] [-p port] [-a password] [--raw] [command [arg ...]]: one command, `stats`, `verify`,
// or (no command) the interactive mode. Exit status 0 on success, 1 on an error reply, 2 when the
// server cannot be reached.

func writeOut(_ bytes: [UInt8], to fd: Int32 = 1) {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        done += n
    }
}

func warn(_ line: String) { writeOut(Array((line + "\n").utf8), to: 2) }

/// Connects, authenticates and selects the database as redis-cli does; exits 2 when it cannot connect.
func connectOrExit(_ o: Options) -> Client {
    let client: Client
    do {
        client = try Client(host: o.host, port: o.port)
    } catch {
        warn(error.message)
        exit(2)
    }
    do {
        if let password = o.password {
            if o.authWarning { warn("Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.") }
            let words = o.user.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            let reply = try client.call(words.map { Array($0.utf8) })
            if case .error(let e) = reply { warn("AUTH failed: \(e)") }
        }
        if o.database != 0, case .error(let e) = try client.call("SELECT", String(o.database)) {
            warn("SELECT \(o.database) failed: \(e)")
        }
    } catch {
        connectionLost(o)
    }
    return client
}

func connectionLost(_ o: Options) -> Never {
    warn("Error: Server closed the connection (\(o.host):\(o.port))")
    exit(2)
}

func printReply(_ reply: RESPValue, _ o: Options) {
    writeOut(o.rawOutput ? formatRaw(reply) : formatHuman(reply))
}

var options: Options
do {
    guard let o = try parseOptions(Array(CommandLine.arguments.dropFirst())) else {
        print(usage, terminator: "")
        exit(0)
    }
    options = o
} catch {
    warn(error.message)
    warn("Try 'kvcli --help' for more information.")
    exit(1)
}

let words = options.command
switch words.first?.lowercased() {
case nil:
    exit(interactive(connectOrExit(options), options))
case "stats" where words.count == 1 || words[1].hasPrefix("-"):
    // kvcli's own report, with its flags before or after the word; `stats shard N` goes to the server.
    var args = Array(CommandLine.arguments.dropFirst())
    args.remove(at: args.count - words.count)
    do {
        options = try parseOptions(args) ?? options
    } catch {
        warn(error.message)
        exit(1)
    }
    exit(runStatsReport(connectOrExit(options), options))
case "verify" where words.count == 1:
    exit(runVerify(connectOrExit(options), options))
default:
    let client = connectOrExit(options)
    do {
        let reply = try client.call(words.map { Array($0.utf8) })
        printReply(reply, options)
        exit(reply.isError ? 1 : 0)
    } catch {
        connectionLost(options)
    }
}
