import CKVSupport
import Dispatch
import Glibc
import KVEngine
import Synchronization

// Snapshots on the server side: SAVE, BGSAVE, the save-point policy, the save at shutdown, loading at
// start-up, and the counters INFO's persistence section reports. The snapshot itself (point in time,
// no fork, crash-safe file) is KVEngine's Snapshot; this file decides when, where and what to log.

struct PersistenceStatus: Sendable {
    var inProgress = false
    /// BGSAVE SCHEDULE arrived while a save ran: start one when it ends.
    var scheduled = false
    /// Unix seconds of the last successful save (the start time until the first one, as Redis).
    var lastSaveTime = Int(time(nil))
    var lastBackgroundSaveOK = true
    var lastBackgroundSaveSeconds = -1
    /// Milliseconds (monotonic) when the running save started.
    var currentStart: Int64 = 0
    /// Unix seconds of the last background save attempt (failed saves are retried after 5 s, as Redis).
    var lastAttempt = 0
    var saves = 0
    /// True from start-up until the snapshot is loaded (so nothing can lift -LOADING before the load starts).
    var loading = true
    var running: Snapshot? = nil
}

final class Persistence: @unchecked Sendable {
    unowned let server: Server
    let status = Mutex(PersistenceStatus())

    init(server: Server) { self.server = server }

    var log: Logger { server.log }

    // MARK: Saving

    enum SaveOutcome { case started, alreadyRunning, failed, cancelled, saved }

    /// SAVE: the snapshot written on the caller's thread. The server keeps serving on other threads.
    func saveInForeground() -> SaveOutcome {
        guard let snapshot = beginSave() else { return .alreadyRunning }
        return finishSave(snapshot, background: false)
    }

    /// BGSAVE: the cut now, the writing on a thread of its own.
    func saveInBackground(reason: String? = nil) -> SaveOutcome {
        guard let snapshot = beginSave() else { return .alreadyRunning }
        if let reason { log.notice(reason) }
        log.notice("Background saving started")
        startThread { [self] in
            // The lowest priority, and a sched_yield between steps (finishSave): priority alone does not
            // stop a saver that holds a core from keeping a woken event loop waiting until the next
            // scheduler tick (4 ms stalls, measured: docs/snapshots.md). Writers copy what they change
            // meanwhile, so a slow save is still exact.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(kv_gettid()), 19)
            _ = finishSave(snapshot, background: true)
        }
        return .started
    }

    /// BGSAVE SCHEDULE while a save runs.
    func scheduleBackgroundSave() { status.withLock { $0.scheduled = true } }

    private func beginSave() -> Snapshot? {
        let claimed = status.withLock { s -> Bool in
            if s.inProgress { return false }
            s.inProgress = true
            s.currentStart = monotonicMilliseconds()
            return true
        }
        guard claimed else { return nil }
        let cutStart = monotonicMicroseconds()
        let snapshot = Snapshot(of: server.databases)
        server.latency.report("snapshot-cut", milliseconds: (monotonicMicroseconds() - cutStart) / 1000)
        status.withLock { $0.running = snapshot }
        return snapshot
    }

    private func finishSave(_ snapshot: Snapshot, background: Bool) -> SaveOutcome {
        let config = server.settings
        var options = SnapshotOptions(compression: config.rdbCompression, checksum: config.rdbChecksum, aux: [
            ("redis-ver", compatibleRedisVersion), ("redis-bits", "64"), ("ctime", String(time(nil))),
            ("used-mem", String(residentBytes())), ("aof-base", "0"),
        ])
        options.keySaveDelayMicroseconds = config.rdbKeySaveDelay
        options.yieldsBetweenSteps = background
        options.lockHeld = { [server] micros in server.latency.report("snapshot-step", milliseconds: micros / 1000) }
        options.incrementalSyncBytes = config.rdbSaveIncrementalFsync ? 4 << 20 : 0
        let outcome: SaveOutcome
        do {
            let summary = try snapshot.write(to: config.snapshotPath, options: options)
            for (db, n) in zip(server.databases, snapshot.changesAtCut) { db.resetChanges(to: n) }
            log.notice("DB saved on disk (\(summary.keys) keys, \(summary.bytes) bytes)")
            if background { log.notice("Background saving terminated with success") }
            outcome = .saved
        } catch is SnapshotCancelled {
            log.notice("Background saving cancelled: a newer snapshot replaces it")
            outcome = .cancelled
        } catch {
            log.warning("\(background ? "Background saving error" : "Error saving DB on disk"): \(error)")
            outcome = .failed
        }
        let scheduled = status.withLock { s -> Bool in
            let now = Int(time(nil))
            s.inProgress = false
            s.running = nil
            if outcome == .saved {
                s.lastSaveTime = now
                s.saves += 1
            }
            if background {
                if outcome == .failed { s.lastBackgroundSaveOK = false }
                if outcome == .saved { s.lastBackgroundSaveOK = true }
                s.lastBackgroundSaveSeconds = Int((monotonicMilliseconds() - s.currentStart) / 1000)
                s.lastAttempt = now
            }
            let scheduled = s.scheduled
            s.scheduled = false
            return scheduled
        }
        server.refreshWriteGate()
        if scheduled { _ = saveInBackground() }
        return outcome
    }

    /// Whether writes must be refused with MISCONF (Redis' stop-writes-on-bgsave-error).
    func refusesWrites(_ config: Config) -> Bool {
        config.stopWritesOnBgsaveError && !config.savePoints.isEmpty && !status.withLock { $0.lastBackgroundSaveOK }
    }

    /// Keys changed since the last successful save, over all databases.
    var changesSinceLastSave: Int { server.databases.reduce(0) { $0 + $1.changesSinceReset } }

    /// serverCron's part: start a BGSAVE when a save point is reached.
    func cron() {
        let config = server.settings
        let s = status.withLock { $0 }
        if s.inProgress || s.loading || config.savePoints.isEmpty { return }
        let now = Int(time(nil))
        let dirty = changesSinceLastSave
        // After a failed save, retry no sooner than 5 s later (Redis' CONFIG_BGSAVE_RETRY_DELAY).
        if !s.lastBackgroundSaveOK && now - s.lastAttempt <= 5 { return }
        for p in config.savePoints where dirty >= p.changes && now - s.lastSaveTime >= p.seconds && dirty > 0 {
            _ = saveInBackground(reason: "\(p.changes) changes in \(p.seconds) seconds. Saving...")
            return
        }
    }

    /// The save before exiting (SHUTDOWN, SIGTERM with save points). False when the save failed.
    func saveBeforeExit() -> Bool {
        log.notice("Saving the final RDB snapshot before exiting.")
        if saveReplacingRunning() { return true }
        log.warning("Error trying to save the DB, can't exit.")
        return false
    }

    /// Cancels a running BGSAVE, which would be stale, and saves in the foreground.
    @discardableResult
    func saveReplacingRunning() -> Bool {
        for _ in 0..<10_000 {  // the cancelled save stops at its next batch: milliseconds
            let running = status.withLock { s -> Bool in
                s.running?.cancel()
                return s.inProgress
            }
            if !running { break }
            usleep(1000)
        }
        return saveInForeground() == .saved
    }

    // MARK: Loading

    /// Loads dir/dbfilename into the (empty) databases. Exits the process when the file is unreadable or
    /// corrupt, as Redis does: serving without the data, or with part of it, would lose it at the next save.
    func loadAtStartup() {
        let config = server.settings
        let path = config.snapshotPath
        defer { status.withLock { $0.loading = false } }
        let start = monotonicMilliseconds()
        var lastReport = start
        do {
            let summary = try loadSnapshot(from: path, into: server.databases, keyLoadDelayMicroseconds: config.keyLoadDelay) { keys, offset, size in
                let now = monotonicMilliseconds()
                guard now - lastReport >= 1000 else { return }
                lastReport = now
                let mb = Double(offset) / 1_048_576
                log.notice("Loading RDB: \(keys) keys, \(format1(mb)) of \(format1(Double(size) / 1_048_576)) MB (\(format1(mb * 1000 / Double(max(1, now - start)))) MB/s)")
            }
            guard let summary else {
                log.notice("No snapshot at \(path): starting empty")
                return
            }
            let seconds = Double(monotonicMilliseconds() - start) / 1000
            if let v = summary.aux.first(where: { $0.0 == "redis-ver" }) { log.notice("Loading RDB produced by version \(v.1)") }
            log.notice("Done loading RDB, keys loaded: \(summary.keys - summary.alreadyExpired), keys expired: \(summary.alreadyExpired).")
            log.notice("DB loaded from disk: \(format3(seconds)) seconds")
        } catch {
            log.warning("Fatal error loading the DB from \(path): \(error). Exiting.")
            exit(1)
        }
    }
}

func format1(_ v: Double) -> String { String(Double(Int(v * 10)) / 10) }
func format3(_ v: Double) -> String { String(Double(Int(v * 1000)) / 1000) }

