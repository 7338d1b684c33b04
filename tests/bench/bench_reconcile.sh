#!/usr/bin/env bash
# Reconciles per second of coxswain (watcher + supervisor + 4 workers) for
# 1,000 parents, with an exec hook and with a webhook hook doing the same
# thing (tests/e2e/data/worker/widget_hook.py: one ConfigMap per Widget), in
# the same run against the fixture: the ratio is what forking a hook process
# per reconcile costs against one HTTP POST to a running server.
#
#   tests/bench/bench_reconcile.sh [BUILD_DIR] [PARENTS]
#
# BUILD_DIR (default $COXSWAIN_BUILD_DIR, else build/) should be a build
# without sanitizers (tests/run uses build-bench/); coxswain-watcher and
# coxswain-worker are made there first (make is quick when they are current). Needs the fixture (tests/cluster/up; the
# environment of .cluster/env, which is read when COXSWAIN_CLUSTER_DIR is
# not set).
#
# For each hook the clock starts with `kubectl apply` of one multi-document
# file holding all the parents. It reads the time when kubectl sees every
# one Synced=True (parents/s), and the time of the last reconcile they
# caused: a parent is reconciled about twice (its ConfigMap's creation and
# its own status change bring it back once more, to find nothing to do), and
# that second round must be over before the next hook is measured.
# reconciles/s = the successful reconciles the watcher's /metrics counted
# (controller_runtime_reconcile_total) / that time. Prints figures; fails
# only when something did not work (a parent never synced, a process failed,
# an error in the log).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-${COXSWAIN_BUILD_DIR:-$repo/build}}
build=$(cd "$build" && pwd) || exit 1
PARENTS=${2:-1000}
WORKERS=4
TIMEOUT_S=600
if [[ -z ${COXSWAIN_CLUSTER_DIR:-} && -f $repo/.cluster/env ]]; then
	set -a
	# shellcheck source=/dev/null
	. "$repo/.cluster/env"
	set +a
fi
export COXSWAIN_BUILD_DIR=$build
# shellcheck source=../e2e/lib.sh
source "$repo/tests/e2e/lib.sh"

die() {
	echo "bench_reconcile: $*" >&2
	E2E_FAILED=1
	exit 1
}

make -C "$build" watcher/coxswain-watcher worker/coxswain-worker >"$E2E_WORK/make.log" 2>&1 ||
	die "cannot build the programs in $build: $(tail -n 20 "$E2E_WORK/make.log")"
if ldd "$build/worker/coxswain-worker" 2>/dev/null | grep -q 'libasan\|libubsan'; then
	echo "bench_reconcile: warning: $build is built with sanitizers; the figures are distorted"
fi

DATA=$repo/tests/e2e/data/worker
EXEC_NS=bench-reconcile-exec-$$
WEB_NS=bench-reconcile-webhook-$$
admin apply -f "$DATA/crd.yaml" -f "$DATA/rbac.yaml" >/dev/null || die "cannot apply the Widget CRD and RBAC"
admin wait --for=condition=Established --timeout=30s crd/widgets.e2e.coxswain.io >/dev/null ||
	die "the Widget CRD is not established"
namespace "$EXEC_NS" || die "cannot create namespace $EXEC_NS"
namespace "$WEB_NS" || die "cannot create namespace $WEB_NS"

python3 "$DATA/widget_webhook.py" --port-file "$E2E_WORK/webhook.port" >>"$E2E_WORK/webhook.log" 2>&1 &
E2E_PIDS+=($!)
for ((i = 0; i < 100; i++)); do
	[[ ! -s $E2E_WORK/webhook.port ]] || break
	sleep 0.1
done
[[ -s $E2E_WORK/webhook.port ]] || die "the webhook server did not start: $(cat "$E2E_WORK/webhook.log")"
sed -e "s#@EXEC_NS@#$EXEC_NS#; s#@WEB_NS@#$WEB_NS#" \
    -e "s#@WEBHOOK_URL@#http://127.0.0.1:$(cat "$E2E_WORK/webhook.port")/sync#" "$DATA/bench.yaml" >"$E2E_WORK/template.yaml"
write_config "$E2E_WORK/template.yaml" "$E2E_WORK/coxswain.yaml"
# -v 0: one log line per reconcile (-v 2) would be measured too.
start_coxswain "$E2E_WORK/coxswain.yaml" "$WORKERS" -v 0
for ((i = 0; i < 300; i++)); do
	[[ $(health readyz 2>/dev/null) == ok && $(metrics 2>/dev/null | awk '$1 == "coxswain_workers" {print $2}') == "$WORKERS" ]] && break
	kill -0 "$E2E_COXSWAIN_PID" 2>/dev/null || die "coxswain exited: $(tail -n 20 "$E2E_WORK/coxswain.log")"
	sleep 0.1
done
((i < 300)) || die "coxswain is not ready with $WORKERS workers after 30 s: $(tail -n 20 "$E2E_WORK/coxswain.log")"

now() { date +%s.%N; }
# successes CONTROLLER: its successful reconciles so far.
successes() {
	metrics | awk -v m="controller_runtime_reconcile_total{controller=\"$1\",result=\"success\"}" \
		'$1 == m {n = $2} END {print n + 0}'
}
synced_true() {
	admin get widgets -n "$1" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Synced")].status}{"\n"}{end}' |
		grep -c '^True$'
}

depth() { metrics | awk '$1 ~ /^workqueue_depth/ {n += $2} END {print n + 0}'; }

# measure NAMESPACE CONTROLLER: creates the parents in NAMESPACE; sets
# SYNCED_S (seconds until kubectl sees all Synced=True), ELAPSED (until the
# last reconcile they caused: the queue is empty and no reconcile finished for
# QUIET_S) and RECONCILES (the successful ones by then).
QUIET_S=3
measure() {
	local ns=$1 controller=$2 file=$E2E_WORK/$1.yaml before t0 deadline i n last last_t
	for ((i = 1; i <= PARENTS; i++)); do
		printf -- '---\napiVersion: e2e.coxswain.io/v1\nkind: Widget\nmetadata: {name: w-%05d}\nspec: {behavior: ok, value: "%d"}\n' "$i" "$i"
	done >"$file"
	before=$(successes "$controller")
	t0=$(now)
	deadline=$((SECONDS + TIMEOUT_S))
	admin apply -n "$ns" -f "$file" >/dev/null || die "kubectl apply of $PARENTS Widgets failed"
	# The metrics are cheap to poll; kubectl listing every parent is not.
	while (($(successes "$controller") - before < PARENTS)); do
		((SECONDS < deadline)) || die "$controller: fewer than $PARENTS reconciles after ${TIMEOUT_S}s"
		kill -0 "$E2E_COXSWAIN_PID" 2>/dev/null || die "coxswain exited: $(tail -n 20 "$E2E_WORK/coxswain.log")"
		sleep 0.1
	done
	while (($(synced_true "$ns") < PARENTS)); do
		((SECONDS < deadline)) || die "$controller: only $(synced_true "$ns") of $PARENTS Widgets Synced=True after ${TIMEOUT_S}s"
		sleep 0.2
	done
	SYNCED_S=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}')
	# What the parents' own changes (their ConfigMaps, their status) queue
	# again is part of the work: wait until it is done too.
	last=$(successes "$controller") last_t=$(now)
	while :; do
		((SECONDS < deadline)) || die "$controller: still reconciling after ${TIMEOUT_S}s"
		sleep 0.1
		n=$(successes "$controller")
		if ((n != last)); then
			last=$n last_t=$(now)
		elif [[ $(depth) == 0 ]] && awk -v a="$last_t" -v b="$(now)" -v q="$QUIET_S" 'BEGIN {exit !(b - a >= q)}'; then
			break
		fi
	done
	ELAPSED=$(awk -v a="$t0" -v b="$last_t" 'BEGIN {printf "%.3f", b - a}')
	RECONCILES=$((last - before))
}

measure "$EXEC_NS" bench-exec
exec_synced=$SYNCED_S exec_s=$ELAPSED exec_n=$RECONCILES
measure "$WEB_NS" bench-webhook
web_synced=$SYNCED_S web_s=$ELAPSED web_n=$RECONCILES
stop_coxswain
((E2E_EXIT == 0)) || die "coxswain exited with status $E2E_EXIT on SIGTERM"
errors=$(grep -c 'level=error' "$E2E_WORK/coxswain.log")
((errors == 0)) || die "$errors errors in the coxswain log: $(grep 'level=error' "$E2E_WORK/coxswain.log" | head -5)"

awk -v p="$PARENTS" -v w="$WORKERS" -v es="$exec_s" -v en="$exec_n" -v ws="$web_s" -v wn="$web_n" \
    -v ey="$exec_synced" -v wy="$web_synced" 'BEGIN {
	er = en / es; wr = wn / ws
	printf "bench_reconcile: %d parents, %d workers: exec %.1f reconciles/s, webhook %.1f reconciles/s (ratio %.2f)\n",
		p, w, er, wr, wr / er
	printf "bench_reconcile: exec: all Synced=True in %.1f s (%.1f parents/s), %d reconciles in %.1f s; " \
		"webhook: all Synced=True in %.1f s (%.1f parents/s), %d reconciles in %.1f s\n",
		ey, p / ey, en, es, wy, p / wy, wn, ws
}'
