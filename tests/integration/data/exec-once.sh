#!/bin/sh
# An exec credential plugin for tests/integration/test_kclient_live.c: its
# first run hands out a token the API server does not know; every later run
# fails (a plugin whose backend went away). Runs are counted in $COUNT_FILE.
n=$(cat "$COUNT_FILE" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$COUNT_FILE"
if [ "$n" != 1 ]; then
	echo "the credential backend is gone" >&2
	exit 1
fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"not-a-token-the-server-knows","expirationTimestamp":"2099-01-01T00:00:00Z"}}\n'
