#!/usr/bin/env bash
# End to end, Events across workers (issue 9, part 5): a Widget whose hook
# always fails is retried by whichever of four workers is free, then again
# after coxswain restarts (new worker processes, empty caches). Every
# Warning about it is one Event object, whose count keeps growing: one
# series per (object, reason, message), whoever reports it.
source "$(dirname "$0")/lib.sh"

DATA=$E2E_REPO/tests/e2e/data/worker
GROUP=e2e.coxswain.io
NS=e2e-events-$$

admin apply -f "$DATA/crd.yaml" -f "$DATA/rbac.yaml" >/dev/null
check "the Widget CRD is established" admin wait --for=condition=Established --timeout=30s crd/widgets.$GROUP
namespace "$NS"

sed -e "s#@NS@#$NS#; s#@FINAL_NS@#$NS-unused-f#; s#@SLOW_NS@#$NS-unused-s#; s#@WEB_NS@#$NS-unused-w#" \
	-e "s#@WORK@#$E2E_WORK#g; s#@WEBHOOK_URL@#http://127.0.0.1:9/#" "$DATA/coxswain.yaml" >"$E2E_WORK/template.yaml"
write_config "$E2E_WORK/template.yaml" "$E2E_WORK/coxswain.yaml"

# hook_failed_events: "<name> <count>" for each HookFailed Event about w-fail.
hook_failed_events() {
	admin get events -n "$NS" --field-selector involvedObject.name=w-fail,reason=HookFailed \
		-o go-template='{{range .items}}{{.metadata.name}} {{.count}}{{"\n"}}{{end}}'
}
series() { hook_failed_events | grep -c .; }
total() { hook_failed_events | awk '{n += $2} END {print n + 0}'; }
start_coxswain "$E2E_WORK/coxswain.yaml" 4
eventually 30 "/readyz answers ok" equals ok health readyz
check "a Widget whose hook exits 1" admin apply -n "$NS" -f - <<-YAML
	apiVersion: $GROUP/v1
	kind: Widget
	metadata: {name: w-fail}
	spec: {behavior: exit1, value: ""}
YAML
eventually 60 "it is reported 4 times" at_least 4 total
check "one Event object for all of them" equals 1 series
stop_coxswain
check "coxswain stopped cleanly" equals 0 echo "$E2E_EXIT"

before=$(total)
start_coxswain "$E2E_WORK/coxswain.yaml" 4
eventually 60 "after a restart (new workers, empty caches) it is reported again" at_least $((before + 2)) total
check "still one Event object: the restarted workers count into the same series" equals 1 series
check "the series' name is the parent's, and a digest" contains "w-fail." hook_failed_events
stop_coxswain
done_testing
