import RESP

// Edits of inline values in their bytes: HSET and HINCRBY of one field and SADD of one member on a small
// hash or set kept in its entry (InlineValues.swift).
//
// The general way to change an inline value decodes it into an object, changes that, weighs the three
// forms again and encodes the winner: on 100k hashes of about ten numbered fields, 40% of an HSET's
// profile (perf) was that round trip, and small hashes cost the server as much CPU per HSET as Redis.
// Here the encoding is read where it is, the element looked up as a point read looks it up, and the new
// encoding written once into a buffer on the stack: the old bytes with the field's new value spliced in,
// or with the new elements appended, each in the value's present form (plain, packed, or front-coded
// against the last element of its column: the walk measures the prefix the last key shares with the new one
// without rebuilding any key, and a hash's leaves its last value rebuilt on the stack). The key's entry
// then takes the new bytes as any inline value is stored (`EntryEditor.setInlineEncoding`), so the
// snapshot, the memory accounting, WATCH and notifications see an ordinary write. An intset's new member
// goes in at its place, found by binary search (`addIntsetMember`): SADD of an integer to a set of ten cost
// 6,696 instructions the general way, against Redis' 4,513.
//
// The edit declines (nil: the caller takes the general way, which gets every case right) when:
//   - the value is not a listpack in one of its three forms or an intset (lists, sorted sets); for an
//     intset, when the member changes its form or width or passes a limit (`addIntsetMember`);
//   - the result would leave the listpack range Redis' thresholds allow (one element too many, or one
//     longer than the value limit: the general way converts the value), or the plain form would pass
//     `inlineValueLimit` (the value becomes an object);
//   - a packed column shares a header the new element does not have, or the result, no longer the
//     smallest form, would pass `inlineValueLimit`;
//   - the append would make the element count a power of two or a multiple of 16: the general way weighs
//     the forms again, so a value built up one field at a time is stored about as it would have been if
//     written at once. (Multiples of 16 alone left sets of ten prefixed members in the form their first
//     member chose: 7% more memory for 100k hashes and 100k sets built by one-element writes.) A value
//     already front-coded or packed, past 4 elements, keeps its form there if it stays smaller than the
//     plain form: the form its first elements chose is kept, and a hash of ten fields built one at a time
//     goes the general way twice, not four times.
// A replaced value keeps the form, and the value's order is Redis' (a replaced field keeps its place, a
// new one goes last). In the front-coded form the next value in the replaced one's column is coded again
// against the new one (`spliceFrontCodedValue`): declining there sent HSET and HINCRBY of a field already
// in a hash of numbered fields the general way, 34,884 instructions a request against Redis' 9,003.

/// Where an edit's element lies in an inline encoding's elements, and what they add up to (`locatePlain`,
/// `locatePacked`, `locateFrontCoded`).
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
    /// The found group's bytes: the needle's element and, at stride 2, the element after it.
    var group: Range<Int>? = nil
    /// Front-coded, at stride 2, when found (`locateFrontCoded` with a `column`): the length of the value
    /// before the found one in its column (0 for the first), and the bytes and length of the value after it.
    var columnBefore = 0
    var columnAfter: (bytes: Range<Int>, length: Int)? = nil
    /// Front-coded, when found by `locateFrontCodedKey`: where the group before it begins (nil for the first).
    var groupBefore: Int? = nil
    /// The walk stopped once the element was found (and, front-coded, the next value in its column read):
    /// `plainBytes` counts the elements up to there only (`locateForEdit`).
    var partial = false
}

/// What `editInline` did.
enum InlineEdit {
    /// The member was there already (SADD): nothing to store.
    case unchanged
    /// The new encoding, `count` bytes, is in the buffer; `added` whether the element is new.
    case written(count: Int, added: Bool)
}

/// The room `editInline` has at `out`. The new encoding is checked against `inlineValueLimit` once written;
/// before that it is at most the old encoding (at most the limit) and the new elements, each at most 3
/// bytes more than its plain form, which fits the limit (`splice` checks the sum before writing). At most
/// 1 KiB, so that `withUnsafeTemporaryAllocation` keeps it on the stack (above, it calls malloc:
/// callgrind showed a malloc and free per edit at 1040 bytes).
let inlineEditBufferSize = 2 * inlineValueLimit

/// HSET of `element` to `value` (stride 2) or SADD of `element` (stride 1, `value` empty) in the inline
/// encoding `raw`, the new encoding written to `out` (`inlineEditBufferSize` bytes); nil when the caller must
/// take the general way (above). `maxEntries` counts pairs for stride 2, as Redis' hash thresholds do;
/// `maxIntsetEntries` is an intset's (`set-max-intset-entries`).
func editInline(
    _ raw: UnsafeRawBufferPointer, stride: Int, _ element: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
    maxEntries: Int, maxValue: Int, maxIntsetEntries: Int = 0, to out: UnsafeMutableRawPointer
) -> InlineEdit? {
    if raw.count >= 4 && raw[0] == InlineForm.intset.rawValue {
        return stride == 1 ? addIntsetMember(raw, element, maxEntries: maxIntsetEntries, to: out) : nil
    }
    guard raw.count >= 4, element.count <= maxValue, value.count <= maxValue else { return nil }
    return locateForEdit(raw, stride: stride, element, maxEntries: maxEntries, readingOld: false, to: out) { _, splice in splice(value) }
}

/// HINCRBY of `field` by `delta` in the inline hash `raw`, in one walk: the field located as `editInline`
/// locates it, its value read where the walk found it and the sum spliced in, written to `out`; `sum` is
/// set to the new value. Nil when the general way must answer: a value that is not an integer or a sum that
/// overflows (it raises the error), and wherever `editInline` declines. (A lookup and then an edit walked
/// the value twice: 7,119 instructions a request, 6,166 in one walk, Redis 7,178.)
func incrementInline(
    _ raw: UnsafeRawBufferPointer, _ field: UnsafeRawBufferPointer, by delta: Int64, maxEntries: Int, maxValue: Int,
    to out: UnsafeMutableRawPointer, sum: inout Int64
) -> InlineEdit? {
    guard raw.count >= 4, field.count <= maxValue else { return nil }
    return locateForEdit(raw, stride: 2, field, maxEntries: maxEntries, readingOld: true, to: out) { old, splice in
        var current: Int64 = 0
        if let old {
            guard let v = parseInt64(old) else { return nil }
            current = v
        }
        let (s, overflow) = current.addingReportingOverflow(delta)
        guard !overflow else { return nil }
        sum = s
        return withUnsafeTemporaryAllocation(byteCount: 24, alignment: 1) { text -> InlineEdit? in
            let value = UnsafeRawBufferPointer(start: text.baseAddress, count: writeDecimal(s, into: text.baseAddress!))
            return value.count <= maxValue ? splice(value) : nil  // longer: the hash converts
        }
    }
}

/// Locates `element` in the listpack `raw` in whichever of its three forms, then calls `body` with the
/// found element's value (stride 2, when `readingOld`: read where the walk left it) and the splice that
/// writes the edit with a given value to `out`. Nil when `raw` is malformed or not a listpack of `stride`.
///
/// The walk stops at a found element (`stopAfterFound`): a replaced value no longer than the old one
/// cannot take the value past the inline limit, so the elements after it need not be read, and a member
/// already in a set needs nothing after it. A longer value needs the size of every element: the walk
/// is taken again, whole.
@inline(__always)
private func locateForEdit(
    _ raw: UnsafeRawBufferPointer, stride: Int, _ element: UnsafeRawBufferPointer, maxEntries: Int, readingOld: Bool,
    to out: UnsafeMutableRawPointer,
    _ body: (_ old: UnsafeRawBufferPointer?, _ splice: (_ value: UnsafeRawBufferPointer) -> InlineEdit?) -> InlineEdit?
) -> InlineEdit? {
    var grew = false
    let edit = locateOnce(raw, stride: stride, element, maxEntries: maxEntries, readingOld: readingOld, stopAfterFound: true, grew: &grew, to: out, body)
    guard grew else { return edit }
    return locateOnce(raw, stride: stride, element, maxEntries: maxEntries, readingOld: readingOld, stopAfterFound: false, grew: &grew, to: out, body)
}

/// Whether `value` replacing the found one needs the value's whole plain size (`locateForEdit`), which a
/// walk stopped at the found element does not have.
@inline(__always)
private func needsWholeWalk(_ location: InlineLocation, _ value: UnsafeRawBufferPointer) -> Bool {
    location.partial && varintSize(value.count) + value.count > varintSize(location.foundLength) + location.foundLength
}

/// One walk of `locateForEdit`; `grew` set when the walk stopped at the found element and the new value
/// needs the whole walk.
@inline(__always)
private func locateOnce(
    _ raw: UnsafeRawBufferPointer, stride: Int, _ element: UnsafeRawBufferPointer, maxEntries: Int, readingOld: Bool,
    stopAfterFound: Bool, grew: inout Bool, to out: UnsafeMutableRawPointer,
    _ body: (_ old: UnsafeRawBufferPointer?, _ splice: (_ value: UnsafeRawBufferPointer) -> InlineEdit?) -> InlineEdit?
) -> InlineEdit? {
    let count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
    switch InlineForm(rawValue: raw[0]) {
    case .listpack:
        let elements = UnsafeRawBufferPointer(rebasing: raw[3...])
        guard let location = locatePlain(elements, count: count, element, stride: stride) else { return nil }
        let old = location.found.map { UnsafeRawBufferPointer(rebasing: elements[($0.upperBound - location.foundLength)..<$0.upperBound]) }
        return body(old) { value in
            splice(raw, header: 3, count: count, location, stride: stride, element, value, maxEntries: maxEntries, to: out) { e, _, p in
                storeLengthPrefixed(e, at: p)
            }
        }
    case .packed:
        // A found value is unpacked only when it is read.
        return withUnsafeTemporaryAllocation(byteCount: inlineValueLimit, alignment: 1) { unpacked -> InlineEdit? in
            let foundValue = readingOld && stride == 2 ? unpacked.baseAddress! : nil
            guard let location = locatePacked(UnsafeRawBufferPointer(rebasing: raw[3...]), count: count, element, stride: stride,
                                              foundValue: foundValue, stopAfterFound: stopAfterFound) else { return nil }
            let old = location.found.flatMap { _ in foundValue.map { UnsafeRawBufferPointer(start: $0, count: location.foundLength) } }
            return body(old) { value in
                if needsWholeWalk(location, value) { grew = true; return nil }
                return splice(raw, header: 3, count: count, location, stride: stride, element, value, maxEntries: maxEntries, to: out) { e, n, p in
                    storePackedElement(e, column: n % stride == 0 ? location.columns.first : location.columns.second, to: p)
                }
            }
        }
    case .prefixed:
        guard Int(raw[3]) == stride else { return nil }
        if stride == 1 {  // a set: no member rebuilt, an append coded by the prefix the walk measured
            var shared = 0
            guard let location = locateFrontCodedKey(UnsafeRawBufferPointer(rebasing: raw[4...]), count: count, element, stride: 1,
                                                     lastShared: &shared) else { return nil }
            return body(nil) { value in
                splice(raw, header: 4, count: count, location, stride: 1, element, value, maxEntries: maxEntries, to: out) { e, _, p in
                    storeFrontCoded(e, shared: shared, to: p)
                }
            }
        }
        // A hash. An appended field is coded by the prefix the walk measured the last field shares with it, its
        // value against the last value, rebuilt by the walk in `slots`' second half; `column`: a found value and
        // its neighbours in its column.
        return withUnsafeTemporaryAllocation(byteCount: 2 * inlineValueLimit, alignment: 1) { slots -> InlineEdit? in
            withUnsafeTemporaryAllocation(byteCount: 2 * inlineValueLimit, alignment: 1) { column -> InlineEdit? in
                let (slots, column) = (slots.baseAddress!, column.baseAddress!)
                var keyShared = 0, valueLength = 0
                guard let location = locateFrontCoded(UnsafeRawBufferPointer(rebasing: raw[4...]), count: count, element,
                                                      slots: slots, lastKeyShared: &keyShared, lastValueLength: &valueLength,
                                                      column: column, stopAfterFound: stopAfterFound) else { return nil }
                if location.found != nil {
                    let old = UnsafeRawBufferPointer(start: column + location.columnBefore, count: location.foundLength)
                    return body(old) { value in
                        if needsWholeWalk(location, value) { grew = true; return nil }
                        return spliceFrontCodedValue(raw, location, value, column: column, to: out)
                    }
                }
                return body(nil) { value in
                    splice(raw, header: 4, count: count, location, stride: 2, element, value, maxEntries: maxEntries, to: out) { e, n, p in
                        n & 1 == 0 ? storeFrontCoded(e, shared: keyShared, to: p)
                                   : storeFrontCoded(e, previous: slots + inlineValueLimit, count: valueLength, to: p)
                    }
                }
            }
        }
    default:
        return nil
    }
}

/// A found value replaced in the front-coded form (stride 2, elements after a 4-byte header): the new value
/// coded against the value before it in its column, the next value in the column coded again against the
/// new one, every other element's bytes as they were (`locateFrontCoded` copied the three values to `column`).
private func spliceFrontCodedValue(
    _ raw: UnsafeRawBufferPointer, _ location: InlineLocation, _ value: UnsafeRawBufferPointer, column: UnsafeRawPointer,
    to out: UnsafeMutableRawPointer
) -> InlineEdit? {
    let header = 4, found = location.found!, next = location.columnAfter
    let plain = location.plainBytes - varintSize(location.foundLength) - location.foundLength + varintSize(value.count) + value.count
    // Each coded element is at most its length and two varints of at most 2 bytes.
    guard 3 + plain <= inlineValueLimit, raw.count + value.count + (next?.length ?? 0) + 8 <= inlineEditBufferSize else { return nil }
    let base = raw.baseAddress!
    var at = header + found.lowerBound
    copyBytes(to: out, from: base, count: at)
    at += storeFrontCoded(value, previous: column, count: location.columnBefore, to: out + at)
    var from = header + found.upperBound
    if let next {
        copyBytes(to: out + at, from: base + from, count: header + next.bytes.lowerBound - from)
        at += header + next.bytes.lowerBound - from
        let nextValue = UnsafeRawBufferPointer(start: column + location.columnBefore + location.foundLength, count: next.length)
        at += storeFrontCoded(nextValue, previous: value.baseAddress ?? column, count: value.count, to: out + at)
        from = header + next.bytes.upperBound
    }
    copyBytes(to: out + at, from: base + from, count: raw.count - from)
    at += raw.count - from
    return at <= inlineValueLimit ? .written(count: at, added: false) : nil
}

/// `editInline` once the element is located in an encoding whose elements start at `header`: `store` writes
/// an element as the form stores it at index `n` (nil: it cannot be stored so).
@inline(__always)
private func splice(
    _ raw: UnsafeRawBufferPointer, header: Int, count: Int, _ location: InlineLocation, stride: Int,
    _ element: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, maxEntries: Int, to out: UnsafeMutableRawPointer,
    store: (UnsafeRawBufferPointer, _ n: Int, UnsafeMutableRawPointer) -> Int?
) -> InlineEdit? {
    let plainSize = { (e: UnsafeRawBufferPointer) in varintSize(e.count) + e.count }
    if let found = location.found {
        guard stride == 2 else { return .unchanged }
        let plain = location.plainBytes - varintSize(location.foundLength) - location.foundLength + plainSize(value)
        let rest = raw.count - header - found.upperBound
        guard 3 + plain <= inlineValueLimit, header + found.lowerBound + plainSize(value) + 3 + rest <= inlineEditBufferSize else { return nil }
        copyBytes(to: out, from: raw.baseAddress, count: header + found.lowerBound)
        var at = header + found.lowerBound
        guard let k = store(value, 1, out + at) else { return nil }
        at += k
        guard at + rest <= inlineValueLimit else { return nil }
        copyBytes(to: out + at, from: raw.baseAddress! + header + found.upperBound, count: rest)
        return .written(count: at + rest, added: false)
    }
    let n = count + stride
    // At a count where the general way weighs the forms again, a plain or small value is left to it; a
    // front-coded or packed one keeps its form if it stays smaller than the plain form (checked below).
    let weighed = n & (n - 1) == 0 || n % 16 == 0
    guard count / stride + 1 <= maxEntries, !weighed || (raw[0] != InlineForm.listpack.rawValue && n > 4) else { return nil }
    let added = plainSize(element) + (stride == 2 ? plainSize(value) : 0)
    let plain = 3 + location.plainBytes + added
    guard plain <= inlineValueLimit, raw.count + added + 6 <= inlineEditBufferSize else { return nil }
    copyBytes(to: out, from: raw.baseAddress, count: raw.count)
    out.storeBytes(of: UInt16(n), toByteOffset: 1, as: UInt16.self)
    var at = raw.count
    guard let k = store(element, count, out + at) else { return nil }
    at += k
    if stride == 2 {
        guard let k = store(value, count + 1, out + at) else { return nil }
        at += k
    }
    return at <= inlineValueLimit && (!weighed || at < plain) ? .written(count: at, added: true) : nil
}

/// SADD of `member` to the inline intset `raw` (InlineValues.swift: form, width, members in order): its bytes
/// go in at its place. `.unchanged` when it is there; nil when the general way must decide: a member that is
/// not an integer in Redis' canonical form (the set becomes a listpack), one wider than the members (they
/// widen), one more than `maxEntries` (the set becomes a map) or than the inline limit holds (an object).
private func addIntsetMember(
    _ raw: UnsafeRawBufferPointer, _ member: UnsafeRawBufferPointer, maxEntries: Int, to out: UnsafeMutableRawPointer
) -> InlineEdit? {
    let width = Int(raw[1])
    guard width == 2 || width == 4 || width == 8, let v = parseCanonicalInt(member), IntSet.width(of: v) <= width else { return nil }
    let (i, found) = IntSet.search(v, in: UnsafeRawBufferPointer(rebasing: raw[2...]), width: width)
    if found { return .unchanged }
    guard (raw.count - 2) / width + 1 <= maxEntries, raw.count + width <= inlineValueLimit else { return nil }
    let at = 2 + i * width
    copyBytes(to: out, from: raw.baseAddress, count: at)
    withUnsafeBytes(of: v.littleEndian) { copyBytes(to: out + at, from: $0.baseAddress, count: width) }
    copyBytes(to: out + at + width, from: raw.baseAddress! + at, count: raw.count - at)
    return .written(count: raw.count + width, added: true)
}

/// `locatePacked` for the plain form's elements: a varint length, then the bytes.
func locatePlain(_ raw: UnsafeRawBufferPointer, count: Int, _ needle: UnsafeRawBufferPointer, stride: Int) -> InlineLocation? {
    var location = InlineLocation(columns: PackedColumns())
    location.plainBytes = raw.count
    guard let input = raw.baseAddress else { return count == 0 ? location : nil }
    var i = 0, matched: Int? = nil
    for n in 0..<count {
        let start = i
        guard let length = loadVarint(input, &i, raw.count), length <= raw.count - i else { return nil }
        defer { i += length }
        if let matched {
            location.found = start..<(i + length)
            location.foundLength = length
            location.group = matched..<(i + length)
            return location
        }
        if n % stride == 0 && length == needle.count && bytesEqual(input + i, needle.baseAddress, length) {
            if stride == 1 {
                location.found = start..<start
                location.group = start..<(i + length)
                return location
            }
            matched = start
        }
    }
    return i == raw.count && matched == nil ? location : nil
}

// Test hook (InlineEditTests): `editInline` on an encoding; nil when it declines, else the new encoding
// (the old one when unchanged) and whether the element was added.
package func inlineEdited(
    _ raw: [UInt8], stride: Int, _ element: [UInt8], _ value: [UInt8], maxEntries: Int, maxValue: Int, maxIntsetEntries: Int = 0
) -> (encoding: [UInt8], added: Bool)? {
    var out = [UInt8](repeating: 0, count: inlineEditBufferSize)
    let edit = raw.withUnsafeBytes { r in
        element.withUnsafeBytes { e in
            value.withUnsafeBytes { v in
                out.withUnsafeMutableBytes { editInline(r, stride: stride, e, v, maxEntries: maxEntries, maxValue: maxValue, maxIntsetEntries: maxIntsetEntries, to: $0.baseAddress!) }
            }
        }
    }
    switch edit {
    case nil: return nil
    case .unchanged?: return (raw, false)
    case .written(let count, let added)?: return (Array(out[..<count]), added)
    }
}

// Test hook (InlineEditTests): `incrementInline` on an encoding; nil when it declines, else the new encoding and the sum.
package func inlineIncremented(_ raw: [UInt8], _ field: [UInt8], by delta: Int64, maxEntries: Int, maxValue: Int) -> (encoding: [UInt8], sum: Int64)? {
    var out = [UInt8](repeating: 0, count: inlineEditBufferSize)
    var sum: Int64 = 0
    let edit = raw.withUnsafeBytes { r in
        field.withUnsafeBytes { f in
            out.withUnsafeMutableBytes { incrementInline(r, f, by: delta, maxEntries: maxEntries, maxValue: maxValue, to: $0.baseAddress!, sum: &sum) }
        }
    }
    guard case .written(let count, _)? = edit else { return nil }
    return (Array(out[..<count]), sum)
}
