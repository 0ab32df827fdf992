// A minimal io_uring ring for the server's io_uring back end, on raw system calls (no liburing).
//
// One ring per event loop, created and entered only by that loop's thread (IORING_SETUP_SINGLE_ISSUER
// with DEFER_TASKRUN where the kernel has them: completions are produced only when the loop enters the
// kernel, so they never interrupt it). Submissions are queued into the shared submission ring and
// published with the next kv_uring_enter, which also waits for completions: one system call per loop
// iteration for every send, re-arm and wait together.
//
// Received bytes land in a provided-buffer ring (group 0): `nbufs` buffers of `bufsize` bytes that the
// kernel picks from as multishot receives complete. The loop copies a buffer's bytes out and hands it
// back at once (kv_uring_recycle), so few are outstanding at any time.
//
// Memory ordering follows the io_uring ABI: the SQ tail and buffer-ring tail are published with release
// stores after the entries are written; the CQ tail is read with an acquire load and the CQ head released
// after the entries are copied out.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <poll.h>
#include <unistd.h>
#include "CKVSupport.h"

struct kv_uring {
    int fd;
    int min_timeout;  // IORING_FEAT_MIN_TIMEOUT (6.12+): io_uring_getevents_arg.min_wait_usec is honoured
    unsigned sq_entries, sq_mask, sq_tail;  // sq_tail: next free slot, published at enter
    _Atomic unsigned *sq_khead, *sq_ktail;
    struct io_uring_sqe *sqes;
    unsigned cq_mask;
    _Atomic unsigned *cq_khead, *cq_ktail;
    struct io_uring_cqe *cqes;
    void *rings; size_t rings_size;
    void *sqes_map; size_t sqes_size;
    // Provided buffers.
    struct io_uring_buf_ring *br; size_t br_size;
    unsigned nbufs, bufsize;
    unsigned short br_tail;
    unsigned char *bufs;
};

static int uring_setup(unsigned entries, struct io_uring_params *p) {
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int uring_register(int fd, unsigned op, void *arg, unsigned n) {
    return (int)syscall(__NR_io_uring_register, fd, op, arg, n);
}

static void buffer_add(struct kv_uring *r, unsigned bid) {
    struct io_uring_buf *b = &r->br->bufs[r->br_tail & (r->nbufs - 1)];
    b->addr = (unsigned long)(r->bufs + (size_t)bid * r->bufsize);
    b->len = r->bufsize;
    b->bid = (unsigned short)bid;
    r->br_tail++;
}

static void buffer_publish(struct kv_uring *r) {
    atomic_store_explicit((_Atomic unsigned short *)&r->br->tail, r->br_tail, memory_order_release);
}

struct kv_uring *kv_uring_create(unsigned entries, unsigned nbufs, unsigned bufsize, int *error) {
    struct io_uring_params p;
    // Newest flags first; older kernels reject them with EINVAL.
    const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_COOP_TASKRUN, 0,
    };
    int fd = -1;
    for (unsigned i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        memset(&p, 0, sizeof p);
        p.flags = tries[i] | IORING_SETUP_CQSIZE;
        p.cq_entries = entries * 4;
        fd = uring_setup(entries, &p);
        if (fd >= 0 || errno != EINVAL) break;
    }
    if (fd < 0) { *error = errno; return NULL; }
    // One mapping for both rings (IORING_FEAT_SINGLE_MMAP, 5.4+), required here.
    if (!(p.features & IORING_FEAT_SINGLE_MMAP) || !(p.features & IORING_FEAT_EXT_ARG)) {
        close(fd); *error = ENOSYS; return NULL;
    }
    struct kv_uring *r = calloc(1, sizeof *r);
    r->fd = fd;
    r->min_timeout = (p.features & (1U << 15)) != 0;
    size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    r->rings_size = sq_size > cq_size ? sq_size : cq_size;
    r->rings = mmap(NULL, r->rings_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    r->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes_map = mmap(NULL, r->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (r->rings == MAP_FAILED || r->sqes_map == MAP_FAILED) { *error = errno; goto fail; }
    char *base = r->rings;
    r->sq_entries = p.sq_entries;
    r->sq_mask = *(unsigned *)(base + p.sq_off.ring_mask);
    r->sq_khead = (_Atomic unsigned *)(base + p.sq_off.head);
    r->sq_ktail = (_Atomic unsigned *)(base + p.sq_off.tail);
    r->sq_tail = *(unsigned *)r->sq_ktail;
    unsigned *array = (unsigned *)(base + p.sq_off.array);
    for (unsigned i = 0; i < p.sq_entries; i++) array[i] = i;  // slots are used in ring order
    r->sqes = r->sqes_map;
    r->cq_mask = *(unsigned *)(base + p.cq_off.ring_mask);
    r->cq_khead = (_Atomic unsigned *)(base + p.cq_off.head);
    r->cq_ktail = (_Atomic unsigned *)(base + p.cq_off.tail);
    r->cqes = (struct io_uring_cqe *)(base + p.cq_off.cqes);

    // The provided-buffer ring (5.19+): its entries, and the buffers they point at.
    r->nbufs = nbufs;
    r->bufsize = bufsize;
    r->br_size = nbufs * sizeof(struct io_uring_buf);
    r->br = mmap(NULL, r->br_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    r->bufs = mmap(NULL, (size_t)nbufs * bufsize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r->br == MAP_FAILED || r->bufs == MAP_FAILED) { *error = errno; goto fail; }
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)r->br;
    reg.ring_entries = nbufs;
    reg.bgid = 0;
    if (uring_register(fd, IORING_REGISTER_PBUF_RING, &reg, 1) != 0) { *error = errno; goto fail; }
    for (unsigned i = 0; i < nbufs; i++) buffer_add(r, i);
    buffer_publish(r);
    return r;
fail:
    kv_uring_destroy(r);
    return NULL;
}

void kv_uring_destroy(struct kv_uring *r) {
    if (!r) return;
    if (r->bufs && r->bufs != MAP_FAILED) munmap(r->bufs, (size_t)r->nbufs * r->bufsize);
    if (r->br && r->br != MAP_FAILED) munmap(r->br, r->br_size);
    if (r->sqes_map && r->sqes_map != MAP_FAILED) munmap(r->sqes_map, r->sqes_size);
    if (r->rings && r->rings != MAP_FAILED) munmap(r->rings, r->rings_size);
    close(r->fd);
    free(r);
}

/// The next free submission entry, zeroed; NULL when the ring is full (enter first).
static struct io_uring_sqe *next_sqe(struct kv_uring *r) {
    unsigned head = atomic_load_explicit(r->sq_khead, memory_order_acquire);
    if (r->sq_tail - head >= r->sq_entries) return NULL;
    struct io_uring_sqe *e = &r->sqes[r->sq_tail & r->sq_mask];
    r->sq_tail++;
    memset(e, 0, sizeof *e);
    return e;
}

int kv_uring_recv_multishot(struct kv_uring *r, int fd, unsigned long long tag) {
    struct io_uring_sqe *e = next_sqe(r);
    if (!e) return -1;
    e->opcode = IORING_OP_RECV;
    e->fd = fd;
    e->flags = IOSQE_BUFFER_SELECT;
    e->buf_group = 0;
    e->ioprio = IORING_RECV_MULTISHOT;
    e->user_data = tag;
    return 0;
}

int kv_uring_send(struct kv_uring *r, int fd, const void *bytes, unsigned length, unsigned long long tag) {
    struct io_uring_sqe *e = next_sqe(r);
    if (!e) return -1;
    e->opcode = IORING_OP_SEND;
    e->fd = fd;
    e->addr = (unsigned long)bytes;
    e->len = length;
    e->msg_flags = MSG_NOSIGNAL;
    e->user_data = tag;
    return 0;
}

int kv_uring_poll(struct kv_uring *r, int fd, unsigned events, int multishot, unsigned long long tag) {
    struct io_uring_sqe *e = next_sqe(r);
    if (!e) return -1;
    e->opcode = IORING_OP_POLL_ADD;
    e->fd = fd;
    e->poll32_events = events;
    e->len = multishot ? IORING_POLL_ADD_MULTI : 0;
    e->user_data = tag;
    return 0;
}

int kv_uring_cancel_fd(struct kv_uring *r, int fd, unsigned long long tag) {
    struct io_uring_sqe *e = next_sqe(r);
    if (!e) return -1;
    e->opcode = IORING_OP_ASYNC_CANCEL;
    e->fd = fd;
    e->cancel_flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
    e->flags = IOSQE_CQE_SKIP_SUCCESS;
    e->user_data = tag;
    return 0;
}

int kv_uring_enter(struct kv_uring *r, unsigned wait, int timeout_ms, unsigned min_wait_usec) {
    atomic_store_explicit(r->sq_ktail, r->sq_tail, memory_order_release);
    unsigned submit = r->sq_tail - atomic_load_explicit(r->sq_khead, memory_order_acquire);
    struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000, .tv_nsec = (long long)(timeout_ms % 1000) * 1000000 };
    // io_uring_getevents_arg as of Linux 6.12, whose `pad` became `min_wait_usec` (IORING_FEAT_MIN_TIMEOUT).
    struct { unsigned long long sigmask; unsigned sigmask_sz, min_wait_usec; unsigned long long ts; } arg;
    memset(&arg, 0, sizeof arg);
    arg.sigmask_sz = _NSIG / 8;
    arg.ts = (unsigned long)&ts;
    arg.min_wait_usec = r->min_timeout ? min_wait_usec : 0;  // older kernels require the field zero
    int n = (int)syscall(__NR_io_uring_enter, r->fd, submit, wait, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
                         &arg, sizeof arg);
    return n < 0 ? -errno : n;
}

unsigned kv_uring_reap(struct kv_uring *r, struct kv_uring_completion *out, unsigned max) {
    unsigned head = atomic_load_explicit(r->cq_khead, memory_order_relaxed);
    unsigned tail = atomic_load_explicit(r->cq_ktail, memory_order_acquire);
    unsigned n = 0;
    while (head != tail && n < max) {
        struct io_uring_cqe *c = &r->cqes[head & r->cq_mask];
        out[n].tag = c->user_data;
        out[n].result = c->res;
        out[n].flags = c->flags;
        n++;
        head++;
    }
    atomic_store_explicit(r->cq_khead, head, memory_order_release);
    return n;
}

const void *kv_uring_buffer(struct kv_uring *r, unsigned flags) {
    return r->bufs + (size_t)(flags >> IORING_CQE_BUFFER_SHIFT) * r->bufsize;
}

void kv_uring_recycle(struct kv_uring *r, unsigned flags) {
    buffer_add(r, flags >> IORING_CQE_BUFFER_SHIFT);
    buffer_publish(r);
}
