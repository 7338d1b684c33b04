#!/usr/bin/env python3
"""The Widget test hook (widget_hook.py) as a webhook: POST a hook request,
get its answer. Listens on 127.0.0.1 at a free port and writes the port to
FILE once it listens.
    widget_webhook.py --port-file FILE [--log FILE]
A failing behaviour (exit1) answers HTTP 500 with the message as the body.
Standard library only."""
import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import widget_hook  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    log_path = None

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length))
        widget_hook.log(self.log_path, "start", request)
        try:
            code, body = 200, widget_hook.respond(request)
        except widget_hook.HookError as e:
            code, body = 500, str(e)
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if code == 200 else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        widget_hook.log(self.log_path, "done", request)

    def log_message(self, fmt, *args):
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--log")
    args = p.parse_args()
    Handler.log_path = args.log
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
