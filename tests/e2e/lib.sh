# Shared by the end-to-end tests (tests/e2e/test_*.sh): TAP output, kubectl
# as an independent client (admin and operator identities), and running
# coxswain-watcher with its worker supervisor against the fixture.
# Needs COXSWAIN_CLUSTER_DIR (tests/run exports it from .cluster/env).
# shellcheck shell=bash
set -uo pipefail

E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_BUILD=${COXSWAIN_BUILD_DIR:-$E2E_REPO/build}
: "${COXSWAIN_CLUSTER_DIR:?run through tests/run, or tests/cluster/up and export COXSWAIN_CLUSTER_DIR}"
E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/coxswain-e2e.XXXXXX")
E2E_TESTS=0
E2E_FAILED=0
E2E_PIDS=()
E2E_NAMESPACES=()

admin() { kubectl --kubeconfig "$COXSWAIN_CLUSTER_DIR/admin.kubeconfig" "$@"; }
operator() { kubectl --kubeconfig "$COXSWAIN_CLUSTER_DIR/operator.kubeconfig" "$@"; }
# can_i VERB RESOURCE [FLAG...]: kubectl auth can-i as the operator, "yes" or "no".
can_i() { operator auth can-i "$@" 2>/dev/null || true; }

ok() {
	E2E_TESTS=$((E2E_TESTS + 1))
	echo "ok $E2E_TESTS - $*"
}

not_ok() {
	E2E_TESTS=$((E2E_TESTS + 1))
	E2E_FAILED=$((E2E_FAILED + 1))
	echo "not ok $E2E_TESTS - $*"
}

# check DESCRIPTION COMMAND...: one test point; the command's output is
# shown (as TAP comments) when it fails.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
	fi
}

# eventually SECONDS DESCRIPTION COMMAND...: a test point that passes once
# COMMAND succeeds, polling every 0.25 s.
eventually() {
	local limit=$1 desc=$2 out deadline
	shift 2
	deadline=$((SECONDS + limit))
	while :; do
		if out=$("$@" 2>&1); then
			ok "$desc"
			return 0
		fi
		if ((SECONDS >= deadline)); then
			not_ok "$desc (not within ${limit}s)"
			printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
			return 1
		fi
		sleep 0.25
	done
}

# equals EXPECTED COMMAND...: succeeds when COMMAND prints exactly EXPECTED.
equals() {
	local want=$1 got
	shift
	got=$("$@" 2>&1) || { echo "$got"; return 1; }
	[[ $got == "$want" ]] || { echo "expected \"$want\", got \"$got\""; return 1; }
}

# contains NEEDLE COMMAND...: succeeds when COMMAND's output contains NEEDLE.
contains() {
	local needle=$1 got
	shift
	got=$("$@" 2>&1)
	[[ $got == *"$needle"* ]] || { echo "expected to find \"$needle\" in:"; echo "$got"; return 1; }
}

fails() { ! "$@"; }
# at_least N COMMAND... / at_most N COMMAND...: COMMAND prints a number >= N (<= N).
at_least() {
	local v
	v=$("${@:2}") || return 1
	if [[ -n $v ]] && awk -v v="$v" -v n="$1" 'BEGIN {exit !(v >= n)}'; then return 0; fi
	echo "got \"$v\", want >= $1"
	return 1
}
at_most() {
	local v
	v=$("${@:2}") || return 1
	if [[ -n $v ]] && awk -v v="$v" -v n="$1" 'BEGIN {exit !(v <= n)}'; then return 0; fi
	echo "got \"$v\", want <= $1"
	return 1
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# namespace NAME: a namespace for this test, deleted at the end.
namespace() {
	admin create namespace "$1" >/dev/null
	E2E_NAMESPACES+=("$1")
}

# write_config SOURCE DEST: SOURCE with this run's endpoint and free ports.
write_config() {
	local src=$1 dst=$2
	E2E_HEALTH_PORT=$(free_port)
	E2E_METRICS_PORT=$(free_port)
	sed -e "s#endpoint: .*#endpoint: ipc://$E2E_WORK/jobs.sock#" \
	    -e "s#healthAddress: .*#healthAddress: \"127.0.0.1:$E2E_HEALTH_PORT\"#" \
	    -e "s#metricsAddress: .*#metricsAddress: \"127.0.0.1:$E2E_METRICS_PORT\"#" "$src" >"$dst"
}

# start_coxswain CONFIG WORKERS [FLAG...]: the watcher (operator identity)
# with its worker supervisor, logging to $E2E_WORK/coxswain.log. Sets
# E2E_COXSWAIN_PID. Run from the repository root (hook paths are relative).
start_coxswain() {
	local config=$1 workers=$2
	shift 2
	(cd "$E2E_REPO" && exec "$E2E_BUILD/watcher/coxswain-watcher" --config "$config" \
		--kubeconfig "$COXSWAIN_CLUSTER_DIR/operator.kubeconfig" --spawn-workers "$workers" -v 2 "$@" \
		>>"$E2E_WORK/coxswain.log" 2>&1) &
	E2E_COXSWAIN_PID=$!
	E2E_PIDS+=("$E2E_COXSWAIN_PID")
}

health() { curl -fsS "http://127.0.0.1:$E2E_HEALTH_PORT/$1"; }
metrics() { curl -fsS "http://127.0.0.1:$E2E_METRICS_PORT/metrics"; }

# stop_coxswain [PID]: SIGTERM, wait (up to 40 s, then SIGKILL) and set
# E2E_EXIT to its exit status. Not in a subshell: only the parent can wait.
# shellcheck disable=SC2120 # PID is optional
stop_coxswain() {
	local pid=${1:-$E2E_COXSWAIN_PID} i
	for ((i = 0; i < 400; i++)); do
		kill -TERM "$pid" 2>/dev/null || break
		((i > 0)) || continue
		sleep 0.1
		kill -0 "$pid" 2>/dev/null || break
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# shellcheck disable=SC2034 # for the test, which reads it after the call
	E2E_EXIT=$?
}

e2e_cleanup() {
	local pid ns
	for pid in "${E2E_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	for ns in "${E2E_NAMESPACES[@]}"; do
		admin delete namespace "$ns" --wait=false >/dev/null 2>&1
	done
	if ((E2E_FAILED > 0)) && [[ -f $E2E_WORK/coxswain.log ]]; then
		echo "# last lines of the coxswain log:"
		tail -n 60 "$E2E_WORK/coxswain.log" | sed 's/^/#   /'
	fi
	rm -rf "$E2E_WORK"
}
trap e2e_cleanup EXIT

# done_testing: the TAP plan, and the exit status.
done_testing() {
	echo "1..$E2E_TESTS"
	echo "# $((E2E_TESTS - E2E_FAILED)) passed, $E2E_FAILED failed"
	((E2E_FAILED == 0))
}

# operator_write_log [NAMESPACE]: the write requests (create, update, patch,
# delete, deletecollection) the operator identity has sent so far, one
# "verb requestURI code" a line, from the API server's audit log
# (COXSWAIN_AUDIT_LOG, written by tests/cluster/up): an independent count of
# what coxswain writes. Leases (leader election) and dry runs are left out;
# with NAMESPACE, only requests for objects in it.
operator_write_log() {
	: "${COXSWAIN_AUDIT_LOG:?the fixture has no audit log: restart it (tests/cluster/down, tests/cluster/up)}"
	jq -rR --arg ns "${1:-}" 'fromjson? | select(.stage == "ResponseComplete"
		and .user.username == "system:serviceaccount:coxswain-system:coxswain"
		and (.verb | IN("create", "update", "patch", "delete", "deletecollection"))
		and .objectRef.resource != "leases" and (.requestURI | contains("dryRun=") | not)
		and ($ns == "" or .objectRef.namespace == $ns))
		| "\(.verb) \(.requestURI) \(.responseStatus.code)"' "$COXSWAIN_AUDIT_LOG"
}
# operator_writes [NAMESPACE]: how many of them.
operator_writes() { operator_write_log "$@" | wc -l; }

# grant_leases NS NAME: the operator identity may get, create and update
# Leases in NS (leader election), through a Role and RoleBinding called NAME
# that go with the namespace.
grant_leases() {
	admin apply -f - >/dev/null <<-YAML
		apiVersion: rbac.authorization.k8s.io/v1
		kind: Role
		metadata: {name: $2, namespace: $1}
		rules:
		- apiGroups: [coordination.k8s.io]
		  resources: [leases]
		  verbs: [get, create, update]
		---
		apiVersion: rbac.authorization.k8s.io/v1
		kind: RoleBinding
		metadata: {name: $2, namespace: $1}
		roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: $2}
		subjects: [{kind: ServiceAccount, name: coxswain, namespace: coxswain-system}]
	YAML
}
