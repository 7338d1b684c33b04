#!/usr/bin/env python3
"""Sync hook of tests/e2e/test_scaleout.sh (exec: request on stdin, answer on
stdout). It marks that it started, as $SCALEOUT_MARKS/<parent>.<set>, sleeps
spec.sleepSeconds (so that a test can kill the worker set holding the job),
then asks for one ConfigMap <parent>-cm whose data says spec.value and which
worker set ran it ($SCALEOUT_SET, given to each supervisor)."""
import json
import os
import sys
import time


def main():
    request = json.load(sys.stdin)
    parent = request["parent"]
    name = parent["metadata"]["name"]
    spec = parent.get("spec") or {}
    worker_set = os.environ.get("SCALEOUT_SET", "")
    marks = os.environ.get("SCALEOUT_MARKS")
    if marks:
        with open(os.path.join(marks, f"{name}.{worker_set}"), "w"):
            pass
    time.sleep(float(spec.get("sleepSeconds", 0)))
    json.dump({"children": [{"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": f"{name}-cm"},
                             "data": {"value": str(spec.get("value", "")), "by": worker_set}}],
               "status": {"value": str(spec.get("value", ""))}}, sys.stdout)


if __name__ == "__main__":
    main()
