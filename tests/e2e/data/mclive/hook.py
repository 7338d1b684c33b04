#!/usr/bin/env python3
"""The webhook of tests/e2e/test_mc_live.sh, written as a metacontroller hook
is: it reads request['controller'], request['parent'], request['children']
and request['related'] without fallbacks.

  hook.py PORT DIR

POST /sync-a answers one ConfigMap "<parent>-a", /sync-b one "<parent>-b"
(data.from = the path); /deco is a DecoratorController's hook: it reads
request['object'] and request['attachments'], and answers the label
decorated=yes and one attachment, ConfigMap "<object>-deco". Each request's "controller" is written to
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
        deco = self.path == "/deco"
        if deco:
            parent = req["object"]
            _ = req["attachments"], req["related"]
        else:
            parent = req["parent"]
            _ = req["children"], req["related"]
        name = parent["metadata"]["name"]
        with open(os.path.join(DIR, "controller-%s.json" % name), "w") as f:
            json.dump(req["controller"], f)
        with open(os.path.join(DIR, "calls-%s" % name), "a") as f:
            f.write(self.path + "\n")
        suffix = "deco" if deco else self.path.rsplit("-", 1)[-1]
        # A composite's children carry the labels its parent's selector
        # asks for (metacontroller's rule).
        labels = parent.get("spec", {}).get("selector", {}).get("matchLabels", {})
        child = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "%s-%s" % (name, suffix), "labels": labels},
                 "data": {"from": self.path}}
        if deco:
            answer = {"labels": {"decorated": "yes"}, "attachments": [child]}
        else:
            answer = {"status": {"hook": self.path}, "children": [child]}
        out = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Hook).serve_forever()
