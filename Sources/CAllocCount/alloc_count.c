// Counting allocations: what `used_memory` and the memory limit read (docs/memory.md).
//
// kvserver replaces malloc, free, calloc, realloc and the aligned allocators with thin wrappers over
// glibc's own (__libc_malloc and friends, exported for this purpose): each adds or subtracts the block's
// usable size (malloc_usable_size, the bytes the block really takes but its 8-byte header), as Redis'
// zmalloc counts. Everything the process allocates through malloc is counted — entries outside the
// arena, arena pages below 2 MiB, small bucket arrays, value objects, Swift's own objects, client
// buffers — without a system call and without walking malloc's arenas as mallinfo2 does (which takes
// its locks: too slow to ask before every command).
//
// Each thread adds to its own counter and moves it into the shared total once it passes 16 KiB either
// way, so an allocation costs a thread-local add, and the total is exact to 16 KiB per thread. A thread's
// remainder is moved at its exit (a pthread key's destructor, armed at the thread's first count and again
// for each of glibc's destructor rounds, for what other keys' destructors free), so threads that come and
// go (Dispatch's workers, savers) leave no drift. (It used to be armed at a thread's first move past 16
// KiB only, and a thread that never got there took up to 16 KiB of the count with it.)
//
// Only the kvserver executable links this file. Symbols defined in the executable take precedence over
// libc's for every shared library too (Swift's runtime, Foundation), which is glibc's documented way to
// replace malloc; the tests and tools that link the engine alone keep glibc's malloc, and the engine
// then falls back to mallinfo2 (KVEngine/Memory.swift).
#include <errno.h>
#include <malloc.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <unistd.h>
#include "CAllocCount.h"

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

#define FLUSH_BYTES 16384

static _Atomic long total;
static __thread long local;
static __thread int registered;
static pthread_key_t exitKey;
static _Atomic int exitKeyReady;

static __thread int exitRounds;

static void flushAtExit(void *unused) {
    (void)unused;
    atomic_fetch_add_explicit(&total, local, memory_order_relaxed);
    local = 0;
    if (++exitRounds < PTHREAD_DESTRUCTOR_ITERATIONS) pthread_setspecific(exitKey, (void *)1);
}

__attribute__((constructor)) static void setUp(void) {
    if (pthread_key_create(&exitKey, flushAtExit) == 0) atomic_store(&exitKeyReady, 1);
}

static inline void count(long delta) {
    long x = local + delta;
    if (__builtin_expect(x > FLUSH_BYTES || x < -FLUSH_BYTES || !registered, 0)) {
        atomic_fetch_add_explicit(&total, x, memory_order_relaxed);
        x = 0;
        if (!registered && atomic_load_explicit(&exitKeyReady, memory_order_relaxed)) {
            registered = 1;  // before the call: pthread_setspecific may allocate
            pthread_setspecific(exitKey, (void *)1);
        }
    }
    local = x;
}

long kv_alloc_counted_bytes(void) {
    return atomic_load_explicit(&total, memory_order_relaxed) + local;
}

void *malloc(size_t n) {
    void *p = __libc_malloc(n);
    if (p) count((long)malloc_usable_size(p));
    return p;
}

void free(void *p) {
    if (!p) return;
    count(-(long)malloc_usable_size(p));
    __libc_free(p);
}

void *calloc(size_t n, size_t size) {
    void *p = __libc_calloc(n, size);
    if (p) count((long)malloc_usable_size(p));
    return p;
}

void *realloc(void *p, size_t n) {
    long old = p ? (long)malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (q) count((long)malloc_usable_size(q) - old);
    else if (p && n == 0) count(-old);  // glibc's realloc(p, 0) frees p
    return q;
}

void *memalign(size_t alignment, size_t n) {
    void *p = __libc_memalign(alignment, n);
    if (p) count((long)malloc_usable_size(p));
    return p;
}

void *aligned_alloc(size_t alignment, size_t n) { return memalign(alignment, n); }

int posix_memalign(void **out, size_t alignment, size_t n) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = memalign(alignment, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n) { return memalign((size_t)sysconf(_SC_PAGESIZE), n); }

void *pvalloc(size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return memalign(page, (n + page - 1) & ~(page - 1));
}
