#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What the socket programs cost per call, as the kernel counts it
(kernel.bpf_stats_enabled: run time and run count per program), with
`spanprobe run` tracing every process (OTLP/JSON to /dev/null):
  HTTP           nginx (one worker) serving 13 bytes to wrk: every call
                 is on an HTTP connection (reads, writev, sendfile);
  TCP, not HTTP  write + read of 64 bytes on one loopback TCP connection
                 whose first bytes are a binary protocol (bench/tcp_echo);
  AF_UNIX        the same over a socketpair (the family check turns it away).
Each is measured alone, in rounds; prints min/median/max of ns per call
over the rounds.  Beside spanprobe, in the same rounds, the floor:
bench/bare.bpf.c's socket programs, which write one record of the size
of spanprobe's data record (without payload) per call on an IPv4/IPv6
socket and do nothing else (a ring-buffer reservation, the clock, the
task; drained every 10 ms by bench/bare_uprobe --sock); and programs that
read the socket once (ports and family) and stop: what turning a call
away costs at the least.  Those come after spanprobe's on the tracepoint,
and find the socket's lines in the cache spanprobe's first read brought
them into; one more copy of them, attached before spanprobe, pays that
first read's misses as spanprobe's own first read does.  The kernel's
count includes its own overhead of timing each run: an empty program
costs some 50-70 ns here.  Other socket traffic of the host in a window counts
too (a few calls against the tens of thousands each round makes).
Run as root.

Environment: SP_BUILD (build dir), BENCH_ROUNDS (5), BENCH_SECONDS (3),
BENCH_LOADS (which loads, e.g. "tcp,unix"; all three), BENCH_SPANPROBE_ARGS
(more arguments for spanprobe run, e.g. "--ringbuf-shared")."""
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_overhead as ho  # noqa: E402  (nginx, wrk and the daemon)
import summary  # noqa: E402

BUILD = os.environ.get("SP_BUILD", "build")
ECHO = os.path.join(BUILD, "bench", "tcp_echo")
BARE = os.path.join(BUILD, "bench", "bare_uprobe")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "3"))
PROGS = ("sp_sock_send", "sp_sock_recv")
BARE_PROGS = ("bare_sock_send", "bare_sock_recv")
READ_PROGS = ("bare_read_send", "bare_read_recv")
STATS = "/proc/sys/kernel/bpf_stats_enabled"
TARGETS = {"http": 500.0, "tcp": 100.0}


def prog_ids(pid):
    """IDs of the BPF programs `pid` holds, from its descriptors' fdinfo
    (bpftool's per-program PIDs need a feature Debian's lacks)."""
    ids = set()
    fd_dir = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fd_dir):
        try:
            with open(os.path.join(fd_dir, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            continue
    return ids


def prog_stats(pid, names=PROGS):
    """{name: (run_time_ns, run_cnt)} of the programs `names` `pid` holds."""
    ids = prog_ids(pid)
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                         text=True, check=True).stdout
    got = {}
    for p in json.loads(out):
        if p.get("name") in names and p.get("id") in ids:
            got[p["name"]] = (p.get("run_time_ns", 0), p.get("run_cnt", 0))
    if set(got) != set(names):
        raise SystemExit(f"bpf_cost: programs {names} of process {pid} not found "
                         f"(found {sorted(got)})")
    return got


def per_call(before, after, names=PROGS):
    """ns per call of each program between two snapshots, and of all."""
    res = {}
    for name in names:
        t = after[name][0] - before[name][0]
        n = after[name][1] - before[name][1]
        res[name] = (t / n if n else 0.0, n)
    t = sum(after[k][0] - before[k][0] for k in names)
    n = sum(after[k][1] - before[k][1] for k in names)
    res["all"] = (t / n if n else 0.0, n)
    return res


def start_bare(seconds, mode="--sock"):
    p = subprocess.Popen([BARE, mode, str(seconds)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    if p.stdout.readline().strip() != "ready":
        raise SystemExit("bpf_cost: bench/bare_uprobe --sock did not start")
    return p


def stop(proc):
    """Stop a floor's loader, if it started."""
    if proc:
        proc.kill()
        proc.wait()


def http_load(port):
    subprocess.run(["wrk", "-t1", "-c16", f"-d{SECONDS}s", f"http://127.0.0.1:{port}/index.html"],
                   capture_output=True, check=True)


def echo_load(kind):
    subprocess.run([ECHO, kind, str(SECONDS)], capture_output=True, check=True)


def show(label, values, calls):
    print(f"  {label:28s} min {min(values):8.0f}  median {statistics.median(values):8.0f}  "
          f"max {max(values):8.0f}  ns per call  ({int(statistics.median(calls))} calls a round)")


def main():
    if os.geteuid() != 0:
        raise SystemExit("bpf_cost: run as root (spanprobe loads BPF programs)")
    with open(STATS) as f:
        old = f.read().strip()
    tmp = tempfile.mkdtemp(prefix="sp-bench-bpfcost-")
    nginx, port = ho.start_nginx(tmp)
    loads = (("http", "HTTP (nginx + wrk)", lambda: http_load(port)),
             ("tcp", "TCP, not HTTP", lambda: echo_load("tcp")),
             ("unix", "AF_UNIX", lambda: echo_load("unix")))
    only = os.environ.get("BENCH_LOADS")
    if only:
        loads = tuple(x for x in loads if x[0] in only.split(","))
    got = {k: [] for k, _, _ in loads}
    floor = {k: [] for k, _, _ in loads}
    reads = {k: [] for k, _, _ in loads}
    first = {k: [] for k, _, _ in loads}
    bare = lead = None
    seconds = ROUNDS * len(loads) * (SECONDS + 3) + 60
    try:
        with open(STATS, "w") as f:
            f.write("1")
        lead = start_bare(seconds, "--sock-read")
        extra = os.environ.get("BENCH_SPANPROBE_ARGS", "").split()
        d = ho.Daemon(["-o", "otlp-json", "--output-file", "/dev/null"] + extra, tmp)
        try:
            bare = start_bare(seconds)
            for _ in range(ROUNDS):
                for key, _, run in loads:
                    before = prog_stats(d.proc.pid)
                    bare0 = prog_stats(bare.pid, BARE_PROGS)
                    read0 = prog_stats(bare.pid, READ_PROGS)
                    lead0 = prog_stats(lead.pid, READ_PROGS)
                    run()
                    got[key].append(per_call(before, prog_stats(d.proc.pid)))
                    floor[key].append(per_call(bare0, prog_stats(bare.pid, BARE_PROGS),
                                               BARE_PROGS))
                    reads[key].append(per_call(read0, prog_stats(bare.pid, READ_PROGS),
                                               READ_PROGS))
                    first[key].append(per_call(lead0, prog_stats(lead.pid, READ_PROGS),
                                               READ_PROGS))
        finally:
            d.stop()
            stop(bare)
    finally:
        stop(lead)
        with open(STATS, "w") as f:
            f.write(old)
        nginx.terminate()
        nginx.wait()
    print(f"socket programs, ns per call (bpf_stats), {ROUNDS} rounds of {SECONDS} s:")
    for key, label, _ in loads:
        for prog in ("all",) + PROGS:
            show(f"{label}, {prog}", [r[prog][0] for r in got[key]],
                 [r[prog][1] for r in got[key]])
        show(f"{label}, floor (bare record)", [r["all"][0] for r in floor[key]],
             [r["all"][1] for r in floor[key]])
        show(f"{label}, one read, nothing else", [r["all"][0] for r in reads[key]],
             [r["all"][1] for r in reads[key]])
        show(f"{label}, one read, first in line", [r["all"][0] for r in first[key]],
             [r["all"][1] for r in first[key]])
    for key, label in (("http", "HTTP connection"), ("tcp", "TCP connection, not HTTP")):
        if not got.get(key):
            continue
        med = statistics.median(r["all"][0] for r in got[key])
        summary.record(f"BPF cost per socket call, {label}", f"{med:.0f} ns",
                       f"<= {TARGETS[key]:.0f} ns", med <= TARGETS[key])
        bare_med = statistics.median(r["all"][0] for r in floor[key])
        summary.record(f"  the floor in the same rounds (one bare record a call)",
                       f"{bare_med:.0f} ns")
        read_med = statistics.median(r["all"][0] for r in reads[key])
        summary.record(f"  a program that reads the socket once, same rounds",
                       f"{read_med:.0f} ns")
        first_med = statistics.median(r["all"][0] for r in first[key])
        summary.record(f"  the same, attached before spanprobe (first in line)",
                       f"{first_med:.0f} ns")
    if got.get("unix"):
        med = statistics.median(r["all"][0] for r in got["unix"])
        summary.record("BPF cost per socket call, AF_UNIX", f"{med:.0f} ns")


if __name__ == "__main__":
    main()
