#!/usr/bin/env bash
# End to end, THE demo command, deploy/demo, as README.md tells a newcomer to
# run it, but non-interactively (CI=true, stdin closed), on the running
# fixture (COXSWAIN_DEMO_FIXTURE=reuse) and with the programs `make` built
# (COXSWAIN_DEMO_BUILD_DIR), in a namespace and state directory of its own:
#   1. the plain run, to its end: exit 0, its headed steps, it stops its
#      coxswain, removes its namespace, leaves the fixture up;
#   2. --keep: then the outcome, checked with kubectl: both Websites were
#      Ready, the changed one followed, the deleted one's children are gone,
#      children carry the controller ownerReference, status conditions, the
#      schema rejects a bad Website, coxswain runs as the restricted
#      identity, which cannot create CRDs; the printed poke commands work;
#   3. --stop: coxswain stopped, namespace deleted, fixture still up.
source "$(dirname "$0")/lib.sh"

NS=e2e-demo-$$
SITE=examples.coxswain.io
export CI=true
export COXSWAIN_DEMO_BUILD_DIR=$E2E_BUILD
export COXSWAIN_DEMO_FIXTURE=reuse
export COXSWAIN_DEMO_NAMESPACE=$NS
export COXSWAIN_DEMO_STATE_DIR=$E2E_WORK/demo
E2E_NAMESPACES+=("$NS")
DEMO=$E2E_REPO/deploy/demo

# If the test dies half-way, stop a coxswain the demo left (by its pid file).
demo_cleanup() {
	[[ ! -f $E2E_WORK/demo/state ]] || "$DEMO" --stop >/dev/null 2>&1 </dev/null
	e2e_cleanup
}
trap demo_cleanup EXIT

# demo_pids: pids of coxswain processes using this test's demo config.
demo_pids() { pgrep -f -- "--config $E2E_WORK/demo/coxswain.yaml" || true; }

# ------------------------------------------------------------------ 1: plain

t0=$SECONDS
"$DEMO" </dev/null >"$E2E_WORK/plain.out" 2>&1
rc=$?
echo "# deploy/demo (warm: reused fixture and build) took $((SECONDS - t0)) s"
check "deploy/demo runs to its end (exit 0)" test "$rc" = 0
((rc == 0)) || tail -n 40 "$E2E_WORK/plain.out" | sed 's/^/#   /'
check "it prints its ten headed steps" equals "==> [1-2/10] ==> [3/10] ==> [4/10] ==> [5/10] ==> [6/10] ==> [7/10] ==> [8/10] ==> [9/10] ==> [10/10]" \
	bash -c "grep -o '^==> \[[0-9-]*/10\]' '$E2E_WORK/plain.out' | tr '\n' ' ' | sed 's/ \$//'"
check "both Websites became Ready" contains "website.$SITE/blog condition met" cat "$E2E_WORK/plain.out"
check "its output is plain text (no terminal escapes with CI=true)" fails grep -q $'\e' "$E2E_WORK/plain.out"
check "it stopped its coxswain (and the workers)" equals "" demo_pids
check "it says coxswain stopped cleanly" contains "coxswain stopped cleanly" cat "$E2E_WORK/plain.out"
check "it left the control plane up (it did not start it)" equals ok admin get --raw=/readyz
eventually 60 "it removed its namespace" equals "" admin get namespace "$NS" -o name --ignore-not-found

# ------------------------------------------------------------------ 2: --keep

t0=$SECONDS
"$DEMO" --keep </dev/null >"$E2E_WORK/keep.out" 2>&1
rc=$?
echo "# deploy/demo --keep took $((SECONDS - t0)) s"
check "deploy/demo --keep runs to its end (exit 0)" test "$rc" = 0
((rc == 0)) || tail -n 40 "$E2E_WORK/keep.out" | sed 's/^/#   /'
DEMO_PID='' DEMO_METRICS_PORT=''
# shellcheck source=/dev/null
[[ -f $E2E_WORK/demo/state ]] && . "$E2E_WORK/demo/state"
check "it leaves coxswain running" kill -0 "${DEMO_PID:-0}"
check "coxswain runs as the operator's restricted identity" contains \
	"--kubeconfig $COXSWAIN_CLUSTER_DIR/operator.kubeconfig" bash -c "tr '\\0' ' ' </proc/${DEMO_PID:-0}/cmdline"
check "... with its worker supervisor and two workers" contains "coxswain_workers 2" \
	curl -fsS "http://127.0.0.1:$DEMO_METRICS_PORT/metrics"

check "website/hello is Ready=True" equals True \
	admin get website hello -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'
check "website/hello is Synced=True at its new generation (2)" equals "True 2 2" admin get website hello -n "$NS" \
	-o jsonpath='{.status.conditions[?(@.type=="Synced")].status} {.metadata.generation} {.status.observedGeneration}'
check "the change reached the page" contains "<h1>Hello again</h1>" \
	admin get configmap hello-page -n "$NS" -o jsonpath='{.data.index\.html}'
check "the change reached the Deployment (2 replicas)" equals 2 \
	admin get deployment hello -n "$NS" -o jsonpath='{.spec.replicas}'
uid=$(admin get website hello -n "$NS" -o jsonpath='{.metadata.uid}')
for child in configmap/hello-page deployment/hello service/hello; do
	check "$child is owned by website/hello (controller ownerReference)" \
		equals "Website/hello/$uid/true" admin get "$child" -n "$NS" \
		-o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].uid}/{.metadata.ownerReferences[0].controller}'
done
check "website/blog was deleted" equals "" admin get website blog -n "$NS" -o name --ignore-not-found
check "... and its children with it" equals "" \
	admin get configmap/blog-page deployment/blog service/blog -n "$NS" -o name --ignore-not-found
check "exactly hello's and idle's children remain" equals "hello hello hello-page idle idle idle-page" \
	bash -c "$(declare -f admin); admin get configmaps,deployments,services -n $NS -l coxswain.io/controller=websites \
		-o jsonpath='{range .items[*]}{.metadata.name}{\"\\n\"}{end}' | sort | tr '\n' ' ' | sed 's/ \$//'"
check "website/idle (replicas 0) is Ready=False and says why" equals "False/HookReportedNotReady" \
	admin get website idle -n "$NS" \
	-o jsonpath='{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}'
check "the schema rejected the demo's broken Website" equals "" \
	admin get website broken -n "$NS" -o name --ignore-not-found
check "the schema rejects a bad Website (replicas above 10)" contains "spec.replicas" \
	bash -c "$(declare -f admin); admin apply -n $NS -f - 2>&1 <<'YAML' || true
apiVersion: $SITE/v1
kind: Website
metadata: {name: bad}
spec: {title: bad, replicas: 11}
YAML"
check "the restricted identity cannot create CRDs" equals no can_i create customresourcedefinitions.apiextensions.k8s.io
check "the demo showed that too" contains "auth can-i create customresourcedefinitions.apiextensions.k8s.io
      no" cat "$E2E_WORK/keep.out"

# The poke commands it printed work as printed (from the repository root).
check "it prints the metrics URL" contains "curl -s http://127.0.0.1:$DEMO_METRICS_PORT/metrics" cat "$E2E_WORK/keep.out"
check "it prints how to stop it" contains "deploy/demo --stop" cat "$E2E_WORK/keep.out"
poke=$(grep -m1 "kubectl --kubeconfig .cluster/admin.kubeconfig patch website hello" "$E2E_WORK/keep.out" | sed 's/^ *//')
check "it prints a kubectl command to change a Website" test -n "$poke"
check "... which works as printed" bash -c "cd '$E2E_REPO' && $poke"
eventually 30 "... and coxswain follows it (the page turns dark)" contains "background:#1a1a1a" \
	admin get configmap hello-page -n "$NS" -o jsonpath='{.data.index\.html}'

# ------------------------------------------------------------------ 3: --stop

check "deploy/demo --stop" bash -c "'$DEMO' --stop </dev/null >'$E2E_WORK/stop.out' 2>&1"
check "coxswain is stopped" equals "" demo_pids
check "the control plane is still up" equals ok admin get --raw=/readyz
eventually 60 "the demo's namespace is gone" equals "" admin get namespace "$NS" -o name --ignore-not-found

# ------------------------------------------------------------------ upkeep

# The demo installs what tests/run installs (kept in two places).
packages() { sed -n '/^PACKAGES=(/,/)/p' "$1" | tr -s ' \t\n()' '\n' | grep -v '^PACKAGES=$' | grep . | sort; }
check "deploy/demo's package list is tests/run's" diff <(packages "$E2E_REPO/tests/run") <(packages "$DEMO")
done_testing
