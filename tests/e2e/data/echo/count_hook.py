#!/usr/bin/env python3
"""Test hook of tests/e2e/test_no_self_reconcile.sh: counts its calls and
answers one ConfigMap per parent.

Each call appends one line, the parent's "namespace/name", to the file the
parent's spec.countFile names (O_APPEND: one write per line, so lines from
concurrent workers do not mix). The answer: a ConfigMap "<name>-cm" with
data.value = spec.value, and status {"ready": true}. Standard library only;
exec hook (request on stdin, answer on stdout)."""
import json
import os
import sys


def main():
    request = json.load(sys.stdin)
    parent = request["parent"]
    meta = parent.get("metadata", {})
    spec = parent.get("spec") or {}
    line = "%s/%s\n" % (meta.get("namespace", ""), meta.get("name", ""))
    fd = os.open(spec["countFile"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    answer = {"status": {"ready": True},
              "children": [{"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": meta["name"] + "-cm"},
                            "data": {"value": spec.get("value", "")}}]}
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
