import Synchronization

/// Pub/sub frames on their way to one subscriber from publishers on other threads. A publisher appends
/// (under the box's lock, which nobody holds for longer than an append or a swap); the first append after
/// the owner last emptied the box tells the publisher to wake the owner, which moves everything into the
/// connection's output in one go. So a burst of messages costs the subscriber's loop one wake-up.
///
/// Bytes waiting here count against the pubsub class' hard output limit: past it the frame is dropped and
/// the box marked; the owner then closes the connection, as Redis closes a subscriber that cannot keep up.
final class Mailbox: Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var scheduled = false
        var overflowed = false
    }
    private let state = Mutex(State())
    /// Something was posted since the owner last took the mail: read without the lock by the owner's own
    /// deliveries, which take the mail first only when there is some (set under the lock by `post`).
    private let pending = Atomic<Bool>(false)

    var hasMail: Bool { pending.load(ordering: .acquiring) }

    /// Appends `frame` (its first byte replaced by `>` for a RESP3 receiver). True when the owner must be
    /// woken to take the mail.
    func post(_ frame: UnsafeRawBufferPointer, push: Bool, limit: Int) -> Bool {
        state.withLock { s in
            if s.overflowed { return false }
            if limit > 0 && s.bytes.count + frame.count > limit {
                s.overflowed = true
                s.bytes = []
            } else {
                let start = s.bytes.count
                s.bytes += frame
                if push { s.bytes[start] = UInt8(ascii: ">") }
            }
            pending.store(true, ordering: .releasing)
            defer { s.scheduled = true }
            return !s.scheduled
        }
    }

    /// Empties the box (on the owner's thread). `overflowed`: frames were dropped; close the subscriber.
    func take() -> (bytes: [UInt8], overflowed: Bool) {
        state.withLock { s in
            defer {
                s.bytes = []
                s.scheduled = false
                pending.store(false, ordering: .relaxed)
            }
            return (s.bytes, s.overflowed)
        }
    }
}

extension Connection {
    /// Hands this client a frame from any thread (a pub/sub message, a MONITOR line): straight into its
    /// output when the caller runs on its owner's thread (after any mail waiting: nothing overtakes), else
    /// into its mailbox, waking the owner once. `push`: a pub/sub frame built with `*`, sent as `>` in RESP3.
    func deliver(_ frame: UnsafeRawBufferPointer, push: Bool, limit: Int) {
        guard let owner else { return }
        if owner.isCurrent {
            if mailbox.hasMail || closeAfterReply { guard takeMail() else { return } }
            writeFrame(frame, push: push)
            owner.outputWritten(self)
        } else if mailbox.post(frame, push: push && pushesAsResp3, limit: limit) {
            owner.resume(self) { self.takeMail() }
        }
    }
}
