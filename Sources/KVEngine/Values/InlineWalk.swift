// Walks of an inline value's elements in their bytes, a group at a time: a hash's fields and values and a
// sorted set's members and scores in pairs (stride 2), a set's members one by one (stride 1), in any of the
// three listpack forms (InlineValues.swift: plain, front-coded, symbol-packed). What must see elements
// decoded walks with these: a sorted set's ZADD, its reads of ranks and ranges (InlineSortedSetEdits.swift)
// and the removals (InlineRemovals.swift).
//
// The plain form's elements are read where they lie. The other forms' elements are decoded
// (`PackedElements`, `FrontCodedElements`) each into a slot of its own, six slots of `pairSlotSize` bytes
// used in turn, so the group before the current one, and the one before that at stride 2, are still
// readable when the walk reaches it: an edit codes a front-coded element against the one a stride before
// it, which may be two groups back once a group is left out. An element the packed form stores as bytes
// (most scores) is read where it lies.
//
// A walk that seeks one member of a packed sorted set (ZADD, ZRANK) takes `PackedPairs`, which compares the
// member packed and unpacks only the members it must order against; both walks are a `PairWalk`.

/// The walkers' slots: six (three pairs) of this many bytes.
let pairSlotSize = 160, pairSlotCount = 6

/// The bytes a seeking walk's slots take (`PackedPairs`): the six slots, then the sought member packed, when
/// that takes at most 64 bytes. (1 KiB: above it `withUnsafeTemporaryAllocation` takes the heap.)
let seekingSlotBytes = 1024

/// A group as a walk passes it: the range of the encoding its bytes take, and its elements as they read
/// (valid while the walk is within two pairs after it). At stride 2 the member is a hash's field or a sorted
/// set's member and the score its value or score; at stride 1 the member is a set's member and the score is
/// empty.
struct WalkedPair {
    var bytes: Range<Int>
    var member: UnsafeRawBufferPointer
    var score: UnsafeRawBufferPointer

    /// Whether its member is `m`.
    @inline(__always)
    func holds(_ m: UnsafeRawBufferPointer) -> Bool { member.count == m.count && bytesEqual(member.baseAddress!, m.baseAddress, m.count) }
}

/// A walk of a sorted set's pairs that may be seeking one member (`PackedPairs`), or not (`InlinePairs`).
protocol PairWalk {
    mutating func next() -> WalkedPair?
    /// Whether every pair has been read, and every byte with them.
    var atEnd: Bool { get }
    /// Whether `pair`, the pair `next` returned last, holds the member `m` (the sought one, when seeking).
    func holds(_ pair: WalkedPair, _ m: UnsafeRawBufferPointer) -> Bool
    /// The member of `pair`, the pair `next` returned last, readable.
    func member(of pair: WalkedPair) -> UnsafeRawBufferPointer
}

/// The groups of `stride` elements (1 or 2) of an inline encoding (its three listpack forms) in order: an
/// iterator, so that each walk runs its body in its own loop and stops when it has what it looks for. (ZADD's
/// body, called as a closure for each pair, cost about 240 instructions a pair in calls, spills and reloads
/// of the two dozen variables it captured.) `slots`: `pairSlotCount` * `pairSlotSize` bytes.
struct InlinePairs {
    private let raw: UnsafeRawBufferPointer, form: InlineForm, stride: Int, count: Int, slots: UnsafeMutableRawPointer
    /// The plain form's next element; the elements read; the packed form's next slot (counted: no division).
    private var at = 3, n = 0, slot = 0
    private var packed: PackedElements?, frontCoded: FrontCodedElements?
    /// Set when a read failed: malformed bytes or an element to be rebuilt in a slot longer than one.
    private(set) var failed = false

    /// Nil when `raw` is of another form or stride. A walk is sound when it stopped where it chose, or when
    /// `atEnd`: malformed bytes (as far as read) or an element to be rebuilt in a slot longer than one end
    /// it early (the packed form's elements stored as bytes are read in place, whatever their length).
    init?(_ raw: UnsafeRawBufferPointer, stride: Int = 2, slots: UnsafeMutableRawPointer) {
        guard raw.count >= 3, let form = InlineForm(rawValue: raw[0]) else { return nil }
        let count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
        guard count % stride == 0 else { return nil }
        switch form {
        case .listpack: break
        case .packed:
            guard let p = PackedElements(UnsafeRawBufferPointer(rebasing: raw[3...])), p.stride == stride else { return nil }
            packed = p
        case .prefixed:
            guard raw.count >= 4, Int(raw[3]) == stride,
                  let f = FrontCodedElements(UnsafeRawBufferPointer(rebasing: raw[4...]), stride: stride, slots: slots,
                                             slotSize: pairSlotSize, slotCount: pairSlotCount) else { return nil }
            frontCoded = f
        default: return nil
        }
        (self.raw, self.form, self.stride, self.count, self.slots) = (raw, form, stride, count, slots)
    }

    /// The next group; nil after the last, or when a read fails (`failed`).
    @inline(__always)
    mutating func next() -> WalkedPair? {
        guard n < count else { return nil }
        if form == .prefixed && stride == 2 {
            n &+= 2
            guard let (start, member, score) = frontCoded!.nextPair() else { failed = true; return nil }
            return WalkedPair(bytes: (start &+ 4)..<(frontCoded!.i &+ 4), member: member, score: score)
        }
        guard let (bytes, member) = element() else { failed = true; return nil }
        guard stride == 2 else { return WalkedPair(bytes: bytes, member: member, score: UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let (scoreBytes, score) = element() else { failed = true; return nil }
        return WalkedPair(bytes: bytes.lowerBound..<scoreBytes.upperBound, member: member, score: score)
    }

    /// Whether every group has been read, and every byte with them.
    var atEnd: Bool {
        guard !failed && n == count else { return false }
        switch form {
        case .listpack: return at == raw.count
        case .packed: return packed!.atEnd
        default: return frontCoded!.atEnd
        }
    }

    /// The next element and the range of `raw` its bytes take.
    @inline(__always)
    private mutating func element() -> (bytes: Range<Int>, element: UnsafeRawBufferPointer)? {
        n &+= 1
        switch form {
        case .listpack:
            let input = raw.baseAddress!, start = at
            guard let length = loadVarint(input, &at, raw.count), length <= raw.count &- at else { return nil }
            at &+= length
            return (start..<at, UnsafeRawBufferPointer(start: input + (at &- length), count: length))
        case .packed:
            let to = slots + slot &* pairSlotSize
            slot = slot &+ 1 == pairSlotCount ? 0 : slot &+ 1
            guard let (bytes, e) = packed!.next(to: to, slotSize: pairSlotSize) else { return nil }
            return ((bytes.lowerBound &+ 3)..<(bytes.upperBound &+ 3), e)
        default:
            guard let (start, e) = frontCoded!.next() else { return nil }
            return ((start &+ 4)..<(frontCoded!.i &+ 4), e)
        }
    }
}

extension InlinePairs: PairWalk {
    @inline(__always) func holds(_ pair: WalkedPair, _ m: UnsafeRawBufferPointer) -> Bool { pair.holds(m) }
    @inline(__always) func member(of pair: WalkedPair) -> UnsafeRawBufferPointer { pair.member }
}

/// The pairs of a sorted set in the packed form, seeking one member: each member is compared with the sought
/// one packed (`PackedNeedle`) where it lies, and left packed, so that a walk to the member's place unpacks
/// only the members it must order against (those of equal score, by `member(of:)`): ZADD of the 20th of 20
/// members of 6 and 7 digits took 16,121 instructions unpacking each member, 10,322 so. A member left packed
/// is still checked as decoding checks it (its unused bits), so the walk is as sound as `InlinePairs`'.
struct PackedPairs: PairWalk {
    private var elements: PackedElements
    private let count: Int, slots: UnsafeMutableRawPointer, needle: PackedNeedle
    private var n = 0, slot = 0
    /// The last member read: where its stored bytes are, its length, way and stored byte count.
    private var last = (at: 0, length: 0, way: 0, stored: 0)
    private var failed = false

    /// Nil when `raw` is not a packed sorted set (stride 2), or `m` packed would take more than the 64 bytes
    /// the slots leave for it (the caller walks with `InlinePairs`). `slots`: `seekingSlotBytes`.
    init?(_ raw: UnsafeRawBufferPointer, seeking m: UnsafeRawBufferPointer, slots: UnsafeMutableRawPointer) {
        guard raw.count >= 3, raw[0] == InlineForm.packed.rawValue,
              let elements = PackedElements(UnsafeRawBufferPointer(rebasing: raw[3...])), elements.stride == 2,
              let needle = PackedNeedle(m, to: slots + pairSlotCount * pairSlotSize, capacity: seekingSlotBytes - pairSlotCount * pairSlotSize)
        else { return nil }
        count = Int(raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
        guard count % 2 == 0 else { return nil }
        (self.elements, self.needle, self.slots) = (elements, needle, slots)
    }

    mutating func next() -> WalkedPair? {
        guard n < count else { return nil }
        n &+= 2
        let start = elements.i
        guard let (length, w, stored, at) = elements.next(),
              w == 0 || length <= pairSlotSize && packedPaddingIsZero(elements.input + at, length: length, way: w, stored: stored)
        else { failed = true; return nil }
        last = (at, length, w, stored)
        // The member's slot, filled by `member(of:)`; one stored as bytes is read in place.
        let memberSlot = w == 0 ? UnsafeMutableRawPointer(mutating: elements.input + at) : slots + slot &* pairSlotSize
        let scoreSlot = slots + (slot &+ 1) &* pairSlotSize
        slot = slot &+ 2 == pairSlotCount ? 0 : slot &+ 2
        guard let (scoreBytes, score) = elements.next(to: scoreSlot, slotSize: pairSlotSize) else { failed = true; return nil }
        return WalkedPair(bytes: (start &+ 3)..<(scoreBytes.upperBound &+ 3), member: UnsafeRawBufferPointer(start: memberSlot, count: length), score: score)
    }

    var atEnd: Bool { !failed && n == count && elements.atEnd }

    @inline(__always)
    func holds(_ pair: WalkedPair, _ m: UnsafeRawBufferPointer) -> Bool {
        needle.matches(elements.input + last.at, length: last.length, way: last.way)
    }

    func member(of pair: WalkedPair) -> UnsafeRawBufferPointer {
        if last.way != 0 {
            // Its padding was checked when it was read: this cannot fail.
            _ = unpackPayload(elements.input + last.at, length: last.length, way: last.way, stored: last.stored,
                              to: UnsafeMutableRawPointer(mutating: pair.member.baseAddress!))
        }
        return pair.member
    }
}

/// Writes the group `member`, `score` (`score` only at stride 2) at `p` as `form` stores it, the
/// front-coded form against `previous` (nil: it is the first group); returns the bytes written, or nil when
/// a packed column's shared header is not the element's.
@inline(__always)
func storePair(
    _ member: UnsafeRawBufferPointer, _ score: UnsafeRawBufferPointer, stride: Int = 2, form: InlineForm, columns: PackedColumns,
    after previous: (member: UnsafeRawBufferPointer, score: UnsafeRawBufferPointer)?, to p: UnsafeMutableRawPointer
) -> Int? {
    switch form {
    case .prefixed:
        let k = storeFrontCoded(member, previous: previous?.member.baseAddress ?? UnsafeRawPointer(p), count: previous?.member.count ?? 0, to: p)
        guard stride == 2 else { return k }
        return k + storeFrontCoded(score, previous: previous?.score.baseAddress ?? UnsafeRawPointer(p), count: previous?.score.count ?? 0, to: p + k)
    case .packed:
        guard let k = storePackedElement(member, column: columns.first, to: p) else { return nil }
        guard stride == 2 else { return k }
        guard let j = storePackedElement(score, column: columns.second, to: p + k) else { return nil }
        return k + j
    default:
        let k = storeLengthPrefixed(member, at: p)
        guard stride == 2 else { return k }
        return k + storeLengthPrefixed(score, at: p + k)
    }
}
