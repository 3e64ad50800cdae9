#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`spanprobe run -v` accounts for its memory: at start one line per large
allocation with its size and the setting that sizes it (the defaults, and
settings given on the command line), the ring buffer mapped twice into the
process as the line says; on exit what is resident and the span pool's
peak, which follows the spans actually used."""
import os
import re
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, require_root  # noqa: E402

require_root()

READY = "tracing HTTP of every process"
LINES = ("ring buffer", "bpf maps, total", "span pool", "batch queue", "thread table",
         "process table", "connections", "http/2, each", "database, each", "export buffers",
         "thread stacks", "allocator")


def start_server():
    p = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1",
                          "-d", os.path.dirname(__file__)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env=dict(os.environ, PYTHONUNBUFFERED="1"))
    line = ""
    if select.select([p.stdout], [], [], 20)[0]:
        line = p.stdout.readline()
    if not check("a python3 http.server started and said its port", " port " in line,
                 repr(line)):
        p.kill()
        finish()
    return p, int(line.split(" port ")[1].split()[0])


def memory_lines(err):
    """{what: (size in bytes, the rest of the line)} of the start-up lines."""
    out = {}
    for m in re.finditer(r"spanprobe: memory: (.{18}) +(?:([\d.]+) (KiB|MiB)|-)  (.*)", err):
        size = float(m.group(2) or 0) * (1 << (20 if m.group(3) == "MiB" else 10))
        out.setdefault(m.group(1).strip(), (size, m.group(4)))
    return out


def ring_mapping_kib(pid, ring_bytes):
    """Sizes (KiB) of the process's BPF map mappings: the ring buffer's is
    its producer page and its data twice."""
    sizes = []
    with open(f"/proc/{pid}/smaps") as f:
        name = None
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                name = line.split()[-1]
            elif line.startswith("Size:") and name == "anon_inode:bpf-map":
                sizes.append(int(line.split()[1]))
    return sizes


def ring_layout(line):
    """(rings, KiB each) from the ring buffer's line: one per CPU, or one."""
    m = re.search(r"one per CPU: (\d+) of (\d+) KiB", line)
    if m:
        return int(m.group(1)), int(m.group(2))
    return 1, None


def possible_cpus():
    """CPUs the kernel may ever bring up (a ring buffer each): "0-3,8"."""
    with open("/sys/devices/system/cpu/possible") as f:
        n = 0
        for part in f.read().strip().split(","):
            lo, _, hi = part.partition("-")
            n += int(hi or lo) - int(lo) + 1
    return n


def check_mapped(what, line, total_kib, maps):
    """Each ring buffer mapped as its data twice and a page; together, the
    total the line says; one per CPU unless shared."""
    rings, each = ring_layout(line)
    if each is None:
        each = total_kib
    want = [each * 2 + 4] * rings
    got = sorted(k for k in maps if k > 4)
    check(what, got == want and rings * each == total_kib, (rings, each, got))


def traced(args, traffic=None):
    agent = subprocess.Popen([SPANPROBE, "run", "-v", "-o", "otlp-json", "--output-file",
                              "/dev/null"] + args,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = ""
    deadline = time.time() + 30
    while time.time() < deadline:
        line = agent.stderr.readline()
        err += line
        if READY in line or not line:
            break
    maps = ring_mapping_kib(agent.pid, 0) if agent.poll() is None else []
    if traffic:
        traffic()
        time.sleep(1.0)
    agent.send_signal(signal.SIGINT)
    rest = agent.communicate(timeout=30)[1]
    return agent.returncode, err, rest, maps


def main():
    server, port = start_server()
    try:
        rc, err, rest, maps = traced(["--port", str(port)])
        got = memory_lines(err)
        check("-v: a memory line for every large allocation, before ready",
              rc == 0 and all(k in got for k in LINES), sorted(got))
        ring = got.get("ring buffer", (0, ""))
        check("default ring buffer: 4 MiB, by --ringbuf-size, counted twice in RSS",
              ring[0] == 4 << 20 and "--ringbuf-size" in ring[1]
              and "RSS counts 8 MiB" in ring[1], ring)
        check("the kernel's own figure of all BPF maps holds the ring buffer",
              got.get("bpf maps, total", (0,))[0] >= 4 << 20, got.get("bpf maps, total"))
        check("default: one ring buffer per possible CPU, up to 16",
              ring_layout(ring[1])[0] == min(possible_cpus(), 16), (ring, possible_cpus()))
        check_mapped("the ring buffers are mapped twice (4 MiB in all, data twice and a page)",
                     ring[1], 4 * 1024, maps)
        pool = got.get("span pool", (0, ""))
        check("default span pool: 16384 spans, by --span-pool",
              "16384 spans of" in pool[1] and "--span-pool" in pool[1], pool)

        def traffic():
            for i in range(3):
                subprocess.run(["curl", "-s", "-o", "/dev/null",
                                f"http://127.0.0.1:{port}/m/{i}"], check=True)

        rc, err, rest, maps = traced(["--port", str(port), "--ringbuf-size", "1048576",
                                      "--span-pool", "1000", "--max-connections", "512"],
                                     traffic)
        got = memory_lines(err)
        ring = got.get("ring buffer", (0, ""))
        check("--ringbuf-size 1048576: the line says 1 MiB, 2 MiB of RSS",
              rc == 0 and ring[0] == 1 << 20 and "RSS counts 2 MiB" in ring[1], ring)
        check_mapped("--ringbuf-size 1048576: 1 MiB in all mapped twice and a page",
                     ring[1], 1024, maps)
        check("--span-pool 1000: the line says 1000 spans",
              "1000 spans of" in got.get("span pool", (0, ""))[1], got.get("span pool"))
        conns = got.get("connections", (0, ""))
        check("--max-connections 512: the line says 512 connections",
              "at most 512 connections of" in conns[1], conns)
        m = re.findall(r"spanprobe: memory: RSS (\d+) KiB .*peak (\d+) KiB; "
                       r"span pool (\d+) in use, peak (\d+) of (\d+)", rest)
        check("on exit: RSS and the span pool's use", bool(m), rest)
        if m:
            rss, hwm, in_use, peak, size = map(int, m[-1])
            check("on exit: RSS under its peak, above the ring buffer's mapping",
                  2048 < rss <= hwm, (rss, hwm))
            # A request's client and server spans are open at once.
            check("the spans of 3 requests came from the pool, all given back",
                  in_use == 0 and 2 <= peak <= size == 1000, (in_use, peak, size))
        rc, err, rest, maps = traced(["--port", str(port), "--ringbuf-shared"])
        ring = memory_lines(err).get("ring buffer", (0, ""))
        check("--ringbuf-shared: one ring buffer of 4 MiB for all CPUs",
              rc == 0 and ring[0] == 4 << 20 and "one for all" in ring[1], ring)
        check_mapped("--ringbuf-shared: mapped as 4 MiB twice and a page", ring[1],
                     4 * 1024, maps)
    finally:
        server.kill()
        server.wait()


main()
finish()
