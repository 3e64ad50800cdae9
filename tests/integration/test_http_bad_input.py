#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP capture against bad input: binary garbage on an HTTP port, a 10 kB
request line, a request written one byte at a time, a client that
closes before the response, and header values that are not UTF-8.  Expectation each time: no crash, no span
with invented data, the spans that are real and nothing else."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import check, finish, require_root  # noqa: E402
from httptest import Agent, free_port, node_server, status_code  # noqa: E402

require_root()
SERVER, CLIENT = 2, 3
ME = os.getpid()


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock, sock.getsockname()[1]


def read_all(sock):
    data = b""
    sock.settimeout(10)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and data.endswith((b"}", b"found", b"\r\n\r\n")):
                break
    except socket.timeout:
        pass
    return data


def my_clients(agent):
    return [s for s in agent.snapshot()
            if s["_resource"].get("process.pid") == ME and s["kind"] == CLIENT]


def test_garbage(agent, node):
    sock, port = connect(node.port)
    sock.sendall(bytes(range(256)) * 4)
    reply = read_all(sock)
    sock.close()
    # A later, real request proves the earlier one had its chance to show up.
    sock2, port2 = connect(node.port)
    sock2.sendall(b"GET /users/1 HTTP/1.1\r\nHost: after-garbage\r\n\r\n")
    read_all(sock2)
    sock2.close()
    agent.wait_for(lambda s: s["_attrs"].get("client.port") == port2, 1)
    servers = [s for s in agent.snapshot() if s["_attrs"].get("client.port") == port]
    check("garbage: the server answered it with an error", reply.startswith(b"HTTP/1.1 400"),
          reply[:40])
    check("garbage: no span for it", servers == [], [s["_attrs"] for s in servers])


def test_long_request_line(agent, node):
    path = "/" + "a" * 10000
    sock, port = connect(node.port)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: long\r\n\r\n".encode())
    reply = read_all(sock)
    sock.close()
    servers = agent.wait_for(lambda s: s["_attrs"].get("client.port") == port, 1)
    ok = len(servers) == 1
    check("10 kB request line: one span", ok and reply.startswith(b"HTTP/1.1 404"),
          f"{len(servers)} {reply[:30]}")
    if ok:
        s = servers[0]
        got = s["_attrs"].get("url.path", "")
        check("10 kB request line: status 404, path a bounded prefix of the real one",
              s["_attrs"].get("http.response.status_code") == 404
              and 0 < len(got) <= 256 and path.startswith(got), got[:40])


def test_one_byte_at_a_time(agent, node):
    sock, port = connect(node.port)
    for b in b"GET /users/42 HTTP/1.1\r\nHost: slow\r\n\r\n":
        sock.send(bytes([b]))
        time.sleep(0.002)
    reply = read_all(sock)
    sock.close()
    servers = agent.wait_for(lambda s: s["_attrs"].get("client.port") == port, 1)
    check("one byte at a time: one server span with the right route and status",
          len(servers) == 1 and servers[0]["name"] == "GET /users/{id}"
          and servers[0]["_attrs"].get("url.path") == "/users/42"
          and servers[0]["_attrs"].get("http.response.status_code") == 200
          and reply.startswith(b"HTTP/1.1 200"),
          [s["_attrs"] for s in servers])


def test_closed_before_response(agent, node):
    sock, port = connect(node.port)
    sock.sendall(b"GET /chunked HTTP/1.1\r\nHost: impatient\r\n\r\n")
    sock.close()  # the response comes 20 ms later
    mine = agent.wait_for(lambda s: s["_resource"].get("process.pid") == ME
                          and s["kind"] == CLIENT
                          and s["_attrs"].get("server.address") == "impatient", 1)
    check("closed before the response: a client span, ERROR, connection_closed",
          len(mine) == 1 and status_code(mine[0]) == 2
          and mine[0]["_attrs"].get("error.type") == "connection_closed"
          and "http.response.status_code" not in mine[0]["_attrs"],
          [s["_attrs"] for s in mine])
    # Spans of the checks before may still arrive; only this request's count.
    time.sleep(0.5)
    impatient = [s for s in my_clients(agent) if s["_attrs"].get("server.address") == "impatient"]
    check("closed before the response: no second client span for it", len(impatient) == 1,
          [s["_attrs"] for s in impatient])


def test_not_utf8(agent, node):
    """obs-text (RFC 9110) in a header value is bytes, OTLP strings UTF-8:
    each bad byte comes out as '?', valid characters as they were."""
    sock, port = connect(node.port)
    sock.sendall(b"GET /users/7 HTTP/1.1\r\nHost: utf8\r\n"
                 b"User-Agent: caf\xe9 \xff\xc3\xa9/1.0\r\n\r\n")
    reply = read_all(sock)
    sock.close()
    servers = agent.wait_for(lambda s: s["_attrs"].get("client.port") == port, 1)
    ua = [s["_attrs"].get("user_agent.original") for s in servers]
    check("header value not UTF-8: one span, its bytes mended",
          reply.startswith(b"HTTP/1.1 200") and ua == ["caf? ?\u00e9/1.0"], (reply[:30], ua))


def main():
    node = node_server(free_port())
    agent = Agent()
    try:
        check("node server started", node.ready)
        ready = agent.wait_ready(node.port)
        check("spanprobe run: HTTP capture on", ready, agent.stderr())
        if ready:
            test_garbage(agent, node)
            test_long_request_line(agent, node)
            test_one_byte_at_a_time(agent, node)
            test_closed_before_response(agent, node)
            test_not_utf8(agent, node)
    finally:
        rc = agent.stop()
        node.stop()
    check("spanprobe survives it all and exits 0", rc == 0, agent.stderr())
    finish()


main()
