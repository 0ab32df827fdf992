import Glibc

// The clocks, in one place. Expiry is wall-clock time (milliseconds since the Unix epoch, as Redis keeps
// it and as snapshots store it); durations and timeouts are monotonic, so that a wall-clock step never
// stretches or shrinks them.

/// Milliseconds since the Unix epoch.
public func wallClockMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Milliseconds on the monotonic clock (timeouts, deadlines).
public func monotonicMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Microseconds on the monotonic clock (command durations: read twice per command, so inlined).
@inlinable @inline(__always)
public func monotonicMicroseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
}

/// Nanoseconds on the monotonic clock (benchmarks).
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
