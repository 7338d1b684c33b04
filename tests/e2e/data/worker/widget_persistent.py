#!/usr/bin/env python3
"""The Widget test hook (widget_hook.py) as a persistent exec hook: one
request a line on stdin, one answer a line on stdout (README "Persistent exec
hooks"). The same respond() as the exec hook and the webhook, so the three
can be measured against each other (tests/bench/bench_hooks.c).
    widget_persistent.py [--log FILE]
A failing behaviour (exit1) writes its message on stderr and exits 1, as the
exec hook does. Standard library only."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import widget_hook  # noqa: E402


def main():
    log_path = None
    if len(sys.argv) == 3 and sys.argv[1] == "--log":
        log_path = sys.argv[2]
    for line in sys.stdin:
        request = json.loads(line)
        widget_hook.log(log_path, "start", request)
        try:
            answer = widget_hook.respond(request)
        except widget_hook.HookError as e:
            print(e, file=sys.stderr)
            sys.exit(1)
        sys.stdout.write(answer.replace("\n", " ").strip() + "\n")
        sys.stdout.flush()
        widget_hook.log(log_path, "done", request)


if __name__ == "__main__":
    main()
