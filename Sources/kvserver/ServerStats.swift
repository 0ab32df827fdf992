import Glibc
import Synchronization

// The counters INFO, the metrics endpoint and CONFIG RESETSTAT work on. Each is a relaxed atomic: one
// uncontended add per command on the default single event loop, and no lock on the request path.

/// One command's INFO commandstats line: calls, microseconds, rejected calls (refused before running:
/// arity, NOAUTH, -LOADING, MISCONF) and failed calls (ran and replied an error).
final class CommandStats: Sendable {
    let calls = Atomic<Int>(0)
    let microseconds = Atomic<Int>(0)
    let rejected = Atomic<Int>(0)
    let failed = Atomic<Int>(0)

    func reset() {
        calls.store(0, ordering: .relaxed)
        microseconds.store(0, ordering: .relaxed)
        rejected.store(0, ordering: .relaxed)
        failed.store(0, ordering: .relaxed)
    }
}

/// Server-wide counters: errors by code, key lookups, and the samples behind instantaneous_ops_per_sec.
final class ServerStats: Sendable {
    let keyspaceHits = Atomic<Int>(0)
    let keyspaceMisses = Atomic<Int>(0)
    let errorReplies = Atomic<Int>(0)
    /// errorstat_<CODE>:count=n, keyed by the reply's first word (ERR, WRONGTYPE, NOAUTH, ...).
    private let errorCodes = Mutex<[String: Int]>([:])
    /// Commands processed at each of the last 16 cron ticks, with their monotonic times (Redis samples
    /// the same way for instantaneous_ops_per_sec).
    private let opsSamples = Mutex<[(time: Int64, commands: Int)]>([])

    /// Counts one error reply whose text starts at `reply` (the bytes after '-').
    func recordError(_ reply: UnsafeRawBufferPointer) {
        errorReplies.wrappingAdd(1, ordering: .relaxed)
        var end = 0
        while end < reply.count && end < 32 && reply[end] != 0x20 && reply[end] != 0x0D { end += 1 }
        let code = String(decoding: reply.prefix(end), as: UTF8.self)
        errorCodes.withLock { $0[code, default: 0] += 1 }
    }

    func recordError(_ message: String) {
        var m = message
        m.withUTF8 { recordError(UnsafeRawBufferPointer($0)) }
    }

    var errorCounts: [(code: String, count: Int)] {
        errorCodes.withLock { $0.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }

    /// A cron tick's sample of the total commands processed.
    func sample(commands: Int, now: Int64) {
        opsSamples.withLock { s in
            s.append((now, commands))
            if s.count > 16 { s.removeFirst(s.count - 16) }
        }
    }

    /// Commands per second over the sampled window.
    var instantaneousOpsPerSecond: Int {
        opsSamples.withLock { s in
            guard let first = s.first, let last = s.last, last.time > first.time else { return 0 }
            return (last.commands - first.commands) * 1000 / Int(last.time - first.time)
        }
    }

    func reset() {
        keyspaceHits.store(0, ordering: .relaxed)
        keyspaceMisses.store(0, ordering: .relaxed)
        errorReplies.store(0, ordering: .relaxed)
        errorCodes.withLock { $0.removeAll() }
        opsSamples.withLock { $0.removeAll() }
    }
}
