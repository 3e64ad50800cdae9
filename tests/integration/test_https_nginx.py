#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTPS through nginx, node-wide: nginx (libssl) serving files over TLS
to curl, one span each side, linked, out within a second of curl's exit;
several requests on one kept-alive TLS connection; a Host without a port
(443); 1 MiB responses to slow readers (nginx's writes stop short and are
made again: every byte counted once) and a 300000-byte POST; nginx
proxying to an HTTPS upstream (Python's ssl), one trace from curl to the
upstream; a traceparent sent over TLS and forwarded by nginx; and servers
started before spanprobe that load libssl by dlopen only later (the
host's libssl, and a copy of it no scan saw).  Exact span counts per
process at the end."""
import collections
import os
import shutil
import ssl  # noqa: F401 (maps libssl here: its path is read from our maps)
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import check, finish, program, require_root  # noqa: E402
from httptest import (Agent, Server, bracket_times, brackets, end_ns, free_port,  # noqa: E402
                      is_child, make_cert, nginx_server, seconds_until_out, start_ns)

require_root()
SERVER, CLIENT = 2, 3
HERE = os.path.dirname(os.path.abspath(__file__))
PY_SERVER = os.path.join(os.path.dirname(HERE), "programs", "https_server.py")
SLOW_GET = os.path.join(os.path.dirname(HERE), "programs", "https_slow_get.py")
DLOPEN = program("tls_dlopen")
MIB = 1 << 20
POST_BYTES = 300000
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
# Spans each process should have in the end, (pid, kind) -> count.
EXPECTED = collections.Counter()
# The servers and clients share one CPU (spanprobe does not): a reader
# woken by a send runs before the writer has returned from its TLS call,
# so a write must be reported from inside the send to come first.
CPU = min(os.sched_getaffinity(0))


def pin():
    os.sched_setaffinity(0, {CPU})


def pid_of(s):
    return s["_resource"].get("process.pid")


def attr(s, key):
    return s["_attrs"].get(key)


def run_client(args):
    """Run a client; returns (exit code, stdout, pid, time it exited)."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         preexec_fn=pin)
    out, _ = p.communicate(timeout=60)
    return p.returncode, out, p.pid, time.monotonic()


def curl(*args):
    return run_client(["curl", "-sk", *args])


def spans(agent, pid, k, n, path_prefix=None, port=None):
    """The spans of process pid of kind k (url.path under path_prefix for a
    server, url.full containing it for a client; server.port `port`):
    waits for n."""
    def match(s):
        if pid_of(s) != pid or s["kind"] != k or port not in (None, attr(s, "server.port")):
            return False
        where = attr(s, "url.path") if k == SERVER else attr(s, "url.full")
        return path_prefix is None or (where or "").find(path_prefix) >= 0
    return agent.wait_for(match, n)


def expect(pid, k, n):
    EXPECTED[(pid, k)] += n


def exchange_ok(s, method, path, status, resp_bytes, port, req_bytes=None):
    """One span's attributes as an exchange of `method` on `path`."""
    a = s["_attrs"]
    ok = (a.get("http.request.method") == method and a.get("url.scheme") == "https"
          and a.get("http.response.status_code") == status
          and a.get("http.response.body.size") == resp_bytes
          and a.get("server.port") == port)
    if req_bytes is not None:
        ok = ok and a.get("http.request.body.size") == req_bytes
    if s["kind"] == SERVER:
        return ok and a.get("url.path") == path
    return ok and a.get("url.full") == f"https://127.0.0.1:{port}{path}"


def test_one_request(agent, nginx):
    body = open(os.path.join(nginx.root, "x")).read()
    rc, out, pid, exited = curl(f"https://127.0.0.1:{nginx.port}/x")
    check("curl https -> nginx: the page", rc == 0 and out == body, out)
    delay = seconds_until_out(agent, exited, [
        lambda s: pid_of(s) == nginx.pid and s["kind"] == SERVER and attr(s, "url.path") == "/x",
        lambda s: pid_of(s) == pid and s["kind"] == CLIENT])
    check("one request: both spans out within 1 s of curl's exit",
          delay is not None and delay < 1.0, f"{delay} s")
    servers = spans(agent, nginx.pid, SERVER, 1, "/x", port=nginx.port)
    clients = spans(agent, pid, CLIENT, 1)
    expect(nginx.pid, SERVER, 1)
    expect(pid, CLIENT, 1)
    check("one request: exactly one SERVER span of nginx and one CLIENT span of curl",
          len(servers) == 1 and len(clients) == 1, f"{len(servers)} {len(clients)}")
    if len(servers) != 1 or len(clients) != 1:
        return
    s, c = servers[0], clients[0]
    check("one request: nginx's span \"GET /x\": GET /x, 200, https, its port, the body's size",
          exchange_ok(s, "GET", "/x", 200, len(body), nginx.port) and s["name"] == "GET /x",
          (s["name"], s["_attrs"]))
    check("one request: curl's span: GET https://127.0.0.1:PORT/x, 200, the body's size",
          exchange_ok(c, "GET", "/x", 200, len(body), nginx.port), c["_attrs"])
    check("one request: nginx's span is the child of curl's", is_child(s, c)
          and brackets(c, s), f"{bracket_times(c, s)} {s.get('parentSpanId')} {c['spanId']}")


def test_keepalive(agent, nginx):
    paths = [f"/ka/{i}" for i in (1, 2, 3)]
    rc, out, pid, _ = curl("-w", "%{num_connects} %{local_port}\n",
                           *[f"https://127.0.0.1:{nginx.port}{p}" for p in paths])
    lines = out.splitlines()
    bodies, conns = lines[0::2], [x.split() for x in lines[1::2]]
    check("keep-alive: curl got the 3 pages over one connection (one connect, one port)",
          rc == 0 and bodies == [f"nginx-tls {p}" for p in paths] and len(conns) == 3
          and [x[0] for x in conns] == ["1", "0", "0"] and len({x[1] for x in conns}) == 1,
          out)
    n = len(paths)
    servers = spans(agent, nginx.pid, SERVER, n, "/ka/")
    clients = spans(agent, pid, CLIENT, n)
    expect(nginx.pid, SERVER, n)
    expect(pid, CLIENT, n)
    check(f"keep-alive: exactly {n} SERVER and {n} CLIENT spans",
          len(servers) == n and len(clients) == n, f"{len(servers)} {len(clients)}")
    size = len("nginx-tls /ka/1\n")
    check("keep-alive: each path once on each side, GET 200 https with its size",
          sorted(attr(s, "url.path") for s in servers) == paths
          and sorted(attr(c, "url.full") for c in clients)
          == [f"https://127.0.0.1:{nginx.port}{p}" for p in paths]
          and all(exchange_ok(s, "GET", attr(s, "url.path"), 200, size, nginx.port)
                  for s in servers)
          and all(exchange_ok(c, "GET", attr(c, "url.full")[-len("/ka/1"):], 200, size,
                              nginx.port) for c in clients),
          [s["_attrs"] for s in servers + clients])
    by_path = {attr(c, "url.full")[-len("/ka/1"):]: c for c in clients}
    check("keep-alive: each server span is the child of its own client span",
          len(servers) == n and all(
              sum(is_child(s, c) for c in clients) == 1
              and attr(s, "url.path") in by_path and is_child(s, by_path[attr(s, "url.path")])
              for s in servers),
          [(attr(s, "url.path"), s.get("parentSpanId")) for s in servers]
          + [(attr(c, "url.full"), c["spanId"]) for c in clients])


def test_host_without_port(agent, nginx):
    """A Host header without a port names https's default port, 443."""
    rc, out, pid, _ = curl("-H", "Host: localhost", f"https://127.0.0.1:{nginx.port}/x")
    check("Host without a port: the page", rc == 0 and out == "nginx-tls /x\n", out)
    servers = spans(agent, nginx.pid, SERVER, 1, "/x", port=443)
    clients = spans(agent, pid, CLIENT, 1)
    expect(nginx.pid, SERVER, 1)
    expect(pid, CLIENT, 1)
    check("Host without a port: server.address localhost, server.port 443 on both sides, "
          "url.full https://localhost/x",
          len(servers) == 1 and len(clients) == 1
          and all(attr(s, "server.address") == "localhost" and attr(s, "server.port") == 443
                  for s in servers + clients)
          and attr(clients[0], "url.full") == "https://localhost/x"
          and is_child(servers[0], clients[0]),
          [s["_attrs"] for s in servers + clients])


def proxied(agent, nginx, up, pid, front_path, up_path, what):
    """The four spans of one request through nginx to the upstream:
    (curl, nginx server, nginx client, upstream server), each checked to
    be the only one; None when one is missing."""
    client = spans(agent, pid, CLIENT, 1)
    front = spans(agent, nginx.pid, SERVER, 1, front_path)
    call = spans(agent, nginx.pid, CLIENT, 1, f":{up.port}{up_path}")
    back = spans(agent, up.pid, SERVER, 1, up_path)
    expect(pid, CLIENT, 1)
    expect(nginx.pid, SERVER, 1)
    expect(nginx.pid, CLIENT, 1)
    expect(up.pid, SERVER, 1)
    got = [client, front, call, back]
    ok = all(len(x) == 1 for x in got)
    check(f"{what}: exactly one span each: curl, nginx SERVER, nginx CLIENT, upstream SERVER",
          ok, [len(x) for x in got])
    return [x[0] for x in got] if ok else None


def check_chain(what, got):
    """(client, nginx server, nginx client, upstream server): one trace,
    the client's, each span the child of the one before."""
    client, front, call, back = got
    ids = [(s["traceId"][:8], s["spanId"], s.get("parentSpanId")) for s in got]
    check(f"{what}: one trace from the client to the upstream, each span the child of the "
          "one before (nginx's call: thread context)",
          is_child(front, client) and is_child(call, front) and is_child(back, call), ids)


def test_large(agent, nginx, up, d):
    # nginx's port with a 4 KB send buffer, curl reading at 8 MB/s: nginx's
    # writes stop short (the socket is full) and are made again; each byte
    # must be reported once, or the next response on the connection is lost.
    base = f"https://127.0.0.1:{nginx.slow_port}"
    rc, out, pid, _ = curl("--limit-rate", "8M", "-o", "/dev/null", "-o", "/dev/null",
                           "-w", "%{size_download} %{num_connects}\n", f"{base}/big", f"{base}/x")
    small = os.path.getsize(os.path.join(nginx.root, "x"))
    check("1 MiB, a slow reader: curl got 1048576 bytes, then /x on the same connection",
          rc == 0 and out == f"{MIB} 1\n{small} 0\n", out)
    servers = sorted(spans(agent, nginx.pid, SERVER, 2, port=nginx.slow_port), key=start_ns)
    clients = sorted(spans(agent, pid, CLIENT, 2), key=start_ns)
    expect(nginx.pid, SERVER, 2)
    expect(pid, CLIENT, 2)
    check("1 MiB, a slow reader: two spans each side, http.response.body.size 1048576 then "
          "the next response's, linked",
          len(servers) == 2 and len(clients) == 2
          and exchange_ok(servers[0], "GET", "/big", 200, MIB, nginx.slow_port)
          and exchange_ok(clients[0], "GET", "/big", 200, MIB, nginx.slow_port)
          and exchange_ok(servers[1], "GET", "/x", 200, small, nginx.slow_port)
          and exchange_ok(clients[1], "GET", "/x", 200, small, nginx.slow_port)
          and is_child(servers[0], clients[0]) and is_child(servers[1], clients[1]),
          [s["_attrs"] for s in servers + clients])

    # A reader with a 4 KB receive window: nginx's sends go out in pieces,
    # a record written in part and then the socket full.  The upstream ends
    # its body by closing, and so does nginx to an HTTP/1.0 client: the
    # body is what comes before the close, a byte reported twice counts.
    path = f"/up/stream/{MIB}"
    rc, out, pid, _ = run_client(["python3", SLOW_GET, str(nginx.slow_port), path])
    check("1 MiB through the proxy, ended by the close, to a slow reader: 1048576 bytes",
          rc == 0 and out == f"HTTP/1.1 200 OK {MIB}\n", out)
    got = proxied(agent, nginx, up, pid, path, path[3:], "1 MiB through the proxy")
    if got:
        client, front, call, back = got
        check("1 MiB through the proxy: every span says 1048576 bytes, 200, https",
              exchange_ok(client, "GET", path, 200, MIB, nginx.slow_port)
              and exchange_ok(front, "GET", path, 200, MIB, nginx.slow_port)
              and exchange_ok(call, "GET", path[3:], 200, MIB, up.port)
              and exchange_ok(back, "GET", path[3:], 200, MIB, up.port),
              [s["_attrs"] for s in got])
        check_chain("1 MiB through the proxy", got)

    post = os.path.join(d, "post.bin")
    with open(post, "wb") as f:
        f.write(os.urandom(POST_BYTES))
    rc, out, pid, _ = curl("--data-binary", f"@{post}", "-H",
                           "Content-Type: application/octet-stream",
                           f"https://127.0.0.1:{nginx.port}/up/post")
    answer = f"py-tls POST /post {POST_BYTES}\n"
    check("POST 300000 bytes through the proxy: the upstream read them all",
          rc == 0 and out == answer, out)
    got = proxied(agent, nginx, up, pid, "/up/post", "/post", "POST")
    if got:
        client, front, call, back = got
        n = len(answer)
        check("POST: every span says http.request.body.size 300000, POST, 200, https",
              exchange_ok(client, "POST", "/up/post", 200, n, nginx.port, POST_BYTES)
              and exchange_ok(front, "POST", "/up/post", 200, n, nginx.port, POST_BYTES)
              and exchange_ok(call, "POST", "/post", 200, n, up.port, POST_BYTES)
              and exchange_ok(back, "POST", "/post", 200, n, up.port, POST_BYTES),
              [s["_attrs"] for s in got])
        check_chain("POST", got)


def test_proxy(agent, nginx, up):
    rc, out, pid, _ = curl(f"https://127.0.0.1:{nginx.port}/up/p/1")
    check("proxy: curl -> nginx -> https upstream: the upstream's page",
          rc == 0 and out == "py-tls /p/1\n", out)
    got = proxied(agent, nginx, up, pid, "/up/p/1", "/p/1", "proxy")
    if not got:
        return
    client, front, call, back = got
    n = len(out)
    check("proxy: the spans' attributes (nginx's call: url.full https://127.0.0.1:UP/p/1)",
          exchange_ok(client, "GET", "/up/p/1", 200, n, nginx.port)
          and exchange_ok(front, "GET", "/up/p/1", 200, n, nginx.port)
          and exchange_ok(call, "GET", "/p/1", 200, n, up.port)
          and exchange_ok(back, "GET", "/p/1", 200, n, up.port),
          [s["_attrs"] for s in got])
    check_chain("proxy", got)
    check("proxy: each span lies inside its parent",
          brackets(client, front) and brackets(call, back)
          and start_ns(front) <= start_ns(call) <= end_ns(call) <= end_ns(front),
          f"{bracket_times(client, front)}; {bracket_times(call, back)}")


def test_traceparent(agent, nginx, up):
    """As over clear text: the incoming traceparent is the server span's
    parent (it wins over the same-host link to curl); a proxy forwarding
    it makes its own call the upstream's parent, in the header's trace."""
    rc, out, pid, _ = curl("-H", f"traceparent: 00-{TRACE}-{PARENT}-01",
                           f"https://127.0.0.1:{nginx.port}/up/tp")
    check("traceparent: the upstream answered", rc == 0 and out == "py-tls /tp\n", out)
    got = proxied(agent, nginx, up, pid, "/up/tp", "/tp", "traceparent")
    if not got:
        return
    client, front, call, back = got
    check("traceparent: nginx's server span joins the trace sent, as its parent's child",
          front["traceId"] == TRACE and front.get("parentSpanId") == PARENT,
          (front["traceId"], front.get("parentSpanId")))
    check("traceparent: curl's span is not its parent (curl started its own trace)",
          client["traceId"] != TRACE and not is_child(front, client))
    check("traceparent: nginx's call is the child of the request it serves",
          is_child(call, front))
    check("traceparent: the upstream (header forwarded) is the child of nginx's call",
          back["traceId"] == TRACE and is_child(back, call),
          (back["traceId"], back.get("parentSpanId"), call["spanId"]))


def libssl_path():
    """The libssl this process mapped (import ssl)."""
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if os.path.basename(path).startswith("libssl.so"):
                return path
    return None


def maps_libssl(pid):
    with open(f"/proc/{pid}/maps") as f:
        return "libssl" in f.read()


class LateTls:
    """tls_dlopen: started now, loads `lib` when told to."""

    def __init__(self, lib, cert, key):
        self.port = free_port()
        self.lib = lib
        self.proc = subprocess.Popen([DLOPEN, lib, str(self.port), cert, key],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, preexec_fn=pin)
        self.started = self.proc.stdout.readline().strip() == "waiting"
        self.pid = self.proc.pid

    def load(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip() == "ready"

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def test_dlopen(agent, late, what):
    check(f"dlopen ({what}): started before spanprobe, libssl still not mapped",
          late.started and not maps_libssl(late.pid))
    check(f"dlopen ({what}): loaded libssl and listening", late.load() and
          maps_libssl(late.pid))
    probed = f"tls: probing OpenSSL in {late.lib}"
    if late.lib.startswith("/"):
        # A file no scan saw: probed because of the dlopen, before we go on.
        deadline = time.monotonic() + 5
        while probed not in agent.stderr() and time.monotonic() < deadline:
            time.sleep(0.01)
        check(f"dlopen ({what}): spanprobe probed the library the process loaded",
              probed in agent.stderr(), agent.stderr()[-1500:])
    rc, out, pid, _ = curl(f"https://127.0.0.1:{late.port}/late")
    check(f"dlopen ({what}): curl got the page", rc == 0 and out == "tls-dlopen /late\n", out)
    servers = spans(agent, late.pid, SERVER, 1)
    clients = spans(agent, pid, CLIENT, 1)
    expect(late.pid, SERVER, 1)
    expect(pid, CLIENT, 1)
    n = len(out)
    check(f"dlopen ({what}): exactly one SERVER span, GET /late 200 https, curl's child",
          len(servers) == 1 and len(clients) == 1
          and exchange_ok(servers[0], "GET", "/late", 200, n, late.port)
          and exchange_ok(clients[0], "GET", "/late", 200, n, late.port)
          and is_child(servers[0], clients[0]),
          [s["_attrs"] for s in servers + clients])


def check_counts(agent):
    """Every process of the test has exactly the spans the tests made it
    (nothing late, nothing twice), warm-up requests aside; the host's
    other processes are traced too, and left out."""
    ours = {pid for pid, _ in EXPECTED}
    got = collections.Counter((pid_of(s), s["kind"]) for s in agent.snapshot()
                              if pid_of(s) in ours and attr(s, "url.path") != "/warmup"
                              and not (attr(s, "url.full") or "").endswith("/warmup"))
    check("in the end: exactly the spans expected, per process and kind",
          got == EXPECTED, f"got {dict(got)}, expected {dict(EXPECTED)}")


def make_root(d):
    root = os.path.join(d, "www")
    os.makedirs(os.path.join(root, "ka"))
    with open(os.path.join(root, "x"), "w") as f:
        f.write("nginx-tls /x\n")
    for i in (1, 2, 3):
        with open(os.path.join(root, "ka", str(i)), "w") as f:
            f.write(f"nginx-tls /ka/{i}\n")
    with open(os.path.join(root, "big"), "wb") as f:
        f.write(b"b" * MIB)
    return root


def main():
    d = tempfile.mkdtemp(prefix="sp-tls-nginx-")
    cert, key = make_cert(d)
    root = make_root(d)
    libssl = libssl_path()
    copy = os.path.join(d, "lib", os.path.basename(libssl))
    os.makedirs(os.path.dirname(copy))
    shutil.copy(libssl, copy)
    late = [LateTls(os.path.basename(libssl), cert, key), LateTls(copy, cert, key)]
    port = free_port()
    up = Server(["python3", PY_SERVER, str(port), cert, key], port)
    plain, slow = free_port(), free_port()
    nginx = nginx_server(
        free_port(), root, up.port, tls=(cert, key),
        server_extra=f"listen 127.0.0.1:{slow} ssl sndbuf=4k;\n"
        f"location /up/ {{ proxy_pass https://127.0.0.1:{up.port}/; }}",
        extra=f"server {{ listen 127.0.0.1:{plain}; return 204; }}")
    nginx.root, nginx.slow_port = root, slow
    # Single-threaded (nginx) or making its threads later (Python): the
    # whole process stays on the CPU.
    for s in (nginx, up):
        os.sched_setaffinity(s.pid, {CPU})
    agent = Agent(extra_args=["-v"])
    ready = False
    try:
        check("servers started (nginx with TLS, the HTTPS upstream, two late loaders)",
              nginx.ready and up.ready and all(x.started for x in late))
        ready = agent.wait_ready(plain)
        check("spanprobe run: capture on", ready, agent.stderr()[-1500:])
        if ready:
            test_one_request(agent, nginx)
            test_keepalive(agent, nginx)
            test_host_without_port(agent, nginx)
            test_large(agent, nginx, up, d)
            test_proxy(agent, nginx, up)
            test_traceparent(agent, nginx, up)
            test_dlopen(agent, late[0], "the host's libssl")
            test_dlopen(agent, late[1], "a copy no scan saw")
    finally:
        rc = agent.stop()
        for s in [nginx, up] + late:
            s.stop()
    check("spanprobe exits 0", rc == 0, agent.stderr()[-800:])
    if ready:
        check_counts(agent)
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(nginx.tmpdir, ignore_errors=True)
    finish()


main()
