// LZF, the compression Redis uses for long strings in RDB files (liblzf by Marc Lehmann, lzf_c.c/lzf_d.c).
//
// A stream is a sequence of runs, each starting with a control byte:
//   000LLLLL                      a literal run: the next L+1 bytes (1...32) are copied
//   LLLooooo [LLLLLLLL] oooooooo  a back reference: copy len+2 bytes from `offset + 1` bytes back, where
//                                 len is the top 3 bits (7 = an extra length byte follows, added to 7)
//                                 and the offset is 13 bits (up to 8 KiB back)
// The compressor finds 3-byte matches through a hash table of recent positions, as liblzf does; any
// valid stream decompresses with any LZF decoder, so ours and Redis' read each other's files.

/// The largest hash table (entries = 2^bits), for inputs of 16 KiB and more. A smaller input uses a
/// table about its own size: the table is cleared for every string, and clearing 64 KiB for a 100-byte
/// value cost more than the rest of its save (SAVE of 864k random 100-byte values: 1.72 s with a full
/// table each time, 0.53 s sized to the input; same file).
package let lzfHashBits = 14
let lzfMaxLiteral = 32
let lzfMaxOffset = 1 << 13
let lzfMaxMatch = (1 << 8) + (1 << 3)  // 264

/// Compresses `input` into `output`; returns the compressed length, or 0 when the result would not fit
/// in `output` (Redis then stores the string uncompressed).
package func lzfCompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, table: UnsafeMutablePointer<Int32>) -> Int {
    let n = input.count
    guard n > 2, let inp = input.baseAddress, let out = output.baseAddress else { return 0 }
    let outEnd = output.count
    let bits = Swift.min(lzfHashBits, Swift.max(8, Int.bitWidth - (n - 1).leadingZeroBitCount))
    table.update(repeating: -1, count: 1 << bits)
    var ip = 0
    var op = 1  // room for the first literal run's control byte
    var lit = 0
    @inline(__always) func byte(_ i: Int) -> UInt32 { UInt32(inp.load(fromByteOffset: i, as: UInt8.self)) }
    @inline(__always) func slot(_ i: Int) -> Int {
        let v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2)
        return Int((v &* 2_654_435_761) >> (32 - UInt32(bits)))
    }
    while ip < n {
        // The last two bytes cannot start a 3-byte match: they go out as literals.
        if ip < n - 2 {
            let h = slot(ip)
            let ref = Int(table[h])
            table[h] = Int32(ip)
            let off = ip - ref - 1
            if ref >= 0 && off < lzfMaxOffset && byte(ref) == byte(ip) && byte(ref + 1) == byte(ip + 1) && byte(ref + 2) == byte(ip + 2) {
                let maxLen = Swift.min(n - ip, lzfMaxMatch)
                var len = 3
                while len < maxLen && byte(ref + len) == byte(ip + len) { len += 1 }
                // Close the literal run (or take back its unused control byte), then emit the reference.
                if op + 3 + 1 > outEnd { return 0 }
                if lit > 0 { out.storeBytes(of: UInt8(lit - 1), toByteOffset: op - lit - 1, as: UInt8.self) } else { op -= 1 }
                let l = len - 2
                if l < 7 {
                    out.storeBytes(of: UInt8((off >> 8) + (l << 5)), toByteOffset: op, as: UInt8.self)
                    op += 1
                } else {
                    out.storeBytes(of: UInt8((off >> 8) + (7 << 5)), toByteOffset: op, as: UInt8.self)
                    out.storeBytes(of: UInt8(l - 7), toByteOffset: op + 1, as: UInt8.self)
                    op += 2
                }
                out.storeBytes(of: UInt8(off & 0xff), toByteOffset: op, as: UInt8.self)
                op += 2  // and the next literal run's control byte
                lit = 0
                // Remember the positions inside the match too, for later matches.
                let end = ip + len
                ip += 1
                while ip < end {
                    if ip < n - 2 { table[slot(ip)] = Int32(ip) }
                    ip += 1
                }
                continue
            }
        }
        if op >= outEnd { return 0 }
        out.storeBytes(of: UInt8(byte(ip)), toByteOffset: op, as: UInt8.self)
        op += 1
        ip += 1
        lit += 1
        if lit == lzfMaxLiteral {
            out.storeBytes(of: UInt8(lit - 1), toByteOffset: op - lit - 1, as: UInt8.self)
            lit = 0
            op += 1
        }
    }
    if lit > 0 { out.storeBytes(of: UInt8(lit - 1), toByteOffset: op - lit - 1, as: UInt8.self) } else { op -= 1 }
    return op
}

/// Decompresses `input` into exactly `output.count` bytes; false when the stream is malformed or does
/// not produce exactly that many bytes. Every read and write is bounds-checked: the input is untrusted.
package func lzfDecompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
    guard let inp = input.baseAddress else { return output.count == 0 }
    guard let out = output.baseAddress else { return false }
    let n = input.count
    let outEnd = output.count
    var ip = 0
    var op = 0
    while ip < n {
        let ctrl = Int(inp.load(fromByteOffset: ip, as: UInt8.self))
        ip += 1
        if ctrl < 32 {
            let len = ctrl + 1
            if ip + len > n || op + len > outEnd { return false }
            (out + op).copyMemory(from: inp + ip, byteCount: len)
            ip += len
            op += len
        } else {
            var len = ctrl >> 5
            if len == 7 {
                if ip >= n { return false }
                len += Int(inp.load(fromByteOffset: ip, as: UInt8.self))
                ip += 1
            }
            if ip >= n { return false }
            let ref = op - ((ctrl & 0x1f) << 8) - 1 - Int(inp.load(fromByteOffset: ip, as: UInt8.self))
            ip += 1
            len += 2
            if ref < 0 || op + len > outEnd { return false }
            // Byte by byte: the source may overlap what this copy writes (runs).
            for i in 0..<len { out.storeBytes(of: out.load(fromByteOffset: ref + i, as: UInt8.self), toByteOffset: op + i, as: UInt8.self) }
            op += len
        }
    }
    return op == outEnd
}
