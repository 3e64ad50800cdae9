#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP spans from real servers, node-wide: Python's http.server, nginx and
a Node.js server driven by curl (and by raw sockets for pipelining).  Every
check counts the spans of the processes the test started, exactly."""
import os
import socket
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import check, finish, require_root  # noqa: E402
from httptest import (Agent, bracket_times, brackets, by_pid, curl, end_ns, free_port, is_child, kind,  # noqa: E402
                      nginx_server, node_server, python_server, start_ns, status_code)

require_root()
SERVER, CLIENT = 2, 3


def exchange(agent, server_pid, client_pid, n, curl_out):
    """Wait for n SERVER spans of server_pid on the connections curl reported
    (its local ports) and n CLIENT spans of client_pid."""
    ports = {int(line.split()[1]) for line in curl_out.splitlines() if line.strip()}
    servers = agent.wait_for(lambda s: s["_resource"].get("process.pid") == server_pid
                             and s["kind"] == SERVER
                             and s["_attrs"].get("client.port") in ports, n)
    clients = agent.wait_for(lambda s: s["_resource"].get("process.pid") == client_pid
                             and s["kind"] == CLIENT, n)
    return sorted(servers, key=start_ns), sorted(clients, key=start_ns)


def test_python_get(agent, py, port):
    rc, out, pid = curl(f"http://127.0.0.1:{port}/index.html")
    local_port = int(out.split()[1])
    servers, clients = exchange(agent, py.pid, pid, 1, out)
    check("python: curl got 200", rc == 0 and out.startswith("200"), out)
    check("python: one SERVER span, one curl CLIENT span",
          len(servers) == 1 and len(clients) == 1, f"{len(servers)} {len(clients)}")
    if not servers or not clients:
        return
    s, c = servers[0], clients[0]
    want = {"http.request.method": "GET", "url.path": "/index.html", "url.scheme": "http",
            "http.response.status_code": 200, "server.address": "127.0.0.1",
            "server.port": port, "client.address": "127.0.0.1", "client.port": local_port,
            "network.peer.address": "127.0.0.1", "network.peer.port": local_port,
            "network.protocol.version": "1.1", "http.request.body.size": 0,
            "http.response.body.size": 6}
    got = {k: s["_attrs"].get(k) for k in want}
    check("python: server span name and attributes",
          s["name"] == "GET /index.html" and got == want
          and s["_attrs"].get("user_agent.original", "").startswith("curl/")
          and status_code(s) == 0, f"{s['name']} {s['_attrs']}")
    want_c = {"http.request.method": "GET", "url.full": f"http://127.0.0.1:{port}/index.html",
              "http.response.status_code": 200, "server.address": "127.0.0.1",
              "server.port": port, "network.peer.address": "127.0.0.1",
              "network.peer.port": port, "http.response.body.size": 6}
    got_c = {k: c["_attrs"].get(k) for k in want_c}
    check("curl: client span name and attributes",
          c["name"] == "GET /index.html" and got_c == want_c
          and "client.address" not in c["_attrs"], f"{c['name']} {c['_attrs']}")
    check("same host, same connection: the server span is the client span's child",
          is_child(s, c), f"{s.get('parentSpanId')} {c['spanId']}")
    check("the client span brackets the server span (within the hooks' skew)",
          brackets(c, s), bracket_times(c, s))


def test_keepalive_routes(agent, node):
    urls = [f"http://127.0.0.1:{node.port}/users/{i}" for i in ("1", "22", "333")]
    rc, out, pid = curl(*urls)
    servers, clients = exchange(agent, node.pid, pid, 3, out)
    check("keep-alive: 3 SERVER and 3 CLIENT spans", rc == 0 and len(servers) == 3
          and len(clients) == 3, f"{len(servers)} {len(clients)}")
    ports = {s["_attrs"].get("client.port") for s in servers}
    check("keep-alive: one connection", len(ports) == 1 and out.count("200") == 3, ports)
    check("route template names, raw paths",
          [s["name"] for s in servers] == ["GET /users/{id}"] * 3
          and [s["_attrs"].get("url.path") for s in servers] == ["/users/1", "/users/22",
                                                                  "/users/333"])
    check("response body sizes 10, 11, 12",
          [s["_attrs"].get("http.response.body.size") for s in servers] == [10, 11, 12])
    check("each server span is the child of its client span, in order",
          len(servers) == 3 and len(clients) == 3
          and all(is_child(s, c) for s, c in zip(servers, clients)))


def test_status_rules(agent, node):
    for path, code in (("/nope", 404), ("/fail", 500)):
        rc, out, pid = curl(f"http://127.0.0.1:{node.port}{path}")
        servers, clients = exchange(agent, node.pid, pid, 1, out)
        servers = [s for s in servers if s["_attrs"].get("url.path") == path]
        ok = len(servers) == 1 and len(clients) == 1
        check(f"{code}: one server and one client span", ok, f"{len(servers)} {len(clients)}")
        if not ok:
            continue
        s, c = servers[0], clients[0]
        server_error = code >= 500
        check(f"{code}: server status {'ERROR' if server_error else 'unset'}",
              s["_attrs"].get("http.response.status_code") == code
              and status_code(s) == (2 if server_error else 0)
              and s["_attrs"].get("error.type") == (str(code) if server_error else None),
              f"{s.get('status')} {s['_attrs']}")
        check(f"{code}: client status ERROR with error.type",
              status_code(c) == 2 and c["_attrs"].get("error.type") == str(code),
              f"{c.get('status')} {c['_attrs']}")


def test_chunked_and_post(agent, node):
    rc, out, pid = curl(f"http://127.0.0.1:{node.port}/chunked")
    servers, clients = exchange(agent, node.pid, pid, 1, out)
    servers = [s for s in servers if s["_attrs"].get("url.path") == "/chunked"]
    check("chunked: body size is the decoded data (19 bytes), both sides",
          len(servers) == 1 and len(clients) == 1
          and servers[0]["_attrs"].get("http.response.body.size") == 19
          and clients[0]["_attrs"].get("http.response.body.size") == 19,
          [s["_attrs"] for s in servers + clients])
    rc, out, pid = curl(f"http://127.0.0.1:{node.port}/big-chunked")
    servers, clients = exchange(agent, node.pid, pid, 1, out)
    servers = [s for s in servers if s["_attrs"].get("url.path") == "/big-chunked"]
    check("chunked past the captured bytes (5000 + 3000 in one write): body size 8020 "
          "(data and chunk framing), both sides",
          len(servers) == 1 and len(clients) == 1
          and servers[0]["_attrs"].get("http.response.body.size") == 8020
          and clients[0]["_attrs"].get("http.response.body.size") == 8020,
          [s["_attrs"] for s in servers + clients])
    with tempfile.NamedTemporaryFile() as body:
        body.write(b"x" * 3000)
        body.flush()
        rc, out, pid = curl("--data-binary", f"@{body.name}",
                            f"http://127.0.0.1:{node.port}/echo")
    servers, clients = exchange(agent, node.pid, pid, 1, out)
    servers = [s for s in servers if s["_attrs"].get("url.path") == "/echo"]
    check("POST 3000 bytes: request and response body sizes",
          len(servers) == 1 and len(clients) == 1
          and servers[0]["name"] == "POST /echo"
          and servers[0]["_attrs"].get("http.request.body.size") == 3000
          and servers[0]["_attrs"].get("http.response.body.size") == 4
          and clients[0]["_attrs"].get("http.request.body.size") == 3000,
          [s["_attrs"] for s in servers + clients])


def test_query_not_exported(agent, node):
    rc, out, pid = curl(f"http://127.0.0.1:{node.port}/users/5?token=secret")
    servers, clients = exchange(agent, node.pid, pid, 1, out)
    servers = [s for s in servers if s["_attrs"].get("url.path") == "/users/5"]
    spans = servers + clients
    check("query string not exported", len(servers) == 1 and len(clients) == 1
          and all("secret" not in str(s["_attrs"]) and "url.query" not in s["_attrs"]
                  for s in spans)
          and clients[0]["_attrs"].get("url.full") == f"http://127.0.0.1:{node.port}/users/5",
          [s["_attrs"] for s in spans])


def read_response(f):
    status = f.readline()
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    f.read(length)
    return status


def test_pipelined(agent, node):
    me = os.getpid()
    before = len([s for s in agent.snapshot() if s["_resource"].get("process.pid") == me])
    with socket.create_connection(("127.0.0.1", node.port)) as sock:
        sock.sendall(b"GET /users/7 HTTP/1.1\r\nHost: pipe\r\n\r\n"
                     b"GET /users/8 HTTP/1.1\r\nHost: pipe\r\n\r\n")
        f = sock.makefile("rb")
        statuses = [read_response(f), read_response(f)]
    servers = agent.wait_for(lambda s: s["_resource"].get("process.pid") == node.pid
                             and s["_attrs"].get("server.address") == "pipe", 2)
    mine = agent.wait_for(lambda s: s["_resource"].get("process.pid") == me, before + 2)
    clients = sorted(kind(mine, CLIENT), key=start_ns)[before:]
    servers = sorted(servers, key=start_ns)
    check("pipelined: both answered", all(s.startswith(b"HTTP/1.1 200") for s in statuses))
    check("pipelined: 2 server spans in order, 2 client spans",
          [s["_attrs"].get("url.path") for s in servers] == ["/users/7", "/users/8"]
          and len(clients) == 2, f"{[s['_attrs'] for s in servers]} {len(clients)}")
    check("pipelined: each server span is its client span's child",
          len(servers) == 2 and len(clients) == 2
          and all(is_child(s, c) for s, c in zip(servers, clients)))


def serve_vectored(listener):
    """One exchange, every call vectored: the request read into three
    buffers, the response sent in seven segments."""
    listener.settimeout(10)
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(10)
        got = b""
        while b"\r\n\r\n" not in got:
            bufs = [bytearray(5), bytearray(7), bytearray(500)]
            n = conn.recvmsg_into(bufs)[0]
            if n == 0:
                return
            got += b"".join(bufs)[:n]
        conn.sendmsg([b"HTTP/1.1 201 Created\r\n", b"Content-Type: text/plain\r\n",
                      b"X-A: 1\r\n", b"X-B: 2\r\n", b"Content-Length: 5\r\n", b"\r\n",
                      b"hello"])


def test_vectored(agent):
    """sendmsg and recvmsg with several segments, the path and the status
    line cut across them: what a record captures spans the segments."""
    me = os.getpid()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = threading.Thread(target=serve_vectored, args=(listener,), daemon=True)
    server.start()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendmsg([b"GET /vec", b"tored/1 HTTP/1.1\r\n", b"Host: vec\r\n", b"\r\n"])
        got = b""
        while not got.endswith(b"hello"):
            bufs = [bytearray(3), bytearray(20), bytearray(200)]
            n = sock.recvmsg_into(bufs)[0]
            if n == 0:
                break
            got += b"".join(bufs)[:n]
    server.join(10)
    listener.close()
    servers = agent.wait_for(lambda s: s["_resource"].get("process.pid") == me
                             and s["kind"] == SERVER and s["_attrs"].get("server.address") == "vec", 1)
    clients = agent.wait_for(lambda s: s["_resource"].get("process.pid") == me
                             and s["kind"] == CLIENT and "/vectored" in s["_attrs"].get("url.full", ""), 1)
    want = {"url.path": "/vectored/1", "http.response.status_code": 201,
            "http.response.body.size": 5}
    got_s = {k: servers[0]["_attrs"].get(k) for k in want} if len(servers) == 1 else None
    check("vectored: the response arrived", got.startswith(b"HTTP/1.1 201") and got.endswith(b"hello"),
          got)
    check("vectored: one SERVER span, its path and status from several segments",
          got_s == want, f"{len(servers)} {got_s}")
    check("vectored: one CLIENT span with the status and size cut across its buffers",
          len(clients) == 1 and clients[0]["_attrs"].get("http.response.status_code") == 201
          and clients[0]["_attrs"].get("http.response.body.size") == 5
          and clients[0]["_attrs"].get("url.full") == "http://vec/vectored/1"
          if len(clients) == 1 else False,
          f"{[c['_attrs'] for c in clients]}")


def test_nginx_http10(agent, nginx):
    rc, out, pid = curl("--http1.0", f"http://127.0.0.1:{nginx.port}/index.html")
    servers, clients = exchange(agent, nginx.pid, pid, 1, out)
    check("nginx HTTP/1.0 (sendfile body): one server span, version 1.0, body 6",
          len(servers) == 1 and servers[0]["_attrs"].get("network.protocol.version") == "1.0"
          and servers[0]["_attrs"].get("http.response.status_code") == 200
          and servers[0]["_attrs"].get("http.response.body.size") == 6,
          [s["_attrs"] for s in servers])
    rc, out, pid = curl(f"http://127.0.0.1:{nginx.port}/boom")
    servers, clients = exchange(agent, nginx.pid, pid, 1, out)
    servers = [s for s in servers if s["_attrs"].get("url.path") == "/boom"]
    check("nginx 500: server span ERROR", len(servers) == 1 and status_code(servers[0]) == 2
          and servers[0]["_attrs"].get("error.type") == "500",
          [s["_attrs"] for s in servers])


def test_ipv6(agent, root):
    port = free_port()
    py6 = python_server(port, root, bind="::1")
    try:
        rc, out, pid = curl(f"http://[::1]:{port}/index.html")
        servers, clients = exchange(agent, py6.pid, pid, 1, out)
        check("IPv6: server span with ::1 addresses, client url.full",
              len(servers) == 1 and len(clients) == 1
              and servers[0]["_attrs"].get("client.address") == "::1"
              and servers[0]["_attrs"].get("server.address") == "::1"
              and clients[0]["_attrs"].get("url.full") == f"http://[::1]:{port}/index.html"
              and is_child(servers[0], clients[0]),
              [s["_attrs"] for s in servers + clients])
    finally:
        py6.stop()


def test_distinct_addresses(agent, py, root):
    """Each end's address where it belongs: the client bound to another
    loopback address than the server's, over IPv4 and over an IPv6
    socket that takes IPv4 (v4-mapped addresses)."""
    rc, out, pid = curl("--interface", "127.0.0.5", f"http://127.0.0.1:{py.port}/index.html")
    servers, clients = exchange(agent, py.pid, pid, 1, out)
    check("IPv4, client on 127.0.0.5: server span's client and server addresses",
          len(servers) == 1 and servers[0]["_attrs"].get("client.address") == "127.0.0.5"
          and servers[0]["_attrs"].get("network.peer.address") == "127.0.0.5"
          and servers[0]["_attrs"].get("server.address") == "127.0.0.1"
          and len(clients) == 1
          and clients[0]["_attrs"].get("network.peer.address") == "127.0.0.1",
          [s["_attrs"] for s in servers + clients])
    port = free_port()
    dual = python_server(port, root, bind="::")
    try:
        rc, out, pid = curl("--interface", "127.0.0.6", f"http://127.0.0.1:{port}/index.html")
        servers, clients = exchange(agent, dual.pid, pid, 1, out)
        # The record's addresses are v4-mapped IPv6 ones; spans name them
        # as IPv4.
        check("IPv6 socket, IPv4 client on 127.0.0.6: each address where it belongs",
              len(servers) == 1
              and servers[0]["_attrs"].get("client.address") == "127.0.0.6"
              and servers[0]["_attrs"].get("server.address") == "127.0.0.1",
              [s["_attrs"] for s in servers + clients])
    finally:
        dual.stop()


def main():
    root = tempfile.mkdtemp(prefix="sp-www-")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("hello\n")
    node = node_server(free_port())
    py = python_server(free_port(), root)
    nginx = nginx_server(free_port(), root, py.port)
    agent = Agent()
    try:
        check("servers started", node.ready and py.ready and nginx.ready)
        ready = agent.wait_ready(node.port)
        check("spanprobe run: HTTP capture on", ready, agent.stderr())
        if ready:
            test_python_get(agent, py, py.port)
            test_keepalive_routes(agent, node)
            test_status_rules(agent, node)
            test_chunked_and_post(agent, node)
            test_query_not_exported(agent, node)
            test_pipelined(agent, node)
            test_vectored(agent)
            test_nginx_http10(agent, nginx)
            test_distinct_addresses(agent, py, root)
            test_ipv6(agent, root)
    finally:
        rc = agent.stop()
        for s in (node, py, nginx):
            s.stop()
    check("spanprobe exits 0 on SIGTERM", rc == 0, agent.stderr())
    finish()


main()
