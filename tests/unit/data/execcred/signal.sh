#!/bin/sh
# Dies of SIGKILL, as a plugin killed by the OOM killer would.
echo "about to die" >&2
kill -KILL $$
