#!/usr/bin/env python3
"""Sync hook of the Website example (metacontroller's hook contract).

Reads {"controller", "parent", "children", "finalizing"} on stdin and writes
{"status", "children"} on stdout: a ConfigMap holding the page, a Deployment
of nginx serving it, and a Service in front. Python's standard library only.
"""
import html
import json
import sys

THEMES = {"light": ("#ffffff", "#1a1a1a"), "dark": ("#1a1a1a", "#f0f0f0")}


def page(spec):
    background, foreground = THEMES[spec.get("theme", "light")]
    title = html.escape(spec["title"])
    body = html.escape(spec.get("body", ""))
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>body{{background:{background};color:{foreground};font-family:sans-serif}}</style>"
            f"</head><body><h1>{title}</h1><p>{body}</p></body></html>\n")


def desired(site):
    name = site["metadata"]["name"]
    spec = site["spec"]
    labels = {"app.kubernetes.io/name": "website", "app.kubernetes.io/instance": name}
    config_map = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"{name}-page", "labels": labels},
        "data": {"index.html": page(spec)},
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": spec.get("replicas", 1),
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": "nginx",
                        "image": spec.get("image", "nginx:1.27-alpine"),
                        "ports": [{"containerPort": 80, "name": "http"}],
                        "volumeMounts": [{"name": "page", "mountPath": "/usr/share/nginx/html"}],
                    }],
                    "volumes": [{"name": "page", "configMap": {"name": f"{name}-page"}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    return [config_map, deployment, service]


def main():
    request = json.load(sys.stdin)
    site = request["parent"]
    name, namespace = site["metadata"]["name"], site["metadata"]["namespace"]
    observed = request["children"]
    children = desired(site)
    missing = [f"{c['kind']}/{c['metadata']['name']}" for c in children
               if c["metadata"]["name"] not in observed.get(f"{c['kind']}.{c['apiVersion']}", {})]
    status = {"url": f"http://{name}.{namespace}.svc", "replicas": site["spec"].get("replicas", 1)}
    if site["spec"].get("replicas", 1) == 0:
        status["ready"] = False
        status["message"] = "spec.replicas is 0: nothing serves the page; set it to 1 or more"
    elif missing:
        status["ready"] = False
        status["message"] = "waiting for " + ", ".join(missing)
    else:
        status["ready"] = True
        status["message"] = "the page, its server and its Service are in place"
    json.dump({"status": status, "children": children}, sys.stdout)


if __name__ == "__main__":
    main()
