import CKVSupport
import Glibc
import KVEngine
import Synchronization
import RESP

// INFO: Redis' sections, field names and order (what redis-cli --stat, redis-py and redis_exporter read:
// ../shared/docs/redis-compat-notes.md §4), plus our own `hashmap` section. Lines end in CRLF; sections
// are separated by an empty line. Fields we have no counterpart for (replication offsets, AOF) carry
// Redis' values for a standalone server with no AOF.

/// Sections of `INFO` / `INFO default`, in Redis' order; `all` adds commandstats, `everything` too.
let defaultInfoSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
                           "errorstats", "cluster", "keyspace", "hashmap"]

extension Server {
    /// The INFO text for the sections named in `words` (none: the default set). Unknown names add nothing,
    /// as in Redis.
    func info(_ words: [String]) -> String {
        var wanted: [String] = []
        for w in words.isEmpty ? ["default"] : words.map({ $0.lowercased() }) {
            switch w {
            case "default": wanted += defaultInfoSections
            case "all", "everything": wanted += defaultInfoSections + ["commandstats"]
            default: wanted.append(w)
            }
        }
        var seen = Set<String>()
        var out: [String] = []
        for name in wanted where seen.insert(name).inserted {
            guard let fields = infoSection(name) else { continue }
            let title = name == "cpu" ? "CPU" : name.prefix(1).uppercased() + name.dropFirst()
            out.append("# " + title + "\r\n"
                + fields.map { "\($0.0):\($0.1)\r\n" }.joined())
        }
        return out.joined(separator: "\r\n")
    }

    private func infoSection(_ name: String) -> [(String, String)]? {
        let c = settings
        switch name {
        case "server":
            var u = utsname()
            uname(&u)
            let os = "\(cText(u.sysname)) \(cText(u.release)) \(cText(u.machine))"
            let uptime = (monotonicMilliseconds() - startTime) / 1000
            var tv = timeval()
            gettimeofday(&tv, nil)
            return [
                ("redis_version", compatibleRedisVersion), ("kvserver_version", kvserverVersion),
                ("redis_git_sha1", "00000000"), ("redis_git_dirty", "0"), ("redis_mode", "standalone"),
                ("os", os), ("arch_bits", "64"), ("monotonic_clock", "POSIX clock_gettime"),
                ("multiplexing_api", c.ioBackend.rawValue), ("process_id", String(getpid())),
                ("process_supervised", "no"), ("run_id", runID), ("tcp_port", String(c.port)),
                ("server_time_usec", String(Int(tv.tv_sec) * 1_000_000 + Int(tv.tv_usec))),
                ("uptime_in_seconds", String(uptime)), ("uptime_in_days", String(uptime / 86400)),
                ("hz", String(c.hz)), ("configured_hz", String(c.hz)), ("io_threads_active", String(c.ioThreads)),
                ("executable", executablePath()), ("config_file", configFile),
            ]
        case "clients":
            return [
                ("connected_clients", String(connectedClients.load(ordering: .relaxed))),
                ("maxclients", String(c.maxClients)), ("blocked_clients", String(blocking.blockedCount)), ("tracking_clients", "0"),
            ]
        case "memory":
            let used = usedMemory()
            let peak = memoryPeak.update(used)
            let rss = residentBytes()
            let dataset = databases.reduce(0) { $0 + $1.statistics(histograms: false).total.totalBytes }
            let system = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
            let arenaPages = arenaPageByteCount()
            return [
                ("used_memory", String(used)), ("used_memory_human", humanBytes(used)),
                ("used_memory_rss", String(rss)), ("used_memory_rss_human", humanBytes(rss)),
                ("used_memory_peak", String(peak)), ("used_memory_peak_human", humanBytes(peak)),
                ("used_memory_dataset", String(dataset)),
                ("total_system_memory", String(system)), ("total_system_memory_human", humanBytes(system)),
                ("maxmemory", String(c.eviction.maxMemory)), ("maxmemory_human", humanBytes(c.eviction.maxMemory)),
                ("maxmemory_policy", c.eviction.policy.rawValue),
                ("mem_fragmentation_ratio", format2(used == 0 ? 0 : Double(rss) / Double(used))),
                ("mem_fragmentation_bytes", String(rss - used)),
                ("mem_not_counted_for_evict", String(LazyFree.pendingBytes)),
                ("mem_held", String(heldMemory())), ("mem_arena_free", String(kv_arena_idle_bytes())),
                ("mem_allocator", "libc"),
                ("active_defrag_running", compactor.isRunning ? "1" : "0"),
                ("arena_live_bytes", String(arenaPages - kv_arena_idle_bytes())), ("arena_page_bytes", String(arenaPages)),
                ("compaction_pages_returned", String(compactor.pagesReturned)),
                ("compaction_bytes_returned", String(compactor.bytesReturned)),
                ("compaction_cycles", String(compactor.cyclesCompleted)),
                ("compaction_values_inlined", String(compactor.valuesInlined)),
                ("compaction_longest_step_usec", String(compactor.longestStepNanoseconds / 1000)),
                ("compaction_longest_step_cpu_usec", String(compactor.longestStepCPUNanoseconds / 1000)),
                ("lazyfree_pending_objects", String(LazyFree.pendingObjects)),
                ("lazyfreed_objects", String(LazyFree.freedObjects)),
            ]
        case "persistence":
            let s = persistence.status.withLock { $0 }
            let current = s.inProgress ? Int(monotonicMilliseconds() - s.currentStart) / 1000 : -1
            return [
                ("loading", s.loading ? "1" : "0"), ("async_loading", "0"),
                ("rdb_changes_since_last_save", String(persistence.changesSinceLastSave)),
                ("rdb_bgsave_in_progress", s.inProgress ? "1" : "0"),
                ("rdb_last_save_time", String(s.lastSaveTime)),
                ("rdb_last_bgsave_status", s.lastBackgroundSaveOK ? "ok" : "err"),
                ("rdb_last_bgsave_time_sec", String(s.lastBackgroundSaveSeconds)),
                ("rdb_current_bgsave_time_sec", String(current)),
                ("rdb_saves", String(s.saves)), ("rdb_last_cow_size", "0"),
                ("aof_enabled", "0"), ("aof_rewrite_in_progress", "0"), ("aof_rewrite_scheduled", "0"),
                ("aof_last_rewrite_time_sec", "-1"), ("aof_current_rewrite_time_sec", "-1"),
                ("aof_last_bgrewrite_status", "ok"), ("aof_last_write_status", "ok"),
            ]
        case "stats":
            return [
                ("total_connections_received", String(totalConnections.load(ordering: .relaxed))),
                ("total_commands_processed", String(commandsProcessed)),
                ("instantaneous_ops_per_sec", String(stats.instantaneousOpsPerSecond)),
                ("rejected_connections", String(rejectedConnections.load(ordering: .relaxed))),
                ("expired_keys", String(expiredKeys)), ("evicted_keys", String(evictor.evictedKeys)),
                ("evicted_clients", "0"),
                ("keyspace_hits", String(stats.keyspaceHits.load(ordering: .relaxed))),
                ("keyspace_misses", String(stats.keyspaceMisses.load(ordering: .relaxed))),
                ("pubsub_channels", "0"), ("pubsub_patterns", "0"),
                ("latest_fork_usec", "0"), ("total_forks", "0"),
                ("total_error_replies", String(stats.errorReplies.load(ordering: .relaxed))),
            ]
        case "replication":
            return [
                ("role", "master"), ("connected_slaves", "0"), ("master_failover_state", "no-failover"),
                ("master_replid", runID), ("master_replid2", String(repeating: "0", count: 40)),
                ("master_repl_offset", "0"), ("second_repl_offset", "-1"), ("repl_backlog_active", "0"),
                ("repl_backlog_size", "1048576"), ("repl_backlog_first_byte_offset", "0"), ("repl_backlog_histlen", "0"),
            ]
        case "cpu":
            var me = rusage(), children = rusage()
            getrusage(RUSAGE_SELF.rawValue, &me)
            getrusage(RUSAGE_CHILDREN.rawValue, &children)
            let seconds = { (t: timeval) in formatFixed(Double(t.tv_sec) + Double(t.tv_usec) / 1e6, digits: 6) }
            return [
                ("used_cpu_sys", seconds(me.ru_stime)), ("used_cpu_user", seconds(me.ru_utime)),
                ("used_cpu_sys_children", seconds(children.ru_stime)), ("used_cpu_user_children", seconds(children.ru_utime)),
            ]
        case "modules":
            return []
        case "errorstats":
            return stats.errorCounts.map { ("errorstat_\($0.code)", "count=\($0.count)") }
        case "cluster":
            return [("cluster_enabled", "0")]
        case "keyspace":
            return databases.enumerated().compactMap { i, db in
                let keys = db.count
                return keys == 0 ? nil : ("db\(i)", "keys=\(keys),expires=\(db.expiringCount),avg_ttl=0")
            }
        case "commandstats":
            return commandTable.allRows.compactMap { cmd in
                let s = cmd.stats
                let calls = s.calls.load(ordering: .relaxed), usec = s.microseconds.load(ordering: .relaxed)
                let rejected = s.rejected.load(ordering: .relaxed), failed = s.failed.load(ordering: .relaxed)
                guard calls + rejected + failed > 0 else { return nil }
                let perCall = calls == 0 ? 0 : Double(usec) / Double(calls)
                return ("cmdstat_\(cmd.name)",
                        "calls=\(calls),usec=\(usec),usec_per_call=\(format2(perCall)),rejected_calls=\(rejected),failed_calls=\(failed)")
            }.sorted { $0.0 < $1.0 }
        case "hashmap":
            return hashmapFields(databases.map { $0.statistics(histograms: false) })
        default:
            return nil
        }
    }

    /// Commands run (rejected ones excluded), summed over the command table (Redis' total_commands_processed).
    var commandsProcessed: Int {
        commandTable.allRows.reduce(0) { $0 + $1.stats.calls.load(ordering: .relaxed) }
    }

    var expiredKeys: Int { databases.reduce(0) { $0 + $1.expiredKeys } - expiredKeysBaseline.load(ordering: .relaxed) }

    /// CONFIG RESETSTAT: Redis resets these; counts of what exists (keys, clients, memory) stay.
    func resetStatistics() {
        stats.reset()
        for cmd in commandTable.allRows { cmd.stats.reset() }
        totalConnections.store(0, ordering: .relaxed)
        rejectedConnections.store(0, ordering: .relaxed)
        expiredKeysBaseline.store(databases.reduce(0) { $0 + $1.expiredKeys }, ordering: .relaxed)
        evictor.resetStatistics()
        memoryPeak.reset(usedMemory())
    }
}

/// Redis' bytesToHuman: 1.50K, 7.34M, ...
func humanBytes(_ n: Int) -> String {
    let units = ["B", "K", "M", "G", "T", "P"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 {
        v /= 1024
        u += 1
    }
    return u == 0 ? "\(n)B" : format2(v) + units[u]
}

/// Two decimals, as Redis prints its ratios ("%.2f").
func format2(_ v: Double) -> String { formatFixed(v, digits: 2) }

/// A fixed-size C char array (a utsname field) as a String.
private func cText<T>(_ field: T) -> String {
    withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

private func executablePath() -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, 4095)
    return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
}
