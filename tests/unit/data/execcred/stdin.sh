#!/bin/sh
# Returns what its stdin is and how many bytes it holds: "/dev/null:0" when
# the runner did its job; a terminal or pipe left open would hang `cat`.
what=$(readlink /proc/$$/fd/0)
bytes=$(cat | wc -c | tr -d ' ')
printf '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": "%s:%s"}}\n' "$what" "$bytes"
