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
// 16 KiB either way (and at its exit), as the allocation counter does (CAllocCount).
#include <pthread.h>
#include <stdatomic.h>

static _Atomic long arenaIdleTotal;
__thread long kv_arena_idle_local;
static __thread int arenaIdleRegistered;
static pthread_key_t arenaIdleExitKey;
static pthread_once_t arenaIdleOnce = PTHREAD_ONCE_INIT;

static void arenaIdleFlush(void *unused) {
    (void)unused;
    atomic_fetch_add_explicit(&arenaIdleTotal, kv_arena_idle_local, memory_order_relaxed);
    kv_arena_idle_local = 0;
}

static void arenaIdleMakeKey(void) { pthread_key_create(&arenaIdleExitKey, arenaIdleFlush); }

void kv_arena_idle_spill(long x) {
    atomic_fetch_add_explicit(&arenaIdleTotal, x, memory_order_relaxed);
    kv_arena_idle_local = 0;
    if (!arenaIdleRegistered) {
        arenaIdleRegistered = 1;
        pthread_once(&arenaIdleOnce, arenaIdleMakeKey);
        pthread_setspecific(arenaIdleExitKey, (void *)1);
    }
}

long kv_arena_idle_bytes(void) {
    return atomic_load_explicit(&arenaIdleTotal, memory_order_relaxed) + kv_arena_idle_local;
}
