import RESP

// DUMP and RESTORE on the store (the payload format: Snapshot/DumpPayload.swift).

extension Store {
    /// DUMP: the serialized value of `key`, nil when absent. The value is copied under the shard's read
    /// lock (as a snapshot captures it) and encoded after.
    public func dump(_ key: UnsafeRawBufferPointer) -> [UInt8]? {
        let out = ByteBuffer(capacity: 64)
        guard let type = readLive(key, { v, _ -> ValueType in
            if v.type == .string { out.append(v.bytes) } else { codec(for: v.type)?.capture(v, into: out, nested: nil) }
            return v.type
        }) else { return nil }
        return DumpPayload.encode(type: type, payload: out.readable)
    }

    public enum RestoreError: Error {
        case busyKey, versionOrChecksum, badData
    }

    /// RESTORE: stores the payload's value at `key` with `expiry` (absolute ms; nil for none), replacing
    /// an existing key only with `replace`. An expiry already past stores nothing (and, with `replace`,
    /// removes the key), as Redis does. Observers hear `new` and `restore`. `idleTime` (seconds) backdates
    /// the key's access clock.
    public func restore(
        _ key: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, expiry: Int64?, replace: Bool, idleTime: Int64? = nil, frequency: Int? = nil
    ) throws(RestoreError) {
        let result: Result<Void, RestoreError>
        do {
            result = try DumpPayload.decode(payload, maxStringSize: maxValueSize) { value -> Result<Void, RestoreError> in
                edit(key) { e -> Result<Void, RestoreError> in
                    if e.exists && !replace { return .failure(.busyKey) }
                    if let expiry, expiry <= clock() {
                        if e.exists {
                            e.remove()
                            e.event = .del
                        }
                        return .success(())
                    }
                    // Deleted, then added: observers hear `new`, as from Redis.
                    e.remove()
                    switch value {
                    case .string(let bytes): e.setValue(bytes, expiry: expiry)
                    case .object(let o): e.setObject(o, expiry: expiry)
                    }
                    if let idleTime { e.setIdleTime(seconds: idleTime) }
                    if let frequency { e.setFrequency(frequency) }
                    e.event = .restore
                    return .success(())
                }
            }
        } catch {
            throw error == .versionOrChecksum ? .versionOrChecksum : .badData
        }
        try result.get()
    }
}

