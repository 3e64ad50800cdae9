#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP/2 over TLS and the ways into HTTP/2 other than a new h2c
connection, from real programs, with `spanprobe run` (narrowed to a
cgroup that holds the test's processes, where there is cgroup v2):
- nginx `listen ... ssl http2` (ALPN h2) driven by `curl -k --http2`:
  one GET of a static file, then three GETs on one connection;
- nginx `listen ... http2` without TLS (h2c) and
  `curl --http2-prior-knowledge`;
- a Node.js `http2.createSecureServer` and a Node.js client over TLS (5
  requests on one connection), and curl -k --http2 to it;
- an h2c connection opened before spanprobe started: one request before,
  three after; exactly three SERVER spans, as much of each as the HPACK
  state allows (the encoder's dynamic table was filled unseen);
- `curl --http2 http://...`: HTTP/1.1 with `Upgrade: h2c`, answered by a
  Node.js server that switches to HTTP/2 (the upgrading request is
  stream 1, RFC 7540 section 3.2), then a second request on stream 3;
- h2load with 100 streams in flight on one connection to nginx (h2c):
  h2load writes many HEADERS frames at once, nginx answers in writes of
  many frames, and each reads many frames at a time.
Every exchange gives exactly one SERVER span of the server and one
CLIENT span of the client, method, path, status and body sizes exact,
network.protocol.version "2", url.scheme https where TLS, and the server
span is the child of its client span (same host)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import check, finish, require_root  # noqa: E402
from httptest import (PROGRAM_SOURCES, Agent, Server, free_port, is_child,  # noqa: E402
                      make_cert, nginx_server, status_code)

require_root()
SERVER, CLIENT = 2, 3
H2_NODE = os.path.join(PROGRAM_SOURCES, "h2_node.js")
H2_TLS_NODE = os.path.join(PROGRAM_SOURCES, "h2_tls_node.js")
NODE_BODY = 9  # "hello h2\n", the Node.js servers' answer to a GET
FILE_BYTES = 5000  # nginx's static file
SMALL = {"/ka/one": 100, "/ka/two": 200, "/ka/three": 300}  # three more, of other sizes
H2LOAD_BODY = 64
SPANS_WAIT_S = 5  # for the spans of one case; they come out within a second


def pid_of(s):
    return s["_resource"].get("process.pid")


def attr(s, key):
    return s["_attrs"].get(key)


def run(args):
    """Run a client; returns (exit code, stdout, pid)."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out, _ = p.communicate(timeout=60)
    return p.returncode, out, p.pid


def curl(*args, urls):
    """curl over HTTP/2, bodies dropped; one line per URL: status, HTTP
    version, connections opened, local port, bytes downloaded."""
    outs = [a for _ in urls for a in ("-o", "/dev/null")]
    return run(["curl", "-sk", *args, *outs, "-w",
                "%{http_code} %{http_version} %{num_connects} %{local_port} "
                "%{size_download}\n", *urls])


def spans_of(agent, *wants):
    """For each (pid, kind, count, pred) of wants, the spans of process pid
    of that kind matching pred (url.path and such), once each count is
    there (or SPANS_WAIT_S passed), and a moment more: a span too many
    would come out with the others."""
    def matching(want):
        pid, k, _, pred = want
        return [s for s in agent.snapshot() if pid_of(s) == pid and s["kind"] == k and pred(s)]
    deadline = time.monotonic() + SPANS_WAIT_S
    while (any(len(matching(w)) < w[2] for w in wants) and time.monotonic() < deadline
           and agent.proc.poll() is None):
        time.sleep(0.05)
    time.sleep(0.3)
    return [matching(w) for w in wants]


def anything(s):
    return True


def brief(spans):
    """What a failing count shows of the spans it found."""
    return [(s["name"], {k: v for k, v in s["_attrs"].items()
                         if k.startswith(("http.", "url.", "network.protocol", "spanprobe."))})
            for s in spans]


def path_in(paths):
    return lambda s: attr(s, "url.path") in paths


def by_path(spans, scheme, port):
    """Spans keyed by path (a client's from its url.full); None when two
    share one."""
    prefix = f"{scheme}://127.0.0.1:{port}"
    out = {}
    for s in spans:
        if s["kind"] == SERVER:
            p = attr(s, "url.path")
        else:
            p = attr(s, "url.full") or ""
            p = p[len(prefix):] if p.startswith(prefix) else p
        if p in out:
            return None
        out[p] = s
    return out


def exchange_diff(s, path, scheme, port, body):
    """What in span s differs from a whole GET of `path` answered 200 with
    `body` bytes over HTTP/2 (empty when nothing)."""
    want = {"http.request.method": "GET", "http.response.status_code": 200,
            "network.protocol.version": "2", "http.request.body.size": 0,
            "http.response.body.size": body, "server.port": port, "url.scheme": scheme,
            "spanprobe.partial": None}
    if s["kind"] == SERVER:
        want["url.path"] = path
    else:
        want["url.full"] = f"{scheme}://127.0.0.1:{port}{path}"
    got = {k: attr(s, k) for k in want}
    diff = {k: got[k] for k in want if got[k] != want[k]}
    if s["name"] != f"GET {path}":
        diff["name"] = s["name"]
    if status_code(s) != 0:
        diff["status"] = s.get("status")
    return diff


def check_pairs(what, agent, server_pid, client_pid, paths, scheme, port, bodies):
    """Exactly one SERVER span of server_pid and one CLIENT span of
    client_pid per path (paths distinct), each whole and exact, the
    server's the child of the client's.  Returns the server spans by path."""
    n = len(paths)
    servers, clients = spans_of(agent, (server_pid, SERVER, n, path_in(paths)),
                                (client_pid, CLIENT, n, anything))
    sp, cp = by_path(servers, scheme, port), by_path(clients, scheme, port)
    ok = (len(servers) == n and len(clients) == n and sp is not None and cp is not None
          and sorted(sp) == sorted(paths) and sorted(cp) == sorted(paths))
    check(f"{what}: exactly one SERVER and one CLIENT span per request ({n} each)", ok,
          f"{len(servers)} SERVER {brief(servers)}, {len(clients)} CLIENT {brief(clients)}")
    if not ok:
        return None
    diffs = {f"{s['kind']} {p}": exchange_diff(s, p, scheme, port, bodies[p])
             for spans in (sp, cp) for p, s in spans.items()}
    diffs = {k: v for k, v in diffs.items() if v}
    check(f"{what}: GET, path, 200, body sizes, version 2, {scheme}, no headers left out, "
          "both sides", not diffs, diffs)
    check(f"{what}: each server span is the child of its client span",
          all(is_child(sp[p], cp[p]) for p in paths),
          [(p, sp[p].get("parentSpanId"), cp[p]["spanId"]) for p in paths])
    return sp


def one_connection(what, servers, lines):
    """The server spans all name the one client port curl used."""
    ports = {line.split()[3] for line in lines}
    check(f"{what}: one connection (client.port of every server span = curl's port)",
          len(ports) == 1 and all(str(attr(s, "client.port")) in ports for s in servers),
          f"curl {sorted(ports)}, spans {[attr(s, 'client.port') for s in servers]}")


def test_nginx_tls(agent, nginx):
    port = nginx.h2tls
    rc, out, pid = curl("--http2", urls=[f"https://127.0.0.1:{port}/tls-file"])
    check("nginx ssl http2: curl -k --http2 got the file over HTTP/2",
          rc == 0 and out.split()[:2] == ["200", "2"]
          and out.split()[4:] == [str(FILE_BYTES)], out)
    check_pairs("nginx ssl http2, one GET", agent, nginx.pid, pid, ["/tls-file"], "https", port,
                {"/tls-file": FILE_BYTES})

    paths = list(SMALL)
    rc, out, pid = curl("--http2", urls=[f"https://127.0.0.1:{port}{p}" for p in paths])
    lines = out.splitlines()
    check("nginx ssl http2: three GETs in one curl, HTTP/2, one connection opened",
          rc == 0 and [x.split()[:3] for x in lines] == [["200", "2", "1"], ["200", "2", "0"],
                                                          ["200", "2", "0"]]
          and [int(x.split()[4]) for x in lines] == list(SMALL.values()), out)
    servers = check_pairs("nginx ssl http2, three GETs on one connection", agent, nginx.pid, pid,
                          paths, "https", port, SMALL)
    if servers:
        one_connection("nginx ssl http2, three GETs", list(servers.values()), lines)


def test_nginx_h2c(agent, nginx):
    port = nginx.h2c
    rc, out, pid = curl("--http2-prior-knowledge", urls=[f"http://127.0.0.1:{port}/h2c-file"])
    check("nginx h2c: curl --http2-prior-knowledge got the file over HTTP/2",
          rc == 0 and out.split()[:2] == ["200", "2"]
          and out.split()[4:] == [str(FILE_BYTES)], out)
    check_pairs("nginx h2c", agent, nginx.pid, pid, ["/h2c-file"], "http", port,
                {"/h2c-file": FILE_BYTES})


def test_node_tls(agent, node):
    port = node.port
    rc, out, pid = run(["node", H2_TLS_NODE, "get", f"https://127.0.0.1:{port}/n", "5"])
    paths = [f"/n{i}" for i in range(5)]
    check("node http2 TLS: 5 GETs on one connection answered 200",
          rc == 0 and out.split() == ["200"] * 5, out)
    servers = check_pairs("node http2 TLS, node client (5 streams, one connection)", agent,
                          node.pid, pid, paths, "https", port, dict.fromkeys(paths, NODE_BODY))
    if servers:
        check("node http2 TLS, node client: one connection",
              len({attr(s, "client.port") for s in servers.values()}) == 1,
              [attr(s, "client.port") for s in servers.values()])

    rc, out, pid = curl("--http2", urls=[f"https://127.0.0.1:{port}/curl-node"])
    check("node http2 TLS: curl -k --http2 got 9 bytes over HTTP/2",
          rc == 0 and out.split()[:2] == ["200", "2"] and out.split()[4:] == [str(NODE_BODY)],
          out)
    check_pairs("node http2 TLS, curl", agent, node.pid, pid, ["/curl-node"], "https", port,
                {"/curl-node": NODE_BODY})


class Held:
    """A Node.js client that opened its connection and made `before` requests
    (paths /held0 ..) before spanprobe started; go() makes `after` more."""

    def __init__(self, port, before, after):
        self.after = after
        self.before = before
        self.proc = subprocess.Popen(["node", H2_TLS_NODE, "held",
                                      f"http://127.0.0.1:{port}/held", str(before), str(after)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        lines = [self.proc.stdout.readline().strip() for _ in range(before + 1)]
        self.ready = lines == ["200"] * before + ["held"]
        self.pid = self.proc.pid

    def go(self):
        out, _ = self.proc.communicate("go\n", timeout=30)
        return self.proc.returncode == 0 and out.split() == ["200"] * self.after, out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_held_connection(agent, held, node):
    """The connection's HPACK tables were filled before spanprobe saw a byte.
    Fields sent as literals or from the static table are known (:method
    GET, the :path, which nghttp2 never indexes, :status 200); the next
    field of each block refers to an entry the encoder made on the first
    request (:authority by the client, content-type by the server), never
    seen, which ends that block's decoding: every span says
    spanprobe.partial "headers" (both sides' blocks), and the server's
    address and port are the socket's."""
    check("connection opened before spanprobe: one request made then", held.ready)
    ok, out = held.go()
    check("connection opened before spanprobe: 3 more GETs answered 200", ok, out)
    paths = [f"/held{i}" for i in range(held.before, held.before + held.after)]
    servers, clients = spans_of(agent, (node.pid, SERVER, len(paths), anything),
                                (held.pid, CLIENT, len(paths), anything))
    check("connection opened before spanprobe: exactly 3 SERVER spans of the server",
          len(servers) == 3, f"{len(servers)}: {brief(servers)}")
    check("connection opened before spanprobe: exactly 3 CLIENT spans of the client",
          len(clients) == 3, f"{len(clients)}: {brief(clients)}")
    keys = ("name", "http.request.method", "http.response.status_code",
            "http.response.body.size", "network.protocol.version", "server.port",
            "spanprobe.partial")

    def seen(spans, where):
        return sorted(({k: s["name"] if k == "name" else attr(s, k)
                        for k in keys + (where,)} for s in spans), key=str)

    def wanted(where, value):
        return sorted(({"name": f"GET {p}", "http.request.method": "GET",
                        "http.response.status_code": 200, "http.response.body.size": NODE_BODY,
                        "network.protocol.version": "2", "server.port": node.port,
                        "spanprobe.partial": "headers", where: value(p)} for p in paths),
                      key=str)
    got = seen(servers, "url.path")
    check("connection opened before spanprobe: server spans GET /heldN, 200, 9 bytes, version 2, "
          "the socket's port, spanprobe.partial \"headers\"",
          got == wanted("url.path", lambda p: p), f"got {got}")
    got = seen(clients, "url.full")
    check("connection opened before spanprobe: client spans the same, url.full from the socket's "
          "address", got == wanted("url.full", lambda p: f"http://127.0.0.1:{node.port}{p}"),
          f"got {got}")
    check("connection opened before spanprobe: each server span is the child of one client span",
          servers and all(sum(is_child(s, c) for c in clients) == 1 for s in servers),
          f"{len(servers)} server spans, {len(clients)} client spans")


def test_upgrade(agent, up):
    port = up.port
    paths = ["/up1", "/up2"]
    rc, out, pid = curl("--http2", urls=[f"http://127.0.0.1:{port}{p}" for p in paths])
    lines = out.splitlines()
    check("Upgrade: h2c: curl --http2 http://: 101, then both answered over HTTP/2 on one "
          "connection",
          rc == 0 and [x.split()[:3] for x in lines] == [["200", "2", "1"], ["200", "2", "0"]],
          out)
    servers = check_pairs("Upgrade: h2c (the upgrading request, then stream 3)", agent, up.pid,
                          pid, paths, "http", port, dict.fromkeys(paths, NODE_BODY))
    if servers:
        one_connection("Upgrade: h2c", list(servers.values()), lines)


def test_h2load(agent, nginx):
    if not check("h2load installed", shutil.which("h2load") is not None,
                 "install nghttp2-client"):
        return
    n = 200
    rc, out, pid = run(["h2load", "-n", str(n), "-c", "1", "-m", "100",
                        f"http://127.0.0.1:{nginx.h2c}/h"])
    check(f"h2load: {n} requests, 100 streams in flight on one connection, all 2xx",
          rc == 0 and f"{n} succeeded" in out and f"{n} 2xx" in out, out)
    servers, clients = spans_of(agent, (nginx.pid, SERVER, n, path_in(["/h"])),
                                (pid, CLIENT, n, anything))
    check(f"h2load: exactly {n} SERVER spans of nginx", len(servers) == n, f"{len(servers)}")
    check(f"h2load: exactly {n} CLIENT spans of h2load", len(clients) == n, f"{len(clients)}")
    for what, spans in (("nginx", servers), ("h2load", clients)):
        bad = [(s["name"], diff) for s in spans
               if (diff := exchange_diff(s, "/h", "http", nginx.h2c, H2LOAD_BODY))]
        check(f"h2load: {n} spans of {what}, each GET /h, 200, 64 bytes, version 2, whole "
              "headers", len(spans) == n and not bad,
              f"{len(spans)} spans, {len(bad)} of them differ, the first: {bad[:2]}")
    by_id = {c["spanId"]: c for c in clients}
    check(f"h2load: each of {n} server spans is the child of a distinct h2load span",
          len(servers) == n and len({s.get("parentSpanId") for s in servers}) == n
          and all(s.get("parentSpanId") in by_id and is_child(s, by_id[s["parentSpanId"]])
                  for s in servers), f"{len(servers)} server spans")


def cgroup2_mount():
    """Where the cgroup v2 hierarchy is mounted, or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, fs = line.partition(" - ")
            if fs.split()[:1] == ["cgroup2"]:
                return fields.split()[4]
    return None


class OwnCgroup:
    """The test and every process it starts, in a cgroup v2 group of their
    own (`path`, None without cgroup v2): spanprobe run --cgroup then
    leaves out what the rest of the host does, as another program under
    heavy HTTP load fills the export queue, and spans of ours are dropped
    with its own."""

    def __init__(self):
        self.mount, self.path = cgroup2_mount(), None
        if not self.mount:
            return
        with open("/proc/self/cgroup") as f:
            self.home = next(line.split(":", 2)[2].strip() for line in f
                             if line.startswith("0::"))
        path = f"/sp-h2-tls-{os.getpid()}"
        os.mkdir(self.mount + path)
        self.move(path)
        self.path = path

    def move(self, path):
        with open(f"{self.mount}{path}/cgroup.procs", "w") as f:
            f.write(str(os.getpid()))

    def leave(self):
        """Back home, and the group removed once empty."""
        if not self.path:
            return
        self.move(self.home)
        try:
            os.rmdir(self.mount + self.path)
        except OSError as e:
            print(f"# cgroup {self.path} not removed: {e}")


def make_root(d):
    root = os.path.join(d, "www")
    os.makedirs(os.path.join(root, "ka"))
    for name in ("tls-file", "h2c-file"):
        with open(os.path.join(root, name), "wb") as f:
            f.write(b"f" * FILE_BYTES)
    for path, size in SMALL.items():
        with open(os.path.join(root, path.lstrip("/")), "wb") as f:
            f.write(b"k" * size)
    with open(os.path.join(root, "h"), "wb") as f:
        f.write(b"h" * H2LOAD_BODY)
    return root


def start_nginx(d, cert, key):
    """nginx: HTTP/1.1 on .port (the warm-up), HTTP/2 over TLS on .h2tls,
    h2c (prior knowledge) on .h2c."""
    h2tls, h2c = free_port(), free_port()
    nginx = nginx_server(free_port(), make_root(d), free_port(), server_extra=(
        f"listen 127.0.0.1:{h2tls} ssl http2;\nlisten 127.0.0.1:{h2c} http2;\n"
        f"ssl_certificate {cert};\nssl_certificate_key {key};"))
    nginx.h2tls, nginx.h2c = h2tls, h2c
    return nginx


def run_all(cgroup):
    d = tempfile.mkdtemp(prefix="sp-h2-tls-")
    cert, key = make_cert(d)
    nginx = start_nginx(d, cert, key)
    port = free_port()
    node_tls = Server(["node", H2_TLS_NODE, "serve-tls", str(port), cert, key], port)
    port = free_port()
    up = Server(["node", H2_TLS_NODE, "serve-upgrade", str(port)], port)
    port = free_port()
    node_h2c = Server(["node", H2_NODE, "serve", str(port)], port)
    held = Held(port, 1, 3) if node_h2c.ready else None
    agent = None
    rc = None
    try:
        check("servers started (nginx, Node.js TLS, Node.js upgrade, Node.js h2c)",
              nginx.ready and node_tls.ready and up.ready and node_h2c.ready)
        agent = Agent(["--cgroup", cgroup.path] if cgroup.path else [])
        ready = agent.wait_ready(nginx.port)
        check("spanprobe run: capture on", ready, agent.stderr()[-1500:])
        if ready:
            test_nginx_tls(agent, nginx)
            test_nginx_h2c(agent, nginx)
            test_node_tls(agent, node_tls)
            if held:
                test_held_connection(agent, held, node_h2c)
            test_upgrade(agent, up)
            test_h2load(agent, nginx)
    finally:
        if agent:
            rc = agent.stop()
        if held:
            held.stop()
        for s in (nginx, node_tls, up, node_h2c):
            s.stop()
    check("spanprobe exits 0 on SIGTERM", rc == 0, agent.stderr()[-800:] if agent else "")
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(nginx.tmpdir, ignore_errors=True)


def main():
    if not check("node and curl installed", all(shutil.which(x) for x in ("node", "curl"))):
        finish()
    cgroup = OwnCgroup()
    if not cgroup.path:
        print("# no cgroup v2 hierarchy: spanprobe traces the whole host, whose own HTTP "
              "traffic may crowd out the test's spans")
    try:
        run_all(cgroup)
    finally:
        cgroup.leave()
    finish()


main()
