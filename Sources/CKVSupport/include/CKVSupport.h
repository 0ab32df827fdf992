#ifndef CKVSUPPORT_H
#define CKVSUPPORT_H
// Declarations Swift's Glibc module leaves out: malloc.h (the engine's memory figures), epoll and
// eventfd (the server's event loops), accept4 (non-blocking accept in one call), TCP options,
// sync_file_range (snapshots written back as they are written), a prefetch hint.
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
/// The bytes all maps' arenas hold free, process-wide (exact to 16 KiB per thread): `delta` is added.
void kv_arena_idle_add(long delta);
long kv_arena_idle_bytes(void);

/// A hint that `p`'s cache line will be read soon (eviction's probation queue knows its next victims'
/// hashes ahead of time). Never faults.
static inline void kv_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
#endif
