/// Writes RESP replies into a connection's output buffer, in RESP2 or (after HELLO 3) RESP3. Handlers say
/// what they mean (a null, a map, a double) and the writer picks the bytes of the connection's protocol:
///
///   meaning   RESP2            RESP3
///   null      $-1 (bulk)       _
///   nil array *-1              _
///   map of n  *2n, flattened   %n
///   double    $ bulk string    ,
///   boolean   :1 / :0          #t / #f
public struct ReplyWriter {
    public let buffer: ByteBuffer
    public var resp3: Bool

    public init(buffer: ByteBuffer, resp3: Bool = false) {
        self.buffer = buffer
        self.resp3 = resp3
    }

    @inline(__always) private func crlf() { buffer.appendCRLF() }

    /// +text
    public func simple(_ s: StaticString) {
        buffer.append(UInt8(ascii: "+"))
        buffer.append(s)
        crlf()
    }

    public func simple(_ s: String) {
        buffer.append(UInt8(ascii: "+"))
        buffer.append(s)
        crlf()
    }

    @inline(__always) public func ok() { buffer.append("+OK\r\n" as StaticString) }

    /// -text; `text` starts with the error code (ERR, WRONGTYPE, ...). CR and LF become spaces, as Redis does,
    /// so a reply can never be split.
    public func error(_ text: String) { error(bytes: text.utf8) }

    /// An error whose text holds client bytes as they came (Redis quotes them raw, not as UTF-8).
    public func error(bytes text: some Sequence<UInt8>) {
        buffer.append(UInt8(ascii: "-"))
        buffer.append(text.map { $0 == 0x0D || $0 == 0x0A ? 0x20 : $0 })
        crlf()
    }

    /// :n
    @inline(__always) public func integer(_ v: Int64) {
        buffer.append(UInt8(ascii: ":"))
        buffer.appendDecimal(v)
        crlf()
    }

    @inline(__always) public func integer(_ v: Int) { integer(Int64(v)) }

    /// $len bytes
    @inline(__always) public func bulk(_ bytes: UnsafeRawBufferPointer) {
        buffer.reserve(bytes.count + 16)
        buffer.append(UInt8(ascii: "$"))
        buffer.appendDecimal(Int64(bytes.count))
        crlf()
        buffer.append(bytes)
        crlf()
    }

    public func bulk(_ bytes: [UInt8]) { bytes.withUnsafeBytes { bulk($0) } }

    public func bulk(_ s: String) {
        var s = s
        s.withUTF8 { bulk(UnsafeRawBufferPointer($0)) }
    }

    /// A bulk string, or null.
    public func bulk(_ bytes: [UInt8]?) {
        if let bytes { bulk(bytes) } else { null() }
    }

    /// The null bulk string.
    @inline(__always) public func null() {
        buffer.append(resp3 ? "_\r\n" as StaticString : "$-1\r\n")
    }

    /// The null array (e.g. SET ... GET on a missing key answers a null bulk; EXEC after WATCH a null array).
    public func nullArray() {
        buffer.append(resp3 ? "_\r\n" as StaticString : "*-1\r\n")
    }

    /// *n: n elements follow.
    @inline(__always) public func arrayHeader(_ n: Int) {
        buffer.append(UInt8(ascii: "*"))
        buffer.appendDecimal(Int64(n))
        crlf()
    }

    /// A push frame of n elements follows (pub/sub messages and confirmations): RESP3's `>`, an array in RESP2.
    public func pushHeader(_ n: Int) {
        buffer.append(UInt8(ascii: resp3 ? ">" : "*"))
        buffer.appendDecimal(Int64(n))
        crlf()
    }

    /// A map of n pairs follows (key, value, key, value...).
    public func mapHeader(_ n: Int) {
        buffer.append(UInt8(ascii: resp3 ? "%" : "*"))
        buffer.appendDecimal(Int64(resp3 ? n : 2 * n))
        crlf()
    }

    /// A set of n elements follows (RESP3's `~`; an array in RESP2).
    public func setHeader(_ n: Int) {
        buffer.append(UInt8(ascii: resp3 ? "~" : "*"))
        buffer.appendDecimal(Int64(n))
        crlf()
    }

    /// A whole reply value, in this writer's protocol (maps and sets become arrays in RESP2).
    public func value(_ v: RESPValue) {
        switch v {
        case .simple(let s): simple(s)
        case .error(let s): error(s)
        case .integer(let n): integer(n)
        case .bulk(let b): bulk(b)
        case .null: null()
        case .array(let a):
            arrayHeader(a.count)
            for x in a { value(x) }
        case .map(let m):
            mapHeader(m.count)
            for (k, x) in m {
                value(k)
                value(x)
            }
        case .set(let a):
            setHeader(a.count)
            for x in a { value(x) }
        case .push(let a):
            pushHeader(a.count)
            for x in a { value(x) }
        case .double(let d): double(Array(d.utf8))
        case .boolean(let b): boolean(b)
        case .verbatim(let t): verbatim(t)
        }
    }

    /// A double, given as the text Redis prints for it.
    public func double(_ text: [UInt8]) { text.withUnsafeBytes { double($0) } }

    public func double(_ text: UnsafeRawBufferPointer) {
        if resp3 {
            buffer.append(UInt8(ascii: ","))
            buffer.append(text)
            crlf()
        } else {
            bulk(text)
        }
    }

    /// A score as formatDouble writes it; an integral one (the common score) without an array.
    public func double(_ v: Double) {
        guard let i = integralValue(v) else { return double(formatDouble(v)) }
        withUnsafeTemporaryAllocation(byteCount: 20, alignment: 1) { p in
            double(UnsafeRawBufferPointer(rebasing: p[..<writeDecimal(i, into: p.baseAddress!)]))
        }
    }

    public func boolean(_ v: Bool) {
        if resp3 { buffer.append(v ? "#t\r\n" as StaticString : "#f\r\n") } else { integer(v ? 1 : 0) }
    }

    /// Text meant for humans (INFO, CLIENT LIST): a bulk string, or RESP3's verbatim `=` string of type txt.
    public func verbatim(_ text: String) {
        guard resp3 else { return bulk(text) }
        var text = "txt:" + text
        text.withUTF8 { t in
            buffer.append(UInt8(ascii: "="))
            buffer.appendDecimal(Int64(t.count))
            crlf()
            buffer.append(UnsafeRawBufferPointer(t))
            crlf()
        }
    }
}

/// Encodes a command as a RESP multibulk request: what clients (kvcli, tests) send.
public func encodeCommand(_ arguments: [[UInt8]]) -> [UInt8] {
    var out: [UInt8] = Array("*\(arguments.count)\r\n".utf8)
    for a in arguments {
        out += Array("$\(a.count)\r\n".utf8)
        out += a
        out += [0x0D, 0x0A]
    }
    return out
}

public func encodeCommand(_ arguments: [String]) -> [UInt8] { encodeCommand(arguments.map { Array($0.utf8) }) }
