#!/usr/bin/env bash
# End to end, convergence (issue 9, part 2): after one successful sync with
# unchanged inputs, the next syncs send no write at all. coxswain's writes are
# counted independently, in the API server's audit log (lib.sh
# operator_writes). Every controller resyncs each 2 s; each parent's spec is
# its hook's answer (tests/e2e/data/safety/safety_hook.py).
#   - every child kind and updateStrategy of the suite: ConfigMap and Secret
#     with InPlace, Recreate and OnDelete, Secrets written with stringData, a
#     Deployment (InPlace) whose spec the API server defaults and normalises
#     (1000m CPU): zero writes over two more reconciles of each parent; the
#     Recreate Secret keeps its uid;
#   - a parent CRD without the status subresource: the status is written
#     (Synced=True), metadata.generation settles, zero writes, and a log line
#     and an Event NoStatusSubresource say so;
#   - a status schema without conditions: the hook's fields are stored, zero
#     writes, and an Event StatusFieldsDropped names status.conditions.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

IN_NS=e2e-conv-inplace-$$
RE_NS=e2e-conv-recreate-$$
OD_NS=e2e-conv-ondelete-$$
BARE_NS=e2e-conv-bare-$$
NARROW_NS=e2e-conv-narrow-$$

admin apply -f "$SAFETY_DATA/convergence-crds.yaml" -f "$SAFETY_DATA/rbac.yaml" >/dev/null
for plural in quiets bares narrows; do
	check "the CRD $plural is established" admin wait --for=condition=Established --timeout=30s "crd/$plural.$GROUP"
done
check "the fixture has an audit log (tests/cluster/up)" test -r "${COXSWAIN_AUDIT_LOG:-}"
for ns in "$IN_NS" "$RE_NS" "$OD_NS" "$BARE_NS" "$NARROW_NS"; do
	namespace "$ns"
	grant_secrets "$ns"
done

# parent KIND NS NAME SPEC_JSON
parent() {
	printf '{"apiVersion":"%s/v1","kind":"%s","metadata":{"name":"%s","namespace":"%s"},"spec":%s}' \
		"$GROUP" "$1" "$3" "$2" "$4" | admin apply -f - >/dev/null
}
CM='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p-cm","labels":{"app":"p"}},"data":{"a":"1","b":"two"}}'
SECRET_STRING='{"apiVersion":"v1","kind":"Secret","metadata":{"name":"p-secret"},"type":"Opaque","stringData":{"password":"s3cret","user":"admin"}}'
SECRET_DATA='{"apiVersion":"v1","kind":"Secret","metadata":{"name":"p-secret-data"},"data":{"token":"dG9rZW4="}}'
# Few fields set, many defaulted by the API server (strategy,
# revisionHistoryLimit, the pod template's policies...); 1000m is stored as 1.
DEPLOY='{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"p-deploy"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"p"}},"template":{"metadata":{"labels":{"app":"p"}},"spec":{"containers":[{"name":"web","image":"nginx:1.27","ports":[{"containerPort":80}],"resources":{"requests":{"cpu":"1000m","memory":"64Mi"}}}]}}}}'

render "$SAFETY_DATA/convergence.yaml" -e "s#@IN_NS@#$IN_NS#; s#@RE_NS@#$RE_NS#; s#@OD_NS@#$OD_NS#" \
	-e "s#@BARE_NS@#$BARE_NS#; s#@NARROW_NS@#$NARROW_NS#"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "/readyz answers ok once the caches synced" equals ok health readyz

check "an InPlace parent: ConfigMap, Secrets (stringData and data), Deployment" parent Quiet "$IN_NS" p \
	"{\"children\":[$CM,$SECRET_STRING,$SECRET_DATA,$DEPLOY],\"status\":{\"value\":\"inplace\"}}"
check "a Recreate parent: ConfigMap, Secrets (stringData and data)" parent Quiet "$RE_NS" p \
	"{\"children\":[$CM,$SECRET_STRING,$SECRET_DATA],\"status\":{\"value\":\"recreate\"}}"
check "an OnDelete parent: ConfigMap, Secrets (stringData and data)" parent Quiet "$OD_NS" p \
	"{\"children\":[$CM,$SECRET_STRING,$SECRET_DATA],\"status\":{\"value\":\"ondelete\"}}"
check "a parent without the status subresource" parent Bare "$BARE_NS" p \
	"{\"children\":[$CM],\"status\":{\"value\":\"bare\"}}"
check "a parent whose status schema has no conditions" parent Narrow "$NARROW_NS" p \
	"{\"children\":[$CM],\"status\":{\"ready\":true,\"value\":\"narrow\"}}"

for ns in "$IN_NS" "$RE_NS" "$OD_NS"; do
	eventually 60 "$ns: the parent becomes Synced=True" equals True/ReconcileSucceeded synced quiet "$ns" p
	check "$ns: its children exist" admin get configmap/p-cm secret/p-secret secret/p-secret-data -n "$ns"
	check "$ns: stringData was stored as data" equals "$(printf s3cret | base64)" get secret "$ns" p-secret '{.data.password}'
done
check "the Deployment exists" admin get deployment p-deploy -n "$IN_NS"
check "its 1000m CPU request is stored as 1" equals 1 \
	get deployment "$IN_NS" p-deploy '{.spec.template.spec.containers[0].resources.requests.cpu}'
eventually 60 "no status subresource: the status is written all the same (Synced=True)" \
	equals True/ReconcileSucceeded synced bare "$BARE_NS" p
check "(and the hook's status field)" equals bare get bare "$BARE_NS" p '{.status.value}'
eventually 60 "a status schema without conditions: the hook's fields are stored" \
	equals "true/narrow" get narrow "$NARROW_NS" p '{.status.ready}/{.status.value}'
eventually 30 "the Narrow's child exists" admin get configmap p-cm -n "$NARROW_NS"
RE_SECRET_UID=$(uid_of secret "$RE_NS" p-secret)
RE_CM_UID=$(uid_of configmap "$RE_NS" p-cm)

KEYS=("quiet-inplace/$IN_NS/p" "quiet-recreate/$RE_NS/p" "quiet-ondelete/$OD_NS/p" "bares/$BARE_NS/p" "narrows/$NARROW_NS/p")
NSS=("$IN_NS" "$RE_NS" "$OD_NS" "$BARE_NS" "$NARROW_NS")
# Let the first syncs' writes (children, Events, status) land: two more
# reconciles of each parent. Then the window: two more again.
more_reconciles 60 2 "${KEYS[@]}"
declare -A W0
for ns in "${NSS[@]}"; do W0[$ns]=$(operator_writes "$ns"); done
BARE_GEN=$(get bare "$BARE_NS" p '{.metadata.generation}')
more_reconciles 60 2 "${KEYS[@]}"
# no_writes_since NS [PATTERN [-v]]: no write request for NS since the window
# began (only those whose "verb URI code" line matches PATTERN, or with -v
# does not); the requests are shown if there are.
no_writes_since() {
	local log lines
	log=$(operator_write_log "$1") || return 1 # no audit log: nothing proven
	lines=$(tail -n +$((W0[$1] + 1)) <<<"$log" | grep ${3:+"$3"} -e "${2:-.}")
	[[ -z $lines ]] || { echo "$(wc -l <<<"$lines") writes:"; head -n 20 <<<"$lines"; return 1; }
}
check "InPlace ConfigMap and Secrets: zero writes over two more syncs" no_writes_since "$IN_NS" /deployments/ -v
check "InPlace Deployment (defaulted by the API server): zero writes over two more syncs" \
	no_writes_since "$IN_NS" /deployments/
check "Recreate ConfigMap and Secrets: zero writes over two more syncs" no_writes_since "$RE_NS"
check "OnDelete ConfigMap and Secrets: zero writes over two more syncs" no_writes_since "$OD_NS"
check "no status subresource: zero writes over two more syncs" no_writes_since "$BARE_NS"
check "status schema without conditions: zero writes over two more syncs" no_writes_since "$NARROW_NS"
check "the Recreate Secret (stringData) was not re-created: same uid" equals "$RE_SECRET_UID" uid_of secret "$RE_NS" p-secret
check "the Recreate ConfigMap was not re-created: same uid" equals "$RE_CM_UID" uid_of configmap "$RE_NS" p-cm
more_reconciles 60 3 "bares/$BARE_NS/p"
check "no status subresource: metadata.generation settled" equals "$BARE_GEN" get bare "$BARE_NS" p '{.metadata.generation}'
check "no status subresource: Synced=True stays visible" equals True/ReconcileSucceeded synced bare "$BARE_NS" p
check "no status subresource: a log line says so" grep -qi "no status subresource" "$E2E_WORK/coxswain.log"
eventually 30 "no status subresource: an Event NoStatusSubresource says so" \
	contains "NoStatusSubresource: " warnings Bare "$BARE_NS" p
check "no status subresource: said once, not on every sync" said_once Bare "$BARE_NS" p NoStatusSubresource
eventually 30 "status schema without conditions: an Event StatusFieldsDropped" \
	contains "StatusFieldsDropped: " warnings Narrow "$NARROW_NS" p
check "its message names status.conditions" contains "status.conditions" warnings Narrow "$NARROW_NS" p
check "said once, not on every sync" said_once Narrow "$NARROW_NS" p StatusFieldsDropped

stop_coxswain
check "SIGTERM: coxswain exits 0" test "$E2E_EXIT" = 0
check "no sanitizer report" fails grep -q 'ERROR: .*Sanitizer\|runtime error:' "$E2E_WORK/coxswain.log"
keep_log test_convergence
done_testing
