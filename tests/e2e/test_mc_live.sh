#!/usr/bin/env bash
# End to end, metacontroller definitions (issue 11, item 1): a
# CompositeController read from a file (--metacontroller-manifests) and
# CompositeController objects in the cluster (--metacontroller-live) run
# beside each other, with a webhook written as a metacontroller hook
# (tests/e2e/data/mclive/hook.py); kubectl (admin) is the independent client.
#   - the file's controller syncs the parents its labelSelector selects, and
#     only those; the hook request's "controller" is the CompositeController;
#     with ignoreStatusChanges a status change alone does not sync a parent
#     (without it, it does);
#   - a CompositeController applied with kubectl starts at run time, an edit
#     (another hook URL) changes what it does without a restart, an invalid
#     edit (an unknown field) stops it with a Warning Event naming the field,
#     fixing it starts it again, deleting it stops it;
#   - a definition whose parent's CRD is installed after the start waits
#     (/readyz names it and the field) and then runs, without a restart;
#   - a DecoratorController applied with kubectl decorates the objects it
#     selects (a label, an attachment);
#   - the worker processes learn every definition from their jobs (the
#     config file names no controller);
#   - --metacontroller-selector: only the controller objects it selects run;
#     labelling one starts it, unlabelling one stops it.
source "$(dirname "$0")/lib.sh"

NS=e2e-mclive-$$
GROUP=mclive.e2e.coxswain.io
DATA=$E2E_REPO/tests/e2e/data/mclive

admin apply -k "$E2E_REPO/deploy/metacontroller/crds" >/dev/null
admin apply -f "$DATA/setup.yaml" >/dev/null
for crd in compositecontrollers.metacontroller.k8s.io decoratorcontrollers.metacontroller.k8s.io mlthings.$GROUP; do
	check "the CRD $crd is established" admin wait --for=condition=Established --timeout=30s "crd/$crd"
done
namespace "$NS"
mc_cleanup() {
	admin delete compositecontroller mc-live mc-bad mc-sel mc-other --ignore-not-found >/dev/null 2>&1
	admin delete decoratorcontroller mc-deco --ignore-not-found >/dev/null 2>&1
	e2e_cleanup
}
trap mc_cleanup EXIT
admin delete compositecontroller mc-live mc-bad mc-sel mc-other --ignore-not-found >/dev/null 2>&1
admin delete decoratorcontroller mc-deco --ignore-not-found >/dev/null 2>&1
admin delete -f "$DATA/late-crd.yaml" --ignore-not-found --wait=true >/dev/null 2>&1

HOOK_PORT=$(free_port)
python3 "$DATA/hook.py" "$HOOK_PORT" "$E2E_WORK" &
E2E_PIDS+=($!)
mkdir "$E2E_WORK/manifests"
for f in file-controller late-controller; do
	sed "s/@PORT@/$HOOK_PORT/" "$DATA/$f.yaml" >"$E2E_WORK/manifests/$f.yaml"
done
write_config "$DATA/coxswain.yaml" "$E2E_WORK/coxswain.yaml"

# thing NAME MODE: an MlThing labelled mode=MODE, whose children are those
# labelled thing=NAME (spec.selector, as metacontroller wants it).
thing() {
	admin apply -f - >/dev/null <<-YAML
		apiVersion: $GROUP/v1
		kind: MlThing
		metadata: {name: $1, namespace: $NS, labels: {mode: $2}}
		spec: {n: 1, selector: {matchLabels: {thing: $1}}}
	YAML
}
# live_controller PATH [EXTRA]: applies CompositeController mc-live (mode=live
# parents) with the hook at PATH; EXTRA is one more line of its spec.
live_controller() {
	admin apply -f - <<-YAML
		apiVersion: metacontroller.k8s.io/v1alpha1
		kind: CompositeController
		metadata: {name: mc-live}
		spec:
		  parentResource:
		    apiVersion: $GROUP/v1
		    resource: mlthings
		    labelSelector: {matchLabels: {mode: live}}
		  childResources: [{apiVersion: v1, resource: configmaps, updateStrategy: {method: InPlace}}]
		  hooks: {sync: {webhook: {url: "http://127.0.0.1:$HOOK_PORT$1"}}}
		  ${2:-}
	YAML
}
readyz_body() { curl -sS "http://127.0.0.1:$E2E_HEALTH_PORT/readyz"; }
cm_from() { admin get configmap "$1" -n "$NS" -o jsonpath='{.data.from}'; }
ctl_of() { jq -r "$2" "$E2E_WORK/controller-$1.json"; }
# barrier NAME: a file-controller parent made now is synced: the jobs queued
# before it have been handed out.
barrier() {
	thing "$1" file
	eventually 60 "barrier $1: the file controller synced it" equals /sync-a cm_from "$1-a"
	sleep 2
}
events_of() {
	admin get events -A --field-selector "involvedObject.kind=CompositeController,involvedObject.name=$1,type=Warning" \
		-o go-template='{{range .items}}{{.reason}}: {{.message}}{{"\n"}}{{end}}'
}

check "the config, without controllers, is refused without a metacontroller source" \
	fails "$E2E_BUILD/watcher/coxswain-watcher" --config "$E2E_WORK/coxswain.yaml" --kubeconfig /dev/null
start_coxswain "$E2E_WORK/coxswain.yaml" 2 --metacontroller-manifests "$E2E_WORK/manifests" --metacontroller-live
eventually 60 "/readyz names the definition waiting for its parent's resource, and the field" \
	contains 'CompositeController "mc-late": spec.parentResource.resource: mllates' readyz_body
check "the CRD of mc-late's parent is installed, later" admin apply -f "$DATA/late-crd.yaml"
eventually 60 "/readyz answers ok once the definitions run" equals ok health readyz
check "an MlLate" admin apply -f - <<-YAML
	apiVersion: $GROUP/v1
	kind: MlLate
	metadata: {name: late1, namespace: $NS}
	spec: {n: 1, selector: {matchLabels: {thing: late1}}}
YAML
eventually 60 "mc-late runs, without a restart" equals /sync-a cm_from late1-a

# ---- a definition from a file; labelSelector
check "an MlThing not selected (mode=other)" thing o1 other
check "an MlThing the file's controller selects (mode=file)" thing f1 file
eventually 60 "the file's controller made its child from /sync-a" equals /sync-a cm_from f1-a
check "the hook request's controller is the CompositeController object" \
	equals CompositeController/mc-file ctl_of f1 '.kind + "/" + .metadata.name'
check "... as written (its spec.parentResource)" equals mlthings ctl_of f1 .spec.parentResource.resource
sleep 2
check "the parent the labelSelector leaves out is not synced" fails admin get configmap o1-a -n "$NS"
check "... and its hook never called" fails test -e "$E2E_WORK/controller-o1.json"

# ---- ignoreStatusChanges: the file's controller has it, mc-live not
calls() { wc -l <"$E2E_WORK/calls-$1"; }
status_patch() { admin patch mlthing "$1" -n "$NS" --subresource=status --type=merge -p "{\"status\":{\"poke\":$2}}"; }
F1_CALLS=$(calls f1)
check "someone else changes f1's status alone" status_patch f1 1
barrier s1
check "ignoreStatusChanges: f1 was not synced again" equals "$F1_CALLS" calls f1
check "f1's spec changes" admin patch mlthing f1 -n "$NS" --type=merge -p '{"spec":{"n":2}}'
eventually 30 "then it is synced" at_least $((F1_CALLS + 1)) calls f1

# ---- a live definition: created, changed, broken, fixed, deleted
check "kubectl apply of CompositeController mc-live" live_controller /sync-a
check "an MlThing it selects (mode=live)" thing l1 live
eventually 60 "mc-live started at run time and made the child from /sync-a" equals /sync-a cm_from l1-a
check "its request's controller is mc-live, with its resourceVersion" \
	equals "mc-live/$(admin get compositecontroller mc-live -o jsonpath='{.metadata.resourceVersion}')" \
	ctl_of l1 '.metadata.name + "/" + .metadata.resourceVersion'
L1_CALLS=$(calls l1)
check "someone else changes l1's status alone" status_patch l1 1
eventually 30 "without ignoreStatusChanges, l1 is synced again" at_least $((L1_CALLS + 1)) calls l1
check "mc-live's hook URL changed to /sync-b" live_controller /sync-b
eventually 60 "without a restart, the parent is synced by /sync-b" equals /sync-b cm_from l1-b

check "mc-live edited with an unknown field" live_controller /sync-b "bogusField: 1"
eventually 30 "a Warning Event names the field" contains "spec.bogusField: unknown field" events_of mc-live
eventually 30 "the log says so too" contains "spec.bogusField: unknown field" cat "$E2E_WORK/coxswain.log"
check "an MlThing for mc-live while it is invalid" thing l2 live
barrier b1
check "the invalid definition does not run (its previous version neither)" fails admin get configmap l2-b -n "$NS"
check "mc-live fixed" live_controller /sync-b
eventually 60 "it runs again: the waiting parent is synced" equals /sync-b cm_from l2-b

check "kubectl delete compositecontroller mc-live" admin delete compositecontroller mc-live
sleep 2
check "an MlThing for mc-live after it was deleted" thing l3 live
barrier b2
check "the deleted controller syncs nothing" fails admin get configmap l3-b -n "$NS"
check "the file's controller still runs" equals /sync-a cm_from b2-a

# ---- a live DecoratorController
admin apply -f - >/dev/null <<-YAML
	apiVersion: metacontroller.k8s.io/v1alpha1
	kind: DecoratorController
	metadata: {name: mc-deco}
	spec:
	  resources:
	  - apiVersion: $GROUP/v1
	    resource: mlthings
	    labelSelector: {matchLabels: {mode: deco}}
	  attachments: [{apiVersion: v1, resource: configmaps}]
	  hooks: {sync: {webhook: {url: "http://127.0.0.1:$HOOK_PORT/deco"}}}
YAML
check "an MlThing the DecoratorController selects (mode=deco)" thing d1 deco
eventually 60 "the decorator made its attachment" equals /deco cm_from d1-deco
eventually 30 "and labelled the decorated object" equals yes admin get mlthing d1 -n "$NS" \
	-o jsonpath='{.metadata.labels.decorated}'
check "its request's controller is the DecoratorController" \
	equals DecoratorController/mc-deco ctl_of d1 '.kind + "/" + .metadata.name'
check "kubectl delete decoratorcontroller mc-deco" admin delete decoratorcontroller mc-deco

# ---- a new invalid one
admin apply -f - >/dev/null <<-YAML
	apiVersion: metacontroller.k8s.io/v1alpha1
	kind: CompositeController
	metadata: {name: mc-bad}
	spec:
	  parentResource: {apiVersion: $GROUP/v1, resource: mlthings}
	  hooks: {sync: {webhook: {url: "http://127.0.0.1:$HOOK_PORT/sync-a", timeoutz: 3s}}}
YAML
eventually 30 "a new invalid CompositeController gets a Warning Event naming the field" \
	contains "spec.hooks.sync.webhook.timeoutz: unknown field" events_of mc-bad
check "/readyz stays ok (an invalid definition is the user's to fix, not a wait)" equals ok health readyz
check "the watcher is still running" kill -0 "$E2E_COXSWAIN_PID"

stop_coxswain
check "coxswain stops cleanly" equals 0 echo "$E2E_EXIT"
check "no sanitizer report" fails grep -q 'ERROR: .*Sanitizer\|runtime error:' "$E2E_WORK/coxswain.log"

# ---- --metacontroller-selector: coxswain and metacontroller split the controllers
admin delete compositecontroller mc-bad --ignore-not-found >/dev/null 2>&1
# sel_controller NAME MODE RUNTIME: CompositeController NAME for mode=MODE
# parents, labelled runtime=RUNTIME (none when RUNTIME is "").
sel_controller() {
	admin apply -f - <<-YAML
		apiVersion: metacontroller.k8s.io/v1alpha1
		kind: CompositeController
		metadata: {name: $1, labels: {${3:+e2e.coxswain.io/runtime: $3}}}
		spec:
		  parentResource:
		    apiVersion: $GROUP/v1
		    resource: mlthings
		    labelSelector: {matchLabels: {mode: $2}}
		  childResources: [{apiVersion: v1, resource: configmaps, updateStrategy: {method: InPlace}}]
		  hooks: {sync: {webhook: {url: "http://127.0.0.1:$HOOK_PORT/sync-a"}}}
	YAML
}
check "CompositeController mc-sel, labelled runtime=coxswain" sel_controller mc-sel sel coxswain
check "CompositeController mc-other, not labelled" sel_controller mc-other other ""
check "--metacontroller-selector without --metacontroller-live is refused" \
	fails "$E2E_BUILD/watcher/coxswain-watcher" --config "$E2E_WORK/coxswain.yaml" --metacontroller-selector a=b
start_coxswain "$E2E_WORK/coxswain.yaml" 2 --metacontroller-live \
	--metacontroller-selector e2e.coxswain.io/runtime=coxswain
check "a parent of the unselected mc-other" thing o1 other
check "a parent of the selected mc-sel, made after it" thing s1 sel
eventually 60 "mc-sel runs" equals /sync-a cm_from s1-a
sleep 2
check "mc-other, not selected, does not run" fails admin get configmap o1-a -n "$NS"
check "mc-other labelled runtime=coxswain" admin label compositecontroller mc-other e2e.coxswain.io/runtime=coxswain
eventually 60 "mc-other runs now, without a restart" equals /sync-a cm_from o1-a
check "mc-sel's label taken off" admin label compositecontroller mc-sel e2e.coxswain.io/runtime-
eventually 30 "the log says mc-sel stopped" contains mc-sel grep 'stopped a metacontroller controller' "$E2E_WORK/coxswain.log"
check "a parent of mc-other, made now" thing o2 other
eventually 60 "mc-other synced it" equals /sync-a cm_from o2-a
check "a parent of mc-sel, made after" thing s2 sel
sleep 2
check "mc-sel, no longer selected, does not run" fails admin get configmap s2-a -n "$NS"
stop_coxswain
check "coxswain stops cleanly, again" equals 0 echo "$E2E_EXIT"
check "no sanitizer report, again" fails grep -q 'ERROR: .*Sanitizer\|runtime error:' "$E2E_WORK/coxswain.log"
done_testing
