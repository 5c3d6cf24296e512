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
