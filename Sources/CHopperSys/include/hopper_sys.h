// Thin C shims for Linux calls that Swift's Glibc module does not show (they need _GNU_SOURCE).
#ifndef HOPPER_SYS_H
#define HOPPER_SYS_H

#define HOPPER_RENAME_NOREPLACE 1

/// renameat2(2) with RENAME_NOREPLACE when flags == HOPPER_RENAME_NOREPLACE. Returns 0 or -1 (errno set).
int hopper_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
/// syncfs(2): commit the whole filesystem that holds fd. Returns 0 or -1 (errno set).
int hopper_syncfs(int fd);

#endif
