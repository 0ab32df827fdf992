// Tophash bytes: one per slot, the top 8 bits of the key's hash, with the smallest values kept as markers.
//
// Values (as in Go's runtime map):
//   0  emptyRest       this slot is empty, and so is every later slot of the bucket and of its overflow chain
//   1  emptyOne        this slot is empty
//   2  evacuatedX      (old array only) the entry moved to new bucket i (same index, or i & newMask on shrink)
//   3  evacuatedY      (old array only) the entry moved to new bucket i + 2^oldB
//   4  evacuatedEmpty  (old array only) the slot was empty when its bucket was evacuated
//   5...255            a live entry; a real top byte below 5 is raised by 5 so it never reads as a marker
//
// A bucket's 8 tophash bytes form one little-endian 64-bit word (byte i = slot i), so one load and a few
// ALU operations find every slot whose byte equals a given value ("SWAR"). The zero-byte test used here is
// the exact one (no false positives from borrows), so a match always names a slot holding that byte.

let emptyRest: UInt8 = 0
let emptyOne: UInt8 = 1
let evacuatedX: UInt8 = 2
let evacuatedY: UInt8 = 3
let evacuatedEmpty: UInt8 = 4
let minTopHash: UInt8 = 5

/// The tophash byte for a hash: its top 8 bits, moved out of the marker range.
@inline(__always)
func topHash(_ hash: UInt64) -> UInt8 {
    let top = UInt8(truncatingIfNeeded: hash >> 56)
    return top < minTopHash ? top &+ minTopHash : top
}

@inline(__always) func isEmptyMarker(_ top: UInt8) -> Bool { top <= emptyOne }
@inline(__always) func isEvacuatedMarker(_ top: UInt8) -> Bool { top > emptyOne && top < minTopHash }

let lsbEach: UInt64 = 0x0101_0101_0101_0101
let low7Each: UInt64 = 0x7f7f_7f7f_7f7f_7f7f

/// A mask with bit 8i+7 set exactly where byte i of `word` is zero.
@inline(__always)
func zeroBytes(_ word: UInt64) -> UInt64 {
    ~(((word & low7Each) &+ low7Each) | word | low7Each)
}

/// Slots whose tophash byte equals `top`.
@inline(__always)
func matchTop(_ word: UInt64, _ top: UInt8) -> UInt64 {
    zeroBytes(word ^ (lsbEach &* UInt64(top)))
}

/// Slots that are empty (emptyRest or emptyOne): bytes whose value with the low bit cleared is zero.
@inline(__always)
func matchEmpty(_ word: UInt64) -> UInt64 {
    zeroBytes(word & ~lsbEach)
}

/// Slots holding a live entry (byte >= minTopHash).
@inline(__always)
func matchFull(_ word: UInt64) -> UInt64 {
    // byte >= 5 <=> byte + 123 sets bit 7 or byte has bit 7 set already. Done per byte without carries.
    (((word & low7Each) &+ (lsbEach &* 0x7b)) | word) & ~low7Each
}

/// The slot index of the lowest set match bit.
@inline(__always)
func firstSlot(_ mask: UInt64) -> Int { mask.trailingZeroBitCount >> 3 }
