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
//
// Reads decode the value into a new object (`StoredValue.object`), changes are made to that object and
// stored back (`EntryEditor.modifyObjectIfChanged`), and storing any hash or set (`setObject`) inlines it
// when its compact form is at most `inlineValueLimit` bytes: decoding costs a copy of at most that much.
// A value that grows past the limit, or into its map form, becomes an object; one that shrinks stays one.
// A list is inline while it is one node of at most that size.
// An inline value owns nothing outside its entry, so freeing, moving and snapshotting it are a string's.

/// The largest inline encoding: a value whose compact form is larger is an object.
let inlineValueLimit = 512

enum InlineForm: UInt8 { case intset = 1, listpack = 2, list = 3, prefixed = 4 }

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
    if raw[0] == InlineForm.prefixed.rawValue {
        guard let packed = decodeFrontCoded(UnsafeRawBufferPointer(rebasing: raw[4...]), count: count, stride: Int(raw[3])) else {
            preconditionFailure("a malformed front-coded inline value")
        }
        return packed
    }
    return Listpack(raw: UnsafeRawBufferPointer(rebasing: raw[3...]), count: count)
}

/// The inline encoding's size for a listpack (whose elements go in groups of `stride`: 2 for a hash's
/// or sorted set's pairs): the front-coded form's when smaller than the plain one's. Nil when the plain
/// form is over the limit: front coding makes values smaller, not inline for longer, so that a write's
/// decoding and encoding stay bounded by what they were (a hash inline up to ~100 fields thanks to its
/// prefixes would decode and re-encode them all on every HSET).
func inlineCount(of packed: Listpack, stride: Int) -> Int? {
    let plain = 3 + packed.bytes.count
    guard plain <= inlineValueLimit, packed.count <= Int(UInt16.max) else { return nil }
    return Swift.min(plain, 4 + packed.frontCodedCount(stride: stride))
}

/// Writes the `n` bytes `inlineCount(of: packed, stride: stride)` promised at `p`: the front-coded form
/// when it was the smaller.
func writeInline(_ packed: Listpack, stride: Int, count n: Int, to p: UnsafeMutableRawPointer) {
    p.storeBytes(of: UInt16(packed.count), toByteOffset: 1, as: UInt16.self)
    if n < 3 + packed.bytes.count {
        p.storeBytes(of: InlineForm.prefixed.rawValue, as: UInt8.self)
        p.storeBytes(of: UInt8(stride), toByteOffset: 3, as: UInt8.self)
        packed.writeFrontCoded(stride: stride, to: p + 4)
    } else {
        p.storeBytes(of: InlineForm.listpack.rawValue, as: UInt8.self)
        packed.bytes.withUnsafeBytes { copyBytes(to: p + 3, from: $0.baseAddress, count: $0.count) }
    }
}

func writeInline(_ ints: IntSet, to p: UnsafeMutableRawPointer) {
    p.storeBytes(of: InlineForm.intset.rawValue, as: UInt8.self)
    p.storeBytes(of: UInt8(ints.width), toByteOffset: 1, as: UInt8.self)
    ints.raw.withUnsafeBytes { copyBytes(to: p + 2, from: $0.baseAddress, count: $0.count) }
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
    case .list:
        return type == .list && raw.count >= 3
    }
}
