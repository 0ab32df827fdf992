import KVEngine

// Keyspace notifications (notify-keyspace-events): every change the store reports becomes pub/sub messages
// on `__keyspace@<db>__:<key>` (payload: the event) and `__keyevent@<db>__:<event>` (payload: the key), as
// Redis' notify.c. The notifier is one more observer of the change path (Store/Observers.swift): the store
// operation that made a change named its event; expiry, lazy or active, is `expired`; a key created is
// `new`; a key the memory limit took, `evicted`. With the directive empty (the default), or without K or E, or without a class, no notifier is
// installed at all: a write costs nothing more.
//
// Not yet: `m` (key-miss events, which are reads, not changes) is accepted and shows in CONFIG GET but
// publishes nothing; `t d` wait for their types.

struct NotifyFlags: OptionSet, Sendable, Equatable {
    let rawValue: Int

    static let keyspace = NotifyFlags(rawValue: 1 << 0)   // K
    static let keyevent = NotifyFlags(rawValue: 1 << 1)   // E
    static let generic = NotifyFlags(rawValue: 1 << 2)    // g
    static let string = NotifyFlags(rawValue: 1 << 3)     // $
    static let list = NotifyFlags(rawValue: 1 << 4)       // l
    static let set = NotifyFlags(rawValue: 1 << 5)        // s
    static let hash = NotifyFlags(rawValue: 1 << 6)       // h
    static let zset = NotifyFlags(rawValue: 1 << 7)       // z
    static let expired = NotifyFlags(rawValue: 1 << 8)    // x
    static let evicted = NotifyFlags(rawValue: 1 << 9)    // e
    static let stream = NotifyFlags(rawValue: 1 << 10)    // t
    static let keyMiss = NotifyFlags(rawValue: 1 << 11)   // m
    static let module = NotifyFlags(rawValue: 1 << 12)    // d
    static let new = NotifyFlags(rawValue: 1 << 13)       // n
    /// A: every class but m and n.
    static let all: NotifyFlags = [.generic, .string, .list, .set, .hash, .zset, .expired, .evicted, .stream, .module]

}

extension NotifyFlags {
    private static let letters: [(Character, NotifyFlags)] = [
        ("g", .generic), ("$", .string), ("l", .list), ("s", .set), ("h", .hash), ("z", .zset), ("x", .expired),
        ("e", .evicted), ("t", .stream), ("d", .module), ("n", .new), ("K", .keyspace), ("E", .keyevent), ("m", .keyMiss),
    ]

    /// Parses the directive's letters; nil for a letter Redis does not know.
    init?(letters text: String) {
        var f: NotifyFlags = []
        for ch in text {
            if ch == "A" { f.formUnion(.all); continue }
            guard let (_, flag) = Self.letters.first(where: { $0.0 == ch }) else { return nil }
            f.formUnion(flag)
        }
        self = f
    }

    /// The letters CONFIG GET shows, in Redis' order (keyspaceEventsFlagsToString: `A` replaces the classes
    /// it covers, and then `n` is not shown either).
    var letters: String {
        var s = ""
        let classes = Self.letters.prefix(11)
        if isSuperset(of: .all) { s = "A" } else { for (ch, f) in classes where contains(f) { s.append(ch) } }
        for (ch, f) in Self.letters.suffix(3) where contains(f) { s.append(ch) }
        return s
    }

    /// The letter of an event's class.
    init(_ c: KeyspaceEvent.Class) {
        switch c {
        case .generic: self = .generic
        case .string: self = .string
        case .list: self = .list
        case .hash: self = .hash
        case .set: self = .set
        case .zset: self = .zset
        case .evicted: self = .evicted
        }
    }

    /// Whether anything would ever be published: a channel kind and a class.
    var publishes: Bool { !isDisjoint(with: [.keyspace, .keyevent]) && !subtracting([.keyspace, .keyevent, .keyMiss]).isEmpty }
}

/// The observer that publishes the notifications of one configuration (replaced when it changes).
final class KeyspaceNotifier: KeyspaceObserver, @unchecked Sendable {
    let flags: NotifyFlags
    private let pubsub: PubSub

    init(flags: NotifyFlags, pubsub: PubSub) {
        self.flags = flags
        self.pubsub = pubsub
    }

    func keyspaceDidChange(_ change: KeyspaceChange) {
        switch change.kind {
        case .written, .removed:
            if change.created { notify("new", .new, change) }
            guard let event = change.event else { return }
            for n in event.notices { notify(n.name, NotifyFlags(n.class), change) }
        case .expired:
            notify("expired", .expired, change)
        case .flushed, .swapped:
            break
        }
    }

    private func notify(_ event: String, _ kind: NotifyFlags, _ change: KeyspaceChange) {
        guard flags.contains(kind) else { return }
        let db = String(change.database)
        if flags.contains(.keyspace) {
            let channel = Array("__keyspace@\(db)__:".utf8) + change.key
            channel.withUnsafeBytes { ch in
                var e = event
                e.withUTF8 { pubsub.publish(channel: ch, message: UnsafeRawBufferPointer($0)) }
            }
        }
        if flags.contains(.keyevent) {
            var channel = "__keyevent@\(db)__:" + event
            channel.withUTF8 { pubsub.publish(channel: UnsafeRawBufferPointer($0), message: change.key) }
        }
    }
}
