import CKVSupport

// The verifier: walks every bucket and checks every invariant listed in HashMap.swift's header. Tests
// call it after each operation of randomized runs; the server exposes it as VERIFY. O(count + buckets),
// with no allocation beyond one chain's worth of keys, so it can run over a large live map.

/// The first broken invariant found by `HashMap.verify()`.
public struct MapInvariantViolation: Error, CustomStringConvertible, Sendable {
    /// "current" or "old" bucket array.
    public let array: String
    public let bucket: Int
    /// Slot within the chain (8 per bucket, counting through overflow buckets), when one slot is at fault.
    public let slot: Int?
    public let message: String

    public var description: String {
        "\(array) bucket \(bucket)" + (slot.map { " slot \($0)" } ?? "") + ": \(message)"
    }
}

extension HashMap {
    /// Checks every invariant; returns the first violation, or nil when the map is sound.
    public func verify() -> MapInvariantViolation? {
        checkNoWriter()
        var live = 0
        var entryUnits = 0
        var expiring = 0
        var externalBytes = 0
        var objectBytes = 0, objects = 0, innerMaps = 0
        var objectViolation: MapInvariantViolation? = nil
        var chainEntries: [(UInt8, Entry)] = []  // one chain's live entries, to find a key twice
        var pageUnits = [Int](repeating: 0, count: arena.pageCount)  // live units found on each page

        func violation(_ array: String, _ bucket: Int, _ slot: Int?, _ message: String) -> MapInvariantViolation {
            MapInvariantViolation(array: array, bucket: bucket, slot: slot, message: message)
        }
        if let hint = lookupHint, !hint.describes(self) {
            return violation("current", 0, nil, "the lookup hint does not hold the map's arrays and seed")
        }

        // Checks one live chain of `array` at index `index`; returns the number of overflow buckets in it.
        func checkChain(_ array: BucketArray, _ name: String, _ index: Int) -> (Int, MapInvariantViolation?) {
            var b = array[index]
            var depth = 0
            var seenRest = false
            var pendingEmptyOne: Int? = nil
            chainEntries.removeAll(keepingCapacity: true)
            while true {
                for s in 0..<bucketSlots {
                    let pos = depth * bucketSlots + s
                    let top = b.top(s)
                    let ref = b.ref(s)
                    if isEvacuatedMarker(top) {
                        return (depth, violation(name, index, pos, "evacuation marker \(top) in a live bucket"))
                    }
                    if isEmptyMarker(top) {
                        if ref != 0 { return (depth, violation(name, index, pos, "empty slot holds reference \(ref)")) }
                        if top == emptyRest {
                            seenRest = true
                        } else {
                            if seenRest { return (depth, violation(name, index, pos, "emptyOne after emptyRest")) }
                            if pendingEmptyOne == nil { pendingEmptyOne = pos }
                        }
                        continue
                    }
                    if seenRest { return (depth, violation(name, index, pos, "live slot after emptyRest")) }
                    pendingEmptyOne = nil
                    guard arena.contains(ref, units: 1) else {
                        return (depth, violation(name, index, pos, "reference \(ref) outside the arena"))
                    }
                    let p = arena.pointer(ref)
                    let e = Entry(arenaBlock: p)
                    let h = hash(e.key)
                    if topHash(h) != top {
                        return (depth, violation(name, index, pos, "tophash \(top) but the key's is \(topHash(h))"))
                    }
                    if Int(truncatingIfNeeded: h) & array.mask != index {
                        return (depth, violation(name, index, pos, "key belongs in bucket \(Int(truncatingIfNeeded: h) & array.mask)"))
                    }
                    let hint = b.hint(s), k = hintBits(hint)
                    if UInt32(truncatingIfNeeded: h >> UInt64(array.bits)) & ((1 << k) - 1) != hint & ((1 << k) - 1) {
                        return (depth, violation(name, index, pos, "split hint \(hint) but the key's bits above the index are \(h >> UInt64(array.bits) & 7)"))
                    }
                    if name == "current", let old = oldBuckets {
                        let oi = Int(truncatingIfNeeded: h) & old.mask
                        if !old[oi].isEvacuated {
                            return (depth, violation(name, index, pos, "key is in the new array but old bucket \(oi) is not evacuated"))
                        }
                    }
                    for (t, other) in chainEntries where t == top && other.keyEquals(e.key) {
                        return (depth, violation(name, index, pos, "key appears twice in the chain"))
                    }
                    chainEntries.append((top, e))
                    live += 1
                    if e.hasExpiry { expiring += 1 }
                    if e.typeBits != 0 {
                        // A typed value: a known type, and an object (or an inline value decoded into one)
                        // that checks its own invariants.
                        let type = ValueType(rawValue: (e.typeBits >> entryTypeShift) & 7)
                        let inline = !e.holdsObject
                        guard let type, type != .string, inline ? inlineValueIsWellFormed(type, e.value) : e.valueCount == 8 else {
                            return (depth, violation(name, index, pos, "value type bits \(e.typeBits >> entryTypeShift) with \(e.valueCount) value bytes"))
                        }
                        let object = e.storedValue.object
                        if !inline {
                            objectBytes += object.memoryBytes
                            objects += 1
                            if object.hasInnerMap { innerMaps += 1 }
                        }
                        if objectViolation == nil, let problem = object.verify() {
                            objectViolation = violation(name, index, pos, "the \(object.valueType.name) of key '\(printable(e.key))': \(problem)")
                        }
                    }
                    let units = arena.blockUnits(ref)
                    guard arena.contains(ref, units: units) else {
                        return (depth, violation(name, index, pos, "entry block \(ref) of \(units) units runs past its page"))
                    }
                    if p.load(as: UInt8.self) & entryExternal != 0 { externalBytes += malloc_usable_size(e.base) }
                    entryUnits += units
                    pageUnits[Int(ref >> arenaOffsetBits)] += units
                }
                if b.overflow == 0 { break }
                guard arena.contains(b.overflow, units: overflowBucketUnits) else {
                    return (depth, violation(name, index, nil, "overflow reference \(b.overflow) outside the arena"))
                }
                pageUnits[Int(b.overflow >> arenaOffsetBits)] += overflowBucketUnits
                b = Bucket(arena.pointer(b.overflow))
                depth += 1
            }
            if let pos = pendingEmptyOne {
                return (depth, violation(name, index, pos, "emptyOne with no live slot after it (should be emptyRest)"))
            }
            if depth > 0 && b.top(0) == emptyRest {
                return (depth, violation(name, index, nil, "the chain ends in an empty overflow bucket (it should have been freed)"))
            }
            return (depth, nil)
        }

        var overflow = 0
        for i in 0..<buckets.count {
            let (n, v) = checkChain(buckets, "current", i)
            if let v { return v }
            overflow += n
        }
        if overflow != noverflow {
            return violation("current", 0, nil, "noverflow is \(noverflow) but \(overflow) overflow buckets are chained")
        }

        if let old = oldBuckets {
            let expectedBits: Int
            switch growth {
            case .doubling: expectedBits = old.bits + 1
            case .sameSize: expectedBits = old.bits
            case .shrinking: expectedBits = old.bits - 1
            case .none: return violation("old", 0, nil, "old array present but no growth is recorded")
            }
            if buckets.bits != expectedBits {
                return violation("old", 0, nil, "\(growth) from \(old.bits) bits to \(buckets.bits) bits")
            }
            if nevacuate >= old.count { return violation("old", nevacuate, nil, "nevacuate past the end while growing") }
            var oldOverflow = 0
            for i in 0..<old.count {
                let b = old[i]
                if b.isEvacuated {
                    if b.overflow != 0 { return violation("old", i, nil, "evacuated bucket keeps an overflow chain") }
                    for s in 0..<bucketSlots {
                        let top = b.top(s)
                        if !isEvacuatedMarker(top) || b.ref(s) != 0 {
                            return violation("old", i, s, "evacuated bucket holds tophash \(top), reference \(b.ref(s))")
                        }
                        if top == evacuatedY && growth != .doubling {
                            return violation("old", i, s, "evacuatedY outside a doubling")
                        }
                    }
                } else {
                    if i < nevacuate { return violation("old", i, nil, "below nevacuate \(nevacuate) but not evacuated") }
                    let (n, v) = checkChain(old, "old", i)
                    if let v { return v }
                    oldOverflow += n
                }
            }
            if oldOverflow != oldNoverflow {
                return violation("old", 0, nil, "oldNoverflow is \(oldNoverflow) but \(oldOverflow) overflow buckets are chained")
            }
        } else if growth != .none || oldNoverflow != 0 {
            return violation("old", 0, nil, "growth \(growth) with no old array")
        }

        if live != count { return violation("current", 0, nil, "count is \(count) but \(live) slots are live") }
        if settlePending { return violation("current", 0, nil, "a removal was left unsettled after its write") }
        if expiring != expiringCount {
            return violation("current", 0, nil, "expiringCount is \(expiringCount) but \(expiring) entries have an expiry")
        }
        let expectedUnits = entryUnits + (noverflow + oldNoverflow) * overflowBucketUnits
        if arena.liveUnits != expectedUnits {
            return violation("current", 0, nil, "arena has \(arena.liveUnits) live units, entries and overflow buckets \(expectedUnits)")
        }
        for (page, fill) in arena.pageFill().enumerated() where fill.live != pageUnits[page] {
            return violation("current", 0, nil, "arena page \(page) counts \(fill.live) live units, its blocks hold \(pageUnits[page])")
        }
        if let fault = arena.verifyFreeLists() { return violation("current", 0, nil, "arena: \(fault)") }
        if arena.externalBytes != externalBytes {
            return violation("current", 0, nil, "arena counts \(arena.externalBytes) external bytes, entries hold \(externalBytes)")
        }
        if let objectViolation { return objectViolation }
        if arena.objectBytes != objectBytes {
            return violation("current", 0, nil, "the map counts \(arena.objectBytes) bytes of objects, its objects hold \(objectBytes)")
        }
        if arena.objects != objects || arena.innerMaps != innerMaps {
            return violation("current", 0, nil, "the map counts \(arena.objects) objects (\(arena.innerMaps) in map form), it holds \(objects) (\(innerMaps))")
        }
        return nil
    }
}

extension HashMap {
    /// Breaks the map on purpose, as a memory corruption would: gives `key`'s slot a wrong tophash (still
    /// a live value), which the verifier must report. For tests of the verifier and of the server's
    /// DEBUG BREAK-MAP only. False if the key is absent.
    package func debugCorruptTopHash(ofKey key: UnsafeRawBufferPointer) -> Bool {
        update(key) { e in
            guard let b = e.bucket else { return false }
            let t = b.top(e.slot)
            b.setTop(e.slot, t == 255 ? minTopHash : t + 1)
            return true
        }
    }
}
