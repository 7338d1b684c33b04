#!/usr/bin/env bash
# End to end, deploy/ as a cluster admin would apply it:
#   - every manifest, and what `kubectl kustomize deploy/` builds (with and
#     without the monitoring component), passes `kubectl apply
#     --dry-run=server` with no warning (the namespace enforces Pod Security
#     "restricted", so a warning would mean the pod breaks it);
#   - the pod hangs together: config, socket, hooks, probes, ports, drain
#     deadline, hardening (tests/e2e/data/deploy/deploy_checks.py pod);
#   - the ServiceMonitor selects the metrics Service by its labels and names
#     one of its ports;
#   - with the scale-out component: the watcher alone in its pod, bound on
#     tcp:// with CURVE, the Service and the workers' --endpoint lead to its
#     port, each worker pod its own set, every key file an item of the
#     Secrets make-keys.sh makes, readable by the pod's group, and a
#     NetworkPolicy that opens the port to the worker pods only;
#   - with the metacontroller component: the watcher gains
#     --metacontroller-live, coxswain.yaml has no controllers, the Website
#     example's CRD and RBAC are gone; its RBAC grants exactly its justified
#     permissions (never a write on CRDs or controller objects, no Secrets),
#     and a user's ClusterRole labelled for aggregation is picked up and
#     dropped again;
#   - every metric the Grafana dashboard queries is in a live /metrics scrape
#     of coxswain running the Website example;
#   - RBAC: rbac.yaml grants exactly the permissions listed below, each with
#     its reason; the ones the example exercises are seen in coxswain's own
#     requests during the live run (none of which is refused), the others
#     are named by the code path or admission rule that needs them; and a
#     list of things the operator identity must not be able to do.
source "$(dirname "$0")/lib.sh"

DEPLOY=$E2E_REPO/deploy
DATA=$E2E_REPO/tests/e2e/data/deploy
CHECKS=$DATA/deploy_checks.py
SITE=examples.coxswain.io
NS=e2e-deploy-$$
LEASE=e2e-deploy-$$

# The ServiceMonitor CRD stub and the isolated RBAC copy are this test's:
# removed at the end.
deploy_cleanup() {
	admin delete -f "$DATA/servicemonitor-crd.yaml" --ignore-not-found --wait=false >/dev/null 2>&1
	[[ ! -f $E2E_WORK/isolated.json ]] ||
		admin delete -f "$E2E_WORK/isolated.json" --ignore-not-found --wait=false >/dev/null 2>&1
	local f
	for f in mc-isolated.json mc-example.yaml; do
		[[ ! -f $E2E_WORK/$f ]] || admin delete -f "$E2E_WORK/$f" --ignore-not-found --wait=false >/dev/null 2>&1
	done
	# A finalizer left on the Website would keep the namespace from going.
	admin patch website alpha -n "$NS" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
	e2e_cleanup
}
trap deploy_cleanup EXIT

# dry_run FILE [OUT]: server-side dry run; fails on an error or a warning.
dry_run() {
	local out
	out=$(admin apply --dry-run=server -f "$1" -o json 2>"$E2E_WORK/dry-run.err") || {
		cat "$E2E_WORK/dry-run.err"
		return 1
	}
	if grep -qi warning "$E2E_WORK/dry-run.err"; then
		cat "$E2E_WORK/dry-run.err"
		return 1
	fi
	[[ -z ${2:-} ]] || printf '%s\n' "$out" >"$2"
}

# ------------------------------------------------------------------ manifests

# Namespaced objects can only be dry-run into a namespace that exists.
admin apply -f "$DEPLOY/namespace.yaml" -f "$DEPLOY/examples/website/crd.yaml" >/dev/null
for f in namespace.yaml examples/website/crd.yaml rbac.yaml config.yaml deployment.yaml service.yaml; do
	check "deploy/$f passes apply --dry-run=server, without warnings" dry_run "$DEPLOY/$f"
done
check "kubectl kustomize deploy/ builds" bash -c "kubectl kustomize '$DEPLOY' >'$E2E_WORK/kustomized.yaml'"
check "what it builds passes apply --dry-run=server, without warnings" \
	dry_run "$E2E_WORK/kustomized.yaml" "$E2E_WORK/objects.json"
check "it holds the namespace, CRD, RBAC, config, hooks, Deployment and Service" equals \
	"ClusterRole ClusterRoleBinding ConfigMap ConfigMap CustomResourceDefinition Deployment Namespace Role RoleBinding Service ServiceAccount" \
	python3 -c 'import json, sys; print(" ".join(sorted(o["kind"] for o in json.load(open(sys.argv[1]))["items"])))' \
	"$E2E_WORK/objects.json"
check "the pod hangs together (config, socket, hooks, probes, ports, drain, hardening)" \
	python3 "$CHECKS" pod "$E2E_WORK/objects.json" "$DEPLOY/examples/website/hook.py"
admin create --dry-run=client -f "$DEPLOY/config.yaml" -o 'jsonpath={.data.coxswain\.yaml}' >"$E2E_WORK/in-pod.yaml"
check "config.yaml's coxswain.yaml passes coxswain-watcher --check-config" \
	"$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/in-pod.yaml"
check "the Dockerfile: a Debian build stage, a slim runtime stage, the user runAsUser names" bash -c "
	grep -q '^FROM debian:\${DEBIAN_RELEASE} AS build' '$DEPLOY/Dockerfile' &&
	grep -q '^FROM debian:\${DEBIAN_RELEASE}-slim' '$DEPLOY/Dockerfile' &&
	grep -q '^USER 65532:65532' '$DEPLOY/Dockerfile' &&
	grep -q 'runAsUser: 65532' '$DEPLOY/deployment.yaml'"
# dockerfile_has PACKAGE...: each is in an apt-get install line of the Dockerfile.
dockerfile_has() {
	local p missing=()
	for p; do
		grep -Eq "(^|[[:space:]])$p([[:space:]]|\$)" "$DEPLOY/Dockerfile" || missing+=("$p")
	done
	((${#missing[@]} == 0)) || { echo "not in deploy/Dockerfile: ${missing[*]}"; return 1; }
}
# runtime_packages: the Debian package of every shared library the two
# programs link directly, but libc's (in every base image) and the
# sanitizers' (the image is built without them).
runtime_packages() {
	local so path pkg bins=("$E2E_BUILD/watcher/coxswain-watcher" "$E2E_BUILD/worker/coxswain-worker")
	for so in $(readelf -d "${bins[@]}" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort -u); do
		case $so in libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | libasan.so.* | libubsan.so.*)
			continue ;;
		esac
		path=$(ldd "${bins[@]}" | awk -v s="$so" '$1 == s { print $3; exit }')
		pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null || true)
		[[ -n $pkg ]] || { echo "no package owns $so ($path)"; return 1; }
		echo "${pkg%%:*}"
	done | sort -u
}
# (read -d '': every word of every line; a CX_REQUIRE may name several packages.)
read -r -d '' -a CONFIGURE_DEV_PACKAGES < <(sed -n 's/^CX_REQUIRE(\[[A-Z]*\], \[.*\], \[\(.*\)\])$/\1/p' "$E2E_REPO/configure.ac")
check "the Dockerfile's build stage installs every -dev package configure.ac asks for" \
	dockerfile_has "${CONFIGURE_DEV_PACKAGES[@]}"
runtime_in_dockerfile() {
	local pkgs
	pkgs=$(runtime_packages) || { echo "$pkgs"; return 1; }
	[[ -n $pkgs ]] || { echo "found no libraries (readelf, ldd, dpkg?)"; return 1; }
	# shellcheck disable=SC2086 # one package a line, an argument each
	dockerfile_has $pkgs
}
check "its runtime stage installs the package of every library the programs link" runtime_in_dockerfile

# ------------------------------------------------------------------ monitoring

admin apply -f "$DATA/servicemonitor-crd.yaml" >/dev/null
admin wait --for=condition=Established --timeout=30s crd/servicemonitors.monitoring.coreos.com >/dev/null
check "monitoring/servicemonitor.yaml passes apply --dry-run=server (against a stub of its CRD)" \
	dry_run "$DEPLOY/monitoring/servicemonitor.yaml" "$E2E_WORK/servicemonitor.json"
check "the ServiceMonitor selects the metrics Service by its labels, and names its metrics port" \
	python3 "$CHECKS" monitor "$E2E_WORK/objects.json" "$E2E_WORK/servicemonitor.json"
# An overlay as a user would write it (kustomize wants relative paths).
mkdir -p "$E2E_WORK/overlay"
rel=$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$DEPLOY" "$E2E_WORK/overlay")
cat >"$E2E_WORK/overlay/kustomization.yaml" <<-EOF
	resources: [$rel]
	components: [$rel/monitoring]
EOF
check "deploy/ with the monitoring component builds" \
	bash -c "kubectl kustomize '$E2E_WORK/overlay' >'$E2E_WORK/with-monitoring.yaml'"
check "... and passes apply --dry-run=server (ServiceMonitor, dashboard ConfigMap)" \
	dry_run "$E2E_WORK/with-monitoring.yaml" "$E2E_WORK/with-monitoring.json"
check "the dashboard ConfigMap holds dashboard.json, labelled for Grafana's sidecar" equals "1 same" python3 -c '
import json, sys
items = json.load(open(sys.argv[1]))["items"]
cm = [o for o in items if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "coxswain-dashboard"][0]
same = json.loads(cm["data"]["coxswain.json"]) == json.load(open(sys.argv[2]))
print(cm["metadata"]["labels"]["grafana_dashboard"], "same" if same else "different")' \
	"$E2E_WORK/with-monitoring.json" "$DEPLOY/monitoring/dashboard.json"

# ------------------------------------------------------------------ scale-out

mkdir -p "$E2E_WORK/scaleout"
rel=$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$DEPLOY" "$E2E_WORK/scaleout")
cat >"$E2E_WORK/scaleout/kustomization.yaml" <<-EOF
	resources: [$rel]
	components: [$rel/scale-out]
EOF
check "deploy/ with the scale-out component builds" \
	bash -c "kubectl kustomize '$E2E_WORK/scaleout' >'$E2E_WORK/scaleout.yaml'"
check "... and passes apply --dry-run=server, without warnings" \
	dry_run "$E2E_WORK/scaleout.yaml" "$E2E_WORK/scaleout.json"
check "the watcher's pod, the worker pods, the job Service, the NetworkPolicy and make-keys.sh agree" \
	python3 "$CHECKS" scaleout "$E2E_WORK/scaleout.json" "$DEPLOY/scale-out/make-keys.sh"
python3 -c 'import json, sys
items = json.load(open(sys.argv[1]))["items"]
print([o for o in items if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "coxswain-config"][0]["data"]["coxswain.yaml"])' \
	"$E2E_WORK/scaleout.json" >"$E2E_WORK/scaleout-config.yaml"
check "its coxswain.yaml passes coxswain-watcher --check-config" \
	"$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/scaleout-config.yaml"

# ------------------------------------------------------------------ metacontroller

mkdir -p "$E2E_WORK/mc"
rel=$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$DEPLOY" "$E2E_WORK/mc")
cat >"$E2E_WORK/mc/kustomization.yaml" <<-EOF
	resources: [$rel]
	components: [$rel/metacontroller]
EOF
check "deploy/ with the metacontroller component builds" \
	bash -c "kubectl kustomize '$E2E_WORK/mc' >'$E2E_WORK/mc.yaml'"
check "... and passes apply --dry-run=server, without warnings" dry_run "$E2E_WORK/mc.yaml" "$E2E_WORK/mc.json"
check "it holds the namespace, RBAC, config, hooks, Deployment and Service, and no CRD" equals \
	"ClusterRole ClusterRole ClusterRoleBinding ClusterRoleBinding ConfigMap ConfigMap Deployment Namespace Role RoleBinding Service ServiceAccount" \
	python3 -c 'import json, sys; print(" ".join(sorted(o["kind"] for o in json.load(open(sys.argv[1]))["items"])))' \
	"$E2E_WORK/mc.json"
check "the watcher gains --metacontroller-live, no controllers in coxswain.yaml, RBAC read-only on CRDs and controllers" \
	python3 "$CHECKS" metacontroller "$E2E_WORK/mc.json" "$E2E_WORK/objects.json"
check "deploy/ alone fails that check (it can fail)" fails \
	python3 "$CHECKS" metacontroller "$E2E_WORK/objects.json" "$E2E_WORK/objects.json"
check "kubectl kustomize deploy/metacontroller/crds builds the two CRDs" equals \
	"compositecontrollers.metacontroller.k8s.io decoratorcontrollers.metacontroller.k8s.io" \
	bash -c "kubectl kustomize '$DEPLOY/metacontroller/crds' | tee '$E2E_WORK/mc-crds.yaml' |
		sed -n 's/^  name: //p' | sort | xargs"
check "... which pass apply --dry-run=server, without warnings (metacontroller.k8s.io is a protected group)" \
	dry_run "$E2E_WORK/mc-crds.yaml"
# Applied for good (they are metacontroller's, the same for every test):
# kubectl auth can-i below resolves their resources.
admin apply -f "$E2E_WORK/mc-crds.yaml" >/dev/null
check "they become Established" admin wait --for=condition=Established --timeout=30s \
	crd/compositecontrollers.metacontroller.k8s.io crd/decoratorcontrollers.metacontroller.k8s.io
# Every permission the component grants, and why (the live requests are
# tests/e2e/test_mc_conformance.sh's, which runs coxswain under this RBAC).
MC_RBAC_TABLE=$(
	cat <<-'EOF'
		apiextensions.k8s.io customresourcedefinitions get cluster | the CRD gate of each parent and child kind (read-only)
		apiextensions.k8s.io customresourcedefinitions list cluster | the CRD gate's informer
		apiextensions.k8s.io customresourcedefinitions watch cluster | the CRD gate's informer
		metacontroller.k8s.io compositecontrollers get cluster | the controller objects, read-only (issue 11 item 7)
		metacontroller.k8s.io compositecontrollers list cluster | --metacontroller-live lists them
		metacontroller.k8s.io compositecontrollers watch cluster | --metacontroller-live watches them
		metacontroller.k8s.io decoratorcontrollers get cluster | the controller objects, read-only (issue 11 item 7)
		metacontroller.k8s.io decoratorcontrollers list cluster | --metacontroller-live lists them
		metacontroller.k8s.io decoratorcontrollers watch cluster | --metacontroller-live watches them
		core events create cluster | worker/events.c: Events about the parents
		core events patch cluster | worker/events.c: an Event repeated within 10 minutes is a patch of its count
		core events get cluster | worker/events.c: an Event another worker wrote is read, to count on from it
		coordination.k8s.io leases get coxswain-system | leader election (deploy/rbac.yaml's Role, kept)
		coordination.k8s.io leases create coxswain-system | leader election (deploy/rbac.yaml's Role, kept)
		coordination.k8s.io leases update coxswain-system | leader election (deploy/rbac.yaml's Role, kept)
	EOF
)
python3 "$CHECKS" granted "$E2E_WORK/mc.json" >"$E2E_WORK/mc-granted.txt"
# shellcheck disable=SC2001 # sed cuts each line of the table; ${var//...} would see one string
sed 's/ |.*//' <<<"$MC_RBAC_TABLE" | sort >"$E2E_WORK/mc-justified.txt"
check "the component grants exactly the justified permissions (no more, no fewer)" \
	diff -u "$E2E_WORK/mc-justified.txt" "$E2E_WORK/mc-granted.txt"
# Its roles bound to an identity of this test's alone (MC_ISOLATED); the copy
# of the aggregated ClusterRole picks up only ClusterRoles labelled for it.
MC_NS=e2e-deploy-mc-$$
MC_ISOLATED=system:serviceaccount:$MC_NS:coxswain
namespace "$MC_NS"
python3 "$CHECKS" isolate "$E2E_WORK/mc.json" "$MC_NS" "$MC_NS" >"$E2E_WORK/mc-isolated.json"
admin apply -f "$E2E_WORK/mc-isolated.json" >/dev/null
mc_can() {
	admin auth can-i "$@" --as="$MC_ISOLATED" --as-group=system:serviceaccounts \
		--as-group="system:serviceaccounts:$MC_NS" --as-group=system:authenticated 2>/dev/null || true
}
while IFS='|' read -r perm why; do
	read -r group resource verb scope <<<"$perm"
	res=$resource
	[[ $group == core ]] || res=$resource.$group
	where=(-A)
	[[ $scope == cluster ]] || where=(-n "$scope")
	check "metacontroller component: can-i $verb $group/$resource ($scope): yes, needed: ${why# }" equals yes \
		mc_can "$verb" "$res" "${where[@]}"
done <<<"$MC_RBAC_TABLE"
while read -r verb resource flags; do
	# shellcheck disable=SC2086 # $flags holds zero or more kubectl flags
	check "metacontroller component alone: can-i $verb $resource $flags: no" equals no \
		mc_can "$verb" "$resource" $flags
done <<-'EOF'
	create customresourcedefinitions.apiextensions.k8s.io
	update customresourcedefinitions.apiextensions.k8s.io
	patch customresourcedefinitions.apiextensions.k8s.io
	delete customresourcedefinitions.apiextensions.k8s.io
	create compositecontrollers.metacontroller.k8s.io
	update compositecontrollers.metacontroller.k8s.io
	patch decoratorcontrollers.metacontroller.k8s.io
	delete decoratorcontrollers.metacontroller.k8s.io
	update compositecontrollers.metacontroller.k8s.io --subresource=status
	* * -A
	get secrets -A
	list secrets -A
	get configmaps -A
	watch configmaps -A
	create pods -A
	delete pods -A
	create namespaces
	bind clusterroles.rbac.authorization.k8s.io
	escalate clusterroles.rbac.authorization.k8s.io
	impersonate serviceaccounts -A
EOF
# A user's ClusterRole for one controller: controller-role-example.yaml's
# first document, renamed, with the aggregation label swapped for this
# test's copy's (so the real aggregated ClusterRole, which another test may
# have bound, never picks it up). Its rules are aggregated in, and go with it.
sed -n '/^---$/q;p' "$DEPLOY/metacontroller/controller-role-example.yaml" >"$E2E_WORK/mc-example.yaml"
check "controller-role-example.yaml: its ClusterRole carries the aggregation label" \
	grep -q '^    coxswain.io/aggregate-to-metacontroller: "true"$' "$E2E_WORK/mc-example.yaml"
sed -i -e "0,/^  name: .*/s//  name: $MC_NS-example/" \
	-e "s#^\( *\)coxswain.io/aggregate-to-metacontroller: \"true\"#\1e2e.coxswain.io/isolated: $MC_NS#" \
	"$E2E_WORK/mc-example.yaml"
check "... and passes apply --dry-run=server, without warnings" dry_run "$E2E_WORK/mc-example.yaml"
admin apply -f "$E2E_WORK/mc-example.yaml" >/dev/null
# (Its parent kind, catsets.examples.com, does not exist here: kubectl auth
# can-i answers for kinds it can resolve, so its children and related kinds
# stand for it.)
eventually 30 "once applied, the aggregated ClusterRole grants its children (create pods)" equals yes \
	mc_can create pods -A
check "... and its related objects (watch configmaps)" equals yes mc_can watch configmaps -A
check "... and still no Secret" equals no mc_can get secrets -A
admin delete -f "$E2E_WORK/mc-example.yaml" >/dev/null
eventually 30 "once it is deleted, its rights go (create pods: no)" equals no mc_can create pods -A
check "... (watch configmaps: no)" equals no mc_can watch configmaps -A
admin delete -f "$E2E_WORK/mc-isolated.json" --ignore-not-found --wait=false >/dev/null 2>&1

# ------------------------------------------------------------------ live run

admin apply -f "$DEPLOY/rbac.yaml" >/dev/null
namespace "$NS"
# The example's config, with leader election on (so its metric and its
# Lease requests are there) under a Lease name of this run's, and the
# controller limited to this test's namespace: the requests logged are this
# test's (not writes into other tests' namespaces, which may be going away).
write_config "$E2E_REPO/deploy/examples/website/coxswain.yaml" "$E2E_WORK/coxswain.yaml"
sed -i -e "s#leaderElection: .*#leaderElection: {enabled: true, namespace: coxswain-system, name: $LEASE}#" \
	-e "s#^\( *\)resyncPeriodSeconds: .*#&\n\1namespace: $NS#" "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 2 -v 6 --log-format json
eventually 30 "coxswain (the operator identity) is ready" equals ok health readyz

admin apply -n "$NS" -f - >/dev/null <<-YAML
	apiVersion: $SITE/v1
	kind: Website
	metadata: {name: alpha}
	spec: {title: Alpha}
YAML
check "a Website becomes Ready" admin wait -n "$NS" --for=condition=Ready --timeout=60s website/alpha
uid=$(admin get website alpha -n "$NS" -o jsonpath='{.metadata.uid}')

# Children an earlier version of the hook returned and this one does not:
# coxswain prunes them (delete) on the next sync (the annotation below
# makes one at once). Another test's coxswain watching every namespace may
# prune them first; then this one's DELETE may not happen: up to 3 rounds.
owner="{apiVersion: $SITE/v1, kind: Website, name: alpha, uid: $uid, controller: true}"
stale() {
	admin apply -n "$NS" -f - >/dev/null <<-YAML
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: $1, labels: {coxswain.io/controller: websites}, ownerReferences: [$owner]}
		data: {index.html: old}
		---
		apiVersion: v1
		kind: Service
		metadata: {name: $1, labels: {coxswain.io/controller: websites}, ownerReferences: [$owner]}
		spec: {ports: [{port: 80}]}
		---
		apiVersion: apps/v1
		kind: Deployment
		metadata: {name: $1, labels: {coxswain.io/controller: websites}, ownerReferences: [$owner]}
		spec:
		  selector: {matchLabels: {app: $1}}
		  template:
		    metadata: {labels: {app: $1}}
		    spec: {containers: [{name: nginx, image: nginx}]}
	YAML
	admin patch website alpha -n "$NS" --type=merge -p "{\"metadata\":{\"annotations\":{\"e2e/stale\":\"$1\"}}}" \
		>/dev/null
}
deletes_logged() {
	[[ $(grep -c '"verb":"DELETE","path":"/ap[a-z]*/[^"]*/namespaces/'"$NS"'/\(configmaps\|services\|deployments\)/' \
		"$E2E_WORK/coxswain.log") -ge 3 ]]
}
for round in 1 2 3; do
	stale "alpha-old-$round"
	eventually 30 "children the hook no longer returns are pruned (round $round)" equals "" \
		admin get "configmap/alpha-old-$round" "service/alpha-old-$round" "deployment/alpha-old-$round" \
		-n "$NS" -o name --ignore-not-found
	deletes_logged && break
done
# A coxswain finalizer left by a config that had a finalize hook: this one
# has none, so coxswain takes it off (a patch of the parent), or deleting
# the Website would hang. (Up to 3 rounds, as above.)
for round in 1 2 3; do
	admin patch website alpha -n "$NS" --type=merge -p '{"metadata":{"finalizers":["coxswain.io/websites"]}}' \
		>/dev/null
	eventually 30 "a stale coxswain finalizer is taken off the Website (round $round)" \
		equals "" admin get website alpha -n "$NS" -o jsonpath='{.metadata.finalizers}'
	grep -q '"verb":"PATCH","path":"/apis/examples.coxswain.io/v1/namespaces/'"$NS"'/websites/alpha"' \
		"$E2E_WORK/coxswain.log" && break
done
eventually 30 "this run holds its Lease" contains "leader_election_master_status{name=\"$LEASE\"} 1" metrics

metrics >"$E2E_WORK/metrics.txt"
check "the dashboard's every metric (and label) is in the live scrape" \
	python3 "$CHECKS" dashboard "$DEPLOY/monitoring/dashboard.json" "$E2E_WORK/metrics.txt"
python3 "$CHECKS" dashboard "$DEPLOY/monitoring/dashboard.json" "$E2E_WORK/metrics.txt" 2>/dev/null |
	grep '^#' | fold -s -w 110 | sed '2,$s/^/#   /'

stop_coxswain
check "coxswain stops cleanly" test "$E2E_EXIT" = 0
admin delete lease "$LEASE" -n coxswain-system --ignore-not-found >/dev/null 2>&1

# ------------------------------------------------------------------ RBAC

# Every permission rbac.yaml grants, as "group resource verb scope", and why.
#   seen    the live run above made such a request
#   else    the code path or admission rule that needs it
RBAC_TABLE=$(
	cat <<-'EOF'
		apiextensions.k8s.io customresourcedefinitions get cluster | read-only, as the deploy issue prescribes (get/list/watch and nothing more)
		apiextensions.k8s.io customresourcedefinitions list cluster | watcher/informer.c: a LIST when the API server refuses a streaming list, or with --initial-list list
		apiextensions.k8s.io customresourcedefinitions watch cluster | seen
		examples.coxswain.io websites get cluster | worker/finalizer.c re-reads the parent when a finalizer patch conflicts
		examples.coxswain.io websites list cluster | watcher/informer.c: a LIST when the API server refuses a streaming list, or with --initial-list list
		examples.coxswain.io websites watch cluster | seen
		examples.coxswain.io websites patch cluster | seen
		examples.coxswain.io websites/status patch cluster | seen
		examples.coxswain.io websites/finalizers update cluster | children's ownerReferences set blockOwnerDeletion, which OwnerReferencesPermissionEnforcement allows only with update on the owner's finalizers
		core configmaps get cluster | worker/apply.c: a child whose name is taken is read, to see whose it is (ownership)
		core configmaps list cluster | watcher/informer.c: a LIST when the API server refuses a streaming list, or with --initial-list list
		core configmaps watch cluster | seen
		core configmaps create cluster | worker/apply.c: a create-only server-side apply creates the child, which the API server authorizes as create (and the POST fallback)
		core configmaps patch cluster | seen
		core configmaps delete cluster | seen
		core services get cluster | worker/apply.c: a child whose name is taken is read, to see whose it is (ownership)
		core services list cluster | watcher/informer.c: a LIST when the API server refuses a streaming list, or with --initial-list list
		core services watch cluster | seen
		core services create cluster | worker/apply.c: a create-only server-side apply creates the child, which the API server authorizes as create (and the POST fallback)
		core services patch cluster | seen
		core services delete cluster | seen
		apps deployments get cluster | worker/apply.c: a child whose name is taken is read, to see whose it is (ownership)
		apps deployments list cluster | watcher/informer.c: a LIST when the API server refuses a streaming list, or with --initial-list list
		apps deployments watch cluster | seen
		apps deployments create cluster | worker/apply.c: a create-only server-side apply creates the child, which the API server authorizes as create (and the POST fallback)
		apps deployments patch cluster | seen
		apps deployments delete cluster | seen
		core events create cluster | worker/events.c: Warning Events, and Normal ones with worker.events.normal
		core events patch cluster | worker/events.c: an Event repeated within 10 minutes is a patch of its count
		core events get cluster | worker/events.c: an Event another worker wrote is read, to count on from it
		coordination.k8s.io leases get coxswain-system | seen
		coordination.k8s.io leases create coxswain-system | seen
		coordination.k8s.io leases update coxswain-system | seen
	EOF
)
python3 "$CHECKS" granted "$E2E_WORK/objects.json" >"$E2E_WORK/granted.txt"
# shellcheck disable=SC2001 # sed cuts each line of the table; ${var//...} would see one string
sed 's/ |.*//' <<<"$RBAC_TABLE" | sort >"$E2E_WORK/justified.txt"
check "rbac.yaml grants exactly the justified permissions (no more, no fewer)" \
	diff -u "$E2E_WORK/justified.txt" "$E2E_WORK/granted.txt"

python3 "$CHECKS" requests "$E2E_WORK/coxswain.log" >"$E2E_WORK/requests.txt"
check "coxswain's requests were logged (-v 6)" test -s "$E2E_WORK/requests.txt"
check "none of coxswain's requests was refused (no 401/403)" fails grep -E ' (401|403)$' "$E2E_WORK/requests.txt"
# seen GROUP RESOURCE VERB SCOPE: the live run made that request (cluster:
# in any namespace or cluster-wide; else in that namespace).
seen() {
	awk -v g="$1" -v r="$2" -v v="$3" -v s="$4" \
		'$1 == g && $2 == r && $3 == v && (s == "cluster" || $4 == s) { found = 1 } END { exit !found }' \
		"$E2E_WORK/requests.txt"
}
# within GROUP RESOURCE VERB NS: some justified permission covers the request.
within() {
	grep -qx "$1 $2 $3 cluster" "$E2E_WORK/justified.txt" || grep -qx "$1 $2 $3 $4" "$E2E_WORK/justified.txt"
}
while read -r group resource verb ns; do
	check "coxswain's request $verb $group/$resource (ns $ns) is covered by a justified permission" \
		within "$group" "$resource" "$verb" "$ns"
done < <(cut -d' ' -f1-4 "$E2E_WORK/requests.txt" | sort -u)

# Other tests bind roles of their own to the operator identity
# (system:serviceaccount:coxswain-system:coxswain is the fixture's only
# token), so "nothing more" is checked on a copy of rbac.yaml's roles bound
# to an identity of this test's alone, ISOLATED; "yes" on both.
ISOLATED=system:serviceaccount:$NS:coxswain
python3 "$CHECKS" isolate "$E2E_WORK/objects.json" "$NS" "e2e-deploy-$$" >"$E2E_WORK/isolated.json"
admin apply -f "$E2E_WORK/isolated.json" >/dev/null
can_isolated() {
	admin auth can-i "$@" --as="$ISOLATED" --as-group=system:serviceaccounts \
		--as-group="system:serviceaccounts:$NS" --as-group=system:authenticated 2>/dev/null || true
}
# can_i_for GROUP RESOURCE VERB SCOPE: kubectl auth can-i as the operator,
# then as ISOLATED.
can_i_for() {
	local res=${2%%/*} sub=() where=(-A)
	[[ $2 == */* ]] && sub=(--subresource="${2#*/}")
	[[ $1 == core ]] || res=$res.$1
	[[ $4 == cluster ]] || where=(-n "$4")
	echo "$(can_i "$3" "$res" "${sub[@]}" "${where[@]}") $(can_isolated "$3" "$res" "${sub[@]}" "${where[@]}")"
}
while IFS='|' read -r perm why; do
	read -r group resource verb scope <<<"$perm"
	why=${why# }
	check "can-i $verb $group/$resource ($scope): yes" equals "yes yes" \
		can_i_for "$group" "$resource" "$verb" "$scope"
	if [[ $why == seen ]]; then
		check "$verb $group/$resource is needed: the live run made that request" \
			seen "$group" "$resource" "$verb" "$scope"
	else
		ok "$verb $group/$resource is needed: $why"
	fi
done <<<"$RBAC_TABLE"

# Nothing more, on the operator identity itself: what no test may grant it.
while read -r verb resource flags; do
	# shellcheck disable=SC2086 # $flags holds zero or more kubectl flags
	check "the operator identity: can-i $verb $resource $flags: no" equals no can_i "$verb" "$resource" $flags
done <<-'EOF'
	create customresourcedefinitions.apiextensions.k8s.io
	delete customresourcedefinitions.apiextensions.k8s.io
	get secrets -A
	create pods -A
	* * -A
	get leases.coordination.k8s.io -n default
	update leases.coordination.k8s.io -n kube-system
EOF
# Nothing more, on rbac.yaml alone (ISOLATED): what it must not grant.
while read -r verb resource flags; do
	# shellcheck disable=SC2086 # $flags holds zero or more kubectl flags
	check "rbac.yaml alone: can-i $verb $resource $flags: no" equals no can_isolated "$verb" "$resource" $flags
done <<-'EOF'
	create customresourcedefinitions.apiextensions.k8s.io
	update customresourcedefinitions.apiextensions.k8s.io
	patch customresourcedefinitions.apiextensions.k8s.io
	delete customresourcedefinitions.apiextensions.k8s.io
	deletecollection customresourcedefinitions.apiextensions.k8s.io
	* * -A
	* configmaps -A
	get secrets -A
	list secrets -A
	watch secrets -A
	create pods -A
	create pods -A --subresource=exec
	create deployments.apps -A --subresource=scale
	create websites.examples.coxswain.io -A
	delete websites.examples.coxswain.io -A
	update websites.examples.coxswain.io -A
	update websites.examples.coxswain.io -A --subresource=status
	update configmaps -A
	update deployments.apps -A
	deletecollection configmaps -A
	get leases.coordination.k8s.io -n default
	update leases.coordination.k8s.io -n kube-system
	create leases.coordination.k8s.io -n kube-node-lease
	delete leases.coordination.k8s.io -n coxswain-system
	list leases.coordination.k8s.io -n coxswain-system
	create namespaces
	create serviceaccounts -A --subresource=token
	impersonate users
	impersonate serviceaccounts -A
	bind clusterroles.rbac.authorization.k8s.io
	escalate clusterroles.rbac.authorization.k8s.io
	create clusterrolebindings.rbac.authorization.k8s.io
	create rolebindings.rbac.authorization.k8s.io -n coxswain-system
	get nodes
	create certificatesigningrequests.certificates.k8s.io
	create mutatingwebhookconfigurations.admissionregistration.k8s.io
EOF
done_testing
