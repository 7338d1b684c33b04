#!/usr/bin/env python3
"""The bench hook of tests/bench/compare: for a Parent, one ConfigMap named
after it (data.value = spec.value) and status {ready: true}. Standard library
only. Three ways to run it, one per coxswain hook kind:
    hook.py                       exec hook: one request on stdin, the answer on stdout
    hook.py --persistent          persistent exec hook: newline-delimited JSON, one
                                  request a line in, one answer a line out, until EOF
    hook.py --webhook PORT_FILE   webhook: POST a request, get the answer; listens on
                                  127.0.0.1 at a free port, written to PORT_FILE"""
import json
import os
import sys


def respond(request):
    parent = request["parent"]
    meta = parent["metadata"]
    value = parent.get("spec", {}).get("value", "")
    child = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": meta["name"]}, "data": {"value": value}}
    return {"status": {"ready": True}, "children": [child]}


def exec_once():
    json.dump(respond(json.load(sys.stdin)), sys.stdout)
    sys.stdout.flush()


def persistent():
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        out.write(json.dumps(respond(json.loads(line))) + "\n")
        out.flush()


def webhook(port_file):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a production hook server would
        # and, like one, no Nagle: the body, written after the headers, goes
        # out at once instead of waiting for the ACK a client delays 40 ms
        disable_nagle_algorithm = True

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            data = json.dumps(respond(request)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) == 1:
        exec_once()
    elif sys.argv[1:] == ["--persistent"]:
        persistent()
    elif len(sys.argv) == 3 and sys.argv[1] == "--webhook":
        webhook(sys.argv[2])
    else:
        sys.exit(__doc__)
