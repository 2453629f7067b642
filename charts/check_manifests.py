"""Checks on a rendered chart that schemas cannot express; run by charts/test.sh.

Usage: check_manifests.py VALUES_FILE RENDERED_YAML. Prints each problem; exits 1 if any.
"""

import sys

import yaml


def rbac_problems(docs):
    for d in docs:
        if d["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in d.get("rules", []):
            for field in ("apiGroups", "resources", "verbs"):
                if "*" in rule.get(field, []):
                    yield f"{d['kind']} {d['metadata']['name']}: wildcard in {field}"


def restricted_problems(pod):
    """The `restricted` Pod Security Standard (v1.34), for what the chart can set."""
    psc = pod.get("securityContext", {})
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            yield f"pod sets {key}"
    for v in pod.get("volumes", []):
        if "hostPath" in v:
            yield f"hostPath volume {v['name']}"
    for c in pod.get("initContainers", []) + pod["containers"]:
        sc = c.get("securityContext", {})
        name = c["name"]
        if sc.get("privileged"):
            yield f"{name}: privileged"
        if sc.get("allowPrivilegeEscalation") is not False:
            yield f"{name}: allowPrivilegeEscalation must be false"
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            yield f"{name}: capabilities must drop ALL"
        if not sc.get("runAsNonRoot", psc.get("runAsNonRoot")):
            yield f"{name}: runAsNonRoot must be true"
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            yield f"{name}: runs as UID 0"
        seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"{name}: seccompProfile must be RuntimeDefault or Localhost"
        if any("hostPort" in p for p in c.get("ports", [])):
            yield f"{name}: hostPort"
        if not c.get("resources", {}).get("requests"):
            yield f"{name}: no resource requests"
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in c:
                yield f"{name}: no {probe}"


def expected_objects_problems(values, docs):
    kinds = {(d["kind"], d["metadata"].get("namespace")) for d in docs}
    env = {
        e["name"]: e.get("value")
        for d in docs
        if d["kind"] == "Deployment"
        for e in d["spec"]["template"]["spec"]["containers"][0].get("env", [])
    }
    if values.get("replicas", 1) > 1 and env.get("WHISPER_OPERATOR_LEADER_ELECTION") != "true":
        yield "replicas > 1 without leader election"
    if env.get("WHISPER_OPERATOR_LEADER_ELECTION") == "true":
        roles = [d for d in docs if d["kind"] == "Role" and d["metadata"]["name"].endswith("-leader-election")]
        if not roles:
            yield "leader election without a Lease Role"
        yield from lease_role_problems(roles, env.get("WHISPER_OPERATOR_LEASE_NAME"))
    watched = values.get("operator", {}).get("watchNamespaces", [])
    if watched:
        if any(k in ("ClusterRole", "ClusterRoleBinding") for k, _ in kinds):
            yield "namespace-limited install has cluster-wide RBAC"
        for ns in watched:
            if ("Role", ns) not in kinds or ("RoleBinding", ns) not in kinds:
                yield f"no Role/RoleBinding in watched namespace {ns}"
    elif ("ClusterRole", None) not in kinds:
        yield "cluster-wide install without a ClusterRole"
    if bool(values.get("serviceMonitor", {}).get("enabled")) != any(d["kind"] == "ServiceMonitor" for d in docs):
        yield "ServiceMonitor present/absent against serviceMonitor.enabled"
    if not any(d["kind"] == "CustomResourceDefinition" for d in docs):
        yield "CRD missing from the rendered chart"


def lease_role_problems(roles, lease):
    """The calls kube-lease-manager makes (operator/src/leader.rs): create on leases (the Lease
    may not exist yet), get and patch on the one Lease."""
    granted = set()
    for rule in (r for role in roles for r in role.get("rules", [])):
        if "coordination.k8s.io" in rule.get("apiGroups", []) and "leases" in rule.get("resources", []):
            names = rule.get("resourceNames") or [None]
            granted |= {(verb, name) for verb in rule.get("verbs", []) for name in names}
    for verb, name in (("create", None), ("get", lease), ("patch", lease)):
        if (verb, name) not in granted and (verb, None) not in granted:
            yield f"the leader-election Role does not grant {verb} on lease {name or '(any)'}"


def main(values_path, rendered_path):
    with open(values_path) as f:
        values = yaml.safe_load(f) or {}
    with open(rendered_path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    problems = list(rbac_problems(docs)) + list(expected_objects_problems(values, docs))
    for d in docs:
        if d["kind"] == "Deployment":
            problems += list(restricted_problems(d["spec"]["template"]["spec"]))
    for p in problems:
        print(f"  {values_path}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
