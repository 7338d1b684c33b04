#!/usr/bin/env bash
# The reconcile loops of issue 9, measured: for each topology that used to
# make coxswain write forever, the write requests coxswain sends per second
# once it has had time to settle (its own request log at -v 6: every
# POST/PUT/PATCH/DELETE, whatever the answer). A safe coxswain sends 0.
#   fight     two parents whose hooks name the same ConfigMap
#   orphan    a hook names a ConfigMap an admin made (and whether its data survived)
#   recreate  a Recreate Secret written with stringData
#   nosub     a parent CRD without the status subresource (and its generation's growth)
#   narrow    a status schema that does not hold conditions
# Every controller resyncs each 2 s: a sync with nothing new must write nothing.
# Usage: tests/bench/bench_loops.sh BUILD_DIR [WINDOW_SECONDS]   (fixture env sourced)
# Figures, not pass/fail: run it with an older build to compare.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:?usage: bench_loops.sh BUILD_DIR [WINDOW_SECONDS]}" && pwd)
window=${2:-10}
settle=5
: "${COXSWAIN_CLUSTER_DIR:?source the fixture env (tests/cluster/up, then .cluster/env)}"
data=$repo/tests/bench/data/loops
work=$(mktemp -d "${TMPDIR:-/tmp}/coxswain-loops.XXXXXX")
admin() { kubectl --kubeconfig "$COXSWAIN_CLUSTER_DIR/admin.kubeconfig" "$@"; }
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pid=
cleanup() {
	[[ -z $pid ]] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
	rm -rf "$work"
}
trap cleanup EXIT

admin apply -f "$data/crds.yaml" -f "$data/rbac.yaml" >/dev/null
for crd in loops nosubs narrows; do admin wait --for=condition=Established "crd/$crd.bench.coxswain.io" >/dev/null; done

# writes LOG: coxswain's write requests in its request log so far.
writes() { grep -c 'msg="request" verb=\(POST\|PUT\|PATCH\|DELETE\)' "$1" || true; }

# run NAME SETUP: a fresh namespace, SETUP (a function) creates the objects,
# coxswain runs for settle + window seconds; prints the rate in the window.
run() {
	local name=$1 setup=$2 ns=bench-loops-$1-$$ log=$work/$1.log before after
	admin create namespace "$ns" >/dev/null
	sed -e "s#@NS@#$ns#g; s#@WORK@#$work#; s#@HEALTH@#$(port)#; s#@METRICS@#$(port)#" "$data/coxswain.yaml" \
		>"$work/$name.yaml"
	"$setup" "$ns"
	(cd "$repo" && exec "$build/watcher/coxswain-watcher" --config "$work/$name.yaml" \
		--kubeconfig "$COXSWAIN_CLUSTER_DIR/operator.kubeconfig" --spawn-workers 2 -v 6 >"$log" 2>&1) &
	pid=$!
	sleep "$settle"
	before=$(writes "$log")
	"${setup}_mark" "$ns" before
	sleep "$window"
	after=$(writes "$log")
	"${setup}_mark" "$ns" after
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
	printf 'loops: %-9s %6.1f writes/s%s\n' "$name" "$(awk -v d=$((after - before)) -v w="$window" 'BEGIN {print d / w}')" \
		"${extra:-}"
	extra=
	admin delete namespace "$ns" --wait=false >/dev/null
}

parent() { # parent NS KIND NAME SPEC_JSON
	printf '{"apiVersion":"bench.coxswain.io/v1","kind":"%s","metadata":{"name":"%s","namespace":"%s"},"spec":%s}' \
		"$2" "$3" "$1" "$4" | admin apply -f - >/dev/null
}

fight() {
	local who
	for who in a b; do
		parent "$1" Loop "$who" "{\"children\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"shared\"},\"data\":{\"owner\":\"$who\"}}]}"
	done
}
fight_mark() { :; }

orphan() {
	admin -n "$1" create configmap admin-made --from-literal=owner=admin >/dev/null
	parent "$1" Loop c '{"children":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"admin-made"},"data":{"owner":"hook"}}]}'
}
orphan_mark() {
	[[ $2 == after ]] || return 0
	extra="  (the admin's data: $(admin -n "$1" get configmap admin-made -o jsonpath='{.data.owner}' | sed 's/^admin$/kept/; s/^hook$/overwritten/'))"
}

recreate() {
	parent "$1" Loop d '{"children":[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"k":"v"}}]}'
}
recreate_uid_before=
recreate_mark() {
	local uid
	uid=$(admin -n "$1" get secret s -o jsonpath='{.metadata.uid}' 2>/dev/null)
	if [[ $2 == before ]]; then recreate_uid_before=$uid; else
		extra="  (the Secret $([[ $uid == "$recreate_uid_before" ]] && echo kept its uid || echo was re-created))"
	fi
}

nosub() { parent "$1" NoSub e '{"status":{"ready":true}}'; }
nosub_gen_before=
nosub_mark() {
	local gen
	gen=$(admin -n "$1" get nosub e -o jsonpath='{.metadata.generation}')
	if [[ $2 == before ]]; then nosub_gen_before=$gen; else
		extra="  (metadata.generation $nosub_gen_before -> $gen)"
	fi
}

narrow() { parent "$1" Narrow f '{"status":{"ready":true}}'; }
narrow_mark() { :; }

echo "loops: $build, ${settle} s to settle, then a ${window} s window"
run fight fight
run orphan orphan
run recreate recreate
run nosub nosub
run narrow narrow
