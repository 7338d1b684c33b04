#!/bin/sh
# Returns KUBERNETES_EXEC_INFO as the token (JSON-escaped), so the test can
# parse and check what the plugin was told, with the apiVersion it was given.
info=$(printf '%s' "$KUBERNETES_EXEC_INFO" | sed 's/\\/\\\\/g; s/"/\\"/g')
api=$(printf '%s' "$KUBERNETES_EXEC_INFO" | sed -n 's/.*"apiVersion": *"\([^"]*\)".*/\1/p')
printf '{"apiVersion": "%s", "kind": "ExecCredential", "status": {"token": "%s"}}\n' "$api" "$info"
