#!/usr/bin/env bash
# End to end, the Website example as a user runs it: the CRD and RBAC applied
# by an admin, coxswain (watcher + 2 workers) running as the restricted
# operator identity, Websites created, changed and deleted with kubectl, and
# the outcome checked with kubectl: children with ownerReferences, status
# conditions, schema validation, Events, metrics.
source "$(dirname "$0")/lib.sh"

NS=e2e-website-$$
SITE=examples.coxswain.io

admin apply -f "$E2E_REPO/deploy/examples/website/crd.yaml" >/dev/null
admin apply -f "$E2E_REPO/deploy/namespace.yaml" -f "$E2E_REPO/deploy/rbac.yaml" >/dev/null
check "the CRD is established" admin wait --for=condition=Established --timeout=30s crd/websites.$SITE
check "the operator identity cannot create CRDs" equals no can_i create customresourcedefinitions.apiextensions.k8s.io
check "the operator identity can watch Websites" equals yes can_i watch websites.$SITE -A
namespace "$NS"

write_config "$E2E_REPO/deploy/examples/website/coxswain.yaml" "$E2E_WORK/coxswain.yaml"
# Other tests run Website controllers at the same time: this one keeps to its namespace.
sed -i "s/^    resyncPeriodSeconds: \(.*\)/    resyncPeriodSeconds: \1\n    namespace: $NS/" "$E2E_WORK/coxswain.yaml"
check "the config names the test's namespace" grep -q "namespace: $NS" "$E2E_WORK/coxswain.yaml"
# Normal Events are off by default (worker.events.normal); this test checks them.
sed -i "s/^worker: {count: 2}/worker: {count: 2, events: {normal: true}}/" "$E2E_WORK/coxswain.yaml"
check "the config turns Normal Events on" grep -q "events: {normal: true}" "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "/readyz answers ok once the caches synced" equals ok health readyz
check "/healthz answers ok" equals ok health healthz

website() {
	admin apply -n "$NS" -f - <<-YAML
		apiVersion: $SITE/v1
		kind: Website
		metadata: {name: $1}
		spec: {title: "$2", replicas: ${3:-1}}
	YAML
}

check "a Website is created" website alpha "Hello from alpha"
check "a second Website is created" website beta "Hello from beta"
check "both become Ready" admin wait -n "$NS" --for=condition=Ready --timeout=60s website/alpha website/beta

uid=$(admin get website alpha -n "$NS" -o jsonpath='{.metadata.uid}')
for child in configmap/alpha-page deployment/alpha service/alpha; do
	check "$child is owned by the Website (controller ownerReference)" \
		equals "Website/alpha/$uid/true" admin get "$child" -n "$NS" \
		-o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].uid}/{.metadata.ownerReferences[0].controller}'
done
check "children carry the controller label" \
	equals websites admin get configmap alpha-page -n "$NS" -o jsonpath='{.metadata.labels.coxswain\.io/controller}'
check "the page holds the title" contains "Hello from alpha" \
	admin get configmap alpha-page -n "$NS" -o jsonpath='{.data.index\.html}'
check "Synced=True with observedGeneration" equals "True/1" admin get website alpha -n "$NS" \
	-o jsonpath='{.status.conditions[?(@.type=="Synced")].status}/{.status.observedGeneration}'
check "the hook's status is there" equals "http://alpha.$NS.svc" \
	admin get website alpha -n "$NS" -o jsonpath='{.status.url}'
check "kubectl get shows the Ready column" contains True admin get websites -n "$NS"

check "the Website is changed" website alpha "A new title"
eventually 30 "the page follows the change" contains "A new title" \
	admin get configmap alpha-page -n "$NS" -o jsonpath='{.data.index\.html}'
eventually 30 "observedGeneration follows the change" equals 2 \
	admin get website alpha -n "$NS" -o jsonpath='{.status.observedGeneration}'

check "a Website is deleted" admin delete website beta -n "$NS" --wait=true
# A fresh control plane's garbage collector needs up to about a minute for its first sweep.
eventually 120 "its children are garbage-collected" fails admin get configmap beta-page -n "$NS"

check "a valid but unworkable Website is accepted" website gamma "Nobody serves me" 0
eventually 30 "it is Ready=False with the reason" equals "False/HookReportedNotReady" admin get website gamma -n "$NS" \
	-o jsonpath='{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}'
check "the condition says what to do" contains "spec.replicas is 0" \
	admin get website gamma -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}'

check "the schema rejects a negative replica count" contains "spec.replicas" \
	bash -c "$(declare -f admin); admin apply -n $NS -f - 2>&1 <<'YAML' || true
apiVersion: $SITE/v1
kind: Website
metadata: {name: bad}
spec: {title: bad, replicas: -1}
YAML"
check "the schema requires a title" contains "spec.title" \
	bash -c "$(declare -f admin); admin apply -n $NS -f - 2>&1 <<'YAML' || true
apiVersion: $SITE/v1
kind: Website
metadata: {name: untitled}
spec: {replicas: 1}
YAML"

check "Normal Events record the children created" contains "created ConfigMap/alpha-page" \
	admin get events -n "$NS" --field-selector involvedObject.name=alpha -o jsonpath='{.items[*].message}'
check "metrics count successful reconciles" \
	contains 'controller_runtime_reconcile_total{controller="websites",result="success"}' metrics
check "metrics show two workers" contains "coxswain_workers 2" metrics
stop_coxswain
check "SIGTERM stops coxswain cleanly (exit status 0)" test "$E2E_EXIT" = 0

# The worker supervisor dying under the watcher is a failure, not a stop.
start_coxswain "$E2E_WORK/coxswain.yaml" 1
eventually 30 "coxswain is back" equals ok health readyz
supervisor_pid() { pgrep -P "$E2E_COXSWAIN_PID" -f coxswain-worker; }
eventually 30 "the watcher started its worker supervisor" supervisor_pid
kill -KILL "$(supervisor_pid)"
eventually 30 "the watcher stops when its supervisor is killed" fails kill -0 "$E2E_COXSWAIN_PID"
wait "$E2E_COXSWAIN_PID"
E2E_EXIT=$?
check "and exits with a failure status ($E2E_EXIT)" test "$E2E_EXIT" -ne 0
check "the log says why" grep -q "the worker supervisor exited unexpectedly" "$E2E_WORK/coxswain.log"
done_testing
