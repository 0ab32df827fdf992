import KVEngine

// Snapshot commands: SAVE, BGSAVE [SCHEDULE], LASTSAVE (Redis' rdb.c replies). Rows: CommandRows.swift.

/// SAVE
func saveCommand(_ c: Call) throws {
    switch c.server.persistence.saveInForeground() {
    case .saved: c.reply.ok()
    case .alreadyRunning: throw CommandError("ERR Background save already in progress")
    case .failed, .cancelled, .started: throw CommandError("ERR")
    }
}

/// BGSAVE [SCHEDULE]
func bgsaveCommand(_ c: Call) throws {
    var schedule = false
    if c.count > 1 {
        guard c.count == 2, c.argument(1, is: "schedule") else { throw CommandError.syntax }
        schedule = true
    }
    switch c.server.persistence.saveInBackground() {
    case .started: c.reply.simple("Background saving started")
    case .alreadyRunning:
        guard schedule else { throw CommandError("ERR Background save already in progress") }
        c.server.persistence.scheduleBackgroundSave()
        c.reply.simple("Background saving scheduled")
    case .failed, .cancelled, .saved: throw CommandError("ERR")
    }
}

/// LASTSAVE
func lastsaveCommand(_ c: Call) throws {
    c.reply.integer(c.server.persistence.status.withLock { $0.lastSaveTime })
}
