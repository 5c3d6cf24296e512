/* hopper-supervise: the attempt's two records (see the header comment of main.c).
 *
 *   FILE       {"supervisor_pid": P, "pgid": G, "proc_start": TICKS, "started_at": T, "grace": S}
 *   FILE.exit  {"outcome": "exited"|"cancelled"|"timed_out", "exit_code": N|null,
 *               "signal": N|null, "finished_at": T, "log_bytes": N, "log_dropped": N}
 *
 * The daemon decodes both into one type, AttemptRecord (Sources/HopperExec/AttemptRecord.swift),
 * which the SLURM batch script's records decode into as well: keep the field names in step. */
#include "supervise.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Field 22 of /proc/<pid>/stat: the start time in clock ticks, which with the pid identifies a
 * process even after its pid is reused. */
static unsigned long long proc_start_time(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    p += 2; /* state */
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p) p++;
    }
    return p ? strtoull(p, NULL, 10) : 0;
}

/* Writes `text` to `path`. A claim creates it with O_EXCL (fails if it exists; one write(2) of
 * under 200 bytes; not fsynced: it guards against a second supervisor while the machine is
 * up, and after a power cut no supervisor is left to race). Anything else goes through
 * path.tmp.<pid>, fsync and rename(2), so a reader never sees half a record and the exit
 * status survives a power cut (the fsync is the daemon's to make while it is the parent and
 * asked for it with --sync-unless-parent). Returns 0, or -1 with errno. */
static int write_file(const char *path, const char *text, int claim, pid_t sync_unless_parent) {
    if (claim) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) return -1;
        int rc = write_all(fd, text, strlen(text)) == 0 ? 0 : -1;
        int e = errno;
        close(fd);
        errno = e;
        return rc;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    int durable = !(sync_unless_parent > 0 && getppid() == sync_unless_parent);
    if (write_all(fd, text, strlen(text)) != 0 || (durable && fsync(fd) != 0)) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    close(fd);
    int rc = rename(tmp, path);
    int e = errno;
    if (rc != 0) unlink(tmp);
    errno = e;
    return rc;
}

/* Claims the attempt: FILE with this supervisor's pid, process group (= session: it is the
 * session leader), /proc start time, start time and grace. 0, or -1 with errno (EEXIST: the
 * attempt was claimed before). */
int write_claim(const struct options *o) {
    char text[512];
    snprintf(text, sizeof text,
             "{\"supervisor_pid\": %d, \"pgid\": %d, \"proc_start\": %llu, \"started_at\": %.3f, \"grace\": %g}\n",
             (int)getpid(), (int)getpgid(0), proc_start_time(getpid()), now_real(), o->grace);
    return write_file(o->record, text, 1, o->sync_unless_parent);
}

static const char *reason_name(enum reason reason) {
    switch (reason) {
    case REASON_CANCELLED: return "cancelled";
    case REASON_TIMED_OUT: return "timed_out";
    default: return "exited";
    }
}

/* FILE.exit: how the step ended (`status` from waitpid when `started`), why, and when.
 * 0, or -1 with errno. */
int write_exit_record(const struct options *o, enum reason reason, int status, int started,
                      long long logged, long long dropped) {
    char code[32] = "null", sig[32] = "null";
    if (started && WIFEXITED(status)) {
        snprintf(code, sizeof code, "%d", WEXITSTATUS(status));
    } else if (started && WIFSIGNALED(status)) {
        snprintf(sig, sizeof sig, "%d", WTERMSIG(status));
    }
    char text[512], path[4096];
    snprintf(text, sizeof text,
             "{\"outcome\": \"%s\", \"exit_code\": %s, \"signal\": %s, \"finished_at\": %.3f, "
             "\"log_bytes\": %lld, \"log_dropped\": %lld}\n",
             reason_name(reason), code, sig, now_real(), logged, dropped);
    snprintf(path, sizeof path, "%s.exit", o->record);
    return write_file(path, text, 0, o->sync_unless_parent);
}
