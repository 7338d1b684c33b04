#!/usr/bin/env python3
"""A persistent exec hook (README "Persistent exec hooks"):

    hooks:
      sync: {exec: {command: ["examples/hooks/persistent-sync.py"], persistent: true}}

coxswain starts it once per worker and writes one request a line on its
stdin (the JSON an exec hook reads, without newlines); it answers each with
one JSON object on one line of stdout, flushed. stderr goes to coxswain's
log. It should exit when stdin ends (coxswain stopped).

The sync logic: one ConfigMap named after the parent, holding its
spec.greeting, and status {ready: true}. Standard library only.
"""
import json
import sys


def sync(request):
    parent = request["parent"]
    name = parent["metadata"]["name"]
    greeting = parent.get("spec", {}).get("greeting", "")
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name + "-greeting"},
        "data": {"greeting": greeting},
    }
    return {"status": {"ready": True, "greeting": greeting}, "children": [child]}


def main():
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("finalizing"):
            answer = {"finalized": True}
        else:
            answer = sync(request)
        # One line, then flush: coxswain waits for the newline.
        sys.stdout.write(json.dumps(answer, separators=(",", ":")) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
