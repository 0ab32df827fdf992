import KVEngine

// Shrinking a mismatch to the shortest stream that shows it. Replays run on fresh connections after
// FLUSHALL, pipelined as one segment as the original batches were. First the shortest tail of the log
// (1, 2, 4, ... commands) that still ends in a mismatch on the same command; then commands are dropped
// one at a time, each drop kept while the mismatch stays. Expiry makes replays timing-dependent, so a
// tail that does not reproduce is reported as such, with the original context.

struct Shrinker {
    let oursPort: Int
    let redisPort: Int
    let resp3: Bool
    let writes: Set<String>
    let notifications: Bool
    /// Wall-clock milliseconds after which shrinking stops with the best found so far.
    let deadline: Int64

    func shrink(_ log: [StreamEntry], _ original: Mismatch) -> [StreamEntry]? {
        let upTo = Array(log.prefix(original.index + 1))
        var found: [StreamEntry]? = nil
        var n = 1
        while n <= Swift.min(upTo.count, 4096) * 2 && wallClockMilliseconds() < deadline {
            let tail = Array(upTo.suffix(Swift.min(n, upTo.count)))
            if reproduces(tail, original) {
                found = tail
                break
            }
            if n >= upTo.count { break }
            n *= 2
        }
        guard var best = found else { return nil }
        var i = 0
        while i < best.count - 1 && wallClockMilliseconds() < deadline {
            var candidate = best
            candidate.remove(at: i)
            if reproduces(candidate, original) { best = candidate } else { i += 1 }
        }
        return best
    }

    func reproduces(_ entries: [StreamEntry], _ original: Mismatch) -> Bool {
        guard let last = entries.last else { return false }
        do {
            for port in [oursPort, redisPort] { _ = try Connection(port: port).call("FLUSHALL") }
            let session = try Session(oursPort: oursPort, redisPort: redisPort, resp3: resp3, writes: writes, startDB: entries[0].db, notifications: notifications)
            guard let m = session.run(entries.map(\.command)) else { return false }
            return session.counters.commands == entries.count && m.command.args == last.command.args
                && m.ours.hasPrefix("VERIFY") == original.ours.hasPrefix("VERIFY")
        } catch {
            return false
        }
    }
}
