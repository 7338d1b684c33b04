#!/usr/bin/env python3
# A sync/finalize hook as a user would write one: reads the request on stdin
# and answers with one ConfigMap named after the parent, a status that says
# what it was given, resyncAfterSeconds 30 and finalized = finalizing.
# HOOK_CHILD_NAMESPACE, when set, puts the child in that namespace instead.
import json
import os
import sys

req = json.load(sys.stdin)
parent = req["parent"]
meta = parent["metadata"]
child_meta = {"name": meta["name"] + "-config"}
if "HOOK_CHILD_NAMESPACE" in os.environ:
    child_meta["namespace"] = os.environ["HOOK_CHILD_NAMESPACE"]
child = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": child_meta,
    "data": {"greeting": parent.get("spec", {}).get("greeting", "")},
}
json.dump({
    "status": {
        "controller": req["controller"].get("name"),
        "observed": {k: sorted(v) for k, v in req["children"].items()},
        "finalizing": req["finalizing"],
    },
    "children": [child],
    "resyncAfterSeconds": 30,
    "finalized": req["finalizing"],
}, sys.stdout)
