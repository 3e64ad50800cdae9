#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Trace context without touching the services: an incoming traceparent,
nginx proxying to a backend on the same host (one trace, linked through the
shared TCP connection), and a threaded Python server calling another
service (its client spans are children of the request it serves)."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import check, finish, require_root  # noqa: E402
from httptest import (Agent, bracket_times, brackets, curl, end_ns, fanout_server,  # noqa: E402
                      free_port, is_child, nginx_server, node_server, python_server,
                      start_ns)

require_root()
SERVER, CLIENT = 2, 3
TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
TRACEPARENT = f"traceparent: 00-{TRACE}-{PARENT}-01"


def pid_of(s):
    return s["_resource"].get("process.pid")


def one(spans, pid, k, path=None):
    got = [s for s in spans if pid_of(s) == pid and s["kind"] == k
           and (path is None or s["_attrs"].get("url.path") == path)]
    return got[0] if len(got) == 1 else None


def test_traceparent(agent, node):
    rc, out, pid = curl("-H", TRACEPARENT, f"http://127.0.0.1:{node.port}/users/9")
    server = one(agent.wait_for(lambda s: s["traceId"] == TRACE, 1), node.pid, SERVER)
    client = one(agent.wait_for(lambda s: pid_of(s) == pid, 1), pid, CLIENT)
    check("traceparent: the server span joins the incoming trace as its parent's child",
          server is not None and server.get("parentSpanId") == PARENT, server)
    check("traceparent wins over the same-host link to curl's client span",
          server is not None and client is not None and not is_child(server, client))


def test_nginx_proxy(agent, nginx, py):
    rc, out, pid = curl(f"http://127.0.0.1:{nginx.port}/api/index.html")
    client = agent.wait_for(lambda s: pid_of(s) == pid and s["kind"] == CLIENT, 1)
    client = client[0] if len(client) == 1 else None
    check("proxy: curl's client span", client is not None and rc == 0)
    if client is None:
        return
    trace = agent.wait_for(lambda s: s["traceId"] == client["traceId"], 4)
    front = one(trace, nginx.pid, SERVER, "/api/index.html")
    upstream = one(trace, nginx.pid, CLIENT, "/index.html")
    backend = one(trace, py.pid, SERVER, "/index.html")
    check("proxy: one trace of 4 spans (curl, nginx server, nginx client, backend)",
          len(trace) == 4 and front and upstream and backend,
          [(s["name"], s["kind"], pid_of(s)) for s in trace])
    if not (front and upstream and backend):
        return
    check("proxy: nginx's server span is curl's client span's child", is_child(front, client))
    check("proxy: nginx's upstream call is a child of the request it serves",
          is_child(upstream, front))
    check("proxy: the backend's server span is nginx's client span's child",
          is_child(backend, upstream))
    # Across processes within the hooks' skew; inside nginx exactly.
    check("proxy: each span lies inside its parent",
          brackets(client, front) and brackets(upstream, backend)
          and start_ns(front) <= start_ns(upstream) <= end_ns(upstream) <= end_ns(front),
          f"{bracket_times(client, front)}; {bracket_times(upstream, backend)}")


def test_fanout(agent, fan, node):
    rc, out, pid = curl(f"http://127.0.0.1:{fan.port}/fanout/3")
    client = agent.wait_for(lambda s: pid_of(s) == pid and s["kind"] == CLIENT, 1)
    client = client[0] if len(client) == 1 else None
    check("fanout: curl's client span", client is not None and rc == 0)
    if client is None:
        return
    trace = agent.wait_for(lambda s: s["traceId"] == client["traceId"], 8)
    served = [s for s in trace if pid_of(s) == fan.pid and s["kind"] == SERVER]
    calls = sorted([s for s in trace if pid_of(s) == fan.pid and s["kind"] == CLIENT],
                   key=start_ns)
    backend = sorted([s for s in trace if pid_of(s) == node.pid and s["kind"] == SERVER],
                     key=start_ns)
    check("fanout: one trace of 8 spans (1 served, 3 calls, 3 backend, curl)",
          len(trace) == 8 and len(served) == 1 and len(calls) == 3 and len(backend) == 3,
          [(s["name"], s["kind"], pid_of(s)) for s in trace])
    if len(served) != 1 or len(calls) != 3 or len(backend) != 3:
        return
    check("fanout: the served request is curl's client span's child",
          is_child(served[0], client))
    check("fanout: the thread's 3 calls are children of the request it serves",
          all(is_child(c, served[0]) for c in calls)
          and [c["name"] for c in calls] == ["GET /users/{id}"] * 3)
    check("fanout: each backend span is the child of its call",
          all(is_child(b, c) for b, c in zip(backend, calls)))


def main():
    root = tempfile.mkdtemp(prefix="sp-www-")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("hello\n")
    node = node_server(free_port())
    py = python_server(free_port(), root)
    nginx = nginx_server(free_port(), root, py.port)
    fan = fanout_server(free_port(), node.port)
    agent = Agent()
    try:
        check("servers started", node.ready and py.ready and nginx.ready and fan.ready)
        ready = agent.wait_ready(node.port)
        check("spanprobe run: HTTP capture on", ready, agent.stderr())
        if ready:
            test_traceparent(agent, node)
            test_nginx_proxy(agent, nginx, py)
            test_fanout(agent, fan, node)
    finally:
        rc = agent.stop()
        for s in (node, py, nginx, fan):
            s.stop()
    check("spanprobe exits 0 on SIGTERM", rc == 0, agent.stderr())
    finish()


main()
