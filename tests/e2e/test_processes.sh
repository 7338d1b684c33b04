#!/usr/bin/env bash
# End to end, coxswain's processes (issue 10 section 2): coxswain-watcher
# --spawn-workers (operator identity) with the Widget hook of test_worker.sh,
# leader election on, checked with kubectl and ps:
#   1. a second worker supervisor with the same slots against the same
#      watcher: its workers are refused (one log line per slot), the first
#      set keeps its slots, no restart is counted, no job is lost;
#   2. SIGHUP drains like SIGTERM: the Lease is released, exit status 0;
#   3. --drain-timeout (and --namespace) reach the spawned supervisor: with a
#      hook stuck in a job, the supervisor is gone well before its default 25 s;
#   4. kill -9 of the watcher: its supervisor and workers die with it;
#   5. SIGTERM while the watcher waits for a credential plugin that hangs:
#      the plugin is killed and the watcher exits 0 at once, not at the
#      plugin's 30 s timeout.
source "$(dirname "$0")/lib.sh"

DATA=$E2E_REPO/tests/e2e/data/worker
GROUP=e2e.coxswain.io
NS=e2e-procs-$$
ROLE=coxswain-e2e-procs-$$
LEASE=coxswain-e2e-procs
WORKER=$E2E_BUILD/worker/coxswain-worker

SUPS=() # every supervisor seen: one left behind (the bug under test) is stopped here
procs_cleanup() {
	local p
	for p in "${SUPS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	if ((E2E_FAILED > 0)) && [[ -f $E2E_WORK/second.log ]]; then
		echo "# last lines of the second supervisor's log:"
		tail -n 30 "$E2E_WORK/second.log" | sed 's/^/#   /'
	fi
	e2e_cleanup
	admin delete role,rolebinding "$ROLE" -n "$NS" --ignore-not-found >/dev/null 2>&1
}
trap procs_cleanup EXIT

admin apply -f "$DATA/crd.yaml" -f "$DATA/rbac.yaml" >/dev/null
check "the Widget CRD is established" admin wait --for=condition=Established --timeout=30s crd/widgets.$GROUP
namespace "$NS"
grant_leases "$NS" "$ROLE"
check "the operator identity may hold a Lease in the test namespace" equals yes can_i update leases.coordination.k8s.io -n "$NS"

cat >"$E2E_WORK/template.yaml" <<-YAML
	controllers:
	  - name: widgets
	    parent: {apiVersion: $GROUP/v1, kind: Widget}
	    children:
	      - {apiVersion: v1, kind: ConfigMap, updateStrategy: InPlace}
	    hooks:
	      sync: {exec: {command: ["tests/e2e/data/worker/widget_hook.py", "--log", "$E2E_WORK/hook.log"], timeoutSeconds: 30}}
	    namespace: "$NS"
	watcher:
	  endpoint: ipc:///tmp/unused/jobs.sock
	  healthAddress: "127.0.0.1:8081"
	  metricsAddress: "127.0.0.1:8080"
	  leaderElection: {enabled: true, namespace: $NS, name: $LEASE}
	worker: {count: 2}
YAML
write_config "$E2E_WORK/template.yaml" "$E2E_WORK/coxswain.yaml"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"

widget() {
	admin apply -n "$NS" -f - >/dev/null <<-YAML
		apiVersion: $GROUP/v1
		kind: Widget
		metadata: {name: $1}
		spec: {behavior: $2, value: "${3:-}"}
	YAML
}
synced() { admin get widget "$1" -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Synced")].status}'; }
metric() { metrics | awk -v s="$1" '$1 == s { print $2 }'; }
holder() { admin get lease "$LEASE" -n "$NS" -o jsonpath='{.spec.holderIdentity}'; }
leading() { [[ -n $(holder) ]] && equals 1 metric "leader_election_master_status{name=\"$LEASE\"}"; }
# children PID: the pids of PID's children, one a line.
children() { ps -o pid= --ppid "$1" | tr -d ' '; }
alive() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
none_alive() { ! alive "$@" || { echo "still alive: $(ps -o pid=,args= -p "$(IFS=,; echo "$*")")"; return 1; }; }
refusals() { grep -c "READY refused" "$E2E_WORK/coxswain.log"; }
# the supervisor the watcher started, and its workers
supervisor_of() { children "$1" | head -n1; }
remember() { [[ -z $1 ]] || SUPS+=("$1"); }
two_workers() { [[ $(children "$(supervisor_of "$1")" | wc -l) == 2 ]]; }

# ------------------------------------------------------------------ 1. two worker sets

start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 40 "/readyz answers ok" equals ok health readyz
eventually 40 "it takes the Lease" leading
eventually 20 "its two workers are connected" equals 2 metric coxswain_workers
"$WORKER" --config "$E2E_WORK/coxswain.yaml" --kubeconfig "$COXSWAIN_CLUSTER_DIR/operator.kubeconfig" --workers 2 \
	-v 2 >>"$E2E_WORK/second.log" 2>&1 &
SECOND=$!
E2E_PIDS+=("$SECOND")
eventually 30 "the second supervisor's workers are refused, one log line per slot" equals 2 refusals
eventually 10 "coxswain_worker_refusals_total counts the refused READYs" at_least 2 metric coxswain_worker_refusals_total
check "the refusal names the slot and both instances" grep -q 'READY refused.*slot=0 .*instance=[0-9a-f]*.*held_by_instance=' \
	"$E2E_WORK/coxswain.log"
for i in $(seq 1 20); do
	widget "w$i" ok "v$i"
done
all_synced() { local i; for i in $(seq 1 20); do [[ $(synced "w$i") == True ]] || { echo "w$i not synced"; return 1; }; done; }
eventually 60 "20 Widgets all become Synced=True while both sets run (no job lost)" all_synced
sleep 7 # the refused workers say READY again every 3 s
check "their retries are not logged again" equals 2 refusals
check "the first set keeps its two slots" equals 2 metric coxswain_workers
check "no worker restart is counted" equals 0 metric coxswain_worker_restarts_total
check "no job was lost" fails grep -q "job lost" "$E2E_WORK/coxswain.log"
check "the second set ran no hook" fails grep -q "reconciled" "$E2E_WORK/second.log"
kill -TERM "$SECOND"
wait "$SECOND"
check "the second supervisor stops cleanly on SIGTERM" test $? = 0

# ------------------------------------------------------------------ 2. SIGHUP

WATCHER_PID=$E2E_COXSWAIN_PID
SUP=$(supervisor_of "$WATCHER_PID")
remember "$SUP"
check "the watcher started a supervisor" test -n "$SUP"
kill -HUP "$WATCHER_PID"
eventually 40 "SIGHUP: the watcher exits" fails kill -0 "$WATCHER_PID"
wait "$WATCHER_PID"
check "with exit status 0" test $? = 0
check "the Lease is released (holderIdentity empty)" equals "" holder
check "the log says it drained on SIGHUP" grep -q "draining.*signal=Hangup" "$E2E_WORK/coxswain.log"
eventually 30 "its supervisor is gone too" none_alive "$SUP"

# ------------------------------------------------------------------ 3. --drain-timeout reaches the supervisor

start_coxswain "$E2E_WORK/coxswain.yaml" 2 --drain-timeout 2 --namespace "$NS"
WATCHER_PID=$E2E_COXSWAIN_PID
eventually 40 "restarted with --drain-timeout 2, it leads again" leading
eventually 20 "its supervisor runs two workers" two_workers "$WATCHER_PID"
SUP=$(supervisor_of "$WATCHER_PID")
remember "$SUP"
check "the supervisor was given the drain timeout" contains "--drain-timeout 2" ps -o args= -p "$SUP"
check "and the watcher's --namespace" contains "--namespace $NS" ps -o args= -p "$SUP"
: >"$E2E_WORK/hook.log"
widget stuck sleep
eventually 30 "a hook is stuck in a job (it sleeps 60 s)" grep -q "start sync $NS/stuck" "$E2E_WORK/hook.log"
t0=$SECONDS
kill -TERM "$WATCHER_PID"
eventually 40 "SIGTERM: the supervisor is gone" none_alive "$SUP"
took=$((SECONDS - t0))
echo "# figure: SIGTERM -> supervisor gone: ${took} s (drain timeout 2 s in the watcher, then 2 s in the supervisor)"
check "well before the supervisor's default 25 s drain" test "$took" -lt 20
check "the stuck worker was killed at the drain deadline" grep -q "worker killed at drain deadline" "$E2E_WORK/coxswain.log"
wait "$WATCHER_PID"
admin delete widget stuck -n "$NS" --wait=false >/dev/null 2>&1

# ------------------------------------------------------------------ 4. kill -9

start_coxswain "$E2E_WORK/coxswain.yaml" 2
WATCHER_PID=$E2E_COXSWAIN_PID
eventually 40 "restarted, its supervisor runs two workers" two_workers "$WATCHER_PID"
SUP=$(supervisor_of "$WATCHER_PID")
remember "$SUP"
mapfile -t WORKERS < <(children "$SUP")
check "two worker processes" equals 2 echo "${#WORKERS[@]}"
{ kill -KILL "$WATCHER_PID" && wait "$WATCHER_PID"; } 2>/dev/null
eventually 40 "after kill -9 of the watcher its supervisor and workers are gone" none_alive "$SUP" "${WORKERS[@]}"

# ------------------------------------------------------------------ 5. a hanging credential plugin

# The operator's kubeconfig with an exec plugin that never answers (it
# would be killed at its 30 s timeout). SIGTERM must not wait for it.
cat >"$E2E_WORK/hang-plugin.sh" <<-EOF
	#!/bin/sh
	echo \$\$ >"$E2E_WORK/plugin.pid"
	exec sleep 100
EOF
chmod +x "$E2E_WORK/hang-plugin.sh"
kubectl --kubeconfig "$COXSWAIN_CLUSTER_DIR/operator.kubeconfig" config view --raw --minify --flatten -o json |
	python3 -c 'import json, sys
k = json.load(sys.stdin)
k["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.argv[1],
                                  "interactiveMode": "Never"}}
json.dump(k, sys.stdout)' "$E2E_WORK/hang-plugin.sh" >"$E2E_WORK/hang.kubeconfig"
(cd "$E2E_REPO" && exec "$E2E_BUILD/watcher/coxswain-watcher" --config "$E2E_WORK/coxswain.yaml" \
	--kubeconfig "$E2E_WORK/hang.kubeconfig" --drain-timeout 2 -v 2 >>"$E2E_WORK/hang.log" 2>&1) &
HANG_PID=$!
E2E_PIDS+=("$HANG_PID")
eventually 30 "the watcher is waiting for its credential plugin" test -s "$E2E_WORK/plugin.pid"
PLUGIN=$(cat "$E2E_WORK/plugin.pid")
t0=$SECONDS
kill -TERM "$HANG_PID"
# exited PID: PID (our child) has exited: gone, or a zombie waiting for us.
exited() { local st; st=$(ps -o stat= -p "$1"); [[ -z $st || $st == Z* ]] || { echo "running ($st)"; return 1; }; }
eventually 20 "SIGTERM: the watcher exits while the plugin hangs" exited "$HANG_PID"
echo "# figure: SIGTERM -> watcher gone with a hanging plugin: $((SECONDS - t0)) s (the plugin's timeout is 30 s)"
wait "$HANG_PID"
check "it exits 0" equals 0 echo $?
check "the plugin was killed" none_alive "$PLUGIN"
check "the log says the plugin was interrupted" grep -q "interrupted (coxswain is stopping)" "$E2E_WORK/hang.log"

check "no sanitizer reports" fails grep -H "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" \
	"$E2E_WORK/coxswain.log" "$E2E_WORK/second.log" "$E2E_WORK/hang.log"
done_testing
