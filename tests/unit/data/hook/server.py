#!/usr/bin/env python3
# A webhook server for test_hook: answers POSTs on 127.0.0.1 only.
#   server.py PORT N SECONDS [keepalive]
# PORT 0 takes any free port. With keepalive it speaks HTTP/1.1 and keeps
# each connection open for the next request, a thread per connection, as
# production hook servers do; otherwise HTTP/1.0, a connection per request. Once listening it prints the port on stdout
# (one line), then serves until it has answered N requests or SECONDS passed.
#   /sync     200, {"status": {what it got}, "children": [a ConfigMap]}
#   /echo     200, {"status": {"echo": <the request>}, "children": []}
#   /fail     500, a 300-byte text body
#   /garbage  200, not JSON
#   /slow     answers after 60 s (past any timeout a test sets or waits for)
#   /etag     as /sync plus status.served (requests answered so far) and an
#             ETag "v-<parent name>"; 304 (no body) when If-None-Match is it
#   /304      304 always
#   /conn     200, {"status": {"port": the client's port}, "children": []}:
#             which connection the request came on
import http.server
import json
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    answered = 0

    def log_message(self, *args):
        pass

    # An answer counts once it is written: with keepalive a handler thread
    # writes while the main loop checks the count, and the process must not
    # exit halfway through the last answer.
    def answer(self, code, body, ctype="application/json", etag=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        if etag:
            self.send_header("ETag", etag)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            pass
        Handler.answered += 1

    def answer_empty(self, code, etag=None):
        self.send_response(code)
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        Handler.answered += 1

    def do_GET(self):
        self.answer(405, "POST only\n", "text/plain")

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/fail":
            msg = "internal error: the database is on fire. " + "x" * 300
            return self.answer(500, msg[:300], "text/plain")
        if self.path == "/garbage":
            return self.answer(200, "<html>not json</html>", "text/html")
        if self.path == "/slow":
            time.sleep(60)
            return self.answer(200, "{}")
        if self.path == "/304":
            return self.answer_empty(304)
        req = json.loads(raw)
        if self.path == "/etag":
            name = req["parent"]["metadata"]["name"]
            etag = '"v-%s"' % name
            if self.headers.get("If-None-Match") == etag:
                return self.answer_empty(304, etag)
            return self.answer(200, json.dumps({
                "status": {"served": Handler.answered + 1, "ifNoneMatch": self.headers.get("If-None-Match")},
                "children": []}), etag=etag)
        if self.path == "/conn":
            return self.answer(200, json.dumps({"status": {"port": self.client_address[1]}, "children": []}))
        if self.path == "/echo":
            return self.answer(200, json.dumps({"status": {"echo": req}, "children": []}))
        name = req["parent"]["metadata"]["name"]
        self.answer(200, json.dumps({
            "status": {
                "parent": name,
                "method": self.command,
                "contentType": self.headers.get("Content-Type"),
                "finalizing": req["finalizing"],
                "kinds": sorted(req["children"]),
            },
            "children": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name + "-config"}}],
            "resyncAfterSeconds": 1.5,
        }))


keepalive = sys.argv[4:] == ["keepalive"]
if keepalive:
    Handler.protocol_version = "HTTP/1.1"
server = (http.server.ThreadingHTTPServer if keepalive else http.server.HTTPServer)(("127.0.0.1", int(sys.argv[1])),
                                                                                     Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
n, deadline = int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
while Handler.answered < n and time.monotonic() < deadline:
    server.timeout = max(0.05, deadline - time.monotonic())
    server.handle_request()
