#!/bin/sh
# The watcher process itself over N ConfigMaps (the parents of one
# controller; default 10,000, made by bench_initial_list in
# bench-initial-N), both ways, ROUNDS rounds interleaved (default 3): the
# seconds from starting coxswain-watcher to /readyz answering ok (every
# cache synced: the CRDs' and the parents'), and its peak RSS (VmHWM) then.
# No worker runs, so no job is handed out. Use a build without sanitizers;
# the fixture must be up and its env sourced:
#   tests/bench/bench_initial_list_watcher.sh BUILD_DIR [N [ROUNDS]]
set -eu
build=$(cd "${1:?usage: bench_initial_list_watcher.sh BUILD_DIR [N [ROUNDS]]}" && pwd)
n=${2:-10000}
rounds=${3:-3}
: "${COXSWAIN_CLUSTER_DIR:?bring the fixture up (tests/cluster/up) and source .cluster/env}"
"$build/tests/bench/bench_initial_list" "$n" 1 >/dev/null # makes the objects unless there
dir=$(mktemp -d)
chmod 700 "$dir"
trap 'rm -rf "$dir"' EXIT
port=$((18000 + $$ % 1000))
cat >"$dir/coxswain.yaml" <<YAML
controllers:
  - name: cms
    parent: {apiVersion: v1, kind: ConfigMap}
    namespace: bench-initial-$n
    resyncPeriodSeconds: 0
    hooks:
      sync: {exec: {command: [/bin/true]}}
watcher:
  endpoint: ipc://$dir/jobs.sock
  healthAddress: "127.0.0.1:$port"
  metricsAddress: "127.0.0.1:$((port + 1))"
  leaderElection: {enabled: false}
YAML
now() { date +%s.%N; }
r=1
while [ "$r" -le "$rounds" ]; do
	order="stream list"
	[ $((r % 2)) -eq 0 ] && order="list stream"
	for how in $order; do
		start=$(now)
		"$build/watcher/coxswain-watcher" --config "$dir/coxswain.yaml" \
			--kubeconfig "$COXSWAIN_CLUSTER_DIR/admin.kubeconfig" --initial-list "$how" 2>"$dir/$how.log" &
		pid=$!
		i=0
		until curl -fs "http://127.0.0.1:$port/readyz" 2>/dev/null | grep -q ok; do
			i=$((i + 1))
			if [ "$i" -gt 6000 ] || ! kill -0 "$pid" 2>/dev/null; then
				echo "bench_initial_list_watcher: $how: not ready; its log:" >&2
				cat "$dir/$how.log" >&2
				kill "$pid" 2>/dev/null || true
				exit 1
			fi
			sleep 0.02
		done
		end=$(now)
		hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
		kill "$pid"
		wait "$pid" || true
		echo "$end $start $hwm" | awk -v r="$r" -v how="$how" -v n="$n" \
			'{printf "bench_initial_list_watcher: round %d %-6s %d parents: ready in %.2f s, peak RSS %d KiB\n", r, how, n, $1 - $2, $3}'
	done
	r=$((r + 1))
done
