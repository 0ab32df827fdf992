import KVEngine
import RESP

// Seeing inside the server: INFO (Info.swift), STATS (the maps' buckets, chains and growth, for the
// selected database), VERIFY (the map verifier, live) and DEBUG (test knobs, off unless
// enable-debug-command allows them, as Redis). Rows: CommandRows.swift and OwnCommands.swift.

/// INFO [section [section ...]]
func infoCommand(_ c: Call) throws {
    c.reply.verbatim(c.server.info((1..<c.count).map { c.string($0) }))
}

/// STATS [SHARD n]: the maps of the selected database, drawn for a person (ours).
func statsCommand(_ c: Call) throws {
    let db = c.db
    if c.count == 1 {
        let index = c.client.databaseIndex, compaction = c.server.settings.compaction.enabled
        let text: @Sendable () -> String = {
            statsText(db.statistics(), db: index, compaction: compaction) + "\r\n" + innerMapsText(db.innerMapStatistics())
        }
        // Its inner-map section walks every key (about a second at 12M keys): off the event loop, as VERIFY,
        // so only this client waits. Inside EXEC, which holds every lock, it answers at once.
        if c.client.executingTransaction { return c.reply.verbatim(text()) }
        let hold = c.server.offLoopHold
        return c.client.replyLater {
            hold.pass()
            let reply = text()
            return { $0.verbatim(reply) }
        }
    }
    guard c.count == 3, c.argument(1, is: "shard") else { throw CommandError.syntax }
    let n = try c.integer(2)
    guard n >= 0 && n < db.shardCount else {
        throw CommandError("ERR shard out of range: the store has \(db.shardCount) shards (0-\(db.shardCount - 1))")
    }
    c.reply.verbatim(shardText(db.statistics(shard: Int(n)), shard: Int(n)))
}

/// VERIFY: runs every map's verifier (ours).
func verifyCommand(_ c: Call) throws {
    // Seconds on a large store: off the event loop, so only this client waits.
    let server = c.server
    c.client.replyLater {
        server.offLoopHold.pass()
        for (i, db) in server.databases.enumerated() {
            if let v = db.verify() {
                server.log.warning("VERIFY found a broken map: db \(i) \(v)")
                return { $0.error("ERR map invariant broken: db \(i) \(v)") }
            }
        }
        return { $0.ok() }
    }
}

/// DEBUG subcommand [argument ...]: test knobs. Protected (the table refuses it unless
/// enable-debug-command allows it); its subcommands are ours, read here as Redis' debugCommand does.
func debugCommand(_ c: Call) throws {
    if c.argument(1, is: "help") && c.count == 2 {
        return c.help([
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "BREAK-MAP <key>", "    Corrupt the map slot of <key> on purpose (tests of VERIFY).",
            "HOLD-OFF-LOOP <0|1>", "    1 holds VERIFY and STATS (which run off the event loop) until 0.",
            "SET-ACTIVE-EXPIRE <0|1>", "    Setting it to 0 disables expiring keys in background when they are not accessed.",
            "HELP", "    Print this help.",
        ])
    }
    if c.argument(1, is: "break-map") && c.count == 3 {
        // Corrupts the map holding the key (its slot's tophash), so that tests can see VERIFY find it.
        guard c.db.debugCorruptTopHash(ofKey: c[2]) else { throw CommandError("ERR no such key") }
        c.server.log.warning("DEBUG BREAK-MAP: the map holding a key was corrupted on purpose")
        return c.reply.ok()
    }
    if c.argument(1, is: "hold-off-loop") && c.count == 3 {
        c.server.offLoopHold.set(try c.integer(2) != 0)
        return c.reply.ok()
    }
    if c.argument(1, is: "set-active-expire") && c.count == 3 {
        c.server.activeExpire.store(try c.integer(2) != 0, ordering: .relaxed)
        return c.reply.ok()
    }
    throw c.unknownSubcommand()
}

// MARK: STATS text

/// Growth kinds as STATS prints them.
func growthName(_ g: GrowthKind) -> String {
    switch g {
    case .none: "none"
    case .doubling: "doubling"
    case .sameSize: "same-size"
    case .shrinking: "shrinking"
    }
}

/// The figures shared by STATS and INFO's hashmap section, summed over `stores` (shard statistics of
/// each), with the load-factor extremes over every shard that has buckets.
struct StoreSummary {
    let total: MapStatistics
    let shards: Int
    let worstLoad: Double
    let worstShard: Int
    let growing: Int

    init(_ stores: [StoreStatistics]) {
        var t = MapStatistics()
        var worst = 0.0, worstIndex = 0, growing = 0, n = 0
        for s in stores {
            t.add(s.total)
            for (i, m) in s.shards.enumerated() {
                if m.loadFactor > worst { (worst, worstIndex) = (m.loadFactor, i) }
                if m.growth != .none { growing += 1 }
            }
            n += s.shards.count
        }
        total = t
        shards = n
        worstLoad = worst
        worstShard = worstIndex
        self.growing = growing
    }

    /// The figures as name:value fields (`worst_shard` only for one store, where the index is unambiguous).
    func fields(worstShardIndex: Bool) -> [Field] {
        let t = total
        return [
            Field(.keys, String(t.count)), Field(.keysWithExpiry, String(t.entriesWithExpiry)), Field(.shards, String(shards)),
            Field(.buckets, String(t.buckets)), Field(.overflowBuckets, String(t.overflowBuckets)),
            Field(.loadFactor, format2(t.loadFactor)), Field(.loadFactorWorstShard, format2(worstLoad)),
        ] + (worstShardIndex ? [Field(.worstShard, String(worstShard))] : []) + [
            Field(.growthsInProgress, String(growing)), Field(.oldBuckets, String(t.oldBuckets)),
            Field(.evacuatedBuckets, String(t.evacuatedBuckets)),
            Field(.bucketBytes, String(t.bucketBytes)), Field(.entryBytes, String(t.entryBytes)),
            Field(.idleArenaBytes, String(t.idleArenaBytes)), Field(.totalBytes, String(t.totalBytes)),
            Field(.arenaBytes, String(t.arenaBytes)), Field(.arenaFill, format2(t.arenaFill)),
        ] + (t.arenaResidentBytes.map { [Field(.arenaResidentBytes, String($0))] } ?? [])
    }
}

/// INFO's hashmap section: the summary of every database, names prefixed so scrapers keep them apart.
func hashmapFields(_ stores: [StoreStatistics]) -> [(String, String)] {
    StoreSummary(stores).fields(worstShardIndex: false).map { (StatsField.hashmapPrefix + $0.name, $0.value) }
}

/// The chain-length and slot-occupancy histograms as name:value fields.
private func histogramFields(_ st: MapStatistics) -> [Field] {
    var f = [Field(.longestChain, String(max(0, st.chainLengths.count - 1)))]
    for (k, n) in st.chainLengths.enumerated() { f.append(Field(StatsField.chainLengthPrefix + String(k), String(n))) }
    for (k, n) in st.slotOccupancy.enumerated() { f.append(Field(StatsField.slotsUsedPrefix + String(k), String(n))) }
    return f
}

/// One map's growth fields.
private func growthFields(_ st: MapStatistics) -> [Field] {
    [Field(.growth, growthName(st.growth)), Field(.oldBuckets, String(st.oldBuckets)),
     Field(.evacuatedBuckets, String(st.evacuatedBuckets)), Field(.growthSeconds, format2(st.growthSeconds))]
}

/// One name and its value, as STATS prints them.
struct Field {
    let name: String
    let value: String

    init(_ field: StatsField, _ value: String) { (name, self.value) = (field.rawValue, value) }
    init(_ name: String, _ value: String) { (self.name, self.value) = (name, value) }
}

private func lines(_ section: String, _ fields: [Field]) -> String {
    "# \(section)\r\n" + fields.map { "\($0.name):\($0.value)\r\n" }.joined()
}

/// STATS: the store summary with both histograms, then one line per shard.
func statsText(_ st: StoreStatistics, db: Int, compaction: Bool) -> String {
    let summary = StoreSummary([st])
    var store = [Field(.db, String(db))] + summary.fields(worstShardIndex: true) + [Field(.activedefrag, compaction ? "yes" : "no")]
    store += histogramFields(st.total)
    let shards = st.shards.enumerated().map { i, m in
        let pairs = [
            Field(.keys, String(m.count)), Field(.keysWithExpiry, String(m.entriesWithExpiry)),
            Field(.bucketBits, String(m.bucketBits)), Field(.buckets, String(m.buckets)),
            Field(.overflowBuckets, String(m.overflowBuckets)), Field(.loadFactor, format2(m.loadFactor)),
            Field(.longestChain, String(max(0, m.chainLengths.count - 1))),
        ] + growthFields(m) + [Field(.totalBytes, String(m.totalBytes)), Field(.arenaBytes, String(m.arenaBytes)),
                               Field(.arenaFill, format2(m.arenaFill)), Field(.seedFingerprint, hex(m.seedFingerprint))]
        return Field(StatsField.shardLinePrefix + String(i), pairs.map { "\($0.name)=\($0.value)" }.joined(separator: ","))
    }
    return lines("Store", store) + "\r\n" + lines("Shards", shards)
}

/// STATS' section on hashes, sets and lists: how many in each form, the maps inside the map (their
/// entries, buckets, load, growths running), the lists' nodes, and the largest values.
func innerMapsText(_ st: InnerMapStatistics) -> String {
    let load = st.buckets == 0 ? 0 : Double(st.entries) / Double(st.buckets)
    var f = [Field(.valuesByEncoding, st.byEncoding.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")),
             Field(.innerMaps, String(st.maps)), Field(.innerMapEntries, String(st.entries)),
             Field(.innerMapBuckets, String(st.buckets)), Field(.innerMapOverflowBuckets, String(st.overflowBuckets)),
             Field(.innerMapLoadFactor, format2(load)), Field(.innerMapGrowthsInProgress, String(st.growing)),
             Field(.innerBytes, String(st.bytes)), Field(.listElements, String(st.listElements)), Field(.listNodes, String(st.listNodes)),
             Field(.zsetElements, String(st.zsetElements)), Field(.zsetTreeLeaves, String(st.zsetTreeLeaves))]
    f += st.largest.enumerated().map { i, v in
        Field(StatsField.largestValuePrefix + String(i), "\(v.type):\(v.count):\(printableKey(v.key))")
    }
    return lines("Inner maps", f)
}

/// A key as one line of STATS: bytes outside printable ASCII escaped as \xHH.
func printableKey(_ key: [UInt8]) -> String {
    key.map { b in b >= 0x20 && b < 0x7F && b != UInt8(ascii: "\\") ? String(UnicodeScalar(b)) : "\\x" + hex2(b) }.joined()
}

private func hex2(_ b: UInt8) -> String { (b < 16 ? "0" : "") + String(b, radix: 16) }

/// STATS SHARD n: every figure of one shard's map.
func shardText(_ m: MapStatistics, shard: Int) -> String {
    var f = [
        Field(.shard, String(shard)), Field(.keys, String(m.count)), Field(.keysWithExpiry, String(m.entriesWithExpiry)),
        Field(.bucketBits, String(m.bucketBits)), Field(.buckets, String(m.buckets)),
        Field(.overflowBuckets, String(m.overflowBuckets)), Field(.loadFactor, format2(m.loadFactor)),
    ]
    f += growthFields(m)
    f += [Field(.oldOverflowBuckets, String(m.oldOverflowBuckets))]
    f += histogramFields(m)
    f += [Field(.bucketBytes, String(m.bucketBytes)), Field(.entryBytes, String(m.entryBytes)),
          Field(.idleArenaBytes, String(m.idleArenaBytes)), Field(.totalBytes, String(m.totalBytes)),
          Field(.arenaBytes, String(m.arenaBytes)), Field(.arenaFill, format2(m.arenaFill)),
          Field(.seedFingerprint, hex(m.seedFingerprint))]
    return lines("Shard", f)
}

private func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 8 - s.count)) + s
}

// MARK: SLOWLOG (SlowLog.swift)

/// SLOWLOG GET [count]: the newest entries (10 by default, -1 all), newest first.
func slowlogGetCommand(_ c: Call) throws {
    guard c.count <= 3 else { throw c.unknownSubcommand() }
    var count: Int? = 10
    if c.count == 3 {
        guard let n = parseInt64(c[2]), n >= -1 else { throw CommandError("ERR count should be greater than or equal to -1") }
        count = n == -1 ? nil : Int(n)
    }
    let entries = c.server.slowlog.newest(count)
    let r = c.reply
    r.arrayHeader(entries.count)
    for e in entries {
        r.arrayHeader(6)
        r.integer(e.id)
        r.integer(e.time)
        r.integer(e.micros)
        r.arrayHeader(e.args.count)
        for a in e.args { r.bulk(a) }
        r.bulk(e.peer)
        r.bulk(e.name)
    }
}

/// SLOWLOG LEN
func slowlogLenCommand(_ c: Call) throws { c.reply.integer(c.server.slowlog.count) }

/// SLOWLOG RESET
func slowlogResetCommand(_ c: Call) throws {
    c.server.slowlog.reset()
    c.reply.ok()
}

/// SLOWLOG HELP
func slowlogHelpCommand(_ c: Call) throws {
    c.help([
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    ])
}

// MARK: MEMORY

/// MEMORY USAGE key [SAMPLES count]: about how many bytes the key takes here (Store.memoryUsage; our
/// layout's figure, not Redis'). SAMPLES is checked as Redis checks it: values are measured whole.
func memoryUsageCommand(_ c: Call) throws {
    var j = 3
    while j < c.count {
        guard c.argument(j, is: "samples") && j + 1 < c.count else { throw CommandError.syntax }
        guard try c.integer(j + 1) >= 0 else { throw CommandError.syntax }
        j += 2
    }
    guard let n = c.db.memoryUsage(c[2]) else { return c.reply.null() }
    c.reply.integer(n)
}

/// MEMORY STATS: Redis' fields that mean something here, as a map.
func memoryStatsCommand(_ c: Call) throws {
    let server = c.server
    let used = usedMemory()
    let peak = server.memoryPeak.update(used)
    let rss = residentBytes()
    let keys = server.databases.reduce(0) { $0 + $1.count }
    let dataset = server.databases.reduce(0) { $0 + $1.statistics(histograms: false).total.totalBytes }
    let fields: [(String, RESPValue)] = [
        ("peak.allocated", .integer(Int64(peak))),
        ("total.allocated", .integer(Int64(used))),
        ("keys.count", .integer(Int64(keys))),
        ("keys.bytes-per-key", .integer(Int64(keys == 0 ? 0 : dataset / keys))),
        ("dataset.bytes", .integer(Int64(dataset))),
        ("dataset.percentage", .double(String(format2(used == 0 ? 0 : 100 * Double(dataset) / Double(used))))),
        ("peak.percentage", .double(String(format2(peak == 0 ? 0 : 100 * Double(used) / Double(peak))))),
        ("allocator.resident", .integer(Int64(rss))),
        ("fragmentation", .double(String(format2(used == 0 ? 0 : Double(rss) / Double(used))))),
        ("fragmentation.bytes", .integer(Int64(rss - used))),
    ]
    c.reply.value(.map(fields.map { (.bulk(Array($0.0.utf8)), $0.1) }))
}

/// MEMORY DOCTOR: Redis' words for an instance with nothing to report.
func memoryDoctorCommand(_ c: Call) throws {
    let keys = c.server.databases.reduce(0) { $0 + $1.count }
    if usedMemory() < 5 << 20 || keys == 0 {
        c.reply.verbatim("Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.")
    } else {
        c.reply.verbatim("Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.")
    }
}

/// MEMORY MALLOC-STATS
func memoryMallocStatsCommand(_ c: Call) throws { c.reply.verbatim("Stats not supported for the current allocator") }

/// MEMORY PURGE: nothing to purge with the system allocator.
func memoryPurgeCommand(_ c: Call) throws { c.reply.ok() }

/// MEMORY HELP
func memoryHelpCommand(_ c: Call) throws {
    c.help([
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ])
}

// MARK: LATENCY (LatencyMonitor.swift)

/// LATENCY LATEST: each event's name, the time and milliseconds of its latest sample, and its maximum.
func latencyLatestCommand(_ c: Call) throws {
    let all = c.server.latency.latest()
    c.reply.arrayHeader(all.count)
    for e in all {
        c.reply.arrayHeader(4)
        c.reply.bulk(e.event)
        c.reply.integer(e.sample.time)
        c.reply.integer(e.sample.milliseconds)
        c.reply.integer(e.max)
    }
}

/// LATENCY HISTORY event: its samples, oldest first, as [time, milliseconds].
func latencyHistoryCommand(_ c: Call) throws {
    let samples = c.server.latency.history(c.string(2))
    c.reply.arrayHeader(samples.count)
    for s in samples {
        c.reply.arrayHeader(2)
        c.reply.integer(s.time)
        c.reply.integer(s.milliseconds)
    }
}

/// LATENCY RESET [event ...]: how many events were forgotten.
func latencyResetCommand(_ c: Call) throws {
    c.reply.integer(c.server.latency.reset((2..<c.count).map { c.string($0) }))
}

/// LATENCY HELP
func latencyHelpCommand(_ c: Call) throws {
    c.help([
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
    ])
}
