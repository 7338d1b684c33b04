#!/usr/bin/env bash
# End to end, what a new user types and gets wrong first (issue 10, section 6):
#   1. --version on both binaries, from configure.ac's version;
#   2. -v as kubectl takes it: -v=4, -v 4, --v=4; a bad value refused (exit 2);
#   3. a kubeconfig whose server is not a URL ("https://[::1"): start-up
#      refuses it, naming the file and the field;
#   4. a parent kind in the wrong case ("gizmo" for a CRD's Gizmo): /readyz
#      says which kind was meant, not only "not found";
#   5. README.md's Go webhook: not on coxswain's own ports, and it exits
#      non-zero when its port is taken (built and run when go is installed).
source "$(dirname "$0")/lib.sh"

WATCHER=$E2E_BUILD/watcher/coxswain-watcher
WORKER=$E2E_BUILD/worker/coxswain-worker
DATA=$E2E_REPO/tests/e2e/data/cli
GROUP=c$$.cli.e2e.coxswain.io
CRD=gizmos.$GROUP
GOOD=$E2E_REPO/tests/unit/data/cxconfig/minimal.yaml

cli_cleanup() {
	e2e_cleanup
	admin delete crd "$CRD" --ignore-not-found --wait=false >/dev/null 2>&1
}
trap cli_cleanup EXIT

# exit_is CODE COMMAND...: COMMAND exits with CODE.
exit_is() {
	local want=$1 got
	shift
	"$@" >"$E2E_WORK/out" 2>&1
	got=$?
	[[ $got == "$want" ]] || { echo "exit $got, want $want:"; cat "$E2E_WORK/out"; return 1; }
}

# ------------------------------------------------------------------ 1. --version

VERSION=$(sed -n 's/^AC_INIT(\[coxswain\], \[\([^]]*\)\].*/\1/p' "$E2E_REPO/configure.ac")
check "configure.ac has a version" test -n "$VERSION"
check "coxswain-watcher --version" equals "coxswain-watcher $VERSION" "$WATCHER" --version
check "coxswain-worker --version" equals "coxswain-worker $VERSION" "$WORKER" --version

# ------------------------------------------------------------------ 2. -v

for v in "-v=4" "-v 4" "--v=4" "--v 4" "-v4"; do
	# shellcheck disable=SC2086 # "-v 4" is two words on purpose
	check "coxswain-watcher takes $v" exit_is 0 "$WATCHER" $v --check-config "$GOOD"
done
check "coxswain-watcher refuses -v=x (exit 2)" exit_is 2 "$WATCHER" -v=x --check-config "$GOOD"
check "and says so" grep -q 'log verbosity "=x" is not a whole number from 0 to 10' "$E2E_WORK/out"
check "coxswain-watcher refuses -v 11 (exit 2)" exit_is 2 "$WATCHER" -v 11 --check-config "$GOOD"
# The worker's flags are read before its config: a missing config is exit 1,
# a bad flag exit 2.
check "coxswain-worker takes -v=4" exit_is 1 "$WORKER" -v=4 --config "$E2E_WORK/none.yaml"
check "coxswain-worker takes --v=4" exit_is 1 "$WORKER" --v=4 --config "$E2E_WORK/none.yaml"
check "coxswain-worker refuses -v=abc (exit 2)" exit_is 2 "$WORKER" -v=abc --config "$E2E_WORK/none.yaml"

# ------------------------------------------------------------------ 3. a server that is not a URL

sed 's#server: .*#server: "https://[::1"#' "$COXSWAIN_CLUSTER_DIR/admin.kubeconfig" >"$E2E_WORK/bad.kubeconfig"
check "the kubeconfig has the bad server" grep -q 'server: "https://\[::1"' "$E2E_WORK/bad.kubeconfig"
write_config "$DATA/coxswain.yaml" "$E2E_WORK/coxswain.yaml"
sed -i "s#cli.e2e.coxswain.io#$GROUP#" "$E2E_WORK/coxswain.yaml"
check "the watcher refuses to start (exit 1)" exit_is 1 timeout 60 "$WATCHER" --config "$E2E_WORK/coxswain.yaml" \
	--kubeconfig "$E2E_WORK/bad.kubeconfig"
# The log line quotes the message: its quotes are escaped.
names_field() {
	grep -F "kubeconfig $E2E_WORK/bad.kubeconfig: cluster " "$E2E_WORK/out" |
		grep -qF 'server: \"https://[::1\" is not a URL'
}
check "naming the file and the field" names_field

# ------------------------------------------------------------------ 4. a kind in the wrong case

admin apply -f - >/dev/null <<-YAML
	apiVersion: apiextensions.k8s.io/v1
	kind: CustomResourceDefinition
	metadata: {name: $CRD}
	spec:
	  group: $GROUP
	  scope: Namespaced
	  names: {plural: gizmos, singular: gizmo, kind: Gizmo}
	  versions:
	  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
YAML
check "the CRD Gizmo is established" admin wait --for condition=Established --timeout=60s crd "$CRD"
"$WATCHER" --config "$E2E_WORK/coxswain.yaml" --kubeconfig "$COXSWAIN_CLUSTER_DIR/admin.kubeconfig" -v 2 \
	>>"$E2E_WORK/coxswain.log" 2>&1 &
E2E_COXSWAIN_PID=$!
E2E_PIDS+=("$E2E_COXSWAIN_PID")
readyz_body() { curl -sS "http://127.0.0.1:$E2E_HEALTH_PORT/readyz"; }
eventually 60 "/readyz says which kind was meant" contains \
	"waiting for the CRD of gizmo.$GROUP (not found; CRD $CRD has kind Gizmo: did you mean kind: Gizmo?" readyz_body
stop_coxswain
check "SIGTERM stops it cleanly (exit status 0)" test "$E2E_EXIT" = 0
check "no sanitizer reports" fails grep "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" \
	"$E2E_WORK/coxswain.log"
# ------------------------------------------------------------------ 5. README.md's Go webhook

# The README's first ```go block.
awk '/^```go$/ { on = 1; next } on && /^```$/ { exit } on' "$E2E_REPO/README.md" >"$E2E_WORK/hook.go"
check "README.md has a Go webhook" grep -q "ListenAndServe" "$E2E_WORK/hook.go"
GO_ADDR=$(sed -n 's/.*ListenAndServe("\([^"]*\)".*/\1/p' "$E2E_WORK/hook.go")
GO_PORT=${GO_ADDR##*:}
check "it listens on a port of its own ($GO_ADDR), not coxswain's metrics or health port" \
	test -n "$GO_PORT" -a "$GO_PORT" != 8080 -a "$GO_PORT" != 8081
check "the README's webhook.url is that port" grep -q "http://127.0.0.1:$GO_PORT/sync" "$E2E_REPO/README.md"
if command -v go >/dev/null; then
	check "it builds" sh -c "cd '$E2E_WORK' && GOFLAGS=-mod=mod GO111MODULE=off go build -o hook hook.go"
	# Hold its port (if nobody else does already), then run it.
	python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
except OSError:
    pass
print("held", flush=True)
time.sleep(120)' "$GO_PORT" >"$E2E_WORK/holder.out" &
	holder=$!
	E2E_PIDS+=("$holder")
	eventually 30 "its port is held" grep -q held "$E2E_WORK/holder.out"
	check "with its port taken it exits non-zero" fails timeout 60 "$E2E_WORK/hook"
	kill "$holder" 2>/dev/null
else
	echo "# go is not installed: the README's Go webhook was not built"
fi
done_testing
