/* jqhook: a hook that is a jq program, run in-process through libjq
 * (`jq: {program: "..."}`, README "jq hooks").
 *
 * The program is compiled once (jqhook_new: hook.c keeps one per worker
 * process, controller, hook and program text) and run on each request: its
 * input is the request (the JSON an exec hook reads on stdin), and it must
 * produce exactly one output, a JSON object, which is the answer (then
 * checked like any hook's answer by hook.c). A program that produces no
 * output, two outputs, or something that is not an object fails the call;
 * so does a runtime error (`error("...")`, `.a.b` of a string...), with
 * jq's own message.
 *
 * libjq 1.6 has no way to interrupt a running program (no callback inside
 * jq_next, no deadline), and leaving jq_next by a longjmp from a signal
 * handler could leave malloc's lock held. So the guard against a program
 * that never ends (`def f: f; f`, `repeat(.)`, `[range(infinite)]`) is the
 * process: a run past its timeout makes the worker write one line on
 * stderr and _exit(JQHOOK_EXIT_TIMEOUT) from a SIGALRM handler (an
 * ITIMER_REAL armed for the run only); the supervisor starts a new worker,
 * the watcher requeues the job as lost, and after three losses the parent
 * is poisoned (WorkerCrashed). Such programs cannot be refused at load
 * (whether one ends cannot be decided).
 *
 * Memory: every jv passed to libjq is consumed by it, every jv it returns
 * is ours to free; this module never lets one out. Not thread-safe (a
 * jq_state is not). */
#ifndef COXSWAIN_JQHOOK_H
#define COXSWAIN_JQHOOK_H

#include <stddef.h>

struct cx_err;
struct jqhook;

/* Compiles program into an owned jqhook in *out. Returns 0, or with *out
 * NULL and err filled: -EINVAL "LABEL: the jq program does not compile:
 * <jq's messages>", -ENOMEM. label starts every message (`sync hook "jq"`);
 * it is copied. */
int jqhook_new(const char *label, const char *program, struct jqhook **out, struct cx_err *err);

void jqhook_free(struct jqhook **h);

/* The worker's exit status when a jq program runs past its timeout. */
#define JQHOOK_EXIT_TIMEOUT 70

/* Runs the program on input (JSON text, len bytes) and hands back its one
 * output as compact JSON in *out (owned, NUL-terminated, *out_len bytes).
 * Past timeout_ms (> 0; <= 0: no limit) the process exits, see above: use
 * no other ITIMER_REAL or SIGALRM handler in a process that runs jq hooks.
 * Returns 0, or with err starting with the label:
 *   -EINVAL  input is not JSON
 *   -EPROTO  a runtime error (jq's message), no output, more than one
 *            output, or an output that is not an object
 *   -ENOMEM */
int jqhook_run(struct jqhook *h, const char *input, size_t len, int timeout_ms, char **out, size_t *out_len,
	       struct cx_err *err);

#endif
