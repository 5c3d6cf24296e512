// Thin C shims for Linux calls that Swift's Glibc module does not show (they need _GNU_SOURCE).
#ifndef HOPPER_SYS_H
#define HOPPER_SYS_H

#define HOPPER_RENAME_NOREPLACE 1

/// renameat2(2) with RENAME_NOREPLACE when flags == HOPPER_RENAME_NOREPLACE. Returns 0 or -1 (errno set).
int hopper_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
/// syncfs(2): commit the whole filesystem that holds fd. Returns 0 or -1 (errno set).
int hopper_syncfs(int fd);
/// sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE): starts writing a file's dirty pages
/// without waiting and without a journal commit. Returns 0 or -1 (errno set).
int hopper_start_writeback(int fd);

#include <stddef.h>
#include <sys/types.h>

/// Gives the calling thread alone (raw syscalls, not glibc's process-wide wrappers) the
/// filesystem identity of another user: supplementary groups, fsgid, fsuid. With a non-zero
/// fsuid the kernel also drops the thread's filesystem capabilities, so every open, stat,
/// mkdir and unlink is checked as that user. Returns 0, or -1 (errno set) when the switch
/// could not be verified. Meant for a thread that exits afterwards.
int hopper_thread_become(uid_t uid, gid_t gid, size_t ngroups, const gid_t *groups);

/// glibc's malloc: at most `n` arenas (mallopt M_ARENA_MAX). Its default, 8 per core, lets
/// each thread that meets contention take an arena of its own, each keeping its freed memory.
void hopper_malloc_arenas(int n);
/// glibc's malloc: blocks of `bytes` and more get pages of their own (mallopt
/// M_MMAP_THRESHOLD), given back whole when freed. Set explicitly, it also stops glibc from
/// raising the threshold each time such a block is freed (up to 32 MiB): with the dynamic
/// threshold, a page's 260 KiB buffer landed in the heap, and the long-lived small blocks
/// around it kept the heap's pages from being returned.
void hopper_malloc_mmap_threshold(int bytes);
/// malloc_trim(0): gives the free pages of every arena back to the kernel.
void hopper_malloc_trim(void);

#endif
