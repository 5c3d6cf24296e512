/* hopper-supervise: becoming the job's owner, and starting the step (see main.c). */
#include "supervise.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

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

/* The step's argv: PROGRAM [ARG...], COMMAND's plain words, or bash -eo pipefail -c COMMAND
 * (NULL for the mock step). */
char **step_argv(const struct options *o) {
    static char *bash_argv[] = {"/bin/bash", "-eo", "pipefail", "-c", NULL, NULL};
    if (o->mock) return NULL;
    if (!o->shell) return o->argv;
    char **words = plain_words(o->shell);
    if (words) return words;
    bash_argv[4] = (char *)o->shell;
    return bash_argv;
}

/* --user UID:GID:G1,G2,...: become that user irrevocably. */
void become(const char *spec) {
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

/* posix_spawnp (vfork-like in glibc: no copy of this process's pages), or -1. */
static pid_t spawn_fast(char **argv, int out_w) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t defaults, none;
    sigemptyset(&defaults);
    sigemptyset(&none);
    for (size_t k = 0; k < n_step_default_signals; k++) sigaddset(&defaults, step_default_signals[k]);
    pid_t child = -1;
    if (posix_spawn_file_actions_init(&actions) != 0) return -1;
    if (posix_spawnattr_init(&attr) == 0) {
        short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP;
        if (posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) != 0 ||
            posix_spawn_file_actions_adddup2(&actions, out_w, 1) != 0 ||
            posix_spawn_file_actions_adddup2(&actions, out_w, 2) != 0 ||
            posix_spawnattr_setsigdefault(&attr, &defaults) != 0 ||
            posix_spawnattr_setsigmask(&attr, &none) != 0 ||
            posix_spawnattr_setpgroup(&attr, 0) != 0 ||
            posix_spawnattr_setflags(&attr, flags) != 0 ||
            posix_spawnp(&child, argv[0], &actions, &attr, argv, environ) != 0) {
            child = -1;
        }
        posix_spawnattr_destroy(&attr);
    }
    posix_spawn_file_actions_destroy(&actions);
    return child;
}

/* Starts the step in a process group of its own (its pid is the group's id), stdin from
 * /dev/null, stdout and stderr into `out_w`, the supervisor's signals back at their defaults
 * and none blocked. The mock step, and a program that cannot be started, take fork(), whose
 * child reports the error in the log as a shell would. */
pid_t spawn_step(const struct options *o, char **argv, int out_w) {
    pid_t child = argv ? spawn_fast(argv, out_w) : -1;
    if (child > 0) return child;
    child = fork();
    if (child < 0) die("fork");
    if (child > 0) {
        (void)setpgid(child, child); /* as the child does: whichever runs first */
        return child;
    }
    (void)setpgid(0, 0);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (size_t k = 0; k < n_step_default_signals; k++) sigaction(step_default_signals[k], &dfl, NULL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) { dup2(devnull, 0); if (devnull != 0) close(devnull); }
    dup2(out_w, 1);
    dup2(out_w, 2);
    if (o->mock) _exit(run_mock(o->mock));
    execvp(argv[0], argv);
    int e = errno;
    if (o->shell && e == ENOENT) {
        fprintf(stderr, "bash: line 1: %s: command not found\n", argv[0]);
    } else {
        fprintf(stderr, "hopper-supervise: cannot run %s: %s\n", argv[0], strerror(e));
    }
    _exit(e == ENOENT ? 127 : 126);
}
