import KVEngine

// Snapshot commands: SAVE, BGSAVE [SCHEDULE], LASTSAVE (Redis' rdb.c replies).

let persistenceCommands: [Command] = [
    Command("save", arity: 1, .admin) { c in
        switch c.server.persistence.saveInForeground() {
        case .saved: c.reply.ok()
        case .alreadyRunning: c.reply.error("ERR Background save already in progress")
        case .failed, .cancelled, .started: c.reply.error("ERR")
        }
    },
    Command("bgsave", arity: -1, .admin) { c in
        var schedule = false
        if c.count > 1 {
            guard c.count == 2, c.argument(1, is: "schedule") else { return c.syntaxError() }
            schedule = true
        }
        switch c.server.persistence.saveInBackground() {
        case .started: c.reply.simple("Background saving started")
        case .alreadyRunning:
            if schedule {
                c.server.persistence.scheduleBackgroundSave()
                c.reply.simple("Background saving scheduled")
            } else {
                c.reply.error("ERR Background save already in progress")
            }
        case .failed, .cancelled, .saved: c.reply.error("ERR")
        }
    },
    Command("lastsave", arity: 1, .okLoading) { c in
        c.reply.integer(c.server.persistence.status.withLock { $0.lastSaveTime })
    },
]
