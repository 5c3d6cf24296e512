#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <errno.h>
#include <sys/syscall.h>
#include "hopper_sys.h"

int hopper_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    unsigned int f = (flags & HOPPER_RENAME_NOREPLACE) ? RENAME_NOREPLACE : 0;
    return renameat2(olddirfd, oldpath, newdirfd, newpath, f);
}

int hopper_syncfs(int fd) {
    return syncfs(fd);
}

int hopper_start_writeback(int fd) {
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>

int hopper_thread_become(uid_t uid, gid_t gid, size_t ngroups, const gid_t *groups) {
    if (syscall(SYS_setgroups, ngroups, groups) != 0) return -1;
    syscall(SYS_setfsgid, gid);
    syscall(SYS_setfsuid, uid);
    /* setfsuid/setfsgid return the previous value and never fail visibly: ask again. */
    if ((uid_t)syscall(SYS_setfsuid, (uid_t)-1) != uid || (gid_t)syscall(SYS_setfsgid, (gid_t)-1) != gid) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

#include <malloc.h>

void hopper_malloc_arenas(int n) {
    mallopt(M_ARENA_MAX, n);
}

void hopper_malloc_mmap_threshold(int bytes) {
    mallopt(M_MMAP_THRESHOLD, bytes);
}

void hopper_malloc_trim(void) {
    malloc_trim(0);
}
