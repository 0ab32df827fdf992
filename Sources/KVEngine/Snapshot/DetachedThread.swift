import Glibc

/// Runs `body` on a new detached POSIX thread. For long or latency-bound work that must not wait for a
/// Dispatch worker: the global queues start no more busy threads than there are cores, so a block queued
/// behind busy ones can wait for seconds (measured: a checksum queued behind two busy writers on two cores
/// waited 70 s).
package func startThread(_ body: @escaping @Sendable () -> Void) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { arg in
        let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    precondition(rc == 0, "pthread_create failed: \(rc)")
    pthread_detach(thread)
}
