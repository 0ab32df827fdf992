// Edits of inline values in their bytes: HSET of one field and SADD of one member on a small hash or set
// kept in its entry (InlineValues.swift).
//
// The general way to change an inline value decodes it into an object, changes that, weighs the three
// forms again and encodes the winner: on 100k hashes of about ten numbered fields, 40% of an HSET's
// profile (perf) was that round trip, and small hashes cost the server as much CPU per HSET as Redis.
// Here the encoding is read where it is, the element looked up as a point read looks it up, and the new
// encoding written once into a buffer on the stack: the old bytes with the field's new value spliced in,
// or with the new elements appended, each in the value's present form. The key's entry then takes the
// new bytes as any inline value is stored (`EntryEditor.setInlineEncoding`), so the snapshot, the
// memory accounting, WATCH and notifications see an ordinary write.
//
// The edit declines (nil: the caller takes the general way, which gets every case right) when:
//   - the form is not the plain or the packed one (front-coded values, intsets, lists, sorted sets);
//   - the result would leave the listpack range Redis' thresholds allow (one element too many, or one
//     longer than the value limit: the general way converts the value), or the plain form would pass
//     `inlineValueLimit` (the value becomes an object);
//   - a packed column shares a header the new element does not have, or the result, no longer the
//     smallest form, would pass `inlineValueLimit`;
//   - the append would make the element count a power of two or a multiple of 16: the general way weighs
//     the forms again, so a value built up one field at a time is stored about as it would have been if
//     written at once. (Multiples of 16 alone left sets of ten prefixed members in the form their first
//     member chose: 7% more memory for 100k hashes and 100k sets built by one-element writes.)
// A replaced value keeps the form, and the value's order is Redis' (a replaced field keeps its place, a
// new one goes last).

/// Where an edit's element lies in an inline encoding's elements, and what they add up to (`locatePlain`,
/// `locatePacked`).
struct InlineLocation {
    /// The packed form's columns (0s for the plain form: every element has its own header).
    var columns: PackedColumns
    /// The bytes the elements would take in the plain form: what decides whether the value is inline.
    var plainBytes = 0
    /// Found at stride 2: the bytes of the element after the needle (the field's value), its own header
    /// included; at stride 1, an empty range where the needle is. Nil when the needle is missing.
    var found: Range<Int>? = nil
    /// The found value's length, decoded.
    var foundLength = 0
}

/// What `editInline` did.
enum InlineEdit {
    /// The member was there already (SADD): nothing to store.
    case unchanged
    /// The new encoding, `count` bytes, is in the buffer; `added` whether the element is new.
    case written(count: Int, added: Bool)
}

/// The room `editInline` needs at `out`: the new encoding is checked against `inlineValueLimit` only once
/// written, and a packed header is at most one byte longer than the plain one.
let inlineEditBufferSize = 2 * inlineValueLimit + 16

/// HSET of `element` to `value` (stride 2) or SADD of `element` (stride 1, `value` empty) in the inline
/// encoding `raw`, the new encoding written to `out` (`inlineEditBufferSize` bytes); nil when the caller must
/// take the general way (above). `maxEntries` counts pairs for stride 2, as Redis' hash thresholds do.
func editInline(
    _ raw: UnsafeRawBufferPointer, stride: Int, _ element: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
    maxEntries: Int, maxValue: Int, to out: UnsafeMutableRawPointer
) -> InlineEdit? {
    guard raw.count >= 4, element.count <= maxValue, value.count <= maxValue else { return nil }
    let count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
    let body = UnsafeRawBufferPointer(rebasing: raw[3...])
    let packed: Bool
    let location: InlineLocation
    switch InlineForm(rawValue: raw[0]) {
    case .listpack:
        packed = false
        guard let l = locatePlain(body, count: count, element, stride: stride) else { return nil }
        location = l
    case .packed:
        packed = true
        guard let l = locatePacked(body, count: count, element, stride: stride) else { return nil }
        location = l
    default:
        return nil
    }
    /// Writes `e` at `p` as the form stores it in the column whose `c` is `column`.
    func store(_ e: UnsafeRawBufferPointer, column: Int, at p: UnsafeMutableRawPointer) -> Int? {
        packed ? storePackedElement(e, column: column, to: p) : storeLengthPrefixed(e, at: p)
    }
    let plainSize = { (e: UnsafeRawBufferPointer) in varintSize(e.count) + e.count }
    var at: Int
    if let found = location.found {
        guard stride == 2 else { return .unchanged }
        let plain = location.plainBytes - varintSize(location.foundLength) - location.foundLength + plainSize(value)
        guard 3 + plain <= inlineValueLimit else { return nil }
        copyBytes(to: out, from: raw.baseAddress, count: 3 + found.lowerBound)
        at = 3 + found.lowerBound
        guard let k = store(value, column: location.columns.second, at: out + at) else { return nil }
        at += k
        let rest = body.count - found.upperBound
        guard at + rest <= inlineValueLimit else { return nil }
        copyBytes(to: out + at, from: body.baseAddress! + found.upperBound, count: rest)
        return .written(count: at + rest, added: false)
    }
    let n = count + stride
    guard count / stride + 1 <= maxEntries, n & (n - 1) != 0, n % 16 != 0 else { return nil }
    let plain = location.plainBytes + plainSize(element) + (stride == 2 ? plainSize(value) : 0)
    guard 3 + plain <= inlineValueLimit else { return nil }
    copyBytes(to: out, from: raw.baseAddress, count: raw.count)
    out.storeBytes(of: UInt16(count + stride), toByteOffset: 1, as: UInt16.self)
    at = raw.count
    guard let k = store(element, column: location.columns.first, at: out + at) else { return nil }
    at += k
    if stride == 2 {
        guard let k = store(value, column: location.columns.second, at: out + at) else { return nil }
        at += k
    }
    return at <= inlineValueLimit ? .written(count: at, added: true) : nil
}

/// `locatePacked` for the plain form's elements: a varint length, then the bytes.
private func locatePlain(_ raw: UnsafeRawBufferPointer, count: Int, _ needle: UnsafeRawBufferPointer, stride: Int) -> InlineLocation? {
    var location = InlineLocation(columns: PackedColumns())
    location.plainBytes = raw.count
    guard let input = raw.baseAddress else { return count == 0 ? location : nil }
    var i = 0, matched = false
    for n in 0..<count {
        let start = i
        guard let length = loadVarint(input, &i, raw.count), length <= raw.count - i else { return nil }
        defer { i += length }
        if matched {
            location.found = start..<(i + length)
            location.foundLength = length
            return location
        }
        if n % stride == 0 && length == needle.count && bytesEqual(input + i, needle.baseAddress, length) {
            if stride == 1 {
                location.found = start..<start
                return location
            }
            matched = true
        }
    }
    return i == raw.count && !matched ? location : nil
}

// Test hook (InlineEditTests): `editInline` on an encoding; nil when it declines, else the new encoding
// (the old one when unchanged) and whether the element was added.
package func inlineEdited(
    _ raw: [UInt8], stride: Int, _ element: [UInt8], _ value: [UInt8], maxEntries: Int, maxValue: Int
) -> (encoding: [UInt8], added: Bool)? {
    var out = [UInt8](repeating: 0, count: inlineEditBufferSize)
    let edit = raw.withUnsafeBytes { r in
        element.withUnsafeBytes { e in
            value.withUnsafeBytes { v in
                out.withUnsafeMutableBytes { editInline(r, stride: stride, e, v, maxEntries: maxEntries, maxValue: maxValue, to: $0.baseAddress!) }
            }
        }
    }
    switch edit {
    case nil: return nil
    case .unchanged?: return (raw, false)
    case .written(let count, let added)?: return (Array(out[..<count]), added)
    }
}
