import KVEngine
import Dispatch
import Glibc

// kvserver [conf-file] [--name value ...]: reads the configuration, listens, serves until SIGTERM,
// SIGINT or SHUTDOWN.

let kvserverVersion = "0.3.0"

func fail(_ message: String) -> Never {
    var line = Array((message + "\n").utf8)
    _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

let request: StartupRequest
do {
    request = try parseCommandLine(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail(error.message)
}

switch request {
case .help:
    print(usage, terminator: "")
case .version:
    print("kvserver v=\(kvserverVersion) (Redis protocol, compatible with Redis \(compatibleRedisVersion) string commands)")
case .checkSnapshot(let path):
    do {
        let s = try checkSnapshot(at: path)
        let expires = "\(s.keysWithExpiry) with expiry, \(s.alreadyExpired) already expired"
        print("OK \(path): RDB version \(s.version), \(s.keys) keys (\(expires)) in \(s.databases.count) databases, "
            + (s.checksumVerified ? "checksum OK" : "no checksum stored"))
    } catch {
        fail("--- RDB ERROR DETECTED --- \(path): \(error)")
    }
case .run(let config, let configFile):
    let log: Logger
    do {
        log = try Logger(file: config.logFile, level: config.logLevel)
    } catch {
        fail(error.message)
    }
    log.notice("kvserver version=\(kvserverVersion), pid=\(getpid()), just started")
    log.notice(configFile.map { "Configuration loaded from \($0)" } ?? "No config file specified, using the default config.")
    let server = Server(config: config, log: log)
    server.configFile = configFile.map(absolutePath) ?? ""
    server.handleSignals()
    do {
        try server.start()
    } catch {
        log.warning("Warning: \(error.message)")
        log.warning("Failed listening on port \(config.port) (tcp), aborting.")
        exit(1)
    }
    if !config.pidFile.isEmpty {
        let text = "\(getpid())\n"
        if let f = fopen(config.pidFile, "w") {
            fputs(text, f)
            fclose(f)
        }
    }
    // The main thread only waits: the loops, the cron and the signal sources have threads of their own
    // and nothing is queued on the main queue. (Not dispatchMain(): its sigsuspend crashes valgrind, which
    // counts instructions for docs/performance.md.)
    while true { pause() }
}

private func absolutePath(_ path: String) -> String {
    guard let p = realpath(path, nil) else { return path }
    defer { free(p) }
    return String(cString: p)
}
