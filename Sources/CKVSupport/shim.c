#define _GNU_SOURCE
#include <sys/socket.h>
#include "CKVSupport.h"

int kv_accept_nonblocking(int fd, void *addr, unsigned int *len) {
    return accept4(fd, (struct sockaddr *)addr, (socklen_t *)len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

#include <fcntl.h>

int kv_sync_file_range(int fd, long long offset, long long length, int wait) {
    unsigned int flags = SYNC_FILE_RANGE_WRITE;
    if (wait) flags |= SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WAIT_AFTER;
    return sync_file_range(fd, offset, length, flags);
}

#include <sys/syscall.h>
#include <unistd.h>

int kv_gettid(void) { return (int)syscall(SYS_gettid); }

// The kvserver executable links an allocation counter (CAllocCount); tests and tools that link the
// engine alone do not, and then this weak reference is null.
long kv_alloc_counted_bytes(void) __attribute__((weak));

long kv_counted_allocation_bytes(void) { return kv_alloc_counted_bytes ? kv_alloc_counted_bytes() : -1; }

// The bytes the maps' arenas hold free (freed blocks, unused page tails): memory the server has but is not
// using, which the memory limit counts as free, as Redis' used_memory leaves out jemalloc's free space
// (KVEngine/Memory.swift). Each thread adds to its own count and moves it into the shared total past
// 16 KiB either way, and at its exit, as the allocation counter does (CAllocCount). A thread registers
// for that at its first add: one that never reached 16 KiB (a worker that wrote a few keys into pages
// another thread added, or freed a few) would otherwise take its count with it, and the total drifted by
// up to 16 KiB per such thread (a test process ended 6 MB below zero, which stopped compaction).
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

static _Atomic long arenaIdleTotal;
__thread long kv_arena_idle_local;
__thread int kv_arena_idle_registered;
static __thread int arenaIdleExitRounds;
static pthread_key_t arenaIdleExitKey;
static pthread_once_t arenaIdleOnce = PTHREAD_ONCE_INIT;

static void arenaIdleFlush(void *unused) {
    (void)unused;
    atomic_fetch_add_explicit(&arenaIdleTotal, kv_arena_idle_local, memory_order_relaxed);
    kv_arena_idle_local = 0;
    // Other keys' destructors may still free arena blocks (a store a thread-local held): armed again for
    // glibc's next round, as many as it runs.
    if (++arenaIdleExitRounds < PTHREAD_DESTRUCTOR_ITERATIONS) pthread_setspecific(arenaIdleExitKey, (void *)1);
}

static void arenaIdleMakeKey(void) { pthread_key_create(&arenaIdleExitKey, arenaIdleFlush); }

void kv_arena_idle_spill(long x) {
    atomic_fetch_add_explicit(&arenaIdleTotal, x, memory_order_relaxed);
    kv_arena_idle_local = 0;
    if (!kv_arena_idle_registered) {
        kv_arena_idle_registered = 1;
        pthread_once(&arenaIdleOnce, arenaIdleMakeKey);
        pthread_setspecific(arenaIdleExitKey, (void *)1);
    }
}

long kv_arena_idle_bytes(void) {
    return atomic_load_explicit(&arenaIdleTotal, memory_order_relaxed) + kv_arena_idle_local;
}

int kv_arena_idle_thread_registered(void) { return kv_arena_idle_registered; }
