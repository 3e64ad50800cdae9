#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Kubernetes metadata: spanprobe lists and watches the pods of its node
from an API server of the test's own (lib/kubeapi.py, the API's list and
watch JSON), and the spans of processes placed in cgroups named as the
kubelet names them carry the pod's attributes and the OpenTelemetry
operator's service.name.  A pod that appears after a process's first
request gives its later spans the attributes (the first is not held
back); a bookmark, a closed watch and a 410 Gone are followed; the API
server killed mid-run: spans still flow, and its return is noticed.
Then a TLS API server that demands a client certificate, and a token the
server refuses (401 said once, spans still flow)."""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, parse_otlp_json, require_root, wait_started  # noqa: E402

require_root()

HERE = os.path.dirname(os.path.abspath(__file__))
KUBEAPI = os.path.join(HERE, "lib", "kubeapi.py")
TMP = tempfile.mkdtemp(prefix="sp-k8s-")
TAG = f"{os.getpid():x}"
NODE = f"node-{TAG}"
TOKEN = "sp-test-token-" + TAG
CGROUP_V1 = "/sys/fs/cgroup"
made_cgroups = []
procs = []


def uid(n):
    return f"{n:08x}-{os.getpid() & 0xffff:04x}-4000-8000-{n:012x}"


def cid(n):
    return f"{os.getpid():08x}{n:056x}"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- cgroups as the kubelet names them ---------------------------------------
def cgroupfs_path(n):
    """cgroupfs driver, in the pids hierarchy: /kubepods/besteffort/pod<uid>/<id>."""
    return f"{CGROUP_V1}/pids/kubepods/besteffort/pod{uid(n)}/{cid(n)}"


def systemd_path(n):
    """systemd driver, in the memory hierarchy."""
    u = uid(n).replace("-", "_")
    return (f"{CGROUP_V1}/memory/kubepods.slice/kubepods-burstable.slice/"
            f"kubepods-burstable-pod{u}.slice/cri-containerd-{cid(n)}.scope")


def make_cgroup(path):
    os.makedirs(path, exist_ok=True)
    made_cgroups.append(path)
    return path


def remove_cgroups():
    # Deepest first; then the parents the test made, when empty.
    dirs = set()
    for p in made_cgroups:
        while p.startswith(CGROUP_V1 + "/") and p.count("/") > 4:
            dirs.add(p)
            p = os.path.dirname(p)
    for d in sorted(dirs, key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass


def spawn_server(cgroup, env=None):
    """python3 -m http.server started inside `cgroup` (it moves itself in
    before exec, so its first span already sees the cgroup); wait_server()
    waits for its port."""
    port = free_port()
    cmd = (f"echo $$ > {cgroup}/cgroup.procs && exec /usr/bin/python3 -m http.server "
           f"{port} --bind 127.0.0.1 -d {TMP}")
    p = subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=dict(os.environ, **(env or {})))
    procs.append(p)
    return p, port


def wait_server(server):
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", server[1]), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.05)
    check(f"a server on port {server[1]} started", False)
    return server


def start_server(cgroup, env=None):
    return wait_server(spawn_server(cgroup, env))


def curl(port, path="/"):
    subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}{path}"],
                   check=True, timeout=10)


# --- the API's objects -----------------------------------------------------
def pod(n, name, owner=None, labels=None, annotations=None, container="app",
        image="registry.example/team/app:1.0", with_id=True, node=None):
    meta = {"name": name, "namespace": "shop", "uid": uid(n),
            "labels": labels or {}, "annotations": annotations or {}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0],
                                    "name": owner[1], "uid": uid(900 + n),
                                    "controller": True}]
    status = {"phase": "Running", "containerStatuses": [{
        "name": container, "ready": True, "image": image,
        **({"containerID": f"containerd://{cid(n)}"} if with_id else {})}]}
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta,
            "spec": {"nodeName": node or NODE,
                     "containers": [{"name": container, "image": image}]},
            "status": status}


REPLICASETS = [{"kind": "ReplicaSet", "apiVersion": "apps/v1",
                "metadata": {"name": "web-5d8f7c9b4", "namespace": "shop",
                             "uid": uid(500),
                             "ownerReferences": [{"apiVersion": "apps/v1",
                                                  "kind": "Deployment", "name": "web",
                                                  "uid": uid(501), "controller": True}]}}]

PODS = {
    # Deployment through its ReplicaSet; no labels: service.name = the Deployment.
    1: pod(1, "web-5d8f7c9b4-x2x9z", owner=("ReplicaSet", "web-5d8f7c9b4"),
           labels={"pod-template-hash": "5d8f7c9b4"}),
    # StatefulSet, systemd driver; app.kubernetes.io/name and /version labels.
    2: pod(2, "db-0", owner=("StatefulSet", "db"), container="postgres",
           labels={"app.kubernetes.io/name": "dbapp", "app.kubernetes.io/version": "1.2.3"}),
    # The annotation beats the labels; its status has no container ID yet.
    3: pod(3, "cache-0", owner=("StatefulSet", "cache"), with_id=False,
           labels={"app.kubernetes.io/instance": "inst-c", "app.kubernetes.io/name": "nm-c"},
           annotations={"resource.opentelemetry.io/service.name": "annotated",
                        "resource.opentelemetry.io/service.namespace": "team-c",
                        "resource.opentelemetry.io/deployment.environment": "prod"}),
    # A DaemonSet pod whose process sets OTEL_SERVICE_NAME itself.
    5: pod(5, "agent-7k2lq", owner=("DaemonSet", "agent"),
           image="registry.example/agent@sha256:" + "ab" * 32),
    # A CronJob's Job (named <cronjob>-<minutes>).
    6: pod(6, "report-28912345-q8w7e", owner=("Job", "report-28912345"),
           image="registry.example:5000/report:v7@sha256:" + "cd" * 32),
    # On another node: never listed.
    8: pod(8, "elsewhere", node="other-node"),
}
# Added by the watch after the first request of its process: instance
# label before name label.
LATE = pod(4, "late-1", labels={"app.kubernetes.io/instance": "inst-d",
                               "app.kubernetes.io/name": "nm-d"})
# Known only to the API server that comes back.
AFTER = pod(7, "after-1", owner=("ReplicaSet", "web-5d8f7c9b4"))


class KubeAPI:
    def __init__(self, port, pods, rv, extra=(), too_old_below=0):
        self.port, self.log = port, os.path.join(TMP, f"api-{port}-{rv}.log")
        state = os.path.join(TMP, f"state-{port}-{rv}.json")
        with open(state, "w") as f:
            json.dump({"rv": rv, "node": NODE, "pods": pods, "replicasets": REPLICASETS,
                       "too_old_below": too_old_below}, f)
        self.proc = subprocess.Popen(["/usr/bin/python3", KUBEAPI, "--port", str(port),
                                      "--state", state, "--log", self.log, *extra],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ok = select.select([self.proc.stdout], [], [], 10)[0]
        check(f"the test's API server on port {port} started",
              ok and self.proc.stdout.readline().strip() == "ready")

    def send(self, cmd):
        """Returns the server's resourceVersion after the command."""
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().split()[-1]

    def requests(self):
        try:
            with open(self.log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def wait_for(self, pred, what, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(pred(r) for r in self.requests()):
                return True
            time.sleep(0.05)
        return check(what, False, self.requests()[-6:])

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def kubeconfig(name, server, user, cluster_extra=None):
    path = os.path.join(TMP, name)
    cluster = {"server": server, **(cluster_extra or {})}
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "test",
           "clusters": [{"name": "c", "cluster": cluster}],
           "users": [{"name": "u", "user": user}],
           "contexts": [{"name": "other", "context": {"cluster": "x", "user": "y"}},
                        {"name": "test", "context": {"cluster": "c", "user": "u"}}]}
    with open(path, "w") as f:
        json.dump(doc, f)  # JSON is YAML
    return path


class Agent:
    def __init__(self, args):
        self.out = os.path.join(TMP, f"spans-{time.time_ns()}.jsonl")
        verbose = "-vv" if os.environ.get("SP_K8S_DEBUG") else "-v"
        self.proc = subprocess.Popen([SPANPROBE, "run", verbose, "-o", "otlp-json",
                                      "--output-file", self.out, "--node-name", NODE, *args],
                                     stderr=subprocess.PIPE, text=True)
        self.err = [wait_started(self.proc, 30)]

    def stop(self):
        time.sleep(1.0)
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=40)
        err = "".join(self.err) + err
        with open(self.out) as f:
            return self.proc.returncode, parse_otlp_json(f.read()), err


def by_port(spans, port):
    return [s for s in spans if s["kind"] == 2 and s["_attrs"].get("server.port") == port]


def k8s_attrs(res):
    return {k: v for k, v in res.items() if k.startswith(("k8s.", "service.", "container."))
            or k == "deployment.environment"}


def report_counters(err):
    line = [ln for ln in err.splitlines() if ln.startswith("spanprobe: k8s: ")]
    out = {}
    for part in (line[-1][len("spanprobe: k8s: "):].split(", ") if line else []):
        num, _, name = part.partition(" ")
        out[name] = int(num)
    return out


def expect(n, p, container, **extra):
    """The attributes a process of pod `p` (test number n) should carry."""
    m = p["metadata"]
    base = {"k8s.namespace.name": "shop", "k8s.pod.name": m["name"], "k8s.pod.uid": m["uid"],
            "k8s.node.name": NODE, "k8s.cluster.name": "test-cluster",
            "container.id": cid(n), "service.namespace": "shop"}
    if container:
        base["k8s.container.name"] = container
        base["service.instance.id"] = f"shop.{m['name']}.{container}"
    base.update(extra)
    return base


REPORT = []  # the exit report's span lines, for the details of a failure


def check_attrs(what, spans, want):
    got = [k8s_attrs(s["_resource"]) for s in spans]
    check(what, len(got) == 1 and all(g == want for g in got),
          f"{len(got)} spans; first differs: " +
          str(sorted(set(got[0].items()) ^ set(want.items())) if got else f"none {REPORT}"))


def main_run():
    """One spanprobe run against an http API server that checks a token
    (read from the kubeconfig's tokenFile)."""
    token_file = os.path.join(TMP, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    api_port = free_port()
    api = KubeAPI(api_port, list(PODS.values()), 1000, extra=["--token", TOKEN])
    kc = kubeconfig("kc-token", f"http://127.0.0.1:{api_port}", {"tokenFile": token_file})
    servers = {1: spawn_server(make_cgroup(cgroupfs_path(1))),
               2: spawn_server(make_cgroup(systemd_path(2))),
               3: spawn_server(make_cgroup(cgroupfs_path(3))),
               4: spawn_server(make_cgroup(cgroupfs_path(4))),
               5: spawn_server(make_cgroup(systemd_path(5)), {"OTEL_SERVICE_NAME": "own-svc"}),
               6: spawn_server(make_cgroup(cgroupfs_path(6))),
               7: spawn_server(make_cgroup(cgroupfs_path(7)))}
    for s in servers.values():
        wait_server(s)
    port = {n: s[1] for n, s in servers.items()}
    pids = [a for s in servers.values() for a in ("-p", str(s[0].pid))]
    agent = Agent(["--kubeconfig", kc, "--cluster-name", "test-cluster", *pids])
    startup = "".join(agent.err)
    check("-v start-up line: API server, kubeconfig and context, node, authentication",
          f"k8s: pod metadata from http://127.0.0.1:{api_port} (kubeconfig {kc}, context "
          f"test), node {NODE}, authentication: bearer token file" in startup, startup)
    api.wait_for(lambda r: "watch=1" in r, "spanprobe listed the pods and watches them")
    reqs = api.requests()
    check("the list asks for this node's pods with the token",
          reqs[0] == f"GET /api/v1/pods?fieldSelector=spec.nodeName%3D{NODE} 200", reqs[:2])
    check("the watch starts at the list's resourceVersion, with bookmarks",
          any(f"resourceVersion=1000&allowWatchBookmarks=true" in r for r in reqs), reqs)
    time.sleep(0.3)
    for n in (1, 2, 3, 4, 5, 6, 7):
        curl(port[n], "/first")
    # A pod appears, another's status gets its container ID.
    api.send({"add": LATE})
    p3 = json.loads(json.dumps(PODS[3]))
    p3["status"]["containerStatuses"][0]["containerID"] = f"containerd://{cid(3)}"
    api.send({"modify": p3})
    time.sleep(0.6)
    for n in (3, 4):
        curl(port[n], "/second")
    # A bookmark, then the watch ends: the next one starts at the bookmark.
    bookmark_rv = api.send({"bookmark": 1})
    time.sleep(0.2)
    api.send({"close": 1})
    api.wait_for(lambda r: f"resourceVersion={bookmark_rv}&" in r,
                 "after a closed watch, the next starts at the bookmark's resourceVersion")
    # 410 Gone in the stream: list again.
    lists_before = sum(1 for r in api.requests() if "watch=1" not in r and "/pods?" in r)
    api.send({"gone": 1})
    deadline = time.time() + 5
    while time.time() < deadline and sum(
            1 for r in api.requests() if "watch=1" not in r and "/pods?" in r) == lists_before:
        time.sleep(0.05)
    check("an ERROR event with code 410: the pods are listed again",
          sum(1 for r in api.requests() if "watch=1" not in r and "/pods?" in r)
          == lists_before + 1, api.requests()[-4:])
    # The API server goes away: spans still flow, with what was known.
    api.kill()
    for i in range(3):
        curl(port[1], f"/down/{i}")
    curl(port[7], "/before")
    # Meanwhile the token rotates (a bound service account token is
    # replaced in its file): the server that comes back takes the new one.
    with open(token_file + ".new", "w") as f:
        f.write(TOKEN + "-rotated\n")
    os.rename(token_file + ".new", token_file)
    time.sleep(1.0)
    api2 = KubeAPI(api_port, list(PODS.values()) + [LATE, p3, AFTER], 5000,
                   extra=["--token", TOKEN + "-rotated"], too_old_below=5000)
    api2.wait_for(lambda r: "watch=1" not in r and "/pods?" in r and r.endswith(" 200"),
                  "the API server back: spanprobe lists again, with the rotated token",
                  timeout=12)
    check("...after a watch from its old version got 410 Gone",
          any("watch=1" in r and r.endswith(" 410") for r in api2.requests()), api2.requests()[-6:])
    api2.wait_for(lambda r: "watch=1" in r and r.endswith(" 200"), "and watches again")
    time.sleep(0.6)
    curl(port[7], "/after")
    rc, spans, err = agent.stop()
    api2.kill()
    check("spanprobe exited cleanly", rc == 0, err[-1500:])
    if os.environ.get("SP_K8S_DEBUG"):
        print("\n".join(ln for ln in err.splitlines() if "k8s" in ln))
    return port, spans, err, api, api2


def check_main(port, spans, err, api, api2):
    first = {n: [s for s in by_port(spans, port[n]) if s["_attrs"].get("url.path") == "/first"]
             for n in port}
    report = [ln for ln in err.splitlines() if ln.startswith(("spanprobe: spans", "spanprobe: dropped",
                                                              "spanprobe: events", "sockcap:", "protocol:", "spans:"))]
    REPORT[:] = report
    check("one SERVER span per first request, none held back",
          all(len(first[n]) == 1 for n in port), f"{ {n: len(v) for n, v in first.items()} } {report}")
    check_attrs("Deployment pod (cgroupfs driver): k8s.* attributes, service.name = the "
                "Deployment (through the ReplicaSet), service.version = the image tag",
                first[1], expect(1, PODS[1], "app", **{
                    "k8s.replicaset.name": "web-5d8f7c9b4", "k8s.deployment.name": "web",
                    "service.name": "web", "service.version": "1.0"}))
    check_attrs("StatefulSet pod (systemd driver): service.name from app.kubernetes.io/name, "
                "service.version from app.kubernetes.io/version",
                first[2], expect(2, PODS[2], "postgres", **{
                    "k8s.statefulset.name": "db", "service.name": "dbapp",
                    "service.version": "1.2.3"}))
    want3 = expect(3, PODS[3], None, **{
        "k8s.statefulset.name": "cache", "service.name": "annotated",
        "service.namespace": "team-c", "deployment.environment": "prod"})
    check_attrs("pod found by its UID while its status has no container ID: the annotation's "
                "service.name and service.namespace, other annotations, no container name",
                first[3], want3)
    second3 = [s for s in by_port(spans, port[3]) if s["_attrs"].get("url.path") == "/second"]
    check_attrs("the container ID in a MODIFIED event: later spans get the container name",
                second3, dict(want3, **{"k8s.container.name": "app",
                                        "service.instance.id": "shop.cache-0.app",
                                        "service.version": "1.0"}))
    check("a pod not known yet: the first span has no pod attributes (not held back)",
          len(first[4]) == 1 and k8s_attrs(first[4][0]["_resource"]) ==
          {"container.id": cid(4), "service.name": "unknown_service:python3.11"},
          k8s_attrs(first[4][0]["_resource"]) if first[4] else "none")
    second4 = [s for s in by_port(spans, port[4]) if s["_attrs"].get("url.path") == "/second"]
    check_attrs("the pod ADDED by the watch: later spans get it, service.name from "
                "app.kubernetes.io/instance before app.kubernetes.io/name",
                second4, expect(4, LATE, "app", **{"service.name": "inst-d",
                                                   "service.version": "1.0"}))
    check_attrs("the process's own OTEL_SERVICE_NAME wins; DaemonSet; version = the digest",
                first[5], expect(5, PODS[5], "app", **{
                    "k8s.daemonset.name": "agent", "service.name": "own-svc",
                    "service.version": "sha256:" + "ab" * 32}))
    check_attrs("a CronJob's Job: k8s.cronjob.name from the Job's name, service.name = the "
                "CronJob, service.version = tag@digest",
                first[6], expect(6, PODS[6], "app", **{
                    "k8s.job.name": "report-28912345", "k8s.cronjob.name": "report",
                    "service.name": "report", "service.version": "v7@sha256:" + "cd" * 32}))
    down = [s for s in by_port(spans, port[1]) if s["_attrs"].get("url.path", "").startswith("/down/")]
    check("API server down: the 3 requests' spans flow, with the pod known before",
          len(down) == 3 and all(k8s_attrs(s["_resource"]).get("k8s.pod.name") ==
                                 PODS[1]["metadata"]["name"] for s in down),
          f"{sorted(s['_attrs'].get('url.path') for s in by_port(spans, port[1]))} {report}")
    before = [s for s in by_port(spans, port[7]) if s["_attrs"].get("url.path") == "/before"]
    after = [s for s in by_port(spans, port[7]) if s["_attrs"].get("url.path") == "/after"]
    check("a pod only the returning API server knows: no attributes before",
          len(before) == 1 and "k8s.pod.name" not in before[0]["_resource"],
          [k8s_attrs(s["_resource"]) for s in before])
    check_attrs("...and after the relist, from the ReplicaSet looked up before",
                after, expect(7, AFTER, "app", **{
                    "k8s.replicaset.name": "web-5d8f7c9b4", "k8s.deployment.name": "web",
                    "service.name": "web", "service.version": "1.0"}))
    rs = [r for r in api.requests() + api2.requests() if "/replicasets/" in r]
    check("one ReplicaSet lookup (then cached)",
          rs == ["GET /apis/apps/v1/namespaces/shop/replicasets/web-5d8f7c9b4 200"], rs)
    check("the other node's pod was never asked for",
          all(f"spec.nodeName%3D{NODE}" in r for r in api.requests() if "/pods" in r))
    c = report_counters(err)
    check("exit report: 7 pods known, 2 relists, watch restarts, API errors (few: backoff)",
          c.get("pods known") == 7 and c.get("relists") == 2 and
          c.get("not kept (table full)") == 0 and
          c.get("with containers not kept (over 16)") == 0 and
          c.get("watch restarts", 0) >= 2 and 1 <= c.get("API errors", 0) <= 10 and
          c.get("ReplicaSet lookups") == 1 and c.get("resources refreshed", 0) >= 3, c)


def make_certs():
    d = os.path.join(TMP, "pki")
    os.mkdir(d)

    def ssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "1", "-subj", "/CN=sp-test-ca")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for name in ("server", "client"):
        ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", f"/CN={name}")
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-out", f"{name}.crt",
            *(["-extfile", "ext"] if name == "server" else []))
    return d


def b64(path):
    import base64
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def tls_run():
    pki = make_certs()
    api_port = free_port()
    api = KubeAPI(api_port, [PODS[1]], 1000, extra=[
        "--tls", f"{pki}/server.crt", f"{pki}/server.key", f"{pki}/ca.crt"])
    kc = kubeconfig("kc-tls", f"https://127.0.0.1:{api_port}",
                    {"client-certificate-data": b64(f"{pki}/client.crt"),
                     "client-key-data": b64(f"{pki}/client.key")},
                    {"certificate-authority-data": b64(f"{pki}/ca.crt")})
    srv, port = start_server(make_cgroup(cgroupfs_path(11)))
    # Pod 11 is pod 1 under another container ID: add it.
    p = json.loads(json.dumps(PODS[1]).replace(cid(1), cid(11)).replace(uid(1), uid(11)))
    api.send({"add": p})
    agent = Agent(["--kubeconfig", kc, "-p", str(srv.pid)])
    check("TLS: the start-up line says client certificate",
          "authentication: client certificate" in "".join(agent.err), "".join(agent.err))
    api.wait_for(lambda r: "watch=1" in r, "TLS with a client certificate: listed and watching")
    time.sleep(0.3)
    curl(port, "/tls")
    rc, spans, err = agent.stop()
    api.kill()
    s = by_port(spans, port)
    check("TLS: the span carries the pod (service.name = the Deployment)",
          len(s) == 1 and s[0]["_resource"].get("k8s.pod.name") == p["metadata"]["name"]
          and s[0]["_resource"].get("service.name") == "web",
          [k8s_attrs(x["_resource"]) for x in s])


def refused_run():
    api_port = free_port()
    api = KubeAPI(api_port, [PODS[1]], 1000, extra=["--token", TOKEN])
    kc = kubeconfig("kc-bad", f"http://127.0.0.1:{api_port}", {"token": "not-the-token"})
    srv, port = start_server(make_cgroup(cgroupfs_path(12)))
    agent = Agent(["--kubeconfig", kc, "-p", str(srv.pid)])
    check("a token: the start-up line says bearer token",
          "authentication: bearer token\n" in "".join(agent.err), "".join(agent.err))
    api.wait_for(lambda r: r.endswith(" 401"), "the refused token reached the server")
    time.sleep(0.3)
    curl(port, "/a")
    curl(port, "/b")
    rc, spans, err = agent.stop()
    api.kill()
    s = by_port(spans, port)
    check("401: the spans flow without pod attributes",
          len(s) == 2 and all("k8s.pod.name" not in x["_resource"] for x in s), len(s))
    check("401: said once, clearly", err.count("401 Unauthorized") == 1, err[-1500:])


def unreachable_run():
    """An API server not reached, and a node name with no pod: each a
    likely setting gone wrong, said once at start; spans flow."""
    kc = kubeconfig("kc-down", f"http://127.0.0.1:{free_port()}", {"token": TOKEN})
    srv, port = start_server(make_cgroup(cgroupfs_path(13)))
    agent = Agent(["--kubeconfig", kc, "-p", str(srv.pid)])
    time.sleep(1.5)  # a try or two, with their backoff
    curl(port, "/a")
    rc, spans, err = agent.stop()
    check("API server not reached: the span flows, without pod attributes",
          len(by_port(spans, port)) == 1, len(by_port(spans, port)))
    check("API server not reached: said once",
          err.count("spans go out without pod metadata until it answers") == 1, err[-1500:])
    api_port = free_port()
    api = KubeAPI(api_port, [PODS[1]], 1000, extra=["--token", TOKEN])
    kc = kubeconfig("kc-other-node", f"http://127.0.0.1:{api_port}", {"token": TOKEN})
    agent = Agent(["--kubeconfig", kc, "--node-name", "no-such-node", "-p", str(srv.pid)])
    api.wait_for(lambda r: "/pods?" in r and r.endswith(" 200"), "the pods were listed")
    rc, spans, err = agent.stop()
    api.kill()
    check("a node with no pod: said once",
          err.count("k8s: no pod on node no-such-node") == 1, err[-1500:])


def main():
    t0 = time.time()
    try:
        check_main(*main_run())
        tls_run()
        refused_run()
        unreachable_run()
    finally:
        for p in procs:
            p.kill()
            p.wait()
        remove_cgroups()
        shutil.rmtree(TMP, ignore_errors=True)
    # Sanitizer builds run a few times slower.
    limit = 120 if "san" in os.environ.get("SP_BUILD", "") else 45
    check(f"the test took under {limit} s", time.time() - t0 < limit, time.time() - t0)
    finish()


main()
