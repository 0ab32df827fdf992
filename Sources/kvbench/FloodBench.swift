import Foundation
import Glibc
import Synchronization

// kvbench flood: the memory limit under a flood of writes, against a server on 127.0.0.1 (ours or
// redis-server: scripts/flood-bench runs both). `clients` connections SET keys never seen before with
// values of 16 bytes to 64 KiB (sizes log-uniform) while a sampler reads INFO every 10 ms:
//   1. for `seconds` under `maxmemory`: the highest used_memory sampled, and RSS;
//   2. the limit lowered to `lowered` under the same load: how long until used_memory is under it, and the
//      longest any client (a PING loop and the writers) waited for a reply meanwhile and for 2 s after;
//   3. the writers stop: RSS once it settles (2 s later).
// Beside the clients' waits, the server's own: the longest eviction cycle and command LATENCY recorded in
// each of the first two phases.

struct FloodBench {
    let port: Int
    let clients: Int
    let seconds: Double
    let maxMemory: Int
    let lowered: Int
    let policy: String

    func info(_ c: BenchConnection, _ field: String) -> Int {
        c.send(["INFO", "memory"])
        guard case .bulk(let body)? = c.readReply() else { return -1 }
        for line in String(decoding: body, as: UTF8.self).split(separator: "\r\n") where line.hasPrefix(field + ":") {
            return Int(line.dropFirst(field.count + 1)) ?? -1
        }
        return -1
    }

    func run() {
        guard let admin = BenchConnection(port: port) else { print("flood: cannot connect"); exit(1) }
        admin.send(["CONFIG", "SET", "maxmemory-policy", policy]); _ = admin.readReply()
        admin.send(["CONFIG", "SET", "maxmemory", String(maxMemory)]); _ = admin.readReply()
        // The server's own account of its pauses, which the clients' waits (scheduling on shared cores
        // included) cannot separate out: LATENCY's eviction-cycle and command events, 1 ms and up.
        admin.send(["CONFIG", "SET", "latency-monitor-threshold", "1"]); _ = admin.readReply()
        let emptyRSS = info(admin, "used_memory_rss")
        let stop = Atomic(false), measuring = Atomic(false)
        let worstWriteMicros = Atomic(0)
        let writes = Atomic(0)
        let group = DispatchGroup()
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 64 << 10)
        for n in 0..<clients {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let c = PipelineConnection(port: port) else { return }
                var rng = SystemRandomNumberGenerator()
                var i = 0
                while !stop.load(ordering: .relaxed) {
                    let size = Int(16 * pow(4096.0, Double.random(in: 0...1, using: &rng)))
                    c.append([Array("SET".utf8), Array("flood:\(n):\(i)".utf8), Array(payload[0..<size])])
                    let t = monotonicMicros()
                    c.flush()
                    guard c.skipReply() else { return }
                    if measuring.load(ordering: .relaxed) {
                        let d = monotonicMicros() - t
                        var seen = worstWriteMicros.load(ordering: .relaxed)
                        while d > seen {
                            let (done, now) = worstWriteMicros.compareExchange(expected: seen, desired: d, ordering: .relaxed)
                            if done { break }
                            seen = now
                        }
                    }
                    writes.add(1, ordering: .relaxed)
                    i += 1
                }
            }.start()
        }
        // 1. Under the limit, with a PING loop on its own connection from the middle on: the longest wait
        // under this load alone, to compare the next phase's with.
        let ping = Pinger(port: port)
        var worstUsed = 0
        var baselinePing = 0
        let start1 = monotonicMicros()
        let end1 = start1 + Int(seconds * 1e6)
        var pingerStarted = false
        while monotonicMicros() < end1 {
            worstUsed = max(worstUsed, info(admin, "used_memory"))
            if !pingerStarted && monotonicMicros() > start1 + Int(seconds * 5e5) {
                pingerStarted = true
                ping.start(group)
            }
            usleep(10_000)
        }
        baselinePing = ping.worst.load(ordering: .relaxed)
        let rssUnderLoad = info(admin, "used_memory_rss")
        let pausesUnderLimit = (latencyMax(admin, "eviction-cycle"), latencyMax(admin, "command"))
        admin.send(["LATENCY", "RESET"]); _ = admin.readReply()
        // 2. Lowered under load.
        if !pingerStarted { ping.start(group) }
        ping.worst.store(0, ordering: .relaxed)
        measuring.store(true, ordering: .relaxed)
        admin.send(["CONFIG", "SET", "maxmemory", String(lowered)]); _ = admin.readReply()
        let lowerStart = monotonicMicros()
        var underAfter = -1
        var worstAfterLowering = 0
        while monotonicMicros() - lowerStart < 2_000_000 || (underAfter < 0 && monotonicMicros() - lowerStart < 30_000_000) {
            let used = info(admin, "used_memory")
            if underAfter < 0 && used <= lowered { underAfter = (monotonicMicros() - lowerStart) / 1000 }
            if underAfter >= 0 { worstAfterLowering = max(worstAfterLowering, used) }
            usleep(10_000)
        }
        ping.running.store(false, ordering: .relaxed)
        measuring.store(false, ordering: .relaxed)
        let pausesLowering = (latencyMax(admin, "eviction-cycle"), latencyMax(admin, "command"))
        stop.store(true, ordering: .relaxed)
        group.wait()
        sleep(2)
        let rssSettled = info(admin, "used_memory_rss")
        let usedSettled = info(admin, "used_memory")
        print(String(format: "flood: %d clients, %d writes; maxmemory %.1f MB: highest used_memory %.2f MB (%.2f%% over), RSS under load %.1f MB (empty %.1f MB)",
                     clients, writes.load(ordering: .relaxed), Double(maxMemory) / 1048576, Double(worstUsed) / 1048576,
                     max(0, Double(worstUsed - maxMemory) / Double(maxMemory) * 100), Double(rssUnderLoad) / 1048576, Double(emptyRSS) / 1048576))
        print(String(format: "flood: lowered to %.1f MB under load: under it after %d ms, then at most %.2f MB; longest wait for a reply: PING %.2f ms (%.2f ms before lowering), SET %.2f ms",
                     Double(lowered) / 1048576, underAfter, Double(worstAfterLowering) / 1048576,
                     Double(ping.worst.load(ordering: .relaxed)) / 1000, Double(baselinePing) / 1000,
                     Double(worstWriteMicros.load(ordering: .relaxed)) / 1000))
        func ms(_ m: Int) -> String { m == 0 ? "<1 ms" : "\(m) ms" }
        print("flood: longest server-side pauses (LATENCY): eviction-cycle \(ms(pausesLowering.0)), command \(ms(pausesLowering.1)) "
              + "while lowered (\(ms(pausesUnderLimit.0)) and \(ms(pausesUnderLimit.1)) under the first limit)")
        print(String(format: "flood: writers stopped: used_memory %.1f MB, RSS %.1f MB (limit + empty RSS: %.1f MB)",
                     Double(usedSettled) / 1048576, Double(rssSettled) / 1048576, Double(lowered + emptyRSS) / 1048576))
    }
}

/// The maximum LATENCY LATEST shows for `event`, in milliseconds; 0 when none reached the threshold.
private func latencyMax(_ c: BenchConnection, _ event: String) -> Int {
    c.send(["LATENCY", "LATEST"])
    guard case .array(let events)? = c.readReply() else { return 0 }
    for case .array(let e) in events where e.count == 4 {
        if case .bulk(let name) = e[0], name == Array(event.utf8), case .integer(let m) = e[3] { return m }
    }
    return 0
}

/// A PING loop on its own connection, recording the longest round trip, until `running` is false.
final class Pinger: Sendable {
    let port: Int
    let worst = Atomic(0)
    let running = Atomic(true)

    init(port: Int) { self.port = port }

    func start(_ group: DispatchGroup) {
        group.enter()
        Thread { [self] in
            defer { group.leave() }
            guard let p = BenchConnection(port: port) else { return }
            while running.load(ordering: .relaxed) {
                let t = monotonicMicros()
                p.send(["PING"])
                _ = p.readReply()
                let d = monotonicMicros() - t
                if d > worst.load(ordering: .relaxed) { worst.store(d, ordering: .relaxed) }
                usleep(1000)
            }
        }.start()
    }
}

private func monotonicMicros() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int(ts.tv_sec) * 1_000_000 + Int(ts.tv_nsec) / 1000
}
