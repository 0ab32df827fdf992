import RESP

// Replies printed as redis-cli prints them (redis-cli.c cliFormatReplyTTY / cliFormatReplyRaw): the
// human form quotes strings and numbers nested arrays with aligned indexes; the raw form, for scripts,
// prints bare values one per line.

/// The human form, ending in a newline.
func formatHuman(_ v: RESPValue) -> [UInt8] { human(v, prefix: []) }

private func human(_ v: RESPValue, prefix: [UInt8]) -> [UInt8] {
    switch v {
    case .simple(let s): return Array(s.utf8) + [10]
    case .error(let s): return Array("(error) \(s)\n".utf8)
    case .integer(let n): return Array("(integer) \(n)\n".utf8)
    case .double(let d): return Array("(double) \(d)\n".utf8)
    case .boolean(let b): return Array((b ? "(true)\n" : "(false)\n").utf8)
    case .bulk(let b): return quoted(b) + [10]
    case .verbatim(let s): return Array(s.utf8) + [10]
    case .null: return Array("(nil)\n".utf8)
    case .array(let items), .set(let items), .push(let items):
        if items.isEmpty { return Array((v.isSet ? "(empty set)\n" : "(empty array)\n").utf8) }
        return numbered(items.count, prefix: prefix, mark: ")") { i, inner in human(items[i], prefix: inner) }
    case .map(let pairs):
        if pairs.isEmpty { return Array("(empty hash)\n".utf8) }
        return numbered(pairs.count, prefix: prefix, mark: "#") { i, inner in
            var key = human(pairs[i].0, prefix: inner)
            key.removeLast()  // the key's newline: the value follows on the same line
            return key + Array(" => ".utf8) + human(pairs[i].1, prefix: inner)
        }
    }
}

/// "1) ...", " 2) ..." with indexes right-aligned to the widest, and nested lines indented under them.
private func numbered(_ n: Int, prefix: [UInt8], mark: String, _ item: (Int, [UInt8]) -> [UInt8]) -> [UInt8] {
    let width = String(n).count
    let inner = prefix + [UInt8](repeating: 0x20, count: width + 2)
    var out: [UInt8] = []
    for i in 0..<n {
        if i > 0 { out += prefix }
        let index = String(i + 1)
        out += [UInt8](repeating: 0x20, count: width - index.count) + Array("\(index)\(mark) ".utf8)
        out += item(i, inner)
    }
    return out
}

/// sdscatrepr: the bytes in double quotes, with C escapes for quotes, backslashes and control bytes.
func quoted(_ b: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x22]
    for c in b {
        switch c {
        case 0x5C: out += [0x5C, 0x5C]
        case 0x22: out += [0x5C, 0x22]
        case 0x0A: out += [0x5C, 0x6E]
        case 0x0D: out += [0x5C, 0x72]
        case 0x09: out += [0x5C, 0x74]
        case 0x07: out += [0x5C, 0x61]
        case 0x08: out += [0x5C, 0x62]
        case 0x20...0x7E: out.append(c)
        default:
            let hex = Array("0123456789abcdef".utf8)
            out += [0x5C, 0x78, hex[Int(c >> 4)], hex[Int(c & 15)]]
        }
    }
    return out + [0x22]
}

/// The raw form: bare values, array elements one per line, nil as an empty line; ends in a newline.
func formatRaw(_ v: RESPValue) -> [UInt8] { raw(v) + [10] }

private func raw(_ v: RESPValue) -> [UInt8] {
    switch v {
    case .simple(let s), .error(let s), .double(let s), .verbatim(let s): return Array(s.utf8)
    case .integer(let n): return Array(String(n).utf8)
    case .boolean(let b): return Array((b ? "1" : "0").utf8)
    case .bulk(let b): return b
    case .null: return []
    case .array(let items), .set(let items), .push(let items): return Array(items.map(raw).joined(separator: [10]))
    case .map(let pairs): return Array(pairs.flatMap { [raw($0.0), raw($0.1)] }.joined(separator: [10]))
    }
}

extension RESPValue {
    var isError: Bool { if case .error = self { true } else { false } }
    var isSet: Bool { if case .set = self { true } else { false } }

    /// The text of a status, bulk or verbatim reply (STATS, INFO).
    var text: String? {
        switch self {
        case .simple(let s), .verbatim(let s): s
        case .bulk(let b): String(decoding: b, as: UTF8.self)
        default: nil
        }
    }
}
