#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP/1.x messages that are valid but unusual, each on its own connection
over real sockets: after a CONNECT tunnel or a 101 upgrade the next
connections still get their spans; a CONNECT's tunnel bytes in the same
write; an empty line before the request line; M-SEARCH * (a method with a
hyphen).  Every span the message allows must come out, exactly once."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import check, finish, require_root  # noqa: E402
from httptest import PROGRAM_SOURCES, Agent, Server, capture_on, free_port  # noqa: E402

require_root()
SERVER, CLIENT = 2, 3
ME = os.getpid()


def exchange(port, data, until=b"ok", linger=0.0):
    """Send `data` on a new connection, read until `until`; returns
    (reply, the client's port)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    mine = sock.getsockname()[1]
    sock.sendall(data)
    reply = b""
    sock.settimeout(5)
    try:
        while until not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    except socket.timeout:
        pass
    time.sleep(linger)
    sock.close()
    return reply, mine


def spans_of(agent, client_port, want=1):
    got = agent.wait_for(lambda s: s["_attrs"].get("client.port") == client_port
                         and s["kind"] == SERVER, want)
    time.sleep(0.2)
    return [s for s in agent.snapshot() if s["_attrs"].get("client.port") == client_port
            and s["kind"] == SERVER] or got


def get(port, path):
    return exchange(port, f"GET {path} HTTP/1.1\r\nHost: h\r\n\r\n".encode())


def test_after_connect(agent, port):
    for i in range(5):
        reply, cport = exchange(port, b"CONNECT home.example:443 HTTP/1.1\r\n"
                                b"Host: home.example:443\r\n\r\n", b"established")
        tunnel = spans_of(agent, cport)
        _, nport = get(port, f"/after-connect/{i}")
        after = spans_of(agent, nport)
        check(f"CONNECT run {i}: one span, CONNECT 200",
              len(tunnel) == 1 and tunnel[0]["_attrs"].get("http.request.method") == "CONNECT"
              and tunnel[0]["_attrs"].get("http.response.status_code") == 200,
              [s["_attrs"] for s in tunnel])
        check(f"CONNECT run {i}: the next connection has its span",
              [s["_attrs"].get("url.path") for s in after] == [f"/after-connect/{i}"],
              [s["_attrs"] for s in after])


def test_after_upgrade(agent, port):
    for i in range(5):
        reply, cport = exchange(port, b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                                b"Connection: Upgrade\r\n\r\n", b"\r\n\r\n")
        sock_spans = spans_of(agent, cport)
        later = [get(port, f"/after-upgrade/{i}/{j}")[1] for j in range(3)]
        paths = [[s["_attrs"].get("url.path") for s in spans_of(agent, p)] for p in later]
        check(f"101 run {i}: one span, status 101",
              len(sock_spans) == 1
              and sock_spans[0]["_attrs"].get("http.response.status_code") == 101,
              [s["_attrs"] for s in sock_spans])
        check(f"101 run {i}: the 3 later connections have their spans",
              paths == [[f"/after-upgrade/{i}/{j}"] for j in range(3)], paths)


def test_empty_line_first(agent, port):
    reply, cport = exchange(port, b"\r\nGET /after-crlf HTTP/1.1\r\nHost: h\r\n\r\n")
    spans = spans_of(agent, cport)
    check("CRLF before the request line: one span",
          reply.endswith(b"ok") and [s["_attrs"].get("url.path") for s in spans] == ["/after-crlf"],
          [s["_attrs"] for s in spans])


def test_m_search(agent, port):
    ok = 0
    for i in range(7):
        reply, cport = exchange(port, b"M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n")
        spans = spans_of(agent, cport)
        ok += (len(spans) == 1
               and spans[0]["_attrs"].get("http.request.method_original") == "M-SEARCH")
    check("M-SEARCH * HTTP/1.1: a span in each of 7 runs", ok == 7, ok)


def test_connect_with_tunnel_bytes(agent, port):
    reply, cport = exchange(port, b"CONNECT home.example:443 HTTP/1.1\r\nHost: home.example:443"
                            b"\r\n\r\n\x16\x03\x01\x00\x05hello", b"hello")
    spans = spans_of(agent, cport)
    check("CONNECT with tunnel bytes in the same write: one span",
          len(spans) == 1 and spans[0]["_attrs"].get("http.request.method") == "CONNECT"
          and spans[0]["name"] == "CONNECT", [(s["name"], s["_attrs"]) for s in spans])
    clients = agent.wait_for(lambda s: s["_attrs"].get("network.peer.port") == port
                             and s["kind"] == CLIENT
                             and s["_attrs"].get("http.request.method") == "CONNECT", 1)
    check("CONNECT: the client's url.full is the authority",
          [s["_attrs"].get("url.full") for s in clients][-1:] == ["http://home.example:443"],
          [s["_attrs"].get("url.full") for s in clients])


def test_credentials(agent, port, redacted):
    reply, cport = exchange(port, b"GET /cart;jsessionid=S3CR3T;" + redacted.encode()
                            + b"=X/pay;v=2 HTTP/1.1\r\nHost: alice:pw@shop.example:8080\r\n\r\n")
    servers = spans_of(agent, cport)
    clients = agent.wait_for(lambda s: s["_attrs"].get("client.port") is None
                             and s["_attrs"].get("network.peer.port") == port
                             and s["_attrs"].get("url.path", "").startswith("/cart"), 1)
    spans = servers + clients
    text = repr([s["_attrs"] for s in spans])
    check("Host with userinfo: server.address is the host alone, on both spans",
          len(servers) == 1 and len(clients) == 1
          and {s["_attrs"].get("server.address") for s in spans} == {"shop.example"}, text)
    check("userinfo and session IDs never exported",
          "pw@" not in text and "alice" not in text and "S3CR3T" not in text, text)
    check("url.path and url.full without the redacted path parameters",
          [s["_attrs"].get("url.path") for s in spans] == ["/cart/pay;v=2"] * 2
          and clients[0]["_attrs"].get("url.full") == "http://shop.example:8080/cart/pay;v=2",
          text)


def main():
    port = free_port()
    server = Server(["python3", os.path.join(PROGRAM_SOURCES, "http_raw_server.py"), str(port)],
                    port)
    # This process's own requests too (CLIENT spans), and one more path
    # parameter to remove, given through the environment.
    os.environ["SPANPROBE_REDACT_PATH_PARAMS"] = "sso_token"
    agent = Agent(["-p", str(server.pid), "-p", str(ME)])
    try:
        if capture_on(agent, server, "raw server"):
            test_after_connect(agent, port)
            test_after_upgrade(agent, port)
            test_empty_line_first(agent, port)
            test_m_search(agent, port)
            test_connect_with_tunnel_bytes(agent, port)
            test_credentials(agent, port, "sso_token")
    finally:
        rc = agent.stop()
        server.stop()
    check("spanprobe exits 0", rc == 0, agent.stderr()[-600:])
    finish()


main()
