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
