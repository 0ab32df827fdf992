#define _GNU_SOURCE
#include <sys/socket.h>
#include "CKVSupport.h"

int kv_accept_nonblocking(int fd, void *addr, unsigned int *len) {
    return accept4(fd, (struct sockaddr *)addr, (socklen_t *)len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

#include <sys/syscall.h>
#include <unistd.h>

int kv_gettid(void) { return (int)syscall(SYS_gettid); }
