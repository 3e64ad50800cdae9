#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""How spanprobe's cost grows with what it tracks, at a fixed total rate
of spans: three tables, one row per size, each size run once per round
(the sizes alternate within a round), min/median/max over the rounds.

- connections: nginx (one worker) and bench/growth_load holding N
  keep-alive connections to it, requests spread round-robin over all of
  them, both traced (`spanprobe trace -o otlp-json --output-file
  /dev/null` of a shell that starts them: the capture, decoders, assembly
  and export of `spanprobe run`, with the kernel side keeping to that
  process tree, so that other traffic on a shared host does not count;
  GROWTH_NODE_WIDE=1 runs `spanprobe run` instead);
- processes: the same with N client processes holding 500 connections in
  all (so the table shows what a process costs, apart from what a
  connection does);
- symbols: `spanprobe trace --no-http -u fn00 ... -u fn77` over
  tests/programs/calls64, calls spread over the N traced functions.

Columns: the daemon's CPU per span (user+system run time of all its
threads, read from /proc/PID/task/*/schedstat: the time /proc/PID/stat's
utime+stime count, in nanoseconds instead of clock ticks) over the spans
it exported while the load ran (its metrics endpoint's count), VmRSS
once the load ended, VmHWM, spans/s and the OTLP/JSON bytes encoded per
span; then the ratio largest size / smallest of the medians.  Every
connection carries one request before the measured part starts, and the
load runs once unmeasured, so the tables show the steady cost of holding
N, not the first sight of each.
Run as root.

Environment: SP_BUILD (build dir), GROWTH_ROUNDS (3), GROWTH_SECONDS (1.5),
GROWTH_RATE (HTTP requests/s, 3000), GROWTH_CALL_RATE (calls/s, 20000)."""
import glob
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import summary  # noqa: E402
from http_overhead import free_port, status_kib  # noqa: E402

BUILD = os.environ.get("SP_BUILD", "build")
SPANPROBE = os.path.join(BUILD, "spanprobe")
LOAD = os.path.join(BUILD, "bench", "growth_load")
CALLS = os.path.join(BUILD, "tests", "programs", "calls64")
ROUNDS = int(os.environ.get("GROWTH_ROUNDS", "3"))
SECONDS = float(os.environ.get("GROWTH_SECONDS", "1.5"))
RATE = int(os.environ.get("GROWTH_RATE", "3000"))
CALL_RATE = int(os.environ.get("GROWTH_CALL_RATE", "20000"))
NODE_WIDE = os.environ.get("GROWTH_NODE_WIDE") == "1"
CONNECTIONS = (10, 100, 1000, 10000)
PROCESSES = (1, 10, 100, 500)
PROCESS_CONNECTIONS = 500
SYMBOLS = (1, 8, 32, 64)
# Both ends of a connection are on this host and traced: two table entries.
MAX_CONNECTIONS = 32768
READY_LINE = "tracing HTTP of every process on this host"
DRAIN = 0.4  # s after the load for the last batch (OTEL_BSP_SCHEDULE_DELAY)
# CPU per span may move this much from the smallest size to the largest
# and still count as flat: rounds on this shared 2-core machine differ by
# about as much.
FLAT = 1.25
# RSS with nothing allocated per item: within the noise of malloc's arenas.
RSS_FLAT = 1.10
ENV = dict(os.environ, OTEL_BSP_SCHEDULE_DELAY="100", OTEL_BSP_MAX_QUEUE_SIZE="16384")

NGINX_CONF = """
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ return 200 "hello, bench\\n"; }}
    }}
}}
"""


def cpu_ns(pid):
    """Run time of every thread of `pid`, in ns."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError):
            pass  # a thread that just ended
    return total


def counter(text, pattern):
    """The last report's figure: with -v the daemon reports while it runs too."""
    found = re.findall(pattern, text)
    return int(found[-1]) if found else 0


def dropped(report):
    return sum(counter(report, p) for p in (
        r"dropped: (\d+) queue full", r"(\d+) span pool empty", r"events: (\d+) lost",
        r"(\d+) lost \(pool empty\)", r"(\d+) evicted"))


def bytes_per_span(report):
    """OTLP bytes encoded per span exported, over the whole run."""
    spans = counter(report, r"spans: \d+ started, \d+ finished, (\d+) exported")
    return counter(report, r"(\d+) bytes encoded") / max(spans, 1)


def read_line(proc, prefix, what):
    line = proc.stdout.readline()
    if not line.startswith(prefix):
        proc.kill()
        raise SystemExit(f"growth: {what} said {line!r}, not {prefix!r}")
    return line


class Daemon:
    """A spanprobe process and its stderr (the exit report)."""

    def __init__(self, argv, tmp, **popen):
        self.log = os.path.join(tmp, "spanprobe.err")
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen([SPANPROBE, *argv], stderr=err, env=ENV, **popen)

    def stderr(self):
        with open(self.log) as f:
            return f.read()

    def wait_ready(self):
        deadline = time.monotonic() + 30
        while READY_LINE not in self.stderr():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"growth: spanprobe did not start:\n{self.stderr()}")
            time.sleep(0.05)

    def sample(self):
        pid = self.proc.pid
        return cpu_ns(pid), status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM")

    def finish(self, stop=True):
        if stop:
            self.proc.send_signal(signal.SIGTERM)
        if self.proc.wait(timeout=60) != 0:
            raise SystemExit(f"growth: spanprobe failed:\n{self.stderr()}")
        return self.stderr()


def nginx_argv(tmp, port):
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=tmp, port=port))
    return [shutil.which("nginx") or "/usr/sbin/nginx", "-p", tmp, "-c", conf,
            "-e", os.path.join(tmp, "error.log")]


def exported_now(metrics_port):
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    for attempt in range(3):
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                text = r.read().decode()
            return counter(text, r"(?m)^spanprobe_spans_exported_total (\d+)")
        except OSError as e:
            error = e
            time.sleep(0.2)
    raise SystemExit(f"growth: no metrics from spanprobe: {error}")


def settled(mport, target):
    """The exported count once `target` spans have left and no more come
    (the warm-up's: one request per connection, a client and a server span
    each; or those of the measured part).  Node-wide, other traffic keeps
    coming: reaching the target is enough.  After 10 s, what there is."""
    deadline = time.monotonic() + 10
    last = -1
    while time.monotonic() < deadline:
        now = exported_now(mport)
        if now >= target and (now == last or NODE_WIDE):
            return now
        last = now
        time.sleep(0.25)
    print(f"growth: {last} spans exported, not {target} (see the dropped column)",
          file=sys.stderr)
    return last


def start_http(procs, conns, tmp):
    """spanprobe and the load; returns (daemon, load process, metrics port, stop).
    Node-wide: `spanprobe run` beside nginx.  Otherwise `spanprobe trace` of
    a shell that starts nginx and runs the load: the same capture, decoders,
    assembly and export, with the kernel side keeping to that process tree
    (on a shared host, node-wide capture counts everyone's requests)."""
    mport, port = free_port(), free_port()
    common = ["-o", "otlp-json", "--output-file", "/dev/null",
              "--max-connections", str(MAX_CONNECTIONS),
              "--metrics-address", f"127.0.0.1:{mport}"]
    load_argv = [LOAD, str(port), str(procs), str(conns), str(RATE), str(SECONDS)]
    pipes = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if NODE_WIDE:
        nginx = subprocess.Popen(nginx_argv(tmp, port), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        d = Daemon(["run", "-v", *common], tmp)
        d.wait_ready()
        load = subprocess.Popen(load_argv, **pipes)

        def stop():
            load.stdin.close()
            load.wait(timeout=60)
            nginx.terminate()
            nginx.wait()
            return d.finish()
        return d, load, mport, stop
    script = '"$@" & exec ' + " ".join(shlex.quote(a) for a in load_argv)
    d = Daemon(["trace", "-v", *common, "--", "/bin/sh", "-c", script, "sh",
                *nginx_argv(tmp, port)], tmp, **pipes)

    def stop():
        d.proc.stdin.close()
        try:
            with open(os.path.join(tmp, "nginx.pid")) as f:
                os.kill(int(f.read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        return d.finish(stop=False)
    return d, d.proc, mport, stop


def measure(d, prog, what, unit):
    """Start the measured part of `prog` (a line on its stdin), wait for
    its count of `unit`; returns (count, seconds, daemon CPU ns before)."""
    cpu0 = d.sample()[0]
    t0 = time.monotonic()
    prog.stdin.write("\n")
    prog.stdin.flush()
    count = int(read_line(prog, unit + " ", what).split()[1])
    return count, time.monotonic() - t0, cpu0


def result(cpu0, spans, wall, expected, report, after):
    """One row of a table; `after` is d.sample() once the spans left."""
    cpu1, rss, hwm = after
    return {"cpu_us": (cpu1 - cpu0) / 1e3 / max(spans, 1), "rss": rss / 1024,
            "hwm": hwm / 1024, "rate": spans / wall, "spans": spans,
            "expected": expected, "dropped": dropped(report),
            "bytes": bytes_per_span(report),
            "map_full": counter(report, r"(\d+) BPF map updates failed")}


def http_point(procs, conns, tmp):
    """One HTTP measurement: PROCS clients, CONNS connections."""
    d, load, mport, stop = start_http(procs, conns, tmp)
    try:
        read_line(load, "ready", "growth_load")
        spans0 = settled(mport, 2 * conns)
        # A run not measured: the daemon's steady state (its span pool's
        # pages touched up to the peak a batch interval holds, the caches
        # and allocator warm) instead of the first second of the load.
        requests = measure(d, load, "growth_load", "requests")[0]
        spans0 = settled(mport, spans0 + 2 * requests)
        requests, wall, cpu0 = measure(d, load, "growth_load", "requests")
        spans1 = settled(mport, spans0 + 2 * requests)
        after = d.sample()
    finally:
        report = stop()
    return result(cpu0, spans1 - spans0, wall, 2 * requests, report, after)


def symbols_point(n, tmp):
    """One function-span measurement: calls64 traced on its first N functions."""
    argv = ["trace", "--no-http", "-o", "otlp-json", "--output-file", "/dev/null"]
    for i in range(n):
        argv += ["-u", f"fn{i // 8}{i % 8}"]  # calls64's names: two octal digits
    d = Daemon(argv + ["--", CALLS, str(n), str(CALL_RATE), str(SECONDS)], tmp,
               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    read_line(d.proc, "ready", "calls64")
    calls, wall, cpu0 = measure(d, d.proc, "calls64", "calls")
    time.sleep(DRAIN)  # the spans of the last calls leave
    after = d.sample()
    d.proc.stdin.close()
    report = d.finish(stop=False)
    spans = counter(report, r"spans: \d+ started, \d+ finished, (\d+) exported")
    return result(cpu0, spans, wall, calls, report, after)


COLUMNS = (("cpu_us", "CPU/span us", "{:.2f}"), ("rss", "VmRSS MiB", "{:.1f}"),
           ("hwm", "VmHWM MiB", "{:.1f}"), ("rate", "spans/s", "{:.0f}"),
           ("bytes", "OTLP bytes/span", "{:.0f}"))


def mmm(values, fmt):
    return "/".join(fmt.format(v) for v in (min(values), statistics.median(values),
                                            max(values)))


def table(title, unit, sizes, rows):
    """Print one table; returns {column: median of largest / median of smallest}."""
    print(f"{title} (min/median/max of {ROUNDS} rounds)")
    head = f"  {unit:>8s}" + "".join(f"  {label:>22s}" for _, label, _ in COLUMNS)
    print(head + "  spans (expected)  dropped")
    for size in sizes:
        rs = rows[size]
        line = f"  {size:8d}" + "".join(f"  {mmm([r[k] for r in rs], fmt):>22s}"
                                        for k, _, fmt in COLUMNS)
        spans = statistics.median(r["spans"] for r in rs)
        expected = statistics.median(r["expected"] for r in rs)
        line += f"  {spans:7.0f} ({expected:.0f})  {sum(r['dropped'] for r in rs)}"
        print(line)
    ratios = {}
    for key, label, _ in COLUMNS:
        lo = statistics.median(r[key] for r in rows[sizes[0]])
        hi = statistics.median(r[key] for r in rows[sizes[-1]])
        ratios[key] = hi / lo if lo else float("inf")
    full = [(size, max(r.get("map_full", 0) for r in rows[size])) for size in sizes]
    for size, n in full:
        if n:
            print(f"  {size}: {n} sockets found the kernel's verdict map full "
                  "(judged per call instead)")
    print("  ratio {}/{}: ".format(sizes[-1], sizes[0]) +
          ", ".join(f"{label} {ratios[key]:.2f}x" for key, label, _ in COLUMNS))
    return ratios


def record(dimension, sizes, ratios, rows, rss_flat):
    """The summary lines of one table.  RSS has a target where nothing is
    allocated per item (processes, functions); per connection the decoder
    keeps state by design, so that line shows its cost per connection."""
    span = f"{dimension} {sizes[0]:,}->{sizes[-1]:,}"
    summary.record(f"CPU per span growth, {span}", f"{ratios['cpu_us']:.2f}x",
                   f"flat (<= {FLAT:.2f}x)", ratios["cpu_us"] <= FLAT)
    lo = statistics.median(r["rss"] for r in rows[sizes[0]])
    hi = statistics.median(r["rss"] for r in rows[sizes[-1]])
    if rss_flat:
        summary.record(f"RSS growth, {span}", f"{hi / lo:.2f}x ({lo:.0f} -> {hi:.0f} MiB)",
                       f"flat (<= {RSS_FLAT:.2f}x)", hi / lo <= RSS_FLAT)
    else:
        per = (hi - lo) * 1024 / (sizes[-1] - sizes[0])
        summary.record(f"RSS, {span}", f"{lo:.0f} -> {hi:.0f} MiB, {per:.1f} KiB each")


def main():
    if os.geteuid() != 0:
        raise SystemExit("growth: run as root (spanprobe loads BPF programs)")
    for path in (SPANPROBE, LOAD, CALLS):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"growth: {path} is missing (make bench-growth builds it)")
    tmp = tempfile.mkdtemp(prefix="sp-bench-growth-")
    conns = {n: [] for n in CONNECTIONS}
    procs = {n: [] for n in PROCESSES}
    syms = {n: [] for n in SYMBOLS}
    try:
        print(f"cost growth: {RATE} HTTP requests/s (2 spans each) over N connections or "
              f"processes to nginx, {CALL_RATE} calls/s over N traced functions; "
              f"{ROUNDS} rounds of {SECONDS:g} s per size, sizes alternating; "
              f"load average before: {os.getloadavg()[0]:.2f}")
        for _ in range(ROUNDS):
            for n in CONNECTIONS:
                conns[n].append(http_point(1, n, tmp))
            for n in PROCESSES:
                procs[n].append(http_point(n, PROCESS_CONNECTIONS, tmp))
            for n in SYMBOLS:
                syms[n].append(symbols_point(n, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    record("connections", CONNECTIONS,
           table("keep-alive connections (one client process)", "conns", CONNECTIONS, conns),
           conns, False)
    record("processes", PROCESSES,
           table(f"client processes ({PROCESS_CONNECTIONS} connections in all)", "procs",
                 PROCESSES, procs), procs, True)
    record("symbols", SYMBOLS, table("traced functions", "symbols", SYMBOLS, syms), syms,
           True)


if __name__ == "__main__":
    sys.exit(main())
