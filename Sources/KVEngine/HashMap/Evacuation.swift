// Evacuation: moving one old bucket chain into the new array.
//
// Doubling sends each entry of old bucket i to new bucket i ("X") or i + 2^oldB ("Y") by hash bit oldB,
// which the slot's split hint gives (Bucket.swift); when the hint has run out, it is recomputed from the
// key (entries do not store it, as in Go). Same-size growth sends everything to i, halving to i & newMask;
// neither needs a hash. Entries are appended after
// the last live slot of the destination chain: for doubling and same-size the destination is still empty
// (no write reaches a new bucket before its old bucket is evacuated), for halving it may already hold the
// sibling old bucket's entries and new inserts.
//
// Afterwards every slot of the old bucket holds an evacuated marker, its references are zero and its
// overflow buckets are back in the arena: nothing keeps pointers into old chains (iterators and SCAN
// cursors hold positions, not pointers), so they can go at once.

/// Where the next entry of an evacuation goes in one destination chain.
struct EvacuationDestination {
    var bucket: Bucket
    var slot: Int  // 8 = the bucket is full; chain an overflow bucket first
}

extension HashMap {
    /// The position after the last live slot of the chain starting at `head`.
    func appendPosition(_ head: Bucket) -> EvacuationDestination {
        var b = head
        while true {
            let rest = zeroBytes(b.tophashWord)
            if rest != 0 { return EvacuationDestination(bucket: b, slot: firstSlot(rest)) }
            if b.overflow == 0 { return EvacuationDestination(bucket: b, slot: bucketSlots) }
            b = Bucket(arena.pointer(b.overflow))
        }
    }

    @inline(__always)
    func append(_ top: UInt8, _ ref: UInt32, hint: UInt32, to d: inout EvacuationDestination) {
        if d.slot == bucketSlots {
            d.bucket = newOverflowBucket(after: d.bucket)
            d.slot = 0
        }
        d.bucket.setTop(d.slot, top)
        d.bucket.setRef(d.slot, ref)
        d.bucket.setHint(d.slot, hint)
        d.slot += 1
    }

    func evacuate(_ oldIndex: Int) {
        guard let old = oldBuckets else { return }
        let head = old[oldIndex]
        if !head.isEvacuated {
            let newbit = UInt64(old.count)
            // Halving: the hash bit that chose between old buckets i and i + 2^newB, for the hints.
            let indexBit = growth == .shrinking && oldIndex >= buckets.count ? UInt32(1) : 0
            var x = appendPosition(buckets[oldIndex & buckets.mask])
            var y: EvacuationDestination? = nil
            var b = head
            var bRef: UInt32 = 0  // arena reference of b; 0 for the head, which lives in the array
            while true {
                // Only the live slots are visited (a bucket being halved holds under two on average), and the
                // markers go in as one word: every slot starts as evacuatedEmpty and a moved one is
                // overwritten below. Empty slots' references are already zero.
                var marks = lsbEach &* UInt64(evacuatedEmpty)
                var live = matchFull(b.tophashWord)
                while live != 0 {
                    let s = firstSlot(live)
                    live &= live &- 1
                    let ref = b.ref(s)
                    var hint = b.hint(s)
                    var toY = false
                    switch growth {
                    case .doubling:
                        if hint >= 2 {
                            toY = hint & 1 != 0
                            hint >>= 1
                        } else {
                            let h = hash(Entry(arenaBlock: arena.pointer(ref)).key)
                            toY = h & newbit != 0
                            hint = splitHint(h, bits: buckets.bits)
                        }
                    case .shrinking:
                        // The index's bit goes in below the hint's bits (a full hint drops its highest).
                        hint = hint >= 8 ? 8 | (hint << 1) & 6 | indexBit : (hint == 0 ? 2 : hint << 1) | indexBit
                    default:
                        break
                    }
                    if toY {
                        if y == nil { y = appendPosition(buckets[oldIndex + old.count]) }
                        append(b.top(s), ref, hint: hint, to: &y!)
                        marks ^= UInt64(evacuatedEmpty ^ evacuatedY) << (8 * s)
                    } else {
                        append(b.top(s), ref, hint: hint, to: &x)
                        marks ^= UInt64(evacuatedEmpty ^ evacuatedX) << (8 * s)
                    }
                    b.setRef(s, 0)
                }
                b.tophashWord = marks
                let next = b.overflow
                if bRef != 0 {
                    arena.free(bRef, units: overflowBucketUnits)
                    oldNoverflow -= 1
                }
                if next == 0 { break }
                b = Bucket(arena.pointer(next))
                bRef = next
            }
            head.overflow = 0
        }
        if oldIndex == nevacuate { advanceEvacuationMark() }
    }

    /// Moves `nevacuate` past evacuated buckets (at most 1024 at a time, as Go), and ends the growth when
    /// every old bucket has been evacuated.
    func advanceEvacuationMark() {
        guard let old = oldBuckets else { return }
        nevacuate += 1
        let stop = Swift.min(nevacuate + 1024, old.count)
        while nevacuate < stop && old[nevacuate].isEvacuated { nevacuate += 1 }
        if nevacuate == old.count {
            precondition(oldNoverflow == 0, "growth ended with \(oldNoverflow) old overflow buckets")
            old.deallocate()
            buckets.adviseHugePages()
            oldBuckets = nil
            growth = .none
            nevacuate = 0
            growthStartedAt = 0
        }
    }
}
