# Shared helpers for tests/cluster/up and tests/cluster/down. Sourced, not run.
# shellcheck shell=bash

CLUSTER_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$CLUSTER_SCRIPT_DIR/../.." && pwd)
FIXTURE_SRC="$CLUSTER_SCRIPT_DIR/fixture"
CLUSTER_DIR="$REPO_ROOT/.cluster"
PIDS_FILE="$CLUSTER_DIR/pids"
DATADIR_FILE="$CLUSTER_DIR/datadir"
# The files up writes and down removes.
# shellcheck disable=SC2034 # used by up and down
ADMIN_KUBECONFIG="$CLUSTER_DIR/admin.kubeconfig"
# shellcheck disable=SC2034 # used by up and down
OPERATOR_KUBECONFIG="$CLUSTER_DIR/operator.kubeconfig"
# shellcheck disable=SC2034 # used by up and down
ENV_FILE="$CLUSTER_DIR/env"

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Milliseconds since the epoch, for start-up timings.
now_ms() { date +%s%3N; }

# "12.3s" for the time elapsed since a now_ms timestamp.
elapsed_since() {
	local ms=$(($(now_ms) - $1))
	printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
}

# The pinned Kubernetes version, from the `require k8s.io/kubernetes vX.Y.Z`
# line of the fixture's go.mod (inside a require block or a one-line require).
k8s_version() {
	local v
	v=$(awk '{ sub(/^require[ \t]+/, "") } $1 == "k8s.io/kubernetes" { print $2; exit }' \
		"$FIXTURE_SRC/go.mod")
	[[ $v =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]] ||
		die "cannot find 'require k8s.io/kubernetes vX.Y.Z' in $FIXTURE_SRC/go.mod"
	printf '%s\n' "$v"
}

# Lines "name pid" from the pids file (nothing if there is none).
read_pids() {
	[[ -f $PIDS_FILE ]] || return 0
	local name pid
	while read -r name pid; do
		[[ $pid =~ ^[0-9]+$ ]] && printf '%s %s\n' "$name" "$pid"
	done <"$PIDS_FILE"
}

# True if pid is alive and is still one of our fixture processes. The command
# line check guards against the pid having been reused by something else since
# the pids file was written (e.g. after a reboot), which we must never signal.
fixture_pid_alive() {
	local name=$1 pid=$2 cmdline
	kill -0 "$pid" 2>/dev/null || return 1
	[[ -r /proc/$pid/cmdline ]] || return 0 # no procfs: trust kill -0
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *fixture*" $name "* ]]
}

# The data dir recorded by up, printed only if it is safe to delete: an
# existing directory named coxswain-cluster.* directly under the system temp
# dir ($TMPDIR or /tmp).
safe_datadir() {
	[[ -f $DATADIR_FILE ]] || return 0
	local dir tmp
	dir=$(<"$DATADIR_FILE")
	[[ -n $dir && -d $dir ]] || return 0
	dir=$(cd "$dir" && pwd -P)
	for tmp in "${TMPDIR:-/tmp}" /tmp; do
		tmp=$(cd "$tmp" 2>/dev/null && pwd -P) || continue
		if [[ $(dirname "$dir") == "$tmp" && $(basename "$dir") == coxswain-cluster.* ]]; then
			printf '%s\n' "$dir"
			return 0
		fi
	done
	log "warning: not removing $dir: not a coxswain-cluster.* dir under the temp dir"
}
