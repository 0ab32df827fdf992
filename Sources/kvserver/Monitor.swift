import Glibc
import Synchronization

// MONITOR: clients that see every command the server runs, as Redis' replicationFeedMonitors prints them —
// `+<seconds>.<micros> [<db> <client address>] "name" "arg" ...` with each argument quoted and escaped
// (sdscatrepr) — after the command ran, in the database it left the client in. Admin commands and those
// flagged skip_monitor are not shown; commands refused before running are not either. Lines reach monitors
// on other loops through their mailboxes (PubSub/Mailbox.swift), so a monitor never slows the loop of the
// client it watches by more than the append. With no monitor, a command pays one relaxed load.

final class Monitors: @unchecked Sendable {
    private let clients = Mutex<[Connection]>([])
    private let count = Atomic<Int>(0)
    /// The normal class' hard output limit, for the mailboxes.
    let limit = Atomic<Int>(0)

    var isEmpty: Bool { count.load(ordering: .relaxed) == 0 }

    func add(_ c: Connection) {
        clients.withLock { list in
            guard !list.contains(where: { $0 === c }) else { return }
            list.append(c)
            count.store(list.count, ordering: .relaxed)
        }
    }

    func remove(_ c: Connection) {
        clients.withLock { list in
            list.removeAll { $0 === c }
            count.store(list.count, ordering: .relaxed)
        }
    }

    func contains(_ c: Connection) -> Bool { clients.withLock { $0.contains { $0 === c } } }

    /// Shows one command that ran for `client`.
    func feed(_ args: [UnsafeRawBufferPointer], client: Connection) {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var line = Array("+\(tv.tv_sec).".utf8)
        let micros = String(tv.tv_usec)
        line += Array(repeating: UInt8(ascii: "0"), count: 6 - micros.utf8.count) + Array(micros.utf8)
        line += Array(" [\(client.databaseIndex) \(client.peer)]".utf8)
        for a in args {
            line.append(UInt8(ascii: " "))
            appendQuoted(&line, a)
        }
        line += [13, 10]
        let limit = limit.load(ordering: .relaxed)
        clients.withLock { list in
            line.withUnsafeBytes { frame in
                for m in list { m.deliver(frame, push: false, limit: limit) }
            }
        }
    }
}

/// An argument as Redis' sdscatrepr quotes it: in double quotes, `\\` and `"` escaped, \n \r \t \a \b by
/// name, other unprintable bytes as \xHH.
private func appendQuoted(_ out: inout [UInt8], _ a: UnsafeRawBufferPointer) {
    out.append(UInt8(ascii: "\""))
    for b in a {
        switch b {
        case UInt8(ascii: "\\"), UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), b]
        case 10: out += Array("\\n".utf8)
        case 13: out += Array("\\r".utf8)
        case 9: out += Array("\\t".utf8)
        case 7: out += Array("\\a".utf8)
        case 8: out += Array("\\b".utf8)
        case 0x20...0x7E: out.append(b)
        default:
            let hex = Array("0123456789abcdef".utf8)
            out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(b >> 4)], hex[Int(b & 15)]]
        }
    }
    out.append(UInt8(ascii: "\""))
}
