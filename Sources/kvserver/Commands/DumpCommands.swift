import KVEngine
import RESP

// DUMP and RESTORE: a value serialized as Redis serializes it (Snapshot/DumpPayload.swift), so a payload
// DUMPed by redis-server 7.0 RESTOREs here and ours there. Rows: CommandRows.swift.

/// DUMP key
func dumpCommand(_ c: Call) throws {
    c.reply.bulk(c.db.dump(c[1]))
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
/// Checks in Redis' order: the options, then an existing key, then the TTL, then the payload. IDLETIME
/// sets the key's access clock under an LRU policy (OBJECT IDLETIME), FREQ its counter under an LFU one;
/// each is ignored under the other, as in Redis.
func restoreCommand(_ c: Call) throws {
    var replace = false, absolute = false, idle: Int64? = nil, freq: Int? = nil
    var j = 4
    while j < c.count {
        let more = j + 1 < c.count
        if c.argument(j, is: "replace") {
            replace = true
        } else if c.argument(j, is: "absttl") {
            absolute = true
        } else if c.argument(j, is: "idletime") && more && freq == nil {
            let seconds = try c.integer(j + 1)
            guard seconds >= 0 else { throw CommandError("ERR Invalid IDLETIME value, must be >= 0") }
            idle = seconds
            j += 1
        } else if c.argument(j, is: "freq") && more && idle == nil {
            let f = try c.integer(j + 1)
            guard f >= 0 && f <= 255 else { throw CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255") }
            freq = Int(f)
            j += 1
        } else {
            throw CommandError.syntax
        }
        j += 1
    }
    if !replace && c.db.exists([c[1]], touching: true) > 0 { throw CommandError("BUSYKEY Target key name already exists.") }
    let ttl = try c.integer(2)
    guard ttl >= 0 else { throw CommandError("ERR Invalid TTL value, must be >= 0") }
    let expiry: Int64? = ttl == 0 ? nil : absolute ? ttl : c.db.now.addingReportingOverflow(ttl).partialValue
    do {
        try c.db.restore(c[1], payload: c[3], expiry: expiry, replace: replace, idleTime: idle, frequency: freq)
    } catch .busyKey {
        throw CommandError("BUSYKEY Target key name already exists.")
    } catch .versionOrChecksum {
        throw CommandError("ERR DUMP payload version or checksum are wrong")
    } catch {
        throw CommandError("ERR Bad data format")
    }
    c.reply.ok()
}
