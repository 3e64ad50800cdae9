#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Records written on different CPUs come out in the order they happened.

With a ring buffer per CPU (the default) the daemon merges the CPUs'
records by their clocks; here every request is read on one CPU and
answered from another, and the client moves between CPUs too, so each
exchange's two directions are in two ring buffers.  Every request must
become one server span and one client span whose path, status and body
size are the request's own.  The same with `--ringbuf-shared` (one ring
buffer for all CPUs; on the host only), and the probes report says which
one runs."""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import IN_KERNEL_MATRIX, SPANPROBE, check, finish, require_root  # noqa: E402
from httptest import WAIT_S, Agent, free_port  # noqa: E402

require_root()

SERVER, CLIENT = 2, 3
N = 50 if IN_KERNEL_MATRIX else 400  # an emulated guest (by hand) is slow
ALL_CPUS = sorted(os.sched_getaffinity(0))
STATUSES = (200, 201, 404, 500, 302)


def cpus():
    return ALL_CPUS


def serve(listener):
    """One keep-alive connection at a time: read a request on the first
    CPU, answer from the last (each exchange crosses CPUs)."""
    first, last = cpus()[0], cpus()[-1]
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        buf = b""
        while True:
            os.sched_setaffinity(0, {first})
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                buf += chunk
            if b"\r\n\r\n" not in buf:
                break
            head, buf = buf.split(b"\r\n\r\n", 1)
            path = head.split(b" ")[1].decode()
            status = int(path.split("/")[2])
            body = b"x" * (int(path.split("/")[3]) % 97)
            os.sched_setaffinity(0, {last})
            conn.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s"
                         % (status, len(body), body))
        conn.close()


def client(port, tag, n):
    """n requests on one connection, the client moving between CPUs."""
    ring = cpus()
    sock = socket.create_connection(("127.0.0.1", port))
    answered = 0
    for i in range(n):
        os.sched_setaffinity(0, {ring[i % len(ring)]})
        status = STATUSES[i % len(STATUSES)]
        sock.sendall(b"GET /%s/%d/%d HTTP/1.1\r\nHost: h\r\n\r\n"
                     % (tag.encode(), status, i))
        want = len(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n" % (status, i % 97)) + i % 97
        got = b""
        while len(got) < want:
            chunk = sock.recv(want - len(got))
            if not chunk:
                break
            got += chunk
        answered += got.startswith(b"HTTP/1.1 %d " % status) and len(got) == want
    sock.close()
    os.sched_setaffinity(0, set(ring))
    return answered


def check_run(label, extra):
    if not check(f"{label}: at least two CPUs to move between", len(cpus()) >= 2, cpus()):
        return
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    # The server runs in a child process: the agent traces it by PID, and
    # its CPU moves are its own.
    pid = os.fork()
    if pid == 0:
        try:
            serve(listener)
        finally:
            os._exit(0)
    listener.close()
    agent = Agent(["-p", str(pid), "-p", str(os.getpid())] + extra)
    spans = None
    try:
        ready = False
        deadline = time.monotonic() + 2 * WAIT_S
        while not ready and time.monotonic() < deadline and agent.proc.poll() is None:
            client(port, "warm", 1)
            ready = agent.wait_quick(lambda s: s["_attrs"].get("url.path", "")
                                     .startswith("/warm/"))
        if check(f"{label}: capture on (a request before the test became a span)",
                 ready, agent.stderr()[-600:]):
            answered, spans = exchanges(agent, port, label)
    finally:
        rc = agent.stop()
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    if spans is not None:
        check_spans(label, answered, spans, rc, agent)


def exchanges(agent, port, label):
    """N requests; (how many were answered, the spans of them)."""
    tag = "o" + label[:1]
    answered = client(port, tag, N)

    def ours(s):
        return s["_attrs"].get("url.path", "").startswith(f"/{tag}/")
    agent.wait_for(ours, 2 * N)
    time.sleep(0.5)
    return answered, [s for s in agent.snapshot() if ours(s)]


def check_spans(label, answered, spans, rc, agent):
    check(f"{label}: the server answered all {N} requests", answered == N, answered)
    servers = [s for s in spans if s["kind"] == SERVER]
    clients = [s for s in spans if s["kind"] == CLIENT]
    check(f"{label}: {N} server spans and {N} client spans",
          len(servers) == N and len(clients) == N, (len(servers), len(clients)))
    wrong = []
    for s in spans:
        a = s["_attrs"]
        _, _, status, i = a["url.path"].split("/")
        if (a.get("http.response.status_code") != int(status)
                or a.get("http.request.method") != "GET"
                or (s["kind"] == SERVER and a.get("http.response.body.size", int(i) % 97)
                    != int(i) % 97)):
            wrong.append((s["kind"], a.get("url.path"), a.get("http.response.status_code")))
    check(f"{label}: every span has its own request's status and size", not wrong, wrong[:5])
    check(f"{label}: each path once per side",
          len({s["_attrs"]["url.path"] for s in servers}) == N
          and len({s["_attrs"]["url.path"] for s in clients}) == N)
    check(f"{label}: spanprobe exits 0", rc == 0, agent.stderr()[-600:])


def main():
    out = subprocess.run([SPANPROBE, "probes"], capture_output=True, text=True).stdout
    check("the probes report says how records reach the daemon",
          "records: a BPF ring buffer per CPU, merged in time order" in out
          or "records: one BPF ring buffer for all CPUs" in out, out[-400:])
    check_run("per CPU", [])
    # One ring buffer is the kernel's own order; the host checks it (each
    # start of the daemon costs an emulated guest half a minute).
    if not IN_KERNEL_MATRIX:
        check_run("shared", ["--ringbuf-shared"])
    finish()


main()
