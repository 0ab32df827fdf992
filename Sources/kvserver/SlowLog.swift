import Glibc
import Synchronization

// SLOWLOG: the commands that took longer than `slowlog-log-slower-than` microseconds (0 logs every
// command, a negative value none), the newest `slowlog-max-len` of them, as Redis keeps them: an id, the
// Unix time, the duration, the arguments (at most 32, each cut at 128 bytes, saying how much was left
// out), the client's address and name. The duration is the handler's, as CommandTable.run measures it
// for INFO commandstats; commands flagged skip_slowlog (EXEC, whose commands are logged one by one) are
// not logged. A command pays one relaxed load and a compare.

final class SlowLog: @unchecked Sendable {
    struct Entry {
        let id: Int
        let time: Int
        let micros: Int64
        let args: [[UInt8]]
        let peer: String
        let name: [UInt8]
    }

    /// slowlog-log-slower-than, for every command's check (Int64.max when off).
    let threshold = Atomic<Int64>(10_000)
    private let state = Mutex<(entries: [Entry], nextID: Int, maxLength: Int)>(([], 0, 128))

    func configure(slowerThan: Int, maxLength: Int) {
        threshold.store(slowerThan < 0 ? Int64.max : Int64(slowerThan), ordering: .relaxed)
        state.withLock { s in
            s.maxLength = maxLength
            if s.entries.count > maxLength { s.entries.removeFirst(s.entries.count - maxLength) }
        }
    }

    func record(_ args: [UnsafeRawBufferPointer], micros: Int64, client: Connection) {
        var kept: [[UInt8]] = []
        let shown = args.count > 32 ? 31 : args.count
        for a in args.prefix(shown) {
            kept.append(a.count > 128 ? Array(a.prefix(128)) + Array("... (\(a.count - 128) more bytes)".utf8) : Array(a))
        }
        if args.count > shown { kept.append(Array("... (\(args.count - shown) more arguments)".utf8)) }
        let now = time(nil)
        let name = client.name ?? []
        state.withLock { s in
            guard s.maxLength > 0 else { return }
            s.entries.append(Entry(id: s.nextID, time: now, micros: micros, args: kept, peer: client.peer, name: name))
            s.nextID += 1
            if s.entries.count > s.maxLength { s.entries.removeFirst() }
        }
    }

    /// The newest `count` entries (all for nil), newest first.
    func newest(_ count: Int?) -> [Entry] {
        state.withLock { s in Array(s.entries.reversed().prefix(count ?? s.entries.count)) }
    }

    var count: Int { state.withLock { $0.entries.count } }

    func reset() { state.withLock { $0.entries.removeAll() } }
}
