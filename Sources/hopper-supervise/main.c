/*
 * hopper-supervise - run one attempt of one step, end it when asked, and never lose its exit status.
 *
 * SYNOPSIS
 *   hopper-supervise --record FILE --log FILE [--log-cap BYTES] [--timeout SECONDS]
 *                    [--grace SECONDS] [--header TEXT] [--user UID:GID:GROUP,...]
 *                    [--sync-unless-parent PID]
 *                    ( --shell COMMAND | --mock SECONDS,FAIL_RATE,SEED | -- PROGRAM [ARG...] )
 *
 * DESCRIPTION
 *   The daemon starts one supervisor per step attempt, in a new session (it is the session
 *   and process-group leader). With --user (run_as: owner, the daemon running as root) it
 *   first becomes that user for good — supplementary groups, gid, uid — and checks that root
 *   cannot be regained, so its records, the log and the step are all the job owner's. The
 *   supervisor
 *     1. claims the attempt: it creates FILE (pid, process group, /proc start time, start
 *        time, grace) with O_CREAT|O_EXCL, which fails if FILE exists, so an attempt is never
 *        started twice, even when a restarted daemon starts a second supervisor for the same
 *        attempt;
 *     2. runs the step as its child, in a process group of its own inside the supervisor's
 *        session (the group's id is the step's pid): PROGRAM, or COMMAND as
 *        `bash -eo pipefail -c COMMAND` (a COMMAND that is only plain words — no quotes,
 *        variables, redirections or other shell syntax, and not a shell builtin — is run
 *        directly, as make(1) does, saving a shell), or a simulated step (--mock); stdin from
 *        /dev/null, stdout and stderr through a pipe into the log (O_APPEND, at most
 *        --log-cap bytes; the rest is counted and dropped);
 *     3. ends the step when asked (see SIGNALS) or at --timeout: SIGTERM to the step's group,
 *        up to --grace seconds for the group to go, then SIGKILL to the group. The supervisor
 *        is not in that group: it is never killed by its own escalation;
 *     4. writes FILE.exit atomically (temporary file, fsync, rename) with the exit code or
 *        signal, the outcome (`exited`, `cancelled`, `timed_out`) and the end time, then exits
 *        with the step's status. With --sync-unless-parent PID the fsync is left out while PID
 *        (the daemon that started this supervisor) is still its parent: that daemon reads the
 *        record at once and makes the outcome durable in the job's status.json, many jobs per
 *        disk commit. A supervisor whose daemon has gone (it was re-parented) fsyncs the
 *        record itself.
 *   The supervisor outlives the daemon: a daemon killed with SIGKILL finds FILE.exit (or the
 *   supervisor still running, by pid and /proc start time) when it comes back.
 *   Processes the step left behind in its group (still holding the log pipe, or any at all
 *   when the step was ended) are killed before FILE.exit is written.
 *
 * SIGNALS
 *   SIGTERM, SIGINT or SIGHUP to the supervisor is a cancel: the daemon sends SIGTERM to the
 *   supervisor's pid alone and leaves the escalation of step 3 to it, recorded as `cancelled`
 *   (a cancel before the step started ends the attempt without starting it). The daemon
 *   sends SIGKILL itself only as a backstop, --grace plus a margin later, to a supervisor
 *   that is still running then (wedged) and to the rest of its session.
 *
 * DIAGNOSTICS
 *   Exit status: the step's (128+N when killed by signal N; 143 when cancelled before it
 *   started); 75 when the attempt was already claimed; 70 when the supervisor itself cannot
 *   work (message on stderr and in the log).
 *
 * FILES
 *   main.c (options, signals, the wait and escalation loop), step.c (the user, starting the
 *   step), records.c (FILE and FILE.exit). Linked statically, without start-up files
 *   (-static-executable, -nostartfiles: see Package.swift), so no Swift runtime is pulled in.
 */
#include "supervise.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const int step_default_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE};
const size_t n_step_default_signals = sizeof step_default_signals / sizeof step_default_signals[0];

static int self_pipe[2] = {-1, -1};
static volatile sig_atomic_t terminating = 0;

static void on_signal(int sig) {
    int saved = errno;
    if (sig != SIGCHLD) terminating = sig;
    char b = (char)sig;
    if (self_pipe[1] >= 0) (void)!write(self_pipe[1], &b, 1);
    errno = saved;
}

double now_real(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void die(const char *what) {
    fprintf(stderr, "hopper-supervise: %s: %s\n", what, strerror(errno));
    exit(70);
}

int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The options, or exit 70 with a message. */
static struct options parse_args(int argc, char **argv) {
    struct options o;
    memset(&o, 0, sizeof o);
    o.log_cap = 100LL << 20;
    o.grace = 10;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) { i++; break; }
        if (i + 1 >= argc) { fprintf(stderr, "hopper-supervise: %s needs a value\n", a); exit(70); }
        const char *v = argv[++i];
        if (strcmp(a, "--record") == 0) o.record = v;
        else if (strcmp(a, "--log") == 0) o.log_path = v;
        else if (strcmp(a, "--log-cap") == 0) o.log_cap = atoll(v);
        else if (strcmp(a, "--timeout") == 0) o.timeout = atof(v);
        else if (strcmp(a, "--grace") == 0) o.grace = atof(v);
        else if (strcmp(a, "--header") == 0) o.header = v;
        else if (strcmp(a, "--mock") == 0) o.mock = v;
        else if (strcmp(a, "--shell") == 0) o.shell = v;
        else if (strcmp(a, "--user") == 0) o.user = v;
        else if (strcmp(a, "--sync-unless-parent") == 0) o.sync_unless_parent = (pid_t)atol(v);
        else { fprintf(stderr, "hopper-supervise: unknown option %s\n", a); exit(70); }
    }
    o.argv = argv + i;
    if (!o.record || !o.log_path || (!o.mock && !o.shell && i >= argc)) {
        fprintf(stderr, "usage: hopper-supervise --record FILE --log FILE [options] (--shell COMMAND | --mock SPEC | -- PROGRAM [ARG...])\n");
        exit(70);
    }
    if (o.grace < 0) o.grace = 0;
    return o;
}

/* SIGTERM, SIGINT, SIGHUP (a cancel) and SIGCHLD wake the loop through the self-pipe; SIGPIPE is
 * ignored. A mask inherited from whoever started us (a thread of a multi-threaded parent often
 * has signals blocked) would hold back SIGCHLD and SIGTERM for good: start from none, so the
 * step starts from none as well. */
static void setup_signals(void) {
    if (pipe2(self_pipe, O_CLOEXEC | O_NONBLOCK) != 0) die("pipe2");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static int open_log(const struct options *o) {
    int fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) die("cannot open the log");
    if (o->header) {
        char line[4096];
        int n = snprintf(line, sizeof line, "==> hopper: %s <==\n", o->header);
        if (n > 0) write_all(fd, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1));
    }
    return fd;
}

/* A running step: its output, its status, and how far its ending has gone. */
struct watch {
    pid_t child;          /* the step, and the id of its process group */
    int out;              /* read end of its output pipe; -1 at end of file */
    int log_fd;
    long long logged, dropped;
    int status, exited;
    enum reason reason;   /* why it is being ended */
    double kill_at;       /* when SIGKILL follows the SIGTERM */
    int killed;
};

static char io_buf[65536];

/* One read of the step's output into the log (capped). 1: something read; 0: end of file or
 * nothing to read now; -1 with errno. */
static int copy_output(const struct options *o, struct watch *w) {
    ssize_t n = read(w->out, io_buf, sizeof io_buf);
    if (n > 0) {
        long long room = o->log_cap - w->logged;
        long long take = room <= 0 ? 0 : (n < room ? n : room);
        if (take > 0 && write_all(w->log_fd, io_buf, (size_t)take) == 0) w->logged += take;
        w->dropped += n - take;
        return 1;
    }
    if (n == 0) {
        close(w->out);
        w->out = -1;
        return 0;
    }
    return -1;
}

/* The first reason to end the step wins: SIGTERM to its group now, SIGKILL after --grace. */
static void begin_ending(const struct options *o, struct watch *w, enum reason why, double now) {
    w->reason = why;
    w->kill_at = now + o->grace;
    if (why == REASON_TIMED_OUT) {
        char line[256];
        int n = snprintf(line, sizeof line,
                         "==> hopper: step timed out after %g s: SIGTERM, then SIGKILL after %g s <==\n", o->timeout, o->grace);
        if (n > 0) write_all(w->log_fd, line, (size_t)n);
    }
    kill(-w->child, SIGTERM);
}

/* Copies output until the step has exited, ending it on a cancel or at the timeout. Once it is
 * being ended, also waits (up to the grace) for the rest of its group to go. */
static void watch_step(const struct options *o, struct watch *w) {
    double deadline = o->timeout > 0 ? now_mono() + o->timeout : 0;
    for (;;) {
        if (!w->exited && waitpid(w->child, &w->status, WNOHANG) == w->child) w->exited = 1;
        double now = now_mono();
        if (terminating && w->reason == REASON_NONE) begin_ending(o, w, REASON_CANCELLED, now);
        if (deadline > 0 && w->reason == REASON_NONE && now >= deadline) begin_ending(o, w, REASON_TIMED_OUT, now);
        if (w->reason != REASON_NONE && !w->killed && now >= w->kill_at) {
            kill(-w->child, SIGKILL);
            w->killed = 1;
        }
        if (w->exited && (w->reason == REASON_NONE || w->killed || kill(-w->child, 0) != 0)) return;

        double wake = -1;
        if (w->reason == REASON_NONE && deadline > 0) wake = deadline;
        if (w->reason != REASON_NONE && !w->killed) wake = w->kill_at;
        if (w->exited && (wake < 0 || now + 0.02 < wake)) wake = now + 0.02; /* the group's rest */
        int ms = wake < 0 ? -1 : (int)((wake - now) * 1000) + 1;
        if (wake >= 0 && ms < 0) ms = 0;
        struct pollfd fds[2] = {{self_pipe[0], POLLIN, 0}, {w->out, POLLIN, 0}};
        int rc = poll(fds, 2, ms);
        if (rc < 0 && errno != EINTR) die("poll");
        if (rc > 0 && (fds[0].revents & POLLIN)) {
            while (read(self_pipe[0], io_buf, sizeof io_buf) > 0) {}
        }
        if (w->out >= 0 && rc > 0 && (fds[1].revents & (POLLIN | POLLHUP))) (void)copy_output(o, w);
    }
}

/* Drains what is left in the pipe without waiting for processes the step left behind.
 * Returns whether someone still holds its write end. */
static int drain_output(const struct options *o, struct watch *w) {
    while (w->out >= 0) {
        int r = copy_output(o, w);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    struct options o = parse_args(argc, argv);
    setup_signals();
    if (o.user) become(o.user);
    char **child_argv = step_argv(&o);
    if (getsid(0) != getpid()) (void)setsid(); /* normally the daemon created the session */

    /* 1. Claim the attempt. */
    if (write_claim(&o) != 0) {
        if (errno == EEXIST) {
            fprintf(stderr, "hopper-supervise: attempt already started (%s exists)\n", o.record);
            return 75;
        }
        die("cannot write the record");
    }
    if (terminating) { /* cancelled before the step started */
        if (write_exit_record(&o, REASON_CANCELLED, 0, 0, 0, 0) != 0) die("cannot write the exit record");
        return 128 + SIGTERM;
    }

    /* 2. The log and the step. */
    struct watch w;
    memset(&w, 0, sizeof w);
    w.log_fd = open_log(&o);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) die("pipe2");
    w.child = spawn_step(&o, child_argv, out[1]);
    close(out[1]);
    w.out = out[0];
    fcntl(w.out, F_SETFL, O_NONBLOCK);

    /* 3. Wait: copy output, end the step on a cancel or at the timeout. */
    watch_step(&o, &w);
    int leftovers = drain_output(&o, &w);
    if (w.dropped > 0) {
        char line[256];
        int n = snprintf(line, sizeof line, "==> hopper: log capped at %lld bytes; %lld bytes dropped <==\n", o.log_cap, w.dropped);
        if (n > 0) write_all(w.log_fd, line, (size_t)n);
    }
    close(w.log_fd);
    /* What the step left in its group: nothing survives an ended step. */
    if (leftovers || w.reason != REASON_NONE) kill(-w.child, SIGKILL);

    /* 4. Record the result. */
    if (write_exit_record(&o, w.reason, w.status, 1, w.logged, w.dropped) != 0) die("cannot write the exit record");
    return WIFEXITED(w.status) ? WEXITSTATUS(w.status) : 128 + WTERMSIG(w.status);
}
