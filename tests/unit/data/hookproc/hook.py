#!/usr/bin/env python3
# A persistent hook for tests/unit/test_hookproc.c: one JSON request a line
# on stdin, one answer a line on stdout. What it does is asked by the
# request: {"n": 1} is echoed with its pid; "die", "hang", "garbage",
# "twice", "big" and "fd" test the ways a hook goes wrong.
import json
import os
import sys
import time

for line in sys.stdin:
    req = json.loads(line)
    if req.get("die"):
        sys.stderr.write("dying as asked\n")
        sys.stderr.flush()
        sys.exit(3)
    if req.get("hang"):
        time.sleep(3600)
    if req.get("garbage"):
        sys.stdout.write("this is not json\n")
    elif req.get("twice"):
        # One write, so both lines arrive together whatever the buffering
        # (PYTHONUNBUFFERED makes each write a write(2)).
        sys.stdout.write(json.dumps({"n": req.get("n"), "pid": os.getpid()}) + "\n" +
                         json.dumps({"stray": True}) + "\n")
    elif req.get("big"):
        sys.stdout.write(json.dumps({"pad": "x" * req["big"]}) + "\n")
    elif "fd" in req:
        try:
            os.fstat(req["fd"])
            is_open = True
        except OSError:
            is_open = False
        sys.stdout.write(json.dumps({"open": is_open, "pid": os.getpid()}) + "\n")
    else:
        sys.stderr.write("answering %s\n" % req.get("n"))
        sys.stdout.write(json.dumps({"n": req.get("n"), "pid": os.getpid(), "len": len(line)}) + "\n")
    sys.stdout.flush()
