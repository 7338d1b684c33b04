#!/usr/bin/env python3
"""Outside writer of tests/e2e/test_no_self_reconcile.sh, part (b).

Usage: edit_on_create.py BASE_URL NAMESPACE PREFIX COUNT

Watches the ConfigMaps of NAMESPACE through BASE_URL (a `kubectl proxy`)
and, the moment each one named PREFIX...-cm appears (ADDED), changes its data.value to
"outside" with a merge patch on the same connection pool: the edit lands
right after coxswain's own create, often while its job is still writing
the parent's status. Prints one line per edit ("name created-rv
edited-rv") and exits 0 after COUNT edits, 1 after 90 s. Standard library
only."""
import http.client
import json
import sys
import time
import urllib.parse


def main():
    base, ns, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    url = urllib.parse.urlsplit(base)
    watch = http.client.HTTPConnection(url.hostname, url.port, timeout=90)
    patcher = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    watch.request("GET", "/api/v1/namespaces/%s/configmaps?watch=1&timeoutSeconds=90" % ns)
    resp = watch.getresponse()
    if resp.status != 200:
        print("watch: HTTP %d" % resp.status)
        return 1
    done = set()
    deadline = time.monotonic() + 90
    while len(done) < count and time.monotonic() < deadline:
        line = resp.readline()
        if not line:
            break
        event = json.loads(line)
        obj = event.get("object", {})
        meta = obj.get("metadata", {})
        name = meta.get("name", "")
        if event.get("type") != "ADDED" or not name.startswith(prefix) or not name.endswith("-cm") \
                or name in done:
            continue
        body = json.dumps({"data": {"value": "outside"}})
        patcher.request("PATCH", "/api/v1/namespaces/%s/configmaps/%s" % (ns, name), body=body,
                        headers={"Content-Type": "application/merge-patch+json"})
        answer = patcher.getresponse()
        edited = json.loads(answer.read() or b"{}")
        if answer.status != 200:
            print("patch %s: HTTP %d" % (name, answer.status))
            return 1
        done.add(name)
        print("%s %s %s" % (name, meta.get("resourceVersion"), edited["metadata"]["resourceVersion"]), flush=True)
    return 0 if len(done) >= count else 1


if __name__ == "__main__":
    sys.exit(main())
