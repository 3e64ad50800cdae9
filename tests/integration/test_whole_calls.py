#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Calls captured whole in the kernel: a database client's requests (here
Redis commands, to a small server in the same Python process that answers
each with +OK) come as records of 4 KiB at most that carry every byte of
the call, up to 64 KiB a call, the rest counted: a pipeline of 1,000
commands in one write, a writev of 300 segments, and a 100 KB command.
The records are read from spanprobe's -vvv dump; the spans show that the
decoder saw every command."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, parse_otlp_json, require_root  # noqa: E402

require_root()

CHILD = r'''
import os, socket, sys, threading

lsn = socket.socket()
lsn.bind(("127.0.0.1", 0))
lsn.listen(1)
print(lsn.getsockname()[1], flush=True)

def serve(s, phases):
    """Read each phase's bytes whole, then answer its commands."""
    for size, n in phases:
        got = 0
        while got < size:
            b = s.recv(65536)
            if not b:
                return
            got += len(b)
        s.sendall(b"+OK\r\n" * n)

def recv_ok(c, n):
    got = b""
    while got.count(b"+OK\r\n") < n:
        b = c.recv(65536)
        if not b:
            raise SystemExit("closed")
        got += b

def cmd(i, value=b"value"):
    key = b"key:%d" % i
    return b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value)

sys.stdin.readline()  # spanprobe is ready
c = socket.create_connection(lsn.getsockname())
s, _ = lsn.accept()
pipeline = b"".join(cmd(i) for i in range(1000))
segs = [cmd(i) for i in range(300)]
big = cmd(0, b"x" * 100000)
phases = [(len(pipeline), 1000), (sum(map(len, segs)), 300), (len(big), 1)]
threading.Thread(target=serve, args=(s, phases), daemon=True).start()
c.sendall(pipeline)
recv_ok(c, 1000)
sent = os.writev(c.fileno(), segs)
assert sent == sum(map(len, segs)), sent
recv_ok(c, 300)
c.sendall(big)
recv_ok(c, 1)
print(len(pipeline), sent, len(big), flush=True)
c.close()
s.close()
sys.stdin.readline()
'''

RECORD = re.compile(r"^sock (send|recv) .* len=(\d+) captured=(\d+) flags=\d+ "
                    r"127\.0\.0\.1:(\d+) (->|<-) 127\.0\.0\.1:(\d+)")


def main():
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    port = int(child.stdout.readline())
    agent = subprocess.Popen([SPANPROBE, "run", "-vvv", "-o", "otlp-json", "-p", str(child.pid)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines = []
    try:
        deadline = time.time() + 20
        line = ""
        while time.time() < deadline:
            line = agent.stderr.readline()
            err_lines.append(line)
            if "tracing HTTP of" in line or not line:
                break
        check("spanprobe started", agent.poll() is None, line)
        child.stdin.write("go\n")
        child.stdin.flush()
        sizes = child.stdout.readline().split()
        check("the child's traffic ran", len(sizes) == 3, sizes)
        time.sleep(1)
    finally:
        try:
            child.stdin.write("\n")
            child.stdin.flush()
        except BrokenPipeError:
            pass
        child.wait(timeout=10)
        agent.send_signal(signal.SIGINT)
        out, err = agent.communicate(timeout=30)
    sizes = [int(x) for x in sizes] if len(sizes) == 3 else [0, 0, 0]
    sends = []  # (total, captured) of the client's sends, in order
    recvs = []
    for ln in (err_lines + err.splitlines()):
        m = RECORD.match(ln.strip())
        if not m:
            continue
        d, total, cap, _, arrow, peer = m.groups()
        if int(peer) != port:
            continue  # the server's end
        (sends if d == "send" else recvs).append((int(total), int(cap)))
    check("every record carries at most 4096 bytes",
          all(c <= 4096 for _, c in sends + recvs), max(c for _, c in sends + recvs) if sends else 0)
    # The pipeline and the writev: every byte captured.
    want = sizes[0] + sizes[1]
    got_total = got_cap = 0
    i = 0
    while i < len(sends) and got_total < want:
        got_total += sends[i][0]
        got_cap += sends[i][1]
        i += 1
    check(f"the pipeline and the writev ({want} bytes): every byte captured",
          got_total == want and got_cap == want, (got_total, got_cap, sends[:i]))
    check("the writev's 300 segments and the pipeline took more than one record each",
          i >= 10 + 3, i)
    rest = sends[i:]
    big_total = sum(t for t, _ in rest)
    big_cap = sum(c for _, c in rest)
    check(f"the {sizes[2]}-byte command: all its bytes counted", big_total == sizes[2],
          (big_total, rest))
    check("the 100 KB command: 64 KiB of each call captured at most, the rest counted",
          65536 <= big_cap < big_total, big_cap)
    replies = sum(c for _, c in recvs)
    check("the replies (1,301 x +OK): every byte captured", replies == 1301 * 5, replies)
    spans = parse_otlp_json(out)
    client = [s for s in spans if s["kind"] == 3]
    names = {}
    for s in client:
        names[s["name"]] = names.get(s["name"], 0) + 1
    check("1,301 CLIENT spans, all SET", names == {"SET": 1301}, names)
    check("spanprobe exited cleanly", agent.returncode == 0, err[-2000:])
    finish()


if __name__ == "__main__":
    main()
