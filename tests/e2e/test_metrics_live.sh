#!/usr/bin/env bash
# End to end, rest_client_requests_total (issue 10 section 5): coxswain
# (operator identity, leader election on, two workers) makes children, and a
# live scrape of the watcher's /metrics is parsed strictly
# (tests/e2e/data/metrics/exposition.py: every sample line well-formed, HELP
# and TYPE once per family, before its samples). The one family counts the
# requests of every coxswain process, with the same labels:
#   - the Lease requests of the leader elector (renewals are its PUTs: no
#     other coxswain request is a PUT);
#   - the watch requests, once each, as client-go counts them (method GET,
#     code 200): the GETs in /metrics are the GETs the processes logged
#     (kclient, -v 6) plus one per watch started (kwatch, -v 4);
#   - failed requests: a controller whose child kind (Secrets) the identity
#     may not list in its namespace gets 403s;
#   - the workers' requests, reported to the watcher in STATS: PATCHes (the
#     watcher never patches anything) and, with POSTs and DELETEs, at least
#     the writes the API server's audit log has from the operator identity
#     in the test namespace.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

EXPO=$E2E_REPO/tests/e2e/data/metrics/exposition.py
NS=e2e-metrics-$$
DENIED_NS=e2e-metrics-denied-$$
ROLE=coxswain-e2e-metrics-$$
LEASE=coxswain-e2e-metrics
REST=rest_client_requests_total

admin apply -f "$SAFETY_DATA/convergence-crds.yaml" -f "$SAFETY_DATA/rbac.yaml" >/dev/null
for plural in quiets bares; do
	check "the CRD $plural is established" admin wait --for=condition=Established --timeout=30s "crd/$plural.$GROUP"
done
check "the fixture has an audit log (tests/cluster/up)" test -r "${COXSWAIN_AUDIT_LOG:-}"
namespace "$NS"
namespace "$DENIED_NS"
grant_leases "$NS" "$ROLE"
check "the operator identity may hold a Lease in the test namespace" equals yes can_i update leases.coordination.k8s.io -n "$NS"
check "it may not list Secrets in $DENIED_NS" equals no can_i list secrets -n "$DENIED_NS"

cat >"$E2E_WORK/template.yaml" <<-YAML
	controllers:
	  - name: metrics-quiet
	    parent: {apiVersion: $GROUP/v1, kind: Quiet}
	    children:
	      - {apiVersion: v1, kind: ConfigMap, updateStrategy: InPlace}
	    hooks:
	      sync: {exec: {command: ["tests/e2e/data/safety/safety_hook.py"], timeoutSeconds: 10}}
	    namespace: "$NS"
	  - name: metrics-denied
	    parent: {apiVersion: $GROUP/v1, kind: Bare}
	    children:
	      - {apiVersion: v1, kind: Secret, updateStrategy: InPlace}
	    hooks:
	      sync: {exec: {command: ["tests/e2e/data/safety/safety_hook.py"], timeoutSeconds: 10}}
	    namespace: "$DENIED_NS"
	watcher:
	  endpoint: ipc:///tmp/unused.sock
	  healthAddress: "127.0.0.1:8081"
	  metricsAddress: "127.0.0.1:8080"
	  leaderElection: {enabled: true, namespace: $NS, name: $LEASE}
	worker: {count: 2}
YAML
write_config "$E2E_WORK/template.yaml" "$E2E_WORK/coxswain.yaml"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 2 -v 6

has_holder() { [[ -n $(admin get lease "$LEASE" -n "$NS" -o jsonpath='{.spec.holderIdentity}') ]]; }
eventually 40 "it takes the Lease" has_holder

CM='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p-cm"},"data":{"a":"1"}}'
for p in p1 p2 p3; do
	printf '{"apiVersion":"%s/v1","kind":"Quiet","metadata":{"name":"%s","namespace":"%s"},"spec":{"children":[%s],"status":{"value":"%s"}}}' \
		"$GROUP" "$p" "$NS" "${CM/p-cm/$p-cm}" "$p" | admin apply -f - >/dev/null
done
for p in p1 p2 p3; do
	eventually 60 "$p becomes Synced=True" equals True/ReconcileSucceeded synced quiet "$NS" "$p"
	check "$p's child exists" admin get configmap "$p-cm" -n "$NS"
done

scrape() { metrics >"$E2E_WORK/scrape.txt" && cat "$E2E_WORK/scrape.txt"; }
expo() { scrape | "$EXPO" "$@"; }

check "the scrape is well-formed (every line; HELP and TYPE once per family)" expo check
check "rest_client_requests_total is one counter family" equals 1 bash -c "grep -c '^# TYPE $REST counter\$' '$E2E_WORK/scrape.txt'"

# ---- Lease requests: renewals are PUTs, and nothing else coxswain sends is one
eventually 30 "the Lease renewals are counted (PUT 200)" at_least 2 expo sum $REST method=PUT code=200
check "the Lease was created (POST 201 among the writes)" at_least 1 expo sum $REST method=POST code=201

# ---- the 403s of the controller whose Secrets are forbidden
eventually 30 "the forbidden Secret list is counted (GET 403)" at_least 1 expo sum $REST method=GET code=403

# ---- the workers' requests, summed in the watcher's family
check "the workers' PATCHes are counted (the watcher never patches)" at_least 3 expo sum $REST method=PATCH code=200
writes_in_ns() { operator_writes "$NS" | tr -d ' '; }
metric_writes() {
	local n=0 m
	for m in POST PATCH DELETE; do
		n=$((n + $(scrape | "$EXPO" sum $REST method=$m)))
	done
	echo $n
}
WRITES=$(writes_in_ns)
check "the audit log has the operator's writes in $NS" at_least 3 echo "$WRITES"
eventually 20 "every write of the audit log is counted (at least $WRITES POST/PATCH/DELETE)" at_least "$WRITES" metric_writes
check "one host label for every process's series" equals 1 bash -c \
	"'$EXPO' series $REST <'$E2E_WORK/scrape.txt' | sed 's/.*host=\"\\([^\"]*\\)\".*/\\1/' | sort -u | wc -l"

# ---- watches: each counted once as a GET with its code
# The GETs the processes logged themselves (kclient, one line per attempt)
# and the watches they started: /metrics has their sum.
logged_gets() { grep -c 'msg="request" verb=GET .* code=200 ' "$E2E_WORK/coxswain.log" || true; }
watches() { grep -c 'msg="watch started"' "$E2E_WORK/coxswain.log" || true; }
# A watch the server answered with a status other than 200 (a refused
# streaming list: the denied Secrets' 403; a new CRD's "storage is
# (re)initializing" 429) was a GET of that code.
refused_watches() {
	grep -cE 'msg="watch ended" .*error="WATCH [^ ]*: [0-9]{3} ' "$E2E_WORK/coxswain.log" || true
}
gets_are_logged_gets_plus_watches() {
	local want got
	want=$(($(logged_gets) + $(watches) - $(refused_watches)))
	got=$(expo sum $REST method=GET code=200)
	[[ $got == "$want" ]] || { echo "GET 200 in /metrics: $got; logged GETs + watches started: $want"; return 1; }
}
check "watches were started (CRDs, parents, ConfigMaps)" at_least 3 watches
eventually 30 "every watch is counted once, as a GET of its code" gets_are_logged_gets_plus_watches

keep_log test_metrics_live
done_testing
