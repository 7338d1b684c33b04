#!/usr/bin/env bash
# End to end, metacontroller's customize hook and related objects (issue 11,
# item 4), with a coxswain.yaml controller (hooks.customize): a
# GlobalConfigMap (cluster scope) propagates a source ConfigMap into every
# namespace carrying a label (tests/e2e/data/related/hook.py). Its customize
# hook selects the source by namespace and name and the Namespaces by label;
# the sync hook reads them from the request's related. kubectl (admin) is
# the independent client; the resync period is an hour, so only events move
# it:
#   - the labelled namespace gets the copy, the unlabelled one does not;
#     related is keyed like children (namespace/name under a cluster-scoped
#     parent; a Namespace by name);
#   - a namespace labelled afterwards gets the copy without touching the
#     parent (a related object's event requeues it);
#   - a change of the source reaches every copy;
#   - a namespace that loses the label loses its copy;
#   - a customize hook that fails, and one naming a resource the API server
#     does not serve, make the parent Synced=False with a message naming the
#     customize hook (and the rule's field).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

DATA=$E2E_REPO/tests/e2e/data/related
RGROUP=related.e2e.coxswain.io
SRC=e2e-related-src-$$
NS1=e2e-related-a-$$
NS2=e2e-related-b-$$
GCM=e2e-gcm-$$
LABEL=related-e2e-$$

admin apply -f "$DATA/crd.yaml" -f "$DATA/rbac.yaml" >/dev/null
check "the GlobalConfigMap CRD is established" admin wait --for=condition=Established --timeout=30s \
	crd/globalconfigmaps.$RGROUP
for ns in "$SRC" "$NS1" "$NS2"; do
	namespace "$ns"
done
gcm_cleanup() { admin delete globalconfigmap "$GCM" --wait=false >/dev/null 2>&1; e2e_cleanup; }
trap gcm_cleanup EXIT

check "the source ConfigMap" admin create configmap settings -n "$SRC" --from-literal=color=blue
check "the first namespace carries the label" admin label namespace "$NS1" "$LABEL=yes"

# gcm [MODE]: creates or changes the GlobalConfigMap.
gcm() {
	printf '{"apiVersion":"%s/v1","kind":"GlobalConfigMap","metadata":{"name":"%s"},"spec":{"sourceNamespace":"%s",'\
'"sourceName":"settings","namespaceLabel":"%s","mode":"%s"}}' "$RGROUP" "$GCM" "$SRC" "$LABEL" "${1:-}" |
		admin apply -f - >/dev/null
}
color_in() { admin get configmap "$GCM" -n "$1" -o jsonpath='{.data.color}' 2>&1; }
colors() { echo "$(color_in "$NS1") $(color_in "$NS2")"; }
gstatus() { admin get globalconfigmap "$GCM" -o json | jq -c ".status.$1"; }
gsynced() { get globalconfigmap "" "$GCM" '{.status.conditions[?(@.type=="Synced")].status}/{.status.conditions[?(@.type=="Synced")].reason}'; }
gmessage() { get globalconfigmap "" "$GCM" '{.status.conditions[?(@.type=="Synced")].message}'; }

write_config "$DATA/coxswain.yaml" "$E2E_WORK/coxswain.yaml"
check "the config with hooks.customize is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "/readyz answers ok once the caches synced" equals ok health readyz

check "a GlobalConfigMap names the source and the label" gcm
eventually 30 "it becomes Synced=True" equals True/ReconcileSucceeded gsynced
eventually 30 "the labelled namespace gets the copy" equals blue color_in "$NS1"
check "the unlabelled one does not" fails admin get configmap "$GCM" -n "$NS2"
check "related is keyed like children: namespace/name for the source, the name for a Namespace" \
	equals "{\"ConfigMap.v1\":[\"$SRC/settings\"],\"Namespace.v1\":[\"$NS1\"]}" gstatus related

check "the second namespace is labelled (the parent is not touched)" admin label namespace "$NS2" "$LABEL=yes"
eventually 30 "it gets the copy: the Namespace's event requeued the parent" equals "blue blue" colors
eventually 30 "the status lists both namespaces" equals "[\"$NS1\",\"$NS2\"]" gstatus namespaces

check "the source changes" admin patch configmap settings -n "$SRC" --type=merge -p '{"data":{"color":"green"}}'
eventually 30 "every copy follows" equals "green green" colors

check "the first namespace loses the label" admin label namespace "$NS1" "$LABEL-"
eventually 30 "its copy is pruned" fails admin get configmap "$GCM" -n "$NS1"
check "the other copy stays" equals green color_in "$NS2"

check "the customize hook fails" gcm fail
eventually 30 "the parent becomes Synced=False, HookFailed" equals False/HookFailed gsynced
eventually 30 "the message names the customize hook and says why" \
	contains 'customize hook "tests/e2e/data/related/hook.py"' gmessage
check "with the hook's stderr" contains "refusing on purpose" gmessage
check "the copies stay" equals green color_in "$NS2"

check "the customize hook names a resource the API server does not serve" gcm badresource
eventually 30 "the message names the controller, the rule and its field" \
	contains 'controller globalconfigmaps: customize hook "tests/e2e/data/related/hook.py": relatedResources[0].resource: confgmaps v1: the API server serves v1 but no resource confgmaps' gmessage

check "the customize hook answers again" gcm
eventually 30 "it is Synced=True again" equals True/ReconcileSucceeded gsynced

check "the GlobalConfigMap is deleted" admin delete globalconfigmap "$GCM" --timeout=60s
eventually 60 "its copies are garbage-collected" fails admin get configmap "$GCM" -n "$NS2"

stop_coxswain
check "SIGTERM: coxswain exits 0" test "$E2E_EXIT" = 0
check "no sanitizer report" fails grep -q 'ERROR: .*Sanitizer\|runtime error:' "$E2E_WORK/coxswain.log"
keep_log test_mc_related
done_testing
