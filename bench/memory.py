#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The daemon's memory against load: `spanprobe run -v` with its default
settings, exporting OTLP (HTTP/2, gzip: the default export path) to the
local sink bench/otlp_sink, while bench/memload makes real traced HTTP/1.1
traffic (both ends in one process, keep-alive, two spans per request) at
1k, 10k and 100k spans/s, the rates alternating in every round.

For each rate, min/median/max over the rounds of: RSS when ready (VmRSS
after the start-up line), the start-up peak (VmHWM then: libbpf parses the
kernel's BTF while loading), steady RSS (the median of VmRSS samples over
the second half of the load), the peak under load (VmHWM, reset through
/proc/PID/clear_refs once ready), the spans/s memload reached and the
spans/s the daemon started (other HTTP on this host is traced too), the
span pool's peak, ring-buffer records lost and spans dropped.

Then, unless BENCH_SWEEP=0, the ring buffer's size against loss: memload
as fast as it goes, for ring buffers of 1 to 8 MiB.

Environment: SP_BUILD (build dir), BENCH_ROUNDS (3), BENCH_SECONDS (5),
BENCH_SWEEP (1), BENCH_SWEEP_ROUNDS (2), BENCH_SPANPROBE_ARGS (more
arguments for spanprobe run, e.g. "--ringbuf-shared").  About two
minutes.  Run as root."""
import os
import re
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import summary  # noqa: E402

BUILD = os.environ.get("SP_BUILD", "build")
SPANPROBE = os.path.join(BUILD, "spanprobe")
MEMLOAD = os.path.join(BUILD, "bench", "memload")
SINK = os.path.join(BUILD, "bench", "otlp_sink")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
SWEEP = os.environ.get("BENCH_SWEEP", "1") != "0"
SWEEP_ROUNDS = int(os.environ.get("BENCH_SWEEP_ROUNDS", "2"))
RATES = (1000, 10000, 100000)   # spans/s: two per request
EXTRA = os.environ.get("BENCH_SPANPROBE_ARGS", "").split()
SWEEP_SIZES = (1 << 20, 2 << 20, 4 << 20, 8 << 20)
READY_LINE = "tracing HTTP of every process on this host"
TARGET_MIB = 32
CONNS, THREADS = 16, 2


def status_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0])
    return out


def counter(text, pattern):
    found = re.findall(pattern, text)
    return int(found[-1]) if found else 0


def start_sink():
    p = subprocess.Popen([SINK, "-t", "3600"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    if len(line) != 2 or line[0] != "listening":
        p.kill()
        raise SystemExit("memory: the OTLP sink did not start")
    return p, int(line[1])


class Daemon:
    def __init__(self, sink_port, extra=()):
        self.log = f"/tmp/sp-bench-memory-{os.getpid()}.err"
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen(
                [SPANPROBE, "run", "-v", "-o", "otlp", "--otlp-endpoint",
                 f"http://127.0.0.1:{sink_port}", *EXTRA, *extra],
                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 30
        while READY_LINE not in self.stderr():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"memory: spanprobe did not start:\n{self.stderr()}")
            time.sleep(0.05)
        st = status_kib(self.proc.pid)
        self.ready_kib, self.start_hwm_kib = st["VmRSS"], st["VmHWM"]
        with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
            f.write("5")  # VmHWM from here: the peak under load

    def stderr(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        if self.proc.wait(timeout=60) != 0:
            raise SystemExit(f"memory: spanprobe failed:\n{self.stderr()}")
        text = self.stderr()
        os.unlink(self.log)
        return text


def load_round(sink_port, spans_per_s, extra=(), seconds=SECONDS):
    d = Daemon(sink_port, extra)
    args = [MEMLOAD, "-t", str(seconds), "-c", str(CONNS), "-j", str(THREADS)]
    if spans_per_s:
        args += ["-r", str(spans_per_s / 2)]
    t0 = time.monotonic()
    load = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    samples = []
    while load.poll() is None:
        time.sleep(0.25)
        if time.monotonic() - t0 >= seconds / 2:
            samples.append(status_kib(d.proc.pid)["VmRSS"])
    out = load.stdout.read()
    wall = time.monotonic() - t0
    if load.returncode != 0:
        d.stop()
        raise SystemExit(f"memory: memload failed: {out}")
    peak = status_kib(d.proc.pid)["VmHWM"]
    err = d.stop()
    m = re.search(r"rate ([\d.]+)", out)
    return {
        "ready": d.ready_kib / 1024, "start_peak": d.start_hwm_kib / 1024,
        "steady": statistics.median(samples or [peak]) / 1024, "peak": peak / 1024,
        "reached": 2 * float(m.group(1)),
        "traced": counter(err, r"spans: (\d+) started") / wall,
        "pool_peak": counter(err, r"span pool \d+ in use, peak (\d+)"),
        "lost": counter(err, r"events: (\d+) lost"),
        "dropped": counter(err, r"dropped: (\d+) queue full") +
        counter(err, r"(\d+) span pool empty"),
        "conns": counter(err, r"protocol: (\d+) connections open"),
        "evicted": counter(err, r"connections open, (\d+) evicted"),
    }


def show(label, values, unit, fmt="{:9.1f}"):
    print(f"    {label:30s} min {fmt.format(min(values))}  median "
          f"{fmt.format(statistics.median(values))}  max {fmt.format(max(values))}  {unit}")


def report(rate, rounds):
    print(f"  {rate} spans/s asked")
    for key, label, unit, fmt in (
            ("reached", "spans/s reached (memload)", "", "{:9.0f}"),
            ("traced", "spans/s started (daemon)", "", "{:9.0f}"),
            ("ready", "RSS when ready", "MiB", "{:9.1f}"),
            ("start_peak", "peak RSS at start-up", "MiB", "{:9.1f}"),
            ("steady", "steady RSS under load", "MiB", "{:9.1f}"),
            ("peak", "peak RSS under load", "MiB", "{:9.1f}"),
            ("pool_peak", "span pool peak", "spans", "{:9.0f}"),
            ("lost", "ring-buffer records lost", "", "{:9.0f}"),
            ("dropped", "spans dropped (queue, pool)", "", "{:9.0f}"),
            ("conns", "connections open at the end", "", "{:9.0f}"),
            ("evicted", "connections evicted (table full)", "", "{:9.0f}")):
        show(label, [r[key] for r in rounds], unit, fmt)


def main():
    if os.geteuid() != 0:
        raise SystemExit("memory: run as root (spanprobe loads BPF programs)")
    for path in (SPANPROBE, MEMLOAD, SINK):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"memory: {path} is missing (make all {MEMLOAD} {SINK})")
    sink, port = start_sink()
    results = {rate: [] for rate in RATES}
    try:
        print(f"daemon memory: spanprobe run -v (default settings) exporting OTLP/HTTP/2+gzip "
              f"to otlp_sink; memload -c {CONNS} -j {THREADS}; {ROUNDS} rounds of "
              f"{SECONDS:g} s per rate, rates alternating; load average before: "
              f"{os.getloadavg()[0]:.2f}")
        for _ in range(ROUNDS):
            for rate in RATES:
                results[rate].append(load_round(port, rate))
        for rate in RATES:
            report(rate, results[rate])
        if SWEEP:
            print(f"  ring buffer size against loss, memload unlimited, {SWEEP_ROUNDS} rounds")
            for size in SWEEP_SIZES:
                rounds = [load_round(port, 0, ("--ringbuf-size", str(size)))
                          for _ in range(SWEEP_ROUNDS)]
                print(f"   --ringbuf-size {size >> 20} MiB")
                show("spans/s reached (memload)", [r["reached"] for r in rounds], "",
                     "{:9.0f}")
                show("ring-buffer records lost", [r["lost"] for r in rounds], "", "{:9.0f}")
                show("peak RSS under load", [r["peak"] for r in rounds], "MiB")
                show("connections open at the end", [r["conns"] for r in rounds], "",
                     "{:9.0f}")
    finally:
        sink.terminate()
        sink.wait()
    print(f"  memload keeps {CONNS} connections; more open or evicted are other HTTP on "
          "this host, traced too: each costs the daemon ~2.5 KB while open")
    top = results[RATES[-1]]
    reached = statistics.median(r["reached"] for r in top)
    peak = statistics.median(r["peak"] for r in top)
    summary.record(f"RSS at {RATES[-1] // 1000}k spans/s (or the rate reached)",
                   f"{statistics.median(r['steady'] for r in top):.1f} MiB steady, "
                   f"{peak:.1f} MiB peak at {reached / 1000:.0f}k spans/s",
                   f"<= {TARGET_MIB} MiB", peak <= TARGET_MIB)
    for rate in RATES[:-1]:
        rs = results[rate]
        summary.record(f"RSS at {rate // 1000}k spans/s",
                       f"{statistics.median(r['steady'] for r in rs):.1f} MiB steady, "
                       f"{statistics.median(r['peak'] for r in rs):.1f} MiB peak (medians)")
    every = [r for rs in results.values() for r in rs]
    summary.record("RSS when ready", f"{statistics.median(r['ready'] for r in every):.1f} MiB "
                   f"(start-up peak {max(r['start_peak'] for r in every):.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
