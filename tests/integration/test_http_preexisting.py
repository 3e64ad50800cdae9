#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A keep-alive connection opened before spanprobe started is picked up at
its next request: exactly one SERVER and one CLIENT span for it, linked."""
import http.client
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import check, finish, require_root  # noqa: E402
from httptest import Agent, free_port, node_server  # noqa: E402

require_root()
ME = os.getpid()


def main():
    node = node_server(free_port())
    agent = None
    try:
        check("node server started", node.ready)
        conn = http.client.HTTPConnection("127.0.0.1", node.port)
        conn.request("GET", "/users/1")
        first = conn.getresponse().read()
        agent = Agent()
        ready = agent.wait_ready(node.port)
        check("spanprobe run: HTTP capture on", ready, agent.stderr())
        conn.request("GET", "/users/2", headers={"User-Agent": "preexisting"})
        second = conn.getresponse().read()
        servers = agent.wait_for(lambda s: s["kind"] == 2
                                 and s["_attrs"].get("user_agent.original") == "preexisting", 1)
        clients = agent.wait_for(lambda s: s["kind"] == 3 and s["_resource"].get("process.pid") == ME,
                                 1)
        conn.close()
        check("the connection's earlier request left no span", first == b'{"id":"1"}' and
              not [s for s in agent.snapshot() if s["_attrs"].get("url.path") == "/users/1"])
        check("its next request: one SERVER span, route and status right",
              second == b'{"id":"2"}' and len(servers) == 1
              and servers[0]["name"] == "GET /users/{id}"
              and servers[0]["_attrs"].get("http.response.status_code") == 200,
              [s["_attrs"] for s in servers])
        check("and one CLIENT span from this process, the server span its child",
              len(clients) == 1 and servers
              and servers[0].get("parentSpanId") == clients[0]["spanId"]
              and servers[0]["traceId"] == clients[0]["traceId"],
              [s["_attrs"] for s in clients])
    finally:
        if agent:
            check("spanprobe exits 0", agent.stop() == 0)
        node.stop()


main()
finish()
