#!/bin/sh
# Writes ~256 KiB on stderr before its credential: more than a pipe holds,
# so a runner that reads stdout only would deadlock with it.
i=0
while [ $i -lt 4096 ]; do
	echo "progress line $i .................................................." >&2
	i=$((i + 1))
done
printf '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": "after-noise"}}\n'
