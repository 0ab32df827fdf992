import Testing
import KVEngine

/// Randomized runs of the Store's string and key-space operations against a model of Redis' semantics,
/// on a manual clock that moves between operations: keys get expiries a few milliseconds ahead, so they
/// expire while the run goes on and writes meet entries whose time has passed (the SETRANGE-on-an-
/// expired-key corruption). The verifier runs after every step.
@Suite struct StoreModelTests {
    /// The model: live values and expiries; an entry whose expiry has passed is as good as absent.
    struct Model {
        var entries: [[UInt8]: (value: [UInt8], expiry: Int64?)] = [:]

        func live(_ k: [UInt8], _ now: Int64) -> (value: [UInt8], expiry: Int64?)? {
            guard let e = entries[k] else { return nil }
            if let x = e.expiry, x <= now { return nil }
            return e
        }

        func liveKeys(_ now: Int64) -> Set<[UInt8]> { Set(entries.keys.filter { live($0, now) != nil }) }
    }

    /// Rebuilds the keyspace from nothing but the changes observers hear: after every step it must hold
    /// exactly the entries the store holds (expired ones not yet removed included), so every change must
    /// have been told, in the order it was applied.
    final class Replica: KeyspaceObserver, @unchecked Sendable {
        var entries: [[UInt8]: (value: [UInt8], expiry: Int64?)] = [:]
        var counts: [KeyspaceChange.Kind: Int] = [:]
        /// Command writes whose operation did not say what they were (keyspace notifications need it).
        var unnamed = 0

        func keyspaceDidChange(_ change: KeyspaceChange) {
            counts[change.kind, default: 0] += 1
            if (change.kind == .written || change.kind == .removed) && change.event == nil { unnamed += 1 }
            let key = Array(change.key)
            switch change.kind {
            case .written: entries[key] = (Array(change.value!.bytes), change.expiry)
            case .removed, .expired:
                precondition(entries[key] != nil, "a removal of a key the replica does not hold")
                entries[key] = nil
            case .flushed, .swapped: entries.removeAll()
            }
        }
    }

    @discardableResult
    func run(seed: UInt64, steps: Int, keyCount: Int, observed: Bool = false) -> [KeyspaceChange.Kind: Int] {
        var rng = SplitMix64(seed: seed)
        let clock = ManualClock()
        let store = Store(shardCount: 4, clock: { clock.now })  // random map seeds: emptied maps reseed
        var model = Model()
        let replica = Replica()
        if observed { store.addObserver(replica) }
        let keys = (0..<keyCount).map { bytes("k\($0)") }
        func pick() -> [UInt8] { keys[Int(rng.next() % UInt64(keys.count))] }
        func value() -> [UInt8] { (0..<Int(rng.next() % 6)).map { _ in UInt8(ascii: "a") + UInt8(rng.next() % 3) } }
        /// An expiry from just past to a few milliseconds ahead: most keys expire within a few steps.
        func soon(_ now: Int64) -> Int64 { now + Int64(rng.next() % 8) - 1 }

        for step in 0..<steps {
            clock.advance(Int64(rng.next() % 3))
            let now = clock.now
            let k = pick()
            let live = model.live(k, now)
            let context = "seed \(seed) step \(step)"
            switch rng.next() % 17 {
            case 0:
                let v = value()
                let x: Int64? = rng.next() % 2 == 0 ? soon(now) : nil
                try! store.set(k, v, SetOptions(expiry: x.map { .at($0) } ?? .clear))
                model.entries[k] = x.map { $0 <= now } == true ? nil : (v, x)
            case 1:
                let v = value()
                let outcome = try! store.set(k, v, SetOptions(condition: .ifPresent, expiry: .keep, returnOld: true))
                #expect(outcome.oldValue == live?.value, "\(context): SET XX KEEPTTL GET")
                if let live { model.entries[k] = (v, live.expiry) }
            case 2:
                let v = value()
                let offset = Int(rng.next() % 4)
                let r = k.withUnsafeBytes { kb in v.withUnsafeBytes { store.setRange(kb, offset: offset, $0) } }
                var current = live?.value ?? []
                if !v.isEmpty {
                    if current.count < offset + v.count { current += [UInt8](repeating: 0, count: offset + v.count - current.count) }
                    current.replaceSubrange(offset..<offset + v.count, with: v)
                    model.entries[k] = (current, live?.expiry)
                }
                #expect((try? r.get()) == current.count, "\(context): SETRANGE")
            case 3:
                let v = value()
                let r = k.withUnsafeBytes { kb in v.withUnsafeBytes { store.append(kb, $0) } }
                let current = (live?.value ?? []) + v
                model.entries[k] = (current, live?.expiry)
                #expect((try? r.get()) == current.count, "\(context): APPEND")
            case 4:
                let r = store.increment(k, by: 3)
                if let live {
                    if let n = Int64(String(decoding: live.value, as: UTF8.self)), !live.value.isEmpty,
                       live.value.first != UInt8(ascii: "+")
                    {
                        #expect((try? r.get()) == n + 3, "\(context): INCRBY")
                        model.entries[k] = (bytes(String(n + 3)), live.expiry)
                    } else {
                        #expect((try? r.get()) == nil, "\(context): INCRBY on a non-integer")
                    }
                } else {
                    #expect((try? r.get()) == 3, "\(context): INCRBY on an absent key")
                    model.entries[k] = (bytes("3"), nil)
                }
            case 5:
                let x = soon(now)
                let done = k.withUnsafeBytes { store.expire($0, at: x) }
                #expect(done == (live != nil), "\(context): PEXPIREAT")
                if let live { model.entries[k] = x <= now ? nil : (live.value, x) }
            case 6:
                let done = k.withUnsafeBytes { store.persist($0) }
                #expect(done == (live?.expiry != nil), "\(context): PERSIST")
                if let live { model.entries[k] = (live.value, nil) }
            case 7:
                let change: GetExpiryChange = rng.next() % 2 == 0 ? .persist : .at(soon(now))
                let got = k.withUnsafeBytes { try! store.getAndChangeExpiry($0, change) }
                #expect(got == live?.value, "\(context): GETEX")
                if let live {
                    switch change {
                    case .persist: model.entries[k] = (live.value, nil)
                    case .at(let t): model.entries[k] = t <= now ? nil : (live.value, t)
                    }
                }
            case 8:
                let destination = pick()
                let onlyIfAbsent = rng.next() % 3 == 0
                let r = k.withUnsafeBytes { s in destination.withUnsafeBytes { store.rename(s, to: $0, onlyIfAbsent: onlyIfAbsent) } }
                if let live {
                    let placed = k == destination ? !onlyIfAbsent : !(onlyIfAbsent && model.live(destination, now) != nil)
                    #expect((try? r.get()) == placed, "\(context): RENAME")
                    if placed && k != destination {
                        model.entries[destination] = live
                        model.entries[k] = nil
                    }
                } else {
                    #expect((try? r.get()) == nil, "\(context): RENAME of an absent key")
                }
            case 9:
                let pairs = [(k, value()), (pick(), value())]
                let done = pairs.map(\.0).withUnsafeBufferPointers { ks in
                    pairs.map(\.1).withUnsafeBufferPointers { vs in store.setManyIfNoneExist(Array(zip(ks, vs))) }
                }
                let expected = pairs.allSatisfy { model.live($0.0, now) == nil }
                #expect(done == expected, "\(context): MSETNX")
                if expected { for (pk, pv) in pairs { model.entries[pk] = (pv, nil) } }
            case 10:
                #expect(k.withUnsafeBytes { try! store.getAndDelete($0) } == live?.value, "\(context): GETDEL")
                model.entries[k] = nil
            case 11:
                #expect(store.delete(k) == (live != nil), "\(context): DEL")
                model.entries[k] = nil
            case 12:
                let ttl = k.withUnsafeBytes { store.timeToLive($0) }
                #expect(ttl == (live.map { $0.expiry.map { $0 - now } ?? -1 } ?? -2), "\(context): PTTL")
            case 13:
                let r = k.withUnsafeBytes { store.increment($0, byFloat: 1.5) }
                if let live {
                    if let d = Double(String(decoding: live.value, as: UTF8.self)), !live.value.isEmpty,
                       live.value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: ".") }),
                       d.isFinite
                    {
                        if case .success(let text) = r { model.entries[k] = (text, live.expiry) }
                        else { Issue.record("\(context): INCRBYFLOAT of \(live.value) failed") }
                    }
                } else {
                    #expect((try? r.get()) == bytes("1.5"), "\(context): INCRBYFLOAT on an absent key")
                    model.entries[k] = (bytes("1.5"), nil)
                }
            case 14:
                #expect(try! store.get(k) == live?.value, "\(context): GET")
            case 15:
                if rng.next() % 50 == 0 {
                    store.flush(async: rng.next() % 2 == 0)
                    model.entries.removeAll()
                } else {
                    store.activeExpireCycle()
                }
            default:
                let found = Set(store.keys(matching: GlobPattern(bytes("*"))))
                #expect(found == model.liveKeys(now), "\(context): KEYS *")
            }
            if let v = store.verify() {
                Issue.record("\(context): the store is broken after the step: \(v)")
                return replica.counts
            }
            if observed {
                // Every entry the store holds (expired or not), as the changes told it, and nothing else.
                let live = replica.entries.filter { $0.value.expiry.map { $0 > now } ?? true }
                guard replica.entries.count == store.count, Set(live.keys) == model.liveKeys(now),
                      live.allSatisfy({ model.live($0.key, now)! == $0.value }) else {
                    Issue.record("\(context): the changes observers heard do not rebuild the store (\(replica.entries.count) entries vs \(store.count))")
                    return replica.counts
                }
                if replica.unnamed > 0 {
                    Issue.record("\(context): a command's change did not say what it was (its keyspace event)")
                    return replica.counts
                }
            }
            // Spot-check one key per step, and what every key holds now and then.
            let probe = pick()
            if try! store.get(probe) != model.live(probe, now)?.value {
                Issue.record("\(context): \(String(decoding: probe, as: UTF8.self)) disagrees with the model")
                return replica.counts
            }
            if step % 1000 == 999 {
                for key in keys {
                    #expect(key.withUnsafeBytes { store.expiryTime($0) } == (model.live(key, now).map { $0.expiry ?? -1 } ?? -2))
                }
            }
        }
        return replica.counts
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func fewKeysExpiringMidRun(seed: UInt64) {
        run(seed: seed, steps: 40_000, keyCount: 6)
    }

    @Test(arguments: [UInt64(11), 12])
    func manyKeysExpiringMidRun(seed: UInt64) {
        run(seed: seed, steps: 60_000, keyCount: 300)
    }

    /// The one change path: a mixed randomized run (writes, removals, lazy and active expiry, flushes) with
    /// an observer that rebuilds the keyspace from what it hears, checked after every step.
    @Test(arguments: [UInt64(21), 22, 23])
    func observersHearEveryChangeInOrder(seed: UInt64) {
        let counts = run(seed: seed, steps: 30_000, keyCount: 40, observed: true)
        // Every kind of change happened, and was heard.
        for kind in [KeyspaceChange.Kind.written, .removed, .expired, .flushed] {
            #expect(counts[kind, default: 0] > 0, "no \(kind) change was heard")
        }
    }
}

extension Array where Element == [UInt8] {
    /// The arrays' bytes as buffer pointers, valid inside `body` only.
    func withUnsafeBufferPointers<R>(_ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R {
        func go(_ i: Int, _ acc: [UnsafeRawBufferPointer]) throws -> R {
            if i == count { return try body(acc) }
            return try self[i].withUnsafeBytes { try go(i + 1, acc + [$0]) }
        }
        return try go(0, [])
    }
}
