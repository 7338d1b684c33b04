#!/usr/bin/env python3
"""Checks for tests/e2e/test_deploy.sh, one per subcommand. Each prints what
is wrong and exits 1, or exits 0 silently (a `list` subcommand prints lines).
Standard library only: objects come as JSON from `kubectl ... -o json`.

  pod OBJECTS HOOK             the Deployment, its ConfigMaps and config agree
  monitor OBJECTS SERVICEMONITOR   selector, namespace and port match the Service
  dashboard DASHBOARD SCRAPE   every metric the dashboard queries is in SCRAPE
  granted OBJECTS              the RBAC rules as "group resource verb scope"
  requests LOG                 coxswain's API requests (-v 6 JSON log), same form
  isolate OBJECTS NS PREFIX    rbac.yaml's roles bound to ServiceAccount NS/coxswain
  scaleout OBJECTS MAKE_KEYS   deploy/ with the scale-out component: the watcher's
                               pod, the worker pods, the job Service, the keys agree
  metacontroller OBJECTS BASE  deploy/ with the metacontroller component against
                               deploy/ alone: args, config, RBAC
"""
import json
import re
import sys

problems = []


def problem(msg):
    problems.append(msg)


def finish():
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


def load_objects(path):
    with open(path) as f:
        doc = json.load(f)
    return doc["items"] if doc.get("kind") == "List" else [doc]


def find(objects, kind, name=None, prefix=None):
    found = [o for o in objects if o["kind"] == kind and
             (name is None or o["metadata"]["name"] == name) and
             (prefix is None or o["metadata"]["name"].startswith(prefix))]
    return found[0] if len(found) == 1 else None


# ------------------------------------------------------------------ pod

def arg_value(args, flag):
    """--flag=value or --flag value in a container's args."""
    for i, a in enumerate(args):
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
        if a == flag and i + 1 < len(args):
            return args[i + 1]
    return None


def mount_for(container, path):
    """The volumeMount whose mountPath contains path, and the rest of the path."""
    best = None
    for m in container.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best[0]["mountPath"].rstrip("/")):
                best = (m, path[len(mp):].lstrip("/"))
    return best


def check_pod(objects_path, hook_path):
    objects = load_objects(objects_path)
    dep = find(objects, "Deployment", "coxswain")
    if not dep:
        problem("no Deployment coxswain")
        return
    spec = dep["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in spec["containers"]}
    if sorted(containers) != ["watcher", "worker"]:
        problem(f"containers are {sorted(containers)}, expected watcher and worker")
        return
    watcher, worker = containers["watcher"], containers["worker"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}

    # The config: the --config path is a key of a mounted ConfigMap that exists.
    config_text = None
    for c in (watcher, worker):
        path = arg_value(c.get("args", []), "--config")
        m = mount_for(c, path or "")
        if not path or not m:
            problem(f"{c['name']}: --config {path} is not on a mounted volume")
            continue
        vol = volumes.get(m[0]["name"], {})
        cm = find(objects, "ConfigMap", vol.get("configMap", {}).get("name"))
        if not cm or m[1] not in cm.get("data", {}):
            problem(f"{c['name']}: --config {path}: no key {m[1]} in the ConfigMap of volume {m[0]['name']}")
            continue
        config_text = cm["data"][m[1]]
    if config_text is None:
        return

    # The config's fields (flow-style YAML, read with patterns: no PyYAML on
    # a fresh machine).
    def field(pattern):
        m = re.search(pattern, config_text, re.M)
        if not m:
            problem(f"the config has no match for {pattern}")
        return m.group(1) if m else ""
    endpoint = field(r'^\s*endpoint:\s*"?([^"\s]+)')
    health_port = field(r'^\s*healthAddress:\s*"?[^"\s]*:(\d+)')
    metrics_port = field(r'^\s*metricsAddress:\s*"?[^"\s]*:(\d+)')
    hook = field(r'sync:\s*\{\s*exec:\s*\{\s*command:\s*\[\s*"([^"]+)"')
    timeouts = [int(t) for t in re.findall(r'timeoutSeconds:\s*(\d+)', config_text)]
    lease_ns = field(r'leaderElection:\s*\{[^}]*namespace:\s*([a-z0-9-]+)')

    # The ipc socket is on a volume both containers share, an emptyDir.
    if not endpoint.startswith("ipc://"):
        problem(f"watcher.endpoint {endpoint}: expected ipc:// (the containers share a volume, not a port)")
    else:
        sock = endpoint[len("ipc://"):]
        mw, mk = mount_for(watcher, sock), mount_for(worker, sock)
        if not mw or not mk or mw[0]["name"] != mk[0]["name"]:
            problem(f"the socket {sock} is not on one volume mounted in both containers")
        elif "emptyDir" not in volumes.get(mw[0]["name"], {}):
            problem(f"the socket's volume {mw[0]['name']} is not an emptyDir")
        elif mw[0].get("readOnly") or mk[0].get("readOnly"):
            problem("the socket's volume is mounted read-only")

    # The hook: in the worker container, on a ConfigMap volume, executable,
    # holding the example's hook.py.
    m = mount_for(worker, hook)
    if not m:
        problem(f"the sync hook {hook} is not on a volume of the worker container")
    else:
        vol = volumes.get(m[0]["name"], {})
        cmv = vol.get("configMap")
        cm = find(objects, "ConfigMap", cmv.get("name")) if cmv else None
        if not cm:
            problem(f"the hook's volume {m[0]['name']} is not a ConfigMap that exists")
        else:
            mode = cmv.get("defaultMode", 0o644)
            for item in cmv.get("items", []):
                if item["path"] == m[1]:
                    mode = item.get("mode", mode)
            if mode & 0o555 != 0o555:
                problem(f"the hook's mode is {oct(mode)}: not executable by every user (the pod runs as non-root)")
            with open(hook_path) as f:
                if cm.get("data", {}).get(m[1]) != f.read():
                    problem(f"the hook ConfigMap's key {m[1]} is not {hook_path}")

    # Ports and probes.
    ports = {p.get("name"): p["containerPort"] for p in watcher.get("ports", [])}
    if str(ports.get("health")) != health_port:
        problem(f"port health {ports.get('health')} is not the config's healthAddress port {health_port}")
    if str(ports.get("metrics")) != metrics_port:
        problem(f"port metrics {ports.get('metrics')} is not the config's metricsAddress port {metrics_port}")
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = watcher.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") not in ("health", ports.get("health")):
            problem(f"watcher {probe}: {get}, expected {path} on port health")

    # Workers from the environment.
    env = {e["name"]: e.get("value") for e in worker.get("env", [])}
    if not re.fullmatch(r"[1-9][0-9]*", env.get("COXSWAIN_WORKERS") or ""):
        problem(f"worker: COXSWAIN_WORKERS is {env.get('COXSWAIN_WORKERS')!r}, expected a count")

    # Hardening, container by container (pod-level settings count).
    psc = spec.get("securityContext", {})
    for c in (watcher, worker):
        sc = c.get("securityContext", {})
        name = c["name"]
        if not sc.get("runAsNonRoot", psc.get("runAsNonRoot")):
            problem(f"{name}: runAsNonRoot is not true")
        if sc.get("readOnlyRootFilesystem") is not True:
            problem(f"{name}: readOnlyRootFilesystem is not true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problem(f"{name}: allowPrivilegeEscalation is not false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            problem(f"{name}: capabilities.drop is not [ALL]")
        if sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type") != "RuntimeDefault":
            problem(f"{name}: seccompProfile is not RuntimeDefault")
        res = c.get("resources", {})
        if not res.get("requests", {}).get("cpu") or not res.get("requests", {}).get("memory") \
                or not res.get("limits", {}).get("memory"):
            problem(f"{name}: resources need cpu and memory requests and a memory limit, got {res}")

    # Draining: the grace period covers the drain deadline, which covers the
    # longest hook.
    drain = arg_value(watcher.get("args", []), "--drain-timeout")
    grace = spec.get("terminationGracePeriodSeconds")
    if drain is None or grace is None:
        problem(f"--drain-timeout {drain}, terminationGracePeriodSeconds {grace}: both must be set")
    else:
        if grace != int(drain) + 5:
            problem(f"terminationGracePeriodSeconds {grace} is not --drain-timeout {drain} + 5 s to exit")
        if timeouts and int(drain) <= max(timeouts):
            problem(f"--drain-timeout {drain} does not cover the longest hook timeout {max(timeouts)}")

    # Identity: the ServiceAccount RBAC binds; the Lease where its Role is.
    sa = spec.get("serviceAccountName")
    if not find(objects, "ServiceAccount", sa) or find(objects, "ServiceAccount", sa)["metadata"]["namespace"] \
            != dep["metadata"]["namespace"]:
        problem(f"serviceAccountName {sa} is not a ServiceAccount in the Deployment's namespace")
    role = find(objects, "Role", prefix="coxswain")
    if not role or role["metadata"]["namespace"] != lease_ns:
        problem(f"the Lease namespace {lease_ns} has no coxswain Role (leases)")


# ------------------------------------------------------------------ scale-out

def secret_items(make_keys_path):
    """Secret name -> the item names make-keys.sh stores in it."""
    items = {}
    with open(make_keys_path) as f:
        for line in f:
            m = re.match(r'^secret\s+(\S+)\s+(.*)$', line.strip())
            if m:
                items[m.group(1)] = set(re.findall(r'--from-file=([^=\s]+)=', m.group(2)))
    return items


def check_scaleout(objects_path, make_keys_path):
    objects = load_objects(objects_path)
    items = secret_items(make_keys_path)
    dep, wdep = find(objects, "Deployment", "coxswain"), find(objects, "Deployment", "coxswain-worker")
    svc, pol = find(objects, "Service", "coxswain-jobs"), find(objects, "NetworkPolicy", "coxswain-jobs")
    for what, o in (("Deployment coxswain", dep), ("Deployment coxswain-worker", wdep),
                    ("Service coxswain-jobs", svc), ("NetworkPolicy coxswain-jobs", pol)):
        if not o:
            problem(f"no {what}")
    if problems:
        return
    spec, wspec = dep["spec"]["template"]["spec"], wdep["spec"]["template"]["spec"]
    if [c["name"] for c in spec["containers"]] != ["watcher"]:
        problem(f"the coxswain pod runs {[c['name'] for c in spec['containers']]}, expected the watcher alone")
        return
    watcher, worker = spec["containers"][0], wspec["containers"][0]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    wvolumes = {v["name"]: v for v in wspec.get("volumes", [])}

    cm = find(objects, "ConfigMap", "coxswain-config")
    config_text = cm["data"]["coxswain.yaml"] if cm else ""

    def field(pattern):
        m = re.search(pattern, config_text, re.M)
        if not m:
            problem(f"the config has no match for {pattern}")
        return m.group(1) if m else ""
    bind_port = field(r'^\s*endpoint:\s*"?tcp://[^:"\s]+:(\d+)')
    watcher_key = field(r'^\s*curve:\s*\n\s*#[^\n]*\n\s*secretKeyFile:\s*(\S+)')
    authorized = field(r'^\s*authorizedKeys:\s*(\S+)')
    worker_key = field(r'^\s*worker:\s*\n\s*curve:\s*\n(?:\s*#[^\n]*\n)?\s*secretKeyFile:\s*(\S+)')
    server_pub = field(r'^\s*serverPublicKeyFile:\s*(\S+)')

    # The watcher's pod exposes the bound port as "jobs"; the Service and
    # the workers' --endpoint lead there.
    ports = {p.get("name"): p["containerPort"] for p in watcher.get("ports", [])}
    if str(ports.get("jobs")) != bind_port:
        problem(f"the watcher binds port {bind_port}, its container port jobs is {ports.get('jobs')}")
    if not labels_match(svc["spec"]["selector"], dep["spec"]["template"]["metadata"]["labels"]):
        problem("the Service coxswain-jobs does not select the watcher's pod")
    sport = [p for p in svc["spec"]["ports"] if p.get("targetPort") == "jobs"]
    if not sport:
        problem("the Service coxswain-jobs has no port whose targetPort is jobs")
        return
    want = f"tcp://coxswain-jobs.{svc['metadata']['namespace']}.svc:{sport[0]['port']}"
    if arg_value(worker.get("args", []), "--endpoint") != want:
        problem(f"the workers' --endpoint is {arg_value(worker.get('args', []), '--endpoint')}, expected {want}")

    # Each pod is its own worker set, named after it.
    if arg_value(worker.get("args", []), "--worker-set") != "$(POD_NAME)":
        problem("the workers' --worker-set is not $(POD_NAME)")
    env = {e["name"]: e for e in worker.get("env", [])}
    if env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.name":
        problem("POD_NAME is not the pod's metadata.name")
    cpath = arg_value(worker.get("args", []), "--config") or ""
    cm_mount = mount_for(worker, cpath)
    if not cm_mount or wvolumes.get(cm_mount[0]["name"], {}).get("configMap", {}).get("name") != "coxswain-config":
        problem(f"the workers' --config {cpath} is not the ConfigMap coxswain-config")

    # Every key path is an item make-keys.sh stores, in a Secret volume that
    # the pod's group can read (0440 and fsGroup = runAsGroup).
    def key_on(container, vols, pod, path, secret, item):
        m = mount_for(container, path)
        vol = vols.get(m[0]["name"], {}) if m else {}
        sec = vol.get("secret", {})
        if sec.get("secretName") != secret:
            problem(f"{container['name']}: {path} is not on a volume of Secret {secret}")
            return
        if m[1] != item or (item and item not in items.get(secret, set())):
            problem(f"{container['name']}: {path}: make-keys.sh stores no item {m[1]} in {secret}")
        if sec.get("defaultMode") != 0o440:
            problem(f"the volume of Secret {secret} has defaultMode {sec.get('defaultMode')}, expected 0440")
        ctx = pod.get("securityContext", {})
        if ctx.get("fsGroup") is None or ctx.get("fsGroup") != ctx.get("runAsGroup"):
            problem(f"{container['name']}'s pod: fsGroup {ctx.get('fsGroup')} is not its runAsGroup")
    key_on(watcher, volumes, spec, watcher_key, "coxswain-curve-watcher", "watcher.key")
    key_on(watcher, volumes, spec, authorized, "coxswain-curve-workers", "")
    key_on(worker, wvolumes, wspec, worker_key, "coxswain-curve-worker", "worker.key")
    key_on(worker, wvolumes, wspec, server_pub, "coxswain-curve-worker", "watcher.pub")
    if set(items) != {"coxswain-curve-watcher", "coxswain-curve-worker", "coxswain-curve-workers"}:
        problem(f"make-keys.sh makes the Secrets {sorted(items)}")
    if spec.get("securityContext", {}).get("runAsUser") != wspec.get("securityContext", {}).get("runAsUser"):
        problem("the watcher's and the workers' pods run as different users")

    # The NetworkPolicy: the worker pods, and only they, reach "jobs".
    if not labels_match(pol["spec"]["podSelector"]["matchLabels"], dep["spec"]["template"]["metadata"]["labels"]):
        problem("the NetworkPolicy does not select the watcher's pod")
    jobs_rules = [r for r in pol["spec"].get("ingress", [])
                  if any(p.get("port") == "jobs" for p in r.get("ports", []))]
    if len(jobs_rules) != 1 or not all(
            "podSelector" in f and labels_match(f["podSelector"]["matchLabels"], wdep["spec"]["template"]["metadata"]["labels"])
            for f in jobs_rules[0].get("from", [{}])):
        problem("the NetworkPolicy does not limit port jobs to the worker pods")


# ------------------------------------------------------------------ monitor

def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def check_monitor(objects_path, sm_path):
    objects = load_objects(objects_path)
    sm = load_objects(sm_path)[0]
    spec = sm["spec"]
    selector = spec.get("selector", {})
    if set(selector) - {"matchLabels"} or not selector.get("matchLabels"):
        problem(f"selector {selector}: expected matchLabels only")
        return
    ns_names = spec.get("namespaceSelector", {}).get("matchNames", [sm["metadata"]["namespace"]])
    services = [o for o in objects if o["kind"] == "Service" and o["metadata"]["namespace"] in ns_names and
                labels_match(selector["matchLabels"], o["metadata"].get("labels", {}))]
    if len(services) != 1:
        problem(f"the ServiceMonitor selects {len(services)} Services in {ns_names}, expected exactly one")
        return
    svc = services[0]
    port_names = {p.get("name"): p for p in svc["spec"]["ports"]}
    for ep in spec.get("endpoints", []):
        if ep.get("port") not in port_names:
            problem(f"endpoint port {ep.get('port')} is not a port name of Service {svc['metadata']['name']} "
                    f"({sorted(port_names)})")
        if ep.get("path", "/metrics") != "/metrics":
            problem(f"endpoint path {ep.get('path')} is not /metrics")
    if not spec.get("endpoints"):
        problem("no endpoints")
    # The Service reaches the watcher's metrics port.
    dep = find(objects, "Deployment", "coxswain")
    tmpl = dep["spec"]["template"]
    if not labels_match(svc["spec"].get("selector", {}), tmpl["metadata"].get("labels", {})) \
            or not svc["spec"].get("selector"):
        problem(f"Service {svc['metadata']['name']}'s selector does not select the coxswain pods")
    cports = {p.get("name"): p["containerPort"] for c in tmpl["spec"]["containers"] for p in c.get("ports", [])}
    for ep in spec.get("endpoints", []):
        target = port_names.get(ep.get("port"), {}).get("targetPort")
        if target not in cports and target not in cports.values():
            problem(f"Service port {ep.get('port')} targets {target}, which no container port is")


# ------------------------------------------------------------------ dashboard

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "inf", "nan", "le"}


def expr_metrics(expr):
    """Metric names in a PromQL expression (or a Grafana label_values() query):
    identifiers that are not functions (followed by "("), keywords, label
    names (inside {} or a by/without/on/ignoring list), strings, durations or
    Grafana variables."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)               # strings
    e = re.sub(r"\$\{?\w+\}?", "", e)                             # $vars, ${vars}
    e = re.sub(r"\{[^}]*\}", "", e)                               # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                              # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    e = re.sub(r"label_values\(([^,()]*),[^)]*\)", r"\1", e)      # label_values(metric, label)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
            continue                                              # 1e-3, 0.99
        names.add(word)
    return names


def label_lists(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    labels = set()
    for m in re.finditer(r"\b(?:by|without)\s*\(([^)]*)\)", e):
        labels |= {x.strip() for x in m.group(1).split(",") if x.strip()}
    for m in re.finditer(r"\{([^}]*)\}", e):
        labels |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(1)))
    return labels


def parse_scrape(path):
    """Sample names with their label names, and family types, from a scrape."""
    samples, types = {}, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("# TYPE "):
                _, _, name, typ = line.split(None, 3)
                types[name] = typ
            elif line and not line.startswith("#"):
                m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{([^}]*)\})?", line)
                labels = set(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="', m.group(3) or ""))
                samples.setdefault(m.group(1), set()).update(labels)
    return samples, types


# Labels Prometheus adds to every target's series (ServiceMonitor defaults).
TARGET_LABELS = {"namespace", "pod", "job", "instance", "service", "container", "endpoint"}


def family_of(name, types):
    """The family a sample name belongs to: a histogram's _bucket, _sum and
    _count, a summary's _sum and _count; anything else is its own family."""
    for suffix, kinds in (("_bucket", {"histogram"}), ("_sum", {"histogram", "summary"}),
                          ("_count", {"histogram", "summary"})):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) in kinds:
            return name[: -len(suffix)]
    return name


def dashboard_exprs(dash):
    exprs = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    exprs.append((p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if v.get("type") == "query" and q:
            exprs.append((f"variable {v['name']}", q))
    return exprs


def check_dashboard(dash_path, scrape_path):
    with open(dash_path) as f:
        dash = json.load(f)
    samples, types = parse_scrape(scrape_path)
    exprs = dashboard_exprs(dash)
    if not exprs:
        problem("the dashboard has no queries")
    used = set()
    for title, expr in exprs:
        names = expr_metrics(expr)
        if not names:
            problem(f"{title}: no metric found in {expr}")
        present = set()
        for n in names:
            used.add(n)
            fam = family_of(n, types)
            if n not in samples:
                hint = " (a histogram: query _bucket, _sum or _count)" if types.get(n) == "histogram" else ""
                problem(f"{title}: {n} is not in the scrape{hint}")
            elif fam == n and n not in types:
                problem(f"{title}: {n} has samples but no # TYPE")
            else:
                present |= samples[n]
        for label in label_lists(expr) - TARGET_LABELS:
            if present and label not in present:
                problem(f"{title}: label {label} is on none of {sorted(names)}")
    # The dashboard covers what the deploy issue asks for.
    for must in ("workqueue_depth", "controller_runtime_reconcile_total",
                 "controller_runtime_reconcile_time_seconds_bucket", "coxswain_worker_restarts_total",
                 "coxswain_poisoned_objects", "rest_client_requests_total"):
        if must not in used:
            problem(f"the dashboard does not query {must}")
    ids = [p["id"] for p in dash.get("panels", [])]
    if len(ids) != len(set(ids)):
        problem("panel ids are not unique")
    ds = [v for v in dash.get("templating", {}).get("list", []) if v.get("type") == "datasource"]
    if not ds:
        problem("no datasource variable")
    print(f"# {len(exprs)} queries over {len(used)} metrics: {' '.join(sorted(used))}")


# ------------------------------------------------------------------ RBAC

def check_granted(objects_path):
    """Lines "group resource verb scope" for the coxswain ServiceAccount's
    rules (scope: cluster, or the Role's namespace)."""
    objects = load_objects(objects_path)
    out = set()
    for o in objects:
        if o["kind"] not in ("ClusterRole", "Role"):
            continue
        scope = "cluster" if o["kind"] == "ClusterRole" else o["metadata"]["namespace"]
        for rule in o.get("rules") or []:
            for g in rule.get("apiGroups", []):
                for r in rule.get("resources", []):
                    for v in rule.get("verbs", []):
                        out.add(f"{g or 'core'} {r} {v} {scope}")
                        if rule.get("resourceNames"):
                            out.add(f"{g or 'core'} {r} {v} {scope} (names)")
    for line in sorted(out):
        print(line)


def isolate(objects_path, namespace, prefix):
    """rbac.yaml's ClusterRoles and Roles, renamed PREFIX (PREFIX-2, PREFIX-3
    ... after the first) and bound to the ServiceAccount coxswain in
    NAMESPACE instead (a Role stays in its namespace): the permissions of
    rbac.yaml alone, on an identity no other test binds anything to. An
    aggregationRule is kept with its selectors replaced by one for the label
    e2e.coxswain.io/isolated: PREFIX, so that only the test's own
    ClusterRoles are aggregated into the copy (never another test's, and
    the test's own never into the real one)."""
    objects = load_objects(objects_path)
    sa = {"kind": "ServiceAccount", "name": "coxswain", "namespace": namespace}
    out = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "coxswain", "namespace": namespace}}]
    n = 0
    for o in objects:
        if o["kind"] not in ("ClusterRole", "Role"):
            continue
        n += 1
        meta = {"name": prefix if n == 1 else f"{prefix}-{n}"}
        if o["kind"] == "Role":
            meta["namespace"] = o["metadata"]["namespace"]
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": o["kind"], "metadata": meta,
                "rules": o.get("rules") or []}
        if "aggregationRule" in o:
            role["aggregationRule"] = {"clusterRoleSelectors": [
                {"matchLabels": {"e2e.coxswain.io/isolated": prefix}}]}
        out.append(role)
        out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": o["kind"] + "Binding",
                    "metadata": dict(meta), "subjects": [sa],
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": o["kind"], "name": meta["name"]}})
    print(json.dumps({"apiVersion": "v1", "kind": "List", "items": out}, indent=1))


# ------------------------------------------------------------------ metacontroller

AGGREGATE_LABEL = "coxswain.io/aggregate-to-metacontroller"
CRD_WRITES = {"create", "update", "patch", "delete", "deletecollection", "*"}


def check_metacontroller(objects_path, base_path):
    """deploy/ with the metacontroller component (OBJECTS) against deploy/
    alone (BASE): the watcher alone gains --metacontroller-live, the config
    has no controllers, the Website example's CRD and RBAC are gone, nothing
    may write a CRD or a controller object, Secrets are not granted, and the
    aggregated ClusterRole selects the documented label and is bound to
    coxswain's ServiceAccount."""
    objects, base = load_objects(objects_path), load_objects(base_path)
    dep, base_dep = find(objects, "Deployment", "coxswain"), find(base, "Deployment", "coxswain")
    if not dep or not base_dep:
        problem("no Deployment coxswain")
        return
    containers = {c["name"]: c for c in dep["spec"]["template"]["spec"]["containers"]}
    base_containers = {c["name"]: c for c in base_dep["spec"]["template"]["spec"]["containers"]}
    if sorted(containers) != sorted(base_containers):
        problem(f"containers are {sorted(containers)}, the base's {sorted(base_containers)}")
    for name, c in containers.items():
        want = base_containers.get(name, {}).get("args", [])
        if name == "watcher":
            want = want + ["--metacontroller-live"]
        if c.get("args", []) != want:
            problem(f"{name}: args {c.get('args')}, expected {want}")
    cm = find(objects, "ConfigMap", "coxswain-config")
    text = cm["data"].get("coxswain.yaml", "") if cm else ""
    if not re.search(r"^controllers:\s*\[\]\s*$", text, re.M):
        problem("coxswain.yaml: expected controllers: [] (the controllers come from the API)")
    # The same socket, ports and Lease as the base's (the pod, its probes
    # and the Service are the base's).
    base_cm = find(base, "ConfigMap", "coxswain-config")
    base_text = base_cm["data"].get("coxswain.yaml", "") if base_cm else ""
    for key in ("endpoint", "healthAddress", "metricsAddress", "leaderElection"):
        a = re.search(rf"^\s*{key}:.*$", text, re.M)
        b = re.search(rf"^\s*{key}:.*$", base_text, re.M)
        if not a or not b or a.group(0).strip() != b.group(0).strip():
            problem(f"coxswain.yaml watcher.{key} differs from deploy/config.yaml's")
    if any(o["kind"] == "CustomResourceDefinition" for o in objects):
        problem("a CustomResourceDefinition is in the build (the CRDs are deploy/metacontroller/crds, apart)")
    if find(objects, "ClusterRole", "coxswain") or find(objects, "ClusterRoleBinding", "coxswain"):
        problem("the Website example's ClusterRole coxswain (or its binding) is still there")
    bound = set()
    for o in objects:
        if o["kind"] in ("ClusterRoleBinding", "RoleBinding") and any(
                s.get("kind") == "ServiceAccount" and s.get("name") == "coxswain" and
                s.get("namespace") == "coxswain-system" for s in o.get("subjects", [])):
            bound.add((o["roleRef"]["kind"], o["roleRef"]["name"]))
    aggregated = []
    for o in objects:
        if o["kind"] not in ("ClusterRole", "Role"):
            continue
        name = o["metadata"]["name"]
        if (o["kind"], name) not in bound:
            problem(f"{o['kind']} {name} is bound to no one (expected the ServiceAccount coxswain)")
        for rule in o.get("rules") or []:
            groups, res, verbs = rule.get("apiGroups", []), rule.get("resources", []), set(rule.get("verbs", []))
            if "*" in groups or "*" in res:
                problem(f"{name}: a wildcard rule {rule}")
            if "apiextensions.k8s.io" in groups and verbs & CRD_WRITES:
                problem(f"{name}: writes CRDs ({sorted(verbs & CRD_WRITES)})")
            if "metacontroller.k8s.io" in groups and verbs - {"get", "list", "watch"}:
                problem(f"{name}: writes controller objects ({sorted(verbs - {'get', 'list', 'watch'})})")
            if "" in groups and "secrets" in res:
                problem(f"{name}: grants Secrets (grant them per namespace and name, controller-role-example.yaml)")
        if "aggregationRule" in o:
            aggregated.append(o)
            sels = o["aggregationRule"].get("clusterRoleSelectors", [])
            if sels != [{"matchLabels": {AGGREGATE_LABEL: "true"}}]:
                problem(f"{name}: aggregationRule selects {sels}, expected {AGGREGATE_LABEL}: \"true\"")
    if len(aggregated) != 1:
        problem(f"{len(aggregated)} aggregated ClusterRoles, expected 1")


VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def request_rbac(verb, path, code):
    """(group, resource, rbac verb, namespace) for an API request, or None for
    discovery and other non-resource paths."""
    path, _, query = path.partition("?")
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, rest = "core", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return []
    if not rest:
        return []
    ns = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        ns, rest = rest[1], rest[2:]
    resource = rest[0]
    named = len(rest) >= 2
    if len(rest) >= 3:
        resource += "/" + rest[2]
    if verb == "WATCH" or "watch=true" in query or "watch=1" in query:
        verbs = ["watch"]
    elif verb == "GET":
        verbs = ["get" if named else "list"]
    elif verb == "DELETE" and not named:
        verbs = ["deletecollection"]
    else:
        verbs = [VERBS.get(verb, verb.lower())]
    if verb == "PATCH" and code == "201":
        verbs.append("create")   # a server-side apply that created its object
    return [(group, resource, v, ns) for v in verbs]


def check_requests(log_path):
    """Lines "group resource verb namespace code" for every request and watch
    in a JSON log of coxswain at -v 6 (namespace "-" when cluster-wide)."""
    out = set()
    with open(log_path) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("msg") == "request":
                verb, path, code = rec.get("verb"), rec.get("path"), rec.get("code")
            elif rec.get("msg") == "watch started":
                verb, path, code = "WATCH", rec.get("path"), "200"
            else:
                continue
            for g, r, v, ns in request_rbac(verb, path, code):
                out.add(f"{g} {r} {v} {ns or '-'} {code}")
    for line in sorted(out):
        print(line)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "pod":
        check_pod(*args)
    elif cmd == "monitor":
        check_monitor(*args)
    elif cmd == "dashboard":
        check_dashboard(*args)
    elif cmd == "granted":
        check_granted(*args)
    elif cmd == "requests":
        check_requests(*args)
    elif cmd == "isolate":
        isolate(*args)
    elif cmd == "scaleout":
        check_scaleout(*args)
    elif cmd == "metacontroller":
        check_metacontroller(*args)
    else:
        sys.exit(f"unknown subcommand {cmd}")
    finish()


if __name__ == "__main__":
    main()
