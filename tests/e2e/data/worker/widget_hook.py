#!/usr/bin/env python3
"""Test hook for Widgets (tests/e2e/test_worker.sh, tests/bench): the
metacontroller hook contract, with a behaviour chosen by spec.behavior.

As an exec hook: the request on stdin, the answer on stdout.
    widget_hook.py [--log FILE]
FILE gets one line when a call starts and one when it answers:
    start sync NS/NAME BEHAVIOR
    done sync NS/NAME BEHAVIOR
widget_webhook.py serves the same logic over HTTP. Standard library only.

Behaviours (spec.behavior):
  ok          one ConfigMap named after the Widget, data.value = spec.value
  two, one    ConfigMaps NAME-a and NAME-b; then NAME-a only
  exit1       a message on stderr, exit code 1
  garbage     prints something that is not JSON
  sleep       sleeps 60 s (past any timeout the tests configure)
  undeclared  returns a Secret, a kind the controller does not declare
  slow        sleeps 3 s, then answers as ok
  badchild    ConfigMaps NAME-good and NAME-bad; the API server refuses the
              second (a data key it does not allow)
  resync      as ok, and asks to be called again in 1 s (resyncAfterSeconds)
Finalize calls (request.finalizing) answer finalized=true only when the
Widget has the annotation test/allow-delete=true.
"""
import json
import os
import sys
import time


class HookError(Exception):
    """The hook fails: a message for stderr (exec) or the body (webhook)."""


def config_map(name, value, behavior):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {"value": value, "behavior": behavior}}


def log(path, what, request):
    if not path:
        return
    meta = request["parent"]["metadata"]
    behavior = request["parent"].get("spec", {}).get("behavior", "?")
    line = f"{what} {'finalize' if request.get('finalizing') else 'sync'} " \
           f"{meta.get('namespace', '')}/{meta['name']} {behavior}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def respond(request):
    """The answer to request, as a string: JSON, or not for 'garbage'.
    Raises HookError for 'exit1'."""
    parent = request["parent"]
    name = parent["metadata"]["name"]
    spec = parent.get("spec", {})
    behavior = spec.get("behavior", "ok")
    value = spec.get("value", "")
    if request.get("finalizing"):
        annotations = parent["metadata"].get("annotations", {})
        return json.dumps({"finalized": annotations.get("test/allow-delete") == "true"})
    if behavior == "exit1":
        raise HookError(f"widget hook: {name}: failing on purpose (behavior exit1)")
    if behavior == "garbage":
        return "this is not JSON, it is garbage\n"
    if behavior == "sleep":
        time.sleep(60)
    if behavior == "slow":
        time.sleep(3)
    resync = 0
    if behavior in ("ok", "slow", "sleep", "resync"):
        children = [config_map(name, value, behavior)]
        resync = 1 if behavior == "resync" else 0
    elif behavior == "badchild":
        bad = config_map(f"{name}-bad", value, behavior)
        bad["data"]["not a valid key!"] = "x"
        children = [config_map(f"{name}-good", value, behavior), bad]
    elif behavior == "two":
        children = [config_map(f"{name}-a", value, behavior), config_map(f"{name}-b", value, behavior)]
    elif behavior == "one":
        children = [config_map(f"{name}-a", value, behavior)]
    elif behavior == "undeclared":
        children = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                     "stringData": {"value": value}}]
    else:
        raise HookError(f"widget hook: {name}: unknown behavior {behavior!r}")
    return json.dumps({"status": {"value": value, "children": len(children)}, "children": children,
                       "resyncAfterSeconds": resync})


def main():
    log_path = None
    if len(sys.argv) == 3 and sys.argv[1] == "--log":
        log_path = sys.argv[2]
    elif len(sys.argv) != 1:
        sys.exit("usage: widget_hook.py [--log FILE]")
    request = json.load(sys.stdin)
    log(log_path, "start", request)
    try:
        answer = respond(request)
    except HookError as e:
        print(e, file=sys.stderr)
        sys.exit(1)
    sys.stdout.write(answer)
    sys.stdout.flush()
    log(log_path, "done", request)


if __name__ == "__main__":
    main()
