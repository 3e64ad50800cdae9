#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The node-wide tax of `spanprobe run` on a process that speaks no HTTP:
ns per getppid, per pipe write+read, per AF_UNIX and per loopback TCP
write+read (bench/syscall_tax.c), in rounds alternating without and with
spanprobe running (OTLP/JSON to /dev/null).  Prints min/median/max of the
runs and the difference of the medians.  Run as root.

Also prints, per operation, the ratio with/without of each pair of runs
(min/median/max): the figure that still means something where absolute
times do not (an emulated CPU, bench/kernels.py).

Environment: SP_BUILD (build dir), BENCH_RUNS (7), BENCH_SPANPROBE_ARGS (more
options for `spanprobe run`, e.g. "--http-hooks syscalls"), BENCH_ITERATIONS
(getppid calls per run, a tenth of that per write+read; 1000000)."""
import os
import signal
import statistics
import subprocess
import sys
import time

BUILD = os.environ.get("SP_BUILD", "build")
SPANPROBE = os.path.join(BUILD, "spanprobe")
PROG = os.path.join(BUILD, "bench", "syscall_tax")
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
EXTRA_ARGS = os.environ.get("BENCH_SPANPROBE_ARGS", "").split()
ITERATIONS = os.environ.get("BENCH_ITERATIONS", "1000000")
READY_LINE = "tracing HTTP of every process on this host"
OPS = (("getppid_ns", "getppid (no socket)"), ("pipe_ns", "pipe write+read (no socket)"),
       ("unix_ns", "AF_UNIX socketpair write+read"), ("tcp_ns", "loopback TCP write+read"))


def measure():
    out = subprocess.run([PROG, ITERATIONS], capture_output=True, text=True,
                         check=True).stdout
    return {k: float(v) for k, v in (line.split() for line in out.splitlines())}


def start_spanprobe():
    p = subprocess.Popen([SPANPROBE, "run", "-v", "-o", "otlp-json", "--output-file",
                          "/dev/null", *EXTRA_ARGS], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    for line in p.stderr:
        if READY_LINE in line:
            return p
        if time.monotonic() > deadline:
            break
    p.kill()
    raise SystemExit("spanprobe did not start")


def stop_spanprobe(p):
    p.send_signal(signal.SIGTERM)
    p.stderr.read()  # periodic counters; keeps the pipe from filling
    if p.wait(timeout=60) != 0:
        raise SystemExit("spanprobe failed")


def show(label, values):
    print(f"  {label:34s} min {min(values):8.1f}  median {statistics.median(values):8.1f}  "
          f"max {max(values):8.1f} ns")


def main():
    if os.geteuid() != 0:
        raise SystemExit("syscall_tax: run as root (spanprobe loads BPF programs)")
    plain, traced = [], []
    for _ in range(RUNS):
        plain.append(measure())
        p = start_spanprobe()
        try:
            traced.append(measure())
        finally:
            stop_spanprobe(p)
    print(f"node-wide tax on a process without HTTP, {RUNS} runs each, alternating; "
          f"load average before the last run: {os.getloadavg()[0]:.2f}")
    for key, label in OPS:
        print(label)
        show("without spanprobe", [r[key] for r in plain])
        show("with spanprobe run", [r[key] for r in traced])
        a = statistics.median(r[key] for r in plain)
        b = statistics.median(r[key] for r in traced)
        print(f"  {'added (median - median)':34s} {b - a:+.1f} ns ({100 * (b - a) / a:+.1f}%)")
        # The best runs are the least disturbed by other work on the host.
        a = min(r[key] for r in plain)
        b = min(r[key] for r in traced)
        print(f"  {'added (min - min)':34s} {b - a:+.1f} ns ({100 * (b - a) / a:+.1f}%)")
        # Each traced run against the plain run just before it.
        ratios = [t[key] / p[key] for p, t in zip(plain, traced)]
        print(f"  {'ratio with/without (paired runs)':34s} min {min(ratios):8.3f}  "
              f"median {statistics.median(ratios):8.3f}  max {max(ratios):8.3f}")


if __name__ == "__main__":
    sys.exit(main())
