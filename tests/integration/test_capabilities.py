#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""spanprobe with exactly the capabilities the DaemonSet gives it
(deploy/k8s/base/daemonset.yaml) and nothing else: every other one dropped
from the bounding, inheritable, ambient and effective sets (setpriv), as
root and as an unprivileged user (ambient capabilities).  `run` traces
HTTP of a Python server running as nobody and HTTPS of nginx running as
www-data (their libssl probed, their OTEL_SERVICE_NAME read from
/proc/PID/environ, their executables named), one span each; `attach`
traces functions of another user's process; `trace` run by nobody with
them gives its command none.  Then each capability taken
away in turn: a required one stops spanprobe at start with one line
naming it (nothing loaded), the optional one is warned about and costs
what it says.  Root with all capabilities hears nothing of them.  The
systemd unit carries the same set."""
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import ROOT, SPANPROBE, check, finish, program, require_root  # noqa: E402
from httptest import Agent, free_port, make_cert, wait_port  # noqa: E402

require_root()
SERVER, CLIENT = 2, 3
NOBODY, WWW_DATA = 65534, 33
CAP_NUMBERS = {"DAC_READ_SEARCH": 2, "SYS_PTRACE": 19, "SYS_ADMIN": 21, "SYS_RESOURCE": 24,
               "PERFMON": 38, "BPF": 39}
REQUIRED = ["BPF", "PERFMON", "SYS_PTRACE"]
OPTIONAL = ["DAC_READ_SEARCH"]


def daemonset_caps():
    with open(os.path.join(ROOT, "deploy", "k8s", "base", "daemonset.yaml")) as f:
        ds = yaml.safe_load(f)
    sc = ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    return sc["capabilities"]["add"]


def unit_caps(key):
    with open(os.path.join(ROOT, "deploy", "spanprobe.service")) as f:
        for line in f:
            if line.startswith(key + "="):
                return line.strip().split("=", 1)[1].split()
    return None


def setpriv(caps, uid=None):
    """The command prefix that keeps only `caps` (names without CAP_)."""
    spec = ",".join(["-all"] + ["+" + c.lower() for c in caps])
    prefix = ["setpriv", f"--inh-caps={spec}", f"--ambient-caps={spec}", f"--bounding-set={spec}"]
    if uid is not None:
        prefix += [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    return prefix


def mask(caps):
    return sum(1 << CAP_NUMBERS[c] for c in caps)


def proc_caps(pid):
    """The capability sets of a process, as integers keyed CapEff, ..."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Cap"):
                k, v = line.split(":")
                out[k] = int(v, 16)
    return out


def start(prefix, command, args):
    """spanprobe `command` behind `prefix`, with -v; returns the agent once
    it said it is tracing (None in .started when it did not)."""
    agent = Agent(["-v", *args], prefix=prefix, command=command)
    deadline = time.monotonic() + 30
    agent.started = False
    while time.monotonic() < deadline and agent.proc.poll() is None:
        err = agent.stderr()
        if "tracing HTTP of every process" in err or " functions in process " in err:
            agent.started = True
            break
        time.sleep(0.05)
    return agent


def missing_lines(err):
    return re.findall(r"^spanprobe: missing capability (CAP_[A-Z_]+): (.*)$", err, re.M)


class Servers:
    """A Python http.server as nobody and nginx (TLS) as www-data, both
    with their own OTEL_SERVICE_NAME, serving one directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sp-caps-")
        os.chmod(self.dir, 0o755)
        self.cert, self.key = make_cert(self.dir)
        os.chmod(self.key, 0o644)
        self.http_port, self.https_port = free_port(), free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        d = self.dir
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1; daemon off; master_process off;
pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p;
 fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;
 server {{ listen 127.0.0.1:{self.https_port} ssl; ssl_certificate {self.cert};
  ssl_certificate_key {self.key}; root {d}; }} }}
""")
        shutil.chown(self.dir, WWW_DATA)
        env = dict(os.environ, OTEL_SERVICE_NAME="caps-nginx")
        self.nginx = subprocess.Popen(
            ["setpriv", f"--reuid={WWW_DATA}", f"--regid={WWW_DATA}", "--clear-groups",
             shutil.which("nginx") or "/usr/sbin/nginx", "-c", conf, "-e", f"{d}/error.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        env = dict(os.environ, OTEL_SERVICE_NAME="caps-python", PYTHONUNBUFFERED="1")
        self.python = subprocess.Popen(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
             "/usr/bin/python3", "-m", "http.server", str(self.http_port), "--bind", "127.0.0.1",
             "-d", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.ready = wait_port("127.0.0.1", self.http_port) and \
            wait_port("127.0.0.1", self.https_port)

    def page(self, name):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(name + "\n")
        os.chmod(path, 0o644)
        return "/" + name

    def stop(self):
        for p in (self.nginx, self.python):
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def curl(url):
    p = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", url],
                       capture_output=True, text=True, timeout=30)
    return p.stdout


def run_traced(name, servers, prefix, expect_caps=None, service_names=True):
    """spanprobe run behind `prefix`: one request to each server, a span of
    each side out with the server's identity.  Returns the agent's stderr."""
    agent = start(prefix, "run", [])
    started = check(f"{name}: spanprobe run started", agent.started, agent.stderr()[-2000:])
    if expect_caps is not None and started:
        got = proc_caps(agent.proc.pid)
        want = mask(expect_caps)
        check(f"{name}: its effective, permitted, bounding, inheritable and ambient sets "
              f"are exactly {' '.join(sorted(expect_caps))}",
              all(got[k] == want for k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb")),
              {k: hex(v) for k, v in got.items()})
    # Capture is on once a warm-up request gives a span.
    warm = servers.page(f"warm-{name.replace(' ', '-')}")
    deadline = time.monotonic() + 15
    while started and time.monotonic() < deadline:
        curl(f"http://127.0.0.1:{servers.http_port}{warm}")
        if agent.wait_quick(lambda s: s["_attrs"].get("url.path") == warm):
            break
    http_path = servers.page(f"caps-{name.replace(' ', '-')}-http")
    https_path = servers.page(f"caps-{name.replace(' ', '-')}-https")
    check(f"{name}: curl http -> python (nobody): 200",
          curl(f"http://127.0.0.1:{servers.http_port}{http_path}") == "200")
    check(f"{name}: curl https -> nginx (www-data): 200",
          curl(f"https://127.0.0.1:{servers.https_port}{https_path}") == "200")

    def server_of(path, pid):
        return lambda s: (s["kind"] == SERVER and s["_attrs"].get("url.path") == path
                          and s["_resource"].get("process.pid") == pid)
    py = agent.wait_for(server_of(http_path, servers.python.pid), 1)
    ngx = agent.wait_for(server_of(https_path, servers.nginx.pid), 1)
    cli = agent.wait_for(lambda s: s["kind"] == CLIENT and (s["_attrs"].get("url.full") or "")
                         .endswith(f":{servers.https_port}{https_path}"), 1)
    time.sleep(0.5)
    py, ngx = agent.wait_for(server_of(http_path, servers.python.pid), 1), \
        agent.wait_for(server_of(https_path, servers.nginx.pid), 1)
    rc = agent.stop()
    err = agent.stderr()
    check(f"{name}: exactly one SERVER span of the Python server (http)", len(py) == 1,
          f"{len(py)}: {err[-1500:]}")
    check(f"{name}: exactly one SERVER span of nginx, decrypted (https, TLS probes on libssl)",
          len(ngx) == 1 and ngx[0]["_attrs"].get("url.scheme") == "https", f"{len(ngx)}")
    check(f"{name}: exactly one CLIENT span of curl (https)", len(cli) == 1, f"{len(cli)}")
    if len(py) == 1 and len(ngx) == 1:
        pyr, ngr = py[0]["_resource"], ngx[0]["_resource"]
        check(f"{name}: the executables of other users' processes are named "
              "(/proc/PID/exe: CAP_SYS_PTRACE)",
              pyr.get("process.executable.path", "").startswith("/usr/bin/python3")
              and ngr.get("process.executable.path") == "/usr/sbin/nginx",
              (pyr.get("process.executable.path"), ngr.get("process.executable.path")))
        if service_names:
            check(f"{name}: their OTEL_SERVICE_NAME is read (/proc/PID/environ: "
                  "CAP_DAC_READ_SEARCH)", pyr.get("service.name") == "caps-python"
                  and ngr.get("service.name") == "caps-nginx",
                  (pyr.get("service.name"), ngr.get("service.name")))
        else:
            check(f"{name}: without CAP_DAC_READ_SEARCH their OTEL_SERVICE_NAME is not read",
                  pyr.get("service.name", "").startswith("unknown_service:")
                  and ngr.get("service.name", "").startswith("unknown_service:"),
                  (pyr.get("service.name"), ngr.get("service.name")))
    check(f"{name}: exit status 0 after SIGTERM", rc == 0, f"{rc}: {err[-1500:]}")
    return err


def test_required_removed(caps, cap):
    """spanprobe run without `cap`: exit 1 at start, one line naming it."""
    p = subprocess.run(setpriv([c for c in caps if c != cap]) + [SPANPROBE, "run", "-v"],
                       capture_output=True, text=True, timeout=60)
    lines = missing_lines(p.stderr)
    check(f"without CAP_{cap}: exit status 1 at start", p.returncode == 1,
          f"{p.returncode}: {p.stderr[-1500:]}")
    check(f"without CAP_{cap}: exactly one line, naming CAP_{cap} and what fails without it",
          len(lines) == 1 and lines[0][0] == f"CAP_{cap}" and "fails without it" in lines[0][1]
          and lines[0][1].endswith("(give it, or run as root)"), lines or p.stderr[-1500:])
    check(f"without CAP_{cap}: nothing was loaded or traced",
          "tracing HTTP" not in p.stderr and "bpf:" not in p.stderr, p.stderr[-1500:])


def test_attach(caps):
    """attach -p to a process of nobody, functions traced; without
    CAP_SYS_PTRACE it is refused at start, naming it."""
    d = tempfile.mkdtemp(prefix="sp-caps-attach-")
    os.chmod(d, 0o755)
    exe = os.path.join(d, "nested")
    shutil.copy(program("nested"), exe)
    os.chmod(exe, 0o755)
    target = subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                               "--clear-groups", exe, "stdin"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ready = select.select([target.stdout], [], [], 10)[0] and \
            target.stdout.readline().strip() == "ready"
        check("attach: a process of nobody started", bool(ready))
        p = subprocess.run(setpriv([c for c in caps if c != "SYS_PTRACE"]) +
                           [SPANPROBE, "attach", "-p", str(target.pid), "-u", "inner"],
                           capture_output=True, text=True, timeout=60)
        lines = missing_lines(p.stderr)
        check("attach to another user's process without CAP_SYS_PTRACE: exit 1, one line "
              "naming it", p.returncode == 1 and [c for c, _ in lines] == ["CAP_SYS_PTRACE"],
              f"{p.returncode}: {p.stderr[-1500:]}")
        agent = start(setpriv(caps), "attach", ["-p", str(target.pid), "-u", "inner",
                                                "-u", "outer", "--no-http"])
        check("attach with the set: started", agent.started, agent.stderr()[-1500:])
        target.stdin.write("3\n")
        target.stdin.flush()
        check("attach: the target ran 3 iterations", target.stdout.readline().strip() == "ok 3")
        outer = agent.wait_for(lambda s: s["name"] == "outer", 3)
        inner = agent.wait_for(lambda s: s["name"] == "inner", 9)
        rc = agent.stop()
        check("attach with the set: exactly 3 outer and 9 inner spans of the process of nobody",
              len(outer) == 3 and len(inner) == 9, f"{len(outer)} {len(inner)}")
        check("attach with the set: no missing capability said, exit 0",
              rc == 0 and not missing_lines(agent.stderr()), f"{rc}: {agent.stderr()[-1500:]}")
    finally:
        target.stdin.close()
        target.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)


def test_trace_as_nobody(caps):
    """trace as nobody with the set as ambient capabilities: the command
    runs without them."""
    p = subprocess.run(setpriv(caps, NOBODY) + [SPANPROBE, "trace", "--output-file", "/dev/null",
                                                "--", "/bin/grep", "^Cap", "/proc/self/status"],
                       capture_output=True, text=True, timeout=60, cwd="/")
    sets = dict(line.split(":\t") for line in p.stdout.splitlines() if ":\t" in line)
    check("trace as nobody with the set: the command ran, exit 0",
          p.returncode == 0 and len(sets) == 5, f"{p.returncode}: {p.stdout} {p.stderr[-1000:]}")
    check("trace as nobody: the command has no capability (ambient, effective, permitted)",
          all(int(sets.get(k, "1"), 16) == 0 for k in ("CapAmb", "CapEff", "CapPrm")), sets)


def test_probes(caps):
    out = subprocess.run(setpriv(caps) + [SPANPROBE, "probes"], capture_output=True,
                         text=True, timeout=60).stdout
    rows = dict(re.findall(r"^  (CAP_[A-Z_]+) .* (present|missing)$", out, re.M))
    check("probes with the set: the four present, CAP_SYS_ADMIN missing, nothing missing",
          all(rows.get("CAP_" + c) == "present" for c in caps)
          and rows.get("CAP_SYS_ADMIN") == "missing" and "  nothing missing" in out, out[-1200:])
    out = subprocess.run(setpriv([c for c in caps if c != "PERFMON"]) + [SPANPROBE, "probes"],
                         capture_output=True, text=True, timeout=60).stdout
    check("probes without CAP_PERFMON: says it missing and required",
          re.search(r"^  CAP_PERFMON .* missing$", out, re.M) is not None
          and "  required, CAP_PERFMON: " in out, out[-1200:])


def main():
    caps = daemonset_caps()
    check("the DaemonSet's set is BPF PERFMON SYS_PTRACE DAC_READ_SEARCH",
          sorted(caps) == sorted(REQUIRED + OPTIONAL), caps)
    want = sorted("CAP_" + c for c in caps)
    check("the systemd unit's AmbientCapabilities are the DaemonSet's set",
          sorted(unit_caps("AmbientCapabilities") or []) == want,
          unit_caps("AmbientCapabilities"))
    check("the systemd unit's CapabilityBoundingSet is the DaemonSet's set",
          sorted(unit_caps("CapabilityBoundingSet") or []) == want,
          unit_caps("CapabilityBoundingSet"))
    if not check("setpriv is installed (util-linux)", shutil.which("setpriv") is not None):
        finish()
    servers = Servers()
    try:
        if not check("nginx (www-data, TLS) and python3 http.server (nobody) started",
                     servers.ready):
            finish()
        err = run_traced("root uid, exactly the set", servers, setpriv(caps), caps)
        check("root uid, exactly the set: no missing capability said",
              not missing_lines(err), missing_lines(err))
        err = run_traced("uid nobody, the set as ambient capabilities", servers,
                         setpriv(caps, NOBODY), caps)
        check("uid nobody, the set: no missing capability said", not missing_lines(err),
              missing_lines(err))
        less = [c for c in caps if c != "DAC_READ_SEARCH"]
        err = run_traced("without CAP_DAC_READ_SEARCH", servers, setpriv(less),
                         service_names=False)
        lines = missing_lines(err)
        check("without CAP_DAC_READ_SEARCH: one warning naming it and what it costs",
              len(lines) == 1 and lines[0][0] == "CAP_DAC_READ_SEARCH"
              and "OTEL_SERVICE_NAME" in lines[0][1]
              and lines[0][1].endswith("give it for full function"), lines)
        err = run_traced("root with every capability", servers, [])
        check("root with every capability: no missing capability said",
              not missing_lines(err), missing_lines(err))
    finally:
        servers.stop()
    for cap in REQUIRED:
        test_required_removed(caps, cap)
    test_attach(caps)
    test_trace_as_nobody(caps)
    test_probes(caps)
    finish()


main()
