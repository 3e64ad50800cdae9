#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What node-wide tracing costs a Redis client under load: redis-server
(Debian's, no persistence) on loopback, driven by `redis-benchmark -t
get,set -n BENCH_REQUESTS -c BENCH_CLIENTS -q`, in short rounds
alternating without spanprobe and with `spanprobe run -o text
--output-file FILE`.  Prints min/median/max across rounds of SET and GET
requests/s and of each traced round's ratio to the untraced round just
before it, spanprobe's CPU per span (utime + stime from /proc/PID/stat;
the BPF programs run in the time of the processes they probe) and the
CLIENT spans written against the requests made.  A traced round with
fewer spans than half its requests fails the run (exit status 1): a
benchmark that traces nothing measures nothing.  Run as root.

Environment: SP_BUILD (build dir), BENCH_ROUNDS (5), BENCH_REQUESTS
(20000), BENCH_CLIENTS (50)."""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

from http_overhead import Daemon, counter, cpu_seconds, free_port, other_spanprobes, wait_port
from https_overhead import show

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import summary  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "20000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "50"))
RATE = re.compile(r"^(SET|GET): ([\d.]+) requests per second", re.M)


def start_redis(tmp):
    port = free_port()
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no", "--dir", tmp],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_port(port):
        p.kill()
        raise SystemExit("redis_bench: redis-server did not start")
    return p, port


def run_benchmark(port, daemon_pid=None):
    """One round: requests/s of SET and of GET, and the daemon's CPU
    seconds over it."""
    cpu0 = cpu_seconds(daemon_pid) if daemon_pid else 0
    # -q prints each rate on a line that \r-rewrites a progress line.
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "get,set", "-n",
                          str(REQUESTS), "-c", str(CLIENTS), "-q"],
                         capture_output=True, text=True).stdout.replace("\r", "\n")
    rates = {m.group(1): float(m.group(2)) for m in RATE.finditer(out)}
    if set(rates) != {"SET", "GET"}:
        raise SystemExit(f"redis_bench: redis-benchmark said:\n{out}")
    r = {"set": rates["SET"], "get": rates["GET"]}
    if daemon_pid:
        r["cpu"] = cpu_seconds(daemon_pid) - cpu0
    return r


def count_spans(path, port):
    """CLIENT spans of redis-benchmark's SET and GET to the server's port,
    and every Redis span of that port."""
    n = {"SET": 0, "GET": 0, "all": 0}
    with open(path, errors="replace") as f:
        for line in f:
            if " CLIENT " not in line or f"server.port={port} " not in line \
                    or 'db.system.name="redis"' not in line:
                continue
            n["all"] += 1
            m = re.search(r" CLIENT\s+(\S+) ", line)
            if m and m.group(1) in n:
                n[m.group(1)] += 1
    return n


def traced_round(port, tmp):
    spans = os.path.join(tmp, "spans.txt")
    d = Daemon(["-o", "text", "--output-file", spans], tmp)
    r = run_benchmark(port, d.proc.pid)
    err = d.stop()
    r.update(count_spans(spans, port))
    os.unlink(spans)
    r["cpu_per_span_us"] = 1e6 * r["cpu"] / max(1, r["all"])
    r["dropped"] = sum(max(0, counter(err, p)) for p in (
        r"dropped: (\d+) queue full", r"(\d+) span pool empty", r"events: (\d+) lost",
        r"(\d+) lost \(pool empty\)"))
    r["redis"] = next((line.removeprefix("spanprobe: ") for line in err.splitlines()
                       if line.startswith("redis:")), "")
    return r


def report(plain, traced):
    for name, rounds in (("untraced", plain), ("traced (spanprobe run, text to a file)", traced)):
        print(name)
        show("SET requests/s", [r["set"] for r in rounds], "")
        show("GET requests/s", [r["get"] for r in rounds], "")
    ratios = {k: [t[k] / p[k] for p, t in zip(plain, traced)] for k in ("set", "get")}
    show("SET requests/s traced/untraced", ratios["set"], "", "{:10.3f}")
    show("GET requests/s traced/untraced", ratios["get"], "", "{:10.3f}")
    show("spanprobe CPU per span", [r["cpu_per_span_us"] for r in traced], "us", "{:10.2f}")
    show("SET spans per SET request", [r["SET"] / REQUESTS for r in traced], "", "{:10.3f}")
    show("GET spans per GET request", [r["GET"] / REQUESTS for r in traced], "", "{:10.3f}")
    show("spans or events dropped", [r["dropped"] for r in traced], "", "{:10.0f}")
    print(f"  last round's {traced[-1]['redis']}")
    both = [(s + g) / 2 for s, g in zip(ratios["set"], ratios["get"])]
    summary.record("redis-benchmark SET+GET req/s, traced/untraced (median of rounds)",
                   f"{statistics.median(both):.3f} (min {min(both):.3f}, max {max(both):.3f})")
    summary.record("redis: spanprobe CPU per span (median)",
                   f"{statistics.median(r['cpu_per_span_us'] for r in traced):.2f} us")


def main():
    if os.geteuid() != 0:
        raise SystemExit("redis_bench: run as root (spanprobe loads BPF programs)")
    for tool in ("redis-server", "redis-benchmark"):
        if not shutil.which(tool):
            raise SystemExit(f"redis_bench: {tool} not found (Debian packages redis-server, "
                             "redis-tools)")
    tmp = tempfile.mkdtemp(prefix="sp-bench-redis-")
    server, port = start_redis(tmp)
    plain, traced, disturbed = [], [], 0
    try:
        print(f"Redis client overhead: redis-benchmark -t get,set -n {REQUESTS} -c {CLIENTS} "
              f"against redis-server on loopback, {ROUNDS} rounds, untraced and traced "
              f"alternating; load average before: {os.getloadavg()[0]:.2f}")
        for _ in range(ROUNDS):
            others = other_spanprobes()
            plain.append(run_benchmark(port))
            traced.append(traced_round(port, tmp))
            disturbed += bool(others or other_spanprobes())
        report(plain, traced)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if disturbed:
        print(f"note: another spanprobe ran in {disturbed} of {ROUNDS} rounds: its probes fire "
              "in the untraced runs too")
    short = [r for r in traced if r["SET"] + r["GET"] < REQUESTS]
    if short:
        print(f"redis_bench: {len(short)} traced round(s) with fewer spans than half the "
              "requests made")
        sys.exit(1)


if __name__ == "__main__":
    main()
