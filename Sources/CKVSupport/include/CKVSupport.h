#ifndef CKVSUPPORT_H
#define CKVSUPPORT_H
// Declarations Swift's Glibc module leaves out: malloc.h (the engine's memory figures), epoll and
// eventfd (the server's event loops), accept4 (non-blocking accept in one call), TCP options.
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <netinet/tcp.h>

/// accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC): Glibc declares accept4 only under _GNU_SOURCE.
int kv_accept_nonblocking(int fd, void *addr, unsigned int *len);

/// The calling thread's kernel id (gettid(2); Glibc's Swift module does not export SYS_gettid).
int kv_gettid(void);
#endif
