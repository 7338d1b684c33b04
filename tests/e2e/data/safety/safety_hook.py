#!/usr/bin/env python3
"""Test hook of the reconcile-safety tests (tests/e2e/test_ownership.sh,
test_convergence.sh, test_status_rules.sh, test_cluster_scoped.sh): it answers
what its parent asks for, so that each test states the hook's answer next to
the parent. Standard library only; exec hook (request on stdin, answer on
stdout).

Where the answer comes from: the parent's annotation test/answer (a JSON
object) when it has one (built-in kinds such as Pods cannot carry it in their
spec), else the parent's spec.
  - a sync call answers the keys children, status and resyncAfterSeconds of
    that object that are present, and only those: an object without
    "children" gives an answer without "children" (decorator-shaped);
  - with "namespaces" (a list) instead: one ConfigMap "settings" in each of
    them with data.value = its "value", and status.seen = the sorted keys of
    the request's children["ConfigMap.v1"] (what coxswain told the hook it
    owns);
  - a finalize call answers {"finalized": true} when the parent has the
    annotation test/finalized=true, else its "finalize" (default
    {"finalized": true}).
"""
import json
import sys


def main():
    request = json.load(sys.stdin)
    parent = request["parent"]
    annotations = parent.get("metadata", {}).get("annotations") or {}
    if "test/answer" in annotations:
        source = json.loads(annotations["test/answer"])
    else:
        source = parent.get("spec") or {}
    if request.get("finalizing"):
        if annotations.get("test/finalized") == "true":
            answer = {"finalized": True}
        else:
            answer = source.get("finalize", {"finalized": True})
    elif "namespaces" in source:
        seen = sorted((request.get("children") or {}).get("ConfigMap.v1") or {})
        answer = {"status": {"seen": seen},
                  "children": [{"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "settings", "namespace": ns},
                                "data": {"value": source.get("value", "")}}
                               for ns in source["namespaces"]]}
    else:
        answer = {k: source[k] for k in ("children", "status", "resyncAfterSeconds") if k in source}
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
