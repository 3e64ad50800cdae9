# SPDX-License-Identifier: MIT
"""Helpers of the HTTP capture tests: spanprobe running node-wide with its
OTLP/JSON read as it comes, real servers (nginx, Python, Node.js) on free
local ports, curl, and span lookups."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from sptest import IN_KERNEL_MATRIX, ROOT, SPANPROBE, attrs_to_dict, check

PROGRAM_SOURCES = os.path.join(ROOT, "tests", "programs")
# Upper bound when waiting for spans or a start; a pass never waits this
# long.  An emulated guest of the kernel matrix starts the daemon (the
# verifier's work, emulated) in up to 40 s on a slow host.
WAIT_S = 60 if IN_KERNEL_MATRIX else 20
# The socket hooks run when a send has returned (the tracepoints, fexit,
# kretprobes, sys_exit): on loopback the peer may read the bytes a little
# before the sender's hook runs, so a client span brackets its server span
# within this skew.  An emulated CPU (the kernel matrix) widens it.
HOOK_SKEW_NS = int(float(os.environ.get("SP_TEST_HOOK_SKEW_MS", "2")) * 1_000_000)


def brackets(c, s):
    """The client span c brackets the server span s, within HOOK_SKEW_NS."""
    return (start_ns(c) - HOOK_SKEW_NS <= start_ns(s) <= end_ns(s)
            <= end_ns(c) + HOOK_SKEW_NS)


def bracket_times(c, s):
    return f"client {start_ns(c)}..{end_ns(c)}, server {start_ns(s)}..{end_ns(s)}"


def seconds_until_out(agent, since, preds, limit=5.0):
    """Seconds from `since` (time.monotonic()) until the agent's output
    has a span matching each of preds, polled every 2 ms; None when that
    takes more than `limit`."""
    while True:
        got = agent.snapshot()
        now = time.monotonic()
        if all(any(p(s) for s in got) for p in preds):
            return now - since
        if now - since > limit:
            return None
        time.sleep(0.002)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    """`spanprobe run -o otlp-json` (or `command`), its stdout parsed line
    by line; `prefix` runs it through another command (setpriv)."""

    def __init__(self, extra_args=(), prefix=(), command="run"):
        env = dict(os.environ, OTEL_BSP_SCHEDULE_DELAY="100")
        self.proc = subprocess.Popen([*prefix, SPANPROBE, command, "-o", "otlp-json",
                                      *extra_args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.spans = []
        self.err = []
        self.lock = threading.Lock()
        self.readers = [threading.Thread(target=self._read_out, daemon=True),
                        threading.Thread(target=self._read_err, daemon=True)]
        for t in self.readers:
            t.start()

    def _read_out(self):
        for line in self.proc.stdout:
            if not line.startswith("{"):
                continue
            for rs in json.loads(line)["resourceSpans"]:
                res = attrs_to_dict(rs["resource"]["attributes"])
                for ss in rs["scopeSpans"]:
                    for span in ss["spans"]:
                        span["_resource"] = res
                        span["_attrs"] = attrs_to_dict(span.get("attributes", []))
                        with self.lock:
                            self.spans.append(span)

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line)

    def snapshot(self):
        with self.lock:
            return list(self.spans)

    def wait_for(self, pred, count):
        """Wait until `count` spans match pred (or WAIT_S); returns them."""
        deadline = time.monotonic() + WAIT_S
        while True:
            got = [s for s in self.snapshot() if pred(s)]
            if len(got) >= count or time.monotonic() > deadline or self.proc.poll() is not None:
                return got
            time.sleep(0.05)

    def wait_ready(self, server_port):
        """Capture is on once a request to server_port yields a span."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            curl(f"http://127.0.0.1:{server_port}/warmup")
            if self.wait_quick(lambda s: s["_attrs"].get("url.path") == "/warmup"):
                return True
        return False

    def wait_quick(self, pred):
        for _ in range(10):
            if any(pred(s) for s in self.snapshot()):
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        for t in self.readers:
            t.join(5)
        return rc

    def stderr(self):
        return "".join(self.err)


class Server:
    """A server process started by the tests; `ready` once it prints so
    (or once its port accepts connections)."""

    def __init__(self, args, port, cwd=None, wait_line="ready", host="127.0.0.1"):
        self.port = port
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, cwd=cwd)
        if wait_line:
            self.ready = self.proc.stdout.readline().strip() == wait_line
        else:
            self.ready = wait_port(host, port)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def capture_on(agent, server, what):
    """Checks that `server` (named `what`) started and that the agent sees
    its requests; returns whether both hold."""
    check(f"{what} started", server.ready)
    ready = agent.wait_ready(server.port)
    check("spanprobe run: HTTP capture on", ready, agent.stderr())
    return ready


def wait_port(host, port):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def node_server(port):
    return Server(["node", os.path.join(PROGRAM_SOURCES, "http_node_server.js"), str(port)],
                  port)


def python_server(port, directory, bind="127.0.0.1"):
    return Server(["python3", "-m", "http.server", str(port), "--bind", bind,
                   "--directory", directory], port, wait_line=None, host=bind)


def fanout_server(port, backend_port):
    return Server(["python3", os.path.join(PROGRAM_SOURCES, "http_fanout.py"), str(port),
                   str(backend_port)], port)


NGINX_CONF = """
worker_processes 1;
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 128; }}
http {{
    access_log off;
    {extra}
    sendfile on;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port}{listen};
        {server_extra}
        root {root};
        location /api/ {{ proxy_pass http://127.0.0.1:{backend}/; }}
        location = /boom {{ return 500; }}
    }}
}}
"""


def nginx_server(port, root, backend_port, extra="", server_extra="", tls=None):
    """nginx (one process: the tests know its PID) serving `root` and
    proxying /api/ to backend_port; `extra`: more http-level directives,
    `server_extra` more in the server; `tls`: (certificate, key) files,
    the port then speaks HTTPS."""
    d = tempfile.mkdtemp(prefix="sp-nginx-")
    listen = ""
    if tls:
        listen = " ssl"
        server_extra = f"ssl_certificate {tls[0]}; ssl_certificate_key {tls[1]};\n" + server_extra
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(NGINX_CONF.format(dir=d, port=port, root=root, backend=backend_port,
                                  extra=extra, listen=listen, server_extra=server_extra))
    s = Server([shutil.which("nginx") or "/usr/sbin/nginx", "-c", os.path.join(d, "nginx.conf"),
                "-e", os.path.join(d, "error.log")], port, wait_line=None)
    s.tmpdir = d
    return s


def make_cert(d):
    """A self-signed certificate for localhost in directory d: (cert, key)."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=localhost"], check=True,
                   capture_output=True)
    return cert, key


def curl(*args):
    """Run curl; returns (exit code, stdout, curl's pid)."""
    p = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{local_port}\n",
                          *args], stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=30)
    return p.returncode, out, p.pid


def by_pid(spans, pid):
    return [s for s in spans if s["_resource"].get("process.pid") == pid]


def kind(spans, k):
    """k: 2 SERVER, 3 CLIENT (OTLP/JSON SpanKind numbers)."""
    return [s for s in spans if s["kind"] == k]


def start_ns(s):
    return int(s["startTimeUnixNano"])


def end_ns(s):
    return int(s["endTimeUnixNano"])


def is_child(child, parent):
    return (child["traceId"] == parent["traceId"]
            and child.get("parentSpanId") == parent["spanId"])


def status_code(s):
    return s.get("status", {}).get("code", 0)
