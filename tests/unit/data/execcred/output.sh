#!/bin/sh
# Prints $EXECCRED_OUTPUT on stdout exactly as given (a malformed credential,
# say) and $EXECCRED_STDERR on stderr, then exits with $EXECCRED_EXIT.
printf '%s' "$EXECCRED_OUTPUT"
if [ -n "$EXECCRED_STDERR" ]; then
	printf '%s\n' "$EXECCRED_STDERR" >&2
fi
exit "${EXECCRED_EXIT:-0}"
