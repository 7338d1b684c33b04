#!/bin/sh
# A well-behaved plugin. Counts its runs in $EXECCRED_COUNT_FILE and returns a
# token naming the run ("token-1", "token-2", ...), so a test can tell a cached
# credential from a fresh one. $EXECCRED_API overrides the apiVersion,
# $EXECCRED_EXPIRY adds an expirationTimestamp, EXECCRED_CERT=1 returns a
# client certificate and key instead of a token, and the run fails while the
# file $EXECCRED_FAIL_FILE exists.
n=1
if [ -n "$EXECCRED_COUNT_FILE" ]; then
	echo run >>"$EXECCRED_COUNT_FILE"
	n=$(wc -l <"$EXECCRED_COUNT_FILE" | tr -d ' ')
fi
if [ -n "$EXECCRED_FAIL_FILE" ] && [ -e "$EXECCRED_FAIL_FILE" ]; then
	echo "identity provider unavailable" >&2
	exit 1
fi
expiry=
if [ -n "$EXECCRED_EXPIRY" ]; then
	expiry=", \"expirationTimestamp\": \"$EXECCRED_EXPIRY\""
fi
if [ "$EXECCRED_CERT" = 1 ]; then
	cred='"clientCertificateData": "-----BEGIN CERTIFICATE-----\nCERT '$n'\n-----END CERTIFICATE-----\n", "clientKeyData": "-----BEGIN PRIVATE KEY-----\nKEY '$n'\n-----END PRIVATE KEY-----\n"'
else
	cred="\"token\": \"token-$n\""
fi
printf '{"apiVersion": "%s", "kind": "ExecCredential", "status": {%s%s}}\n' \
	"${EXECCRED_API:-client.authentication.k8s.io/v1}" "$cred" "$expiry"
