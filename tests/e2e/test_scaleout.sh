#!/usr/bin/env bash
# End to end, the authenticated job channel and workers in other pods (issue
# 10, part 4). One watcher binds a tcp:// endpoint with CURVE keys (made by
# deploy/scale-out/make-keys.sh and --curve-keygen); two worker
# supervisors, each its own worker set (--worker-set, as each pod of
# deploy/scale-out's worker Deployment) with its own key pair, connect to it,
# as they would from other pods.
#   - start-up: tcp:// without keys is refused by the watcher and by a worker
#     (the message names the file and the field), a tcp:// endpoint with
#     insecure: true is not;
#   - both sets get jobs (each ConfigMap says which set's hook wrote it);
#   - intruders that reach the port: one without CURVE, one with a key that is
#     not authorized, both saying READY for a live slot and forging RESULT ok
#     for job ids 1..60, receive no job and change nothing: an update of
#     every parent is applied by the real workers, the watcher still counts 4
#     workers, and it logs the unknown key once;
#   - kill -9 one set (its supervisor and workers, as a pod dies) while its
#     workers hold jobs: the jobs move to the other set once their deadline
#     passes (a busy worker is not declared lost earlier: its job may still
#     be running), and every parent ends Synced=True with the other set's
#     ConfigMap.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

NS=e2e-scaleout-$$
DATA=$E2E_REPO/tests/e2e/data/scaleout
KEYS=$E2E_WORK/keys
MARKS=$E2E_WORK/marks
WATCHER=$E2E_BUILD/watcher/coxswain-watcher
WORKER=$E2E_BUILD/worker/coxswain-worker
TESTWORKER=$E2E_BUILD/tests/e2e/testworker
OPERATOR_KUBECONFIG=$COXSWAIN_CLUSTER_DIR/operator.kubeconfig
mkdir -p "$KEYS/authorized" "$MARKS"

admin apply -f "$SAFETY_DATA/ownership-crd.yaml" -f "$SAFETY_DATA/rbac.yaml" >/dev/null
check "the CRD is established" admin wait --for=condition=Established --timeout=30s "crd/claims.$GROUP"
namespace "$NS"

# Keys. The watcher's and pool-a's come from deploy/scale-out/make-keys.sh
# (the documented command), read back from its Secrets as the pods would
# mount them; pool-b's and a stranger's from --curve-keygen. The authorized
# keys are a directory of public keys, as the mounted Secret is.
make_keys() {
	KUBECONFIG=$COXSWAIN_CLUSTER_DIR/admin.kubeconfig COXSWAIN_WATCHER=$WATCHER \
		"$E2E_REPO/deploy/scale-out/make-keys.sh" --namespace "$NS" "$@"
}
check "make-keys.sh stores the keys as Secrets" make_keys
check "make-keys.sh does not replace them without --rotate" fails make_keys
check "make-keys.sh --rotate does" make_keys --rotate
# from_secret SECRET KEY FILE: one item of a Secret, as its volume shows it.
from_secret() {
	admin get secret "$1" -n "$NS" -o "go-template={{index .data \"$2\" | base64decode}}" >"$3" && chmod 600 "$3"
}
from_secret coxswain-curve-watcher watcher.key "$KEYS/watcher.key"
from_secret coxswain-curve-worker watcher.pub "$KEYS/watcher.pub"
from_secret coxswain-curve-worker worker.key "$KEYS/pool-a.key"
from_secret coxswain-curve-workers workers "$KEYS/authorized/pool-a"
for k in pool-b stranger; do
	check "--curve-keygen writes the $k pair" "$WATCHER" --curve-keygen "$KEYS/$k"
done
check "the secret key file is 0600" equals 600 stat -c %a "$KEYS/pool-b.key"
check "--curve-keygen never overwrites a key" fails "$WATCHER" --curve-keygen "$KEYS/pool-b"
cp "$KEYS/pool-b.pub" "$KEYS/authorized/pool-b"

PORT=$(free_port)
E2E_HEALTH_PORT=$(free_port)
E2E_METRICS_PORT=$(free_port)
# config SET DEST [SED...]: the test's config for worker set SET.
config() {
	local set=$1 dst=$2
	shift 2
	sed -e "s#@NS@#$NS#; s#@PORT@#$PORT#; s#@KEYS@#$KEYS#g; s#@SET@#$set#" \
	    -e "s#healthAddress: .*#healthAddress: \"127.0.0.1:$E2E_HEALTH_PORT\"#" \
	    -e "s#metricsAddress: .*#metricsAddress: \"127.0.0.1:$E2E_METRICS_PORT\"#" "$@" \
	    "$DATA/coxswain.yaml" >"$dst"
}
config pool-a "$E2E_WORK/watcher.yaml"
config pool-a "$E2E_WORK/pool-a.yaml"
config pool-b "$E2E_WORK/pool-b.yaml"
check "the config is valid" "$WATCHER" --check-config "$E2E_WORK/watcher.yaml"

# ---- start-up refuses tcp:// without keys
config pool-a "$E2E_WORK/nokeys.yaml" -e '/curve:/d'
refused() {
	local out
	out=$(cd "$E2E_REPO" && timeout 60 "$@" --kubeconfig "$OPERATOR_KUBECONFIG" 2>&1)
	local rc=$?
	((rc == 1)) || { echo "exit $rc, want 1:"; echo "$out"; return 1; }
	[[ $out == *"nokeys.yaml"*"curve: missing"*"tcp://127.0.0.1:$PORT"*"insecure: true"* ]] ||
		{ echo "$out"; return 1; }
}
check "the watcher refuses tcp:// without CURVE keys, naming the file and field" \
	refused "$WATCHER" --config "$E2E_WORK/nokeys.yaml"
check "a worker refuses it too" refused "$WORKER" --config "$E2E_WORK/nokeys.yaml" --workers 1
# With insecure: true the watcher starts (it serves /healthz), then stops.
config pool-a "$E2E_WORK/insecure.yaml" -e '/curve:/d' -e 's#leaderElection: .*#&\n  insecure: true#'
(cd "$E2E_REPO" && exec "$WATCHER" --config "$E2E_WORK/insecure.yaml" --kubeconfig "$OPERATOR_KUBECONFIG" \
	>>"$E2E_WORK/insecure.log" 2>&1) &
INSECURE_PID=$!
E2E_PIDS+=("$INSECURE_PID")
eventually 30 "insecure: true lets tcp:// run without keys" health healthz
stop_coxswain "$INSECURE_PID"
check "(and it stopped cleanly)" equals 0 echo "$E2E_EXIT"

# ---- the watcher and two worker sets
(cd "$E2E_REPO" && exec "$WATCHER" --config "$E2E_WORK/watcher.yaml" --kubeconfig "$OPERATOR_KUBECONFIG" -v 2 \
	>>"$E2E_WORK/coxswain.log" 2>&1) &
E2E_COXSWAIN_PID=$!
E2E_PIDS+=("$E2E_COXSWAIN_PID")
# supervisor SET: a worker supervisor of 2 workers in set SET, in a session
# of its own, so that killing its process group is what a pod's death is.
supervisor() {
	(cd "$E2E_REPO" && SCALEOUT_SET=$1 SCALEOUT_MARKS=$MARKS exec setsid "$WORKER" --config "$E2E_WORK/$1.yaml" \
		--workers 2 --worker-set "$1" --kubeconfig "$OPERATOR_KUBECONFIG" -v 2 >>"$E2E_WORK/$1.log" 2>&1) &
	E2E_PIDS+=($!)
}
supervisor pool-a
POOL_A_PID=$!
supervisor pool-b
eventually 60 "/readyz answers ok" equals ok health readyz
eventually 60 "the watcher counts both sets' workers (4)" equals 4 metric coxswain_workers

# claim NAME VALUE [SLEEP]
claim() {
	printf '{"apiVersion":"%s/v1","kind":"Claim","metadata":{"name":"%s","namespace":"%s"},"spec":{"value":"%s","sleepSeconds":%s}}' \
		"$GROUP" "$1" "$NS" "$2" "${3:-0}" | admin apply -f - >/dev/null
}
# values: "name=value" of every ConfigMap the hook wrote, sorted.
cm_values() {
	admin get configmaps -n "$NS" -o go-template='{{range .items}}{{if .data.value}}{{.metadata.name}}={{.data.value}}{{"\n"}}{{end}}{{end}}' | sort
}
want_values() { local v=$1 i; for i in $(seq -w 1 12); do echo "c$i-cm=$v"; done | sort; }
cm_by() { admin get configmaps -n "$NS" -o go-template='{{range .items}}{{.data.by}}{{"\n"}}{{end}}' | sort -u | grep .; }

# ---- intruders on the port, for the rest of the test
"$TESTWORKER" --endpoint "tcp://127.0.0.1:$PORT" --slot 0 --set pool-a --instance intruder1 \
	--log "$E2E_WORK/intruder-plain.jobs" --forge-results 60 >>"$E2E_WORK/intruders.log" 2>&1 &
E2E_PIDS+=($!)
"$TESTWORKER" --endpoint "tcp://127.0.0.1:$PORT" --slot 1 --set pool-b --instance intruder2 \
	--curve-secret-key "$KEYS/stranger.key" --curve-server-key "$KEYS/watcher.pub" \
	--log "$E2E_WORK/intruder-key.jobs" --forge-results 60 >>"$E2E_WORK/intruders.log" 2>&1 &
E2E_PIDS+=($!)
STRANGER=$(grep -v '^#' "$KEYS/stranger.pub")
# refusals_of KEY: the log lines that refuse KEY (Z85 has regex characters).
refusals_of() { grep -F -- "$1" "$E2E_WORK/coxswain.log" | grep -c "not among the authorized keys"; }
eventually 30 "the watcher logs the stranger's key as not authorized" at_least 1 refusals_of "$STRANGER"

for i in $(seq -w 1 12); do claim "c$i" v1; done
eventually 90 "12 parents: every ConfigMap has value v1" equals "$(want_values v1)" cm_values
check "both worker sets ran hooks" equals "pool-a
pool-b" cm_by
for i in $(seq -w 1 12); do claim "c$i" v2; done
eventually 90 "an update of every parent is applied (no forged ok was taken)" equals "$(want_values v2)" cm_values
check "the intruders received no job" equals "0 0" \
	bash -c "echo \$(cat '$E2E_WORK/intruder-plain.jobs' 2>/dev/null | wc -l) \$(cat '$E2E_WORK/intruder-key.jobs' 2>/dev/null | wc -l)"
check "no JOB reached them (their own account)" fails grep -q "exiting while holding\|PROTOCOL ERROR" "$E2E_WORK/intruders.log"
check "the watcher still counts 4 workers, no intruder" equals 4 metric coxswain_workers
check "no READY was refused: no intruder reached the broker" fails grep -q "READY refused" "$E2E_WORK/coxswain.log"
check "the stranger's key is logged once, though it keeps trying" equals 1 refusals_of "$STRANGER"
check "coxswain_job_channel_auth_failures_total counts each of its tries" at_least 1 metric coxswain_job_channel_auth_failures_total

# ---- kill one set while it holds jobs: they move to the other
rm -f "$MARKS"/*
for i in 1 2 3 4; do claim "k$i" slow 8; done
# (Only the k parents' marks: the c parents may be reconciled again meanwhile.)
held_by_a() { local held=("$MARKS"/k*.pool-a); [[ -e ${held[0]} ]] || { ls "$MARKS"; return 1; }; }
eventually 60 "pool-a's workers are running hooks" held_by_a
A_HELD=$(find "$MARKS" -mindepth 1 -maxdepth 1 -name 'k*.pool-a' -printf '%f\n' | sed 's/\.pool-a$//' | sort)
kill -KILL -- "-$POOL_A_PID"
pool_b_cm() { equals pool-b admin get configmap "$1-cm" -n "$NS" -o 'jsonpath={.data.by}'; }
for k in $A_HELD; do
	eventually 120 "$k, held by pool-a when it was killed, is done by pool-b" pool_b_cm "$k"
done
for k in k1 k2 k3 k4; do
	eventually 60 "$k: Synced=True" equals True/ReconcileSucceeded synced claim "$NS" "$k"
done
check "the watcher noticed the lost jobs" grep -q "job lost" "$E2E_WORK/coxswain.log"
check "coxswain_jobs_lost_total counts them as reason deadline" at_least 1 metric 'coxswain_jobs_lost_total{reason="deadline"}'
eventually 30 "the watcher counts pool-b's 2 workers" equals 2 metric coxswain_workers

stop_coxswain
check "the watcher exits 0 on SIGTERM" equals 0 echo "$E2E_EXIT"
keep_log test_scaleout
done_testing
