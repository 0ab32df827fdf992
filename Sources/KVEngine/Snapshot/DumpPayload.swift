import RESP

// DUMP's serialization (Redis' createDumpPayload / verifyDumpPayload): a value's RDB type byte and its
// RDB encoding, exactly as in a snapshot file (ValueCodecs.swift, RDBWriter's string encodings), then the
// RDB version as 2 bytes little-endian and a CRC-64/Jones of everything before it, little-endian. No key,
// no expiry. A payload from Redis 7.0 (version 10, or older) is read here, and ours there.
//
// Reading is strict where Redis 7.0 is lax: the value must end exactly at the footer.

enum DumpPayload {
    /// The payload of a captured value (`type`'s capture payload, Capture.swift).
    static func encode(type: ValueType, payload: UnsafeRawBufferPointer) -> [UInt8]? {
        let w = RDBWriter(inMemoryWithCompression: true)
        if type == .string {
            withUnsafeBytes(of: RDB.typeString) { w.appendBytes($0) }  // (a pointer to an array literal dangles)
            w.appendString(payload)
        } else {
            guard let c = codec(for: type) else { return nil }
            var t = c.rdbType(of: payload)
            withUnsafeBytes(of: &t) { w.appendBytes($0) }
            guard (try? c.writeValue(payload, to: w)) != nil else { return nil }
        }
        var out = Array(w.encoded)
        out += [UInt8(RDB.version & 0xff), UInt8(RDB.version >> 8)]
        let crc = out.withUnsafeBytes { crc64(0, $0) }
        withUnsafeBytes(of: crc.littleEndian) { out += $0 }
        return out
    }

    enum Failure: Error {
        /// Too short, a version newer than ours, or a checksum that does not match.
        case versionOrChecksum
        /// The value itself cannot be read.
        case badData
    }

    /// The value a payload holds; `body` gets it (a string's bytes are valid only during the call).
    static func decode<R>(_ payload: UnsafeRawBufferPointer, maxStringSize: Int, _ body: (LoadedValue) -> R) throws(Failure) -> R {
        let n = payload.count
        guard n >= 10 else { throw .versionOrChecksum }
        let version = Int(payload[n - 10]) | Int(payload[n - 9]) << 8
        let stored = payload.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self).littleEndian
        guard version <= RDB.version, crc64(0, UnsafeRawBufferPointer(rebasing: payload[0..<(n - 8)])) == stored else {
            throw .versionOrChecksum
        }
        var reader = RDBReader(UnsafeRawBufferPointer(rebasing: payload[0..<(n - 10)]), maxStringSize: maxStringSize)
        defer { reader.release() }
        do {
            let type = try reader.byte("the value's type")
            guard let c = codec(rdbType: type) else { throw Failure.badData }
            let value = try c.read(rdbType: type, key: UnsafeRawBufferPointer(start: nil, count: 0), from: &reader)
            guard reader.pos == reader.count else { throw Failure.badData }
            return body(value)
        } catch {
            throw .badData
        }
    }
}
