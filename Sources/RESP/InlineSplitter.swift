/// Splits an inline command line into arguments with Redis' quoting rules (sds.c sdssplitargs):
/// - unquoted tokens end at space, tab, CR, LF or NUL;
/// - "double quotes" understand \n \r \t \b \a, \xHH (two hex digits) and \<any char> as that char;
/// - 'single quotes' understand only \';
/// - a closing quote must be followed by whitespace or the end of the line.
/// Appends each argument's bytes to `storage` and its range to `spans`; false on unbalanced quotes.
public func splitInlineArguments(
    _ line: UnsafeRawBufferPointer, into storage: inout [UInt8], _ spans: inout [Range<Int>]
) -> Bool {
    let n = line.count
    @inline(__always) func at(_ i: Int) -> UInt8 { i < n ? line[i] : 0 }
    @inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }
    @inline(__always) func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
    var p = 0
    while true {
        while p < n && isSpace(line[p]) { p += 1 }
        // A NUL ends the line, as it ends the C string Redis splits.
        if p >= n || line[p] == 0 { return true }
        let start = storage.count
        // The quote the current token is inside of, or 0.
        var quote: UInt8 = 0
        var done = false
        while !done {
            let c = at(p)
            if quote != 0 {
                // The line (or the C string, at a NUL) ends inside quotes.
                if c == 0 { return false }
                if c == quote {
                    if p + 1 < n && !isSpace(line[p + 1]) { return false }
                    done = true
                } else if quote == UInt8(ascii: "'") {
                    if c == UInt8(ascii: "\\") && at(p + 1) == UInt8(ascii: "'") { p += 1 }
                    storage.append(line[p])
                } else if c == UInt8(ascii: "\\") && at(p + 1) == UInt8(ascii: "x"),
                          let hi = hexValue(at(p + 2)), let lo = hexValue(at(p + 3)) {
                    storage.append(hi << 4 | lo)
                    p += 3
                } else if c == UInt8(ascii: "\\") && p + 1 < n {
                    p += 1
                    switch line[p] {
                    case UInt8(ascii: "n"): storage.append(0x0A)
                    case UInt8(ascii: "r"): storage.append(0x0D)
                    case UInt8(ascii: "t"): storage.append(0x09)
                    case UInt8(ascii: "b"): storage.append(0x08)
                    case UInt8(ascii: "a"): storage.append(0x07)
                    default: storage.append(line[p])
                    }
                } else {
                    storage.append(c)
                }
            } else {
                switch c {
                case 0x20, 0x0A, 0x0D, 0x09, 0: done = true
                case UInt8(ascii: "\""), UInt8(ascii: "'"): quote = c
                default: storage.append(c)
                }
            }
            if c != 0 { p += 1 }
        }
        spans.append(start..<storage.count)
    }
}
