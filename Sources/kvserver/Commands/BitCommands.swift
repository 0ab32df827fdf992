import KVEngine
import RESP

// Bitmaps (Redis' bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP. Rows: CommandRows.swift.

/// SETBIT key offset value
func setbitCommand(_ c: Call) throws {
    let offset = try bitOffset(c, 2)
    guard let v = parseInt64(c[3]), v == 0 || v == 1 else { throw CommandError("ERR bit is not an integer or out of range") }
    c.reply.integer(try c.db.setBit(c[1], offset: offset, v == 1) ? 1 : 0)
}

/// GETBIT key offset
func getbitCommand(_ c: Call) throws {
    c.reply.integer(try c.db.getBit(c[1], offset: try bitOffset(c, 2)) ? 1 : 0)
}

/// BITCOUNT key [start end [BYTE | BIT]]
func bitcountCommand(_ c: Call) throws {
    var range: (Int64, Int64, Bool)? = nil
    do {
        if c.count == 4 || c.count == 5 {
            let start = try c.integer(2), end = try c.integer(3)
            // Two negative indexes the wrong way round count nothing, before the unit is read (as Redis).
            let empty = start < 0 && end < 0 && start > end
            range = (start, end, try c.count == 5 && !empty && unit(c, 4))
        } else if c.count != 2 {
            throw CommandError.syntax
        }
    } catch {
        // Redis looks the key up first: a missing key counts 0 whatever follows it.
        return try replyIfMissing(c, error, missing: 0)
    }
    c.reply.integer(try c.db.bitCount(c[1], range: range))
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
func bitposCommand(_ c: Call) throws {
    guard let b = parseInt64(c[2]) else { throw CommandError.notAnInteger }
    guard b == 0 || b == 1 else { throw CommandError("ERR The bit argument must be 1 or 0.") }
    // Redis looks the key up before it reads the range (or counts the arguments): a missing key or another
    // type answers first.
    var start: Int64? = nil, end: Int64? = nil, bits = false
    do {
        guard c.count <= 6 else { throw CommandError.syntax }
        if c.count >= 4 { start = try c.integer(3) }
        if c.count == 6 { bits = try unit(c, 5) }
        if c.count >= 5 { end = try c.integer(4) }
    } catch {
        return try replyIfMissing(c, error, missing: b == 1 ? -1 : 0)
    }
    c.reply.integer(try c.db.bitPosition(c[1], bit: b == 1, start: start, end: end, bits: bits))
}

/// BITOP <AND | OR | XOR | NOT> destkey key [key ...]
func bitopCommand(_ c: Call) throws {
    let operation: BitOperation
    if c.argument(1, is: "and") { operation = .and }
    else if c.argument(1, is: "or") { operation = .or }
    else if c.argument(1, is: "xor") { operation = .xor }
    else if c.argument(1, is: "not") { operation = .not }
    else { throw CommandError.syntax }
    if operation == .not && c.count != 4 { throw CommandError("ERR BITOP NOT must be called with a single source key.") }
    c.reply.integer(try c.db.bitOperation(operation, destination: c[2], sources: c.keys(from: 3)))
}

/// A malformed argument of a command that, in Redis, looks its key up before reading the rest: answers
/// `missing` for a missing key, throws WRONGTYPE for another type, else `error`.
private func replyIfMissing(_ c: Call, _ error: any Error, missing: Int64) throws {
    guard try c.lookUpFirst(1, expecting: .string) else { return c.reply.integer(missing) }
    throw error
}

/// A bit offset: a non-negative integer whose byte is within proto-max-bulk-len.
private func bitOffset(_ c: Call, _ i: Int) throws(CommandError) -> Int {
    guard let n = parseInt64(c[i]), n >= 0, n >> 3 < Int64(c.db.maxValueSize) else {
        throw CommandError("ERR bit offset is not an integer or out of range")
    }
    return Int(n)
}

/// BYTE or BIT: true for BIT.
private func unit(_ c: Call, _ i: Int) throws(CommandError) -> Bool {
    if c.argument(i, is: "bit") { return true }
    if c.argument(i, is: "byte") { return false }
    throw .syntax
}

/// BITFIELD key [GET type offset | [OVERFLOW WRAP|SAT|FAIL] SET type offset value | [OVERFLOW ...] INCRBY
/// type offset increment ...]: every operation parsed first (Redis' errors), then run in order.
func bitfieldCommand(_ c: Call) throws { try bitfield(c, readOnly: false) }

/// BITFIELD_RO key [GET type offset ...]
func bitfield_roCommand(_ c: Call) throws { try bitfield(c, readOnly: true) }

private func bitfield(_ c: Call, readOnly: Bool) throws {
    var ops: [BitfieldOperation] = []
    var overflow = BitfieldOperation.Overflow.wrap
    var j = 2
    while j < c.count {
        let left = c.count - j - 1
        if c.argument(j, is: "get") && left >= 2 {
            let (signed, bits) = try bitfieldType(c, j + 1)
            ops.append(BitfieldOperation(kind: .get, signed: signed, bits: bits, offset: try bitfieldOffset(c, j + 2, bits), overflow: overflow))
            j += 3
        } else if (c.argument(j, is: "set") || c.argument(j, is: "incrby")) && left >= 3 {
            let (signed, bits) = try bitfieldType(c, j + 1)
            let offset = try bitfieldOffset(c, j + 2, bits)
            let v = try c.integer(j + 3)
            ops.append(BitfieldOperation(kind: c.argument(j, is: "set") ? .set(v) : .incrBy(v), signed: signed, bits: bits, offset: offset, overflow: overflow))
            j += 4
        } else if c.argument(j, is: "overflow") && left >= 1 {
            if c.argument(j + 1, is: "wrap") { overflow = .wrap } else if c.argument(j + 1, is: "sat") { overflow = .saturate }
            else if c.argument(j + 1, is: "fail") { overflow = .fail } else { throw CommandError("ERR Invalid OVERFLOW type specified") }
            j += 2
        } else {
            throw CommandError.syntax
        }
    }
    // Checked once every operation has parsed, as Redis does.
    if readOnly && ops.contains(where: { $0.kind != .get }) { throw CommandError("ERR BITFIELD_RO only supports the GET subcommand") }
    let results = try c.db.bitfield(c[1], ops)
    c.reply.arrayHeader(results.count)
    for r in results {
        if let r { c.reply.integer(r) } else { c.reply.null() }
    }
}

/// `i1`...`i64` or `u1`...`u63` (lower case only, as Redis).
private func bitfieldType(_ c: Call, _ i: Int) throws -> (signed: Bool, bits: Int) {
    let t = c[i]
    let invalid = CommandError("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
    guard t.count >= 2, t[0] == UInt8(ascii: "i") || t[0] == UInt8(ascii: "u"),
          let bits = parseInt64(UnsafeRawBufferPointer(rebasing: t[1...])) else { throw invalid }
    let signed = t[0] == UInt8(ascii: "i")
    guard bits >= 1, bits <= (signed ? 64 : 63) else { throw invalid }
    return (signed, Int(bits))
}

/// A bit offset: `N`, or `#N` for N times the type's width; within proto-max-bulk-len.
private func bitfieldOffset(_ c: Call, _ i: Int, _ bits: Int) throws -> Int {
    let a = c[i]
    let hash = a.count > 0 && a[0] == UInt8(ascii: "#")
    let error = CommandError("ERR bit offset is not an integer or out of range")
    guard let n = parseInt64(hash ? UnsafeRawBufferPointer(rebasing: a[1...]) : a) else { throw error }
    let (offset, over) = hash ? n.multipliedReportingOverflow(by: Int64(bits)) : (n, false)
    guard !over, offset >= 0, offset >> 3 < Int64(c.db.maxValueSize) else { throw error }
    return Int(offset)
}
