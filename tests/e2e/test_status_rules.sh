#!/usr/bin/env bash
# End to end, status that cannot lie (issue 9, part 3). Each parent's spec (or
# a built-in parent's annotation test/answer) is its hook's answer
# (tests/e2e/data/safety/safety_hook.py); kubectl (admin) is the independent
# client.
#   - a status the API server refuses (422: phase not in its enum) is a failed
#     reconcile: logged, a Warning Event StatusWriteFailed with the API
#     server's message, counted in controller_runtime_reconcile_errors_total,
#     retried with backoff (not in a storm);
#   - built-in parents (a Pod whose kubelet-owned Ready=False/
#     ContainersNotReady is set by hand, a StatefulSet): their children are
#     made, and their status is left exactly as it was (no Synced or Ready of
#     coxswain's, no observedGeneration);
#   - a finalize hook answering finalized: false shows as Synced=False,
#     Finalizing, with the hook's message, until it answers true;
#   - a sync answer without "children" is InvalidHookResponse and prunes
#     nothing; "children": [] does prune.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

NS=e2e-status-$$
FIN_NS=e2e-status-fin-$$
POD_NS=e2e-status-pods-$$

admin apply -f "$SAFETY_DATA/status-rules-crds.yaml" -f "$SAFETY_DATA/rbac.yaml" >/dev/null
for plural in stricts drains answers; do
	check "the CRD $plural is established" admin wait --for=condition=Established --timeout=30s "crd/$plural.$GROUP"
done
for ns in "$NS" "$FIN_NS" "$POD_NS"; do
	namespace "$ns"
done
# A Drain left with coxswain's finalizer (a failed run) would hold its
# namespace forever: once coxswain is stopped, the finalizer comes off.
drain_cleanup() {
	e2e_cleanup
	admin patch drain d1 -n "$FIN_NS" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
}
trap drain_cleanup EXIT

# parent KIND NS NAME SPEC_JSON
parent() {
	printf '{"apiVersion":"%s/v1","kind":"%s","metadata":{"name":"%s","namespace":"%s"},"spec":%s}' \
		"$GROUP" "$1" "$3" "$2" "$4" | admin apply -f - >/dev/null
}
cm() { printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s"},"data":{"k":"v"}}' "$1"; }
controller_of() {
	admin get configmap "$2" -n "$1" -o go-template='{{range .metadata.ownerReferences}}{{if .controller}}{{.kind}}/{{.name}}/{{.uid}}{{end}}{{end}}'
}
status_json() { admin get "$1" "$3" -n "$2" -o json | jq -cS '.status'; }

# ---- built-in parents, made (and their status set) before coxswain starts
admin apply -f - >/dev/null <<-YAML
	apiVersion: v1
	kind: Pod
	metadata:
	  name: p1
	  namespace: $POD_NS
	  annotations:
	    test/answer: '{"children": [$(cm pod-child)]}'
	spec:
	  containers: [{name: c, image: "registry.invalid/none:1"}]
	---
	apiVersion: apps/v1
	kind: StatefulSet
	metadata:
	  name: s1
	  namespace: $POD_NS
	  annotations:
	    test/answer: '{"children": [$(cm set-child)]}'
	spec:
	  serviceName: s1
	  replicas: 0
	  selector: {matchLabels: {app: s1}}
	  template:
	    metadata: {labels: {app: s1}}
	    spec:
	      containers: [{name: c, image: "registry.invalid/none:1"}]
YAML
check "a Pod and a StatefulSet are created" admin get pod/p1 statefulset/s1 -n "$POD_NS"
check "the Pod's status says it is not ready (as a kubelet would)" admin patch pod p1 -n "$POD_NS" --subresource=status \
	--type=merge -p '{"status":{"phase":"Pending","conditions":[{"type":"Ready","status":"False","reason":"ContainersNotReady","message":"containers with unready status: [c]","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}'
check "the StatefulSet's status has a condition of its own" admin patch statefulset s1 -n "$POD_NS" --subresource=status \
	--type=merge -p '{"status":{"replicas":0,"conditions":[{"type":"Tested","status":"True","reason":"SetByTest","message":"set by the test","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}'
POD_STATUS=$(status_json pod "$POD_NS" p1)
SET_STATUS=$(status_json statefulset "$POD_NS" s1)

render "$SAFETY_DATA/status-rules.yaml" -e "s#@NS@#$NS#; s#@FIN_NS@#$FIN_NS#; s#@POD_NS@#$POD_NS#"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "/readyz answers ok once the caches synced" equals ok health readyz

# ---- a status write the API server refuses
check "a Strict whose hook answers phase C (not in the enum)" parent Strict "$NS" s1 '{"children":[],"status":{"phase":"C"}}'
eventually 30 "a Warning Event StatusWriteFailed" contains "StatusWriteFailed: " warnings Strict "$NS" s1
check "its message is the API server's" contains 'Unsupported value: "C"' warnings Strict "$NS" s1
check "coxswain logs the failed write" grep -q 'Unsupported value' "$E2E_WORK/coxswain.log"
eventually 30 "it counts as a reconcile error (controller_runtime_reconcile_errors_total)" \
	at_least 1 metric 'controller_runtime_reconcile_errors_total{controller="stricts"}'
# resyncPeriodSeconds is 3600: only a retry reconciles it again.
eventually 60 "it is retried" at_least 3 reconciles "stricts/$NS/s1"
# With the queue's backoff (5 ms doubling) a key is retried about a dozen
# times in 10 s whatever the machine's speed; a storm would be hundreds.
n0=$(reconciles "stricts/$NS/s1")
sleep 10
check "with backoff, not in a storm (< 30 retries in 10 s)" at_most $((n0 + 30)) reconciles "stricts/$NS/s1"
check "the hook's answer is fixed (phase A)" parent Strict "$NS" s1 '{"children":[],"status":{"phase":"A"}}'
eventually 60 "it becomes Synced=True" equals True/ReconcileSucceeded synced strict "$NS" s1
check "and the phase is written" equals A get strict "$NS" s1 '{.status.phase}'

# ---- built-in parents
eventually 30 "the Pod's child is made, with the controller ownerReference" \
	equals "Pod/p1/$(uid_of pod "$POD_NS" p1)" controller_of "$POD_NS" pod-child
eventually 30 "the StatefulSet's child is made, with the controller ownerReference" \
	equals "StatefulSet/s1/$(uid_of statefulset "$POD_NS" s1)" controller_of "$POD_NS" set-child
more_reconciles 60 3 "pods/$POD_NS/p1" "sets/$POD_NS/s1"
check "the Pod's Ready condition is still False/ContainersNotReady" equals False/ContainersNotReady cond pod "$POD_NS" p1 Ready
check "the Pod has no Synced condition" equals / cond pod "$POD_NS" p1 Synced
check "the Pod's status has no observedGeneration" equals "" get pod "$POD_NS" p1 '{.status.observedGeneration}'
check "the Pod's status is exactly what it was" equals "$POD_STATUS" status_json pod "$POD_NS" p1
set_conditions() { echo "$(cond statefulset "$POD_NS" s1 Synced) $(cond statefulset "$POD_NS" s1 Ready)"; }
check "the StatefulSet has no Synced or Ready condition" equals "/ /" set_conditions
check "the StatefulSet's status is exactly what it was" equals "$SET_STATUS" status_json statefulset "$POD_NS" s1

# ---- a finalize hook that is not done yet
check "a Drain whose finalize hook answers finalized: false, status.message draining" parent Drain "$FIN_NS" d1 \
	'{"children":[],"status":{},"finalize":{"finalized":false,"status":{"message":"draining"}}}'
eventually 30 "it becomes Synced=True" equals True/ReconcileSucceeded synced drain "$FIN_NS" d1
eventually 30 "it carries coxswain's finalizer" equals coxswain.io/drains get drain "$FIN_NS" d1 '{.metadata.finalizers[*]}'
check "it is deleted (without waiting)" admin delete drain d1 -n "$FIN_NS" --wait=false
eventually 30 "while deletion waits: Synced=False, Finalizing" equals False/Finalizing synced drain "$FIN_NS" d1
check "with the hook's message" contains draining synced_message drain "$FIN_NS" d1
check "the finalize hook is told to finish" admin annotate drain d1 -n "$FIN_NS" test/finalized=true
eventually 60 "then the Drain is gone" fails admin get drain d1 -n "$FIN_NS"

# ---- an answer without "children"
check "an Answer with two children" parent Answer "$NS" a1 "{\"children\":[$(cm a1-x),$(cm a1-y)],\"status\":{\"phase\":\"one\"}}"
eventually 30 "it becomes Synced=True" equals True/ReconcileSucceeded synced answer "$NS" a1
check "both children exist" admin get configmap a1-x a1-y -n "$NS"
check "its hook now answers without children (decorator-shaped)" \
	admin patch answer a1 -n "$NS" --type=json -p '[{"op":"remove","path":"/spec/children"}]'
eventually 30 "it is Synced=False, InvalidHookResponse" equals False/InvalidHookResponse synced answer "$NS" a1
check "the message mentions children" contains children synced_message answer "$NS" a1
more_reconciles 60 3 "answers/$NS/a1"
check "nothing was pruned" admin get configmap a1-x a1-y -n "$NS"
check "its hook answers \"children\": [] (control)" admin patch answer a1 -n "$NS" --type=merge -p '{"spec":{"children":[]}}'
eventually 30 "then both children are pruned" fails admin get configmap a1-x -n "$NS"
eventually 30 "(the second too)" fails admin get configmap a1-y -n "$NS"
eventually 30 "and it is Synced=True" equals True/ReconcileSucceeded synced answer "$NS" a1

stop_coxswain
check "SIGTERM: coxswain exits 0" test "$E2E_EXIT" = 0
check "no sanitizer report" fails grep -q 'ERROR: .*Sanitizer\|runtime error:' "$E2E_WORK/coxswain.log"
keep_log test_status_rules
done_testing
