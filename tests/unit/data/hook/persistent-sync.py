#!/usr/bin/env python3
# sync.py as a persistent hook: one request a line, one answer a line, and
# its pid in the status so a test can tell the requests went to one process.
import json
import os
import sys

for line in sys.stdin:
    req = json.loads(line)
    parent = req["parent"]
    meta = parent["metadata"]
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": meta["name"] + "-config"},
        "data": {"greeting": parent.get("spec", {}).get("greeting", "")},
    }
    sys.stdout.write(json.dumps({
        "status": {
            "controller": req["controller"].get("name"),
            "observed": {k: sorted(v) for k, v in req["children"].items()},
            "finalizing": req["finalizing"],
            "pid": os.getpid(),
        },
        "children": [child],
        "resyncAfterSeconds": 30,
        "finalized": req["finalizing"],
    }) + "\n")
    sys.stdout.flush()
