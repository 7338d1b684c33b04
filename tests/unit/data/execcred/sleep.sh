#!/bin/sh
# Hangs: a child `sleep` (its pid written to $EXECCRED_PID_FILE) keeps it
# busy past any test timeout. Killing only this shell would leave the sleep
# behind; the runner must kill the whole process group.
echo "waiting for the browser login" >&2
sleep 60 &
echo $! >"$EXECCRED_PID_FILE"
wait
