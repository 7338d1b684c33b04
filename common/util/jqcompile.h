/* jqcompile: compiling a jq program with libjq and keeping what jq said
 * about it, for the two places that compile one: coxswain.yaml's check
 * (common/contracts/cxconfig) and the jq hook itself (worker/jqhook), so
 * that both report a bad program in the same words. */
#ifndef COXSWAIN_JQCOMPILE_H
#define COXSWAIN_JQCOMPILE_H

#include <stdbool.h>
#include <stddef.h>

#include <jq.h>

/* Compiles program into jq (borrowed). Returns true when it compiles;
 * otherwise false, with jq's messages (its "jq: error: " prefixes and the
 * closing error count left out) joined with "; " on one line in why, or
 * "no message from jq". why may be NULL (cap 0). */
bool jqcompile(jq_state *jq, const char *program, char *why, size_t cap);

#endif
