#!/usr/bin/env bash
# End to end, COXSWAIN_WEBHOOK_CONNECT_TO (worker/hook.h): coxswain runs
# outside the cluster with a webhook URL naming an in-cluster Service
# (http://answer-hooks.hooks-system:80/sync, which does not resolve here);
# the variable reroutes the connection to a local hook server, through the
# watcher to every worker process. A malformed value stops the worker at
# start with exit 2, naming the variable and the entry.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

NS=e2e-connect-to-$$

admin apply -f "$SAFETY_DATA/status-rules-crds.yaml" -f "$SAFETY_DATA/rbac.yaml" >/dev/null
check "the CRD answers is established" admin wait --for=condition=Established --timeout=30s "crd/answers.$GROUP"
namespace "$NS"

# The hook: tests/unit/data/hook/server.py answers /sync with a ConfigMap
# "<parent>-config" and status.parent.
python3 "$E2E_REPO/tests/unit/data/hook/server.py" 0 100000 600 >"$E2E_WORK/hook.port" &
E2E_PIDS+=($!)
eventually 10 "the hook server is listening" test -s "$E2E_WORK/hook.port"
PORT=$(head -n1 "$E2E_WORK/hook.port")

# shellcheck disable=SC2016 # $1 and $2 are the inner bash's arguments
check "a malformed value stops the worker at start (exit 2)" equals 2 \
	bash -c 'COXSWAIN_WEBHOOK_CONNECT_TO=answer-hooks.hooks-system:80:127.0.0.1 "$1" --config /nonexistent \
		2>"$2/bad.err"; echo $?' _ "$E2E_BUILD/worker/coxswain-worker" "$E2E_WORK"
check "... naming the variable and the entry" contains \
	'COXSWAIN_WEBHOOK_CONNECT_TO: entry 1 "answer-hooks.hooks-system:80:127.0.0.1": expected HOST:PORT:CONNECT_HOST:CONNECT_PORT' \
	cat "$E2E_WORK/bad.err"

sed -e "s#@NS@#$NS#" "$E2E_REPO/tests/e2e/data/webhook/connect-to.yaml" >"$E2E_WORK/config.in"
write_config "$E2E_WORK/config.in" "$E2E_WORK/coxswain.yaml"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
export COXSWAIN_WEBHOOK_CONNECT_TO="answer-hooks.hooks-system:80:127.0.0.1:$PORT"
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "/readyz answers ok once the caches synced" equals ok health readyz

check "an Answer is created" parent Answer "$NS" a1 '{}'
eventually 30 "its hook, reached through the rerouted URL, succeeds" equals True/ReconcileSucceeded synced answer "$NS" a1
check "the hook's status arrived" equals a1 get answer "$NS" a1 '{.status.parent}'
check "the hook's child was made" admin get configmap a1-config -n "$NS"
stop_coxswain
check "coxswain stopped cleanly" equals 0 echo "$E2E_EXIT"
check "no sanitizer report" fails grep -q 'ERROR: .*Sanitizer\|runtime error:' "$E2E_WORK/coxswain.log"

done_testing
