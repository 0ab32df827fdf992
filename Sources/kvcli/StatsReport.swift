import Glibc
import RESP

// `kvcli stats`: the server's STATS reply made readable: a summary, a table per shard, the chain-length
// and slot-occupancy histograms as bars, and warnings in plain words where the numbers call for them.
// `--json` prints the same figures for scripts; `--watch N` redraws every N seconds.

/// STATS parsed: the store's name:value fields and each shard_<i> line's k=v pairs.
struct StatsSnapshot {
    var fields: [String: String] = [:]
    var shards: [[String: String]] = []

    init(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon]), value = String(line[line.index(after: colon)...])
            if name.hasPrefix(StatsField.shardLinePrefix), let i = Int(name.dropFirst(StatsField.shardLinePrefix.count)) {
                var shard: [String: String] = [:]
                for pair in value.split(separator: ",") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    if kv.count == 2 { shard[String(kv[0])] = String(kv[1]) }
                }
                while shards.count <= i { shards.append([:]) }
                shards[i] = shard
            } else {
                fields[name] = value
            }
        }
    }

    func int(_ name: String) -> Int { Int(fields[name] ?? "") ?? 0 }
    func int(_ f: StatsField) -> Int { int(f.rawValue) }
    func double(_ f: StatsField) -> Double { Double(fields[f.rawValue] ?? "") ?? 0 }

    /// histogram(StatsField.chainLengthPrefix) = [count for 0, 1, 2, ...].
    func histogram(_ prefix: String) -> [Int] {
        var h: [Int] = []
        while let v = fields["\(prefix)\(h.count)"].flatMap({ Int($0) }) { h.append(v) }
        return h
    }
}

/// A shard line's name=value pairs.
extension Dictionary where Key == String, Value == String {
    subscript(_ f: StatsField) -> String? { self[f.rawValue] }
    func int(_ f: StatsField) -> Int { Int(self[f] ?? "") ?? 0 }
    func double(_ f: StatsField) -> Double { Double(self[f] ?? "") ?? 0 }
}

// MARK: Warnings

/// A chain this long (overflow buckets behind one bucket) means colliding keys: with a random seed and at
/// most 6.5 keys per bucket, chains of 2 are already rare.
let longChain = 4
/// Growth normally completes within seconds (writes and the server's cron both evacuate).
let slowGrowthSeconds = 10.0
/// An arena this large and less live than this is worth compacting (Compactor.swift empties pages under 75%).
let sparseArenaBytes = 256 << 10
let sparseArenaFill = 0.5

func statsWarnings(_ s: StatsSnapshot, previous: StatsSnapshot?) -> [String] {
    var w: [String] = []
    let keys = s.shards.map { $0.int(.keys) }
    for (i, sh) in s.shards.enumerated() {
        let chain = sh.int(.longestChain)
        if chain >= longChain {
            w.append("shard \(i) has a chain of \(chain) overflow buckets behind one bucket (up to \((chain + 1) * 8) keys scanned per lookup there): keys that collide, on purpose or through a fixed hash seed")
        }
        let buckets = sh.int(.buckets), overflow = sh.int(.overflowBuckets)
        if buckets > 0 && overflow * 2 >= buckets && overflow >= 8 {
            w.append("shard \(i) has \(overflow) overflow buckets for \(buckets) buckets: deleted keys leave chains behind until a same-size growth compacts them (at one overflow bucket per bucket)")
        }
        if sh[.growth] != "none" {
            let old = sh.int(.oldBuckets), done = sh.int(.evacuatedBuckets)
            let seconds = sh.double(.growthSeconds)
            let stalled = previous.map { p in
                i < p.shards.count && p.shards[i][.growth] == sh[.growth] && p.shards[i].int(.evacuatedBuckets) == done
            } ?? false
            if seconds >= slowGrowthSeconds || stalled {
                w.append("shard \(i) has been \(sh[.growth] ?? "") for \(format1(seconds)) s and is \(percent(done, old)) evacuated"
                    + (stalled ? ", with no progress since the last refresh" : "")
                    + ": growth moves with writes and with the server's cron (hz); a growth that stalls keeps two bucket arrays alive")
            }
        }
        if sh.double(.loadFactor) > 6.5 && sh[.growth] == "none" {
            w.append("shard \(i) holds \(format2(sh.double(.loadFactor))) keys per bucket without growing (the map grows past 6.5)")
        }
    }
    // Sparse arenas: deletes left pages mostly idle; compaction (activedefrag) gives them back.
    let sparse = s.shards.indices.filter { s.shards[$0].int(.arenaBytes) >= sparseArenaBytes && s.shards[$0].double(.arenaFill) < sparseArenaFill }
    if !sparse.isEmpty && s.fields[StatsField.activedefrag.rawValue] == "no" {
        let idle = sparse.reduce(0) { $0 + s.shards[$1].int(.idleArenaBytes) }
        w.append("\(sparse.count) shard\(sparse.count == 1 ? "" : "s") (\(sparse.prefix(8).map(String.init).joined(separator: ", "))\(sparse.count > 8 ? ", ..." : "")) have arenas under \(Int(sparseArenaFill * 100))% live, \(bytes(idle)) idle, and compaction is off: CONFIG SET activedefrag yes gives the sparse pages back")
    }
    let total = keys.reduce(0, +)
    if let most = keys.max(), total > 0, keys.count > 1 {
        let mean = Double(total) / Double(keys.count)
        if Double(most) > 2 * mean && most >= 1000 {
            let i = keys.firstIndex(of: most)!
            w.append("shard \(i) holds \(percent(most, total)) of the keys (\(format1(Double(most) / mean))x the average): the shard hash is uneven for these keys, so one lock and one map take most of the load")
        }
    }
    return w
}

// MARK: The report

struct Style {
    let color: Bool
    func bold(_ s: String) -> String { color ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    func warn(_ s: String) -> String { color ? "\u{1B}[33m\(s)\u{1B}[0m" : s }
    func good(_ s: String) -> String { color ? "\u{1B}[32m\(s)\u{1B}[0m" : s }
    func bad(_ s: String) -> String { color ? "\u{1B}[31m\(s)\u{1B}[0m" : s }
    var block: String { color ? "█" : "#" }
}

func statsReport(_ s: StatsSnapshot, target: String, warnings: [String], style: Style) -> String {
    var out = ""
    let keys = s.int(.keys), buckets = s.int(.buckets), overflow = s.int(.overflowBuckets)
    out += style.bold("kvserver \(target), db \(s.int(.db)): \(grouped(keys)) keys in \(s.int(.shards)) shards") + "\n"
    out += "  buckets      \(grouped(buckets)), overflow buckets \(grouped(overflow)) (\(percent(overflow, buckets)) of buckets)\n"
    out += "  load factor  \(format2(s.double(.loadFactor))) keys per bucket on average, \(format2(s.double(.loadFactorWorstShard))) in the fullest shard (\(s.int(.worstShard))); maps double past 6.5\n"
    let growing = s.int(.growthsInProgress)
    out += "  growth       " + (growing == 0 ? "none in progress" :
        "\(growing) shard\(growing == 1 ? "" : "s") growing, \(grouped(s.int(.evacuatedBuckets))) of \(grouped(s.int(.oldBuckets))) old buckets evacuated (\(percent(s.int(.evacuatedBuckets), s.int(.oldBuckets))))") + "\n"
    out += "  expiry       \(grouped(s.int(.keysWithExpiry))) keys with a time to live\n"
    out += "  memory       \(bytes(s.int(.totalBytes))): buckets \(bytes(s.int(.bucketBytes))), entries \(bytes(s.int(.entryBytes))), free arena \(bytes(s.int(.idleArenaBytes)))\n"
    out += "  arena        \(bytes(s.int(.arenaBytes))) of pages, \(percent(s.int(.arenaBytes) - s.int(.idleArenaBytes), s.int(.arenaBytes))) live, \(percent(s.int(.arenaResidentBytes), s.int(.arenaBytes))) resident; compaction \(s.fields[StatsField.activedefrag.rawValue] == "yes" ? "on" : "off")\n"

    out += "\n" + style.bold("Shards") + "\n"
    let header = ["shard", "keys", "B", "buckets", "overflow", "load", "chain", "growth", "ttl keys", "memory", "arena fill"]
    var rows = [header]
    for (i, sh) in s.shards.enumerated() {
        let growth = sh[.growth] == "none" ? "-" : "\(sh[.growth] ?? "") \(percent(sh.int(.evacuatedBuckets), sh.int(.oldBuckets)))"
        rows.append([String(i), grouped(sh.int(.keys)), sh[.bucketBits] ?? "", grouped(sh.int(.buckets)),
                     grouped(sh.int(.overflowBuckets)), format2(sh.double(.loadFactor)), sh[.longestChain] ?? "",
                     growth, grouped(sh.int(.keysWithExpiry)), bytes(sh.int(.totalBytes)),
                     percent(sh.int(.arenaBytes) - sh.int(.idleArenaBytes), sh.int(.arenaBytes))])
    }
    out += table(rows)

    out += innerMapsReport(s, style: style)

    out += "\n" + style.bold("Chain lengths") + " (buckets by the overflow buckets behind them)\n"
    out += bars(s.histogram(StatsField.chainLengthPrefix), total: buckets, style: style)
    out += "\n" + style.bold("Slots used") + " (buckets, overflow buckets included, by live slots of 8)\n"
    let slots = s.histogram(StatsField.slotsUsedPrefix)
    out += bars(slots, total: slots.reduce(0, +), style: style)

    out += "\n"
    if warnings.isEmpty {
        out += style.good("No warnings: chains are short, shards are even, no growth is stuck and no arena is left sparse.") + "\n"
    } else {
        out += style.bold("Warnings") + "\n"
        for w in warnings { out += style.warn("  ! " + w) + "\n" }
    }
    return out
}

/// The hashes, sets and lists: how many in each form, their inner maps (the maps inside the map), the
/// lists' nodes and the largest values; nothing when the database holds none.
private func innerMapsReport(_ s: StatsSnapshot, style: Style) -> String {
    let forms = (s.fields[StatsField.valuesByEncoding.rawValue] ?? "").split(separator: ",").compactMap { pair -> (String, Int)? in
        let kv = pair.split(separator: "=")
        return kv.count == 2 ? (String(kv[0]), Int(kv[1]) ?? 0) : nil
    }
    if forms.isEmpty { return "" }
    var out = "\n" + style.bold("Hashes, sets, lists and sorted sets") + "\n"
    out += "  values       " + forms.map { "\(grouped($0.1)) \($0.0)" }.joined(separator: ", ") + "\n"
    let maps = s.int(.innerMaps)
    let buckets = s.int(.innerMapBuckets), overflow = s.int(.innerMapOverflowBuckets)
    out += "  inner maps   \(grouped(maps)) (values grown past the compact forms, each its own map): "
        + "\(grouped(s.int(.innerMapEntries))) entries in \(grouped(buckets)) buckets, load \(format2(s.double(.innerMapLoadFactor))), "
        + "overflow buckets \(grouped(overflow)) (\(percent(overflow, buckets))), \(grouped(s.int(.innerMapGrowthsInProgress))) growing\n"
    let nodes = s.int(.listNodes)
    if nodes > 0 {
        out += "  list nodes   \(grouped(nodes)) holding \(grouped(s.int(.listElements))) elements, \(format2(Double(s.int(.listElements)) / Double(nodes))) per node\n"
    }
    let leaves = s.int(.zsetTreeLeaves)
    if s.int(.zsetElements) > 0 {
        out += "  sorted sets  \(grouped(s.int(.zsetElements))) elements; \(grouped(leaves)) leaf blocks in the large ones' trees\n"
    }
    out += "  memory       \(bytes(s.int(.innerBytes))) in compact buffers, list nodes, trees and inner maps\n"
    var i = 0
    var rows = [["largest", "type", "elements"]]
    while let v = s.fields[StatsField.largestValuePrefix + String(i)] {
        let parts = v.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count == 3 { rows.append([String(parts[2]), String(parts[0]), grouped(Int(parts[1]) ?? 0)]) }
        i += 1
    }
    if rows.count > 1 { out += table(rows) }
    return out
}

/// One bar per histogram row, scaled to the largest row.
private func bars(_ counts: [Int], total: Int, style: Style) -> String {
    let most = max(1, counts.max() ?? 1)
    let width = 40
    return counts.enumerated().map { k, n in
        let length = n == 0 ? 0 : max(1, n * width / most)
        let bar = String(repeating: style.block, count: length) + String(repeating: " ", count: width - length)
        return "  \(pad(String(k), 3)) \(bar) \(pad(grouped(n), 12)) \(pad(percent(n, total), 7))\n"
    }.joined()
}

private func table(_ rows: [[String]]) -> String {
    let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
    return rows.map { r in "  " + r.indices.map { pad(r[$0], widths[$0]) }.joined(separator: "  ") + "\n" }.joined()
}

private func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

func grouped(_ n: Int) -> String {
    let digits = Array(String(abs(n)))
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(d)
    }
    return (n < 0 ? "-" : "") + out
}

func percent(_ part: Int, _ whole: Int) -> String { whole == 0 ? "0%" : format1(100 * Double(part) / Double(whole)) + "%" }

func bytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n), u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : "\(format1(v)) \(units[u])"
}

func format1(_ v: Double) -> String { formatFixed(v, digits: 1) }
func format2(_ v: Double) -> String { formatFixed(v, digits: 2) }

// MARK: JSON

func statsJSON(_ s: StatsSnapshot, target: String, warnings: [String]) -> String {
    let histograms = [StatsField.chainLengthPrefix, StatsField.slotsUsedPrefix]
    let summary = s.fields.keys.sorted().filter { k in !histograms.contains { k.hasPrefix($0) } }
        .map { "\(jsonString($0)):\(jsonValue(s.fields[$0]!, key: $0))" }.joined(separator: ",")
    let shards = s.shards.map { sh in
        "{" + sh.keys.sorted().map { "\(jsonString($0)):\(jsonValue(sh[$0]!, key: $0))" }.joined(separator: ",") + "}"
    }.joined(separator: ",")
    let list = { (h: [Int]) in "[" + h.map(String.init).joined(separator: ",") + "]" }
    return "{\"target\":\(jsonString(target)),\"summary\":{\(summary)},"
        + "\"chain_lengths\":\(list(s.histogram(StatsField.chainLengthPrefix))),\"slots_used\":\(list(s.histogram(StatsField.slotsUsedPrefix))),"
        + "\"shards\":[\(shards)],\"warnings\":[\(warnings.map(jsonString).joined(separator: ","))]}"
}

/// Numbers stay numbers; everything else (growth kinds, fingerprints) is a string.
private func jsonValue(_ v: String, key: String) -> String {
    if key == StatsField.seedFingerprint.rawValue { return jsonString(v) }
    if Int(v) != nil { return v }
    if let d = Double(v), d.isFinite, v.first != "." { return v }
    return jsonString(v)
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where u.value < 0x20:
            let hex = String(u.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

// MARK: Running it

func runStatsReport(_ client: Client, _ o: Options) -> Int32 {
    let target = "\(o.host):\(o.port)"
    let tty = isatty(1) != 0
    let style = Style(color: tty && getenv("NO_COLOR") == nil && getenv("TERM").map { String(cString: $0) } != "dumb")
    var previous: StatsSnapshot? = nil
    while true {
        let reply: RESPValue
        do {
            reply = try client.call("STATS")
        } catch {
            connectionLost(o)
        }
        guard let text = reply.text else {
            printReply(reply, o)
            return 1
        }
        let s = StatsSnapshot(text)
        let w = statsWarnings(s, previous: previous)
        if o.json {
            writeOut(Array((statsJSON(s, target: target, warnings: w) + "\n").utf8))
        } else {
            if o.watch != nil && tty { writeOut(Array("\u{1B}[H\u{1B}[2J".utf8)) }
            writeOut(Array(statsReport(s, target: target, warnings: w, style: style).utf8))
            if let n = o.watch { writeOut(Array("\n(refreshing every \(format1(n)) s; Ctrl-C to stop)\n".utf8)) }
        }
        guard let interval = o.watch else { return 0 }
        previous = s
        usleep(useconds_t(interval * 1_000_000))
    }
}

func runVerify(_ client: Client, _ o: Options) -> Int32 {
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    let reply: RESPValue
    let summary: RESPValue
    do {
        reply = try client.call("VERIFY")
        clock_gettime(CLOCK_MONOTONIC, &end)
        summary = try client.call("INFO", "hashmap")
    } catch {
        connectionLost(o)
    }
    let ms = Double(end.tv_sec - start.tv_sec) * 1000 + Double(end.tv_nsec - start.tv_nsec) / 1e6
    let info = StatsSnapshot(summary.text ?? "")
    let style = Style(color: isatty(1) != 0 && getenv("NO_COLOR") == nil)
    switch reply {
    case .simple("OK"):
        writeOut(Array((style.good("The map is sound:") + " every invariant holds in all \(info.int(StatsField.hashmapPrefix + StatsField.shards.rawValue)) shards "
            + "(\(grouped(info.int(StatsField.hashmapPrefix + StatsField.keys.rawValue))) keys, checked in \(format1(ms)) ms).\n").utf8))
        return 0
    case .error(let e):
        let what = e.hasPrefix("ERR map invariant broken: ") ? String(e.dropFirst(26)) : e
        writeOut(Array((style.bad("The map is BROKEN:") + " \(what)\n"
            + "This is the first broken invariant found (the server's log has it too). Data in this shard may be "
            + "unreachable or wrong: restart the server from its last good snapshot and report the log.\n").utf8))
        return 1
    default:
        printReply(reply, o)
        return 1
    }
}
