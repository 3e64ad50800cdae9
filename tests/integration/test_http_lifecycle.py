#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Process life cycle and timing of node-wide HTTP spans, each with exact
expectations:
  - a server started after `spanprobe run` is ready is traced: N curls give
    exactly N SERVER spans of that process and N CLIENT spans;
  - a PID reused by a different program (obtained through ns_last_pid) gets
    the new program's resource, and nothing of the old process leaks into it;
  - durations bracket what the clients measured (curl's time_total, wrk's
    per-request latencies, h2load's per-request log) and the server's known
    delay, with span counts equal to the requests each tool reports."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import IN_KERNEL_MATRIX, check, finish, require_root  # noqa: E402
from httptest import (HOOK_SKEW_NS, PROGRAM_SOURCES, WAIT_S, Agent, Server, brackets,  # noqa: E402
                      curl, end_ns, free_port, is_child, python_server, start_ns)

require_root()
SERVER, CLIENT = 2, 3
READY_LINE = "tracing HTTP of every process on this host"
NS_LAST_PID = "/proc/sys/kernel/ns_last_pid"
SLEEP_NS = 20_000_000
SETTLE_S = 0.5  # after the expected spans arrive: room for any extra to show

# Answers every request 200 "ok\n" no sooner than SLEEP_NS after the request
# arrived (re-armed until the monotonic clock says so: timers may fire early).
SLOW_SERVER_JS = """'use strict';
const http = require('http');
const SLEEP_NS = %dn;
function answer(res, t0) {
	const left = SLEEP_NS - (process.hrtime.bigint() - t0);
	if (left > 0n) {
		setTimeout(answer, Math.ceil(Number(left) / 1e6), res, t0);
		return;
	}
	res.writeHead(200, { 'Content-Length': 3 });
	res.end('ok\\n');
}
http.createServer((req, res) => {
	const t0 = process.hrtime.bigint();
	req.resume();
	req.on('end', () => answer(res, t0));
}).listen(Number(process.argv[2]), '127.0.0.1', () => console.log('ready'));
""" % SLEEP_NS

# wrk stops its (single) connection after LIMIT responses, so no request is
# left in flight when the run ends, and prints its run time and every
# latency in its histogram.
WRK_LUA = """local limit = %d
local n = 0
function response(status, headers, body)
	n = n + 1
	if n >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("requests %%d errors %%d duration_us %%d\\n", summary.requests,
		e.connect + e.read + e.write + e.status + e.timeout, summary.duration))
	for i = 1, #latency do
		local v, c = latency(i)
		io.write(string.format("latency_us %%d %%d\\n", v, c))
	end
end
"""


def wrk_measured(hist, duration_us, requests, connections):
    """The latencies wrk measured, in ns, from the histogram it hands to
    done(): before it does, wrk corrects it for coordinated omission,
    adding for every latency n of at least twice the expected interval
    E (its run time over the requests per connection) the samples n - E,
    n - 2E, ... down to more than E.  A slow first request in an emulated
    guest makes such samples; they are taken away here, from the largest
    latency down, so what is left is what wrk measured.  None when the
    histogram could not have been corrected that way."""
    h = dict(hist)
    if requests // connections > 0:
        expected = duration_us // (requests // connections)
        if expected <= 0:
            return None
        for n in sorted(h, reverse=True):
            if n < 2 * expected:
                break
            m = n - expected
            while h[n] and m > expected:
                if h.get(m, 0) < h[n]:
                    return None
                h[m] -= h[n]
                m -= expected
    return sorted(v * 1000 for v, c in h.items() for _ in range(c))


def exe_name(pid):
    return os.path.basename(os.readlink(f"/proc/{pid}/exe"))


def wait_ready_line(agent):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and agent.proc.poll() is None:
        if READY_LINE in agent.stderr():
            return True
        time.sleep(0.05)
    return False


def exact(agent, pred, count):
    """The spans matching pred once `count` arrived and a little more time
    passed, so that one too many is seen as such."""
    agent.wait_for(pred, count)
    time.sleep(SETTLE_S)
    return sorted([s for s in agent.snapshot() if pred(s)], key=start_ns)


def of(pid, k, path=None):
    return lambda s: (s["_resource"].get("process.pid") == pid and s["kind"] == k
                      and (path is None or s["_attrs"].get("url.path") == path))


def duration(s):
    return end_ns(s) - start_ns(s)


def test_started_after(agent, root):
    """The server process does not exist until spanprobe said it was ready."""
    n = 5
    py = python_server(free_port(), root)
    try:
        check("new process: server started after spanprobe was ready", py.ready)
        exe = exe_name(py.pid)
        runs = [curl(f"http://127.0.0.1:{py.port}/index.html") for _ in range(n)]
        check(f"new process: {n} curls answered 200",
              all(rc == 0 and out.startswith("200") for rc, out, _ in runs), runs)
        curl_pids = {pid for _, _, pid in runs}
        ports = {int(out.split()[1]) for _, out, _ in runs if out.strip()}
        servers = exact(agent, of(py.pid, SERVER), n)
        clients = exact(agent, lambda s: s["_resource"].get("process.pid") in curl_pids
                        and s["kind"] == CLIENT, n)
        check(f"new process: exactly {n} SERVER spans with its process.pid",
              len(servers) == n, f"{len(servers)}")
        check(f"new process: exactly {n} CLIENT spans, one per curl",
              len(clients) == n and {c["_resource"]["process.pid"] for c in clients}
              == curl_pids, f"{len(clients)}")
        check("new process: its resource names its executable",
              all(s["_resource"].get("process.executable.name") == exe
                  and s["_resource"].get("service.name") == f"unknown_service:{exe}"
                  for s in servers), [s["_resource"] for s in servers[:1]])
        check("new process: the server spans are on curl's connections, each the child "
              "of one curl span",
              {s["_attrs"].get("client.port") for s in servers} == ports
              and all(sum(is_child(s, c) for c in clients) == 1 for s in servers),
              [s["_attrs"].get("client.port") for s in servers])
    finally:
        py.stop()


def spawn_with_pid(pid, args, port):
    """Start args as a process with PID `pid` by setting the kernel's last
    allocated PID just before forking; other processes on the host may take
    it first, so try a few times.  Returns (Server or None, tries)."""
    with open(NS_LAST_PID) as f:
        saved = f.read().strip()
    try:
        for tries in range(1, 51):
            with open(NS_LAST_PID, "w") as f:
                f.write(str(pid - 1))
            s = Server(args, port)
            if s.pid == pid:
                return s, tries
            s.stop()
        return None, 50
    finally:
        # Allocation resumes where it was; PIDs in use are skipped anyway.
        with open(NS_LAST_PID, "w") as f:
            f.write(saved)


def test_pid_reuse(agent, root):
    old = python_server(free_port(), root)
    check("PID reuse: first server started", old.ready)
    pid = old.pid
    old_exe = exe_name(pid)
    for path in ("/index.html", "/missing"):
        curl(f"http://127.0.0.1:{old.port}{path}")
    first = exact(agent, of(pid, SERVER), 2)
    # A request left half-read when the process dies: its state must not
    # surface in the next process with the same PID.
    stale = socket.create_connection(("127.0.0.1", old.port))
    stale.sendall(b"GET /stale HTTP/1.1\r\nHost: old\r\n")
    time.sleep(0.2)
    old.stop()
    stale.close()
    port = free_port()
    new, tries = spawn_with_pid(pid, ["node", os.path.join(PROGRAM_SOURCES,
                                                           "http_node_server.js"), str(port)],
                                port)
    if not check("PID reuse: a node server got the exited python server's PID",
                 new is not None and new.ready, f"PID {pid} not obtained in {tries} tries"):
        return
    try:
        new_exe = exe_name(pid)
        check("PID reuse: the two programs differ", new_exe != old_exe, new_exe)
        for i in (1, 2, 3):
            curl(f"http://127.0.0.1:{port}/users/{i}")
        spans = exact(agent, lambda s: s["_resource"].get("process.pid") == pid, 5)
    finally:
        new.stop()
    old_spans = [s for s in spans if s["_resource"].get("process.executable.name") == old_exe]
    new_spans = [s for s in spans if s["_resource"].get("process.executable.name") == new_exe]
    # The half-read request may give the old process a span (the request
    # never completed: whether it should is the bad-input tests' question);
    # it must not appear in the new one.
    answered = [s for s in old_spans if s["_attrs"].get("url.path") != "/stale"]
    check("PID reuse: the first process's 2 SERVER spans carry its own resource",
          len(first) == 2 and [s["_attrs"].get("url.path") for s in answered]
          == ["/index.html", "/missing"]
          and all(s["_resource"].get("service.name") == f"unknown_service:{old_exe}"
                  and s["_attrs"].get("server.port") == old.port for s in answered),
          [(s["_resource"].get("process.executable.name"), s["_attrs"].get("url.path"))
           for s in old_spans])
    check("PID reuse: the new process's 3 SERVER spans carry the new program's resource",
          [s["_attrs"].get("url.path") for s in new_spans] == ["/users/1", "/users/2",
                                                                "/users/3"]
          and all(s["kind"] == SERVER and s["_attrs"].get("server.port") == port
                  and s["_resource"].get("service.name") == f"unknown_service:{new_exe}"
                  and s["_resource"].get("process.executable.path")
                  == os.path.realpath(shutil.which("node")) for s in new_spans),
          [(s["_resource"].get("process.executable.name"), s["_attrs"].get("url.path"))
           for s in new_spans])
    check("PID reuse: every span with that PID is the old or the new program's; the "
          "half-read request, if it gave a span, gave it to the old one",
          len(spans) == len(old_spans) + len(new_spans)
          and len(old_spans) - len(answered) <= 1,
          [(s["_resource"].get("process.executable.name"), s["_attrs"].get("url.path"))
           for s in spans])


def unbracketed(servers, clients):
    """The server spans that are not the child of a client span bracketing
    them (within the hooks' skew, httptest.brackets), each said as "server
    START..END in client START..END" (ns from the first client's start; "no
    parent" when no client span is its parent)."""
    by_id = {c["spanId"]: c for c in clients}
    t0 = min(map(start_ns, clients), default=0)
    bad = []
    for s in servers:
        c = by_id.get(s.get("parentSpanId"))
        if c and is_child(s, c) and brackets(c, s):
            continue
        where = (f"client {start_ns(c) - t0}..{end_ns(c) - t0}" if c and is_child(s, c)
                 else "no parent")
        bad.append(f"server {start_ns(s) - t0}..{end_ns(s) - t0} in {where}")
    return bad


def within_measured(servers, measured_ns):
    """Each server span no longer than the client's measurement of its own
    request.  Without a per-request match, sorting both sides is exact: a
    one-to-one pairing with s <= m exists iff sorted s <= sorted m.  Both
    tools keep whole microseconds, and wrk reads the wall clock, which a
    time daemon may slew by up to 0.05 %: a microsecond and 0.1 % are
    allowed.  In an
    emulated guest a span's end, the clock the send's program reads after
    copying the response, trails the client's own clock by that program's
    emulated run: the hook skew is allowed there."""
    slack = HOOK_SKEW_NS if IN_KERNEL_MATRIX else 0
    return (len(servers) == len(measured_ns)
            and all(s <= m + m // 1000 + 1000 + slack
                    for s, m in zip(sorted(map(duration, servers)), sorted(measured_ns))))


def check_load(tool, agent, node, client_pid, path, reported, measured_ns):
    servers = exact(agent, of(node.pid, SERVER, path), reported)
    clients = exact(agent, of(client_pid, CLIENT), reported)
    check(f"{tool}: SERVER and CLIENT spans equal the {reported} requests it reports",
          reported > 0 and len(servers) == reported and len(clients) == reported,
          f"{len(servers)} server, {len(clients)} client")
    check(f"{tool}: every SERVER span lasts at least the server's {SLEEP_NS // 1000000} ms",
          servers and min(map(duration, servers)) >= SLEEP_NS,
          min(map(duration, servers), default=None))
    outside = unbracketed(servers, clients)
    check(f"{tool}: every SERVER span lies inside its CLIENT span (same trace, within "
          f"{HOOK_SKEW_NS // 1000000} ms of hook skew)",
          servers and not outside, f"{len(outside)} not: {outside[:4]}")
    pairs = list(zip(sorted(map(duration, servers)), sorted(measured_ns)))
    worst = max(pairs, key=lambda p: p[0] - p[1], default=(0, 0))
    check(f"{tool}: SERVER spans no longer than the latencies it measured",
          within_measured(servers, measured_ns),
          f"{len(servers)} spans, {len(measured_ns)} measured; the worst of the sorted "
          f"pairs: span {worst[0]} ns against {worst[1]} ns measured")


def test_curl_timing(agent, node):
    n = 5
    for i in range(n):
        p = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w",
                              "%{http_code} %{time_total}",
                              f"http://127.0.0.1:{node.port}/curl/{i}"],
                             stdout=subprocess.PIPE, text=True)
        code, total = p.communicate(timeout=30)[0].split()
        total_ns = round(float(total) * 1e9)
        servers = exact(agent, of(node.pid, SERVER, f"/curl/{i}"), 1)
        clients = exact(agent, of(p.pid, CLIENT), 1)
        ok = code == "200" and len(servers) == 1 and len(clients) == 1
        check(f"curl {i}: 200, one SERVER span and one CLIENT span", ok,
              f"{code} {len(servers)} {len(clients)}")
        if not ok:
            continue
        s = servers[0]
        parents = [c for c in clients if is_child(s, c)]
        check(f"curl {i}: {SLEEP_NS // 1000000} ms <= SERVER span, inside the CLIENT span "
              f"(within {HOOK_SKEW_NS // 1000000} ms of hook skew), CLIENT span "
              f"<= curl's time_total",
              len(parents) == 1 and parents[0]["kind"] == CLIENT
              and SLEEP_NS <= duration(s) and duration(parents[0]) <= total_ns
              and brackets(parents[0], s),
              f"server {start_ns(s)}..{end_ns(s)} client "
              f"{[(start_ns(c), end_ns(c)) for c in parents]} curl {total_ns} ns")


def test_wrk(agent, node, tmp):
    limit = 40
    script = os.path.join(tmp, "stop.lua")
    with open(script, "w") as f:
        f.write(WRK_LUA % limit)
    p = subprocess.Popen(["wrk", "-t1", "-c1", "-d5s", "-s", script,
                          f"http://127.0.0.1:{node.port}/wrk"],
                         stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=60)
    reported, errors, duration_us, hist = 0, -1, 0, []
    for line in out.splitlines():
        w = line.split()
        if w[:1] == ["requests"]:
            reported, errors, duration_us = int(w[1]), int(w[3]), int(w[5])
        elif w[:1] == ["latency_us"]:
            hist.append((int(w[1]), int(w[2])))
    measured = wrk_measured(hist, duration_us, reported, 1)
    check(f"wrk: {limit} requests, no errors, its histogram as wrk corrects one",
          reported == limit and errors == 0 and measured is not None, out)
    measured = measured or []
    check_load("wrk", agent, node, p.pid, "/wrk", reported, measured)


def test_h2load(agent, node, tmp):
    n = 100
    log = os.path.join(tmp, "h2load.log")
    p = subprocess.Popen(["h2load", "--h1", "-n", str(n), "-c", "4", "-t", "1",
                          f"--log-file={log}", f"http://127.0.0.1:{node.port}/h2load"],
                         stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=60)
    rows = []
    with open(log) as f:
        for line in f:
            _, status, micros = line.split()
            rows.append((int(status), int(micros) * 1000))
    check(f"h2load: {n} requests succeeded, {n} logged",
          f"{n} succeeded" in out and len(rows) == n and all(st == 200 for st, _ in rows),
          out[-400:])
    check_load("h2load (4 connections)", agent, node, p.pid, "/h2load", len(rows),
               [ns for _, ns in rows])


def main():
    root = tempfile.mkdtemp(prefix="sp-www-")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(root, "slow.js"), "w") as f:
        f.write(SLOW_SERVER_JS)
    agent = Agent(extra_args=("-v",))
    node = None
    try:
        ready = wait_ready_line(agent)
        check("spanprobe run -v says it traces every process", ready, agent.stderr())
        if ready:
            test_started_after(agent, root)
            test_pid_reuse(agent, root)
            port = free_port()
            node = Server(["node", os.path.join(root, "slow.js"), str(port)], port)
            check(f"node server answering after {SLEEP_NS // 1000000} ms started", node.ready)
            test_curl_timing(agent, node)
            test_wrk(agent, node, root)
            test_h2load(agent, node, root)
    finally:
        rc = agent.stop()
        if node:
            node.stop()
        shutil.rmtree(root, ignore_errors=True)
    check("spanprobe exits 0 on SIGTERM", rc == 0, agent.stderr()[-2000:])
    finish()


main()
