#!/usr/bin/env bash
# End to end, the API client's limit (issue 12 item 1): coxswain started
# with --kube-api-qps 2 --kube-api-burst 2 (the watcher's and, through
# --spawn-workers, its worker's) makes children of 8 parents. Every request
# then waits on a limiter, so:
#   - rest_client_rate_limiter_duration_seconds in the watcher's /metrics
#     counts them, the worker's included (PATCH: only workers patch);
#   - two processes, each with 2 tokens and 2 more a second, cannot have
#     sent more than 4 + 4 * (seconds since the start) requests: a lower
#     bound on the time taken, so a loaded machine can only make it pass
#     more easily.
# Bad flag values stop both binaries with a message naming the flag.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

EXPO=$E2E_REPO/tests/e2e/data/metrics/exposition.py
NS=e2e-qps-$$
RL=rest_client_rate_limiter_duration_seconds

for bin in watcher/coxswain-watcher worker/coxswain-worker; do
	check "$bin rejects --kube-api-qps 0 (exit 2), naming the flag" \
		contains "--kube-api-qps: expected requests a second from 0.001 to 1000000, or -1 for no client-side limit, got \"0\" rc=2" \
		bash -c "out=\$('$E2E_BUILD/$bin' --kube-api-qps 0 --config /dev/null 2>&1); echo \"\$out rc=\$?\""
	check "$bin rejects --kube-api-burst 0 (exit 2), naming the flag" \
		contains "--kube-api-burst: expected a whole number from 1 to 1000000, got \"0\" rc=2" \
		bash -c "out=\$('$E2E_BUILD/$bin' --kube-api-burst 0 --config /dev/null 2>&1); echo \"\$out rc=\$?\""
done

admin apply -f "$SAFETY_DATA/convergence-crds.yaml" -f "$SAFETY_DATA/rbac.yaml" >/dev/null
check "the CRD quiets is established" admin wait --for=condition=Established --timeout=30s "crd/quiets.$GROUP"
namespace "$NS"

cat >"$E2E_WORK/template.yaml" <<-YAML
	controllers:
	  - name: qps-quiet
	    parent: {apiVersion: $GROUP/v1, kind: Quiet}
	    children:
	      - {apiVersion: v1, kind: ConfigMap, updateStrategy: InPlace}
	    hooks:
	      sync: {exec: {command: ["tests/e2e/data/safety/safety_hook.py"], timeoutSeconds: 10}}
	    namespace: "$NS"
	watcher:
	  endpoint: ipc:///tmp/unused.sock
	  healthAddress: "127.0.0.1:8081"
	  metricsAddress: "127.0.0.1:8080"
	  leaderElection: {enabled: false}
	worker: {count: 1}
YAML
write_config "$E2E_WORK/template.yaml" "$E2E_WORK/coxswain.yaml"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
START=$(date +%s.%N)
start_coxswain "$E2E_WORK/coxswain.yaml" 1 --kube-api-qps 2 --kube-api-burst 2

CM='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p-cm"},"data":{"a":"1"}}'
PARENTS="p1 p2 p3 p4 p5 p6 p7 p8"
for p in $PARENTS; do
	printf '{"apiVersion":"%s/v1","kind":"Quiet","metadata":{"name":"%s","namespace":"%s"},"spec":{"children":[%s],"status":{"value":"%s"}}}' \
		"$GROUP" "$p" "$NS" "${CM/p-cm/$p-cm}" "$p" | admin apply -f - >/dev/null
done
for p in $PARENTS; do
	eventually 180 "$p becomes Synced=True" equals True/ReconcileSucceeded synced quiet "$NS" "$p"
done

scrape() { metrics >"$E2E_WORK/scrape.txt" && cat "$E2E_WORK/scrape.txt"; }
expo() { scrape | "$EXPO" "$@"; }
check "the scrape is well-formed" expo check
check "$RL is a histogram" contains "# TYPE $RL histogram" scrape
eventually 30 "the worker's waits came through STATS (PATCH: only workers patch)" at_least 1 \
	expo sum ${RL}_count verb=PATCH
ALL=$("$EXPO" sum ${RL}_count <"$E2E_WORK/scrape.txt")
SHORT=$("$EXPO" sum ${RL}_bucket le=0.1 <"$E2E_WORK/scrape.txt")
check "some waits were long (above 0.1 s: $SHORT of $ALL were not)" awk -v a="$ALL" -v s="$SHORT" 'BEGIN {exit !(a > s)}' 
check "more than a burst of requests waited (at least 20)" at_least 20 expo sum ${RL}_count
# Read the count first, then the clock: the bound only gets looser.
COUNT=$(expo sum ${RL}_count)
ELAPSED=$(awk -v s="$START" -v n="$(date +%s.%N)" 'BEGIN {print n - s}')
check "$COUNT limited requests took at least ($COUNT - 4) / 4 s (took ${ELAPSED}s)" \
	awk -v c="$COUNT" -v e="$ELAPSED" 'BEGIN {exit !(e >= (c - 4) / 4)}'
check "the waits add up to seconds (sum over processes)" at_least 2 expo sum ${RL}_sum

keep_log test_kube_api_qps
done_testing
