#!/usr/bin/env bash
# End to end, cluster-scoped parents (issue 9, part 4): a Spread (cluster
# scope) owns ConfigMap "settings" in each of three namespaces
# (tests/e2e/data/safety/safety_hook.py makes them from spec.namespaces and
# spec.value, and records in status.seen the keys of the children coxswain
# sent it). kubectl (admin) is the independent client.
#   - all three are created with the controller ownerReference; the same
#     name in three namespaces is no "returned twice" error;
#   - the hook's request keys them namespace/name;
#   - a change of the spec updates all three;
#   - a child deleted by hand is re-created at once: a child's event requeues
#     its cluster-scoped parent (the resync period is an hour);
#   - a namespace dropped from the spec: its ConfigMap is pruned, the others
#     stay.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

NS1=e2e-cluster-a-$$
NS2=e2e-cluster-b-$$
NS3=e2e-cluster-c-$$
SPREAD=e2e-spread-$$

admin apply -f "$SAFETY_DATA/cluster-scoped-crd.yaml" -f "$SAFETY_DATA/rbac.yaml" >/dev/null
check "the Spread CRD is established" admin wait --for=condition=Established --timeout=30s "crd/spreads.$GROUP"
for ns in "$NS1" "$NS2" "$NS3"; do
	namespace "$ns"
done
# The Spread is cluster-scoped: deleted at the end, with its children.
spread_cleanup() { admin delete spread "$SPREAD" --wait=false >/dev/null 2>&1; e2e_cleanup; }
trap spread_cleanup EXIT

# spread VALUE NS...: creates or changes the Spread.
spread() {
	local value=$1 list
	shift
	list=$(printf '"%s",' "$@")
	printf '{"apiVersion":"%s/v1","kind":"Spread","metadata":{"name":"%s"},"spec":{"value":"%s","namespaces":[%s]}}' \
		"$GROUP" "$SPREAD" "$value" "${list%,}" | admin apply -f - >/dev/null
}
controller_of() {
	admin get configmap settings -n "$1" -o go-template='{{range .metadata.ownerReferences}}{{if .controller}}{{.kind}}/{{.name}}/{{.uid}}{{end}}{{end}}'
}
value_in() { get configmap "$1" settings '{.data.value}'; }
values() { echo "$(value_in "$NS1" 2>&1) $(value_in "$NS2" 2>&1) $(value_in "$NS3" 2>&1)"; }
seen() { admin get spread "$SPREAD" -o json | jq -c '.status.seen'; }

render "$SAFETY_DATA/cluster-scoped.yaml"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "/readyz answers ok once the caches synced" equals ok health readyz

check "a Spread names ConfigMap settings in three namespaces" spread one "$NS1" "$NS2" "$NS3"
eventually 30 "it becomes Synced=True" equals True/ReconcileSucceeded synced spread "" "$SPREAD"
SPREAD_UID=$(uid_of spread "" "$SPREAD")
for ns in "$NS1" "$NS2" "$NS3"; do
	check "$ns: settings has the Spread's controller ownerReference" equals "Spread/$SPREAD/$SPREAD_UID" controller_of "$ns"
done
check "all three hold the spec's value" equals "one one one" values
eventually 30 "the hook's request keys the children namespace/name" \
	equals "[\"$NS1/settings\",\"$NS2/settings\",\"$NS3/settings\"]" seen

check "the Spread's value changes" spread two "$NS1" "$NS2" "$NS3"
eventually 30 "all three ConfigMaps follow" equals "two two two" values
eventually 30 "it is Synced=True" equals True/ReconcileSucceeded synced spread "" "$SPREAD"

OLD_UID=$(uid_of configmap "$NS2" settings)
check "settings in the second namespace is deleted by hand" admin delete configmap settings -n "$NS2"
# recreated: settings in NS2 exists again, as a new object.
recreated() { local uid; uid=$(uid_of configmap "$NS2" settings) && [[ -n $uid && $uid != "$OLD_UID" ]]; }
eventually 30 "it is re-created at once (a child's event requeues the parent)" recreated
second_state() { echo "$(value_in "$NS2") $(controller_of "$NS2")"; }
check "with the value and the controller ownerReference" equals "two Spread/$SPREAD/$SPREAD_UID" second_state

check "the third namespace is dropped from the spec" spread two "$NS1" "$NS2"
eventually 30 "its settings is pruned" fails admin get configmap settings -n "$NS3"
two_values() { echo "$(value_in "$NS1") $(value_in "$NS2")"; }
check "the others stay" equals "two two" two_values
eventually 30 "the request's children are the two left" equals "[\"$NS1/settings\",\"$NS2/settings\"]" seen
check "it is Synced=True" equals True/ReconcileSucceeded synced spread "" "$SPREAD"
check "no child was refused as returned twice" fails grep -q "returned twice" "$E2E_WORK/coxswain.log"

check "the Spread is deleted" admin delete spread "$SPREAD" --timeout=60s
eventually 60 "its children in other namespaces are garbage-collected" \
	fails admin get configmap settings -n "$NS1"

stop_coxswain
check "SIGTERM: coxswain exits 0" test "$E2E_EXIT" = 0
check "no sanitizer report" fails grep -q 'ERROR: .*Sanitizer\|runtime error:' "$E2E_WORK/coxswain.log"
keep_log test_cluster_scoped
done_testing
