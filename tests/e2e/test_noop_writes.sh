#!/usr/bin/env bash
# End to end, issue 12 item 3 (no write that changes nothing): coxswain's
# mutating requests per parent, counted independently in the API server's
# audit log (lib.sh operator_write_log: the operator identity's create,
# update, patch and delete requests; Leases and dry runs left out). N parents
# with one ConfigMap child each, resynced every 2 s:
#   - cold start (the parents exist before coxswain starts): at most 2 writes
#     per parent, the child's creation and the status; no Normal Created
#     Event (worker.events.normal is off by default);
#   - an annotation on every parent (a reconcile without a spec change) and
#     the resyncs: no write at all, in particular no PATCH of a child;
#   - a spec update that changes the child: at most 2 writes per parent (the
#     child's apply, and the status, whose observedGeneration moved);
#   - removal: the hook stops returning a label and a data key coxswain set:
#     both are removed from the child (server-side apply removes what
#     coxswain's field manager applied before);
#   - worker.events.normal: true brings the Created Event back.
# The figures (writes per parent, by verb and resource) are printed as TAP
# comments.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

NS=e2e-noop-$$
N=5
admin apply -f "$SAFETY_DATA/convergence-crds.yaml" -f "$SAFETY_DATA/rbac.yaml" >/dev/null
check "the CRD quiets is established" admin wait --for=condition=Established --timeout=30s "crd/quiets.$GROUP"
check "the fixture has an audit log (tests/cluster/up)" test -r "${COXSWAIN_AUDIT_LOG:-}"
namespace "$NS"

# config EVENTS_NORMAL: the test's coxswain.yaml.
config() {
	cat >"$E2E_WORK/template.yaml" <<-YAML
		watcher:
		  endpoint: ipc://placeholder
		  healthAddress: "127.0.0.1:8081"
		  metricsAddress: "127.0.0.1:8080"
		  leaderElection: {enabled: false}
		$1
		controllers:
		  - name: noop
		    parent: {apiVersion: $GROUP/v1, kind: Quiet}
		    children:
		      - {apiVersion: v1, kind: ConfigMap, updateStrategy: InPlace}
		    hooks:
		      sync: {exec: {command: ["tests/e2e/data/safety/safety_hook.py"], timeoutSeconds: 10}}
		    namespace: "$NS"
		    resyncPeriodSeconds: 2
	YAML
	write_config "$E2E_WORK/template.yaml" "$E2E_WORK/coxswain.yaml"
}
# spec I VALUE LABELS: parent p-I asks for ConfigMap c-I.
spec() {
	parent Quiet "$NS" "p-$1" "{\"children\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c-$1\",\"labels\":$3},\"data\":$2}],\"status\":{\"value\":\"v\"}}"
}
KEYS=()
for ((i = 1; i <= N; i++)); do
	spec "$i" '{"a":"1","b":"2"}' '{"app":"p","drop":"me"}'
	KEYS+=("noop/$NS/p-$i")
done
n_parents() { admin get quiets -n "$NS" -o name | wc -l; }
check "$N parents exist before coxswain starts" equals "$N" n_parents

# writes_since MARK: the write requests in NS after the first MARK ones.
writes_since() { operator_write_log "$NS" | tail -n +$(($1 + 1)); }
# by_verb MARK: "count verb resource" lines, for the figures.
by_verb() { writes_since "$1" | awk '{split($2, p, "?"); n = split(p[1], s, "/"); for (i = 1; i < n; i++) if (s[i] == "namespaces") break; r = s[i + 2]; if (s[i + 4] != "") r = r "/" s[i + 4]; print $1, r}' | sort | uniq -c | sed 's/^ */#   /'; }
# count_since MARK [PATTERN]: how many (matching PATTERN).
count_since() { writes_since "$1" | grep -c -e "${2:-.}"; }
per_parent() { awk -v w="$(writes_since "$1" | wc -l)" -v n="$N" 'BEGIN {printf "%.2f", w / n}'; }
all_synced() {
	local i
	for ((i = 1; i <= N; i++)); do
		[[ $(synced quiet "$NS" "p-$i") == True/ReconcileSucceeded ]] || { echo "p-$i: $(synced quiet "$NS" "p-$i")"; return 1; }
	done
}

config ""
start_coxswain "$E2E_WORK/coxswain.yaml" 2
M0=$(operator_writes "$NS")
eventually 60 "all $N parents become Synced=True" all_synced
# Writes that a second run (the child's own ADDED event, a resync) would
# make land within two more reconciles of each parent.
more_reconciles 60 2 "${KEYS[@]}"
echo "# cold start: $(per_parent "$M0") writes per parent:"
by_verb "$M0"
check "cold start: at most 2 writes per parent (the child, the status)" at_most $((2 * N)) count_since "$M0"
check "no Normal Created Event by default" equals 0 event_total Quiet "$NS" p-1 Created

M1=$(operator_writes "$NS")
for ((i = 1; i <= N; i++)); do admin annotate quiet "p-$i" -n "$NS" test/touch=1 >/dev/null; done
more_reconciles 60 2 "${KEYS[@]}"
echo "# annotation and resyncs: $(per_parent "$M1") writes per parent:"
by_verb "$M1"
check "an annotation on the parents and resyncs: no write at all" equals "" writes_since "$M1"
# dry_runs: the operator's dry-run requests in NS (a skip decided from the
# cache needs none; worker/childdiff.h).
dry_runs() {
	jq -rR --arg ns "$NS" 'fromjson? | select(.stage == "ResponseComplete"
		and .user.username == "system:serviceaccount:coxswain-system:coxswain"
		and .objectRef.namespace == $ns and (.requestURI | contains("dryRun=")))
		| "\(.verb) \(.requestURI)"' "$COXSWAIN_AUDIT_LOG"
}
check "every skip was decided from the cache: no dry-run request" equals "" dry_runs

M2=$(operator_writes "$NS")
for ((i = 1; i <= N; i++)); do spec "$i" '{"a":"changed","b":"2"}' '{"app":"p","drop":"me"}'; done
changed() {
	local i
	for ((i = 1; i <= N; i++)); do
		[[ $(get configmap "$NS" "c-$i" '{.data.a}') == changed ]] || { echo "c-$i not changed"; return 1; }
	done
}
eventually 60 "a spec update reaches every child" changed
more_reconciles 60 2 "${KEYS[@]}"
echo "# spec update: $(per_parent "$M2") writes per parent:"
by_verb "$M2"
check "a spec update: at most 2 writes per parent (the child, the status's observedGeneration)" \
	at_most $((2 * N)) count_since "$M2"
check "a spec update: one write per child" equals "$N" count_since "$M2" /configmaps/

for ((i = 1; i <= N; i++)); do spec "$i" '{"a":"changed"}' '{"app":"p"}'; done
removed() {
	local i
	for ((i = 1; i <= N; i++)); do
		[[ -z $(get configmap "$NS" "c-$i" '{.metadata.labels.drop}{.data.b}') ]] || { echo "c-$i still has them"; return 1; }
	done
}
eventually 60 "a label and a data key the hook stops returning are removed from every child" removed
check "(the others stay)" equals "p/changed" get configmap "$NS" c-1 '{.metadata.labels.app}/{.data.a}'
more_reconciles 60 2 "${KEYS[@]}"
M3=$(operator_writes "$NS")
more_reconciles 60 2 "${KEYS[@]}"
check "after the removal: no write at all" equals "" writes_since "$M3"

stop_coxswain
check "SIGTERM: coxswain exits 0" test "$E2E_EXIT" = 0
config "worker: {events: {normal: true}}"
start_coxswain "$E2E_WORK/coxswain.yaml" 1
spec new '{"a":"1"}' '{"app":"p"}'
eventually 60 "worker.events.normal: true: a Created Event" equals 1 event_total Quiet "$NS" p-new Created
stop_coxswain
check "no sanitizer report" fails grep -q 'ERROR: .*Sanitizer\|runtime error:' "$E2E_WORK/coxswain.log"
keep_log test_noop_writes
done_testing
