#!/usr/bin/env python3
"""The webhooks of tests/e2e/test_mc_conformance.sh: one small HTTP server,
written for this suite (standard library only), answering metacontroller's
hook contract on several paths, on a plain port and a TLS port.

  hooks.py --port P --tls-port T --cert C --key K --ca CA --token TOK
           --user U --password PW --client-cn CN --log FILE --ready FILE

Paths (POST, a JSON hook request; the answer is JSON):
  /propagation/customize, /propagation/sync  a cluster-scoped Propagation
      copies a ConfigMap into every Namespace its labels select (related);
  /decorate/sync        a DecoratorController on Pods: a Service per Pod,
      and a label on the Pod;
  /rolling/sync         a Roller's Gizmos, each at the Roller's version;
  /fleet/sync, /fleet/finalize  a Fleet's Deployment; finalizing scales it
      to 0 and finishes once it is seen at 0 and the parent carries the
      annotation e2e.coxswain.io/finalized: "true";
  /spread/sync          a cluster-scoped Spread's ConfigMaps (one name, in
      several namespaces) and a cluster-scoped Badge; the keys it was given;
  /podset/sync          generateSelector: a PodSet's Pods, labelled
      controller-uid: <parent uid>;
  /secure/bearer, /secure/basic, /secure/mtls, /secure/ca  (TLS port)
      answer only when the request carries the expected credentials;
  /etag/sync            answers with an ETag, and 304 to If-None-Match of it;
  /unknown-field/sync   /etag/sync's answer plus a field metacontroller does
      not know (responseUnMarshallMode);
  /never/...            404: hooks that must never be called (logged).

GET /log returns every request seen so far, one JSON object a line:
{"path", "code", "auth", "etag", "if_none_match", "parent"}. The log is
also appended to --log. The --ready file is written once both ports listen.
"""
import argparse
import base64
import hashlib
import http.server
import json
import socketserver
import ssl
import sys
import threading

ARGS = None
LOG = []
LOG_LOCK = threading.Lock()


def record(entry):
    with LOG_LOCK:
        LOG.append(entry)
        with open(ARGS.log, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")


def meta(obj, key, default=None):
    return (obj or {}).get("metadata", {}).get(key, default)


def children_of(req, kind_key):
    return (req.get("children") or {}).get(kind_key) or {}


# ------------------------------------------------------------------ hooks

# Without generateSelector, metacontroller claims the children that match
# the parent's spec.selector: every parent of the suite has
# {matchLabels: {e2e.coxswain.io/parent: <its name>}}, and its children
# carry that label.
PARENT_LABEL = "e2e.coxswain.io/parent"


def claimed(parent, child):
    child["metadata"].setdefault("labels", {})[PARENT_LABEL] = meta(parent, "name")
    return child


def propagation_customize(req):
    spec = req["parent"].get("spec", {})
    return {"relatedResources": [
        {"apiVersion": "v1", "resource": "namespaces",
         "labelSelector": {"matchLabels": spec.get("namespaceLabels", {})}},
        {"apiVersion": "v1", "resource": "configmaps",
         "namespace": spec["sourceNamespace"], "names": [spec["sourceName"]]},
    ]}


def propagation_sync(req):
    spec = req["parent"].get("spec", {})
    related = req.get("related") or {}
    namespaces = sorted(meta(o, "name") for o in (related.get("Namespace.v1") or {}).values())
    sources = list((related.get("ConfigMap.v1") or {}).values())
    data = sources[0].get("data", {}) if sources else None
    children = []
    if data is not None:
        for ns in namespaces:
            if ns == spec["sourceNamespace"]:
                continue
            children.append(claimed(req["parent"], {"apiVersion": "v1", "kind": "ConfigMap",
                                                    "metadata": {"name": spec["sourceName"], "namespace": ns},
                                                    "data": data}))
    return {"status": {"namespaces": namespaces, "source": "found" if data is not None else "missing",
                       "relatedKeys": sorted(k for v in related.values() for k in v)},
            "children": children}


def decorate_sync(req):
    pod = req["object"]
    name = meta(pod, "name")
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": f"{name}-svc", "namespace": meta(pod, "namespace")},
           "spec": {"selector": {"e2e.coxswain.io/pod": name},
                    "ports": [{"port": 80, "targetPort": 8080}]}}
    seen = sorted((req.get("attachments") or {}).get("Service.v1", {}) or {})
    return {"labels": {"e2e.coxswain.io/exposed": "true",
                       "e2e.coxswain.io/attachments-seen": str(len(seen))},
            "annotations": {"e2e.coxswain.io/service": f"{name}-svc"},
            "attachments": [svc]}


def rolling_sync(req):
    parent = req["parent"]
    spec = parent.get("spec", {})
    name = meta(parent, "name")
    children = [claimed(parent, {"apiVersion": "mc.e2e.coxswain.io/v1", "kind": "Gizmo",
                                 "metadata": {"name": f"{name}-{i}", "namespace": meta(parent, "namespace")},
                                 "spec": {"version": spec.get("version", "v1")}})
                for i in range(int(spec.get("replicas", 1)))]
    observed = children_of(req, "Gizmo.mc.e2e.coxswain.io/v1")
    return {"status": {"versions": sorted(o.get("spec", {}).get("version", "") for o in observed.values())},
            "children": children}


def fleet_children(parent, replicas):
    name = meta(parent, "name")
    return [{"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": name, "namespace": meta(parent, "namespace"), "labels": {PARENT_LABEL: name}},
             "spec": {"replicas": replicas,
                      "selector": {"matchLabels": {"e2e.coxswain.io/fleet": name}},
                      "template": {"metadata": {"labels": {"e2e.coxswain.io/fleet": name}},
                                   "spec": {"containers": [{"name": "c", "image": "registry.invalid/none:1"}]}}}}]


def fleet_sync(req):
    parent = req["parent"]
    return {"status": {"phase": "running"},
            "children": fleet_children(parent, int(parent.get("spec", {}).get("replicas", 1)))}


def fleet_finalize(req):
    parent = req["parent"]
    observed = children_of(req, "Deployment.apps/v1")
    replicas = sorted(o.get("spec", {}).get("replicas", 1) for o in observed.values())
    allowed = meta(parent, "annotations", {}).get("e2e.coxswain.io/finalized") == "true"
    done = allowed and all(r == 0 for r in replicas)
    return {"status": {"phase": "draining", "replicas": replicas},
            "children": fleet_children(parent, 0),
            "finalized": done}


def spread_sync(req):
    parent = req["parent"]
    spec = parent.get("spec", {})
    name = meta(parent, "name")
    children = [claimed(parent, {"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": name, "namespace": ns}, "data": {"from": name}})
                for ns in spec.get("namespaces", [])]
    children.append(claimed(parent, {"apiVersion": "mc.e2e.coxswain.io/v1", "kind": "Badge",
                                     "metadata": {"name": name}, "spec": {"holder": name}}))
    keys = {kind: sorted(objs) for kind, objs in (req.get("children") or {}).items()}
    return {"status": {"keys": keys, "kinds": sorted(req.get("children") or {})}, "children": children}


def podset_sync(req):
    parent = req["parent"]
    uid, name = meta(parent, "uid"), meta(parent, "name")
    children = [{"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": f"{name}-{i}", "namespace": meta(parent, "namespace"),
                              "labels": {"controller-uid": uid}},
                 "spec": {"containers": [{"name": "c", "image": "registry.invalid/none:1"}]}}
                for i in range(int(parent.get("spec", {}).get("replicas", 1)))]
    observed = sorted(children_of(req, "Pod.v1"))
    return {"status": {"observed": observed}, "children": children}


def secure_sync(req, mode):
    return {"status": {"auth": f"{mode}-ok"}, "children": []}


def etag_sync(req):
    parent = req["parent"]
    return {"status": {"echo": parent.get("spec", {}).get("message", "")},
            "children": [claimed(parent, {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": meta(parent, "name"),
                                                       "namespace": meta(parent, "namespace")},
                                          "data": {"message": parent.get("spec", {}).get("message", "")}})]}


def unknown_field_sync(req):
    body = etag_sync(req)
    body["unknownField"] = True
    return body


ROUTES = {
    "/propagation/customize": propagation_customize,
    "/propagation/sync": propagation_sync,
    "/decorate/sync": decorate_sync,
    "/rolling/sync": rolling_sync,
    "/fleet/sync": fleet_sync,
    "/fleet/finalize": fleet_finalize,
    "/spread/sync": spread_sync,
    "/podset/sync": podset_sync,
    "/etag/sync": etag_sync,
    "/unknown-field/sync": unknown_field_sync,
}


# ------------------------------------------------------------------ server

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # a kept connection's answers wait for no delayed ACK

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def do_GET(self):
        if self.path != "/log":
            return self.answer(404, {"error": "no such path"})
        with LOG_LOCK:
            text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in LOG).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def auth_result(self, mode):
        """'ok' when the request carries mode's credentials, else what is wrong."""
        tls = isinstance(self.connection, ssl.SSLSocket)
        if not tls:
            return "not over TLS"
        header = self.headers.get("Authorization", "")
        if mode == "bearer":
            return "ok" if header == f"Bearer {ARGS.token}" else f"Authorization {header!r}"
        if mode == "basic":
            want = "Basic " + base64.b64encode(f"{ARGS.user}:{ARGS.password}".encode()).decode()
            return "ok" if header == want else f"Authorization {header!r}"
        if mode == "mtls":
            cert = self.connection.getpeercert()
            if not cert:
                return "no client certificate"
            cn = dict(x[0] for x in cert.get("subject", ())).get("commonName")
            return "ok" if cn == ARGS.client_cn else f"client certificate CN {cn!r}"
        if mode == "ca":
            return "ok"
        return f"unknown mode {mode}"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        entry = {"path": self.path, "if_none_match": self.headers.get("If-None-Match")}
        try:
            req = json.loads(raw)
        except ValueError as e:
            entry.update(code=400, error=str(e))
            record(entry)
            return self.answer(400, {"error": f"not JSON: {e}"})
        parent = req.get("parent") or req.get("object") or {}
        entry["parent"] = meta(parent, "name")
        entry["controller"] = meta(req.get("controller"), "name")
        if self.path.startswith("/secure/"):
            mode = self.path[len("/secure/"):]
            entry["auth"] = self.auth_result(mode)
            if entry["auth"] != "ok":
                entry["code"] = 401
                record(entry)
                return self.answer(401, {"error": entry["auth"]})
            body = secure_sync(req, mode)
        elif self.path in ROUTES:
            try:
                body = ROUTES[self.path](req)
            except Exception as e:  # a bad request is the test's finding
                entry.update(code=500, error=f"{type(e).__name__}: {e}")
                record(entry)
                return self.answer(500, {"error": entry["error"]})
        else:
            entry["code"] = 404
            record(entry)
            return self.answer(404, {"error": "no such path"})
        headers = {}
        if self.path == "/etag/sync":
            etag = '"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16] + '"'
            entry["etag"] = etag
            headers["ETag"] = etag
            if self.headers.get("If-None-Match") == etag:
                entry["code"] = 304
                record(entry)
                return self.answer(304, None, headers)
        entry["code"] = 200
        record(entry)
        self.answer(200, body, headers)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global ARGS
    p = argparse.ArgumentParser()
    for flag in ("--cert", "--key", "--ca", "--token", "--user", "--password", "--client-cn", "--log", "--ready"):
        p.add_argument(flag, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls-port", type=int, required=True)
    ARGS = p.parse_args()
    plain = Server(("127.0.0.1", ARGS.port), Handler)
    tls = Server(("127.0.0.1", ARGS.tls_port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    ctx.load_verify_locations(ARGS.ca)
    # Optional: the mTLS path checks for the certificate itself, the others
    # work without one.
    ctx.verify_mode = ssl.CERT_OPTIONAL
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    with open(ARGS.ready, "w") as f:
        f.write("ready\n")
    try:
        tls.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
