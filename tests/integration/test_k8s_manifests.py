#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""deploy/k8s rendered by `kubectl kustomize`, the base and the privileged
overlay, checked field by field: the objects and their names, RBAC rules
no wider than listed, the DaemonSet's host access (hostPID, read-only
mounts, the capability set), its probes, environment and resources, the
metrics Service wired to the pods' named port, the overlay changing
nothing but privilege, the sys-admin overlay nothing but CAP_SYS_ADMIN,
and an `images:` override as the README shows it."""
import copy
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import ROOT, check, finish  # noqa: E402

K8S = os.path.join(ROOT, "deploy", "k8s")
NS = "spanprobe"
CAPS = ["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH"]
OBJECTS = {("Namespace", "spanprobe", None), ("ServiceAccount", "spanprobe", NS),
           ("ClusterRole", "spanprobe", None), ("ClusterRoleBinding", "spanprobe", None),
           ("ConfigMap", "spanprobe-config", NS), ("DaemonSet", "spanprobe", NS),
           ("Service", "spanprobe-metrics", NS)}
RULES = {("", "pods", "get"), ("", "pods", "list"), ("", "pods", "watch"),
         ("apps", "replicasets", "get"), ("apps", "replicasets", "list"),
         ("apps", "replicasets", "watch"), ("", "nodes", "get")}
SETTINGS = {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
            "SPANPROBE_CLUSTER_NAME", "OTEL_RESOURCE_ATTRIBUTES"}


def render(path):
    p = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True,
                       timeout=120)
    ok = check(f"kubectl kustomize {os.path.relpath(path, ROOT)}: renders",
               p.returncode == 0, p.stderr[-1500:])
    return list(yaml.safe_load_all(p.stdout)) if ok else []


def by_kind(docs, kind):
    found = [d for d in docs if d["kind"] == kind]
    return found[0] if len(found) == 1 else None


def container_of(ds):
    cs = ds["spec"]["template"]["spec"]["containers"]
    return cs[0] if len(cs) == 1 else None


def check_objects(docs):
    got = {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) for d in docs}
    check("base: exactly Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding, "
          "ConfigMap, DaemonSet and Service, named and namespaced as documented",
          got == OBJECTS and len(docs) == len(OBJECTS), sorted(got ^ OBJECTS))


def check_rbac(docs):
    role, binding = by_kind(docs, "ClusterRole"), by_kind(docs, "ClusterRoleBinding")
    rules = set()
    extra = []
    for r in role["rules"]:
        extra += [k for k in r if k not in ("apiGroups", "resources", "verbs")]
        for g in r["apiGroups"]:
            for res in r["resources"]:
                for v in r["verbs"]:
                    rules.add((g, res, v))
    check("ClusterRole: exactly get/list/watch on pods and replicasets (apps), get on nodes",
          rules == RULES and not extra, (sorted(rules ^ RULES), extra))
    check("ClusterRole: no wildcard", not any("*" in x for rule in rules for x in rule))
    check("ClusterRoleBinding: the ClusterRole spanprobe to the ServiceAccount spanprobe/spanprobe",
          binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                 "name": "spanprobe"}
          and binding["subjects"] == [{"kind": "ServiceAccount", "name": "spanprobe",
                                       "namespace": NS}], binding)
    ds = by_kind(docs, "DaemonSet")
    check("DaemonSet: runs as the ServiceAccount spanprobe",
          ds["spec"]["template"]["spec"].get("serviceAccountName") == "spanprobe")


def check_pod(ds):
    pod = ds["spec"]["template"]["spec"]
    check("DaemonSet: hostPID, not hostNetwork nor hostIPC",
          pod.get("hostPID") is True and not pod.get("hostNetwork") and not pod.get("hostIPC"))
    check("DaemonSet: priorityClassName system-node-critical",
          pod.get("priorityClassName") == "system-node-critical")
    check("DaemonSet: tolerates every taint (operator Exists, no key)",
          pod.get("tolerations") == [{"operator": "Exists"}], pod.get("tolerations"))
    check("DaemonSet: rolling update, one node at a time",
          ds["spec"].get("updateStrategy") == {"type": "RollingUpdate",
                                               "rollingUpdate": {"maxUnavailable": 1}})
    check("DaemonSet: the selector matches the pod template's labels",
          ds["spec"]["selector"]["matchLabels"].items()
          <= ds["spec"]["template"]["metadata"]["labels"].items())
    c = container_of(ds)
    check("DaemonSet: image spanprobe:0.1.0", c["image"] == "spanprobe:0.1.0", c["image"])
    check("DaemonSet: args run --metrics-address 0.0.0.0:9464",
          c.get("args") == ["run", "--metrics-address", "0.0.0.0:9464"] and "command" not in c,
          c.get("args"))
    check("DaemonSet: container port 9464 named metrics",
          c.get("ports") == [{"name": "metrics", "containerPort": 9464, "protocol": "TCP"}],
          c.get("ports"))
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        check(f"DaemonSet: {probe} GET {path} on the metrics port",
              c.get(probe, {}).get("httpGet") == {"path": path, "port": "metrics"},
              c.get(probe))
    env = {e["name"]: e for e in c.get("env", [])}
    check("DaemonSet: NODE_NAME from the downward API spec.nodeName",
          env.get("NODE_NAME") == {"name": "NODE_NAME",
                                   "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
          env.get("NODE_NAME"))
    check("DaemonSet: the environment from the ConfigMap spanprobe-config",
          c.get("envFrom") == [{"configMapRef": {"name": "spanprobe-config"}}], c.get("envFrom"))
    res = c.get("resources", {})
    check("DaemonSet: requests of cpu and memory, a memory limit",
          set(res.get("requests", {})) == {"cpu", "memory"}
          and set(res.get("limits", {})) == {"memory"}, res)


def check_volumes(ds):
    pod = ds["spec"]["template"]["spec"]
    c = container_of(ds)
    mounts = c.get("volumeMounts", [])
    check("DaemonSet: every volume mounted read-only",
          mounts and all(m.get("readOnly") is True for m in mounts), mounts)
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    host = {v["hostPath"]["path"] for v in vols.values() if "hostPath" in v}
    check("DaemonSet: the one host path is /sys/kernel/btf, at the same place",
          host == {"/sys/kernel/btf"}
          and {"name": "btf", "mountPath": "/sys/kernel/btf", "readOnly": True} in mounts,
          (host, mounts))
    secret = vols.get("otlp-headers", {}).get("secret", {})
    check("DaemonSet: the OTLP headers Secret, optional, at /etc/spanprobe/otlp",
          secret.get("secretName") == "spanprobe-otlp-headers" and secret.get("optional") is True
          and {"name": "otlp-headers", "mountPath": "/etc/spanprobe/otlp",
               "readOnly": True} in mounts, (secret, mounts))
    check("DaemonSet: no volume but those two", set(vols) == {"btf", "otlp-headers"}, set(vols))


def check_security(ds, privileged):
    sc = container_of(ds).get("securityContext", {})
    pod_sc = ds["spec"]["template"]["spec"].get("securityContext", {})
    what = "overlay" if privileged else "base"
    check(f"{what}: privileged {str(privileged).lower()}, allowPrivilegeEscalation "
          f"{str(privileged).lower()}",
          sc.get("privileged") is privileged and sc.get("allowPrivilegeEscalation") is privileged,
          sc)
    check(f"{what}: readOnlyRootFilesystem", sc.get("readOnlyRootFilesystem") is True)
    caps = sc.get("capabilities", {})
    check(f"{what}: capabilities drop ALL, add exactly BPF PERFMON SYS_PTRACE DAC_READ_SEARCH",
          caps.get("drop") == ["ALL"] and sorted(caps.get("add", [])) == sorted(CAPS)
          and len(caps.get("add", [])) == len(CAPS), caps)
    check(f"{what}: seccomp RuntimeDefault, no Unconfined profile anywhere",
          sc.get("seccompProfile") == {"type": "RuntimeDefault"}
          and "Unconfined" not in yaml.safe_dump(ds), sc.get("seccompProfile"))
    check(f"{what}: uid 0 (added capabilities reach uid 0 only), nothing at pod level",
          sc.get("runAsUser") == 0 and not pod_sc, (sc.get("runAsUser"), pod_sc))


def check_service(docs):
    svc, ds = by_kind(docs, "Service"), by_kind(docs, "DaemonSet")
    spec = svc["spec"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    check("Service: ClusterIP", spec.get("type") == "ClusterIP")
    check("Service: selects the DaemonSet's pods (its selector)",
          spec.get("selector") and spec["selector"].items() <= labels.items()
          and spec["selector"] == ds["spec"]["selector"]["matchLabels"], spec.get("selector"))
    check("Service: port 9464 named metrics, to the pods' port named metrics",
          spec.get("ports") == [{"name": "metrics", "port": 9464, "targetPort": "metrics",
                                 "protocol": "TCP"}], spec.get("ports"))
    ann = svc["metadata"].get("annotations", {})
    check("Service: prometheus.io annotations scrape, port 9464, path /metrics",
          ann == {"prometheus.io/scrape": "true", "prometheus.io/port": "9464",
                  "prometheus.io/path": "/metrics"}, ann)


def check_configmap(docs):
    data = by_kind(docs, "ConfigMap").get("data", {})
    check("ConfigMap: the OTLP endpoint and protocol, the cluster name, resource attributes",
          SETTINGS <= set(data) and all(data[k] for k in SETTINGS), data)
    check("ConfigMap: no header or secret in it",
          not any("HEADERS" in k and "FILE" not in k for k in data), sorted(data))


def check_overlay(base, overlay):
    ds = by_kind(overlay, "DaemonSet")
    if ds is None:
        check("overlay: one DaemonSet", False)
        return
    check_security(ds, True)
    # Nothing else differs: take the two fields back out and compare.
    strip = copy.deepcopy(overlay)
    sc = container_of(by_kind(strip, "DaemonSet"))["securityContext"]
    sc["privileged"], sc["allowPrivilegeEscalation"] = False, False
    check("overlay: the same objects as the base but for privileged/allowPrivilegeEscalation",
          sorted(map(yaml.safe_dump, strip)) == sorted(map(yaml.safe_dump, base)))


def check_sys_admin_overlay(base, overlay):
    """overlays/sys-admin: the base's four and SYS_ADMIN, still unprivileged."""
    ds = by_kind(overlay, "DaemonSet")
    sc = container_of(ds).get("securityContext", {}) if ds else {}
    check("sys-admin overlay: capabilities drop ALL, add the four and SYS_ADMIN, not privileged",
          sc.get("capabilities") == {"drop": ["ALL"], "add": CAPS + ["SYS_ADMIN"]}
          and sc.get("privileged") is False and sc.get("allowPrivilegeEscalation") is False, sc)
    strip = copy.deepcopy(overlay)
    if ds:
        container_of(by_kind(strip, "DaemonSet"))["securityContext"]["capabilities"]["add"] = CAPS
    check("sys-admin overlay: the same objects as the base but for SYS_ADMIN",
          sorted(map(yaml.safe_dump, strip)) == sorted(map(yaml.safe_dump, base)))


def check_images_override():
    """A kustomization of one's own: the base plus `images:` (the README's way)."""
    d = tempfile.mkdtemp(prefix="sp-k8s-")
    try:
        with open(os.path.join(d, "kustomization.yaml"), "w") as f:
            yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1",
                            "kind": "Kustomization", "bases": [os.path.relpath(K8S, d)],
                            "images": [{"name": "spanprobe",
                                        "newName": "registry.example.com/team/spanprobe",
                                        "newTag": "0.1.0-1"}]}, f)
        docs = render(d)
        ds = by_kind(docs, "DaemonSet") if docs else None
        check("images: override sets the DaemonSet's image",
              ds is not None and container_of(ds)["image"]
              == "registry.example.com/team/spanprobe:0.1.0-1")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    if not check("kubectl is installed (deploy/deps.sh: kubernetes-client)",
                 shutil.which("kubectl") is not None):
        finish()
    base = render(K8S)
    direct = render(os.path.join(K8S, "base"))
    check("deploy/k8s renders what deploy/k8s/base holds",
          base and sorted(map(yaml.safe_dump, base)) == sorted(map(yaml.safe_dump, direct)))
    if not base:
        finish()
    check_objects(base)
    if not by_kind(base, "DaemonSet") or not container_of(by_kind(base, "DaemonSet")):
        check("base: one DaemonSet with one container", False)
        finish()
    check_rbac(base)
    check_pod(by_kind(base, "DaemonSet"))
    check_volumes(by_kind(base, "DaemonSet"))
    check_security(by_kind(base, "DaemonSet"), False)
    check_service(base)
    check_configmap(base)
    overlay = render(os.path.join(K8S, "overlays", "privileged"))
    if overlay:
        check_overlay(base, overlay)
    overlay = render(os.path.join(K8S, "overlays", "sys-admin"))
    if overlay:
        check_sys_admin_overlay(base, overlay)
    check_images_override()
    finish()


main()
