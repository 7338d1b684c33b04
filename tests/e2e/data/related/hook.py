#!/usr/bin/env python3
"""The hooks of tests/e2e/test_mc_related.sh (metacontroller's global
config map example, with a cluster-scoped GlobalConfigMap parent).

customize: selects the source ConfigMap by namespace and name, and the
Namespaces carrying spec.namespaceLabel by a label selector. spec.mode
"fail" makes it exit 1, "badresource" names a resource the API server does
not serve.

sync: a copy of the source's data, named after the parent, in every
selected namespace; status.namespaces lists them, status.related the keys
of the request's related map ("Kind.apiVersion" -> sorted keys)."""
import json
import sys

req = json.load(sys.stdin)
parent = req["parent"]
spec = parent.get("spec", {})

if sys.argv[1] == "customize":
    if spec.get("mode") == "fail":
        print("customize: refusing on purpose", file=sys.stderr)
        sys.exit(1)
    resource = "confgmaps" if spec.get("mode") == "badresource" else "configmaps"
    json.dump({"relatedResources": [
        {"apiVersion": "v1", "resource": resource, "namespace": spec["sourceNamespace"],
         "names": [spec["sourceName"]]},
        {"apiVersion": "v1", "resource": "namespaces",
         "labelSelector": {"matchLabels": {spec["namespaceLabel"]: "yes"}}},
    ]}, sys.stdout)
    sys.exit(0)

related = req["related"]
source = related.get("ConfigMap.v1", {}).get(spec["sourceNamespace"] + "/" + spec["sourceName"])
namespaces = sorted(related.get("Namespace.v1", {}).keys())
children = []
if source is not None:
    for ns in namespaces:
        children.append({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": parent["metadata"]["name"], "namespace": ns},
                         "data": source.get("data", {})})
json.dump({"status": {"namespaces": namespaces, "sourceFound": source is not None,
                      "related": {k: sorted(v.keys()) for k, v in sorted(related.items())}},
           "children": children}, sys.stdout)
