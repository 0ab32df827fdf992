/// A reply as a client sees it (RESP2 and RESP3 types).
public indirect enum RESPValue: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RESPValue])
    case map([(RESPValue, RESPValue)])
    case set([RESPValue])
    case double(String)
    case boolean(Bool)
    case verbatim(String)
    /// RESP3's out-of-band `>` frame (pub/sub messages and confirmations).
    case push([RESPValue])

    public static func == (a: RESPValue, b: RESPValue) -> Bool {
        switch (a, b) {
        case (.simple(let x), .simple(let y)), (.error(let x), .error(let y)), (.double(let x), .double(let y)),
             (.verbatim(let x), .verbatim(let y)): x == y
        case (.integer(let x), .integer(let y)): x == y
        case (.bulk(let x), .bulk(let y)): x == y
        case (.null, .null): true
        case (.array(let x), .array(let y)), (.set(let x), .set(let y)), (.push(let x), .push(let y)): x == y
        case (.map(let x), .map(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.boolean(let x), .boolean(let y)): x == y
        default: false
        }
    }
}

public struct ReplyParseError: Error, Sendable {
    public let message: String
}

/// Parses one complete reply at the start of `bytes`: the value and the bytes it took, or nil when the
/// reply is not complete yet. Used by clients (kvcli, tests), not by the server.
public func parseReply(_ bytes: UnsafeRawBufferPointer) throws(ReplyParseError) -> (RESPValue, Int)? {
    var p = 0
    guard let v = try parseValue(bytes, &p) else { return nil }
    return (v, p)
}

private func line(_ b: UnsafeRawBufferPointer, _ p: inout Int) -> String? {
    var i = p
    while i + 1 < b.count {
        if b[i] == 0x0D && b[i + 1] == 0x0A {
            let s = String(decoding: b[p..<i], as: UTF8.self)
            p = i + 2
            return s
        }
        i += 1
    }
    return nil
}

private func parseValue(_ b: UnsafeRawBufferPointer, _ p: inout Int) throws(ReplyParseError) -> RESPValue? {
    guard p < b.count else { return nil }
    let type = b[p]
    var q = p + 1
    guard let text = line(b, &q) else { return nil }
    func count() throws(ReplyParseError) -> Int {
        guard let n = Int(text) else { throw ReplyParseError(message: "bad length '\(text)'") }
        return n
    }
    func elements(_ n: Int) throws(ReplyParseError) -> [RESPValue]? {
        var out: [RESPValue] = []
        for _ in 0..<max(0, n) {
            guard let v = try parseValue(b, &q) else { return nil }
            out.append(v)
        }
        return out
    }
    let value: RESPValue
    switch type {
    case UInt8(ascii: "+"): value = .simple(text)
    case UInt8(ascii: "-"): value = .error(text)
    case UInt8(ascii: ":"):
        guard let n = Int64(text) else { throw ReplyParseError(message: "bad integer '\(text)'") }
        value = .integer(n)
    case UInt8(ascii: "$"), UInt8(ascii: "="):
        let n = try count()
        if n < 0 {
            value = .null
        } else {
            guard b.count - q >= n + 2 else { return nil }
            let data = Array(b[q..<q + n])
            q += n + 2
            value = type == UInt8(ascii: "$") ? .bulk(data) : .verbatim(String(decoding: data.dropFirst(4), as: UTF8.self))
        }
    case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
        let n = try count()
        if n < 0 { value = .null } else {
            guard let e = try elements(n) else { return nil }
            value = type == UInt8(ascii: "*") ? .array(e) : type == UInt8(ascii: "~") ? .set(e) : .push(e)
        }
    case UInt8(ascii: "%"):
        guard let e = try elements(2 * (try count())) else { return nil }
        value = .map(stride(from: 0, to: e.count, by: 2).map { (e[$0], e[$0 + 1]) })
    case UInt8(ascii: "_"): value = .null
    case UInt8(ascii: ","): value = .double(text)
    case UInt8(ascii: "#"): value = .boolean(text == "t")
    default: throw ReplyParseError(message: "unknown reply type byte \(type)")
    }
    p = q
    return value
}
