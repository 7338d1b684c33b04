#!/usr/bin/env bash
# End to end, persistent exec hooks and jq hooks (issue 12, item 4) against
# the real API server, kubectl (admin) as the independent client:
#   - the example persistent hooks (examples/hooks/persistent-sync.py and
#     .js) and a jq hook with the same sync logic reconcile their parents:
#     children with the parent's greeting, the hook's status, Synced=True;
#   - a persistent hook runs as at most one process per worker (2 here),
#     whatever the number of parents;
#   - killed, it is started again and later changes are still reconciled;
#   - no hook process outlives coxswain;
#   - a jq program that does not compile is refused by --check-config, and
#     the message names the field; one that fails at run time fails that
#     parent's sync with jq's message.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

PY_NS=e2e-persist-py-$$
JS_NS=e2e-persist-js-$$
JQ_NS=e2e-persist-jq-$$
PY_HOOK=examples/hooks/persistent-sync.py
JS_HOOK=examples/hooks/persistent-sync.js
N=6

admin apply -f "$SAFETY_DATA/status-rules-crds.yaml" -f "$SAFETY_DATA/rbac.yaml" >/dev/null
check "the CRD answers is established" admin wait --for=condition=Established --timeout=30s "crd/answers.$GROUP"
for ns in "$PY_NS" "$JS_NS" "$JQ_NS"; do
	namespace "$ns"
done

check "a jq program that does not compile is refused by --check-config" \
	contains 'controllers[0].hooks.sync.jq.program: the jq program does not compile: syntax error' \
	bash -c "'$E2E_BUILD/watcher/coxswain-watcher' --check-config '$E2E_REPO/tests/e2e/data/persistent/bad-jq.yaml' 2>&1; true"
render "$E2E_REPO/tests/e2e/data/persistent/coxswain.yaml" -e "s#@PY_NS@#$PY_NS#; s#@JS_NS@#$JS_NS#; s#@JQ_NS@#$JQ_NS#"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "/readyz answers ok once the caches synced" equals ok health readyz

greeting_of() { admin get configmap "$2-greeting" -n "$1" -o jsonpath='{.data.greeting}'; }
# all_synced NS PREFIX: every parent PREFIX1..PREFIXN is Synced=True with its greeting in its child.
all_synced() {
	local i
	for ((i = 1; i <= N; i++)); do
		equals True/ReconcileSucceeded synced answer "$1" "a$i" || return 1
		equals "$2 a$i" greeting_of "$1" "a$i" || return 1
	done
}
# hook_pids PATTERN: the running hook processes.
hook_pids() { pgrep -f "$1" || true; }
hook_count() { hook_pids "$1" | wc -l; }

for ns in "$PY_NS" "$JS_NS" "$JQ_NS"; do
	for ((i = 1; i <= N; i++)); do
		parent Answer "$ns" "a$i" "{\"greeting\":\"hello a$i\"}"
	done
done
eventually 90 "the persistent Python hook reconciles $N parents" all_synced "$PY_NS" hello
eventually 90 "the persistent Node hook reconciles $N parents" all_synced "$JS_NS" hello
eventually 90 "the jq hook reconciles $N parents" all_synced "$JQ_NS" hello
check "the Python hook's status is there" equals "true/hello a1" \
	get answer "$PY_NS" a1 '{.status.ready}/{.status.greeting}'
check "the jq hook's status is there" equals "true/hello a2/jq" \
	get answer "$JQ_NS" a2 '{.status.ready}/{.status.greeting}/{.status.by}'
check "the children are the parents' (controller ownerReference)" equals "Answer/a3/true" \
	get configmap "$JQ_NS" a3-greeting '{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].controller}'

check "the Python hook runs as one process per worker at most" at_most 2 hook_count "$PY_HOOK"
check "and it runs" at_least 1 hook_count "$PY_HOOK"
check "the Node hook too" at_most 2 hook_count "$JS_HOOK"
started() { grep -cF "msg=\"persistent hook started\" hook=\"sync hook \\\"$1\\\"\"" "$E2E_WORK/coxswain.log" || true; }
check "the log shows 1 or 2 Python hook starts for $N parents" at_most 2 started "$PY_HOOK"
check "(the log does show them)" at_least 1 started "$PY_HOOK"

# Killed, it comes back and the next change is reconciled.
old_pids=$(hook_pids "$PY_HOOK" | sort | tr '\n' ' ')
read -r -a old_pid_list <<<"$old_pids"
check "the Python hook processes are killed" kill -KILL "${old_pid_list[@]}"
for ((i = 1; i <= N; i++)); do
	parent Answer "$PY_NS" "a$i" "{\"greeting\":\"again a$i\"}"
done
eventually 90 "changes after the kill are reconciled by new processes" all_synced "$PY_NS" again
new_pids() { hook_pids "$PY_HOOK" | sort | tr '\n' ' '; }
check "the processes are new ones" bash -c "[[ '$(new_pids)' != '$old_pids' && -n '$(new_pids)' ]]"
check "still one per worker at most" at_most 2 hook_count "$PY_HOOK"

# The jq hook follows changes too, and its runtime errors fail that parent alone, in jq's words.
parent Answer "$JQ_NS" a1 '{"greeting":"changed"}'
eventually 60 "the jq hook follows a change" equals "changed" greeting_of "$JQ_NS" a1
parent Answer "$JQ_NS" bad '{"greeting":"x","fail":true}'
eventually 60 "a jq runtime error is a failed sync" equals False/InvalidHookResponse synced answer "$JQ_NS" bad
check "the condition has jq's message" contains 'sync hook "jq": the jq program failed: asked to fail: bad' \
	synced_message answer "$JQ_NS" bad
check "the other parents stay synced" equals True/ReconcileSucceeded synced answer "$JQ_NS" a2

stop_coxswain
check "SIGTERM stops coxswain cleanly (exit status 0)" test "$E2E_EXIT" = 0
eventually 30 "no Python hook process outlives coxswain" equals 0 hook_count "$PY_HOOK"
eventually 30 "no Node hook process outlives coxswain" equals 0 hook_count "$JS_HOOK"
done_testing
