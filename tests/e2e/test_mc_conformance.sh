#!/usr/bin/env bash
# End to end, metacontroller conformance (issue 11, item 8): coxswain runs
# as deploy/metacontroller installs it (the component's coxswain.yaml without
# controllers, --metacontroller-live, the component's RBAC plus a
# ClusterRole aggregated for this test's kinds, as a user grants them), and
# the controllers are CompositeController and DecoratorController objects
# applied with kubectl (tests/e2e/data/mc/controllers.yaml). The hooks are
# this suite's own (tests/e2e/data/mc/hooks.py, one local HTTP and HTTPS
# server); their URLs name in-cluster Services, which
# COXSWAIN_WEBHOOK_CONNECT_TO routes to that server. kubectl (admin) is the
# independent client. One function per behaviour metacontroller documents:
#   - a cluster-scoped parent propagating a ConfigMap into labelled
#     namespaces through customize and related;
#   - a decorator adding a Service per Pod and labelling the Pod;
#   - RollingRecreate with statusChecks pausing a rollout;
#   - a finalize hook scaling children down before deletion;
#   - v1 vs v2 keys under a cluster-scoped parent;
#   - generateSelector with Pods;
#   - webhook auth: bearer, basic, mTLS, caBundle (inline, Secret, ConfigMap,
#     spec.connections), and a wrong CA and missing credentials refused;
#   - etag: 304 Not Modified answers reuse the cached answer.
source "$(dirname "$0")/lib.sh"

MC_DATA=$E2E_REPO/tests/e2e/data/mc
DEPLOY=$E2E_REPO/deploy
GROUP=mc.e2e.coxswain.io
RUN=e2e-mc-$$
HNS=e2e-mc-hooks-$$    # the hook "Services", the auth Secrets, the propagated source
NS=e2e-mc-$$           # the namespaced parents
P1=e2e-mc-p1-$$ P2=e2e-mc-p2-$$ P3=e2e-mc-p3-$$    # propagation targets
K1=e2e-mc-k1-$$ K2=e2e-mc-k2-$$                    # v1/v2 keys
CERTS=$E2E_WORK/certs

# Cluster-scoped objects of this run go at the end; parents left with a
# finalizer (a failed run) get it taken off once coxswain is stopped.
mc_cleanup() {
	local pid kind ns name
	for pid in "${E2E_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
	E2E_PIDS=()
	[[ ! -f $E2E_WORK/controllers.yaml ]] ||
		admin delete -f "$E2E_WORK/controllers.yaml" --ignore-not-found --wait=false >/dev/null 2>&1
	for kind in propagations spreads badges fleets rollers podsets locks tags; do
		admin get "$kind.$GROUP" -A -l "e2e.coxswain.io/run=$RUN" \
			-o jsonpath='{range .items[*]}{.metadata.namespace} {.metadata.name}{"\n"}{end}' 2>/dev/null |
			while read -r ns name; do
				[[ -n $name ]] || { name=$ns; ns=; }
				admin patch "$kind.$GROUP" "$name" ${ns:+-n "$ns"} --type=merge \
					-p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
				[[ -n $ns ]] || admin delete "$kind.$GROUP" "$name" --wait=false >/dev/null 2>&1
			done
	done
	[[ ! -f $E2E_WORK/rbac.yaml ]] || admin delete -f "$E2E_WORK/rbac.yaml" --ignore-not-found --wait=false >/dev/null 2>&1
	e2e_cleanup
}
trap mc_cleanup EXIT

# ------------------------------------------------------------------ helpers

ns_args() { [[ -z $1 ]] || printf -- '-n\n%s\n' "$1"; }
# jget KIND NS NAME JQ: a jq expression over the object (NS "" = cluster-scoped).
jget() {
	local args
	mapfile -t args < <(ns_args "$2")
	admin get "$1" "$3" "${args[@]}" -o json | jq -cS "$4"
}
gone() { ! admin get "$@" >/dev/null 2>&1; }
# hooklog: every request the hook server has seen, one JSON object a line.
hooklog() { curl -fsS "http://127.0.0.1:$HOOK_PORT/log"; }
# hook_count JQ_FILTER: how many logged requests match (a jq select body).
hook_count() { hooklog | jq -s "[.[] | select($1)] | length"; }
# more_hook_calls SECONDS N PATH [PARENT]: waits (a test point) until the
# hook PATH has been called N more times than now (for PARENT): positive
# evidence that coxswain has looked again, for checks that nothing changed.
more_hook_calls() {
	local want filter=".path == \"$3\"${4:+ and .parent == \"$4\"}"
	want=$(($(hook_count "$filter") + $2))
	eventually "$1" "the hook $3 is called $2 more times${4:+ for $4}" at_least "$want" hook_count "$filter"
}
labelled() { printf '{"e2e.coxswain.io/run":"%s"%s}' "$RUN" "${1:+,$1}"; }

# ------------------------------------------------------------------ setup

# metacontroller's CRDs (deploy/metacontroller/crds), this suite's kinds.
admin apply -k "$DEPLOY/metacontroller/crds" >/dev/null
admin apply -f "$MC_DATA/crds.yaml" >/dev/null
mapfile -t SUITE_CRDS < <(sed -n "s/^  name: \(.*\.$GROUP\)$/crd\/\1/p" "$MC_DATA/crds.yaml")
check "metacontroller's CRDs and this suite's are established" admin wait --for=condition=Established --timeout=30s \
	crd/compositecontrollers.metacontroller.k8s.io crd/decoratorcontrollers.metacontroller.k8s.io "${SUITE_CRDS[@]}"
for ns in "$NS" "$HNS" "$P1" "$P2" "$P3" "$K1" "$K2"; do
	namespace "$ns"
done

# deploy/ with the metacontroller component, as a user's overlay builds it.
mkdir -p "$E2E_WORK/overlay"
rel=$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$DEPLOY" "$E2E_WORK/overlay")
printf 'resources: [%s]\ncomponents: [%s/metacontroller]\n' "$rel" "$rel" >"$E2E_WORK/overlay/kustomization.yaml"
kubectl kustomize "$E2E_WORK/overlay" | admin create --dry-run=client -f - -o json | jq -s "{items: .}" \
	>"$E2E_WORK/overlay.json"
# Its ClusterRoles and bindings (the ServiceAccount is the fixture's
# operator identity), and what a user adds for these controllers: a
# ClusterRole with the aggregation label for the kinds, Pods created only in
# NS, and the auth Secrets and ConfigMap read by name in HNS.
{
	cat <<-YAML
		apiVersion: rbac.authorization.k8s.io/v1
		kind: ClusterRole
		metadata:
		  name: $RUN-kinds
		  labels: {coxswain.io/aggregate-to-metacontroller: "true"}
		rules:
		- apiGroups: [$GROUP]
		  resources: [propagations, rollers, fleets, spreads, podsets, locks, tags]
		  verbs: [get, list, watch, patch]
		- apiGroups: [$GROUP]
		  resources: [propagations/status, rollers/status, fleets/status, spreads/status, podsets/status,
		              locks/status, tags/status]
		  verbs: [patch]
		- apiGroups: [$GROUP]
		  resources: [propagations/finalizers, rollers/finalizers, fleets/finalizers, spreads/finalizers,
		              podsets/finalizers, locks/finalizers, tags/finalizers, pods/finalizers]
		  verbs: [update]
		- apiGroups: [$GROUP]
		  resources: [gizmos, badges]
		  verbs: [get, list, watch, create, patch, delete]
		- apiGroups: [""]
		  resources: [configmaps, services]
		  verbs: [get, list, watch, create, patch, delete]
		- apiGroups: [""]
		  resources: [namespaces]
		  verbs: [get, list, watch]
		- apiGroups: [""]
		  resources: [pods]
		  verbs: [get, list, watch, patch]
		- apiGroups: [""]
		  resources: [pods/finalizers]
		  verbs: [update]
		- apiGroups: [apps]
		  resources: [deployments]
		  verbs: [get, list, watch, create, patch, delete]
		---
		apiVersion: rbac.authorization.k8s.io/v1
		kind: Role
		metadata: {name: $RUN-pods, namespace: $NS}
		rules:
		- apiGroups: [""]
		  resources: [pods]
		  verbs: [create, delete]
		---
		apiVersion: rbac.authorization.k8s.io/v1
		kind: RoleBinding
		metadata: {name: $RUN-pods, namespace: $NS}
		roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: $RUN-pods}
		subjects: [{kind: ServiceAccount, name: coxswain, namespace: coxswain-system}]
		---
		apiVersion: rbac.authorization.k8s.io/v1
		kind: Role
		metadata: {name: $RUN-webhook, namespace: $HNS}
		rules:
		- apiGroups: [""]
		  resources: [secrets]
		  resourceNames: [hook-token, hook-basic, hook-ca, hook-client]
		  verbs: [get]
		- apiGroups: [""]
		  resources: [configmaps]
		  resourceNames: [hook-ca]
		  verbs: [get]
		---
		apiVersion: rbac.authorization.k8s.io/v1
		kind: RoleBinding
		metadata: {name: $RUN-webhook, namespace: $HNS}
		roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: $RUN-webhook}
		subjects: [{kind: ServiceAccount, name: coxswain, namespace: coxswain-system}]
	YAML
	# (JSON is YAML: one document each.)
	jq -c '.items[] | select(.kind == "ClusterRole" or .kind == "ClusterRoleBinding")' "$E2E_WORK/overlay.json" |
		sed 's/^/---\n/'
} >"$E2E_WORK/rbac.yaml"
check "the component's RBAC and this suite's grants apply" admin apply -f "$E2E_WORK/rbac.yaml"
eventually 30 "the aggregated ClusterRole picks up this suite's kinds" equals yes \
	can_i patch "locks.$GROUP" -n "$NS"
check "the operator may read the controller objects" equals yes can_i watch compositecontrollers.metacontroller.k8s.io
check "... and may not create a CRD" equals no can_i create customresourcedefinitions.apiextensions.k8s.io

# Certificates: a CA, the hook server's (for the in-cluster name the URLs
# use), a client certificate for mTLS, and a CA that signed neither.
mkdir -p "$CERTS"
make_certs() {
	cd "$CERTS" || return 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=e2e-mc-ca" -keyout ca.key -out ca.crt &&
		openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=e2e-mc-wrong-ca" \
			-keyout wrong.key -out wrong.crt &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=mc-hooks-tls.$HNS" -keyout server.key -out server.csr &&
		printf 'subjectAltName=DNS:mc-hooks-tls.%s,DNS:mc-hooks-tls.%s.svc\n' "$HNS" "$HNS" >server.ext &&
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
			-extfile server.ext -out server.crt &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=coxswain-e2e-client" -keyout client.key -out client.csr &&
		openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out client.crt
}
check "openssl makes the CA, server and client certificates" make_certs
TOKEN=tok-$RANDOM$RANDOM
admin create secret generic hook-token -n "$HNS" --from-literal=token="$TOKEN" >/dev/null
admin create secret generic hook-basic -n "$HNS" --from-literal=username=hookuser --from-literal=password="pw-$TOKEN" \
	>/dev/null
admin create secret generic hook-ca -n "$HNS" --from-file=ca.crt="$CERTS/ca.crt" >/dev/null
admin create configmap hook-ca -n "$HNS" --from-file=ca.crt="$CERTS/ca.crt" >/dev/null
admin create secret tls hook-client -n "$HNS" --cert="$CERTS/client.crt" --key="$CERTS/client.key" >/dev/null

HOOK_PORT=$(free_port)
HOOK_TLS_PORT=$(free_port)
python3 "$MC_DATA/hooks.py" --port "$HOOK_PORT" --tls-port "$HOOK_TLS_PORT" \
	--cert "$CERTS/server.crt" --key "$CERTS/server.key" --ca "$CERTS/ca.crt" \
	--token "$TOKEN" --user hookuser --password "pw-$TOKEN" --client-cn coxswain-e2e-client \
	--log "$E2E_WORK/hooks.log" --ready "$E2E_WORK/hooks.ready" >>"$E2E_WORK/hooks.err" 2>&1 &
E2E_PIDS+=($!)
eventually 10 "the hook server listens" test -f "$E2E_WORK/hooks.ready"

# The controllers, as a metacontroller user applies them.
pem() { jq -Rs . <"$1"; }
sed -e "s#@RUN@#$RUN#g; s#@HNS@#$HNS#g" \
	-e "s#@CA_PEM@#$(pem "$CERTS/ca.crt" | sed 's/[#&\\]/\\&/g')#g" \
	-e "s#@WRONG_CA_PEM@#$(pem "$CERTS/wrong.crt" | sed 's/[#&\\]/\\&/g')#g" \
	"$MC_DATA/controllers.yaml" >"$E2E_WORK/controllers.yaml"
check "the controller objects are valid for the API server" admin apply --dry-run=server -f "$E2E_WORK/controllers.yaml"

# coxswain as the component runs it: its coxswain.yaml (with this run's
# socket and ports, and no leader election: other tests hold the Lease name)
# and the watcher's extra argument.
jq -r '.items[] | select(.kind == "ConfigMap" and .metadata.name == "coxswain-config") | .data["coxswain.yaml"]' \
	"$E2E_WORK/overlay.json" >"$E2E_WORK/component.yaml"
write_config "$E2E_WORK/component.yaml" "$E2E_WORK/coxswain.yaml"
mapfile -t EXTRA < <(jq -r '.items[] | select(.kind == "Deployment") | .spec.template.spec.containers[]
	| select(.name == "watcher") | .args[] | select(startswith("--metacontroller"))' "$E2E_WORK/overlay.json")
check "the component's watcher runs with --metacontroller-live" equals --metacontroller-live echo "${EXTRA[*]}"
export COXSWAIN_WEBHOOK_CONNECT_TO="mc-hooks.$HNS:80:127.0.0.1:$HOOK_PORT,mc-hooks-tls.$HNS:443:127.0.0.1:$HOOK_TLS_PORT"
start_coxswain "$E2E_WORK/coxswain.yaml" 3 --leader-elect false "${EXTRA[@]}"
if ! eventually 30 "coxswain starts from the component's config with ${EXTRA[*]} and is ready" equals ok health readyz; then
	echo "Bail out! coxswain does not run as deploy/metacontroller installs it"
	done_testing
	exit 1
fi
check "the controllers are applied (kubectl apply)" admin apply -f "$E2E_WORK/controllers.yaml"

# ------------------------------------------------------------------ scenarios

# A cluster-scoped Propagation copies the ConfigMap HNS/settings into every
# namespace labelled for it: its customize hook asks for those Namespaces
# and that ConfigMap as related objects, its sync hook reads them from
# request.related. A change to a related object (a namespace labelled or
# unlabelled, the source changed) reaches the parent.
scenario_propagation() {
	local prop=prop-$$ key=e2e.coxswain.io/propagate
	admin create configmap settings -n "$HNS" --from-literal=color=blue >/dev/null
	admin label namespace "$P1" "$key=$RUN" >/dev/null
	admin label namespace "$P2" "$key=$RUN" >/dev/null
	admin apply -f - >/dev/null <<-YAML
		apiVersion: $GROUP/v1
		kind: Propagation
		metadata: {name: $prop, labels: $(labelled)}
		spec:
		  sourceName: settings
		  sourceNamespace: $HNS
		  namespaceLabels: {$key: $RUN}
		  selector: {matchLabels: {e2e.coxswain.io/parent: $prop}}
	YAML
	eventually 60 "propagation: the ConfigMap is copied into both labelled namespaces" equals '"blue" "blue"' \
		bash -c "echo \$(kubectl --kubeconfig '$COXSWAIN_CLUSTER_DIR/admin.kubeconfig' get configmap settings \
			-n '$P1' -o json | jq .data.color) \$(kubectl --kubeconfig '$COXSWAIN_CLUSTER_DIR/admin.kubeconfig' \
			get configmap settings -n '$P2' -o json | jq .data.color)"
	check "propagation: not into the unlabelled one" gone configmap settings -n "$P3"
	check "propagation: the copies are owned by the cluster-scoped parent (controller)" equals \
		"[\"Propagation/$prop/true\"]" jget configmap "$P1" settings \
		'[.metadata.ownerReferences[] | "\(.kind)/\(.name)/\(.controller)"]'
	eventually 30 "propagation: request.related held the namespaces and the source, keyed as v1 keys them" equals \
		"[\"$HNS/settings\",\"$P1\",\"$P2\"]" jget "propagation.$GROUP" "" "$prop" '.status.relatedKeys'
	admin label namespace "$P3" "$key=$RUN" >/dev/null
	eventually 60 "propagation: a namespace labelled later gets its copy (a related change requeues)" \
		equals '"blue"' jget configmap "$P3" settings .data.color
	admin patch configmap settings -n "$HNS" --type=merge -p '{"data":{"color":"green"}}' >/dev/null
	eventually 60 "propagation: a change to the source reaches the copies" \
		equals '"green"' jget configmap "$P1" settings .data.color
	# (Had it at all: else the next point would pass for nothing.)
	check "propagation: the second namespace has its copy" admin get configmap settings -n "$P2"
	admin label namespace "$P2" "$key-" >/dev/null
	eventually 60 "propagation: once unlabelled, it loses its copy" gone configmap settings -n "$P2"
	eventually 30 "propagation: status lists the namespaces now selected" equals "[\"$P1\",\"$P3\"]" \
		jget "propagation.$GROUP" "" "$prop" '.status.namespaces'
}

# A DecoratorController on Pods (label and annotation selectors): a Service
# per selected Pod (an attachment, owned by the Pod), and a label and an
# annotation on the Pod, which coxswain does not own and changes with its
# own field manager only.
scenario_decorator() {
	local spec='{"containers":[{"name":"c","image":"registry.invalid/none:1"}]}'
	pod() {
		printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","namespace":"%s","labels":%s,"annotations":%s},"spec":%s}' \
			"$1" "$NS" "$2" "$3" "$spec" | admin apply -f - >/dev/null
	}
	pod web-1 "$(labelled '"e2e.coxswain.io/pod":"web-1"')" '{"e2e.coxswain.io/expose":"true"}'
	pod web-2 "$(labelled '"e2e.coxswain.io/pod":"web-2"')" '{}'
	pod web-3 '{"e2e.coxswain.io/pod":"web-3"}' '{"e2e.coxswain.io/expose":"true"}'
	eventually 60 "decorator: the selected Pod gets its Service" admin get service web-1-svc -n "$NS"
	check "decorator: the Service selects the Pod" equals '{"e2e.coxswain.io/pod":"web-1"}' \
		jget service "$NS" web-1-svc .spec.selector
	check "decorator: the Service (an attachment) is owned by the Pod" equals '["Pod/web-1/true"]' \
		jget service "$NS" web-1-svc '[.metadata.ownerReferences[] | "\(.kind)/\(.name)/\(.controller)"]'
	eventually 30 "decorator: the Pod gets the hook's label and annotation" equals '["true","web-1-svc"]' \
		jget pod "$NS" web-1 '[.metadata.labels["e2e.coxswain.io/exposed"], .metadata.annotations["e2e.coxswain.io/service"]]'
	eventually 30 "decorator: the next request's attachments hold the Service" equals '"1"' \
		jget pod "$NS" web-1 '.metadata.labels["e2e.coxswain.io/attachments-seen"]'
	check "decorator: the decorated Pod is not owned" equals null jget pod "$NS" web-1 .metadata.ownerReferences
	# shellcheck disable=SC2317 # called by name, by check
	label_manager() {
		admin get pod web-1 -n "$NS" --show-managed-fields -o json | jq --arg m "coxswain/mc-decorate-$RUN" \
			'[.metadata.managedFields[] | select(.manager == $m)
				| (.fieldsV1["f:metadata"]["f:labels"] // {}) | has("f:e2e.coxswain.io/exposed")] | any'
	}
	check "decorator: its labels are written with the field manager coxswain/mc-decorate-$RUN" equals true label_manager
	more_hook_calls 30 2 /decorate/sync web-1
	check "decorator: a Pod without the annotation is left alone" gone service web-2-svc -n "$NS"
	check "... and so is one outside the label selector" gone service web-3-svc -n "$NS"
	# shellcheck disable=SC2317 # called by name, by check
	exposed_labels() {
		echo "$(jget pod "$NS" web-2 '.metadata.labels["e2e.coxswain.io/exposed"]')" \
			"$(jget pod "$NS" web-3 '.metadata.labels["e2e.coxswain.io/exposed"]')"
	}
	check "... neither is labelled" equals 'null null' exposed_labels
	admin delete pod web-1 -n "$NS" --wait=false >/dev/null
	eventually 60 "decorator: the Pod deleted, the garbage collector takes its Service" gone service web-1-svc -n "$NS"
}

# The rolling methods with statusChecks: after the Roller's version changes,
# its Gizmos are updated one at a time (RollingRecreate: deleted and made
# again; RollingInPlace: patched, same uid), and the next waits until the
# last updated one passes the status check (condition Ready=True, with
# reason Done for the in-place controller, which the test sets: nothing
# else does).
# scenario_rolling recreate|inplace
scenario_rolling() {
	local method=$1 r=roll-$1-$$ i reason=Test pass=Test
	[[ $method == recreate ]] || { reason=Old pass=Done; }
	gizmos_at() {
		admin get "gizmos.$GROUP" -n "$NS" -o json |
			jq --arg v "$1" --arg r "$r-" '[.items[] | select((.metadata.name | startswith($r)) and .spec.version == $v)] | length'
	}
	ready() {
		admin patch "gizmo.$GROUP" "$1" -n "$NS" --subresource=status --type=merge \
			-p "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"$2\"}]}}" >/dev/null
	}
	# The Gizmo at v2 that has not passed the check yet.
	pending_v2() {
		admin get "gizmos.$GROUP" -n "$NS" -o json | jq -r --arg r "$r-" --arg pass "$pass" '.items[]
			| select((.metadata.name | startswith($r)) and .spec.version == "v2" and ((.status.conditions // [])
				| map(select(.type == "Ready" and .status == "True" and .reason == $pass)) | length == 0))
			| .metadata.name'
	}
	uids() { admin get "gizmos.$GROUP" -n "$NS" -o json | jq -r --arg r "$r-" '.items[] | select(.metadata.name | startswith($r)) | .metadata.uid' | sort; }
	admin apply -f - >/dev/null <<-YAML
		apiVersion: $GROUP/v1
		kind: Roller
		metadata: {name: $r, namespace: $NS, labels: $(labelled "\"e2e.coxswain.io/method\":\"$method\"")}
		spec: {replicas: 3, version: v1, selector: {matchLabels: {e2e.coxswain.io/parent: $r}}}
	YAML
	eventually 60 "rolling ($method): three Gizmos at v1" equals 3 gizmos_at v1
	# Ready before the rollout; for the in-place controller with a reason
	# its check does not take (an updated Gizmo keeps its status).
	for i in 0 1 2; do ready "$r-$i" "$reason"; done
	uids >"$E2E_WORK/uids-$method"
	admin patch "roller.$GROUP" "$r" -n "$NS" --type=merge -p '{"spec":{"version":"v2"}}' >/dev/null
	eventually 60 "rolling ($method): one Gizmo is updated to v2" equals 1 gizmos_at v2
	if [[ $method == recreate ]]; then
		check "rolling (recreate): recreated (a new uid), not updated in place" fails grep -qxF \
			"$(admin get "gizmo.$GROUP" "$(pending_v2)" -n "$NS" -o jsonpath='{.metadata.uid}')" "$E2E_WORK/uids-$method"
	else
		check "rolling (inplace): updated in place (the same uids)" equals "$(cat "$E2E_WORK/uids-$method")" uids
	fi
	more_hook_calls 60 3 /rolling/sync "$r"
	check "rolling ($method): paused while the updated Gizmo does not pass the check (still 1 at v2)" equals 1 gizmos_at v2
	ready "$(pending_v2)" "$pass"
	eventually 60 "rolling ($method): once it passes, the next one is updated" equals 2 gizmos_at v2
	more_hook_calls 60 3 /rolling/sync "$r"
	check "rolling ($method): paused again (2 at v2)" equals 2 gizmos_at v2
	ready "$(pending_v2)" "$pass"
	eventually 60 "rolling ($method): then the last" equals 3 gizmos_at v2
	eventually 30 "rolling ($method): the hook sees every Gizmo at v2" equals '["v2","v2","v2"]' \
		jget "roller.$GROUP" "$NS" "$r" .status.versions
}

# A finalize hook: on deletion coxswain keeps calling it, applying its
# children (the Deployment scaled to 0) and status, until it answers
# finalized: true (once it sees 0 replicas and the test allows it); then
# metacontroller's finalizer comes off.
scenario_finalize() {
	local f=fleet-$$ fin=metacontroller.io/compositecontroller-mc-fleet-$RUN
	# shellcheck disable=SC2317 # called by name, by eventually
	replicas() { jget deployment "$NS" "$f" .spec.replicas; }
	admin apply -f - >/dev/null <<-YAML
		apiVersion: $GROUP/v1
		kind: Fleet
		metadata: {name: $f, namespace: $NS, labels: $(labelled)}
		spec: {replicas: 3, selector: {matchLabels: {e2e.coxswain.io/parent: $f}}}
	YAML
	eventually 60 "finalize: the Deployment has 3 replicas" equals 3 replicas
	eventually 30 "finalize: the Fleet carries metacontroller's finalizer" contains "\"$fin\"" \
		jget "fleet.$GROUP" "$NS" "$f" .metadata.finalizers
	admin delete "fleet.$GROUP" "$f" -n "$NS" --wait=false >/dev/null
	eventually 60 "finalize: the finalize answer's child is applied: scaled down to 0" equals 0 replicas
	check "finalize: while the Fleet still exists" admin get "fleet.$GROUP" "$f" -n "$NS"
	eventually 30 "finalize: the finalize answer's status is written" equals '"draining"' \
		jget "fleet.$GROUP" "$NS" "$f" .status.phase
	eventually 30 "finalize: the hook saw the scaled-down Deployment" equals '[0]' \
		jget "fleet.$GROUP" "$NS" "$f" .status.replicas
	admin annotate "fleet.$GROUP" "$f" -n "$NS" e2e.coxswain.io/finalized=true >/dev/null
	eventually 60 "finalize: finalized, the Fleet goes" gone "fleet.$GROUP" "$f" -n "$NS"
	eventually 60 "finalize: and the garbage collector takes the Deployment" gone deployment "$f" -n "$NS"
}

# v1 and v2 keys under a cluster-scoped parent: ConfigMaps of one name in
# two namespaces and a cluster-scoped Badge. Under a cluster-scoped parent
# both versions key a namespaced child "namespace/name" and a cluster-scoped
# one "name" (under a namespaced parent v1 would key by name alone:
# tests/e2e/test_hook_contract.sh).
scenario_keys() {
	local v
	for v in v1 v2; do
		admin apply -f - >/dev/null <<-YAML
			apiVersion: $GROUP/v1
			kind: Spread
			metadata: {name: spread-$v-$$, labels: $(labelled "\"e2e.coxswain.io/hook\":\"$v\"")}
			spec: {namespaces: [$K1, $K2], selector: {matchLabels: {e2e.coxswain.io/parent: spread-$v-$$}}}
		YAML
	done
	for v in v1 v2; do
		eventually 60 "keys ($v): the ConfigMaps are made in both namespaces" equals '"spread-'$v-$$'"' \
			jget configmap "$K2" "spread-$v-$$" .data.from
		eventually 60 "keys ($v): the cluster-scoped Badge is made" admin get "badge.$GROUP" "spread-$v-$$"
		eventually 30 "keys ($v): children keyed namespace/name, and name for the cluster-scoped child" equals \
			"{\"Badge.$GROUP/v1\":[\"spread-$v-$$\"],\"ConfigMap.v1\":[\"$K1/spread-$v-$$\",\"$K2/spread-$v-$$\"]}" \
			jget "spread.$GROUP" "" "spread-$v-$$" .status.keys
	done
	check "keys: the parent's labelSelector splits the parents between the two controllers" equals \
		"[\"Spread/spread-v1-$$\"]" jget configmap "$K1" "spread-v1-$$" '[.metadata.ownerReferences[] | "\(.kind)/\(.name)"]'
	check "keys: each Spread was synced by its own controller's hook only" equals "1 1" bash -c \
		"echo \$(curl -fsS http://127.0.0.1:$HOOK_PORT/log | jq -s '[.[] | select(.parent == \"spread-v1-$$\") | .controller] | unique | length') \
			\$(curl -fsS http://127.0.0.1:$HOOK_PORT/log | jq -s '[.[] | select(.parent == \"spread-v2-$$\") | .controller] | unique | length')"
}

# generateSelector: the PodSet's own spec.selector is ignored; its children
# are those labelled controller-uid: <its uid>. An orphan with that label is
# adopted (and, not in the hook's answer, deleted); one with another uid is
# left alone.
scenario_generate_selector() {
	local ps=podset-$$ uid
	admin apply -f - >/dev/null <<-YAML
		apiVersion: $GROUP/v1
		kind: PodSet
		metadata: {name: $ps, namespace: $NS, labels: $(labelled)}
		spec: {replicas: 2, selector: {matchLabels: {app: matches-nothing}}}
	YAML
	eventually 60 "generateSelector: the two Pods are made" equals 2 bash -c \
		"kubectl --kubeconfig '$COXSWAIN_CLUSTER_DIR/admin.kubeconfig' get pods -n '$NS' -l controller-uid -o name | grep -c '/$ps-'"
	uid=$(admin get "podset.$GROUP" "$ps" -n "$NS" -o jsonpath='{.metadata.uid}')
	eventually 30 "generateSelector: the hook observes them as children (the parent's selector is ignored)" equals \
		"[\"$ps-0\",\"$ps-1\"]" jget "podset.$GROUP" "$NS" "$ps" .status.observed
	check "generateSelector: they are owned by the PodSet" equals "\"$uid\"" \
		jget pod "$NS" "$ps-0" '.metadata.ownerReferences[0].uid'
	admin apply -f - >/dev/null <<-YAML
		apiVersion: v1
		kind: Pod
		metadata: {name: stray-$$, namespace: $NS, labels: {controller-uid: "$uid"}}
		spec: {containers: [{name: c, image: "registry.invalid/none:1"}]}
		---
		apiVersion: v1
		kind: Pod
		metadata: {name: other-$$, namespace: $NS, labels: {controller-uid: "00000000-0000-0000-0000-000000000000"}}
		spec: {containers: [{name: c, image: "registry.invalid/none:1"}]}
	YAML
	eventually 60 "generateSelector: an orphan with the generated selector's label is adopted, and deleted" \
		gone pod "stray-$$" -n "$NS"
	more_hook_calls 30 2 /podset/sync "$ps"
	check "generateSelector: a Pod with another controller-uid is left alone" equals null \
		jget pod "$NS" "other-$$" .metadata.ownerReferences
}

# Webhook auth, each controller its own: bearer token (authorization, CA
# inline), basic (service + path, CA from a Secret), mTLS (clientTLS, CA from
# a ConfigMap), a CA through spec.connections. A CA that did not sign the
# server's certificate fails the handshake; the bearer path without the
# token gets 401.
scenario_webhook_auth() {
	local mode
	for mode in bearer basic mtls ca badca nocred; do
		admin apply -f - >/dev/null <<-YAML
			apiVersion: $GROUP/v1
			kind: Lock
			metadata: {name: lock-$mode, namespace: $NS, labels: $(labelled "\"e2e.coxswain.io/auth\":\"$mode\"")}
			spec: {selector: {matchLabels: {e2e.coxswain.io/parent: lock-$mode}}}
		YAML
	done
	for mode in bearer basic mtls ca; do
		eventually 60 "webhook auth: $mode: the hook accepts the request" equals "\"$mode-ok\"" \
			jget "lock.$GROUP" "$NS" "lock-$mode" .status.auth
	done
	eventually 60 "webhook auth: without the token, the hook answers 401" at_least 1 \
		hook_count ".controller == \"mc-lock-nocred-$RUN\" and .code == 401"
	check "webhook auth: ... and no status is written" equals null jget "lock.$GROUP" "$NS" lock-nocred .status.auth
	eventually 60 "webhook auth: ... and a Warning Event SyncError says so, as metacontroller posts it" \
		contains 401 admin get events -n "$NS" --field-selector \
		"reason=SyncError,involvedObject.kind=Lock,involvedObject.name=lock-nocred" \
		-o jsonpath='{.items[*].message}'
	more_hook_calls 30 1 /secure/bearer
	check "webhook auth: with a wrong CA, no request reaches the hook (the handshake fails)" equals 0 \
		hook_count ".controller == \"mc-lock-badca-$RUN\""
	check "webhook auth: ... and no status is written" equals null jget "lock.$GROUP" "$NS" lock-badca .status.auth
	check "webhook auth: every request that reached the hook over TLS with credentials passed" equals 0 \
		hook_count "(.path | startswith(\"/secure/\")) and .code != 200 and .controller != \"mc-lock-nocred-$RUN\""
}

# etag: the hook answers with an ETag; coxswain sends it back in
# If-None-Match, a 304 Not Modified reuses the cached answer (children and
# status stay), and a changed parent gets a fresh 200.
scenario_etag() {
	local t=tag-$$ etag uid
	admin apply -f - >/dev/null <<-YAML
		apiVersion: $GROUP/v1
		kind: Tag
		metadata: {name: $t, namespace: $NS, labels: $(labelled '"e2e.coxswain.io/mode":"etag"')}
		spec: {message: hello, selector: {matchLabels: {e2e.coxswain.io/parent: $t}}}
	YAML
	eventually 60 "etag: the child is made from the first (200) answer" equals '"hello"' \
		jget configmap "$NS" "$t" .data.message
	etag=$(hooklog | jq -rs "[.[] | select(.parent == \"$t\" and .code == 200)][0].etag")
	eventually 60 "etag: a resync sends If-None-Match with the ETag, and gets 304" at_least 2 \
		hook_count ".parent == \"$t\" and .code == 304 and .if_none_match == $(jq -Rn --arg e "$etag" '$e')"
	check "etag: after 304s the child is still there, unchanged" equals '"hello"' jget configmap "$NS" "$t" .data.message
	check "etag: ... and the status too" equals '"hello"' jget "tag.$GROUP" "$NS" "$t" .status.echo
	uid=$(admin get configmap "$t" -n "$NS" -o jsonpath='{.metadata.uid}')
	admin patch "tag.$GROUP" "$t" -n "$NS" --type=merge -p '{"spec":{"message":"world"}}' >/dev/null
	eventually 60 "etag: a changed parent gets a fresh answer (200), applied" equals '"world"' \
		jget configmap "$NS" "$t" .data.message
	check "etag: the child, updateStrategy Recreate, was deleted and made again (a new uid)" fails equals "$uid" \
		admin get configmap "$t" -n "$NS" -o jsonpath='{.metadata.uid}'
	check "etag: with a new ETag" at_least 1 \
		hook_count ".parent == \"$t\" and .code == 200 and .etag != $(jq -Rn --arg e "$etag" '$e')"
}

# responseUnMarshallMode: an answer with a field metacontroller does not
# know is refused by the strict controller (nothing applied, no status) and
# read by the loose one (the v1 default).
scenario_unmarshal() {
	local mode
	for mode in strict loose; do
		admin apply -f - >/dev/null <<-YAML
			apiVersion: $GROUP/v1
			kind: Tag
			metadata: {name: $mode-$$, namespace: $NS, labels: $(labelled "\"e2e.coxswain.io/mode\":\"$mode\"")}
			spec: {message: $mode, selector: {matchLabels: {e2e.coxswain.io/parent: $mode-$$}}}
		YAML
	done
	eventually 60 "unmarshal: loose (the v1 default) ignores the unknown field: the child is made" equals '"loose"' \
		jget configmap "$NS" "loose-$$" .data.message
	check "unmarshal: ... and the status written" equals '"loose"' jget "tag.$GROUP" "$NS" "loose-$$" .status.echo
	more_hook_calls 60 2 /unknown-field/sync "strict-$$"
	check "unmarshal: strict refuses the answer: no child" gone configmap "strict-$$" -n "$NS"
	check "unmarshal: ... and no status from it" equals null jget "tag.$GROUP" "$NS" "strict-$$" .status.echo
}

# All of them; MC_SCENARIOS="decorator etag" runs only those (while working
# on one: the TAP plan then says how many ran).
for s in propagation decorator rolling_recreate rolling_inplace finalize keys generate_selector webhook_auth etag \
	unmarshal; do
	[[ -z ${MC_SCENARIOS:-} || " $MC_SCENARIOS " == *" $s "* ]] || continue
	case $s in
	rolling_*) scenario_rolling "${s#rolling_}" ;;
	*) "scenario_$s" ;;
	esac
done

# Deleting a controller object stops its controller, at run time (the
# etag Tag, and the recreate Roller's resyncs as evidence of time passing).
if [[ -z ${MC_SCENARIOS:-} ]]; then
	admin delete compositecontroller "mc-etag-$RUN" >/dev/null
	sleep 3
	calls=$(hook_count '.path == "/etag/sync"')
	admin patch "tag.$GROUP" "tag-$$" -n "$NS" --type=merge -p '{"spec":{"message":"after"}}' >/dev/null
	more_hook_calls 30 3 /rolling/sync
	check "a deleted CompositeController's hook is no longer called" equals "$calls" hook_count '.path == "/etag/sync"'
fi

stop_coxswain
check "SIGTERM: coxswain exits 0" test "$E2E_EXIT" = 0
check "no hook request was malformed (no 400/500 from the hook server)" equals 0 hook_count '.code == 400 or .code == 500'
check "preUpdateChild and postUpdateChild were never called (as in metacontroller)" equals 0 \
	hook_count '.path | startswith("/never/")'
check "no sanitizer report" fails grep -q 'ERROR: .*Sanitizer\|runtime error:' "$E2E_WORK/coxswain.log"
[[ ! -d $E2E_BUILD/tests/e2e ]] || cp "$E2E_WORK/coxswain.log" "$E2E_BUILD/tests/e2e/test_mc_conformance.coxswain.txt"
done_testing
