import KVEngine

// kvbench map: HashMap beside Dictionary<[UInt8], [UInt8]> on the same keys, in one run.
//
// Both start from key and value bytes in a buffer, as a server has them after parsing a request: our map
// copies them into its entry, Dictionary gets two new arrays. Lookups hand Dictionary pre-built key
// arrays (distinct buffers from the stored keys), so its figures do not include building them: that
// favours Dictionary. Bytes per entry are the allocator's in-use bytes after the inserts, minus before,
// over the key count: key and value data included (regions the engine maps itself are added).
//
// Every phase reads its keys from a buffer in order (the buffers stream through the cache, so the figures
// are the maps' costs, not misses on the benchmark's own key list), but lookups, overwrites and deletes
// read `queries`: the same keys shuffled against insertion order, since a map that lays entries out in
// insertion order (ours does) would otherwise get its entries prefetched for free. Overwrite: every key
// set again to a value of the same length. Mixed: each query in turn is looked up (80%) or overwritten
// (20%), chosen at random.

struct MapBench {
    let data: BenchKeys
    /// Skip the Dictionary side (its columns print as nan): a profile of the run is then the map's alone.
    var oursOnly = false

    func run() -> [Row] {
        let (keys, queries, misses, values) = (data.keys, data.queries, data.misses, data.values)
        let n = keys.count
        var ours = Side()
        var theirs = Side()

        do {
            let before = heldMemory()
            var t = monotonicNanoseconds()
            let map = HashMap()
            for i in 0..<n { map.set(keys[i], values[i]) }
            ours.ns["insert"] = Double(monotonicNanoseconds() - t) / Double(n)
            ours.bytesPerEntry = Double(heldMemory() - before) / Double(n)
            t = monotonicNanoseconds()
            var sum = 0
            for i in 0..<n { sum &+= map.withValue(forKey: queries[i]) { v, _ in v.count } ?? 0 }
            ours.ns["lookup hit"] = Double(monotonicNanoseconds() - t) / Double(n)
            precondition(sum == 16 * n, "lookups missed")

            t = monotonicNanoseconds()
            for i in 0..<n { sum &+= map.withValue(forKey: misses[i]) { v, _ in v.count } ?? 0 }
            ours.ns["lookup miss"] = Double(monotonicNanoseconds() - t) / Double(n)

            t = monotonicNanoseconds()
            for i in 0..<n { map.set(queries[i], values[i]) }
            ours.ns["overwrite"] = Double(monotonicNanoseconds() - t) / Double(n)

            t = monotonicNanoseconds()
            var rng = SplitMix64(seed: 5)
            for i in 0..<n {
                if rng.next() & 0xff < 205 {
                    sum &+= map.withValue(forKey: queries[i]) { v, _ in v.count } ?? 0
                } else {
                    map.set(queries[i], values[i])
                }
            }
            ours.ns["mixed 80/20"] = Double(monotonicNanoseconds() - t) / Double(n)

            t = monotonicNanoseconds()
            for i in 0..<n { map.remove(queries[i]) }
            ours.ns["delete"] = Double(monotonicNanoseconds() - t) / Double(n)
            precondition(map.isEmpty)
            blackHole(sum)
        }
        if oursOnly {
            for op in comparedOperations { theirs.ns[op] = .nan }
            theirs.bytesPerEntry = .nan
            return comparisonRows(keys: n, threads: 1, ours: ours, theirs: theirs)
        }

        do {
            let lookupKeys = queries.arrays()
            let missKeys = misses.arrays()
            let before = heldMemory()
            var t = monotonicNanoseconds()
            var dict: [[UInt8]: [UInt8]] = [:]
            for i in 0..<n { dict[Array(keys[i])] = Array(values[i]) }
            theirs.ns["insert"] = Double(monotonicNanoseconds() - t) / Double(n)
            theirs.bytesPerEntry = Double(heldMemory() - before) / Double(n)

            t = monotonicNanoseconds()
            var sum = 0
            for i in 0..<n { sum &+= dict[lookupKeys[i]]?.count ?? 0 }
            theirs.ns["lookup hit"] = Double(monotonicNanoseconds() - t) / Double(n)
            precondition(sum == 16 * n, "lookups missed")

            t = monotonicNanoseconds()
            for i in 0..<n { sum &+= dict[missKeys[i]]?.count ?? 0 }
            theirs.ns["lookup miss"] = Double(monotonicNanoseconds() - t) / Double(n)

            t = monotonicNanoseconds()
            for i in 0..<n { dict[Array(queries[i])] = Array(values[i]) }
            theirs.ns["overwrite"] = Double(monotonicNanoseconds() - t) / Double(n)

            t = monotonicNanoseconds()
            var rng = SplitMix64(seed: 5)
            for i in 0..<n {
                if rng.next() & 0xff < 205 {
                    sum &+= dict[lookupKeys[i]]?.count ?? 0
                } else {
                    dict[Array(queries[i])] = Array(values[i])
                }
            }
            theirs.ns["mixed 80/20"] = Double(monotonicNanoseconds() - t) / Double(n)

            t = monotonicNanoseconds()
            for i in 0..<n { dict[lookupKeys[i]] = nil }
            theirs.ns["delete"] = Double(monotonicNanoseconds() - t) / Double(n)
            precondition(dict.isEmpty)
            blackHole(sum)
        }

        return comparisonRows(keys: n, threads: 1, ours: ours, theirs: theirs)
    }
}
