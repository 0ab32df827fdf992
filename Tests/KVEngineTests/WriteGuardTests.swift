import Testing
import KVEngine
import Dispatch

@Suite struct WriteGuardTests {
    @Test func writeDuringWriteTraps() async throws {
        let result = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let map = HashMap()
            map.simulateWriteInProgress()
            map.set([1], [2])
        }
        #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("concurrent map writes"))
    }

    @Test func readDuringWriteTraps() async throws {
        let result = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let map = HashMap()
            map.set([1], [2])
            map.simulateWriteInProgress()
            _ = map.value(forKey: [1])
        }
        #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("concurrent map read and map write"))
    }

    /// Two threads writing one map with no lock: the tripwire fires (within 20 s; in practice at once). The
    /// writes overwrite keys already there with values of the same length, which change bytes in place:
    /// inserts racing could corrupt the map (a growth started twice) and crash it some other way before
    /// the tripwire saw them, as happened once under a loaded full test run.
    @Test func unguardedConcurrentWritersTrap() async throws {
        let result = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            nonisolated(unsafe) let map = HashMap()
            for t in 0..<2 { for i in 0..<256 { map.set([UInt8(t), UInt8(i)], [0]) } }
            DispatchQueue.concurrentPerform(iterations: 2) { t in
                var i = 0
                let deadline = DispatchTime.now().uptimeNanoseconds + 20_000_000_000
                while DispatchTime.now().uptimeNanoseconds < deadline {
                    map.set([UInt8(t), UInt8(truncatingIfNeeded: i)], [UInt8(truncatingIfNeeded: i)])
                    i += 1
                }
            }
        }
        #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("concurrent map"))
    }
}
