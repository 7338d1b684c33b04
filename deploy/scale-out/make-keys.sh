#!/usr/bin/env bash
# make-keys.sh: the CURVE keys of deploy/scale-out's job channel, made here
# and stored as the three Secrets the component mounts:
#   coxswain-curve-watcher  watcher.key              the watcher's pod
#   coxswain-curve-worker   worker.key, watcher.pub  the worker pods
#   coxswain-curve-workers  workers (= worker.pub)   the watcher's authorized keys
# The secret keys never leave this machine's memory and a private temporary
# directory, which is removed at the end.
#
# usage: make-keys.sh [--namespace NS] [--rotate]
#   --namespace NS  default coxswain-system
#   --rotate        replace existing Secrets (then restart both Deployments:
#                   kubectl -n NS rollout restart deployment/coxswain deployment/coxswain-worker)
# Needs kubectl (its current context) and coxswain-watcher: on PATH, or
# COXSWAIN_WATCHER=/path/to/coxswain-watcher (it runs --curve-keygen).
set -euo pipefail

ns=coxswain-system
rotate=0
while (($#)); do
	case $1 in
	--namespace) ns=${2:?--namespace needs a value}; shift 2 ;;
	--namespace=*) ns=${1#*=}; shift ;;
	--rotate) rotate=1; shift ;;
	-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "make-keys.sh: unknown argument \"$1\" (--help)" >&2; exit 2 ;;
	esac
done
watcher=${COXSWAIN_WATCHER:-coxswain-watcher}
command -v "$watcher" >/dev/null ||
	{ echo "make-keys.sh: $watcher not found; set COXSWAIN_WATCHER to the coxswain-watcher program" >&2; exit 1; }

secrets=(coxswain-curve-watcher coxswain-curve-worker coxswain-curve-workers)
if ((!rotate)); then
	for s in "${secrets[@]}"; do
		if kubectl get secret "$s" -n "$ns" >/dev/null 2>&1; then
			echo "make-keys.sh: secret $ns/$s exists already; --rotate replaces the keys" >&2
			exit 1
		fi
	done
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
chmod 700 "$dir"
"$watcher" --curve-keygen "$dir/watcher" >/dev/null
"$watcher" --curve-keygen "$dir/worker" >/dev/null

# secret NAME FROM-FILE...: create or replace the Secret.
secret() {
	local name=$1
	shift
	kubectl create secret generic "$name" -n "$ns" "$@" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
}
secret coxswain-curve-watcher --from-file=watcher.key="$dir/watcher.key"
secret coxswain-curve-worker --from-file=worker.key="$dir/worker.key" --from-file=watcher.pub="$dir/watcher.pub"
secret coxswain-curve-workers --from-file=workers="$dir/worker.pub"
echo "made secrets ${secrets[*]} in namespace $ns"
