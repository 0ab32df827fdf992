import RESP

// Pub/sub in the differential stream. A (P|S)SUBSCRIBE or (P|S)UNSUBSCRIBE answers one frame per channel,
// and a bare UNSUBSCRIBE one per channel the client had; a RESP3 client that publishes to a channel it
// listens to gets the message pushed before PUBLISH's reply. So the session reads each server's frames for
// a command by that server's own state, kept here from the frames themselves, and compares the frames of
// one command as one value. A bare UNSUBSCRIBE confirms in the order of Redis' dict (ours: subscription
// order), so its frames are compared as a set of names and a set of counts.

struct SubscriptionModel {
    private var names: [String: Set<[UInt8]>] = [:]

    /// RESP2 subscribed mode: VERIFY, resynchronising DELs and the final comparison are refused.
    var isEmpty: Bool { names.values.allSatisfy(\.isEmpty) }

    mutating func reset() { names = [:] }

    /// Reads the whole reply of `c` from `conn`: one value, or an array of its frames when it has several
    /// (messages the command published to this very client come first: PUBLISH, or with notifications on,
    /// any write).
    mutating func read(_ c: GeneratedCommand, from conn: Connection) throws(Connection.Lost) -> RESPValue {
        var messages: [RESPValue] = []
        var first = try next(conn)
        while isMessage(first) {
            messages.append(first)
            first = try next(conn)
        }
        let reply = try read(c, first, conn)
        return messages.isEmpty ? reply : .array(byPattern(messages) + [reply])
    }

    /// One message matching several patterns comes once per pattern, in the order of the server's dict of
    /// patterns: each such run is sorted by pattern.
    private func byPattern(_ frames: [RESPValue]) -> [RESPValue] {
        var out: [RESPValue] = []
        var run: [RESPValue] = []
        func tail(_ v: RESPValue) -> [RESPValue] { Array((parts(v) ?? []).dropFirst(2)) }
        for f in frames {
            if let last = run.last, parts(f)?.count != 4 || tail(last) != tail(f) {
                out += run.sorted { describe($0) < describe($1) }
                run = []
            }
            if parts(f)?.count == 4 { run.append(f) } else { out.append(f) }
        }
        return out + run.sorted { describe($0) < describe($1) }
    }

    /// Sends `c` alone and reads its reply (VERIFY between segments).
    mutating func read(_ c: GeneratedCommand, sending conn: Connection) throws(Connection.Lost) -> RESPValue {
        try conn.send([c.args])
        return try read(c, from: conn)
    }

    /// The next frame, past the notification watch's markers (published at moments of their own).
    private func next(_ conn: Connection) throws(Connection.Lost) -> RESPValue {
        while true {
            let v = try conn.read()
            guard let p = parts(v), p.count >= 3, isMessage(v), p[p.count - 2] == .bulk(Array(NotificationWatch.syncChannel.utf8)) else { return v }
        }
    }

    /// A pub/sub message: a push frame in RESP3; in RESP2 an array, which only a subscribed client gets.
    private func isMessage(_ v: RESPValue) -> Bool {
        let kinds = ["message", "pmessage", "smessage"].map { RESPValue.bulk(Array($0.utf8)) }
        switch v {
        case .push(let p): return p.first.map(kinds.contains) ?? false
        case .array(let p): return !isEmpty && (p.count == 3 || p.count == 4) && (p.first.map(kinds.contains) ?? false)
        default: return false
        }
    }

    private mutating func read(_ c: GeneratedCommand, _ first: RESPValue, _ conn: Connection) throws(Connection.Lost) -> RESPValue {
        let name = c.name
        guard let kind = channelKind(name) else {
            if name == "reset", first == .simple("RESET") { reset() }
            return first
        }
        guard isConfirmation(first) else { return first }
        let subscribing = !name.contains("unsub")
        let bare = c.args.count == 1
        let count = subscribing || !bare ? c.args.count - 1 : Swift.max(1, names[kind, default: []].count)
        var frames = [first]
        for _ in 1..<Swift.max(1, count) { frames.append(try conn.read()) }
        for f in frames {
            guard let n = channel(of: f) else { continue }
            if subscribing { names[kind, default: []].insert(n) } else { names[kind]?.remove(n) }
        }
        if bare && !subscribing { frames = unordered(frames) }
        return frames.count == 1 ? frames[0] : .array(frames)
    }

    private func channelKind(_ name: String) -> String? {
        switch name {
        case "subscribe", "unsubscribe": "channel"
        case "psubscribe", "punsubscribe": "pattern"
        case "ssubscribe", "sunsubscribe": "shard"
        default: nil
        }
    }
}

private func parts(_ v: RESPValue) -> [RESPValue]? {
    switch v {
    case .array(let xs), .push(let xs): xs
    default: nil
    }
}

private func isConfirmation(_ v: RESPValue) -> Bool {
    guard let p = parts(v), p.count == 3, case .integer = p[2] else { return false }
    return true
}

private func channel(of v: RESPValue) -> [UInt8]? {
    guard let p = parts(v), p.count == 3, case .bulk(let n) = p[1] else { return nil }
    return n
}

/// Frames with their names sorted and their counts sorted, re-paired: equal for two servers that confirmed
/// the same channels in different orders.
private func unordered(_ frames: [RESPValue]) -> [RESPValue] {
    let ps = frames.compactMap(parts)
    guard ps.count == frames.count, ps.allSatisfy({ $0.count == 3 }) else { return frames }
    let names = ps.map { $0[1] }.sorted { describe($0) < describe($1) }
    let counts = ps.map { $0[2] }.sorted { describe($0) > describe($1) }
    let push: Bool = if case .push = frames[0] { true } else { false }
    return zip(names, counts).map { n, c in push ? .push([ps[0][0], n, c]) : .array([ps[0][0], n, c]) }
}

/// Keyspace notifications compared too (`--notifications`): both servers get `notify-keyspace-events KEAn`,
/// and a watcher connection on each listens to every notification channel. After each segment a marker
/// is published on each server from a connection of its own; what the watchers heard before their marker
/// is that segment's notifications, compared in order (a segment with keys in doubt is excused: expiry
/// decides between events there).
final class NotificationWatch {
    private let watchers: (ours: Connection, redis: Connection)
    private let markers: (ours: Connection, redis: Connection)
    private var sequence = 0
    static let syncChannel = "__difftest_sync__"

    init(oursPort: Int, redisPort: Int) throws(Connection.Lost) {
        watchers = (try Connection(port: oursPort), try Connection(port: redisPort))
        markers = (try Connection(port: oursPort), try Connection(port: redisPort))
        for (w, m) in [(watchers.ours, markers.ours), (watchers.redis, markers.redis)] {
            _ = try m.call("CONFIG", "SET", "notify-keyspace-events", "KEAn")
            _ = try w.call("PSUBSCRIBE", "__key*__:*")
            _ = try w.call("SUBSCRIBE", Self.syncChannel)
        }
    }

    /// The notifications each server published since the last call: (channel, payload) pairs in order.
    func drain() throws(Connection.Lost) -> (ours: [RESPValue], redis: [RESPValue]) {
        sequence += 1
        let mark = String(sequence)
        func heard(_ w: Connection, _ m: Connection) throws(Connection.Lost) -> [RESPValue] {
            _ = try m.call("PUBLISH", Self.syncChannel, mark)
            var out: [RESPValue] = []
            while true {
                guard case .array(let p) = try w.read() else { continue }
                if p.count == 3, p[1] == .bulk(Array(Self.syncChannel.utf8)) {
                    if p[2] == .bulk(Array(mark.utf8)) { return out }
                    continue
                }
                if p.count == 4 { out.append(.array([p[2], p[3]])) }
            }
        }
        return (try heard(watchers.ours, markers.ours), try heard(watchers.redis, markers.redis))
    }
}
