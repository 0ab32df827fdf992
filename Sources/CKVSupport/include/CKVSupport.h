#ifndef CKVSUPPORT_H
#define CKVSUPPORT_H
// Declarations Swift's Glibc module leaves out: malloc.h (the engine's memory figures), epoll and
// eventfd (the server's event loops), accept4 (non-blocking accept in one call), TCP options,
// sync_file_range (snapshots written back as they are written), a prefetch hint, and the io_uring
// back end's ring.
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <netinet/tcp.h>

/// accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC): Glibc declares accept4 only under _GNU_SOURCE.
int kv_accept_nonblocking(int fd, void *addr, unsigned int *len);

/// sync_file_range(2) (Glibc declares it only under _GNU_SOURCE): starts writeback of the byte range, and
/// with `wait` first waits for any writeback of it already under way and then for this one.
int kv_sync_file_range(int fd, long long offset, long long length, int wait);

/// The calling thread's kernel id (gettid(2); Glibc's Swift module does not export SYS_gettid).
int kv_gettid(void);
/// Bytes in malloc blocks, as the kvserver executable's allocation counter has them (CAllocCount), or -1
/// where no counter is linked (tests, tools).
long kv_counted_allocation_bytes(void);
/// The bytes all maps' arenas hold free, process-wide (exact to 16 KiB per thread): `delta` is added to
/// the thread's own count, spilled into the shared total past 16 KiB either way; a thread's first add
/// registers it, so that what it holds is spilled at its exit. Inline: it runs on every delete, where a
/// call's instructions cost the map the overlap of one delete's cache misses with the next.
extern __thread long kv_arena_idle_local;
extern __thread int kv_arena_idle_registered;
void kv_arena_idle_spill(long x);
static inline void kv_arena_idle_add(long delta) {
    long x = kv_arena_idle_local + delta;
    if (__builtin_expect(x > 16384 || x < -16384 || !kv_arena_idle_registered, 0)) kv_arena_idle_spill(x);
    else kv_arena_idle_local = x;
}
long kv_arena_idle_bytes(void);
/// Whether the calling thread's count will be spilled at its exit (tests).
int kv_arena_idle_thread_registered(void);

/// A hint that `p`'s cache line will be read soon (eviction's probation queue knows its next victims'
/// hashes ahead of time). Never faults.
static inline void kv_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

// MARK: io_uring (uring.c): the io_uring back end's ring, on raw system calls.

struct kv_uring;

/// One ring with a provided-buffer ring of `nbufs` (a power of two) buffers of `bufsize` bytes. NULL with
/// `*error` set (errno) when the kernel has no usable io_uring (too old, or disabled by seccomp or sysctl).
struct kv_uring *kv_uring_create(unsigned entries, unsigned nbufs, unsigned bufsize, int *error);
void kv_uring_destroy(struct kv_uring *ring);
/// Queue one request, to be submitted by the next kv_uring_enter; -1 when the submission ring is full.
/// A multishot receive into the provided buffers; completes once per arrival while IORING_CQE_F_MORE.
int kv_uring_recv_multishot(struct kv_uring *ring, int fd, unsigned long long tag);
int kv_uring_send(struct kv_uring *ring, int fd, const void *bytes, unsigned length, unsigned long long tag);
/// A poll for `events` (POLLIN: listeners, the wake-up eventfd; POLLOUT: a full socket), multishot or once.
int kv_uring_poll(struct kv_uring *ring, int fd, unsigned events, int multishot, unsigned long long tag);
/// Cancels every request on `fd`; the cancel itself posts no completion when it succeeds.
int kv_uring_cancel_fd(struct kv_uring *ring, int fd, unsigned long long tag);
/// Submits what is queued and waits up to `timeout_ms` for `wait` completions, or, once `min_wait_usec`
/// has passed (Linux 6.12+; ignored before), for any one. Submitted count or -errno (-ETIME: timed out).
int kv_uring_enter(struct kv_uring *ring, unsigned wait, int timeout_ms, unsigned min_wait_usec);

struct kv_uring_completion {
    unsigned long long tag;
    int result;
    unsigned flags;
};
enum { KV_URING_F_BUFFER = 1, KV_URING_F_MORE = 2 };
/// Copies up to `max` completions out and frees their slots.
unsigned kv_uring_reap(struct kv_uring *ring, struct kv_uring_completion *out, unsigned max);
/// The provided buffer a receive completion with KV_URING_F_BUFFER filled, and its return to the kernel.
const void *kv_uring_buffer(struct kv_uring *ring, unsigned flags);
void kv_uring_recycle(struct kv_uring *ring, unsigned flags);
#endif
