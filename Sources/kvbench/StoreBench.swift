import Dispatch
import Glibc
import KVEngine

// kvbench store: the Store (16 shards, one rwlock each) beside a Dictionary<[UInt8], [UInt8]> behind one
// pthread rwlock, the simplest thread-safe store Swift offers, on the same keys, from 1 and 2 threads.
// Each thread works on its own slice of the keys; ns/op is wall time over all operations of all threads,
// so perfect scaling halves it from 1 to 2 threads.

final class LockedDictionary: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
    private var dict: [[UInt8]: [UInt8]] = [:]

    init() { pthread_rwlock_init(lock, nil) }
    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func get(_ key: [UInt8]) -> Int? {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return dict[key]?.count
    }

    func set(_ key: [UInt8], _ value: [UInt8]) {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        dict[key] = value
    }

    func remove(_ key: [UInt8]) {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        dict[key] = nil
    }

    var isEmpty: Bool { dict.isEmpty }
}

struct StoreBench {
    let data: BenchKeys
    let threadCounts: [Int]
    let shardCount: Int

    /// Runs `body(thread, index)` over a contiguous slice of the key buffers per thread (see MapBench.swift
    /// for why the buffers are read in order); returns wall ns per operation.
    func timed(_ threads: Int, _ body: @escaping @Sendable (Int, Int) -> Void) -> Double {
        let n = data.keys.count
        let t = monotonicNanoseconds()
        DispatchQueue.concurrentPerform(iterations: threads) { th in
            for i in (n * th / threads)..<(n * (th + 1) / threads) { body(th, i) }
        }
        return Double(monotonicNanoseconds() - t) / Double(n)
    }

    func run() -> [Row] {
        var rows: [Row] = []
        let (keys, queries, misses, values) = (data.keys, data.queries, data.misses, data.values)
        let n = keys.count
        let lookupKeys = queries.arrays()
        let missKeys = misses.arrays()
        for threads in threadCounts {
            var ours = Side()
            var theirs = Side()
            do {
                let before = heldMemory()
                let store = Store(shardCount: shardCount)
                ours.ns["insert"] = timed(threads) { _, i in try! store.set(keys[i], values[i]) }
                ours.bytesPerEntry = Double(heldMemory() - before) / Double(n)
                ours.ns["lookup hit"] = timed(threads) { _, i in blackHole(try! store.withValue(queries[i]) { $0.count }) }
                ours.ns["lookup miss"] = timed(threads) { _, i in blackHole(try! store.withValue(misses[i]) { $0.count }) }
                ours.ns["overwrite"] = timed(threads) { _, i in try! store.set(queries[i], values[i]) }
                ours.ns["mixed 80/20"] = timed(threads) { _, i in
                    if (i &* 0x9E37_79B9) & 0xff < 51 { try! store.set(queries[i], values[i]) } else { blackHole(try! store.withValue(queries[i]) { $0.count }) }
                }
                ours.ns["delete"] = timed(threads) { _, i in blackHole(store.delete(queries[i])) }
                precondition(store.count == 0)
            }
            do {
                let before = heldMemory()
                let dict = LockedDictionary()
                theirs.ns["insert"] = timed(threads) { _, i in dict.set(Array(keys[i]), Array(values[i])) }
                theirs.bytesPerEntry = Double(heldMemory() - before) / Double(n)
                theirs.ns["lookup hit"] = timed(threads) { _, i in blackHole(dict.get(lookupKeys[i])) }
                theirs.ns["lookup miss"] = timed(threads) { _, i in blackHole(dict.get(missKeys[i])) }
                theirs.ns["overwrite"] = timed(threads) { _, i in dict.set(Array(queries[i]), Array(values[i])) }
                theirs.ns["mixed 80/20"] = timed(threads) { _, i in
                    if (i &* 0x9E37_79B9) & 0xff < 51 { dict.set(Array(queries[i]), Array(values[i])) } else { blackHole(dict.get(lookupKeys[i])) }
                }
                theirs.ns["delete"] = timed(threads) { _, i in dict.remove(lookupKeys[i]) }
                precondition(dict.isEmpty)
            }
            rows += comparisonRows(keys: n, threads: threads, ours: ours, theirs: theirs)
        }
        return rows
    }
}
