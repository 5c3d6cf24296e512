/* hopper-supervise: what its three files share (main.c: options, signals, the wait and
 * escalation loop; step.c: starting the step; records.c: the attempt's records). */
#ifndef HOPPER_SUPERVISE_H
#define HOPPER_SUPERVISE_H
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

struct options {
    const char *record, *log_path, *header, *mock, *shell, *user;
    long long log_cap;
    double timeout, grace;
    pid_t sync_unless_parent;
    char **argv; /* PROGRAM [ARG...] after "--" */
};

/* Why the step is being ended. */
enum reason { REASON_NONE = 0, REASON_CANCELLED, REASON_TIMED_OUT };

/* The signals the supervisor catches or ignores, which its step gets back at their defaults. */
extern const int step_default_signals[];
extern const size_t n_step_default_signals;

void die(const char *what);
int write_all(int fd, const char *buf, size_t len);
double now_real(void);
double now_mono(void);

/* step.c */
void become(const char *spec);
char **step_argv(const struct options *o);
pid_t spawn_step(const struct options *o, char **argv, int out_w);

/* records.c */
int write_claim(const struct options *o);
int write_exit_record(const struct options *o, enum reason reason, int status, int started,
                      long long logged, long long dropped);

#endif
