# Helpers of the reconcile-safety tests (tests/e2e/test_ownership.sh,
# test_convergence.sh, test_status_rules.sh, test_cluster_scoped.sh), sourced
# after tests/e2e/lib.sh. An empty NS means a cluster-scoped object.
# shellcheck shell=bash

GROUP=safety.e2e.coxswain.io
# (A directive above the first command would hold for the whole file.)
# shellcheck disable=SC2034 # for the tests that source this file
SAFETY_DATA=$E2E_REPO/tests/e2e/data/safety

# grant_secrets NS: the operator may handle Secrets in NS (and only there).
grant_secrets() {
	admin create rolebinding coxswain-e2e-safety-secrets -n "$1" --clusterrole=coxswain-e2e-safety-secrets \
		--serviceaccount=coxswain-system:coxswain >/dev/null
}
ns_flag() { [[ -z $1 ]] || printf -- '-n\n%s\n' "$1"; }
# get KIND NS NAME JSONPATH: one field of an object.
get() {
	local args
	mapfile -t args < <(ns_flag "$2")
	admin get "$1" "$3" "${args[@]}" -o jsonpath="$4"
}
# cond KIND NS NAME TYPE: "status/reason" of that condition.
cond() { get "$1" "$2" "$3" "{.status.conditions[?(@.type==\"$4\")].status}/{.status.conditions[?(@.type==\"$4\")].reason}"; }
synced() { cond "$1" "$2" "$3" Synced; }
synced_message() { get "$1" "$2" "$3" '{.status.conditions[?(@.type=="Synced")].message}'; }
uid_of() { get "$1" "$2" "$3" '{.metadata.uid}'; }
# ev_scope NS: where to look for Events about an object in NS (all
# namespaces for a cluster-scoped one).
ev_scope() { if [[ -z $1 ]]; then echo -A; else printf -- '-n\n%s\n' "$1"; fi; }
# events KIND NS NAME TYPE: "reason: message" of the Events of that type about
# the object, one a line.
events() {
	local scope
	mapfile -t scope < <(ev_scope "$2")
	admin get events "${scope[@]}" --field-selector "involvedObject.kind=$1,involvedObject.name=$3,type=$4" \
		-o go-template='{{range .items}}{{.reason}}: {{.message}}{{"\n"}}{{end}}'
}
warnings() { events "$1" "$2" "$3" Warning; }
# event_total KIND NS NAME REASON: the Events of that reason, counts summed.
event_total() {
	local scope
	mapfile -t scope < <(ev_scope "$2")
	admin get events "${scope[@]}" --field-selector "involvedObject.kind=$1,involvedObject.name=$3,reason=$4" \
		-o go-template='{{range .items}}{{.count}}{{"\n"}}{{end}}' | awk '{n += ($1 > 0 ? $1 : 1)} END {print n + 0}'
}
# said_once KIND NS NAME REASON: the Events of that reason about the object
# count 1 or 2 in all: said once, not on every sync (once per worker process
# at worst, while Events are de-duplicated per worker: issue 9, part 5). The
# Events are shown if not.
said_once() {
	local n scope
	n=$(event_total "$@")
	((n >= 1 && n <= 2)) || {
		mapfile -t scope < <(ev_scope "$2")
		echo "$n Events $4 (count summed), want 1 or 2:"
		admin get events "${scope[@]}" --field-selector "involvedObject.kind=$1,involvedObject.name=$3,reason=$4" \
			-o go-template='{{range .items}}{{.metadata.name}} count={{.count}} {{.reportingInstance}}: {{.message}}{{"\n"}}{{end}}'
		return 1
	}
}
# reconciles KEY: how many "reconciled" lines the coxswain log has for KEY
# (controller/namespace/name, or controller/name for a cluster-scoped parent).
reconciles() { grep -c "msg=\"reconciled\" key=$1 " "$E2E_WORK/coxswain.log" || true; }
# more_reconciles SECONDS N KEY...: waits (a test point) until each KEY has
# been reconciled N more times than now: positive evidence that coxswain has
# looked at it again, for checks that nothing changed.
more_reconciles() {
	local limit=$1 n=$2 key
	shift 2
	local targets=() # KEY COUNT pairs
	for key in "$@"; do targets+=("$key" $(($(reconciles "$key") + n))); done
	# shellcheck disable=SC2317 # called by name, by eventually
	all_reconciled() {
		local i
		for ((i = 0; i < ${#targets[@]}; i += 2)); do
			at_least "${targets[i + 1]}" reconciles "${targets[i]}" >/dev/null ||
				{ echo "${targets[i]}: $(reconciles "${targets[i]}") reconciles, want ${targets[i + 1]}"; return 1; }
		done
	}
	eventually "$limit" "coxswain reconciles $* $n more times" all_reconciled
}
metric() { metrics | awk -v m="$1" '$1 == m {print $2}'; }
log_has() { grep -q -- "$1" "$E2E_WORK/coxswain.log"; }
# render SOURCE: the test's config (with @NS...@ replaced by sed expressions
# given as further arguments) with this run's endpoint and ports.
render() {
	local src=$1
	shift
	sed -e '' "$@" "$src" >"$E2E_WORK/template.yaml"
	write_config "$E2E_WORK/template.yaml" "$E2E_WORK/coxswain.yaml"
}
# keep_log NAME: the whole coxswain log next to the TAP log.
keep_log() { [[ ! -d $E2E_BUILD/tests/e2e ]] || cp "$E2E_WORK/coxswain.log" "$E2E_BUILD/tests/e2e/$1.coxswain.txt"; }
# parent KIND NS NAME SPEC_JSON: applies a namespaced parent of $GROUP/v1
# whose spec is SPEC_JSON (tests/e2e/test_status_rules.sh and
# test_convergence.sh define the same for themselves).
parent() {
	printf '{"apiVersion":"%s/v1","kind":"%s","metadata":{"name":"%s","namespace":"%s"},"spec":%s}' \
		"$GROUP" "$1" "$3" "$2" "$4" | admin apply -f - >/dev/null
}
