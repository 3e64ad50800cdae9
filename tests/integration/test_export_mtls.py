#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""OTLP export to a collector that demands a client certificate (mutual
TLS): tests/otlp-node/mtls_receiver.js, node's http2 (ALPN h2 and
http/1.1) and grpc-js, both refusing clients without a certificate of
their CA.  Certificates are made by openssl here: a CA signing the
receiver's and the clients' certificates, and a second CA for a rotation.

Real spans: `spanprobe run -p PID` of a local Python HTTP server, curl
requests to it, each one SERVER span named by its path.  The TLS files
and the headers file sit in a directory laid out as Kubernetes mounts a
Secret (files that are symlinks into `..data`, itself a symlink swapped
atomically to a new version directory), and are rotated so while
spanprobe runs: a new client certificate of the same CA, then a new CA
with the receiver restarted on it."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import ROOT, SPANPROBE, check, exit_report, finish, require_root  # noqa: E402
from httptest import curl, free_port, python_server  # noqa: E402

NODE_DIR = os.path.join(ROOT, "tests", "otlp-node")
RELOAD_WAIT = 2.6  # spanprobe looks at the files at most every 2 s

require_root()
tmp = tempfile.mkdtemp(prefix="sp-mtls-")


def path(*names):
    return os.path.join(tmp, *names)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def new_key_and_csr(name, cn):
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-subj", f"/CN={cn}", "-keyout", path(name + ".key"),
            "-out", path(name + ".csr"))


def make_ca(name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", f"/CN={name}", "-keyout", path(name + ".key"),
            "-out", path(name + ".crt"))


def issue(name, ca, cn, ext, serial):
    """A certificate for `cn` signed by `ca` (name.crt, name.key)."""
    new_key_and_csr(name, cn)
    with open(path(name + ".ext"), "w") as f:
        f.write(ext)
    openssl("x509", "-req", "-in", path(name + ".csr"), "-CA", path(ca + ".crt"),
            "-CAkey", path(ca + ".key"), "-set_serial", str(serial), "-days", "1",
            "-extfile", path(name + ".ext"), "-out", path(name + ".crt"))


SERVER_EXT = "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
CLIENT_EXT = "extendedKeyUsage=clientAuth\n"


def make_certs():
    make_ca("ca1")
    make_ca("ca2")
    issue("server1", "ca1", "collector", SERVER_EXT, 1)
    issue("server2", "ca2", "collector", SERVER_EXT, 2)
    issue("client1", "ca1", "client-1", CLIENT_EXT, 3)
    issue("client2", "ca1", "client-2", CLIENT_EXT, 4)
    issue("client3", "ca2", "client-3", CLIENT_EXT, 5)


class Secret:
    """A directory as the kubelet mounts a Secret: NAME -> ..data/NAME,
    ..data -> ..VERSION; publish() swaps ..data in one rename."""

    FILES = ("ca.crt", "tls.crt", "tls.key", "headers")

    def __init__(self, name):
        self.dir = path(name)
        os.mkdir(self.dir)
        self.version = 0

    def file(self, name):
        return os.path.join(self.dir, name)

    def publish(self, ca, client, headers):
        self.version += 1
        vdir = os.path.join(self.dir, f"..v{self.version}")
        os.mkdir(vdir)
        shutil.copy(path(ca + ".crt"), os.path.join(vdir, "ca.crt"))
        shutil.copy(path(client + ".crt"), os.path.join(vdir, "tls.crt"))
        shutil.copy(path(client + ".key"), os.path.join(vdir, "tls.key"))
        with open(os.path.join(vdir, "headers"), "w") as f:
            f.write(headers)
        tmp_link = os.path.join(self.dir, "..data_tmp")
        os.symlink(f"..v{self.version}", tmp_link)
        os.rename(tmp_link, os.path.join(self.dir, "..data"))
        for name in self.FILES:
            link = os.path.join(self.dir, name)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", name), link)


class Receiver:
    def __init__(self, kind, ca, server):
        self.port = free_port()
        self.out = path(f"rx-{self.port}.jsonl")
        self.files = {k: path(f"rx-{self.port}.{k}") for k in ("ca", "cert", "key")}
        self.use(ca, server)
        self.proc = subprocess.Popen(
            ["node", os.path.join(NODE_DIR, "mtls_receiver.js"), f"--{kind}", str(self.port),
             "--ca", self.files["ca"], "--cert", self.files["cert"], "--key",
             self.files["key"], "--out", self.out],
            stdout=subprocess.PIPE, text=True)
        self.ready = self.proc.stdout.readline().strip() == "ready"

    def use(self, ca, server):
        shutil.copy(path(ca + ".crt"), self.files["ca"])
        shutil.copy(path(server + ".crt"), self.files["cert"])
        shutil.copy(path(server + ".key"), self.files["key"])

    def restart_on(self, ca, server):
        """New certificates; open connections closed (SIGHUP)."""
        self.use(ca, server)
        self.proc.send_signal(signal.SIGHUP)
        self.wait_for(lambda r: r.get("reloaded"))

    def records(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out) as f:
            return [json.loads(line) for line in f if line.strip()]

    def wait_for(self, pred, limit=6.0):
        """The first record `pred` accepts, waiting up to `limit` s."""
        deadline = time.time() + limit
        while time.time() < deadline:
            for r in self.records():
                if pred(r):
                    return r
            time.sleep(0.1)
        return None

    def with_path(self, url_path):
        return self.wait_for(lambda r: any(p == url_path for _, p in r.get("spans", [])))

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Agent:
    """spanprobe run -v, exporting the web server's spans only."""

    def __init__(self, web_pid, args, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPANPROBE_"))}
        e.update({"OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_EXPORTER_OTLP_TIMEOUT": "3000"})
        e.update(env or {})
        self.proc = subprocess.Popen([SPANPROBE, "run", "-v", "-p", str(web_pid), *args],
                                     env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.lines = []
        self.started = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        self.started.wait(20)

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            if "tracing HTTP of every process" in line:
                self.started.set()
        self.started.set()

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        time.sleep(0.1)
        return "".join(self.lines)


def get(web_port, url_path):
    curl(f"http://127.0.0.1:{web_port}{url_path}")


def secret_flags(sec):
    """The flags that take the TLS files and the headers file from `sec`."""
    return ["--otlp-certificate", sec.file("ca.crt"),
            "--otlp-client-certificate", sec.file("tls.crt"),
            "--otlp-client-key", sec.file("tls.key"),
            "--otlp-headers-file", sec.file("headers")]


def seen(rec):
    return (rec or {}).get("cn"), (rec or {}).get("header"), (rec or {}).get("httpVersion")


def test_h2_rotation(web):
    """HTTP/2: client certificate and headers from the mounted Secret;
    then a new client certificate and header value; then a new CA."""
    sec = Secret("secret-h2")
    sec.publish("ca1", "client1", "# the tenant\nx-tenant = alpha\n")
    rx = Receiver("tls", "ca1", "server1")
    check("h2: receiver started", rx.ready)
    agent = Agent(web.pid, ["--otlp-endpoint", f"https://127.0.0.1:{rx.port}/v1/traces",
                            "--otlp-http-version", "2", *secret_flags(sec)])
    try:
        get(web.port, "/one")
        r = rx.with_path("/one")
        check("h2: span delivered with client-1's certificate and the file's header",
              seen(r) == ("client-1", "alpha", "2.0"), str(r))

        sec.publish("ca1", "client2", "x-tenant=beta\n")
        time.sleep(RELOAD_WAIT)
        get(web.port, "/two")
        r = rx.with_path("/two")
        check("h2: after the Secret's update, client-2's certificate and the new header",
              seen(r) == ("client-2", "beta", "2.0"), str(r))

        rx.restart_on("ca2", "server2")
        sec.publish("ca2", "client3", "x-tenant=gamma\n")
        time.sleep(RELOAD_WAIT)
        get(web.port, "/three")
        r = rx.with_path("/three")
        check("h2: after a new CA (CA file, certificate and key rotated), spans still arrive",
              seen(r) == ("client-3", "gamma", "2.0"), str(r))
    finally:
        err = agent.stop()
        rx.stop()
    c = exit_report(err)
    check("h2: exit status 0", agent.proc.returncode == 0, err[-1500:])
    check("h2: 3 spans exported, none failed",
          (c.get("spans: exported"), c.get("spans: failed")) == (3, 0), str(c))
    spans = [s for r in rx.records() for s in r.get("spans", [])]
    check("h2: each span once", sorted(p for _, p in spans) == ["/one", "/three", "/two"],
          str(spans))
    check("h2: two TLS reloads said", err.count("TLS files changed on disk") == 2, err[-1500:])
    check("h2: two header file reloads said",
          err.count(f"headers file {sec.file('headers')} changed: 1 headers from it") == 2,
          err[-1500:])
    check("h2: the start-up line names the client certificate and the headers file",
          "client certificate, headers file)" in err, err[:1500])
    check("h2: no header value in the messages",
          not any(v in err for v in ("alpha", "beta", "gamma")), err[-1500:])


def test_grpc_env(web):
    """gRPC (grpc-js), every setting from the environment (TRACES_ forms)."""
    sec = Secret("secret-grpc")
    sec.publish("ca1", "client2", "x-tenant=delta\n")
    rx = Receiver("grpc", "ca1", "server1")
    check("gRPC: receiver started", rx.ready)
    agent = Agent(web.pid, [], env={
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"https://127.0.0.1:{rx.port}",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": path("ca2.crt"),  # the TRACES_ form wins
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": sec.file("ca.crt"),
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": sec.file("tls.crt"),
        "OTEL_EXPORTER_OTLP_CLIENT_KEY": sec.file("tls.key"),
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=from-env",  # the file wins
        "SPANPROBE_OTLP_HEADERS_FILE": sec.file("headers")})
    try:
        get(web.port, "/grpc")
        r = rx.with_path("/grpc")
        check("gRPC: span delivered with client-2's certificate and the file's header",
              seen(r) == ("client-2", "delta", "2.0"), str(r))
    finally:
        err = agent.stop()
        rx.stop()
    c = exit_report(err)
    check("gRPC: 1 span exported, none failed",
          (c.get("spans: exported"), c.get("spans: failed")) == (1, 0), str(c))


def test_http1(web):
    """HTTP/1.1 (ALPN http/1.1), headers from the file and a flag."""
    sec = Secret("secret-h1")
    sec.publish("ca1", "client1", "x-tenant=epsilon\nx-other=file\n")
    rx = Receiver("tls", "ca1", "server1")
    agent = Agent(web.pid, ["--otlp-endpoint", f"https://127.0.0.1:{rx.port}/v1/traces",
                            "--otlp-http-version", "1.1", *secret_flags(sec),
                            "--otlp-header", "x-tenant=flag"])
    try:
        get(web.port, "/h1")
        r = rx.with_path("/h1")
        check("HTTP/1.1: span delivered with client-1's certificate, the flag's header winning",
              seen(r) == ("client-1", "flag", "1.1"), str(r))
    finally:
        agent.stop()
        rx.stop()


def test_no_client_cert(web):
    """Without a client certificate the collector refuses: counted."""
    rx = Receiver("tls", "ca1", "server1")
    agent = Agent(web.pid, ["--otlp-endpoint", f"https://127.0.0.1:{rx.port}/v1/traces",
                            "--otlp-certificate", path("ca1.crt")])
    try:
        get(web.port, "/refused-1")
        get(web.port, "/refused-2")
        time.sleep(1.5)
    finally:
        err = agent.stop()
        rx.stop()
    c = exit_report(err)
    check("no client certificate: 2 spans failed, none exported",
          (c.get("spans: exported"), c.get("spans: failed")) == (0, 2), str(c))
    recs = rx.records()
    check("no client certificate: the receiver refused the handshake, took no span",
          any("refused" in r for r in recs) and not any(r.get("spans") for r in recs), str(recs))


def test_start_errors():
    """Bad TLS settings stop spanprobe at start, saying why."""
    ep = ["--otlp-endpoint", "https://127.0.0.1:9/v1/traces"]
    cases = [
        ("a key that does not match the certificate",
         ["--otlp-client-certificate", path("client1.crt"), "--otlp-client-key",
          path("client2.key")], "does not match the certificate"),
        ("a certificate without its key",
         ["--otlp-client-certificate", path("client1.crt")], "needs its key"),
        ("an unreadable key", ["--otlp-client-certificate", path("client1.crt"),
                               "--otlp-client-key", path("nothere.key")], "cannot read it"),
        ("a bad headers file", ["--otlp-headers-file", path("bad-headers")],
         "line 2 has no '='"),
    ]
    with open(path("bad-headers"), "w") as f:
        f.write("x-ok=1\nx-secret-value-here\n")
    for what, args, msg in cases:
        p = subprocess.run([SPANPROBE, "run", *ep, *args], capture_output=True, text=True,
                           timeout=20)
        check(f"start: {what}: exit status 2 (settings) and a message",
              p.returncode == 2 and msg in p.stderr, f"{p.returncode} {p.stderr}")
    check("start: the bad headers line is not echoed",
          "x-secret-value-here" not in p.stderr, p.stderr)


def main():
    if shutil.which("openssl") is None or shutil.which("node") is None:
        check("openssl and node are installed (deploy/deps.sh)", False)
        return
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules")):
        check("tests/otlp-node/node_modules installed (deploy/deps.sh)", False)
        return
    make_certs()
    test_start_errors()
    web_port = free_port()
    web = python_server(web_port, tmp)
    web.port = web_port
    try:
        check("web server started", web.ready)
        test_h2_rotation(web)
        test_grpc_env(web)
        test_http1(web)
        test_no_client_cert(web)
    finally:
        web.stop()


try:
    main()
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
