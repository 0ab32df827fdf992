import Synchronization

// The concurrent-misuse tripwire (Go's hashWriting flag). A write sets `writing` after hashing and clears
// it at the end, checking on both sides that nobody else touched it; reads and iteration steps check that
// it is clear. Relaxed atomics: a plain load and store on x86, but the compiler may not drop or merge
// them, which it could with an ordinary stored property. It catches most races, not all: real safety
// comes from the Store's locks.

extension HashMap {
    @inline(__always)
    func beginWrite() {
        if writing.load(ordering: .relaxed) != 0 { fatalError("concurrent map writes") }
        writing.store(1, ordering: .relaxed)
    }

    @inline(__always)
    func endWrite() {
        if writing.load(ordering: .relaxed) != 1 { fatalError("concurrent map writes") }
        writing.store(0, ordering: .relaxed)
    }

    @inline(__always)
    func checkNoWriter() {
        if writing.load(ordering: .relaxed) != 0 { fatalError("concurrent map read and map write") }
    }

    @inline(__always)
    func checkNoWriterDuringIteration() {
        if writing.load(ordering: .relaxed) != 0 { fatalError("concurrent map iteration and map write") }
    }

    /// Test hook: marks a write as running, as a second thread in the middle of a write would.
    package func simulateWriteInProgress() { writing.store(1, ordering: .relaxed) }
}
