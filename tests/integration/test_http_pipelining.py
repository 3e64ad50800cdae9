#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Pipelined HTTP/1.1 requests, all in one write, against nginx: every
request answered gets its server span (5, 50 and 10,000 of them), and
nothing is dropped as over the pipelining limit."""
import os
import re
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import check, finish, require_root  # noqa: E402
from httptest import Agent, capture_on, free_port, nginx_server  # noqa: E402

require_root()
SERVER = 2
# nginx answers 100,000 requests on one connection, and reads a pipeline
# 1 KiB at a time: no read is longer than what spanprobe captures of it.
NGINX_EXTRA = "keepalive_requests 100000; large_client_header_buffers 4 1k;"


def pipeline(port, n, tag):
    """n requests in one write; returns the number of responses."""
    body = b"".join(b"GET /%s/%d HTTP/1.1\r\nHost: h\r\n\r\n" % (tag.encode(), i % 10)
                    for i in range(n))
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(body)
    sock.shutdown(socket.SHUT_WR)
    data = b""
    sock.settimeout(30)
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    sock.close()
    return data.count(b"HTTP/1.1 200 OK")


def test_pipeline(agent, port, n):
    tag = f"p{n}"
    answered = pipeline(port, n, tag)
    spans = agent.wait_for(lambda s: s["_attrs"].get("url.path", "").startswith(f"/{tag}/"), n)
    time.sleep(0.3)
    spans = [s for s in agent.snapshot() if s["_attrs"].get("url.path", "").startswith(f"/{tag}/")]
    check(f"{n} pipelined requests: nginx answered {n}", answered == n, answered)
    check(f"{n} pipelined requests: {n} server spans", len(spans) == n
          and all(s["kind"] == SERVER for s in spans), len(spans))
    paths = [s["_attrs"]["url.path"] for s in spans]
    check(f"{n} pipelined requests: paths in request order",
          paths == [f"/{tag}/{i % 10}" for i in range(n)], paths[:12])


def main():
    root = tempfile.mkdtemp(prefix="sp-pipe-")
    for tag in ("p5", "p50", "p10000"):
        os.makedirs(os.path.join(root, tag))
        for i in range(10):
            with open(os.path.join(root, tag, str(i)), "w") as f:
                f.write("x")
    port = free_port()
    nginx = nginx_server(port, root, free_port(), extra=NGINX_EXTRA)
    # The export queue holds all 10,000 spans (its default, 2048, would
    # drop the rest, counted as "queue full").
    os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = "20000"
    agent = Agent(["-p", str(nginx.pid)])
    try:
        if capture_on(agent, nginx, "nginx"):
            for n in (5, 50, 10000):
                test_pipeline(agent, port, n)
    finally:
        rc = agent.stop()
        nginx.stop()
        shutil.rmtree(root, ignore_errors=True)
    err = agent.stderr()
    over = re.search(r"(\d+) over the pipelining limit", err)
    past = re.search(r"(\d+) requests past the pipelining limit", err)
    check("no request counted over the pipelining limit",
          over and past and over.group(1) == "0" and past.group(1) == "0", err[-600:])
    check("spanprobe exits 0", rc == 0, err[-600:])
    finish()


main()
