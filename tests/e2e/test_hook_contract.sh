#!/usr/bin/env bash
# End to end, the hook contract as metacontroller's (issue 11, item 5), with a
# hook written as a metacontroller hook is (tests/e2e/data/hookcontract/
# contract_hook.py: it reads request['related'] without a fallback); kubectl
# (admin) is the independent client.
#   - every request carries related ({} without a customize hook) and a
#     children entry per declared kind;
#   - version v1 keys a namespaced parent's children by name, v2 by
#     namespace/name;
#   - a finalize hook's children and status are applied on every call while
#     it answers finalized: false (its Deployment is seen scaled down to 0
#     while the parent still exists), then the finalizer comes off and the
#     parent goes;
#   - responseUnMarshallMode: an unknown answer field is ignored in loose
#     mode (the default) and refused, by name, in strict mode and for a v2
#     hook;
#   - a controller without child kinds may answer without "children".
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

FIN_NS=e2e-contract-fin-$$
V1_NS=e2e-contract-v1-$$
V2_NS=e2e-contract-v2-$$
STRICT_NS=e2e-contract-strict-$$
BARE_NS=e2e-contract-bare-$$

admin apply -f "$SAFETY_DATA/status-rules-crds.yaml" -f "$SAFETY_DATA/rbac.yaml" >/dev/null
for plural in drains answers; do
	check "the CRD $plural is established" admin wait --for=condition=Established --timeout=30s "crd/$plural.$GROUP"
done
for ns in "$FIN_NS" "$V1_NS" "$V2_NS" "$STRICT_NS" "$BARE_NS"; do
	namespace "$ns"
done
# A Drain left with coxswain's finalizer (a failed run) would hold its
# namespace forever: once coxswain is stopped, the finalizer comes off.
fleet_cleanup() {
	e2e_cleanup
	admin patch drain f1 -n "$FIN_NS" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
}
trap fleet_cleanup EXIT

status_of() { admin get "$1" "$3" -n "$2" -o json | jq -cS ".status$4"; }
replicas() { admin get deployment web -n "$FIN_NS" -o jsonpath='{.spec.replicas}'; }

render "$E2E_REPO/tests/e2e/data/hookcontract/hook-contract.yaml" -e "s#@FIN_NS@#$FIN_NS#; s#@V1_NS@#$V1_NS#; s#@V2_NS@#$V2_NS#; s#@STRICT_NS@#$STRICT_NS#; s#@BARE_NS@#$BARE_NS#"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "/readyz answers ok once the caches synced" equals ok health readyz

# ---- related, and v1 vs v2 keys under a namespaced parent
check "an Answer under the v1 hook, two ConfigMaps" parent Answer "$V1_NS" k1 '{"configmaps":["a","b"]}'
check "the same Answer under the v2 hook" parent Answer "$V2_NS" k2 '{"configmaps":["a","b"]}'
eventually 30 "v1: the hook (reading request['related']) succeeds" equals True/ReconcileSucceeded synced answer "$V1_NS" k1
eventually 30 "v2: the hook succeeds too" equals True/ReconcileSucceeded synced answer "$V2_NS" k2
check "v1: related is {}" equals '{}' status_of answer "$V1_NS" k1 .related
check "v2: related is {}" equals '{}' status_of answer "$V2_NS" k2 .related
check "v1: children has its one declared kind" equals '["ConfigMap.v1"]' status_of answer "$V1_NS" k1 .kinds
eventually 30 "v1: the children are keyed by name" equals '["a","b"]' status_of answer "$V1_NS" k1 .keys
eventually 30 "v2: the children are keyed by namespace/name" equals "[\"$V2_NS/a\",\"$V2_NS/b\"]" \
	status_of answer "$V2_NS" k2 .keys

# ---- responseUnMarshallMode
check "an Answer under the loose (default) hook answers an unknown field" \
	parent Answer "$V1_NS" x1 '{"configmaps":["x1"],"extra":true}'
eventually 30 "loose: it is ignored (Synced=True)" equals True/ReconcileSucceeded synced answer "$V1_NS" x1
check "loose: its child is made" admin get configmap x1 -n "$V1_NS"
check "the same under the strict hook" parent Answer "$STRICT_NS" x2 '{"configmaps":["x2"],"extra":true}'
eventually 30 "strict: InvalidHookResponse" equals False/InvalidHookResponse synced answer "$STRICT_NS" x2
check "strict: the message names the field" contains 'unknownField: unknown field' synced_message answer "$STRICT_NS" x2
check "strict: nothing was made" fails admin get configmap x2 -n "$STRICT_NS"
check "the same under the v2 hook" parent Answer "$V2_NS" x3 '{"configmaps":["x3"],"extra":true}'
eventually 30 "v2: InvalidHookResponse (a v2 answer is read strictly)" equals False/InvalidHookResponse \
	synced answer "$V2_NS" x3
check "the strict hook's answer is fixed" parent Answer "$STRICT_NS" x2 '{"configmaps":["x2"]}'
eventually 30 "strict: then Synced=True" equals True/ReconcileSucceeded synced answer "$STRICT_NS" x2
check "strict: and its child is made" admin get configmap x2 -n "$STRICT_NS"

# ---- no child kinds: no children key needed
check "an Answer of a controller without child kinds, answering no children key" \
	parent Answer "$BARE_NS" b1 '{"noChildrenKey":true}'
eventually 30 "it is Synced=True" equals True/ReconcileSucceeded synced answer "$BARE_NS" b1
check "its status is written" equals '[]' status_of answer "$BARE_NS" b1 .kinds

# ---- a finalize hook that scales its child down before deletion
check "a Drain with a Deployment of 3 replicas" parent Drain "$FIN_NS" f1 '{"replicas":3}'
eventually 30 "the Deployment has 3 replicas" equals 3 replicas
eventually 30 "it carries coxswain's finalizer" equals coxswain.io/contract-fleets \
	get drain "$FIN_NS" f1 '{.metadata.finalizers[*]}'
check "it is deleted (without waiting)" admin delete drain f1 -n "$FIN_NS" --wait=false
eventually 30 "the finalize answer's child is applied: the Deployment is scaled down to 0" equals 0 replicas
check "while the Drain still exists" admin get drain f1 -n "$FIN_NS"
eventually 30 "the finalize answer's status is written (phase draining)" equals '"draining"' \
	status_of drain "$FIN_NS" f1 .phase
eventually 30 "the hook saw the scaled-down child on a later call" equals '[0]' status_of drain "$FIN_NS" f1 .replicas
check "Synced=False, Finalizing" equals False/Finalizing synced drain "$FIN_NS" f1
check "the finalize hook is told it may finish" admin annotate drain f1 -n "$FIN_NS" test/finalized=true
eventually 60 "then the Drain is gone" fails admin get drain f1 -n "$FIN_NS"
eventually 60 "and the garbage collector takes the Deployment" fails admin get deployment web -n "$FIN_NS"

stop_coxswain
check "SIGTERM: coxswain exits 0" test "$E2E_EXIT" = 0
check "no hook crashed on a missing key" fails grep -q "KeyError" "$E2E_WORK/coxswain.log"
check "no sanitizer report" fails grep -q 'ERROR: .*Sanitizer\|runtime error:' "$E2E_WORK/coxswain.log"
keep_log test_hook_contract
done_testing
