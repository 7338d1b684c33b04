#!/usr/bin/env bash
# End to end, the worker (issue 5): a test CRD "Widget" whose hook
# (tests/e2e/data/worker/widget_hook.py) does what spec.behavior says, run by
# coxswain (watcher + worker supervisor, operator identity) against the
# fixture, with kubectl as the independent client:
#   - children applied with the controller ownerReference, updated, pruned;
#     resyncAfterSeconds honoured;
#   - hooks that exit 1, print garbage, time out or return an undeclared kind,
#     and a child the API server refuses: Synced=False with a message that
#     starts with the hook's name and says what went wrong, the same in a
#     Warning Event, the hook's earlier status kept, and the workers go on
#     serving others;
#   - a finalize hook holds deletion until it answers finalized; a controller
#     without one adds no finalizer, and takes off one an earlier config with
#     a finalize hook left;
#   - a webhook hook (tests/e2e/data/worker/widget_webhook.py), whose URL's
#     credentials never show in conditions or Events;
#   - SIGTERM drains: the job in flight finishes and its status is written;
#   - crash containment: COXSWAIN_TEST_CRASH_ON_KEY makes workers abort() on
#     one key; their slots restart, the key is poisoned (WorkerCrashed) and
#     100 other Widgets all reach Synced=True;
#   - SIGTERM to the supervisor alone: workers finish their jobs, then exit;
#     workers do not outlive a SIGKILLed supervisor.
# The controllers share the Widget kind, each watching its own namespace.
source "$(dirname "$0")/lib.sh"

DATA=$E2E_REPO/tests/e2e/data/worker
GROUP=e2e.coxswain.io
HOOK='sync hook "tests/e2e/data/worker/widget_hook.py"'
NS=e2e-worker-$$
FINAL_NS=e2e-worker-final-$$
WEB_NS=e2e-worker-web-$$
SLOW_NS=e2e-worker-slow-$$
CRASH_NS=e2e-worker-crash-$$

admin apply -f "$DATA/crd.yaml" -f "$DATA/rbac.yaml" >/dev/null
check "the Widget CRD is established" admin wait --for=condition=Established --timeout=30s crd/widgets.$GROUP
check "the operator identity can watch Widgets" equals yes can_i watch widgets.$GROUP -A
for ns in "$NS" "$FINAL_NS" "$SLOW_NS" "$WEB_NS" "$CRASH_NS"; do
	namespace "$ns"
done

# widget NS NAME BEHAVIOR [VALUE]: creates or changes a Widget.
widget() {
	admin apply -n "$1" -f - <<-YAML
		apiVersion: $GROUP/v1
		kind: Widget
		metadata: {name: $2}
		spec: {behavior: $3, value: "${4:-}"}
	YAML
}

# synced NS NAME: "status/reason" of its Synced condition.
synced() {
	admin get widget "$2" -n "$1" \
		-o jsonpath='{.status.conditions[?(@.type=="Synced")].status}/{.status.conditions[?(@.type=="Synced")].reason}'
}
synced_message() {
	admin get widget "$2" -n "$1" -o jsonpath='{.status.conditions[?(@.type=="Synced")].message}'
}
# warnings NS NAME: the Warning Events about it, one "reason: message" a line.
warnings() {
	admin get events -n "$1" --field-selector "involvedObject.name=$2,type=Warning" \
		-o go-template='{{range .items}}{{.reason}}: {{.message}}{{"\n"}}{{end}}'
}
# has_warning NS NAME REASON: a Warning Event with REASON whose message is
# the Synced condition's message, word for word.
has_warning() {
	local msg
	msg=$(synced_message "$1" "$2") || return 1
	[[ -n $msg ]] || { echo "no Synced message"; return 1; }
	contains "$3: $msg" warnings "$1" "$2"
}
warning_count() { warnings "$1" "$2" | grep -c "^$3: "; }
warning_total() {
	admin get events -n "$1" --field-selector "involvedObject.name=$2,type=Warning" \
		-o go-template='{{range .items}}{{.reason}} {{.count}}{{"\n"}}{{end}}' | awk -v r="$3" '$1 == r {n += $2} END {print n + 0}'
}
count_words() { wc -w <<<"$1"; }
# starts_with PREFIX COMMAND...: succeeds when COMMAND's output starts with PREFIX.
starts_with() {
	local prefix=$1 got
	shift
	got=$("$@" 2>&1)
	[[ $got == "$prefix"* ]] || { echo "expected a start of \"$prefix\" in:"; echo "$got"; return 1; }
}
owner_of() {
	admin get configmap "$2" -n "$1" -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].uid}/{.metadata.ownerReferences[0].controller}'
}
uid_of() { admin get widget "$2" -n "$1" -o jsonpath='{.metadata.uid}'; }
hook_log() { cat "$E2E_WORK/hook.log" 2>/dev/null; }
metric() { metrics | awk -v m="$1" '$1 == m {print $2}'; }
# children_of PID: its child processes' pids, sorted, one line.
children_of() { ps -o pid= --ppid "$1" | sort -n | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }

# The webhook server, on a free loopback port it picks itself.
python3 "$DATA/widget_webhook.py" --port-file "$E2E_WORK/webhook.port" --log "$E2E_WORK/hook.log" \
	>>"$E2E_WORK/webhook.log" 2>&1 &
E2E_PIDS+=($!)
eventually 30 "the webhook server listens" test -s "$E2E_WORK/webhook.port"
WEBHOOK_PORT=$(cat "$E2E_WORK/webhook.port")
# With a user, a password and a query: none of them may show in messages.
WEBHOOK_URL="http://coxswain:s3cret@127.0.0.1:$WEBHOOK_PORT/sync?token=s3cret"

# render NS [no-finalize]: the config for this run, with the widgets
# controller in NS; no-finalize: without final-widgets' finalize hook.
render() {
	local drop='^$'
	[[ ${2:-} != no-finalize ]] || drop='^ *finalize: '
	sed -e "s#@NS@#$1#; s#@FINAL_NS@#$FINAL_NS#; s#@SLOW_NS@#$SLOW_NS#; s#@WEB_NS@#$WEB_NS#; s#@WORK@#$E2E_WORK#g" \
	    -e "s#@WEBHOOK_URL@#$WEBHOOK_URL#" -e "/$drop/d" "$DATA/coxswain.yaml" >"$E2E_WORK/template.yaml"
	write_config "$E2E_WORK/template.yaml" "$E2E_WORK/coxswain.yaml"
}

render "$NS"
check "the config is valid" "$E2E_BUILD/watcher/coxswain-watcher" --check-config "$E2E_WORK/coxswain.yaml"
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "/readyz answers ok once the caches synced" equals ok health readyz

# ---- a hook that works: apply, update, prune
check "an ok Widget is created" widget "$NS" w-ok ok first
eventually 30 "it becomes Synced=True" equals True/ReconcileSucceeded synced "$NS" w-ok
check "Ready=True too" equals True admin get widget w-ok -n "$NS" \
	-o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'
check "its ConfigMap has the controller ownerReference" \
	equals "Widget/w-ok/$(uid_of "$NS" w-ok)/true" owner_of "$NS" w-ok
check "its ConfigMap has the controller label" \
	equals widgets admin get configmap w-ok -n "$NS" -o jsonpath='{.metadata.labels.coxswain\.io/controller}'
check "its ConfigMap holds the spec's value" equals first admin get configmap w-ok -n "$NS" -o jsonpath='{.data.value}'
check "the hook's status is written" equals first admin get widget w-ok -n "$NS" -o jsonpath='{.status.value}'
check "a Normal Event records the child created" contains "created ConfigMap/w-ok" \
	admin get events -n "$NS" --field-selector involvedObject.name=w-ok,type=Normal -o jsonpath='{.items[*].message}'
check "a controller without a finalize hook adds no finalizer" \
	equals "" admin get widget w-ok -n "$NS" -o jsonpath='{.metadata.finalizers}'

check "the Widget's spec is changed" widget "$NS" w-ok ok second
eventually 30 "the ConfigMap follows the change" equals second \
	admin get configmap w-ok -n "$NS" -o jsonpath='{.data.value}'
eventually 30 "observedGeneration follows the change" equals 2 \
	admin get widget w-ok -n "$NS" -o jsonpath='{.status.observedGeneration}'

check "a Widget with two children is created" widget "$NS" w-prune two
eventually 30 "both children exist" admin get configmap w-prune-a w-prune-b -n "$NS"
check "the Widget drops one child" widget "$NS" w-prune one
eventually 30 "the dropped child is pruned" fails admin get configmap w-prune-b -n "$NS"
check "the kept child stays" equals one admin get configmap w-prune-a -n "$NS" -o jsonpath='{.data.behavior}'
eventually 30 "a Normal Event records the child deleted" contains "deleted ConfigMap/w-prune-b" \
	admin get events -n "$NS" --field-selector involvedObject.name=w-prune,type=Normal -o jsonpath='{.items[*].message}'

# ---- hooks that fail
check "a Widget whose hook exits 1 is created" widget "$NS" w-exit1 exit1
check "a Widget whose hook prints garbage is created" widget "$NS" w-garbage garbage
check "a Widget whose hook sleeps past its timeout is created" widget "$NS" w-sleep sleep
check "a Widget whose hook returns an undeclared kind is created" widget "$NS" w-undeclared undeclared

eventually 30 "exit 1: Synced=False, HookFailed" equals False/HookFailed synced "$NS" w-exit1
check "exit 1: the message starts with the hook's name" starts_with "$HOOK: " synced_message "$NS" w-exit1
check "exit 1: the message gives the exit code" contains "exited with status 1" synced_message "$NS" w-exit1
check "exit 1: the message gives the stderr tail" contains "w-exit1: failing on purpose (behavior exit1)" \
	synced_message "$NS" w-exit1
eventually 30 "exit 1: a Warning Event HookFailed with the same message" has_warning "$NS" w-exit1 HookFailed

eventually 30 "garbage: Synced=False, InvalidHookResponse" equals False/InvalidHookResponse synced "$NS" w-garbage
check "garbage: the message starts with the hook's name" starts_with "$HOOK: " synced_message "$NS" w-garbage
check "garbage: the message says where the JSON is invalid" contains "invalid JSON at byte" \
	synced_message "$NS" w-garbage
eventually 30 "garbage: a Warning Event InvalidHookResponse with the same message" \
	has_warning "$NS" w-garbage InvalidHookResponse

eventually 30 "timeout: Synced=False, HookFailed" equals False/HookFailed synced "$NS" w-sleep
check "timeout: the message starts with the hook's name" starts_with "$HOOK: " synced_message "$NS" w-sleep
check "timeout: the message gives the timeout" contains "exceeded its 2 s timeout and was killed" \
	synced_message "$NS" w-sleep
eventually 30 "timeout: a Warning Event HookFailed with the same message" has_warning "$NS" w-sleep HookFailed

eventually 30 "undeclared kind: Synced=False, InvalidHookResponse" \
	equals False/InvalidHookResponse synced "$NS" w-undeclared
check "undeclared kind: the message starts with the hook's name" starts_with "$HOOK: " synced_message "$NS" w-undeclared
check "undeclared kind: the message names the kind and the declared ones" \
	contains "children[0]: Secret.v1 is not a child kind of this controller (it declares ConfigMap.v1)" \
	synced_message "$NS" w-undeclared
eventually 30 "undeclared kind: a Warning Event InvalidHookResponse with the same message" \
	has_warning "$NS" w-undeclared InvalidHookResponse
check "undeclared kind: no Secret was made" fails admin get secret w-undeclared -n "$NS"

check "a Widget with a child the API server refuses is created" widget "$NS" w-bad badchild
eventually 30 "it is Synced=False, ApplyFailed" equals False/ApplyFailed synced "$NS" w-bad
check "the message names the child and the API server's reason" \
	contains '1 of 2 children failed: ConfigMap/w-bad-bad: ' synced_message "$NS" w-bad
check "the message gives the field at fault" contains 'not a valid key!' synced_message "$NS" w-bad
check "the other child is applied all the same" equals badchild \
	admin get configmap w-bad-good -n "$NS" -o jsonpath='{.data.behavior}'
eventually 30 "a Warning Event ApplyFailed names the child" contains "ApplyFailed: ConfigMap/w-bad-bad: " warnings "$NS" w-bad

check "a Widget whose hook asks for resyncAfterSeconds 1 is created" widget "$NS" w-resync resync
eventually 30 "it becomes Synced=True" equals True/ReconcileSucceeded synced "$NS" w-resync
resync_calls() { hook_log | grep -c "^start sync $NS/w-resync "; }
calls=$(resync_calls)
eventually 45 "its hook is called again and again without any change" at_least $((calls + 3)) resync_calls
check "it is changed to stop asking" widget "$NS" w-resync ok

check "an ok Widget is created after the failures" widget "$NS" w-after ok after
eventually 30 "the workers keep serving: it becomes Synced=True" equals True/ReconcileSucceeded synced "$NS" w-after
check "a working Widget's hook starts failing" widget "$NS" w-after exit1 broken
eventually 30 "it turns Synced=False, HookFailed" equals False/HookFailed synced "$NS" w-after
check "the status the hook wrote before stays" equals after admin get widget w-after -n "$NS" -o jsonpath='{.status.value}'
check "observedGeneration is the failing generation's" equals 2 \
	admin get widget w-after -n "$NS" -o jsonpath='{.status.observedGeneration}'
check "a failing Widget is fixed" widget "$NS" w-exit1 ok fixed
eventually 30 "it turns Synced=True" equals True/ReconcileSucceeded synced "$NS" w-exit1
check "its ConfigMap is there now" equals fixed admin get configmap w-exit1 -n "$NS" -o jsonpath='{.data.value}'

# Each worker deduplicates on its own: at most one Event per worker (2 here).
check "repeated failures bump Warning Events instead of adding more" at_most 2 warning_count "$NS" w-exit1 HookFailed
check "the Warning Events count the repeats" at_least 3 warning_total "$NS" w-exit1 HookFailed

# ---- finalizers
check "a Widget of the controller with a finalize hook is created" widget "$FINAL_NS" f1 ok
eventually 30 "it becomes Synced=True" equals True/ReconcileSucceeded synced "$FINAL_NS" f1
check "it carries the finalizer coxswain.io/final-widgets" \
	equals '["coxswain.io/final-widgets"]' admin get widget f1 -n "$FINAL_NS" -o jsonpath='{.metadata.finalizers}'
check "it is deleted (without waiting)" admin delete widget f1 -n "$FINAL_NS" --wait=false
eventually 30 "the finalize hook is called" contains "start finalize $FINAL_NS/f1" hook_log
sleep 1
check "it stays while the finalize hook answers finalized=false" \
	equals "coxswain.io/final-widgets" admin get widget f1 -n "$FINAL_NS" -o jsonpath='{.metadata.finalizers[*]}'
check "its deletionTimestamp is set" fails equals "" \
	admin get widget f1 -n "$FINAL_NS" -o jsonpath='{.metadata.deletionTimestamp}'
check "the annotation that lets the finalize hook finish is set" \
	admin annotate widget f1 -n "$FINAL_NS" test/allow-delete=true
eventually 30 "then it is gone" fails admin get widget f1 -n "$FINAL_NS"
check "two more Widgets of the controller with a finalize hook are created" widget "$FINAL_NS" f2 ok
check "(the second)" widget "$FINAL_NS" f3 ok
eventually 30 "they carry the finalizer" equals "coxswain.io/final-widgets coxswain.io/final-widgets" \
	admin get widget f2 f3 -n "$FINAL_NS" -o jsonpath='{.items[*].metadata.finalizers[*]}'
check "a Widget without a finalize hook is deleted at once" admin delete widget w-ok -n "$NS" --timeout=30s
eventually 30 "its child is garbage-collected" fails admin get configmap w-ok -n "$NS"

# ---- a webhook hook
check "a Widget of the webhook controller is created" widget "$WEB_NS" web1 ok over-http
eventually 30 "it becomes Synced=True" equals True/ReconcileSucceeded synced "$WEB_NS" web1
check "its ConfigMap has the controller ownerReference" \
	equals "Widget/web1/$(uid_of "$WEB_NS" web1)/true" owner_of "$WEB_NS" web1
check "its ConfigMap holds the spec's value" equals over-http \
	admin get configmap web1 -n "$WEB_NS" -o jsonpath='{.data.value}'
check "the webhook served it" contains "done sync $WEB_NS/web1 ok" hook_log
check "a Widget whose webhook answers 500 is created" widget "$WEB_NS" web-fail exit1
eventually 30 "it is Synced=False, HookFailed" equals False/HookFailed synced "$WEB_NS" web-fail
check "the message names the webhook and gives the status and the body" \
	equals "sync hook \"http://127.0.0.1:$WEBHOOK_PORT/sync\": returned HTTP 500: widget hook: web-fail: failing on purpose (behavior exit1)" \
	synced_message "$WEB_NS" web-fail
check "the message shows no credentials from the URL" fails contains "s3cret" synced_message "$WEB_NS" web-fail
check "the Warning Event shows none either" fails contains "s3cret" warnings "$WEB_NS" web-fail

# ---- SIGTERM drains
check "a slow Widget is created" widget "$SLOW_NS" w-slow slow drained
eventually 30 "its hook has started" contains "start sync $SLOW_NS/w-slow slow" hook_log
stop_coxswain
check "SIGTERM: coxswain exits 0" test "$E2E_EXIT" = 0
check "the slow hook ran to its end" contains "done sync $SLOW_NS/w-slow slow" hook_log
check "the slow job's status was written before the exit" equals True/ReconcileSucceeded synced "$SLOW_NS" w-slow
check "its ConfigMap was applied" equals drained admin get configmap w-slow -n "$SLOW_NS" -o jsonpath='{.data.value}'
check "the watcher did not give up on jobs in flight" fails grep -q "drain deadline passed" "$E2E_WORK/coxswain.log"

# ---- a finalizer left from a config that had a finalize hook
check "while coxswain is down, a Widget with the finalizer is deleted" admin delete widget f3 -n "$FINAL_NS" --wait=false
check "it stays, held by the finalizer" equals "coxswain.io/final-widgets" \
	admin get widget f3 -n "$FINAL_NS" -o jsonpath='{.metadata.finalizers[*]}'

# ---- crash containment and poisoning (the config no longer has the finalize hook)
CRASH_KEY=widgets/$CRASH_NS/crasher
render "$CRASH_NS" no-finalize
check "the config without the finalize hook has none" fails grep -q "finalize:" "$E2E_WORK/coxswain.yaml"
export COXSWAIN_TEST_CRASH_ON_KEY=$CRASH_KEY
start_coxswain "$E2E_WORK/coxswain.yaml" 4
unset COXSWAIN_TEST_CRASH_ON_KEY
eventually 30 "/readyz answers ok with the fault switch set" equals ok health readyz
eventually 30 "four workers are connected" equals 4 metric coxswain_workers
supervisor=$(children_of "$E2E_COXSWAIN_PID")
workers_before=$(children_of "$supervisor")
check "four worker processes run" equals 4 count_words "$workers_before"
{
	printf 'apiVersion: %s/v1\nkind: Widget\nmetadata: {name: crasher}\nspec: {behavior: ok}\n' "$GROUP"
	for i in $(seq 1 100); do
		printf -- '---\napiVersion: %s/v1\nkind: Widget\nmetadata: {name: bystander-%03d}\nspec: {behavior: ok, value: "%d"}\n' \
			"$GROUP" "$i" "$i"
	done
} >"$E2E_WORK/crash.yaml"
check "the crashing Widget and 100 others are created" admin apply -n "$CRASH_NS" -f "$E2E_WORK/crash.yaml"
synced_count() {
	admin get widgets -n "$CRASH_NS" -o go-template='{{range .items}}{{.metadata.name}} {{range .status.conditions}}{{if eq .type "Synced"}}{{.status}}{{end}}{{end}}{{"\n"}}{{end}}' |
		grep -c '^bystander-[0-9]* True$'
}
eventually 180 "all 100 other Widgets reach Synced=True" equals 100 synced_count
eventually 60 "the crashing Widget is Synced=False, WorkerCrashed" equals False/WorkerCrashed synced "$CRASH_NS" crasher
check "its message says the worker was lost 3 times" contains "was lost 3 times in a row" \
	synced_message "$CRASH_NS" crasher
eventually 30 "a Warning Event WorkerCrashed with the same message" has_warning "$CRASH_NS" crasher WorkerCrashed
check "the crashing hook never ran (the worker died first)" fails contains "$CRASH_NS/crasher" hook_log
check "the workers crashed on purpose" grep -q "COXSWAIN_TEST_CRASH_ON_KEY: crashing on purpose" "$E2E_WORK/coxswain.log"
check "metrics: coxswain_worker_restarts_total >= 3" at_least 3 metric coxswain_worker_restarts_total
check "metrics: coxswain_poisoned_objects 1" equals 1 metric coxswain_poisoned_objects
eventually 30 "a finalizer left from the old config comes off a live Widget" \
	equals "" admin get widget f2 -n "$FINAL_NS" -o jsonpath='{.metadata.finalizers}'
eventually 30 "and off a deleted one, which is then gone" fails admin get widget f3 -n "$FINAL_NS"
check "the crashed slots run new processes" fails equals "$workers_before" children_of "$supervisor"
eventually 30 "four workers are connected again" equals 4 metric coxswain_workers
sleep 2
check "the poisoned Widget is not retried meanwhile" equals 1 metric coxswain_poisoned_objects
stop_coxswain
check "SIGTERM: coxswain exits 0 after the crashes" test "$E2E_EXIT" = 0

# ---- SIGTERM to the supervisor alone (the worker container of a pod): the
# worker finishes the job at hand first; the watcher stops with it
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "coxswain is ready again" equals ok health readyz
eventually 30 "two workers are connected" equals 2 metric coxswain_workers
supervisor=$(children_of "$E2E_COXSWAIN_PID")
check "another slow Widget is created" widget "$SLOW_NS" w-slow2 slow worker-drained
# Its job queues behind the restarted watcher's first pass over the 100
# bystanders (two workers, a Python hook each): minutes on a loaded machine.
eventually 180 "its hook has started" contains "start sync $SLOW_NS/w-slow2 slow" hook_log
log_lines=$(wc -l <"$E2E_WORK/coxswain.log")
check "the supervisor gets SIGTERM" kill -TERM "$supervisor"
eventually 30 "the watcher stops when the supervisor has" fails kill -0 "$E2E_COXSWAIN_PID"
stop_coxswain
new_log() { tail -n +$((log_lines + 1)) "$E2E_WORK/coxswain.log"; }
check "the slow hook ran to its end" contains "done sync $SLOW_NS/w-slow2 slow" hook_log
check "its status was written" equals True/ReconcileSucceeded synced "$SLOW_NS" w-slow2
check "its ConfigMap was applied" equals worker-drained \
	admin get configmap w-slow2 -n "$SLOW_NS" -o jsonpath='{.data.value}'
check "the supervisor's workers all exited in time" contains "supervisor: all workers exited" new_log
check "none had to be killed" fails contains "killed at drain deadline" new_log

# ---- the supervisor dies: its workers do not outlive it
start_coxswain "$E2E_WORK/coxswain.yaml" 2
eventually 30 "coxswain is ready again" equals ok health readyz
eventually 30 "two workers are connected" equals 2 metric coxswain_workers
supervisor=$(children_of "$E2E_COXSWAIN_PID")
workers=$(children_of "$supervisor")
check "two worker processes run" equals 2 count_words "$workers"
check "the supervisor is SIGKILLed" kill -KILL "$supervisor"
eventually 30 "its workers exit" fails ps -o pid= -p "${workers// /,}"
eventually 30 "the watcher notices and stops" fails kill -0 "$E2E_COXSWAIN_PID"
stop_coxswain

check "no sanitizer report from the watcher, the supervisor or the workers" \
	fails grep -q 'ERROR: .*Sanitizer\|runtime error:' "$E2E_WORK/coxswain.log"
# The whole log, next to the TAP log, for whoever has to read it.
[[ ! -d $E2E_BUILD/tests/e2e ]] || cp "$E2E_WORK/coxswain.log" "$E2E_BUILD/tests/e2e/test_worker.coxswain.txt"
done_testing
