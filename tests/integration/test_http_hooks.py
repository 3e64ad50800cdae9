#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP capture through one hook set, forced with --http-hooks: `syscalls`
(the raw sys_exit tracepoint, the last resort) unless $SPANPROBE_HTTP_HOOKS
names another (the kernel matrix runs this test so with fentry and
kprobes).  Every set must give the same spans as the default hooks,
counted exactly, for Python's http.server, a Node.js server (keep-alive,
chunked, POST, traceparent, a client writing one byte at a time), nginx
(HTTP/1.0 body sent with sendfile) and IPv6.  Also checks that `spanprobe
probes` tries every set in order and names the one chosen, that -v names
the hooks in use, and that a set this kernel lacks is refused clearly."""
import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import IN_KERNEL_MATRIX, check, finish, require_root, run, run_json  # noqa: E402
from httptest import (Agent, bracket_times, brackets, curl, end_ns, free_port, is_child, nginx_server,  # noqa: E402
                      node_server, python_server, start_ns, status_code)

require_root()
SERVER, CLIENT = 2, 3
ORDER = ("sock", "fentry", "kprobes", "syscalls")
DESCRIBE = {
    "sock": "raw tracepoints sock_send_length + sock_recv_length",
    "fentry": "fexit on tcp_sendmsg, tcp_sendpage, inet_recvmsg, inet6_recvmsg",
    "kprobes": "kprobes + kretprobes on tcp_sendmsg, tcp_sendpage, inet_recvmsg",
    "syscalls": "raw tracepoint sys_exit on every syscall",
}
HOOKS = os.environ.get("SPANPROBE_HTTP_HOOKS") or "syscalls"
NO_ENV = {"SPANPROBE_HTTP_HOOKS": ""}  # empty: as if unset
# 1: only the checks that depend on the capture path.  The process life
# cycle (what `trace` follows, and lets go) is the same on every path; the
# kernel matrix runs it once per kernel, not once per path.
PATH_ONLY = os.environ.get("SP_PATH_CHECKS_ONLY") == "1"
if HOOKS not in DESCRIBE:
    raise SystemExit(f"SPANPROBE_HTTP_HOOKS={HOOKS}: not one of {', '.join(ORDER)}")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def pid_of(s):
    return s["_resource"].get("process.pid")


def exchange(agent, server_pid, client_pid, n, curl_out):
    """n SERVER spans of server_pid on curl's connections (its local ports
    in curl_out) and n CLIENT spans of client_pid, by start time."""
    ports = {int(line.split()[1]) for line in curl_out.splitlines() if line.strip()}
    servers = agent.wait_for(lambda s: pid_of(s) == server_pid and s["kind"] == SERVER
                             and s["_attrs"].get("client.port") in ports, n)
    clients = agent.wait_for(lambda s: pid_of(s) == client_pid and s["kind"] == CLIENT, n)
    return sorted(servers, key=start_ns), sorted(clients, key=start_ns)


def hook_sets(out):
    """{name: "yes..." or "no: why"} from the probes report's table."""
    sets = {}
    for line in out.splitlines():
        parts = line.split(None, 1)
        if line.startswith("    ") and len(parts) == 2 and parts[0] in DESCRIBE:
            sets[parts[0]] = parts[1]
    return sets


def choosing_checks(works):
    """--http-hooks and SPANPROBE_HTTP_HOOKS: which wins, what is refused."""
    rc, out, err = run(["probes", "--http-hooks", HOOKS], env=NO_ENV)
    line = [x for x in out.splitlines() if x.startswith("  HTTP capture (")]
    check(f"probes --http-hooks {HOOKS}: names it as the hooks in use",
          rc == 0 and len(line) == 1 and line[0].startswith(
              f"  HTTP capture (--http-hooks {HOOKS}): " + DESCRIBE[HOOKS]), out)
    rc, out, err = run(["probes"], env={"SPANPROBE_HTTP_HOOKS": HOOKS})
    check(f"SPANPROBE_HTTP_HOOKS={HOOKS} chooses as --http-hooks does",
          f"  HTTP capture (--http-hooks {HOOKS}): " in out, out)
    other = "sock" if HOOKS != "sock" else "syscalls"
    rc, out, err = run(["probes", "--http-hooks", other], env={"SPANPROBE_HTTP_HOOKS": HOOKS})
    check("--http-hooks wins over SPANPROBE_HTTP_HOOKS",
          f"  HTTP capture (--http-hooks {other}): " in out
          or (other not in works and "  HTTP capture: unavailable" in out), out)
    rc, out, err = run(["probes", "--http-hooks", "kernelhooks"])
    check("--http-hooks with an unknown value is refused",
          rc == 2 and "--http-hooks: 'kernelhooks' is not one of auto, sock, fentry, "
          "kprobes, syscalls" in err, err)


def test_probes_report():
    rc, out, err = run(["probes"], env=NO_ENV)
    sets = hook_sets(out)
    works = [k for k in ORDER if sets.get(k, "").startswith("yes")]
    line = [x for x in out.splitlines() if x.startswith("  HTTP capture (")]
    check("probes: tries the four hook sets in order, each says yes or why not",
          rc == 0 and list(sets) == list(ORDER)
          and all(v.startswith("yes") or v.startswith("no: ") for v in sets.values()), out)
    check("probes: auto chooses the first set that works here",
          len(works) > 0 and len(line) == 1
          and line[0] == f"  HTTP capture (auto: {works[0]}): " + line[0].split("): ", 1)[1]
          and DESCRIBE[works[0]] in line[0], out)
    check(f"probes: the set under test ({HOOKS}) works on this kernel", HOOKS in works, out)
    if not IN_KERNEL_MATRIX:  # how a set is chosen is the same on every kernel
        choosing_checks(works)
    missing = [k for k in ORDER if k not in works]
    for name in missing[:1]:
        why = sets[name][len("no: "):]
        rc, out, err = run(["run", "--http-hooks", name], timeout=60)
        check(f"run --http-hooks {name} on a kernel without it: refused, says why",
              rc != 0 and f"sockcap: --http-hooks {name}: {why}; HTTP capture is off" in err,
              err)



def test_python_get(agent, py):
    rc, out, pid = curl(f"http://127.0.0.1:{py.port}/index.html")
    local_port = int(out.split()[1])
    servers, clients = exchange(agent, py.pid, pid, 1, out)
    check("python: one SERVER span, one curl CLIENT span",
          rc == 0 and len(servers) == 1 and len(clients) == 1, f"{len(servers)} {len(clients)}")
    if len(servers) != 1 or len(clients) != 1:
        return
    s, c = servers[0], clients[0]
    want = {"http.request.method": "GET", "url.path": "/index.html", "url.scheme": "http",
            "http.response.status_code": 200, "server.address": "127.0.0.1",
            "server.port": py.port, "client.address": "127.0.0.1", "client.port": local_port,
            "network.peer.address": "127.0.0.1", "network.peer.port": local_port,
            "network.protocol.version": "1.1", "http.request.body.size": 0,
            "http.response.body.size": 6}
    check("python: server span name and attributes",
          s["name"] == "GET /index.html" and {k: s["_attrs"].get(k) for k in want} == want
          and s["_attrs"].get("user_agent.original", "").startswith("curl/")
          and status_code(s) == 0, f"{s['name']} {s['_attrs']}")
    want_c = {"http.request.method": "GET",
              "url.full": f"http://127.0.0.1:{py.port}/index.html",
              "http.response.status_code": 200, "server.port": py.port,
              "network.peer.address": "127.0.0.1", "network.peer.port": py.port,
              "http.response.body.size": 6}
    check("curl: client span attributes",
          {k: c["_attrs"].get(k) for k in want_c} == want_c, c["_attrs"])
    check("same connection: the server span is the client span's child, inside it",
          is_child(s, c) and brackets(c, s), bracket_times(c, s))


def test_keepalive(agent, node):
    urls = [f"http://127.0.0.1:{node.port}/users/{i}" for i in ("1", "22", "333")]
    rc, out, pid = curl(*urls)
    servers, clients = exchange(agent, node.pid, pid, 3, out)
    check("keep-alive: 3 SERVER and 3 CLIENT spans on one connection",
          rc == 0 and len(servers) == 3 and len(clients) == 3
          and len({s["_attrs"].get("client.port") for s in servers}) == 1,
          f"{len(servers)} {len(clients)}")
    check("keep-alive: routes, raw paths, body sizes 10, 11, 12",
          [s["name"] for s in servers] == ["GET /users/{id}"] * 3
          and [s["_attrs"].get("url.path") for s in servers] == ["/users/1", "/users/22",
                                                                  "/users/333"]
          and [s["_attrs"].get("http.response.body.size") for s in servers] == [10, 11, 12],
          [s["_attrs"] for s in servers])
    check("keep-alive: each server span is its client span's child",
          len(servers) == 3 and len(clients) == 3
          and all(is_child(s, c) for s, c in zip(servers, clients)))


def test_chunked_post_status(agent, node):
    rc, out, pid = curl(f"http://127.0.0.1:{node.port}/chunked")
    servers, clients = exchange(agent, node.pid, pid, 1, out)
    check("chunked: body size is the decoded data (19 bytes), both sides",
          len(servers) == 1 and len(clients) == 1
          and servers[0]["_attrs"].get("url.path") == "/chunked"
          and servers[0]["_attrs"].get("http.response.body.size") == 19
          and clients[0]["_attrs"].get("http.response.body.size") == 19,
          [s["_attrs"] for s in servers + clients])
    with tempfile.NamedTemporaryFile() as body:
        body.write(b"x" * 3000)
        body.flush()
        rc, out, pid = curl("--data-binary", f"@{body.name}",
                            f"http://127.0.0.1:{node.port}/echo")
    servers, clients = exchange(agent, node.pid, pid, 1, out)
    check("POST 3000 bytes: request and response body sizes",
          len(servers) == 1 and len(clients) == 1 and servers[0]["name"] == "POST /echo"
          and servers[0]["_attrs"].get("http.request.body.size") == 3000
          and servers[0]["_attrs"].get("http.response.body.size") == 4
          and clients[0]["_attrs"].get("http.request.body.size") == 3000,
          [s["_attrs"] for s in servers + clients])
    rc, out, pid = curl(f"http://127.0.0.1:{node.port}/fail")
    servers, clients = exchange(agent, node.pid, pid, 1, out)
    check("500: server and client spans ERROR with error.type",
          len(servers) == 1 and len(clients) == 1
          and servers[0]["_attrs"].get("http.response.status_code") == 500
          and status_code(servers[0]) == 2 and status_code(clients[0]) == 2
          and clients[0]["_attrs"].get("error.type") == "500",
          [s["_attrs"] for s in servers + clients])


def test_traceparent(agent, node):
    rc, out, pid = curl("-H", f"traceparent: 00-{TRACE}-{PARENT}-01",
                        f"http://127.0.0.1:{node.port}/users/9")
    servers = agent.wait_for(lambda s: s["traceId"] == TRACE, 1)
    check("traceparent: one server span in the incoming trace, its parent's child",
          rc == 0 and len(servers) == 1 and pid_of(servers[0]) == node.pid
          and servers[0]["kind"] == SERVER and servers[0].get("parentSpanId") == PARENT,
          servers)


def test_one_byte_at_a_time(agent, node):
    sock = socket.create_connection(("127.0.0.1", node.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    port = sock.getsockname()[1]
    for b in b"GET /users/42 HTTP/1.1\r\nHost: slow\r\n\r\n":
        sock.send(bytes([b]))
        time.sleep(0.002)  # pacing, so the server reads the bytes apart
    sock.settimeout(10)
    reply = b""
    while not reply.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    sock.close()
    servers = agent.wait_for(lambda s: s["_attrs"].get("client.port") == port
                             and s["kind"] == SERVER, 1)
    check("one byte at a time: one server span with the right route and status",
          len(servers) == 1 and servers[0]["name"] == "GET /users/{id}"
          and servers[0]["_attrs"].get("url.path") == "/users/42"
          and servers[0]["_attrs"].get("http.response.status_code") == 200
          and reply.startswith(b"HTTP/1.1 200"), [s["_attrs"] for s in servers])


def test_nginx_sendfile(agent, nginx):
    rc, out, pid = curl("--http1.0", f"http://127.0.0.1:{nginx.port}/index.html")
    servers, clients = exchange(agent, nginx.pid, pid, 1, out)
    check("nginx HTTP/1.0 (sendfile body): one server span, version 1.0, body 6",
          len(servers) == 1 and len(clients) == 1
          and servers[0]["_attrs"].get("network.protocol.version") == "1.0"
          and servers[0]["_attrs"].get("http.response.status_code") == 200
          and servers[0]["_attrs"].get("http.response.body.size") == 6,
          [s["_attrs"] for s in servers])


def test_ipv6(agent, root):
    py6 = python_server(free_port(), root, bind="::1")
    try:
        rc, out, pid = curl(f"http://[::1]:{py6.port}/index.html")
        servers, clients = exchange(agent, py6.pid, pid, 1, out)
        check("IPv6: server span with ::1 addresses, linked to curl's client span",
              len(servers) == 1 and len(clients) == 1
              and servers[0]["_attrs"].get("client.address") == "::1"
              and servers[0]["_attrs"].get("server.address") == "::1"
              and is_child(servers[0], clients[0]),
              [s["_attrs"] for s in servers + clients])
    finally:
        py6.stop()


def test_trace_tracked_only(node):
    """`trace` follows only the launched command (sp_tracked), not the server."""
    url = f"http://127.0.0.1:{node.port}/users/5"
    rc, spans, err = run_json(["trace", "--http-hooks", HOOKS, "--", "curl", "-s",
                               "-o", "/dev/null", url])
    check(f"trace --http-hooks {HOOKS}: exactly curl's CLIENT span, the server untraced",
          rc == 0 and len(spans) == 1 and spans[0]["kind"] == CLIENT
          and spans[0]["_attrs"].get("url.full") == url
          and spans[0]["_attrs"].get("http.response.status_code") == 200,
          f"{err} {[(s['name'], s['kind'], pid_of(s)) for s in spans]}")


def test_trace_children_come_and_go(node):
    """A process `trace` followed leaves sp_tracked once it is gone.  With
    room for 4, in one run: a shell runs curl 8 times in a row (and sleep
    between: 17 processes), then a Python parent forks 8 curls and reaps
    none of them until the last has ended (each waited for with WNOWAIT: a
    zombie until the end), so ended processes waiting to be reaped take no
    room.  Every curl's client span comes out."""
    loop_url = f"http://127.0.0.1:{node.port}/users/7"
    fork_url = f"http://127.0.0.1:{node.port}/users/8"
    forker = ("import os, sys\n"
              "kids = []\n"
              "for i in range(8):\n"
              "    pid = os.fork()\n"
              "    if pid == 0:\n"
              "        os.execvp('curl', ['curl', '-s', '-o', '/dev/null', sys.argv[1]])\n"
              "    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)\n"
              "    kids.append(pid)\n"
              "for pid in kids:\n"
              "    os.waitpid(pid, 0)\n")
    both = (f"for i in 1 2 3 4 5 6 7 8; do curl -s -o /dev/null {loop_url}; sleep 0.05; done; "
            f'exec "$0" -c "$1" {fork_url}')
    rc, spans, err = run_json(["trace", "--http-hooks", HOOKS, "--max-processes", "4",
                               "--", "sh", "-c", both, sys.executable, forker])

    def clients(url):
        return [s for s in spans if s["kind"] == CLIENT and s["_attrs"].get("url.full") == url]
    seen = f"{err} {[(s['name'], s['kind'], pid_of(s)) for s in spans]}"
    check(f"trace --http-hooks {HOOKS} --max-processes 4: 8 short-lived curls, 8 CLIENT spans",
          rc == 0 and len(clients(loop_url)) == 8
          and len({pid_of(s) for s in clients(loop_url)}) == 8, seen)
    check(f"trace --http-hooks {HOOKS} --max-processes 4: 8 curls left unreaped, 8 CLIENT spans",
          rc == 0 and len(clients(fork_url)) == 8
          and len({pid_of(s) for s in clients(fork_url)}) == 8 and len(spans) == 16, seen)
    # No room past the parent: no child followed, and the exit report says
    # how many were refused.
    rc, spans, err = run_json(["trace", "--http-hooks", HOOKS, "--max-processes", "1",
                               "--", sys.executable, "-c", forker, fork_url])
    check(f"trace --http-hooks {HOOKS} --max-processes 1: no curl followed, 8 refusals reported",
          rc == 0 and not spans and "spanprobe: kernel side: 8 table entries refused" in err,
          f"{err} {[(s['name'], s['kind'], pid_of(s)) for s in spans]}")


def main():
    # In the kernel matrix each kernel's first boot runs `spanprobe probes`
    # itself and reports every set's state, and a set that did not work
    # would fail `run --http-hooks` below: the guests leave this report
    # (a load of every hook set: seconds under emulation) to the host.
    if not IN_KERNEL_MATRIX:
        test_probes_report()
    root = tempfile.mkdtemp(prefix="sp-www-")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("hello\n")
    node = node_server(free_port())
    py = python_server(free_port(), root)
    nginx = nginx_server(free_port(), root, py.port)
    agent = Agent(extra_args=["--http-hooks", HOOKS, "-v"])
    try:
        try:
            check("servers started", node.ready and py.ready and nginx.ready)
            ready = agent.wait_ready(node.port)
            check(f"spanprobe run --http-hooks {HOOKS}: HTTP capture on", ready, agent.stderr())
            check(f"-v says the {HOOKS} hooks are in use",
                  f"sockcap: HTTP capture (--http-hooks {HOOKS}): " + DESCRIBE[HOOKS]
                  in agent.stderr(), agent.stderr())
            if ready:
                test_python_get(agent, py)
                test_keepalive(agent, node)
                test_chunked_post_status(agent, node)
                test_traceparent(agent, node)
                test_one_byte_at_a_time(agent, node)
                test_nginx_sendfile(agent, nginx)
                test_ipv6(agent, root)
        finally:
            rc = agent.stop()
        if node.ready:
            test_trace_tracked_only(node)
            if PATH_ONLY:
                print("# the process life cycle under `trace` is left to the kernel's "
                      "own run (SP_PATH_CHECKS_ONLY=1)")
            else:
                test_trace_children_come_and_go(node)
    finally:
        for s in (node, py, nginx):
            s.stop()
    check("spanprobe exits 0 on SIGTERM", rc == 0, agent.stderr())
    err = agent.stderr()
    check("no bad records", "0 bad records" in err, err[-800:])
    finish()


main()
