#!/usr/bin/env bash
# End to end, which objects coxswain may write (issue 9, part 1): it claims
# children through the controller ownerReference, as controller-runtime and
# metacontroller do. Claims are parents whose spec is their hook's answer
# (tests/e2e/data/safety/safety_hook.py); kubectl (admin) is the independent
# client.
#   - two parents naming one ConfigMap: the first keeps it (data, controller
#     ownerReference); the second gets ChildConflict (condition and Warning
#     Event, naming the child and the owner's kind, name and uid), its other
#     children are applied, and coxswain does not fight: the ConfigMap's
#     resourceVersion stays put while the second parent is retried;
#   - a ConfigMap the admin made (no owner): untouched, ChildConflict saying
#     how to opt in (adoptOrphans), and it survives the parent's deletion;
#   - adoptOrphans: true adopts such an object (controller ownerReference,
#     label, the hook's data); from then on it is pruned and garbage-collected
#     with the parent;
#   - a child controlled by another object is never written, even by a
#     controller that adopts orphans;
#   - prune deletes only what the parent controls: objects labelled with the
#     controller's name but owned by another parent, or by nobody, stay;
#   - an OnDelete child owned by someone else is a ChildConflict too.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

NS=e2e-own-$$
ADOPT_NS=e2e-own-adopt-$$

admin apply -f "$SAFETY_DATA/ownership-crd.yaml" -f "$SAFETY_DATA/rbac.yaml" >/dev/null
check "the Claim CRD is established" admin wait --for=condition=Established --timeout=30s "crd/claims.$GROUP"
check "the operator identity can watch Claims" equals yes can_i watch "claims.$GROUP" -A
namespace "$NS"
namespace "$ADOPT_NS"
grant_secrets "$NS"
grant_secrets "$ADOPT_NS"

# cm NAME OWNER: a ConfigMap child, as JSON.
cm() { printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s"},"data":{"owner":"%s"}}' "$1" "$2"; }
# claim NS NAME CHILD_JSON...: creates or changes a Claim whose hook answers
# these children.
claim() {
	local ns=$1 name=$2 children
	shift 2
	children=$(IFS=,; echo "$*")
	printf '{"apiVersion":"%s/v1","kind":"Claim","metadata":{"name":"%s","namespace":"%s"},"spec":{"children":[%s],"status":{}}}' \
		"$GROUP" "$name" "$ns" "$children" | admin apply -f - >/dev/null
}
cm_field() { get configmap "$1" "$2" "$3"; }
# controller_of NS NAME: Kind/name/uid of the ConfigMap's controller ownerReference.
controller_of() {
	admin get "${3:-configmap}" "$2" -n "$1" -o go-template='{{range .metadata.ownerReferences}}{{if .controller}}{{.kind}}/{{.name}}/{{.uid}}{{end}}{{end}}'
}
# writes_to NS NAME: coxswain's write requests for that ConfigMap so far.
writes_to() { operator_write_log "$1" | grep -c "/configmaps/$2[?/ ]" || true; }
# names MESSAGE_REGEX KIND NS NAME: the Synced message matches (grep -E).
names() { local m; m=$(synced_message "$2" "$3" "$4"); grep -qE -- "$1" <<<"$m" || { echo "no /$1/ in: $m"; return 1; }; }

render "$SAFETY_DATA/ownership.yaml" -e "s#@NS@#$NS#; s#@ADOPT_NS@#$ADOPT_NS#"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "/readyz answers ok once the caches synced" equals ok health readyz

# ---- two parents, one ConfigMap
check "a first Claim names ConfigMap shared" claim "$NS" first "$(cm shared first)"
eventually 30 "it becomes Synced=True" equals True/ReconcileSucceeded synced claim "$NS" first
FIRST_UID=$(uid_of claim "$NS" first)
check "shared is the first Claim's (controller ownerReference)" equals "Claim/first/$FIRST_UID" controller_of "$NS" shared
check "a second Claim names shared too, and a ConfigMap of its own" \
	claim "$NS" second "$(cm shared second)" "$(cm second-own second)"
eventually 30 "the second Claim is Synced=False, ChildConflict" equals False/ChildConflict synced claim "$NS" second
check "the message names the child" names "ConfigMap[/ ]shared" claim "$NS" second
check "the message names the owner's kind and name" names "Claim[/ ]first" claim "$NS" second
check "the message gives the owner's uid" contains "$FIRST_UID" synced_message claim "$NS" second
eventually 30 "a Warning Event ChildConflict about the second Claim" contains "ChildConflict: " warnings Claim "$NS" second
eventually 30 "the second Claim's other child is applied" equals second cm_field "$NS" second-own '{.data.owner}'
SHARED_RV=$(cm_field "$NS" shared '{.metadata.resourceVersion}')
SHARED_WRITES=$(writes_to "$NS" shared)
more_reconciles 60 4 "claims/$NS/second"
check "no fight: shared's resourceVersion stayed the same across the retries" \
	equals "$SHARED_RV" cm_field "$NS" shared '{.metadata.resourceVersion}'
check "no write request for shared was sent meanwhile (audit log)" equals "$SHARED_WRITES" writes_to "$NS" shared
check "shared keeps the first Claim's data" equals first cm_field "$NS" shared '{.data.owner}'
check "shared keeps the first Claim's controller ownerReference" equals "Claim/first/$FIRST_UID" controller_of "$NS" shared
check "the first Claim stays Synced=True" equals True/ReconcileSucceeded synced claim "$NS" first

# ---- an object the admin made, without adoptOrphans
check "the admin makes ConfigMap admin-made (no owner, a label of its own)" \
	admin create configmap admin-made -n "$NS" --from-literal=owner=admin
check "(the label)" admin label configmap admin-made -n "$NS" team=ops
# what_admin_made: the parts of admin-made a takeover would change.
what_admin_made() { cm_field "$NS" admin-made '{.data}|{.metadata.labels}|{.metadata.ownerReferences}|{.metadata.resourceVersion}'; }
ADMIN_MADE=$(what_admin_made)
check "a Claim names admin-made, and a ConfigMap of its own" claim "$NS" taker "$(cm admin-made hook)" "$(cm taker-own hook)"
eventually 30 "it is Synced=False, ChildConflict" equals False/ChildConflict synced claim "$NS" taker
check "the message names the child" names "ConfigMap[/ ]admin-made" claim "$NS" taker
check "the message says how to opt in (adoptOrphans)" contains "adoptOrphans" synced_message claim "$NS" taker
eventually 30 "a Warning Event ChildConflict about it" contains "ChildConflict: " warnings Claim "$NS" taker
eventually 30 "its own child is applied" equals hook cm_field "$NS" taker-own '{.data.owner}'
more_reconciles 60 3 "claims/$NS/taker"
check "admin-made is untouched (data, labels, ownerReferences, resourceVersion)" equals "$ADMIN_MADE" what_admin_made
check "the Claim is deleted" admin delete claim taker -n "$NS" --timeout=60s
eventually 60 "its own child is garbage-collected" fails admin get configmap taker-own -n "$NS"
check "admin-made is still there, as the admin made it" equals "$ADMIN_MADE" what_admin_made

# ---- adoptOrphans: true
check "the admin makes ConfigMap orphan (no owner)" admin create configmap orphan -n "$ADOPT_NS" --from-literal=owner=admin
check "a Claim of the adopting controller names it, and another child" \
	claim "$ADOPT_NS" adopter "$(cm orphan hook)" "$(cm adopter-keep hook)"
eventually 30 "it becomes Synced=True" equals True/ReconcileSucceeded synced claim "$ADOPT_NS" adopter
ADOPTER_UID=$(uid_of claim "$ADOPT_NS" adopter)
check "orphan is adopted: controller ownerReference to the Claim" \
	equals "Claim/adopter/$ADOPTER_UID" controller_of "$ADOPT_NS" orphan
check "orphan has the label coxswain.io/controller=adopters" \
	equals adopters cm_field "$ADOPT_NS" orphan '{.metadata.labels.coxswain\.io/controller}'
check "orphan holds the hook's data" equals hook cm_field "$ADOPT_NS" orphan '{.data.owner}'
check "the Claim's hook drops orphan" claim "$ADOPT_NS" adopter "$(cm adopter-keep hook)"
eventually 30 "the adopted orphan is pruned" fails admin get configmap orphan -n "$ADOPT_NS"
check "the kept child stays" equals hook cm_field "$ADOPT_NS" adopter-keep '{.data.owner}'
check "the admin makes ConfigMap orphan2 (no owner)" admin create configmap orphan2 -n "$ADOPT_NS" --from-literal=owner=admin
check "the Claim's hook names orphan2" claim "$ADOPT_NS" adopter "$(cm adopter-keep hook)" "$(cm orphan2 hook)"
eventually 30 "orphan2 is adopted" equals "Claim/adopter/$ADOPTER_UID" controller_of "$ADOPT_NS" orphan2
check "the adopting Claim is deleted" admin delete claim adopter -n "$ADOPT_NS" --timeout=60s
eventually 60 "orphan2 is garbage-collected with it" fails admin get configmap orphan2 -n "$ADOPT_NS"

# ---- a child controlled by another object, even under adoptOrphans
check "the admin makes ConfigMap anchor" admin create configmap anchor -n "$ADOPT_NS" --from-literal=owner=admin
ANCHOR_UID=$(cm_field "$ADOPT_NS" anchor '{.metadata.uid}')
admin apply -f - >/dev/null <<-YAML
	apiVersion: v1
	kind: ConfigMap
	metadata:
	  name: foreign
	  namespace: $ADOPT_NS
	  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: anchor, uid: "$ANCHOR_UID", controller: true}]
	data: {owner: admin}
YAML
check "the admin makes ConfigMap foreign, controlled by anchor" equals "ConfigMap/anchor/$ANCHOR_UID" controller_of "$ADOPT_NS" foreign
FOREIGN_RV=$(cm_field "$ADOPT_NS" foreign '{.metadata.resourceVersion}')
check "a Claim of the adopting controller names foreign" claim "$ADOPT_NS" grabber "$(cm foreign hook)"
eventually 30 "it is Synced=False, ChildConflict" equals False/ChildConflict synced claim "$ADOPT_NS" grabber
check "the message names the child" names "ConfigMap[/ ]foreign" claim "$ADOPT_NS" grabber
check "the message names its controller" names "ConfigMap[/ ]anchor" claim "$ADOPT_NS" grabber
check "(and its uid)" contains "$ANCHOR_UID" synced_message claim "$ADOPT_NS" grabber
more_reconciles 60 3 "adopters/$ADOPT_NS/grabber"
check "foreign was never written (resourceVersion)" equals "$FOREIGN_RV" cm_field "$ADOPT_NS" foreign '{.metadata.resourceVersion}'
foreign_state() { echo "$(cm_field "$ADOPT_NS" foreign '{.data.owner}') $(controller_of "$ADOPT_NS" foreign)"; }
check "foreign keeps the admin's data and controller" equals "admin ConfigMap/anchor/$ANCHOR_UID" foreign_state

# ---- prune deletes only what this parent controls
check "a Claim q has a child q-child" claim "$NS" q "$(cm q-child q)"
eventually 30 "q becomes Synced=True" equals True/ReconcileSucceeded synced claim "$NS" q
check "q-child carries the controller's label" equals claims cm_field "$NS" q-child '{.metadata.labels.coxswain\.io/controller}'
check "the admin makes ConfigMap decoy with the label coxswain.io/controller=claims and no owner" \
	admin create configmap decoy -n "$NS" --from-literal=owner=admin
check "(the label)" admin label configmap decoy -n "$NS" coxswain.io/controller=claims
check "a Claim p names p-a, p-b, q's child and the decoy" \
	claim "$NS" p "$(cm p-a p)" "$(cm p-b p)" "$(cm q-child p)" "$(cm decoy p)"
eventually 30 "p's own children are applied" admin get configmap p-a p-b -n "$NS"
eventually 30 "p is Synced=False, ChildConflict (q-child and decoy are not its)" \
	equals False/ChildConflict synced claim "$NS" p
Q_CHILD_RV=$(cm_field "$NS" q-child '{.metadata.resourceVersion}')
DECOY_RV=$(cm_field "$NS" decoy '{.metadata.resourceVersion}')
check "p's hook drops p-b, q-child and decoy" claim "$NS" p "$(cm p-a p)"
eventually 30 "p-b, which p controls, is pruned" fails admin get configmap p-b -n "$NS"
eventually 30 "p becomes Synced=True" equals True/ReconcileSucceeded synced claim "$NS" p
more_reconciles 60 3 "claims/$NS/p"
check "q-child (labelled, owned by q) is not pruned" equals "$Q_CHILD_RV" cm_field "$NS" q-child '{.metadata.resourceVersion}'
check "decoy (labelled, owned by nobody) is not pruned" equals "$DECOY_RV" cm_field "$NS" decoy '{.metadata.resourceVersion}'
check "q-child is still q's" equals "Claim/q/$(uid_of claim "$NS" q)" controller_of "$NS" q-child
check "p-a stays" equals p cm_field "$NS" p-a '{.data.owner}'

# ---- an OnDelete child that belongs to someone else
admin apply -f - >/dev/null <<-YAML
	apiVersion: v1
	kind: Secret
	metadata:
	  name: od-secret
	  namespace: $NS
	  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: decoy, uid: "$(cm_field "$NS" decoy '{.metadata.uid}')", controller: true}]
	stringData: {owner: admin}
YAML
check "the admin makes Secret od-secret, controlled by decoy" admin get secret od-secret -n "$NS"
OD_RV=$(get secret "$NS" od-secret '{.metadata.resourceVersion}')
check "a Claim names od-secret (Secrets are OnDelete children)" claim "$NS" od \
	'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"od-secret"},"stringData":{"owner":"hook"}}'
eventually 30 "it is Synced=False, ChildConflict" equals False/ChildConflict synced claim "$NS" od
check "the message names the child" names "Secret[/ ]od-secret" claim "$NS" od
more_reconciles 60 2 "claims/$NS/od"
check "od-secret was not written" equals "$OD_RV" get secret "$NS" od-secret '{.metadata.resourceVersion}'

stop_coxswain
check "SIGTERM: coxswain exits 0" test "$E2E_EXIT" = 0
check "no sanitizer report" fails grep -q 'ERROR: .*Sanitizer\|runtime error:' "$E2E_WORK/coxswain.log"
keep_log test_ownership
done_testing
