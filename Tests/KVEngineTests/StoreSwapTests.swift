import Synchronization
import Testing
import KVEngine

/// SWAPDB's engine side: two stores sharing a shard seed exchange their contents whole (values, expiries,
/// growth state), both verify, writers keep working on both, and observers hear `swapped` with the keys of
/// either database.
struct StoreSwapTests {
    final class Heard: KeyspaceObserver, @unchecked Sendable {
        let kinds = Mutex<[KeyspaceChange.Kind]>([])
        let probe = Mutex<[Bool]>([])
        func keyspaceDidChange(_ change: KeyspaceChange) {
            kinds.withLock { $0.append(change.kind) }
            if change.kind == .swapped {
                let answers = ["only-a", "only-b", "nowhere"].map { k in Array(k.utf8).withUnsafeBytes { change.containsKey!($0) } }
                probe.withLock { $0 = answers }
            }
        }
    }

    @Test func swapExchangesEverything() throws {
        let a = Store(shardCount: 4, shardSeed: 42, index: 0), b = Store(shardCount: 4, shardSeed: 42, index: 1)
        // Enough keys that some maps are growing at the moment of the swap.
        for i in 0..<5000 { try a.set(Array("a\(i)".utf8), Array("x".utf8)) }
        for i in 0..<300 { try b.set(Array("b\(i)".utf8), Array("y".utf8)) }
        try a.set(Array("only-a".utf8), [1])
        try b.set(Array("only-b".utf8), [2], SetOptions(expiry: .at(b.now + 100_000)))
        let heard = Heard()
        a.addObserver(heard)
        #expect(a.swapContents(with: b))
        #expect(a.count == 301 && b.count == 5001)
        #expect(try a.get(Array("b7".utf8)) == Array("y".utf8) && (try b.get(Array("a4999".utf8))) == Array("x".utf8))
        #expect(Array("only-b".utf8).withUnsafeBytes { a.expiryTime($0) } > 0)
        #expect(a.verify() == nil && b.verify() == nil)
        #expect(heard.kinds.withLock { $0 } == [.swapped])
        #expect(heard.probe.withLock { $0 } == [true, true, false])
        // The maps carry their new store's hook: a write to `a` is heard by a's observer, one to `b` is not.
        try a.set(Array("after".utf8), [3])
        try b.set(Array("after".utf8), [4])
        #expect(heard.kinds.withLock { $0 } == [.swapped, .written])
        for i in 0..<2000 { try b.set(Array("more\(i)".utf8), [5]) }
        #expect(a.verify() == nil && b.verify() == nil)
    }
}
