import Glibc
import Synchronization

enum LogLevel: Int, Sendable {
    case debug, verbose, notice, warning

    init?(name: String) {
        switch name {
        case "debug": self = .debug
        case "verbose": self = .verbose
        case "notice": self = .notice
        case "warning": self = .warning
        default: return nil
        }
    }

    var name: String { ["debug", "verbose", "notice", "warning"][rawValue] }
    /// Redis' level marks.
    var mark: String { [".", "-", "*", "#"][rawValue] }
}

/// Redis-style log lines: `pid:M 21 Nov 2026 10:00:00.123 * message`, to stdout or to `logfile`.
final class Logger: Sendable {
    private let fd: Int32
    private let minimum: Atomic<Int>

    init(file: String, level: LogLevel) throws(ConfigError) {
        if file.isEmpty {
            fd = 1
        } else {
            fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 { throw ConfigError("Can't open the log file: \(String(cString: strerror(errno)))") }
        }
        minimum = Atomic(level.rawValue)
    }

    func setLevel(_ level: LogLevel) { minimum.store(level.rawValue, ordering: .relaxed) }

    func enabled(_ level: LogLevel) -> Bool { level.rawValue >= minimum.load(ordering: .relaxed) }

    func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard enabled(level) else { return }
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = tv.tv_sec
        var parts = tm()
        localtime_r(&t, &parts)
        var stamp = [CChar](repeating: 0, count: 64)
        let n = strftime(&stamp, stamp.count, "%d %b %Y %H:%M:%S", &parts)
        let time = String(decoding: stamp[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let millis = String(Int(tv.tv_usec) / 1000)
        let line = "\(getpid()):M \(time).\(String(repeating: "0", count: 3 - millis.count))\(millis) \(level.mark) \(message())\n"
        // One write per line: lines from different threads never interleave.
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
    }

    func warning(_ m: @autoclosure () -> String) { log(.warning, m()) }
    func notice(_ m: @autoclosure () -> String) { log(.notice, m()) }
    func verbose(_ m: @autoclosure () -> String) { log(.verbose, m()) }
}
