#!/usr/bin/env bash
# End to end, caches and health (issue 10, parts 1 and 3):
#   - an identity that cannot list Secrets at first, and a Secret child that
#     already exists: no job runs (the hook is not called, no Created Event)
#     while the Secret cache has not synced, and /readyz says 503 naming the
#     controller, the resource and the 403; once list/watch on Secrets is
#     granted the caches sync, the job runs and the child is seen as existing
#     (no Created Event);
#   - the API server unreachable at start-up (a kubeconfig pointing to a
#     closed port): /healthz answers 200 from the start, every probe answers,
#     /readyz answers 503 with the reason, and a -v 0 log line names the
#     server;
#   - an outage after the caches synced (coxswain reaches the API server
#     through a small TCP proxy that the test stops): /readyz drops to 503
#     naming the controller, and comes back once the proxy is back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/data/safety/helpers.sh"

NS=e2e-health-$$
CTL=health-quiet
admin apply -f "$SAFETY_DATA/convergence-crds.yaml" >/dev/null
check "the CRD quiets is established" admin wait --for=condition=Established --timeout=30s "crd/quiets.$GROUP"
namespace "$NS"

# ------------------------------------------------------------ an identity without list on Secrets
SA=health-$$
admin create serviceaccount "$SA" -n "$NS" >/dev/null
admin apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-health-$$}
rules:
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
- apiGroups: [$GROUP]
  resources: [quiets]
  verbs: [get, list, watch, patch, update]
- apiGroups: [$GROUP]
  resources: [quiets/status]
  verbs: [get, patch, update]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, update, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch, get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-health-$$}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-health-$$}
subjects: [{kind: ServiceAccount, name: $SA, namespace: $NS}]
YAML
trap 'admin delete clusterrole,clusterrolebinding e2e-health-$$ e2e-health-secrets-$$ --ignore-not-found >/dev/null 2>&1; e2e_cleanup' EXIT
TOKEN=$(admin create token "$SA" -n "$NS" --duration=1h)
KUBECONFIG_SA=$E2E_WORK/sa.kubeconfig
sed -e "s#^\(    token:\).*#\1 $TOKEN#" "$COXSWAIN_CLUSTER_DIR/operator.kubeconfig" >"$KUBECONFIG_SA"
sa_can_list_secrets() { kubectl --kubeconfig "$KUBECONFIG_SA" auth can-i list secrets -n "$NS" 2>/dev/null || true; }
check "the test identity cannot list Secrets" equals no sa_can_list_secrets

SECRET='{"apiVersion":"v1","kind":"Secret","metadata":{"name":"p-secret"},"type":"Opaque","data":{"user":"YWRtaW4="}}'
printf '{"apiVersion":"%s/v1","kind":"Quiet","metadata":{"name":"p","namespace":"%s"},"spec":{"children":[%s],"status":{"value":"v"}}}' \
	"$GROUP" "$NS" "$SECRET" | admin apply -f - >/dev/null
UID_P=$(uid_of Quiet "$NS" p)
# The child as coxswain would have made it: label and controller reference.
admin apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: p-secret
  namespace: $NS
  labels: {coxswain.io/controller: $CTL}
  ownerReferences:
  - {apiVersion: $GROUP/v1, kind: Quiet, name: p, uid: $UID_P, controller: true, blockOwnerDeletion: true}
type: Opaque
data: {user: YWRtaW4=}
YAML
SECRET_UID=$(admin get secret p-secret -n "$NS" -o jsonpath='{.metadata.uid}')

cat >"$E2E_WORK/template.yaml" <<YAML
watcher:
  endpoint: ipc://placeholder
  healthAddress: "127.0.0.1:8081"
  metricsAddress: "127.0.0.1:8080"
  leaderElection: {enabled: false}
worker: {events: {normal: true}}   # so that "no Created Event" below can fail
controllers:
  - name: $CTL
    parent: {apiVersion: $GROUP/v1, kind: Quiet}
    children:
      - {apiVersion: v1, kind: Secret, updateStrategy: InPlace}
    hooks:
      sync: {exec: {command: ["tests/e2e/data/safety/safety_hook.py"], timeoutSeconds: 10}}
    namespace: "$NS"
YAML
write_config "$E2E_WORK/template.yaml" "$E2E_WORK/coxswain.yaml"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 1 --kubeconfig "$KUBECONFIG_SA"

readyz() { curl -sS --max-time 2 "http://127.0.0.1:$E2E_HEALTH_PORT/readyz"; }
readyz_code() { curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$E2E_HEALTH_PORT/readyz"; }
healthz_code() { curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$E2E_HEALTH_PORT/healthz"; }
readyz_names() { local r; r=$(readyz) || return 1; for n in "$@"; do [[ $r == *"$n"* ]] || { echo "no \"$n\" in: $r"; return 1; }; done; }

eventually 30 "/readyz names the controller, the Secrets and the 403" \
	readyz_names "controller $CTL" "/api/v1/namespaces/$NS/secrets" 403
check "/readyz says 503 meanwhile" equals 503 readyz_code
eventually 30 "the parent cache has synced (its list is done)" \
	grep -q "starting informers.*controller=$CTL" "$E2E_WORK/coxswain.log"
sleep 3 # a job, were one dispatched, would have run by now
check "no job ran before the Secret cache synced" equals 0 reconciles "$CTL/$NS/p"
check "no Created Event" equals 0 event_total Quiet "$NS" p Created
check "the parent has no Synced condition yet" equals "/" synced Quiet "$NS" p

admin apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-health-secrets-$$}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-health-secrets-$$}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-health-secrets-$$}
subjects: [{kind: ServiceAccount, name: $SA, namespace: $NS}]
YAML
eventually 90 "after the grant, /readyz says ok" equals ok readyz
synced_status() { cond Quiet "$NS" p Synced | cut -d/ -f1; }
eventually 30 "the job ran: Synced=True" equals True synced_status
check "the existing Secret was seen as existing: no Created Event" equals 0 event_total Quiet "$NS" p Created
check "the Secret is the same object" equals "$SECRET_UID" admin get secret p-secret -n "$NS" -o jsonpath='{.metadata.uid}'
stop_coxswain
check "coxswain stopped cleanly" equals 0 echo "$E2E_EXIT"

# ------------------------------------------------------------ API server unreachable at start-up
CLOSED=$(free_port)
API=$(sed -n 's/^ *server: //p' "$COXSWAIN_CLUSTER_DIR/operator.kubeconfig" | head -1)
sed -e "s#^\( *server:\).*#\1 https://127.0.0.1:$CLOSED#" "$COXSWAIN_CLUSTER_DIR/operator.kubeconfig" \
	>"$E2E_WORK/closed.kubeconfig"
write_config "$E2E_WORK/template.yaml" "$E2E_WORK/coxswain.yaml"
: >"$E2E_WORK/coxswain.log"
(cd "$E2E_REPO" && exec "$E2E_BUILD/watcher/coxswain-watcher" --config "$E2E_WORK/coxswain.yaml" \
	--kubeconfig "$E2E_WORK/closed.kubeconfig" >>"$E2E_WORK/coxswain.log" 2>&1) &
E2E_COXSWAIN_PID=$!
E2E_PIDS+=("$E2E_COXSWAIN_PID")
# Poll from the start; the process gets a generous deadline to bind, then
# every probe must answer (each probe has 2 s at most).
answered=0 probes=0 first=""
deadline=$((SECONDS + 60))
for ((i = 0; SECONDS < deadline; i++)); do
	code=$(healthz_code 2>/dev/null)
	if [[ -n $first ]]; then
		probes=$((probes + 1))
		[[ $code == 200 ]] && answered=$((answered + 1))
		((probes >= 20)) && break
	elif [[ $code == 200 ]]; then
		first=$i
	fi
	sleep 0.1
done
check "/healthz answered 200 once the process listened" test -n "$first"
check "then every /healthz probe answered 200 (got $answered of $probes)" test "$answered" -eq 20
check "/readyz answers 503" equals 503 readyz_code
check "/readyz gives the reason" readyz_names "connect" "127.0.0.1:$CLOSED"
eventually 20 "a -v 0 log line names the unreachable server" \
	grep -q "cannot reach the API server.*server=\"\{0,1\}https://127.0.0.1:$CLOSED" "$E2E_WORK/coxswain.log"
stop_coxswain
check "coxswain stopped cleanly" equals 0 echo "$E2E_EXIT"

# ------------------------------------------------------------ an outage after the caches synced
PROXY_PORT=$(free_port)
API_HOSTPORT=${API#https://}
proxy() {
	python3 - "$PROXY_PORT" "${API_HOSTPORT%:*}" "${API_HOSTPORT##*:}" <<'PY' &
import socket, sys, threading
lport, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport)); ls.listen(64)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    finally:
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
while True:
    c, _ = ls.accept()
    try: u = socket.create_connection((host, port))
    except OSError: c.close(); continue
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
PY
	PROXY_PID=$!
	E2E_PIDS+=("$PROXY_PID")
}
proxy
sed -e "s#^\( *server:\).*#\1 https://127.0.0.1:$PROXY_PORT#" "$KUBECONFIG_SA" >"$E2E_WORK/proxy.kubeconfig"
write_config "$E2E_WORK/template.yaml" "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 1 --kubeconfig "$E2E_WORK/proxy.kubeconfig"
eventually 60 "through the proxy, /readyz says ok" equals ok readyz
kill -KILL "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
eventually 60 "during the outage /readyz says 503 naming the controller" readyz_names "controller $CTL" "failed for"
check "and /healthz still answers 200" equals 200 healthz_code
proxy
eventually 90 "after the outage /readyz says ok again" equals ok readyz
stop_coxswain
done_testing
