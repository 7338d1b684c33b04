#!/bin/sh
# Fails as hooks do: some noise, then the reason, on stderr; exit code 1.
cat >/dev/null
echo "first line of noise" >&2
echo "error: cannot reach the database" >&2
exit 1
