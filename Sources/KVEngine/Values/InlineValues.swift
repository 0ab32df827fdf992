// Inline values: a small hash, set, list or sorted set kept in its entry's value bytes, not in an object
// of its own.
//
// A hash or set in a compact form (listpack, intset) is a few dozen bytes of elements. As an object it
// also costs the Swift object (its header and fields, a 64-byte allocation) and its buffer's array header
// and allocation rounding: about 100 bytes per value, which for a set of ten small integers is most of it
// (measured: 19 bytes per member by RSS against Redis' 13). Inline, the entry holds the encoding itself,
// as it holds a string's bytes: the entry's flags say which type, and the inline bit (Entry.swift) says the
// value bytes are the encoding rather than an object's reference.
//
// The encoding: byte 0 the form, then
//   1 intset      byte 1 the member width (2, 4 or 8), then the members, little-endian, in order
//   2 listpack    bytes 1-2 the element count (UInt16 little-endian), then the listpack's bytes (a hash's
//                 fields and values, a set's members, a sorted set's members and scores)
//   3 list        bytes 1-2 the element count (UInt16 little-endian), then its one node's bytes
//                 (ListObject.swift)
//   4 prefixed    bytes 1-2 the element count, byte 3 the stride (2 for a hash's or sorted set's pairs, 1
//                 for a set's members), then the listpack's elements front-coded (FrontCoding.swift):
//                 used instead of 2 when it is smaller
//   5 packed      bytes 1-2 the element count, byte 3 the stride, then the listpack's elements with those
//                 made of digits or URL-safe symbols in 4 or 6 bits each, and a column's headers (a hash's
//                 fields, its values) stored once when all are one (SymbolPacking.swift): used instead of 2
//                 or 4 when smaller than both
//
// Reads decode the value into a new object (`StoredValue.object`; a point read of one element finds it in
// the bytes instead, `findInline`, and a count reads the header, `inlineCount`), changes are made to that
// object and stored back (`EntryEditor.modifyObjectIfChanged`; HSET of one field, HINCRBY and SADD of one
// member edit the value in its bytes instead, InlineEdits.swift, as ZADD of one member does for sorted sets,
// InlineSortedSetEdits.swift, and HDEL, SREM and ZREM of one element, ZREMRANGEBY* and the pops do,
// InlineRemovals.swift), and storing any hash or set (`setObject`) inlines it when its compact form is at
// most `inlineValueLimit` bytes: decoding costs a copy of at most that much.
// A value that grows past the limit, or into its map form, becomes an object; one that shrinks stays one.
// A list is inline while it is one node of at most that size.
// An inline value owns nothing outside its entry, so freeing, moving and snapshotting it are a string's.

/// The largest inline encoding: a value whose compact form is larger is an object.
let inlineValueLimit = 512

enum InlineForm: UInt8 { case intset = 1, listpack = 2, list = 3, prefixed = 4, packed = 5 }

/// An inline encoding's size in bytes and its form: what `StoredObject.inlineSize` decides, so that
/// `writeInline` writes that form without weighing the forms again. (Making the packed form here and
/// keeping it, rather than counting it and then making it, measured more instructions: its allocation.)
struct InlineSize {
    let count: Int
    let form: InlineForm
    /// The packed form's columns (`packedCount`).
    var columns = PackedColumns()
}

/// The object an inline encoding describes (a new one).
func decodeInlineValue(_ type: ValueType, _ raw: UnsafeRawBufferPointer) -> StoredObject {
    let form = InlineForm(rawValue: raw[0])
    switch type {
    case .list:
        var node = ListNode()
        node.bytes = Array(raw[3...])
        node.count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
        return ListObject(node: node)
    case .set:
        let s = SetObject()
        if form == .intset {
            s.ints = IntSet(width: Int(raw[1]), raw: UnsafeRawBufferPointer(rebasing: raw[2...]))
        } else {
            s.isIntset = false
            s.packed = inlineListpack(raw)
        }
        return s
    case .zset:
        let z = SortedSetObject()
        z.packed = inlineListpack(raw)
        return z
    default:
        let h = HashObject()
        h.packed = inlineListpack(raw)
        return h
    }
}

func inlineListpack(_ raw: UnsafeRawBufferPointer) -> Listpack {
    let count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
    if raw[0] == InlineForm.packed.rawValue {
        guard let packed = decodePacked(UnsafeRawBufferPointer(rebasing: raw[3...]), count: count) else {
            preconditionFailure("a malformed symbol-packed inline value")
        }
        return packed
    }
    if raw[0] == InlineForm.prefixed.rawValue {
        guard let packed = decodeFrontCoded(UnsafeRawBufferPointer(rebasing: raw[4...]), count: count, stride: Int(raw[3])) else {
            preconditionFailure("a malformed front-coded inline value")
        }
        return packed
    }
    return Listpack(raw: UnsafeRawBufferPointer(rebasing: raw[3...]), count: count)
}

/// The inline encoding's size for a listpack (whose elements go in groups of `stride`: 2 for a hash's
/// or sorted set's pairs): the smallest of the plain, front-coded and symbol-packed forms. Nil when the
/// plain form is over the limit: the other forms make values smaller, not inline for longer, so that a
/// write's decoding and encoding stay bounded by what they were (a hash inline up to ~100 fields thanks to
/// its prefixes would decode and re-encode them all on every HSET).
func inlineSize(of packed: Listpack, stride: Int) -> InlineSize? {
    let plain = 3 + packed.bytes.count
    guard plain <= inlineValueLimit, packed.count <= Int(UInt16.max) else { return nil }
    var best = InlineSize(count: plain, form: .listpack)
    let prefixed = 4 + packed.frontCodedCount(stride: stride)
    if prefixed < best.count { best = InlineSize(count: prefixed, form: .prefixed) }
    // The packed form keeps at least half of each element's bytes (which are the plain form's less at most
    // two header bytes each) behind at least two bytes of stride and columns, so a value front-coded to
    // less (numbered names) is not classified byte by byte.
    if best.count > 5 + (packed.bytes.count - 2 * packed.count) / 2 {
        let (symbols, columns) = packed.packedCount(stride: stride)
        if 3 + symbols < best.count { best = InlineSize(count: 3 + symbols, form: .packed, columns: columns) }
    }
    return best
}

/// Writes the `size.count` bytes `inlineSize(of: packed, stride: stride)` returned at `p`, in its form.
func writeInline(_ packed: Listpack, stride: Int, _ size: InlineSize, to p: UnsafeMutableRawPointer) {
    p.storeBytes(of: size.form.rawValue, as: UInt8.self)
    p.storeBytes(of: UInt16(packed.count), toByteOffset: 1, as: UInt16.self)
    switch size.form {
    case .prefixed:
        p.storeBytes(of: UInt8(stride), toByteOffset: 3, as: UInt8.self)
        packed.writeFrontCoded(stride: stride, to: p + 4)
    case .packed:
        _ = packed.writePacked(stride: stride, size.columns, to: p + 3)
    default:
        packed.bytes.withUnsafeBytes { copyBytes(to: p + 3, from: $0.baseAddress, count: $0.count) }
    }
}

/// What a point read found in an inline value (`findInline`): the needle missing, or found with the
/// element after it (a hash field's value, a sorted-set member's score; empty for a set's member).
enum InlineMatch: Equatable {
    case missing
    case found([UInt8])
}

/// Looks `needle` up among an inline listpack's elements at indices that are multiples of `stride`, in the
/// encoding's bytes: a point read of a small hash, set or sorted set (HGET, HEXISTS, SISMEMBER, ZSCORE)
/// decodes no object. Nil for the forms read by decoding (intset, list) and for malformed bytes (the
/// decoder reports them).
func findInline(_ raw: UnsafeRawBufferPointer, _ needle: UnsafeRawBufferPointer, stride: Int) -> InlineMatch? {
    guard raw.count >= 3 else { return nil }
    switch InlineForm(rawValue: raw[0]) {
    case .packed:
        let count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
        return findPacked(UnsafeRawBufferPointer(rebasing: raw[3...]), count: count, needle, stride: stride)
    case .listpack: return findPlain(UnsafeRawBufferPointer(rebasing: raw[3...]), needle, stride: stride)
    case .prefixed:
        guard raw.count >= 4, Int(raw[3]) == stride else { return nil }
        let elements = UnsafeRawBufferPointer(rebasing: raw[4...])
        let count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
        if stride == 2 { return findFrontCoded(elements, count: count, needle) }
        var shared = 0
        return locateFrontCodedKey(elements, count: count, needle, stride: 1, lastShared: &shared).map { $0.found == nil ? .missing : .found([]) }
    default: return nil
    }
}

/// Whether `findInline` searches this inline encoding's form, for lookups at multiples of `stride`.
func inlineIsSearchable(_ raw: UnsafeRawBufferPointer, stride: Int) -> Bool {
    switch InlineForm(rawValue: raw[0]) {
    case .listpack: return raw.count >= 3
    case .prefixed, .packed: return raw.count >= 4 && Int(raw[3]) == stride
    default: return false
    }
}

/// `findInline` in the plain form's elements.
private func findPlain(_ raw: UnsafeRawBufferPointer, _ needle: UnsafeRawBufferPointer, stride: Int) -> InlineMatch? {
    guard let input = raw.baseAddress else { return .missing }
    var i = 0, n = 0
    func next() -> (start: Int, length: Int)? {
        guard let length = loadVarint(input, &i, raw.count), length <= raw.count - i else { return nil }
        defer { i += length }
        return (i, length)
    }
    while i < raw.count {
        guard let (start, length) = next() else { return nil }
        if n % stride == 0 && length == needle.count && bytesEqual(input + start, needle.baseAddress, length) {
            guard stride == 2 else { return .found([]) }
            guard let (valueStart, valueLength) = next() else { return nil }
            return .found(Array(UnsafeRawBufferPointer(start: input + valueStart, count: valueLength)))
        }
        n += 1
    }
    return .missing
}

func writeInline(_ ints: IntSet, to p: UnsafeMutableRawPointer) {
    p.storeBytes(of: InlineForm.intset.rawValue, as: UInt8.self)
    p.storeBytes(of: UInt8(ints.width), toByteOffset: 1, as: UInt8.self)
    ints.raw.withUnsafeBytes { copyBytes(to: p + 2, from: $0.baseAddress, count: $0.count) }
}

/// How many elements (a hash's fields, a set's or sorted set's members, a list's elements) the inline encoding
/// `raw` of a `type` value holds, read from its header: HLEN, SCARD, ZCARD and LLEN decode nothing.
func inlineCount(_ type: ValueType, _ raw: UnsafeRawBufferPointer) -> Int {
    if raw[0] == InlineForm.intset.rawValue { return (raw.count - 2) / Int(raw[1]) }
    let count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
    return type == .hash || type == .zset ? count / 2 : count
}

/// VERIFY: whether an inline encoding's header is sound for `type` (the elements are checked by the
/// decoded object's own verify).
func inlineValueIsWellFormed(_ type: ValueType, _ raw: UnsafeRawBufferPointer) -> Bool {
    guard raw.count >= 2, raw.count <= inlineValueLimit, let form = InlineForm(rawValue: raw[0]) else { return false }
    switch form {
    case .intset:
        let w = Int(raw[1])
        return type == .set && (w == 2 || w == 4 || w == 8) && (raw.count - 2) % w == 0
    case .listpack:
        return (type == .set || type == .hash || type == .zset) && raw.count >= 3
    case .prefixed:
        let stride = type == .set ? 1 : 2
        return (type == .set || type == .hash || type == .zset) && raw.count >= 4 && raw[3] == stride
            && decodeFrontCoded(UnsafeRawBufferPointer(rebasing: raw[4...]),
                                count: Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self)), stride: stride) != nil
    case .packed:
        return (type == .set || type == .hash || type == .zset) && raw.count >= 4 && raw[3] == (type == .set ? 1 : 2)
            && decodePacked(UnsafeRawBufferPointer(rebasing: raw[3...]),
                            count: Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))) != nil
    case .list:
        return type == .list && raw.count >= 3
    }
}

// Test hooks (FrontCodingTests, SymbolPackingTests): the inline encoding of a listpack of `elements`, and
// the elements an inline encoding holds (nil when VERIFY would reject it).

package func inlineEncoding(ofListpack elements: [[UInt8]], stride: Int) -> [UInt8] {
    var packed = Listpack()
    for e in elements { e.withUnsafeBytes { packed.append($0) } }
    let size = inlineSize(of: packed, stride: stride)!, n = size.count
    // Eight guard bytes past the size `inlineSize` promised: the writer must not touch them.
    var out = [UInt8](repeating: 0xA5, count: n + 8)
    out.withUnsafeMutableBytes { writeInline(packed, stride: stride, size, to: $0.baseAddress!) }
    precondition(out[n...].allSatisfy { $0 == 0xA5 }, "writeInline wrote past inlineSize")
    return Array(out[..<n])
}

package func inlineListpackElements(_ raw: [UInt8], type: ValueType) -> [[UInt8]]? {
    raw.withUnsafeBytes { r -> [[UInt8]]? in
        guard inlineValueIsWellFormed(type, r),
              [InlineForm.listpack, .prefixed, .packed].contains(where: { $0.rawValue == r[0] }) else {
            return nil
        }
        let packed = inlineListpack(r)
        return packed.verify() == nil ? packed.elements : nil
    }
}

/// `findInline` on an encoding: nil when the form is read by decoding, .some(nil) when `needle` is missing,
/// else the element after it (empty for stride 1).
package func inlineLookup(_ raw: [UInt8], _ needle: [UInt8], stride: Int) -> [UInt8]?? {
    raw.withUnsafeBytes { r in
        needle.withUnsafeBytes { n in
            switch findInline(r, n, stride: stride) {
            case nil: return .none
            case .missing?: return .some(nil)
            case .found(let next)?: return .some(next)
            }
        }
    }
}
