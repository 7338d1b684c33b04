#!/usr/bin/env python3
"""The webhook of tests/e2e/test_mc_live.sh, written as a metacontroller hook
is: it reads request['controller'], request['parent'], request['children']
and request['related'] without fallbacks.

  hook.py PORT DIR

POST /sync-a answers one ConfigMap "<parent>-a", /sync-b one "<parent>-b"
(data.from = the path). Each request's "controller" is written to
DIR/controller-<parent name>.json, and a line appended to DIR/calls-<parent
name>, for the test to read.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, DIR = int(sys.argv[1]), sys.argv[2]


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        req = json.loads(body)
        parent = req["parent"]
        _ = req["children"], req["related"]
        name = parent["metadata"]["name"]
        with open(os.path.join(DIR, "controller-%s.json" % name), "w") as f:
            json.dump(req["controller"], f)
        with open(os.path.join(DIR, "calls-%s" % name), "a") as f:
            f.write(self.path + "\n")
        suffix = self.path.rsplit("-", 1)[-1]
        child = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "%s-%s" % (name, suffix)},
                 "data": {"from": self.path}}
        out = json.dumps({"status": {"hook": self.path}, "children": [child]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Hook).serve_forever()
