#!/usr/bin/env python3
# An HTTPS webhook server for test_webhook_live, on 127.0.0.1 only.
#   tls-hook-server.py CERT KEY CLIENT_CA|- SECONDS
# CLIENT_CA "-": no client certificate asked; else one signed by it is
# required (mutual TLS). Prints its port (one line) once listening, serves
# until SECONDS passed. Every answer is a sync answer whose status says what
# the request carried:
#   {"path", "authorization", "ifNoneMatch", "host", "clientCN", "served": N}
# (N counts the requests this server answered, this one included).
#   /sync            200
#   /etag            200 with ETag "\"v-<parent name>\"", or 304 (no body)
#                    when If-None-Match is that ETag
#   /token/<T>       401 unless Authorization is "Bearer <T>"
import http.server
import json
import ssl
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    served = 0

    def log_message(self, *args):
        pass

    def answer(self, code, body, headers=()):
        data = body.encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Handler.served += 1
        req = json.loads(raw)
        name = req["parent"]["metadata"]["name"]
        cn = None
        cert = self.connection.getpeercert()
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
        status = {
            "path": self.path,
            "authorization": self.headers.get("Authorization"),
            "ifNoneMatch": self.headers.get("If-None-Match"),
            "host": self.headers.get("Host"),
            "clientCN": cn,
            "served": Handler.served,
        }
        body = json.dumps({"status": status, "children": []})
        if self.path.startswith("/token/"):
            if self.headers.get("Authorization") != "Bearer " + self.path[len("/token/"):]:
                return self.answer(401, '{"error": "unauthorized"}')
        if self.path == "/etag":
            etag = '"v-%s"' % name
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            return self.answer(200, body, [("ETag", etag)])
        self.answer(200, body)


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
if sys.argv[3] != "-":
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(sys.argv[3])
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
deadline = time.monotonic() + float(sys.argv[4])
while time.monotonic() < deadline:
    server.timeout = max(0.05, deadline - time.monotonic())
    server.handle_request()
