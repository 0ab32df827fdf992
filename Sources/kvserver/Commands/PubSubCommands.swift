import KVEngine
import RESP

// Pub/sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE PUBLISH SPUBLISH
// PUBSUB. The registry and delivery: PubSub/PubSub.swift. Confirmations are push frames (`>` in RESP3,
// arrays in RESP2), one per channel or pattern, each with the count after it.

/// SUBSCRIBE channel [channel ...]
func subscribeCommand(_ c: Call) throws { subscribe(c, .channel) }

/// PSUBSCRIBE pattern [pattern ...]
func psubscribeCommand(_ c: Call) throws { subscribe(c, .pattern) }

/// SSUBSCRIBE shardchannel [shardchannel ...]
func ssubscribeCommand(_ c: Call) throws { subscribe(c, .shardChannel) }

/// UNSUBSCRIBE [channel [channel ...]]
func unsubscribeCommand(_ c: Call) throws { unsubscribe(c, .channel) }

/// PUNSUBSCRIBE [pattern [pattern ...]]
func punsubscribeCommand(_ c: Call) throws { unsubscribe(c, .pattern) }

/// SUNSUBSCRIBE [shardchannel [shardchannel ...]]
func sunsubscribeCommand(_ c: Call) throws { unsubscribe(c, .shardChannel) }

/// PUBLISH channel message
func publishCommand(_ c: Call) throws {
    c.reply.integer(c.server.pubsub.publish(.global, channel: c[1], message: c[2]))
}

/// SPUBLISH shardchannel message
func spublishCommand(_ c: Call) throws {
    c.reply.integer(c.server.pubsub.publish(.shard, channel: c[1], message: c[2]))
}

/// PUBSUB CHANNELS [pattern]
func pubsubChannelsCommand(_ c: Call) throws { try activeChannels(c, .global) }

/// PUBSUB SHARDCHANNELS [pattern]
func pubsubShardchannelsCommand(_ c: Call) throws { try activeChannels(c, .shard) }

/// PUBSUB NUMSUB [channel [channel ...]]
func pubsubNumsubCommand(_ c: Call) throws { subscriberCounts(c, .global) }

/// PUBSUB SHARDNUMSUB [shardchannel [shardchannel ...]]
func pubsubShardnumsubCommand(_ c: Call) throws { subscriberCounts(c, .shard) }

/// PUBSUB NUMPAT
func pubsubNumpatCommand(_ c: Call) throws { c.reply.integer(c.server.pubsub.patternCount) }

/// PUBSUB HELP
func pubsubHelpCommand(_ c: Call) throws {
    c.help([
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ])
}

private func subscribe(_ c: Call, _ kind: Subscriptions.Kind) {
    let client = c.client
    for i in 1..<c.count {
        let name = c.bytes(i)
        if client.subscriptions.add(name, kind) { c.server.pubsub.add(client, kind, name) }
        confirm(c, kind.subscribeWord, name, count: count(client.subscriptions, kind))
    }
    client.subscriptionsChanged()
}

/// Leaves the channels named, or all of this kind. Every one leaves the registry before any confirmation
/// is written, and the mail that came before goes out first: no message follows its confirmation.
private func unsubscribe(_ c: Call, _ kind: Subscriptions.Kind) {
    let client = c.client
    let names = c.count > 1 ? (1..<c.count).map { c.bytes($0) } : client.subscriptions.list(kind)
    var counts: [Int] = []
    for name in names {
        if client.subscriptions.remove(name, kind) { c.server.pubsub.remove(client, kind, name) }
        counts.append(count(client.subscriptions, kind))
    }
    client.subscriptionsChanged()
    client.takeMail()
    if names.isEmpty { return confirm(c, kind.unsubscribeWord, nil, count: count(client.subscriptions, kind)) }
    for (name, n) in zip(names, counts) { confirm(c, kind.unsubscribeWord, name, count: n) }
}

/// What a confirmation counts: channels and patterns together; shard channels apart.
private func count(_ s: Subscriptions, _ kind: Subscriptions.Kind) -> Int {
    kind == .shardChannel ? s.shardChannels.count : s.count
}

private func confirm(_ c: Call, _ word: StaticString, _ name: [UInt8]?, count: Int) {
    let r = c.reply
    r.pushHeader(3)
    r.bulk(word.description)
    r.bulk(name)
    r.integer(count)
}

private func activeChannels(_ c: Call, _ kind: ChannelKind) throws {
    guard c.count <= 3 else { throw c.unknownSubcommand() }
    let pattern = c.count > 2 ? GlobPattern(c.bytes(2)) : nil
    let names = c.server.pubsub.activeChannels(kind, matching: pattern)
    c.reply.arrayHeader(names.count)
    for n in names { c.reply.bulk(n) }
}

private func subscriberCounts(_ c: Call, _ kind: ChannelKind) {
    c.reply.arrayHeader(2 * (c.count - 2))
    for i in 2..<c.count {
        c.reply.bulk(c[i])
        c.reply.integer(c.server.pubsub.subscriberCount(kind, c.bytes(i)))
    }
}

extension Subscriptions.Kind {
    var subscribeWord: StaticString {
        switch self {
        case .channel: "subscribe"
        case .pattern: "psubscribe"
        case .shardChannel: "ssubscribe"
        }
    }

    var unsubscribeWord: StaticString {
        switch self {
        case .channel: "unsubscribe"
        case .pattern: "punsubscribe"
        case .shardChannel: "sunsubscribe"
        }
    }
}
