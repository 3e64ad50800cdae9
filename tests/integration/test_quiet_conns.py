#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Connections judged in the kernel's table of sockets (sp_sock_known):
a TCP connection whose first bytes both ways are a binary protocol is
left alone for good (its socket ends are in the table while it is open,
gone after it closes, and an HTTP request sent on it later makes no
span), while a connection whose server speaks first in binary, or one
whose binary went one way only, is still traced when HTTP comes.  The
verdicts of the others are copied into their slots: HTTP (the kernel's),
ignored (a TLS handshake's ciphertext), and a Redis connection whose
server end the daemon then ignores (its verdict written into the slot).
The traffic is a child Python process, traced alone with -p."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, parse_otlp_json, require_root  # noqa: E402

require_root()

CHILD = r'''
import json, socket, sys

def pair():
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(1)
    c = socket.create_connection(lsn.getsockname())
    s, _ = lsn.accept()
    lsn.close()
    return c, s

def recv_exact(sock, n):
    got = b""
    while len(got) < n:
        b = sock.recv(n - len(got))
        if not b:
            raise SystemExit("closed")
        got += b
    return got

def http(c, s, path):
    req = f"GET {path} HTTP/1.1\r\nHost: quiet\r\n\r\n".encode()
    c.sendall(req)
    recv_exact(s, len(req))
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    s.sendall(resp)
    recv_exact(c, len(resp))

BIN = bytes(range(1, 65))
sys.stdin.readline()  # spanprobe is ready
# Binary both ways from the first byte, 200 round trips, then HTTP.
a = pair()
for _ in range(200):
    a[0].sendall(BIN); recv_exact(a[1], 64)
    a[1].sendall(BIN); recv_exact(a[0], 64)
http(a[0], a[1], "/after-binary")
# The server speaks first (a binary greeting), then the client asks HTTP.
b = pair()
b[1].sendall(b"\x0a5.5.5-greeting\x00" + BIN)
recv_exact(b[0], 16 + 64)
http(b[0], b[1], "/server-first")
# Binary one way only (the client's), then HTTP.
c = pair()
c[0].sendall(BIN); recv_exact(c[1], 64)
http(c[0], c[1], "/one-way")
# HTTP from the first byte, two requests.
d = pair()
http(d[0], d[1], "/keep-1")
http(d[0], d[1], "/keep-2")
# A TLS handshake's first record (ClientHello), then nothing.
e = pair()
e[0].sendall(b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"); recv_exact(e[1], 10)
# Redis: a PING and its reply.
f = pair()
f[0].sendall(b"*1\r\n$4\r\nPING\r\n"); recv_exact(f[1], 14)
f[1].sendall(b"+PONG\r\n"); recv_exact(f[0], 7)
ports = {n: [p[0].getsockname()[1], p[1].getsockname()[1]]
         for n, p in zip("abcdef", (a, b, c, d, e, f))}
print("ready " + json.dumps(ports), flush=True)
sys.stdin.readline()
for p in (a, b, c, d, e, f):
    p[0].close(); p[1].close()
print("closed", flush=True)
sys.stdin.readline()
'''


def map_id(pid, name):
    """The ID of BPF map `name` that process `pid` holds."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("map_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    out = subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True, text=True,
                         check=True).stdout
    found = [m["id"] for m in json.loads(out) if m.get("name") == name and m["id"] in ids]
    return found[0] if found else None


def quiet_slots(mid):
    """Slots in use: (socket, directions judged, state, whole, local port,
    peer port) of each."""
    out = subprocess.run(["bpftool", "-j", "map", "dump", "id", str(mid)],
                         capture_output=True, text=True, check=True).stdout
    slots = []
    for e in json.loads(out):
        v = e["formatted"]["value"]
        if v["sk"]:
            pair = v["ports"]
            peer = ((pair & 0xff) << 8) | ((pair >> 8) & 0xff)
            slots.append((v["sk"], v["dirs"], v["state"], v["whole"], pair >> 16, peer))
    return slots


def ends(slots, ports, name):
    """The slots of connection `name`'s client and server ends, in that
    order (None for an end that has none)."""
    pair = ports.get(name)
    if not pair:
        return [None, None]
    found = []
    for local, peer in (pair, pair[::-1]):
        hit = [s for s in slots if s[4] == local and s[5] == peer]
        found.append(hit[0] if len(hit) == 1 else (None,) * 6)
    return found


def main():
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    agent = subprocess.Popen([SPANPROBE, "run", "-v", "-o", "otlp-json", "-p", str(child.pid)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            line = agent.stderr.readline()
            if "tracing HTTP of" in line or not line:
                break
        check("spanprobe started", agent.poll() is None, line)
        mid = map_id(agent.pid, "sp_sock_known")
        check("spanprobe holds the map sp_sock_known", mid is not None)
        child.stdin.write("go\n")
        child.stdin.flush()
        ready = child.stdout.readline().split(" ", 1)
        check("the child's traffic ran", ready[0] == "ready", ready)
        ports = json.loads(ready[1]) if len(ready) == 2 else {}
        open_slots = quiet_slots(mid) if mid else []
        mine = []
        # The daemon's verdict on the Redis server end follows its records.
        deadline = time.time() + 3
        while mid and time.time() < deadline and ends(open_slots, ports, "f")[1][2] != 2:
            time.sleep(0.1)
            open_slots = quiet_slots(mid)
        # Only the child's connections: other traffic of the host is not
        # traced, but the table is a cache of sockets, not of processes.
        mine = [s for n in "abcdef" for s in ends(open_slots, ports, n) if s[0]]
        both = [s for s in mine if s[1] == 6]
        check("open: exactly the 2 ends of the binary connection are judged not HTTP both ways",
              len(both) == 2 and sorted(ends(open_slots, ports, "a")) == sorted(both), open_slots)
        b_c = ends(open_slots, ports, "b") + ends(open_slots, ports, "c")
        check("open: the server-first and one-way connections' ends are judged one way each, "
              "then HTTP", sorted(s[1:4] for s in b_c) == [(2, 1, 0), (2, 1, 0), (4, 1, 0),
                                                           (4, 1, 0)], b_c)
        check("open: the HTTP connection's ends hold the kernel's verdict HTTP",
              [s[1:4] for s in ends(open_slots, ports, "d")] == [(0, 1, 0), (0, 1, 0)],
              ends(open_slots, ports, "d"))
        check("open: the TLS handshake's ends hold the verdict ignore",
              [s[1:4] for s in ends(open_slots, ports, "e")] == [(0, 2, 0), (0, 2, 0)],
              ends(open_slots, ports, "e"))
        check("open: Redis client end whole both ways, server end ignored by the daemon",
              [s[1:4] for s in ends(open_slots, ports, "f")] == [(0, 1, 6), (0, 2, 0)],
              ends(open_slots, ports, "f"))
        child.stdin.write("close\n")
        child.stdin.flush()
        check("the child closed its connections", child.stdout.readline().strip() == "closed")
        time.sleep(0.3)
        left = [s for s in quiet_slots(mid) if s[0] in {x[0] for x in mine}] if mid else []
        check("closed: their slots are free again", left == [], left)
        time.sleep(0.5)
    finally:
        try:
            child.stdin.write("\n")
            child.stdin.flush()
        except BrokenPipeError:
            pass
        child.wait(timeout=10)
        agent.send_signal(signal.SIGINT)
        out, err = agent.communicate(timeout=30)
    spans = parse_otlp_json(out)
    got = sorted((s["_attrs"].get("url.path", s["name"]), s["kind"]) for s in spans)
    check("spans: the server-first, one-way and keep-alive requests, each side, and the "
          "Redis PING; none after the binary",
          got == [("/keep-1", 2), ("/keep-1", 3), ("/keep-2", 2), ("/keep-2", 3),
                  ("/one-way", 2), ("/one-way", 3), ("/server-first", 2), ("/server-first", 3),
                  ("PING", 3)], got)
    check("spanprobe exited cleanly", agent.returncode == 0, err[-2000:])
    finish()


if __name__ == "__main__":
    main()
