#!/bin/sh
# An exec credential plugin for tests/integration/test_kclient_live.c: its
# first run hands out a token the API server does not know (as a plugin whose
# cached token was revoked early would), later runs the real one. Each run is
# counted in $COUNT_FILE.
n=$(cat "$COUNT_FILE" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$COUNT_FILE"
if [ "$n" = 1 ]; then token=not-a-token-the-server-knows; else token=$GOOD_TOKEN; fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2099-01-01T00:00:00Z"}}\n' "$token"
