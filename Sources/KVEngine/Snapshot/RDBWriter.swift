import CKVSupport
import Glibc
import RESP

// Writes an RDB file (RDBFormat.swift) to a file descriptor through a buffer written out every 64 KiB,
// keeping the running CRC-64. Strings are encoded as Redis' rdbSaveRawString does, so our files are the
// size of Redis' for the same data: integers of up to 32 bits as integers, strings over 20 bytes
// LZF-compressed when that saves at least 5 bytes (and compression is on), everything else raw.

public struct SnapshotIOError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ what: String, path: String, errno e: Int32 = errno) {
        description = "\(what) \(path): \(String(cString: strerror(e)))"
    }
}

final class RDBWriter {
    let fd: Int32
    let path: String
    let compression: Bool
    let checksum: Bool
    let yieldsBeforeWrites: Bool
    /// Write back every this many bytes as they are written (0: only the fsync at the end).
    let incrementalSyncBytes: Int
    /// File offsets: writeback started for [syncWaited, syncStarted), finished below syncWaited.
    private var syncStarted = 0
    private var syncWaited = 0
    /// Written out in pieces of this size: a CRC pass and a write(2) of some tens of µs each.
    static let flushBytes = 64 << 10
    private let out = ByteBuffer(capacity: RDBWriter.flushBytes + (64 << 10))
    private var crc: UInt64 = 0
    private(set) var bytesWritten = 0
    private let lzfTable = UnsafeMutablePointer<Int32>.allocate(capacity: 1 << lzfHashBits)
    private var lzfOut = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)

    init(fd: Int32, path: String, compression: Bool, checksum: Bool, yieldsBeforeWrites: Bool = false, incrementalSyncBytes: Int = 0) {
        self.fd = fd
        self.yieldsBeforeWrites = yieldsBeforeWrites
        self.incrementalSyncBytes = incrementalSyncBytes
        self.path = path
        self.compression = compression
        self.checksum = checksum
    }

    deinit {
        lzfTable.deallocate()
        lzfOut.deallocate()
    }

    func writeHeader(aux: [(String, String)]) throws {
        out.append(RDB.magic)
        let v = String(RDB.version)
        out.append(String(repeating: "0", count: 4 - v.count) + v)
        for (k, v) in aux {
            out.append(RDB.opAux)
            appendString(Array(k.utf8))
            appendString(Array(v.utf8))
        }
    }

    func selectDB(_ db: Int, keys: Int, expires: Int) {
        out.append(RDB.opSelectDB)
        appendLength(db)
        out.append(RDB.opResizeDB)
        appendLength(keys)
        appendLength(expires)
    }

    /// One key of any type from a capture record (Capture.swift), with its expiry in milliseconds since
    /// the epoch if it has one. Strings are encoded here, inline; other types by their codec.
    @inline(__always)
    func writeKey(_ key: UnsafeRawBufferPointer, type: ValueType, payload: UnsafeRawBufferPointer, expiry: Int64?) throws {
        if let expiry {
            out.append(RDB.opExpireTimeMs)
            withUnsafeBytes(of: expiry.littleEndian) { out.append($0) }
        }
        if type == .string {
            out.append(RDB.typeString)
            appendString(key)
            appendString(payload)
        } else {
            guard let c = codec(for: type) else {
                throw SnapshotFormatError(offset: bytesWritten + out.count, reason: "no RDB encoding for values of type \(type.name)")
            }
            out.append(c.rdbType(of: payload))
            appendString(key)
            try c.writeValue(payload, to: self)
        }
        if out.count >= RDBWriter.flushBytes { try flush() }
    }

    /// A writer that keeps what it encodes in memory (DUMP): `encoded`, never written to a file.
    convenience init(inMemoryWithCompression compression: Bool) {
        self.init(fd: -1, path: "", compression: compression, checksum: true)
    }

    /// What an in-memory writer has encoded so far.
    var encoded: UnsafeRawBufferPointer { out.readable }

    func appendBytes(_ b: UnsafeRawBufferPointer) { out.append(b) }

    /// EOF, checksum, and everything still buffered; then fsync. Returns the file's size.
    func finish() throws -> Int {
        out.append(RDB.opEOF)
        crc = crc64(crc, out.readable)
        let sum = checksum ? crc : 0
        withUnsafeBytes(of: sum.littleEndian) { out.append($0) }
        try writeOut(out.readable)
        out.removeAll()
        if fsync(fd) != 0 { throw SnapshotIOError("fsync", path: path) }
        return bytesWritten
    }

    /// Writes out what is buffered once it reaches the flush size (a long value written in steps).
    func flushIfFull() throws { if out.count >= RDBWriter.flushBytes { try flush() } }

    func flush() throws {
        crc = crc64(crc, out.readable)
        if yieldsBeforeWrites { sched_yield() }
        try writeOut(out.readable)
        out.removeAll()
    }

    private func writeOut(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw SnapshotIOError("write", path: path)
            }
            done += n
        }
        bytesWritten += done
        if incrementalSyncBytes > 0 && bytesWritten - syncStarted >= incrementalSyncBytes { writeBackIncrementally() }
    }

    /// Redis' rdb-save-incremental-fsync, done as streaming writers do it: start writeback of what was just
    /// written and wait for the piece before it. Dirty pages never pile up, so the final fsync has little
    /// left, and the work of writing back is done here, on the saver's thread at its priority, not in one
    /// burst of kernel flusher threads competing with the event loops. Best effort: a file system without
    /// sync_file_range loses only the spreading; the fsync at the end is what makes the file durable.
    private func writeBackIncrementally() {
        if syncStarted > syncWaited {
            _ = kv_sync_file_range(fd, Int64(syncWaited), Int64(syncStarted - syncWaited), 1)
            syncWaited = syncStarted
        }
        _ = kv_sync_file_range(fd, Int64(syncStarted), Int64(bytesWritten - syncStarted), 0)
        syncStarted = bytesWritten
    }

    // MARK: Encodings

    @inline(__always)
    func appendLength(_ n: Int) {
        if n < 1 << 6 {
            out.append(UInt8(n))
        } else if n < 1 << 14 {
            out.append(UInt8(0x40 | (n >> 8)))
            out.append(UInt8(n & 0xff))
        } else if n <= Int(UInt32.max) {
            out.append(0x80)
            withUnsafeBytes(of: UInt32(n).bigEndian) { out.append($0) }
        } else {
            out.append(0x81)
            withUnsafeBytes(of: UInt64(n).bigEndian) { out.append($0) }
        }
    }

    @inline(__always)
    func appendString(_ s: UnsafeRawBufferPointer) {
        if s.count <= 11, let v = canonicalInt32(s) {
            if let b = Int8(exactly: v) {
                out.append(0xC0 | RDB.encInt8)
                out.append(UInt8(bitPattern: b))
            } else if let h = Int16(exactly: v) {
                out.append(0xC0 | RDB.encInt16)
                withUnsafeBytes(of: h.littleEndian) { out.append($0) }
            } else {
                out.append(0xC0 | RDB.encInt32)
                withUnsafeBytes(of: v.littleEndian) { out.append($0) }
            }
            return
        }
        if compression && s.count > RDB.compressionThreshold && appendCompressed(s) { return }
        appendLength(s.count)
        out.append(s)
    }

    func appendString(_ s: [UInt8]) { s.withUnsafeBytes { appendString($0) } }

    /// LZF with Redis' rule: only if the result is at most length - 4 bytes.
    private func appendCompressed(_ s: UnsafeRawBufferPointer) -> Bool {
        let limit = s.count - 4
        if lzfOut.count < limit {
            lzfOut.deallocate()
            lzfOut = .allocate(byteCount: limit, alignment: 8)
        }
        let n = lzfCompress(s, into: UnsafeMutableRawBufferPointer(rebasing: lzfOut[0..<limit]), table: lzfTable)
        if n == 0 { return false }
        out.append(0xC0 | RDB.encLZF)
        appendLength(n)
        appendLength(s.count)
        out.append(UnsafeRawBufferPointer(rebasing: lzfOut[0..<n]))
        return true
    }
}
