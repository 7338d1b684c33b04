#!/usr/bin/env python3
"""Test hook of tests/e2e/test_hook_contract.sh, written the way a
metacontroller hook is: it reads request['related'] and request['children']
without a fallback (a request without them is a KeyError, the crash a
metacontroller user sees). Standard library only; exec hook.

The parent's spec says what to answer:
  - replicas N: one Deployment "web" with N replicas;
  - configmaps [names]: one ConfigMap per name;
  - extra true: the answer carries a field metacontroller does not know
    (refused in strict mode, ignored in loose mode);
  - noChildrenKey true: the answer has no "children" key at all.
The status reports what the request said: keys (the inner keys of
children["ConfigMap.v1"], sorted), kinds (the outer keys of children),
related (the related map) and finalizing.

A finalize call scales the Deployment down: it answers the Deployment with
replicas 0, status.phase "draining" and the replicas it observed, and
finalized: false, until the parent has the annotation test/finalized=true
and every observed Deployment has 0 replicas; then {"finalized": true}.
"""
import json
import sys


def deployment(replicas):
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "registry.invalid/none:1"}]}}}}


def main():
    request = json.load(sys.stdin)
    parent = request["parent"]
    children = request["children"]
    related = request["related"]
    spec = parent.get("spec") or {}
    annotations = parent.get("metadata", {}).get("annotations") or {}
    observed = children.get("Deployment.apps/v1") or {}
    seen = sorted(d.get("spec", {}).get("replicas", -1) for d in observed.values())
    status = {"keys": sorted(children.get("ConfigMap.v1") or {}), "kinds": sorted(children),
              "related": related, "finalizing": request["finalizing"], "replicas": seen}
    if request["finalizing"]:
        if annotations.get("test/finalized") == "true" and all(r == 0 for r in seen):
            answer = {"finalized": True}
        else:
            status["phase"] = "draining"
            answer = {"finalized": False, "children": [deployment(0)], "status": status,
                      "resyncAfterSeconds": 1}
    else:
        want = []
        if "replicas" in spec:
            want.append(deployment(spec["replicas"]))
        for name in spec.get("configmaps", []):
            want.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                         "data": {"k": "v"}})
        answer = {"status": status, "children": want}
        if spec.get("noChildrenKey"):
            del answer["children"]
        if spec.get("extra"):
            answer["unknownField"] = True
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
