import CKVSupport
import Glibc
import KVEngine

/// `count` random byte strings of `width` bytes, back to back in one buffer (no per-key allocation,
/// so building them does not disturb the allocator figures).
/// Read-only after init, so it can be shared by benchmark threads.
struct KeySet: @unchecked Sendable {
    let width: Int
    let count: Int
    let storage: UnsafeMutableRawBufferPointer

    init(count: Int, width: Int, seed: UInt64) {
        self.width = width
        self.count = count
        storage = .allocate(byteCount: count * width, alignment: 8)
        var rng = SplitMix64(seed: seed)
        for i in 0..<(count * width / 8) { storage.storeBytes(of: rng.next(), toByteOffset: i * 8, as: UInt64.self) }
    }

    @inline(__always)
    subscript(i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[(i * width)..<(i * width + width)])
    }

    /// The same keys in the order `permutation` gives, back to back in a new buffer.
    init(_ other: KeySet, permutation: [Int]) {
        width = other.width
        count = other.count
        storage = .allocate(byteCount: count * width, alignment: 8)
        for (i, j) in permutation.enumerated() {
            UnsafeMutableRawBufferPointer(rebasing: storage[(i * width)..<(i * width + width)]).copyMemory(from: other[j])
        }
    }

    func arrays() -> [[UInt8]] { (0..<count).map { Array(self[$0]) } }
}

/// The keys of a benchmark run: `keys` in insertion order, `queries` the same keys shuffled (lookups,
/// overwrites and deletes read them, so that they hit the map in an order unrelated to insertion),
/// `misses` other random keys, `values` one per key. All 16 bytes, in flat buffers read in order.
struct BenchKeys: Sendable {
    let keys: KeySet
    let queries: KeySet
    let misses: KeySet
    let values: KeySet

    init(count: Int) {
        keys = KeySet(count: count, width: 16, seed: 1)
        queries = KeySet(keys, permutation: shuffledIndices(count, seed: 4))
        misses = KeySet(count: count, width: 16, seed: 2)
        values = KeySet(count: count, width: 16, seed: 3)
    }
}

/// A random permutation of 0..<n.
func shuffledIndices(_ n: Int, seed: UInt64) -> [Int] {
    var rng = SplitMix64(seed: seed)
    var a = Array(0..<n)
    a.shuffle(using: &rng)
    return a
}

/// Keeps results alive so the optimizer cannot drop the work.
@inline(never) func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

/// One side's figures in a comparison: ns per operation by name, and bytes per entry.
struct Side {
    var ns: [String: Double] = [:]
    var bytesPerEntry = 0.0
}

/// The operations every comparison reports, in table order.
let comparedOperations = ["insert", "lookup hit", "lookup miss", "overwrite", "delete", "mixed 80/20"]

func comparisonRows(keys: Int, threads: Int, ours: Side, theirs: Side) -> [Row] {
    comparedOperations.map {
        Row(op: $0, keys: keys, threads: threads, ours: ours.ns[$0]!, theirs: theirs.ns[$0]!,
            oursBytes: ours.bytesPerEntry, theirsBytes: theirs.bytesPerEntry)
    }
}

struct Row {
    let op: String
    let keys: Int
    let threads: Int
    let ours: Double
    let theirs: Double
    let oursBytes: Double
    let theirsBytes: Double
}

func printTable(_ title: String, _ theirName: String, _ rows: [Row], csv: Bool, withThreads: Bool) {
    if csv {
        for r in rows {
            let t = withThreads ? "\(r.threads)," : ""
            print("\(r.op),\(t)\(r.keys),\(fmt(r.ours, 1)),\(fmt(r.theirs, 1)),\(fmt(r.oursBytes, 1)),\(fmt(r.theirsBytes, 1))")
        }
        return
    }
    print(title)
    let header = ["operation", "keys"] + (withThreads ? ["threads"] : [])
        + ["ours ns/op", "\(theirName) ns/op", "speed-up", "ours B/entry", "\(theirName) B/entry"]
    var lines = [header]
    for r in rows {
        lines.append([r.op, "\(r.keys)"] + (withThreads ? ["\(r.threads)"] : [])
            + [fmt(r.ours, 1), fmt(r.theirs, 1), fmt(r.theirs / r.ours, 2) + "x", fmt(r.oursBytes, 1), fmt(r.theirsBytes, 1)])
    }
    let widths = (0..<header.count).map { c in lines.map { $0[c].count }.max()! }
    for (i, l) in lines.enumerated() {
        print(l.enumerated().map { c, s in c < 2 ? s + String(repeating: " ", count: widths[c] - s.count)
            : String(repeating: " ", count: widths[c] - s.count) + s }.joined(separator: "  "))
        if i == 0 { print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
    }
    print()
}

func fmt(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return "-" }
    var s = String(Int((v * pow(10, Double(digits))).rounded()))
    if digits > 0 {
        while s.count <= digits { s = "0" + s }
        s.insert(".", at: s.index(s.endIndex, offsetBy: -digits))
    }
    return s
}
