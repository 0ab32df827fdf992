import Glibc

/// A growable byte buffer with a read index and a write index: the connection's query buffer and its reply
/// buffer. Bytes in [readIndex, writeIndex) are pending. One malloc block, grown by realloc; consumed bytes
/// are reclaimed by moving the pending ones to the front when room is needed, so a buffer that is drained
/// as fast as it is filled never grows.
///
/// Owned by one thread at a time (one connection); not thread safe.
public final class ByteBuffer {
    public private(set) var base: UnsafeMutablePointer<UInt8>
    public private(set) var capacity: Int
    public private(set) var readIndex = 0
    public private(set) var writeIndex = 0

    public init(capacity: Int = 16 * 1024) {
        self.capacity = Swift.max(capacity, 16)
        base = malloc(self.capacity)!.assumingMemoryBound(to: UInt8.self)
    }

    deinit { free(base) }

    /// Pending bytes.
    public var count: Int { writeIndex - readIndex }
    public var isEmpty: Bool { writeIndex == readIndex }

    /// The pending bytes (valid until the next mutation).
    public var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + readIndex, count: writeIndex - readIndex)
    }

    /// Makes room for at least `n` more bytes after writeIndex.
    @inline(__always)
    public func reserve(_ n: Int) {
        if capacity - writeIndex < n { makeRoom(n) }
    }

    private func makeRoom(_ n: Int) {
        let pending = writeIndex - readIndex
        if readIndex > 0 && capacity - pending >= n && pending <= capacity / 2 {
            // Moving the pending bytes is enough, and cheap because they are at most half the buffer.
            memmove(base, base + readIndex, pending)
        } else {
            var newCapacity = capacity
            while newCapacity - pending < n { newCapacity *= 2 }
            if readIndex > 0 { memmove(base, base + readIndex, pending) }
            base = realloc(base, newCapacity)!.assumingMemoryBound(to: UInt8.self)
            capacity = newCapacity
        }
        readIndex = 0
        writeIndex = pending
    }

    /// Free space after writeIndex, for a read(2) to fill; call `didWrite` with what it wrote.
    public var writable: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + writeIndex, count: capacity - writeIndex)
    }

    @inline(__always)
    public func didWrite(_ n: Int) { writeIndex += n }

    @inline(__always)
    public func consume(_ n: Int) {
        readIndex += n
        if readIndex == writeIndex {
            readIndex = 0
            writeIndex = 0
        }
    }

    /// Drops the bytes written after the first `count` readable ones (CLIENT REPLY OFF drops a reply).
    public func truncate(to count: Int) {
        if count < self.count { writeIndex = readIndex + count }
    }

    public func removeAll() {
        readIndex = 0
        writeIndex = 0
    }

    /// Exchanges the two buffers' storage and indices: the pending bytes move to `other` without a copy
    /// (the io_uring back end sends from a buffer the connection cannot append to meanwhile).
    public func swapContents(with other: ByteBuffer) {
        swap(&base, &other.base)
        swap(&capacity, &other.capacity)
        swap(&readIndex, &other.readIndex)
        swap(&writeIndex, &other.writeIndex)
    }

    /// Gives memory back when the buffer is empty but was grown past `limit` by one large request or reply.
    public func shrinkIfIdle(limit: Int = 64 * 1024, to size: Int = 16 * 1024) {
        guard isEmpty, capacity > limit else { return }
        base = realloc(base, size)!.assumingMemoryBound(to: UInt8.self)
        capacity = size
    }

    // MARK: Appending

    @inline(__always)
    public func append(_ byte: UInt8) {
        reserve(1)
        base[writeIndex] = byte
        writeIndex += 1
    }

    @inline(__always)
    public func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        reserve(n)
        if n > 0 { memcpy(base + writeIndex, bytes.baseAddress!, n) }
        writeIndex += n
    }

    public func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    /// CR LF, the end of every reply line: one two-byte store (as a StaticString, a call and a memcpy).
    @inline(__always)
    public func appendCRLF() {
        reserve(2)
        UnsafeMutableRawPointer(base + writeIndex).storeBytes(of: UInt16(0x0A0D).littleEndian, as: UInt16.self)
        writeIndex += 2
    }

    public func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public func append(_ s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// The decimal digits of `v`.
    @inline(__always)
    public func appendDecimal(_ v: Int64) {
        reserve(20)
        var m = v.magnitude
        if v < 0 {
            base[writeIndex] = UInt8(ascii: "-")
            writeIndex += 1
        }
        var digits = 1
        var t = m
        while t >= 10 { t /= 10; digits += 1 }
        var i = writeIndex + digits - 1
        repeat {
            base[i] = UInt8(truncatingIfNeeded: m % 10) &+ 48
            m /= 10
            i -= 1
        } while m > 0
        writeIndex += digits
    }
}
