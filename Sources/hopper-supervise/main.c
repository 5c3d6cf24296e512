/*
 * hopper-supervise - run one attempt of one step, and never lose its exit status.
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
 *     1. claims the attempt: it creates FILE (pid, process group, start time) with
 *        O_CREAT|O_EXCL, which fails if FILE exists, so an attempt is never started twice,
 *        even when a restarted daemon starts a second supervisor for the same attempt;
 *     2. runs the step as its child in the same process group: PROGRAM, or COMMAND as
 *        `bash -eo pipefail -c COMMAND` (a COMMAND that is only plain words — no quotes,
 *        variables, redirections or other shell syntax, and not a shell builtin — is run
 *        directly, as make(1) does, saving a shell), or a simulated step (--mock); stdin from
 *        /dev/null, stdout and stderr through a pipe into the log (O_APPEND, at most
 *        --log-cap bytes; the rest is counted and dropped);
 *     3. enforces --timeout: SIGTERM to the group, --grace seconds, then SIGKILL;
 *     4. writes FILE.exit atomically (temporary file, fsync, rename) with the exit code or
 *        signal, the outcome and the end time, then exits with the step's status. With
 *        --sync-unless-parent PID the fsync is left out while PID (the daemon that started
 *        this supervisor) is still its parent: that daemon reads the record at once and makes
 *        the outcome durable in the job's status.json, many jobs per disk commit. A supervisor
 *        whose daemon has gone (it was re-parented) fsyncs the record itself.
 *   The supervisor outlives the daemon: a daemon killed with SIGKILL finds FILE.exit (or the
 *   supervisor still running, by pid and /proc start time) when it comes back.
 *   Processes the step left behind in its group (still holding the log pipe) are killed.
 *
 * SIGNALS
 *   SIGTERM, SIGINT, SIGHUP (a cancel: the daemon signals the whole group) are caught: the
 *   step gets the signal too; the supervisor waits --grace seconds for it to exit, records
 *   the outcome, and sends SIGKILL to what is left of the group, itself included.
 *
 * DIAGNOSTICS
 *   Exit status: the step's (128+N when killed by signal N); 75 when the attempt was already
 *   claimed; 70 when the supervisor itself cannot work (message on stderr and in the log).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int self_pipe[2] = {-1, -1};
/* The signals the supervisor catches or ignores, which its step gets back at their defaults. */
static const int step_default_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE};
#define N_STEP_DEFAULT_SIGNALS (sizeof step_default_signals / sizeof step_default_signals[0])
static volatile sig_atomic_t terminating = 0;

static void on_signal(int sig) {
    int saved = errno;
    if (sig != SIGCHLD) terminating = sig;
    char b = (char)sig;
    if (self_pipe[1] >= 0) (void)!write(self_pipe[1], &b, 1);
    errno = saved;
}

static double now_real(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "hopper-supervise: %s: %s\n", what, strerror(errno));
    exit(70);
}

static int write_all(int fd, const char *buf, size_t len) {
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

/* Field 22 of /proc/self/stat: the start time in clock ticks, which with the pid identifies
 * this process even after its pid is reused. */
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
static pid_t sync_unless_parent = 0;

static int write_file(const char *path, const char *text, int claim) {
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

/* splitmix64, for the mock step's deterministic failures. */
static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static int run_mock(const char *spec) {
    double seconds = 0, fail_rate = 0;
    unsigned long long seed = 0;
    if (sscanf(spec, "%lf,%lf,%llu", &seconds, &fail_rate, &seed) < 1) {
        fprintf(stderr, "hopper-supervise: bad --mock %s\n", spec);
        return 70;
    }
    const char *a = getenv("HOPPER_ATTEMPT");
    const char *step = getenv("HOPPER_STEP");
    uint64_t attempt = a ? strtoull(a, NULL, 10) : 1;
    uint64_t h = splitmix64(seed ^ splitmix64(attempt));
    for (const char *p = step ? step : ""; *p; p++) h = splitmix64(h ^ (unsigned char)*p);
    double draw = (double)(h >> 11) / (double)(1ULL << 53);
    printf("mock step %s: working for %.3f s (fail_rate %.2f, seed %llu, attempt %llu)\n",
           step ? step : "?", seconds, fail_rate, seed, (unsigned long long)attempt);
    fflush(stdout);
    if (seconds > 0) {
        struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    if (draw < fail_rate) {
        printf("mock step %s: simulated failure (draw %.3f < fail_rate %.2f)\n", step ? step : "?", draw, fail_rate);
        fflush(stdout);
        return 1;
    }
    printf("mock step %s: done\n", step ? step : "?");
    fflush(stdout);
    return 0;
}

/* Words of a COMMAND that needs no shell, or NULL. */
static char **plain_words(const char *cmd) {
    static const char *shell_only[] = {
        "cd", "exit", "export", "source", "set", "unset", "alias", "unalias", "read", "eval", "exec",
        "shift", "return", "trap", "ulimit", "umask", "wait", "type", "hash", "declare", "typeset",
        "local", "readonly", "let", "shopt", "builtin", "command", "enable", "help", "history", "jobs",
        "fg", "bg", "disown", "suspend", "logout", "pushd", "popd", "dirs", "bind", "caller", "compgen",
        "complete", "compopt", "mapfile", "readarray", "getopts", "times", "coproc", "select",
        "function", "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case",
        "esac", "in", "time", "break", "continue", NULL};
    size_t n = 0;
    for (const char *p = cmd; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("_./,:@%+=- \t", c))) return NULL;
        if (c != ' ' && c != '\t' && (p == cmd || p[-1] == ' ' || p[-1] == '\t')) n++;
    }
    if (n == 0) return NULL;
    char **words = calloc(n + 1, sizeof *words);
    char *copy = strdup(cmd);
    if (!words || !copy) return NULL;
    size_t i = 0;
    for (char *w = strtok(copy, " \t"); w && i < n; w = strtok(NULL, " \t")) words[i++] = w;
    if (strchr(words[0], '=')) return NULL;             /* VAR=value cmd */
    for (const char **b = shell_only; *b; b++) if (strcmp(words[0], *b) == 0) return NULL;
    return words;
}

/* --user UID:GID:G1,G2,...: become that user irrevocably. */
static void become(const char *spec) {
    char *end;
    errno = 0;
    unsigned long uid = strtoul(spec, &end, 10);
    if (errno || *end != ':') goto bad;
    unsigned long gid = strtoul(end + 1, &end, 10);
    if (errno || (*end != ':' && *end != 0)) goto bad;
    gid_t groups[1024];
    size_t n = 0;
    if (*end == ':') {
        const char *p = end + 1;
        while (*p && n < 1024) {
            groups[n++] = (gid_t)strtoul(p, &end, 10);
            if (*end == ',') end++; else if (*end != 0) goto bad;
            p = end;
        }
    }
    if (setgroups(n, groups) != 0) die("setgroups");
    if (setgid((gid_t)gid) != 0) die("setgid");
    if (setuid((uid_t)uid) != 0) die("setuid");
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid) { errno = EPERM; die("becoming the job's owner"); }
    if (uid != 0 && setuid(0) == 0) { errno = EPERM; die("root could be regained after becoming the job's owner"); }
    return;
bad:
    fprintf(stderr, "hopper-supervise: --user wants UID:GID:GROUP,...; got %s\n", spec);
    exit(70);
}

int main(int argc, char **argv) {
    const char *record = NULL, *log_path = NULL, *header = NULL, *mock = NULL, *shell = NULL, *user = NULL;
    long long log_cap = 100LL << 20;
    double timeout = 0, grace = 10;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) { i++; break; }
        if (i + 1 >= argc) { fprintf(stderr, "hopper-supervise: %s needs a value\n", a); return 70; }
        if (strcmp(a, "--record") == 0) record = argv[++i];
        else if (strcmp(a, "--log") == 0) log_path = argv[++i];
        else if (strcmp(a, "--log-cap") == 0) log_cap = atoll(argv[++i]);
        else if (strcmp(a, "--timeout") == 0) timeout = atof(argv[++i]);
        else if (strcmp(a, "--grace") == 0) grace = atof(argv[++i]);
        else if (strcmp(a, "--header") == 0) header = argv[++i];
        else if (strcmp(a, "--mock") == 0) mock = argv[++i];
        else if (strcmp(a, "--shell") == 0) shell = argv[++i];
        else if (strcmp(a, "--user") == 0) user = argv[++i];
        else if (strcmp(a, "--sync-unless-parent") == 0) sync_unless_parent = (pid_t)atol(argv[++i]);
        else { fprintf(stderr, "hopper-supervise: unknown option %s\n", a); return 70; }
    }
    if (!record || !log_path || (!mock && !shell && i >= argc)) {
        fprintf(stderr, "usage: hopper-supervise --record FILE --log FILE [options] (--shell COMMAND | --mock SPEC | -- PROGRAM [ARG...])\n");
        return 70;
    }
    if (user) become(user);
    char **child_argv = argv + i;
    char *bash_argv[] = {"/bin/bash", "-eo", "pipefail", "-c", (char *)shell, NULL};
    if (shell) {
        char **words = plain_words(shell);
        child_argv = words ? words : bash_argv;
    }
    if (getsid(0) != getpid()) (void)setsid(); /* normally the daemon created the session */
    pid_t pgid = getpgid(0);

    /* 1. Claim the attempt. */
    char text[8192];
    double started = now_real();
    snprintf(text, sizeof text,
             "{\"supervisor_pid\": %d, \"pgid\": %d, \"proc_start\": %llu, \"started_at\": %.3f}\n",
             (int)getpid(), (int)pgid, proc_start_time(getpid()), started);
    if (write_file(record, text, 1) != 0) {
        if (errno == EEXIST) {
            fprintf(stderr, "hopper-supervise: attempt already started (%s exists)\n", record);
            return 75;
        }
        die("cannot write the record");
    }

    /* 2. Signals and the log. */
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
    /* A mask inherited from whoever started us (a thread of a multi-threaded parent often has
     * signals blocked) would hold back SIGCHLD and SIGTERM for good: start from none, so the
     * step starts from none as well. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) die("cannot open the log");
    long long logged = 0, dropped = 0;
    if (header) {
        char line[4096];
        int n = snprintf(line, sizeof line, "==> hopper: %s <==\n", header);
        if (n > 0) write_all(log_fd, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1));
    }

    /* 3. The child. */
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) die("pipe2");
    /* posix_spawnp (vfork-like in glibc: no copy of this process's pages); the mock step, and
     * a program that cannot be started, take fork() below, whose child reports the error in
     * the log as a shell would. */
    pid_t child = -1;
    if (!mock) {
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        sigset_t defaults;
        sigemptyset(&defaults);
        for (size_t k = 0; k < N_STEP_DEFAULT_SIGNALS; k++) sigaddset(&defaults, step_default_signals[k]);
        if (posix_spawn_file_actions_init(&actions) == 0) {
            if (posix_spawnattr_init(&attr) == 0) {
                if (posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) != 0 ||
                    posix_spawn_file_actions_adddup2(&actions, out[1], 1) != 0 ||
                    posix_spawn_file_actions_adddup2(&actions, out[1], 2) != 0 ||
                    posix_spawnattr_setsigdefault(&attr, &defaults) != 0 ||
                    posix_spawnattr_setsigmask(&attr, &none) != 0 ||
                    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK) != 0 ||
                    posix_spawnp(&child, child_argv[0], &actions, &attr, child_argv, environ) != 0) {
                    child = -1;
                }
                posix_spawnattr_destroy(&attr);
            }
            posix_spawn_file_actions_destroy(&actions);
        }
    }
    if (child < 0) child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (size_t k = 0; k < N_STEP_DEFAULT_SIGNALS; k++) sigaction(step_default_signals[k], &dfl, NULL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) { dup2(devnull, 0); if (devnull != 0) close(devnull); }
        dup2(out[1], 1);
        dup2(out[1], 2);
        if (mock) _exit(run_mock(mock));
        execvp(child_argv[0], child_argv);
        if (shell && errno == ENOENT) {
            fprintf(stderr, "bash: line 1: %s: command not found\n", child_argv[0]);
        } else {
            fprintf(stderr, "hopper-supervise: cannot run %s: %s\n", child_argv[0], strerror(errno));
        }
        _exit(errno == ENOENT ? 127 : 126);
    }
    close(out[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);

    /* 4. Wait: copy output, watch the timeout and signals. */
    double t0 = now_mono();
    double kill_at = 0;              /* when SIGKILL follows a SIGTERM we sent or received */
    int timed_out = 0, forwarded = 0, pipe_open = 1, status = 0, exited = 0;
    char buf[65536];
    while (!exited) {
        double now = now_mono();
        double wake = -1;
        if (timeout > 0 && !timed_out) wake = t0 + timeout;
        if (kill_at > 0 && (wake < 0 || kill_at < wake)) wake = kill_at;
        int ms = wake < 0 ? -1 : (int)((wake - now) * 1000) + 1;
        if (ms < -1) ms = 0;
        struct pollfd fds[2] = {{self_pipe[0], POLLIN, 0}, {pipe_open ? out[0] : -1, POLLIN, 0}};
        int rc = poll(fds, 2, ms);
        if (rc < 0 && errno != EINTR) die("poll");
        if (rc > 0 && (fds[0].revents & POLLIN)) {
            while (read(self_pipe[0], buf, sizeof buf) > 0) {}
        }
        if (pipe_open && rc > 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
            ssize_t n = read(out[0], buf, sizeof buf);
            if (n > 0) {
                long long room = log_cap - logged;
                long long take = room <= 0 ? 0 : (n < room ? n : room);
                if (take > 0 && write_all(log_fd, buf, (size_t)take) == 0) logged += take;
                dropped += n - take;
            } else if (n == 0) {
                pipe_open = 0;
            }
        }
        pid_t w = waitpid(child, &status, WNOHANG);
        if (w == child) { exited = 1; break; }
        now = now_mono();
        if (terminating && !forwarded) {
            forwarded = 1;
            kill(0, SIGTERM); /* reaches the step if the TERM was sent to us alone */
            kill_at = now + grace;
        }
        if (timeout > 0 && !timed_out && now >= t0 + timeout) {
            timed_out = 1;
            char line[256];
            int n = snprintf(line, sizeof line,
                             "==> hopper: step timed out after %.0f s: SIGTERM, then SIGKILL after %.0f s <==\n", timeout, grace);
            write_all(log_fd, line, (size_t)n);
            kill(0, SIGTERM);
            kill_at = now + grace;
        }
        if (kill_at > 0 && now >= kill_at) {
            const char *outcome = timed_out ? "timeout" : "cancelled";
            snprintf(text, sizeof text,
                     "{\"outcome\": \"%s\", \"exit_code\": null, \"signal\": 9, \"finished_at\": %.3f, "
                     "\"log_bytes\": %lld, \"log_dropped\": %lld}\n", outcome, now_real(), logged, dropped);
            write_file(strcat(strcpy(buf, record), ".exit"), text, 0);
            kill(0, SIGKILL); /* the step, what it left, and this supervisor */
            _exit(137);
        }
    }

    /* 5. Drain what is left in the pipe without waiting for processes the step left behind. */
    int leftovers = 0;
    while (pipe_open) {
        ssize_t n = read(out[0], buf, sizeof buf);
        if (n > 0) {
            long long room = log_cap - logged;
            long long take = room <= 0 ? 0 : (n < room ? n : room);
            if (take > 0 && write_all(log_fd, buf, (size_t)take) == 0) logged += take;
            dropped += n - take;
        } else if (n == 0) {
            pipe_open = 0;
        } else {
            if (errno == EINTR) continue;
            leftovers = (errno == EAGAIN); /* someone still holds the write end */
            break;
        }
    }
    if (dropped > 0) {
        char line[256];
        int n = snprintf(line, sizeof line, "==> hopper: log capped at %lld bytes; %lld bytes dropped <==\n", log_cap, dropped);
        write_all(log_fd, line, (size_t)n);
    }
    close(log_fd);

    /* 6. Record the result. */
    const char *outcome = timed_out ? "timeout" : (terminating ? "cancelled" : "exited");
    char code[32] = "null", sig[32] = "null";
    int rc_out;
    if (WIFEXITED(status)) {
        snprintf(code, sizeof code, "%d", WEXITSTATUS(status));
        rc_out = WEXITSTATUS(status);
    } else {
        snprintf(sig, sizeof sig, "%d", WTERMSIG(status));
        rc_out = 128 + WTERMSIG(status);
    }
    snprintf(text, sizeof text,
             "{\"outcome\": \"%s\", \"exit_code\": %s, \"signal\": %s, \"finished_at\": %.3f, "
             "\"log_bytes\": %lld, \"log_dropped\": %lld}\n", outcome, code, sig, now_real(), logged, dropped);
    snprintf(buf, sizeof buf, "%s.exit", record);
    if (write_file(buf, text, 0) != 0) die("cannot write the exit record");
    if (leftovers) kill(0, SIGKILL); /* processes the step left behind; this supervisor too */
    return rc_out;
}
