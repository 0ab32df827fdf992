import KVEngine
import Synchronization

// Publish/subscribe: who listens to which channel and pattern, and the delivery of a message to them.
//
// The registry is one table for the server (channels by name, patterns by text), behind one lock. A
// subscriber is a Connection; its own list of what it listens to lives in the connection (Subscriptions)
// and is touched only by its owner thread; the registry holds the same facts for publishers on any thread.
//
// Delivery: PUBLISH (and every keyspace notification) encodes the frame once, then, under the registry
// lock, hands it to each receiver. A receiver served by the publisher's own thread gets the frame written
// straight into its output, after any mail waiting for it (so a client that publishes to itself sees the
// push before PUBLISH's reply, as from Redis, and messages keep the order of their PUBLISHes); any other gets it appended to its Mailbox, and its owner is woken once to move the mail into
// the output. Holding the lock through those appends is what makes UNSUBSCRIBE exact: once it has taken
// the lock and removed the subscription, no publisher can append for that channel any more, and the
// unsubscriber moves whatever mail arrived before into its output ahead of the confirmation. So a client
// never receives a message after the confirmation that ends it — in RESP2 such a frame would be taken
// for the reply to its next command.
//
// The pubsub class of client-output-buffer-limit caps a subscriber's undelivered bytes: its mailbox at
// the hard limit (the publisher drops the frame and the subscriber is closed), its output buffer as for
// any client (Connection.outputOverLimit). Other subscribers and the publisher are unaffected.

final class PubSub: @unchecked Sendable {
    private struct Registry {
        var channels: [[UInt8]: [Connection]] = [:]
        /// SSUBSCRIBE's channels: a namespace of their own (SPUBLISH reaches only these, PUBLISH never).
        var shardChannels: [[UInt8]: [Connection]] = [:]
        var patterns: [[UInt8]: Pattern] = [:]

        subscript(_ kind: ChannelKind) -> [[UInt8]: [Connection]] {
            get { kind == .shard ? shardChannels : channels }
            set { if kind == .shard { shardChannels = newValue } else { channels = newValue } }
        }
    }
    private struct Pattern {
        let glob: GlobPattern
        var subscribers: [Connection]
    }

    private let registry = Mutex(Registry())
    /// The pubsub class' hard limit, for publishers (0 = none).
    let mailboxLimit = Atomic<Int>(0)

    // MARK: Subscribing (the caller keeps the connection's own list)

    func add(_ c: Connection, _ kind: Subscriptions.Kind, _ name: [UInt8]) {
        registry.withLock { r in
            switch kind {
            case .channel: r.channels[name, default: []].append(c)
            case .shardChannel: r.shardChannels[name, default: []].append(c)
            case .pattern: r.patterns[name, default: Pattern(glob: GlobPattern(name), subscribers: [])].subscribers.append(c)
            }
        }
    }

    func remove(_ c: Connection, _ kind: Subscriptions.Kind, _ name: [UInt8]) {
        registry.withLock { r in
            switch kind {
            case .channel: r.channels[name] = removing(c, from: r.channels[name])
            case .shardChannel: r.shardChannels[name] = removing(c, from: r.shardChannels[name])
            case .pattern:
                guard var p = r.patterns[name] else { return }
                p.subscribers.removeAll { $0 === c }
                r.patterns[name] = p.subscribers.isEmpty ? nil : p
            }
        }
    }

    private func removing(_ c: Connection, from list: [Connection]?) -> [Connection]? {
        guard var list else { return nil }
        list.removeAll { $0 === c }
        return list.isEmpty ? nil : list
    }

    // MARK: Publishing

    /// Delivers `message` on `channel` to every subscriber of the channel and of each matching pattern;
    /// returns how many deliveries were made (a client on the channel and on a matching pattern counts twice).
    /// Shard channels (SPUBLISH) have no patterns.
    @discardableResult
    func publish(_ kind: ChannelKind = .global, channel: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> Int {
        let frame = messageFrame(kind, channel, message)
        let limit = mailboxLimit.load(ordering: .relaxed)
        return registry.withLock { r in
            var receivers = 0
            if let subscribers = r[kind][Array(channel)] {
                frame.withUnsafeBytes { f in
                    for s in subscribers { s.deliver(f, push: true, limit: limit) }
                }
                receivers += subscribers.count
            }
            guard kind == .global else { return receivers }
            for (text, p) in r.patterns where p.glob.matches(channel) {
                let pframe = patternFrame(text, channel, message)
                pframe.withUnsafeBytes { f in
                    for s in p.subscribers { s.deliver(f, push: true, limit: limit) }
                }
                receivers += p.subscribers.count
            }
            return receivers
        }
    }

    // MARK: PUBSUB

    /// Channels with at least one subscriber, matching `pattern` when given.
    func activeChannels(_ kind: ChannelKind, matching pattern: GlobPattern?) -> [[UInt8]] {
        registry.withLock { r in
            r[kind].keys.filter { name in pattern.map { p in name.withUnsafeBytes { p.matches($0) } } ?? true }
        }
    }

    func subscriberCount(_ kind: ChannelKind, _ channel: [UInt8]) -> Int {
        registry.withLock { $0[kind][channel]?.count ?? 0 }
    }

    /// Drops every subscription of a closing connection.
    func removeAll(_ c: Connection) {
        for kind in [Subscriptions.Kind.channel, .pattern, .shardChannel] {
            for name in c.subscriptions.list(kind) { remove(c, kind, name) }
        }
    }

    /// Distinct patterns with at least one subscriber.
    var patternCount: Int { registry.withLock { $0.patterns.count } }
}

/// PUBLISH's channels, or SSUBSCRIBE/SPUBLISH's.
enum ChannelKind {
    case global, shard
}

/// `*3 $7 message $channel $message` (`smessage` for a shard channel; the first byte becomes `>` for a
/// RESP3 receiver).
private func messageFrame(_ kind: ChannelKind, _ channel: UnsafeRawBufferPointer, _ message: UnsafeRawBufferPointer) -> [UInt8] {
    var f: [UInt8] = []
    f.reserveCapacity(channel.count + message.count + 40)
    f += (kind == .shard ? "*3\r\n$8\r\nsmessage\r\n" : "*3\r\n$7\r\nmessage\r\n").utf8
    appendBulk(&f, channel)
    appendBulk(&f, message)
    return f
}

/// `*4 $8 pmessage $pattern $channel $message`.
private func patternFrame(_ pattern: [UInt8], _ channel: UnsafeRawBufferPointer, _ message: UnsafeRawBufferPointer) -> [UInt8] {
    var f: [UInt8] = []
    f.reserveCapacity(pattern.count + channel.count + message.count + 50)
    f += "*4\r\n$8\r\npmessage\r\n".utf8
    pattern.withUnsafeBytes { appendBulk(&f, $0) }
    appendBulk(&f, channel)
    appendBulk(&f, message)
    return f
}

private func appendBulk(_ f: inout [UInt8], _ b: UnsafeRawBufferPointer) {
    f.append(UInt8(ascii: "$"))
    f += String(b.count).utf8
    f += "\r\n".utf8
    f += b
    f += "\r\n".utf8
}

/// What one connection listens to, in the order it subscribed (UNSUBSCRIBE without arguments confirms in
/// this order; Redis uses its dict's order). Touched only by the connection's owner thread.
struct Subscriptions {
    /// What a (P|S)SUBSCRIBE adds to.
    enum Kind { case channel, pattern, shardChannel }

    private var lists: [[[UInt8]]] = [[], [], []]
    private var sets: [Set<[UInt8]>] = [[], [], []]
    /// Everything held, of all kinds: what every command's subscribed-mode check reads.
    private var total = 0

    var channels: [[UInt8]] { lists[0] }
    var patterns: [[UInt8]] { lists[1] }
    var shardChannels: [[UInt8]] { lists[2] }

    /// Channels plus patterns: the count SUBSCRIBE's and PSUBSCRIBE's confirmations carry (shard channels
    /// count apart, in SSUBSCRIBE's).
    var count: Int { lists[0].count + lists[1].count }
    /// In RESP2 a connection with any subscription is in subscribed mode.
    var isEmpty: Bool { total == 0 }

    func list(_ kind: Kind) -> [[UInt8]] { lists[index(kind)] }

    /// Adds; false when already there.
    mutating func add(_ name: [UInt8], _ kind: Kind) -> Bool {
        let i = index(kind)
        guard sets[i].insert(name).inserted else { return false }
        lists[i].append(name)
        total += 1
        return true
    }

    /// Removes; false when it was not there.
    mutating func remove(_ name: [UInt8], _ kind: Kind) -> Bool {
        let i = index(kind)
        guard sets[i].remove(name) != nil else { return false }
        lists[i].removeAll { $0 == name }
        total -= 1
        return true
    }

    private func index(_ kind: Kind) -> Int {
        switch kind {
        case .channel: 0
        case .pattern: 1
        case .shardChannel: 2
        }
    }
}
