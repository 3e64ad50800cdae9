#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP/2 over cleartext (h2c, prior knowledge) from real programs,
node-wide: a Node.js `http2` server started after spanprobe, driven by
curl, by a Node.js `http2` client (several requests on one session, a
POST, a gRPC-shaped call) and by h2load (many streams in flight on one
connection); and curl's HTTP/1.1 "Upgrade: h2c" to a server written
with python3-h2.  Every exchange gives exactly one SERVER span of the server
and one CLIENT span of the client per stream, version "2", the server
span the child of its client span (same host).

h2load keeps 100 streams in flight on one connection: its HEADERS frames
come in one write, Node's answers in writevs of hundreds of segments,
and the kernel side walks every frame of those calls (SP_SOCK_F_FRAMES):
every stream gives its two spans."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import check, finish, require_root  # noqa: E402
from httptest import (PROGRAM_SOURCES, WAIT_S, Agent, Server, curl, free_port,  # noqa: E402
                      is_child, status_code)

require_root()
SERVER, CLIENT = 2, 3
H2_NODE = os.path.join(PROGRAM_SOURCES, "h2_node.js")
H2C_UPGRADE = os.path.join(PROGRAM_SOURCES, "h2c_upgrade.py")
# Debian's interpreter, where python3-h2 is installed (not whatever
# python3 comes first in PATH).
DEBIAN_PYTHON = "/usr/bin/python3"
BODY = 9  # "hello h2\n", the server's answer to a GET


def node_client(*args):
    """Run h2_node.js as a client; returns (exit code, stdout, pid)."""
    p = subprocess.Popen(["node", H2_NODE, *args], stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=30)
    return p.returncode, out, p.pid


def pair(agent, server_pid, client_pid, paths):
    """Wait for one SERVER span of server_pid and one CLIENT span of
    client_pid per path; returns both lists, sorted by path (each list
    holds every span of those pids with those paths, so a count past
    len(paths) shows)."""
    n = len(paths)

    def of(pid, k):
        return lambda s: (s["_resource"].get("process.pid") == pid and s["kind"] == k
                          and path_of(s) in paths)
    agent.wait_for(of(server_pid, SERVER), n)
    agent.wait_for(of(client_pid, CLIENT), n)
    time.sleep(0.3)  # a span too many would come out with the others
    servers = [s for s in agent.snapshot() if of(server_pid, SERVER)(s)]
    clients = [s for s in agent.snapshot() if of(client_pid, CLIENT)(s)]
    return sorted(servers, key=path_of), sorted(clients, key=path_of)


def path_of(s):
    """url.path, or the RPC's path for a gRPC span."""
    a = s["_attrs"]
    if "rpc.service" in a:
        return f"/{a['rpc.service']}/{a.get('rpc.method')}"
    return a.get("url.path")


def linked(servers, clients):
    return (len(servers) == len(clients)
            and all(is_child(s, c) for s, c in zip(servers, clients)))


def wait_capture(agent, port):
    """Capture is on once an h2c request to port yields a server span."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and agent.proc.poll() is None:
        curl("--http2-prior-knowledge", f"http://127.0.0.1:{port}/warmup")
        if agent.wait_quick(lambda s: s["_attrs"].get("url.path") == "/warmup"):
            return True
    return False


def test_curl_get(agent, node):
    port = node.port
    rc, out, pid = curl("--http2-prior-knowledge", f"http://127.0.0.1:{port}/a")
    local_port = int(out.split()[1]) if rc == 0 else None
    check("curl h2c GET /a: 200", rc == 0 and out.startswith("200"), out)
    servers, clients = pair(agent, node.pid, pid, ["/a"])
    check("curl: exactly one SERVER span of node, one CLIENT span of curl",
          len(servers) == 1 and len(clients) == 1, f"{len(servers)} {len(clients)}")
    if len(servers) != 1 or len(clients) != 1:
        return
    s, c = servers[0], clients[0]
    want = {"http.request.method": "GET", "url.path": "/a", "url.scheme": "http",
            "http.response.status_code": 200, "server.address": "127.0.0.1",
            "server.port": port, "client.address": "127.0.0.1", "client.port": local_port,
            "network.peer.address": "127.0.0.1", "network.peer.port": local_port,
            "network.protocol.version": "2", "http.request.body.size": 0,
            "http.response.body.size": BODY}
    got = {k: s["_attrs"].get(k) for k in want}
    check("curl: server span name and attributes",
          s["name"] == "GET /a" and got == want
          and s["_attrs"].get("user_agent.original", "").startswith("curl/")
          and status_code(s) == 0 and "spanprobe.partial" not in s["_attrs"],
          f"{s['name']} {s['_attrs']}")
    want_c = {"http.request.method": "GET", "url.full": f"http://127.0.0.1:{port}/a",
              "http.response.status_code": 200, "server.address": "127.0.0.1",
              "server.port": port, "network.peer.address": "127.0.0.1",
              "network.peer.port": port, "network.protocol.version": "2",
              "http.request.body.size": 0, "http.response.body.size": BODY}
    got_c = {k: c["_attrs"].get(k) for k in want_c}
    check("curl: client span name and attributes",
          c["name"] == "GET /a" and got_c == want_c and status_code(c) == 0
          and "client.address" not in c["_attrs"], f"{c['name']} {c['_attrs']}")
    check("curl: the server span is the child of curl's span (same host)",
          is_child(s, c), f"{s.get('parentSpanId')} {c['spanId']}")


def test_node_session(agent, node):
    rc, out, pid = node_client("get", f"http://127.0.0.1:{node.port}/p", "5")
    paths = [f"/p{i}" for i in range(5)]
    check("node client: 5 GETs on one session answered 200",
          rc == 0 and out.split() == ["200"] * 5, out)
    servers, clients = pair(agent, node.pid, pid, paths)
    check("node client: exactly 5 SERVER and 5 CLIENT spans, each path once",
          [path_of(s) for s in servers] == paths and [path_of(c) for c in clients] == paths,
          f"{[path_of(s) for s in servers]} {[path_of(c) for c in clients]}")
    check("node client: one connection for the 5 streams",
          len({s["_attrs"].get("client.port") for s in servers}) == 1,
          [s["_attrs"].get("client.port") for s in servers])
    check("node client: status 200, version 2, body 9, no error, both sides",
          all(s["_attrs"].get("http.response.status_code") == 200
              and s["_attrs"].get("network.protocol.version") == "2"
              and s["_attrs"].get("http.response.body.size") == BODY
              and s["_attrs"].get("http.request.method") == "GET"
              and status_code(s) == 0 for s in servers + clients),
          [s["_attrs"] for s in servers + clients])
    check("node client: client spans' url.full",
          [c["_attrs"].get("url.full") for c in clients]
          == [f"http://127.0.0.1:{node.port}{p}" for p in paths])
    check("node client: each server span is the child of its client span",
          linked(servers, clients))


def test_post(agent, node):
    # 3000 bytes, past the captured 1024: counted by the DATA frame's
    # length.  The server may read it together with the client's next
    # frames (a SETTINGS ack), whose header is then not captured: the step
    # is lost, but the request had ended, so its body size stays.
    rc, out, pid = node_client("post", f"http://127.0.0.1:{node.port}/up", "3000")
    check("node client: POST 3000 bytes answered 200", rc == 0 and out.split() == ["200"], out)
    servers, clients = pair(agent, node.pid, pid, ["/up"])
    ok = len(servers) == 1 and len(clients) == 1
    check("POST: exactly one SERVER and one CLIENT span", ok, f"{len(servers)} {len(clients)}")
    if not ok:
        return
    check("POST: request body 3000, response body 4 (\"3000\"), both sides",
          all(s["name"] == "POST /up"
              and s["_attrs"].get("http.request.method") == "POST"
              and s["_attrs"].get("http.request.body.size") == 3000
              and s["_attrs"].get("http.response.body.size") == 4
              and s["_attrs"].get("http.response.status_code") == 200
              for s in servers + clients),
          [s["_attrs"] for s in servers + clients])
    check("POST: the server span is the client span's child", linked(servers, clients))


def test_grpc(agent, node):
    rc, out, pid = node_client("grpc", f"http://127.0.0.1:{node.port}/pkg.Service/Method")
    check("gRPC-shaped call: grpc-status 5 in the trailers", rc == 0 and out.split() == ["5"],
          out)
    servers, clients = pair(agent, node.pid, pid, ["/pkg.Service/Method"])
    ok = len(servers) == 1 and len(clients) == 1
    check("gRPC: exactly one SERVER and one CLIENT span", ok, f"{len(servers)} {len(clients)}")
    if not ok:
        return
    s, c = servers[0], clients[0]
    want = {"rpc.system": "grpc", "rpc.service": "pkg.Service", "rpc.method": "Method",
            "rpc.grpc.status_code": 5}
    check("gRPC: span names pkg.Service/Method, rpc.* and status code 5, both sides",
          all(x["name"] == "pkg.Service/Method"
              and {k: x["_attrs"].get(k) for k in want} == want for x in (s, c)),
          f"{s['name']} {s['_attrs']} {c['name']} {c['_attrs']}")
    check("gRPC: NOT_FOUND is no error on the server (status unset, no error.type)",
          status_code(s) == 0 and "error.type" not in s["_attrs"],
          f"{s.get('status')} {s['_attrs']}")
    check("gRPC: NOT_FOUND is an error on the client (status ERROR with grpc-message, "
          "error.type NOT_FOUND)",
          status_code(c) == 2 and c.get("status", {}).get("message") == "no such thing"
          and c["_attrs"].get("error.type") == "NOT_FOUND",
          f"{c.get('status')} {c['_attrs']}")
    check("gRPC: the server span is the client span's child", is_child(s, c))


def test_h2load(agent, node):
    # 100 streams in flight: h2load writes 100 HEADERS frames in one
    # write, Node answers them in writevs of hundreds of segments; the
    # kernel side walks every frame of those calls.
    if not check("h2load installed", shutil.which("h2load") is not None,
                 "install nghttp2-client"):
        return
    n = 300
    p = subprocess.Popen(["h2load", "-n", str(n), "-c", "1", "-m", "100",
                          f"http://127.0.0.1:{node.port}/h"],
                         stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=30)
    check(f"h2load: {n} requests, 100 in flight on one connection, all 2xx",
          p.returncode == 0 and f"{n} succeeded" in out and f"{n} 2xx" in out, out)

    def of(pid, k):
        return lambda s: (s["_resource"].get("process.pid") == pid and s["kind"] == k
                          and path_of(s) == "/h")
    agent.wait_for(of(node.pid, SERVER), n)
    agent.wait_for(of(p.pid, CLIENT), n)
    time.sleep(0.3)  # a span too many would come out with the others
    servers = [s for s in agent.snapshot() if of(node.pid, SERVER)(s)]
    clients = [s for s in agent.snapshot() if of(p.pid, CLIENT)(s)]
    check(f"h2load: exactly {n} SERVER spans of node and {n} CLIENT spans of h2load",
          len(servers) == n and len(clients) == n, f"{len(servers)} {len(clients)}")
    check("h2load: every span GET /h, 200, version 2, body 9, whole headers",
          all(s["name"] == "GET /h"
              and s["_attrs"].get("http.response.status_code") == 200
              and s["_attrs"].get("network.protocol.version") == "2"
              and s["_attrs"].get("http.response.body.size") == BODY
              and "spanprobe.partial" not in s["_attrs"] for s in servers + clients),
          [s["_attrs"] for s in servers + clients
           if s["_attrs"].get("http.response.body.size") != BODY][:3])
    check("h2load: one connection", len({s["_attrs"].get("client.port") for s in servers}) == 1)
    by_id = {c["spanId"]: c for c in clients}
    check("h2load: each server span is the child of a distinct h2load span",
          len({s.get("parentSpanId") for s in servers}) == len(servers)
          and all(s.get("parentSpanId") in by_id and is_child(s, by_id[s["parentSpanId"]])
                  for s in servers))


def test_big_header_block(agent, node):
    """A 12000-byte header in one HEADERS frame: past the 8 KiB a call's
    record keeps, so the block is cut.  What came before the cut (the
    pseudo-headers, first in curl's block) is decoded, the span says
    spanprobe.partial, and the stream still ends (END_STREAM is in the
    frame header, which is kept).  A request on a new connection after it
    is whole."""
    big = "x" * 12000
    rc, out, pid = curl("--http2-prior-knowledge", "-H", f"x-big: {big}",
                        f"http://127.0.0.1:{node.port}/big")
    check("12000-byte header: curl got 200", rc == 0 and out.startswith("200"), out)
    servers, clients = pair(agent, node.pid, pid, ["/big"])
    check("12000-byte header: exactly one SERVER and one CLIENT span",
          len(servers) == 1 and len(clients) == 1, f"{len(servers)} {len(clients)}")
    check("12000-byte header: GET /big, 200, body 9, request headers marked partial, "
          "both sides",
          all(s["name"] == "GET /big" and s["_attrs"].get("http.request.method") == "GET"
              and s["_attrs"].get("http.response.status_code") == 200
              and s["_attrs"].get("http.response.body.size") == BODY
              and s["_attrs"].get("spanprobe.partial") == "request_headers"
              for s in servers + clients), [s["_attrs"] for s in servers + clients])
    rc, out, pid = curl("--http2-prior-knowledge", f"http://127.0.0.1:{node.port}/after-big")
    servers, clients = pair(agent, node.pid, pid, ["/after-big"])
    check("after it, a new connection's spans are whole",
          len(servers) == 1 and len(clients) == 1
          and all("spanprobe.partial" not in s["_attrs"] for s in servers + clients),
          [s["_attrs"] for s in servers + clients])


def test_upgrade(agent):
    """curl --http2 on http:// asks for HTTP/1.1 "Upgrade: h2c": the
    request that asked is answered as stream 1, the next ones are HTTP/2
    streams of the same connection."""
    port = free_port()
    srv = Server([DEBIAN_PYTHON, H2C_UPGRADE, str(port)], port)
    try:
        if not check("h2c upgrade server (python3-h2) started", srv.ready):
            return
        p = subprocess.Popen(["curl", "-s", "--http2", "-o", "/dev/null", "-o", "/dev/null",
                              "-w", "%{http_version} %{http_code}\n",
                              f"http://127.0.0.1:{port}/u1", f"http://127.0.0.1:{port}/u2"],
                             stdout=subprocess.PIPE, text=True)
        out, _ = p.communicate(timeout=30)
        check("curl --http2 (Upgrade: h2c): 2 requests answered over HTTP/2",
              p.returncode == 0 and out.split() == ["2", "200", "2", "200"], out)
        paths = ["/u1", "/u2"]
        servers, clients = pair(agent, srv.pid, p.pid, paths)
        check("upgrade: exactly 2 SERVER and 2 CLIENT spans, each path once",
              [path_of(s) for s in servers] == paths and [path_of(c) for c in clients] == paths,
              f"{[path_of(s) for s in servers]} {[path_of(c) for c in clients]}")
        check("upgrade: GET, 200, version 2, body 'h2c /uN\\n' (8), whole headers, both sides",
              all(s["name"] == f"GET {path_of(s)}"
                  and s["_attrs"].get("http.response.status_code") == 200
                  and s["_attrs"].get("network.protocol.version") == "2"
                  and s["_attrs"].get("http.response.body.size") == 8
                  and "spanprobe.partial" not in s["_attrs"]
                  and status_code(s) == 0 for s in servers + clients),
              [s["_attrs"] for s in servers + clients])
        check("upgrade: one connection for both", len({s["_attrs"].get("client.port")
                                                      for s in servers}) == 1)
        check("upgrade: each server span is the child of its client span",
              linked(servers, clients))
    finally:
        srv.stop()


def main():
    if not check("node and curl with HTTP/2 installed",
                 shutil.which("node") is not None and shutil.which("curl") is not None):
        finish()
    agent = Agent()
    port = free_port()
    node = None
    try:
        # Started after spanprobe, so that its connections open under
        # capture (the first bytes of a connection choose its decoder).
        node = Server(["node", H2_NODE, "serve", str(port)], port)
        check("node http2 server started", node.ready)
        ready = node.ready and wait_capture(agent, port)
        check("spanprobe run: HTTP/2 capture on", ready, agent.stderr())
        if ready:
            test_curl_get(agent, node)
            test_node_session(agent, node)
            test_post(agent, node)
            test_grpc(agent, node)
            test_h2load(agent, node)
            test_big_header_block(agent, node)
            test_upgrade(agent)
    finally:
        rc = agent.stop()
        if node:
            node.stop()
    check("spanprobe exits 0 on SIGTERM", rc == 0, agent.stderr())
    finish()


main()
