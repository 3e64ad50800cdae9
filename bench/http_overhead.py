#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What node-wide HTTP tracing costs a server under load: nginx (one worker)
serving a small static file on loopback, driven by `wrk --latency`, in
alternating rounds without spanprobe, with `spanprobe run -o otlp-json` and
with the text console (both writing to /dev/null).  Prints min/median/max
across rounds of requests/s and p50/p99 latency, and the daemon's CPU and
peak RSS at that load.  Run as root (spanprobe loads BPF programs).

Environment: SP_BUILD (build dir), BENCH_ROUNDS (5), BENCH_SECONDS (5),
BENCH_CONNECTIONS (16), BENCH_THREADS (1)."""
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import summary  # noqa: E402

BUILD = os.environ.get("SP_BUILD", "build")
SPANPROBE = os.path.join(BUILD, "spanprobe")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
READY_LINE = "tracing HTTP of every process on this host"
TICK = os.sysconf("SC_CLK_TCK")
BODY = b"hello, bench\n"

NGINX_CONF = """
worker_processes 1;
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
    }}
}}
"""

MODES = (
    ("untraced", None),
    ("traced, OTLP/JSON", ["-o", "otlp-json", "--output-file", "/dev/null"]),
    ("traced, text console", ["-o", "text", "--output-file", "/dev/null"]),
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start_nginx(tmp):
    os.makedirs(os.path.join(tmp, "www"))
    with open(os.path.join(tmp, "www", "index.html"), "wb") as f:
        f.write(BODY)
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=tmp, port=port))
    p = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-p", tmp, "-c", conf,
                          "-e", os.path.join(tmp, "error.log")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_port(port):
        p.kill()
        raise SystemExit("nginx did not start")
    return p, port


def to_us(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]


def run_wrk(port, server_pid):
    """One load round; returns (requests/s, p50 us, p99 us, requests, the
    server's CPU per request in us: BPF programs run in its time)."""
    cpu0 = cpu_seconds(server_pid)
    out = subprocess.run(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{SECONDS}s",
                          "--latency", f"http://127.0.0.1:{port}/index.html"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_us(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = to_us(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    server_us = 1e6 * (cpu_seconds(server_pid) - cpu0) / requests
    if re.search(r"Non-2xx|Socket errors", out):
        raise SystemExit(f"wrk saw errors:\n{out}")
    return rps, p50, p99, requests, server_us


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Daemon:
    """`spanprobe run -v ARGS`, ready once it says it traces every process."""

    def __init__(self, args, tmp):
        self.log = os.path.join(tmp, "spanprobe.err")
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen([SPANPROBE, "run", "-v", *args],
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 30
        while READY_LINE not in self.stderr():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"spanprobe did not start:\n{self.stderr()}")
            time.sleep(0.05)

    def stderr(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        if self.proc.wait(timeout=60) != 0:
            raise SystemExit(f"spanprobe failed:\n{self.stderr()}")
        return self.stderr()


def other_spanprobes():
    """PIDs of the node-wide spanprobe processes running (`run`, or no
    subcommand; call it while the benchmark's own is not): their probes
    fire in every round, so an "untraced" round is not untraced while one
    runs."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                if f.read().strip() != "spanprobe":
                    continue
            with open(f"/proc/{d}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")[1:]
        except OSError:
            continue
        if not {"trace", "attach", "probes"} & set(args):
            pids.append(int(d))
    return pids


def counter(text, pattern):
    """The last report's figure: with -v the daemon reports while it runs too."""
    found = re.findall(pattern, text)
    return int(found[-1]) if found else -1


def traced_round(args, port, server_pid, tmp):
    d = Daemon(args, tmp)
    rss0 = status_kib(d.proc.pid, "VmRSS")
    cpu0 = cpu_seconds(d.proc.pid)
    t0 = time.monotonic()
    rps, p50, p99, requests, server_us = run_wrk(port, server_pid)
    cpu = cpu_seconds(d.proc.pid) - cpu0
    wall = time.monotonic() - t0
    hwm = status_kib(d.proc.pid, "VmHWM")
    err = d.stop()
    exported = counter(err, r"spans: \d+ started, \d+ finished, (\d+) exported")
    dropped = sum(max(0, counter(err, p)) for p in (
        r"dropped: (\d+) queue full", r"(\d+) span pool empty", r"events: (\d+) lost",
        r"(\d+) lost \(pool empty\)"))
    return {"rps": rps, "p50": p50, "p99": p99, "server_us": server_us,
            "cpu_pct": 100 * cpu / wall, "cpu_us_per_req": 1e6 * cpu / requests,
            "rss0_mib": rss0 / 1024, "hwm_mib": hwm / 1024,
            "spans_per_req": exported / requests, "dropped": dropped}


def untraced_round(port, server_pid):
    rps, p50, p99, _, server_us = run_wrk(port, server_pid)
    return {"rps": rps, "p50": p50, "p99": p99, "server_us": server_us}


def show(label, values, unit, fmt="{:10.1f}"):
    print(f"  {label:34s} min {fmt.format(min(values))}  median "
          f"{fmt.format(statistics.median(values))}  max {fmt.format(max(values))}  {unit}")


def report(results):
    for name, _ in MODES:
        rounds = results[name]
        print(name)
        show("requests/s", [r["rps"] for r in rounds], "")
        show("latency p50", [r["p50"] for r in rounds], "us")
        show("latency p99", [r["p99"] for r in rounds], "us")
        show("nginx CPU per request", [r["server_us"] for r in rounds], "us", "{:10.2f}")
        if "cpu_pct" not in rounds[0]:
            continue
        show("daemon CPU (user+sys)", [r["cpu_pct"] for r in rounds], "% of one core")
        show("daemon CPU per request", [r["cpu_us_per_req"] for r in rounds], "us")
        show("daemon RSS when ready (VmRSS)", [r["rss0_mib"] for r in rounds], "MiB")
        show("daemon peak RSS (VmHWM)", [r["hwm_mib"] for r in rounds], "MiB")
        show("spans exported per request", [r["spans_per_req"] for r in rounds], "",
             "{:10.3f}")
        show("spans or events dropped", [r["dropped"] for r in rounds], "", "{:10.0f}")
    base = results["untraced"]
    print("change of the medians against untraced")
    for name, _ in MODES[1:]:
        got = results[name]
        parts = []
        for key, label in (("rps", "requests/s"), ("p50", "p50"), ("p99", "p99"),
                           ("server_us", "nginx CPU/request")):
            a = statistics.median(r[key] for r in base)
            b = statistics.median(r[key] for r in got)
            parts.append(f"{label} {100 * (b - a) / a:+.1f}%")
        print(f"  {name:34s} " + ", ".join(parts))
    record_summary(results)


def record_summary(results):
    """The worst-case server targets: traced requests/s at least 85 % of
    untraced, p99 at most 40 % above, medians of rounds alternating."""
    base = results["untraced"]
    for name, _ in MODES[1:]:
        got = results[name]
        rps = statistics.median(r["rps"] for r in got) / statistics.median(r["rps"] for r in base)
        p99 = statistics.median(r["p99"] for r in got) / statistics.median(r["p99"] for r in base)
        short = name.replace("traced, ", "")
        summary.record(f"nginx worst case ({short}): traced/untraced requests/s",
                       f"{100 * rps:.1f} %", ">= 85 %", rps >= 0.85)
        summary.record(f"nginx worst case ({short}): p99 change", f"{100 * (p99 - 1):+.1f} %",
                       "<= +40 %", p99 <= 1.40)
        cpu = statistics.median(r["cpu_us_per_req"] / max(r["spans_per_req"], 1e-9) for r in got)
        summary.record(f"nginx worst case ({short}): daemon CPU per span", f"{cpu:.2f} us")


def main():
    if os.geteuid() != 0:
        raise SystemExit("http_overhead: run as root (spanprobe loads BPF programs)")
    tmp = tempfile.mkdtemp(prefix="sp-bench-nginx-")
    nginx, port = start_nginx(tmp)
    results = {name: [] for name, _ in MODES}
    others = set()
    try:
        print(f"HTTP server overhead: nginx (1 worker) serving {len(BODY)} bytes on loopback, "
              f"wrk -t{THREADS} -c{CONNECTIONS}, {ROUNDS} rounds of {SECONDS} s per mode, "
              f"modes alternating; load average before: {os.getloadavg()[0]:.2f}")
        for _ in range(ROUNDS):
            for name, args in MODES:
                others.update(other_spanprobes())
                if args is None:
                    results[name].append(untraced_round(port, nginx.pid))
                else:
                    results[name].append(traced_round(args, port, nginx.pid, tmp))
        report(results)
        if others:
            print(f"note: other spanprobe processes ran during the rounds ({len(others)}): "
                  "their probes fire in the untraced rounds too")
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
