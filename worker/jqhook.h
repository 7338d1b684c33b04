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
 * jq_next, no deadline): a program that loops forever (`def f: f; f`,
 * `repeat(.)`, `[range(infinite)]`) keeps the worker busy until the
 * watcher's job deadline notices it; such programs are not refused at load
 * (whether one ends cannot be decided). Keep jq hooks to the straight-line
 * programs they are meant for.
 *
 * Memory: every jv passed to libjq is consumed by it, every jv it returns
 * is ours to free; this module never lets one out. Not thread-safe (a
 * jq_state is not). */
#ifndef COXSWAIN_JQHOOK_H
#define COXSWAIN_JQHOOK_H

#include <stddef.h>

struct cx_err;
struct jqhook;

/* Compiles program. Returns an owned jqhook, or NULL with err: -EINVAL
 * "LABEL: the jq program does not compile: <jq's messages>", -ENOMEM.
 * label starts every message (`sync hook "jq"`); it is copied. */
struct jqhook *jqhook_new(const char *label, const char *program, struct cx_err *err);

void jqhook_free(struct jqhook **h);

/* Runs the program on input (JSON text, len bytes) and hands back its one
 * output as compact JSON in *out (owned, NUL-terminated, *out_len bytes).
 * Returns 0, or with err starting with the label:
 *   -EINVAL  input is not JSON
 *   -EPROTO  a runtime error (jq's message), no output, more than one
 *            output, or an output that is not an object
 *   -ENOMEM */
int jqhook_run(struct jqhook *h, const char *input, size_t len, char **out, size_t *out_len, struct cx_err *err);

#endif
