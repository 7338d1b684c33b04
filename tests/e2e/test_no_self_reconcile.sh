#!/usr/bin/env bash
# End to end, no self-caused reconciles (issue 12, item 2): the watch events
# that merely echo coxswain's own writes (a child it applied, the parent's
# status it wrote) do not run the hook again; everyone else's still do.
# The hook (tests/e2e/data/echo/count_hook.py) appends a line per call to a
# file; there is no periodic resync, so every call was caused by an event.
#   (0) first start, 20 new parents: two hook calls each and no more: the
#       first creates the ConfigMap, the second is the creation's event,
#       so that the hook sees the child it made (its status may count on
#       it); that second call writes nothing, and the status write's echo
#       is dropped;
#   (a) cold start on the 20 existing parents with their ConfigMap child,
#       every spec changed while coxswain was stopped: once all are synced
#       and the count has stopped moving for 10 s, exactly one more hook
#       call per parent (its child update and status write are echoes);
#   (b) an outside edit of a child made right after coxswain created it is
#       never lost: coxswain puts the desired data back, for each of 6
#       parents whose child kubectl edits as soon as it sees it, and 6 more
#       whose child a watcher edits within milliseconds of its ADDED event
#       (data/echo/edit_on_create.py, through kubectl proxy), often while
#       the job that created it is still running;
#   (c) a spec change runs the hook once more, and no more: the status
#       write and the child update of that run do not cause another.
# Dropped echoes are counted in coxswain_watch_events_echo_dropped_total;
# coxswain_echo_pending_parents falls back to 0 once the echoes are in.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

NS=e2e-echo-$$
N=20
COUNT=$E2E_WORK/hook-calls.txt
: >"$COUNT"

admin apply -f "$SAFETY_DATA/convergence-crds.yaml" -f "$SAFETY_DATA/rbac.yaml" >/dev/null
check "the CRD quiets is established" admin wait --for=condition=Established --timeout=30s "crd/quiets.$GROUP"
namespace "$NS"

# quiet NAME VALUE: a Quiet parent whose hook answers data.value = VALUE.
quiet() {
	printf '{"apiVersion":"%s/v1","kind":"Quiet","metadata":{"name":"%s","namespace":"%s"},"spec":{"value":"%s","countFile":"%s"}}' \
		"$GROUP" "$1" "$NS" "$2" "$COUNT" | admin apply -f - >/dev/null
}
calls() { grep -c -x "$NS/$1" "$COUNT" || true; }
total_calls() { wc -l <"$COUNT" | tr -d ' '; }
# settled: waits (up to 120 s) until the hook's call count has not changed
# for 10 s in a row, polling every second. Prints the count.
settled() {
	local last now stable=0 deadline=$((SECONDS + 120))
	last=$(total_calls)
	while ((stable < 10 && SECONDS < deadline)); do
		sleep 1
		now=$(total_calls)
		if [[ $now == "$last" ]]; then stable=$((stable + 1)); else stable=0; last=$now; fi
	done
	((stable >= 10)) || { echo "the hook call count kept moving: $now"; return 1; }
	echo "$last"
}
all_synced() {
	local i
	for ((i = 0; i < N; i++)); do
		equals True/ReconcileSucceeded synced quiet "$NS" "p$i" >/dev/null || { echo "p$i: $(synced quiet "$NS" "p$i")"; return 1; }
	done
}

# calls_each N NAME...: every NAME had exactly N hook calls.
calls_each() {
	local want=$1 name bad=0
	shift
	for name in "$@"; do
		[[ $(calls "$name") == "$want" ]] || { echo "$name: $(calls "$name") hook calls, want $want"; bad=1; }
	done
	return $bad
}
# all_have VALUE: every p child holds VALUE.
all_have() {
	local i
	for ((i = 0; i < N; i++)); do
		equals "$1" get configmap "$NS" "p$i-cm" '{.data.value}' >/dev/null || { echo "p$i-cm: not $1"; return 1; }
	done
}

# ---- (0) first start: the parents are new
for ((i = 0; i < N; i++)); do quiet "p$i" "v1"; done
render "$E2E_REPO/tests/e2e/data/echo/echo.yaml" -e "s#@NS@#$NS#"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "/readyz answers ok once the caches synced" equals ok health readyz
eventually 120 "(0) all $N parents become Synced=True" all_synced
eventually 60 "(0) every child has the desired data" all_have v1
first=$(settled) || first=-1
echo "# (0) first start, new parents: $first hook calls for $N parents"
names=()
for ((i = 0; i < N; i++)); do names+=("p$i"); done
check "(0) two hook calls per new parent (the create, then the hook sees its child), no more" \
	calls_each 2 "${names[@]}"
# Every write a job reported has come back as its event: nothing is kept
# waiting for an echo (a job that listed a write it did not make would
# leave its parent here until two more jobs).
eventually 30 "(0) coxswain_echo_pending_parents{controller=\"echoes\"} falls back to 0" \
	equals 0 metric 'coxswain_echo_pending_parents{controller="echoes"}'
stop_coxswain
check "coxswain stops cleanly" test "$E2E_EXIT" = 0

# ---- (a) cold start on existing parents and children, specs changed meanwhile
for ((i = 0; i < N; i++)); do quiet "p$i" "v2"; done
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "(a) /readyz answers ok once the caches synced" equals ok health readyz
eventually 120 "(a) every child gets the new data" all_have v2
eventually 60 "(a) all $N parents are Synced=True" all_synced
cold=$(settled) || cold=-1
echo "# (a) cold start, $N existing parents changed while stopped: $((cold - first)) hook calls"
check "(a) the hook call count settles at one more call per parent ($N)" equals "$N" echo "$((cold - first))"
check "(a) every parent's hook ran exactly once more" calls_each 3 "${names[@]}"
check "(a) coxswain_watch_events_echo_dropped_total{controller=\"echoes\"} counts the dropped echoes" \
	at_least "$N" metric 'coxswain_watch_events_echo_dropped_total{controller="echoes"}'
check "(a) controller_runtime_reconcile_total{controller=\"echoes\",result=\"success\"} is the hook-run count" \
	equals "$N" metric 'controller_runtime_reconcile_total{controller="echoes",result="success"}'

# ---- (b) an outside change right after coxswain's own write is never lost
for ((i = 0; i < 6; i++)); do
	quiet "b$i" "desired"
	# As soon as coxswain's child shows up, someone else changes it.
	deadline=$((SECONDS + 60))
	until admin get configmap "b$i-cm" -n "$NS" >/dev/null 2>&1 || ((SECONDS >= deadline)); do :; done
	check "(b) b$i: an outside edit lands right after coxswain created the child" \
		admin patch configmap "b$i-cm" -n "$NS" --type merge -p '{"data":{"value":"outside"}}'
done
for ((i = 0; i < 6; i++)); do
	eventually 60 "(b) b$i: coxswain puts the desired data back" equals desired get configmap "$NS" "b$i-cm" '{.data.value}'
done
PROXY_PORT=$(free_port)
# kubectl itself, not the admin function: $! of a function run in the
# background is a subshell, and killing it at the end would leave kubectl.
kubectl --kubeconfig "$COXSWAIN_CLUSTER_DIR/admin.kubeconfig" proxy --port="$PROXY_PORT" >"$E2E_WORK/proxy.log" 2>&1 &
E2E_PIDS+=($!)
eventually 30 "(b) kubectl proxy answers" curl -fsS "http://127.0.0.1:$PROXY_PORT/version"
"$E2E_REPO/tests/e2e/data/echo/edit_on_create.py" "http://127.0.0.1:$PROXY_PORT" "$NS" e 6 >"$E2E_WORK/edits.txt" 2>&1 &
EDITOR_PID=$!
sleep 1 # its watch is open
for ((i = 0; i < 6; i++)); do quiet "e$i" "desired"; done
wait "$EDITOR_PID"
EDITOR_RC=$? # (not inside check: only this shell can wait for it)
check "(b) the watcher edited each e child the moment it appeared" test "$EDITOR_RC" -eq 0
sed 's/^/# edit (name, created rv, edited rv): /' "$E2E_WORK/edits.txt"
for ((i = 0; i < 6; i++)); do
	eventually 60 "(b) e$i: coxswain puts the desired data back" equals desired get configmap "$NS" "e$i-cm" '{.data.value}'
done

# ---- (c) the status write of a run does not cause another run
settled >/dev/null
before=$(calls p0)
check "(c) p0's spec changes" quiet p0 v3
eventually 60 "(c) p0's child gets the new data" equals v3 get configmap "$NS" p0-cm '{.data.value}'
settled >/dev/null
check "(c) the change ran p0's hook once more, and only once" equals $((before + 1)) calls p0
check "(c) no other parent of (a) ran again" calls_each 3 "${names[@]:1}"
keep_log test_no_self_reconcile
done_testing
