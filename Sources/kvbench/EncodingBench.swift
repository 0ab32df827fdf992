import KVEngine

// kvbench encodings: the compact forms of hashes and sets beside their map form, at sizes around the
// conversion thresholds, to choose the thresholds by measurement (hash-max-listpack-entries,
// set-max-intset-entries, set-max-listpack-entries).
//
// For each size N it builds values of N elements in both forms (the compact one with the thresholds set
// above N, the map one with them at 0), about 2M elements in all, and reports per element: the bytes the
// allocator and the engine's own mappings hold (values' objects included, keys of the keyspace not), a
// lookup of an existing element, and a write that changes an existing element (HSET of an existing field;
// SREM then SADD of a member). Elements are looked up in an order unrelated to insertion.

struct EncodingBench {
    let sizes: [Int]

    enum Kind: String, CaseIterable {
        case hash = "hash (16-byte fields and values)"
        case intSet = "set of integers"
        case stringSet = "set of 16-byte strings"
    }

    struct Result {
        var bytesPerElement = 0.0
        var lookupNs = 0.0
        var writeNs = 0.0
    }

    func run() {
        for kind in Kind.allCases {
            print("\n\(kind.rawValue)")
            print("  elements  form       B/element  lookup ns  write ns")
            for n in sizes {
                let compact = measure(kind, size: n, compact: true)
                let map = measure(kind, size: n, compact: false)
                let name = kind == .intSet ? "intset" : "listpack"
                print("  \(pad(n, 8))  \(name + String(repeating: " ", count: 9 - name.count))  \(row(compact))")
                print("  \(pad(n, 8))  hashtable  \(row(map))")
            }
        }
    }

    private func row(_ r: Result) -> String {
        "\(pad(fmt(r.bytesPerElement, 1), 9))  \(pad(fmt(r.lookupNs, 1), 9))  \(pad(fmt(r.writeNs, 1), 8))"
    }

    private func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
    private func pad(_ n: Int, _ w: Int) -> String { pad(String(n), w) }

    func measure(_ kind: Kind, size n: Int, compact: Bool) -> Result {
        var limits = EncodingLimits.Values()
        for l in EncodingLimits.Limit.allCases { limits[l] = compact ? Swift.max(n, 64) : 0 }
        if !compact { limits[.hashMaxListpackValue] = 0; limits[.setMaxListpackValue] = 0 }
        let values = Swift.max(1, 2_000_000 / n)
        // The elements: integers 0..<n, or 16 random bytes each (one buffer), and a shuffled query order.
        let strings = KeySet(count: n, width: 16, seed: 7)
        let ints = (0..<n).map { Array(String($0).utf8) }
        let order = shuffledIndices(n, seed: 11)
        func element(_ i: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
            if kind == .intSet { ints[i].withUnsafeBytes(body) } else { body(strings[i]) }
        }

        var r = Result()
        let before = heldMemory()
        var objects: [StoredObject] = []
        objects.reserveCapacity(values)
        for _ in 0..<values {
            if kind == .hash {
                let h = HashObject()
                for i in 0..<n { h.set(strings[i], strings[(i + 1) % n], limits: limits) }
                objects.append(h)
            } else {
                let s = SetObject()
                for i in 0..<n { element(i) { s.insert($0, limits: limits) } }
                objects.append(s)
            }
        }
        r.bytesPerElement = Double(heldMemory() - before - values * MemoryLayout<StoredObject>.stride) / Double(values * n)
        precondition(objects[0].encodingName == (compact ? (kind == .intSet ? "intset" : "listpack") : "hashtable"))

        // Lookups and writes: up to 1M of each, spread over the values.
        let operations = Swift.min(1_000_000, values * n)
        var found = 0
        var t = monotonicNanoseconds()
        for k in 0..<operations {
            let o = objects[k % values], i = order[(k / values) % n]
            if kind == .hash {
                found &+= (o as! HashObject).withValue(strings[i]) { $0.count } ?? 0
            } else {
                element(i) { if (o as! SetObject).contains($0) { found &+= 1 } }
            }
        }
        r.lookupNs = Double(monotonicNanoseconds() - t) / Double(operations)
        precondition(found == (kind == .hash ? 16 : 1) * operations, "lookups missed")

        t = monotonicNanoseconds()
        for k in 0..<operations {
            let o = objects[k % values], i = order[(k / values) % n]
            if kind == .hash {
                (o as! HashObject).set(strings[i], strings[(i + 2) % n], limits: limits)
            } else {
                let s = o as! SetObject
                element(i) { m in
                    s.remove(m)
                    s.insert(m, limits: limits)
                }
            }
        }
        r.writeNs = Double(monotonicNanoseconds() - t) / Double(operations)
        blackHole(objects)
        return r
    }
}
