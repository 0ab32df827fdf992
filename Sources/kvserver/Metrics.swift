import Glibc
import CKVSupport
import KVEngine

// Prometheus metrics: with `metrics-port` set, `GET /metrics` over plain HTTP/1.x on the `bind`
// addresses answers the text exposition format (version 0.0.4). One thread serves scrapes one at a time
// (a scraper asks every few seconds); each request is read with a 2 s timeout and at most 8 KiB, answered
// and closed, so a stuck or hostile peer holds it for 2 s at most and never touches the event loops.

extension Server {
    /// Opens the metrics listeners and starts their thread. Called at start-up when metrics-port > 0.
    func startMetrics(port: Int) throws(ListenError) {
        let listeners = try openListeners(bind: settings.bind, port: port, backlog: 64)
        log.notice("Prometheus metrics at /metrics on \(listeners.map(\.address).joined(separator: ", "))")
        startThread { [self] in
            var fds = listeners.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            while true {
                guard poll(&fds, nfds_t(fds.count), -1) > 0 else { continue }
                for p in fds where p.revents & Int16(POLLIN) != 0 {
                    let fd = accept(p.fd, nil, nil)  // blocking: Linux does not pass O_NONBLOCK on
                    if fd >= 0 { serveMetrics(fd) }
                }
            }
        }
    }

    private func serveMetrics(_ fd: Int32) {
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while request.count < 8192 && !request.ends(with: [13, 10, 13, 10]) && !request.ends(with: [10, 10]) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            request += chunk[0..<n]
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        let response: String
        if line.count < 2 || !line[0].hasPrefix("GET") && line[0] != "HEAD" {
            response = httpResponse("405 Method Not Allowed", "text/plain", "only GET /metrics is served\n")
        } else if line[1] == "/metrics" || line[1].hasPrefix("/metrics?") {
            response = httpResponse("200 OK", "text/plain; version=0.0.4; charset=utf-8", metricsText(), head: line[0] == "HEAD")
        } else {
            response = httpResponse("404 Not Found", "text/plain", "metrics are at /metrics\n")
        }
        var bytes = Array(response.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeMutableBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// The exposition text: every family with HELP and TYPE, labelled by database where it is per database.
    func metricsText() -> String {
        var m = MetricsWriter()
        let stores = databases.map { $0.statistics(histograms: false) }
        let dbs = stores.indices.filter { $0 == 0 || stores[$0].total.count > 0 }.map { ($0, StoreSummary([stores[$0]])) }
        func perDB(_ name: String, _ help: String, _ value: (StoreSummary) -> Double) {
            m.family(name, "gauge", help)
            for (i, summary) in dbs { m.sample(name, value(summary), labels: "db=\"\(i)\"") }
        }
        perDB("kvserver_keys", "Keys in the database.") { Double($0.total.count) }
        perDB("kvserver_keys_expiring", "Keys with an expiry.") { Double($0.total.entriesWithExpiry) }
        perDB("kvserver_hashmap_load_factor", "Keys per bucket over all shards of the database.") { $0.total.loadFactor }
        perDB("kvserver_hashmap_load_factor_worst_shard", "Keys per bucket in the fullest shard.") { $0.worstLoad }
        perDB("kvserver_hashmap_buckets", "Buckets of the current bucket arrays.") { Double($0.total.buckets) }
        perDB("kvserver_hashmap_overflow_buckets", "Overflow buckets chained to the current arrays.") { Double($0.total.overflowBuckets) }
        perDB("kvserver_hashmap_growths_in_progress", "Shards whose map is growing, shrinking or compacting.") { Double($0.growing) }
        perDB("kvserver_hashmap_old_buckets", "Buckets of the arrays being evacuated.") { Double($0.total.oldBuckets) }
        perDB("kvserver_hashmap_evacuated_buckets", "Old buckets already evacuated.") { Double($0.total.evacuatedBuckets) }
        perDB("kvserver_hashmap_bytes", "Bytes held by the maps (buckets, entries, idle arena).") { Double($0.total.totalBytes) }
        perDB("kvserver_value_object_bytes", "Bytes held by hashes and sets (compact buffers and inner maps), part of kvserver_hashmap_bytes.") {
            Double($0.total.valueObjectBytes)
        }
        perDB("kvserver_value_objects", "Hashes and sets held as objects of their own (the small ones are inline in their entries).") { Double($0.total.valueObjects) }
        perDB("kvserver_inner_maps", "Hashes and sets in their map form (an inner hash map each).") { Double($0.total.innerMaps) }

        let s = persistence.status.withLock { $0 }
        let used = usedMemory()
        let scalars: [(String, String, String, Double)] = [
            ("kvserver_uptime_seconds", "gauge", "Seconds since the server started.", Double(monotonicMilliseconds() - startTime) / 1000),
            ("kvserver_connected_clients", "gauge", "Client connections open now.", Double(connectedClients.load(ordering: .relaxed))),
            ("kvserver_connections_received_total", "counter", "Connections accepted.", Double(totalConnections.load(ordering: .relaxed))),
            ("kvserver_rejected_connections_total", "counter", "Connections refused (maxclients, protected mode).", Double(rejectedConnections.load(ordering: .relaxed))),
            ("kvserver_commands_processed_total", "counter", "Commands run.", Double(commandsProcessed)),
            ("kvserver_error_replies_total", "counter", "Error replies sent.", Double(stats.errorReplies.load(ordering: .relaxed))),
            ("kvserver_keyspace_hits_total", "counter", "Reads that found their key.", Double(stats.keyspaceHits.load(ordering: .relaxed))),
            ("kvserver_keyspace_misses_total", "counter", "Reads that did not find their key.", Double(stats.keyspaceMisses.load(ordering: .relaxed))),
            ("kvserver_expired_keys_total", "counter", "Keys removed because they expired.", Double(expiredKeys)),
            ("kvserver_evicted_keys_total", "counter", "Keys evicted to keep memory under maxmemory.", Double(evictor.evictedKeys)),
            ("kvserver_memory_used_bytes", "gauge", "Bytes the server uses (INFO's used_memory, what maxmemory limits).", Double(used)),
            ("kvserver_memory_max_bytes", "gauge", "maxmemory (0: no limit).", Double(settings.eviction.maxMemory)),
            ("kvserver_arena_page_bytes", "gauge", "Bytes of the maps' arena pages.", Double(arenaPageByteCount())),
            ("kvserver_arena_idle_bytes", "gauge", "Bytes of arena pages holding no live entry (free blocks, sparse pages).", Double(kv_arena_idle_bytes())),
            ("kvserver_compaction_pages_returned_total", "counter", "Arena pages compaction gave back to the system.", Double(compactor.pagesReturned)),
            ("kvserver_memory_peak_bytes", "gauge", "Highest memory_used_bytes seen.", Double(memoryPeak.update(used))),
            ("kvserver_memory_rss_bytes", "gauge", "Resident set size of the process.", Double(residentBytes())),
            ("kvserver_loading", "gauge", "1 while the snapshot loads at start-up.", s.loading ? 1 : 0),
            ("kvserver_rdb_bgsave_in_progress", "gauge", "1 while a snapshot is being written.", s.inProgress ? 1 : 0),
            ("kvserver_rdb_last_bgsave_ok", "gauge", "1 if the last background save succeeded.", s.lastBackgroundSaveOK ? 1 : 0),
            ("kvserver_rdb_last_save_timestamp_seconds", "gauge", "Unix time of the last successful save.", Double(s.lastSaveTime)),
            ("kvserver_rdb_changes_since_last_save", "gauge", "Keys changed since the last successful save.", Double(persistence.changesSinceLastSave)),
            ("kvserver_rdb_saves_total", "counter", "Successful saves.", Double(s.saves)),
        ]
        for (name, type, help, value) in scalars {
            m.family(name, type, help)
            m.sample(name, value)
        }
        let rows = commandTable.allRows.filter { $0.stats.calls.load(ordering: .relaxed) > 0 }.sorted { $0.name < $1.name }
        m.family("kvserver_command_calls_total", "counter", "Calls per command.")
        for r in rows { m.sample("kvserver_command_calls_total", Double(r.stats.calls.load(ordering: .relaxed)), labels: "cmd=\"\(r.name)\"") }
        m.family("kvserver_command_duration_seconds_total", "counter", "Time spent running each command.")
        for r in rows {
            m.sample("kvserver_command_duration_seconds_total", Double(r.stats.microseconds.load(ordering: .relaxed)) / 1e6, labels: "cmd=\"\(r.name)\"")
        }
        m.family("kvserver_errors_total", "counter", "Error replies by error code.")
        for e in stats.errorCounts { m.sample("kvserver_errors_total", Double(e.count), labels: "code=\"\(e.code)\"") }
        return m.text
    }
}

/// Prometheus' text format, line by line.
private struct MetricsWriter {
    var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ value: Double, labels: String = "") {
        let v = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        text += labels.isEmpty ? "\(name) \(v)\n" : "\(name){\(labels)} \(v)\n"
    }
}

private func httpResponse(_ status: String, _ type: String, _ body: String, head: Bool = false) -> String {
    "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        + (head ? "" : body)
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
