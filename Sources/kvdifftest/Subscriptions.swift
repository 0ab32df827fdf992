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

    /// Reads the whole reply of `c` from `conn`: one value, or an array of its frames when it has several.
    mutating func read(_ c: GeneratedCommand, from conn: Connection) throws(Connection.Lost) -> RESPValue {
        let name = c.name
        let kind = channelKind(name)
        if name == "publish" || name == "spublish" {
            var frames: [RESPValue] = []
            var v = try conn.read()
            while case .push = v {
                frames.append(v)
                v = try conn.read()
            }
            return frames.isEmpty ? v : .array(frames + [v])
        }
        guard let kind else {
            let v = try conn.read()
            if name == "reset", v == .simple("RESET") { reset() }
            return v
        }
        let first = try conn.read()
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
