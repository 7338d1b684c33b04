#!/bin/sh
# Hangs past any timeout: a child sleep (its pid in $HOOK_PID_FILE) keeps it
# busy. Killing only this shell would leave the sleep behind; the whole
# process group must go.
echo "waiting for a lock" >&2
sleep 60 &
echo $! >"$HOOK_PID_FILE"
wait
