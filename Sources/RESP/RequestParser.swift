import Glibc

/// Limits the request parser enforces, with Redis' defaults (server.h, config.c).
public struct ProtocolLimits: Sendable {
    /// PROTO_INLINE_MAX_SIZE: an inline line, a multibulk count line or a bulk length line.
    public var inlineMax = 64 * 1024
    /// proto-max-bulk-len.
    public var maxBulkLength = 512 * 1024 * 1024
    /// For clients that have not authenticated while a password is required.
    public var unauthenticatedMaxArguments = 10
    public var unauthenticatedMaxBulkLength = 16 * 1024

    public init() {}
}

/// One parse step's outcome.
public enum ParseStatus: Equatable, Sendable {
    /// A whole command is ready in `arguments`; call `commandDone` after executing it.
    case command
    /// The buffer holds only part of a command.
    case needMore
    /// The protocol was broken: reply with this text (already "ERR Protocol error: ...") and close.
    case error(String)
}

/// The server's request parser (Redis' processInputBuffer): RESP multibulk requests, and inline commands
/// (telnet) when the first byte is not `*`. Incremental: a partial command keeps its progress, as offsets
/// relative to the buffer's read index, so each byte is examined once however the request is split, and
/// the buffer may be compacted or reallocated in between.
///
/// Multibulk arguments are not copied: `arguments` point into the query buffer (inline ones into the
/// parser's own storage) and stay valid until `commandDone`.
public struct RequestParser {
    public var limits: ProtocolLimits

    /// The current command's arguments, once `next` returned `.command`.
    public private(set) var arguments: [UnsafeRawBufferPointer] = []

    // Progress through a partial multibulk request, relative to the buffer's read index.
    private var expectedArguments = 0  // 0: not inside a multibulk request
    private var position = 0
    /// The arguments found so far: the first `spanCount` of `spans` (reused, never cleared: clearing an
    /// array costs about 85 instructions, three a request, measured with callgrind).
    private var spans: [(offset: Int, count: Int)] = []
    private var spanCount = 0
    private var consumed = 0
    private var inlineStorage: [UInt8] = []
    private var inlineSpans: [Range<Int>] = []

    public init(limits: ProtocolLimits = ProtocolLimits()) {
        self.limits = limits
        arguments.reserveCapacity(8)
        spans.reserveCapacity(8)
    }

    /// Bytes the current partial request still needs at least, so a large bulk can be read in one go.
    public var bytesWanted = 0

    /// Finds the next command in `buffer`. Empty commands (blank inline lines, `*0`) are skipped silently.
    /// A client that has not authenticated (the connection knows) gets Redis' smaller limits.
    public mutating func next(_ buffer: ByteBuffer, authenticated: Bool = true) -> ParseStatus {
        while true {
            let bytes = buffer.readable
            guard bytes.count > 0 else { return .needMore }
            let status: ParseStatus
            if expectedArguments > 0 || bytes[0] == UInt8(ascii: "*") {
                status = parseMultibulk(bytes, authenticated: authenticated)
            } else {
                status = parseInline(bytes)
            }
            if status == .command && arguments.isEmpty {
                buffer.consume(consumed)
                resetCommand()
                continue
            }
            return status
        }
    }

    /// Drops the executed command from the buffer.
    /// Forgets the command just parsed without consuming it: the next `next` parses it again (a command
    /// held back while the server is paused).
    public mutating func rewind() { resetCommand() }

    public mutating func commandDone(_ buffer: ByteBuffer) {
        buffer.consume(consumed)
        resetCommand()
    }

    private mutating func resetCommand() {
        expectedArguments = 0
        position = 0
        consumed = 0
        bytesWanted = 0
        spanCount = 0
        clearArguments()
    }

    /// Empties `arguments`, keeping its capacity. removeAll(keepingCapacity:) goes through Array's generic
    /// replaceSubrange (~85 instructions); popping a few plain elements costs less (callgrind: GET, 2
    /// arguments).
    @inline(__always)
    private mutating func clearArguments() {
        if arguments.count <= 4 {
            while arguments.popLast() != nil {}
        } else {
            arguments.removeAll(keepingCapacity: true)
        }
    }

    // MARK: Inline

    private mutating func parseInline(_ bytes: UnsafeRawBufferPointer) -> ParseStatus {
        let start = bytes.baseAddress!
        guard let nl = memchr(start, 0x0A, bytes.count) else {
            return bytes.count > limits.inlineMax ? .error("ERR Protocol error: too big inline request") : .needMore
        }
        let lineEnd = start.distance(to: UnsafeRawPointer(nl))
        var end = lineEnd
        if end > 0 && bytes[end - 1] == 0x0D { end -= 1 }
        inlineStorage.removeAll(keepingCapacity: true)
        inlineSpans.removeAll(keepingCapacity: true)
        guard splitInlineArguments(UnsafeRawBufferPointer(rebasing: bytes[0..<end]), into: &inlineStorage, &inlineSpans) else {
            return .error("ERR Protocol error: unbalanced quotes in request")
        }
        consumed = lineEnd + 1
        clearArguments()
        inlineStorage.withUnsafeBytes { storage in
            for r in inlineSpans { arguments.append(UnsafeRawBufferPointer(rebasing: storage[r])) }
        }
        return .command
    }

    // MARK: Multibulk

    private mutating func parseMultibulk(_ bytes: UnsafeRawBufferPointer, authenticated: Bool) -> ParseStatus {
        let n = bytes.count
        if expectedArguments == 0 && authenticated && parseWholeMultibulk(bytes) { return .command }
        if expectedArguments == 0 {
            guard let (value, next) = numberLine(bytes, from: 1) else {
                return n > limits.inlineMax ? .error("ERR Protocol error: too big mbulk count string") : .needMore
            }
            guard let count = value, count <= Int64(Int32.max) else {
                return .error("ERR Protocol error: invalid multibulk length")
            }
            if count <= 0 {
                consumed = next
                return .command  // empty (`arguments` is, between commands): skipped by `next`
            }
            if !authenticated && count > limits.unauthenticatedMaxArguments {
                return .error("ERR Protocol error: unauthenticated multibulk length")
            }
            expectedArguments = Int(count)
            position = next
        }
        while spanCount < expectedArguments {
            guard position < n else { return .needMore }
            guard let (value, next) = numberLine(bytes, from: position + 1) else {
                return n - position > limits.inlineMax ? .error("ERR Protocol error: too big bulk count string") : .needMore
            }
            let marker = bytes[position]
            guard marker == UInt8(ascii: "$") else {
                return .error("ERR Protocol error: expected '$', got '\(Character(Unicode.Scalar(marker)))'")
            }
            guard let length = value, length >= 0, length <= Int64(limits.maxBulkLength) else {
                return .error("ERR Protocol error: invalid bulk length")
            }
            if !authenticated && length > Int64(limits.unauthenticatedMaxBulkLength) {
                return .error("ERR Protocol error: unauthenticated bulk length")
            }
            let len = Int(length)
            // The two bytes after the data are skipped unchecked, as Redis does.
            guard n - next >= len + 2 else {
                bytesWanted = next + len + 2 - n
                return .needMore
            }
            if spanCount < spans.count { spans[spanCount] = (next, len) } else { spans.append((next, len)) }
            spanCount += 1
            position = next + len + 2
        }
        consumed = position
        bytesWanted = 0
        let base = bytes.baseAddress!
        clearArguments()
        let found = spanCount
        // Through the spans' buffer: read by index beside appends to `arguments`, the array was retained
        // and released once an argument.
        spans.withUnsafeBufferPointer { sp in
            for k in 0..<found { arguments.append(UnsafeRawBufferPointer(start: base + sp[k].offset, count: sp[k].count)) }
        }
        return .command
    }

    /// The common case, a whole request already in the buffer in the form clients send (lengths of at most
    /// 9 digits, no sign, no leading zero; at most 1024 arguments): one pass straight into `arguments`.
    /// False, with nothing kept, for anything else: the general path above parses it from the start, and
    /// keeps its place across reads. (The general path's two passes and per-line calls cost ~180
    /// instructions an argument; this about a third: callgrind.)
    @inline(__always)
    private mutating func parseWholeMultibulk(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let base = bytes.baseAddress!, n = bytes.count
        @inline(__always) func line(_ p: inout Int) -> Int? { Self.plainNumber(base, n, &p) }
        var p = 1
        guard let count = line(&p), count > 0, count <= 1024 else { return false }
        for _ in 0..<count {
            guard p < n, base.load(fromByteOffset: p, as: UInt8.self) == UInt8(ascii: "$") else { return abandon() }
            p += 1
            guard let length = line(&p), length <= limits.maxBulkLength, n - p >= length + 2 else { return abandon() }
            arguments.append(UnsafeRawBufferPointer(start: base + p, count: length))
            p += length + 2
        }
        consumed = p
        bytesWanted = 0
        return true
    }

    /// "<digits>\r\n" at p of the n bytes at base: its value, p moved past it; nil when not in the plain
    /// form or not all there.
    @inline(__always)
    private static func plainNumber(_ base: UnsafeRawPointer, _ n: Int, _ p: inout Int) -> Int? {
        var i = p, v = 0
        while i < n {
            let d = base.load(fromByteOffset: i, as: UInt8.self) &- 0x30
            if d > 9 { break }
            v = v &* 10 &+ Int(d)
            i += 1
        }
        let digits = i - p
        guard digits > 0, digits <= 9, i + 1 < n, base.load(fromByteOffset: i, as: UInt8.self) == 0x0D,
              digits == 1 || base.load(fromByteOffset: p, as: UInt8.self) != 0x30 else { return nil }
        p = i + 2
        return v
    }

    /// "$<length>\r\n<bytes>" at p of the n bytes at base (the bytes whole; their CRLF need not be there
    /// yet), p moved past its CRLF; nil when not in the plain form or not all there. Inlined into
    /// `peekNext`: as a nested function capturing p it was a call per argument.
    @inline(__always)
    private static func plainBulk(_ base: UnsafeRawPointer, _ n: Int, _ p: inout Int) -> UnsafeRawBufferPointer? {
        guard p < n, base.load(fromByteOffset: p, as: UInt8.self) == UInt8(ascii: "$") else { return nil }
        var q = p + 1
        guard let length = plainNumber(base, n, &q), n - q >= length else { return nil }
        p = q + length + 2
        return UnsafeRawBufferPointer(start: base + q, count: length)
    }

    /// A request seen ahead in the buffer (`peekNext`): its name, first argument, and second and third
    /// arguments each when it and those before it are whole; `end`, the address just past it, when it has
    /// at most four arguments and all are whole (where the request after it starts). Its pointers are into
    /// the buffer: valid while the buffer's bytes do not move (consuming moves none; a read may).
    public struct Peeked {
        public let name: UnsafeRawBufferPointer
        public let argument: UnsafeRawBufferPointer
        public let second: UnsafeRawBufferPointer?
        public let third: UnsafeRawBufferPointer?
        public let end: UnsafeRawPointer?
    }

    /// Where the request after the current one starts (the address `peekNext(buffer)` reads from).
    public func nextRequestStart(_ buffer: ByteBuffer) -> UnsafeRawPointer? {
        buffer.readable.baseAddress.map { $0 + consumed }
    }

    /// The request after the current one (or the one starting at `start`, a `Peeked.end` in this buffer's
    /// readable bytes), when the buffer holds its name and first argument whole in the plain multibulk
    /// form; nil otherwise. Reads only: a look ahead, so that the connection can hint the store at the next
    /// key, and at the elements after it (HSET's field, ZADD's member), while the current command runs.
    public func peekNext(_ buffer: ByteBuffer, at start: UnsafeRawPointer? = nil) -> Peeked? {
        let bytes = buffer.readable
        let n = bytes.count
        guard let base = bytes.baseAddress else { return nil }
        var p = start.map { base.distance(to: $0) } ?? consumed
        guard p >= 0, p < n, base.load(fromByteOffset: p, as: UInt8.self) == UInt8(ascii: "*") else { return nil }
        p += 1
        guard let count = Self.plainNumber(base, n, &p), count >= 2,
              let name = Self.plainBulk(base, n, &p), let argument = Self.plainBulk(base, n, &p) else { return nil }
        let second = count >= 3 ? Self.plainBulk(base, n, &p) : nil
        let third = count >= 4 && second != nil ? Self.plainBulk(base, n, &p) : nil
        let whole = count == 2 || (count == 3 && second != nil) || (count == 4 && third != nil)
        return Peeked(name: name, argument: argument, second: second, third: third, end: whole && p <= n ? base + p : nil)
    }

    private mutating func abandon() -> Bool {
        clearArguments()
        return false
    }

    /// Parses the number in a line starting at `from` and ending in CRLF. nil when the line is not complete;
    /// (nil, _) when it is not a valid integer.
    private func numberLine(_ bytes: UnsafeRawBufferPointer, from: Int) -> (Int64?, Int)? {
        let n = bytes.count
        // The lines clients send: a few digits, no sign, no leading zero, then CR LF. Read in one pass
        // (parseInt64 after a memchr took ~100 instructions a line, three lines a GET: callgrind).
        if from < n, let base = bytes.baseAddress {
            var i = from, v: Int64 = 0
            while i < n && i - from < 18 {
                let d = base.load(fromByteOffset: i, as: UInt8.self) &- 0x30
                if d > 9 { break }
                v = v &* 10 &+ Int64(d)
                i += 1
            }
            if i < n, i > from, base.load(fromByteOffset: i, as: UInt8.self) == 0x0D,
               i - from == 1 || base.load(fromByteOffset: from, as: UInt8.self) != 0x30 {
                return i + 1 < n ? (v, i + 2) : nil
            }
        }
        guard from <= n, let cr = memchr(bytes.baseAddress! + from, 0x0D, n - from) else { return nil }
        let crIndex = bytes.baseAddress!.distance(to: UnsafeRawPointer(cr))
        guard crIndex + 1 < n else { return nil }
        return (parseInt64(UnsafeRawBufferPointer(rebasing: bytes[from..<crIndex])), crIndex + 2)
    }
}
