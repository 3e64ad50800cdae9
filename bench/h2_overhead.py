#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What node-wide tracing costs an HTTP/2 server: nginx (one worker,
`listen ... http2` without TLS: h2c with prior knowledge) serving a small
file on loopback to h2load (BENCH_CLIENTS connections, BENCH_STREAMS
streams in flight on each, BENCH_REQUESTS requests a round), in rounds
alternating without spanprobe and with `spanprobe run -o text
--output-file FILE`.  Prints min/median/max across rounds of requests/s,
p50 and p99 latency (from h2load's per-request log), nginx's CPU per
request and spanprobe's CPU per stream (utime + stime from /proc/PID/stat;
the BPF programs run in the time of the process whose call they probe,
so nginx's share grows too), and, per traced round, the spans spanprobe
wrote against the requests made: SERVER spans of nginx's port and CLIENT
spans of h2load's URL, and how many of them are whole (status 200, no
spanprobe.partial).  A traced round with less than half of its SERVER
spans fails the run (exit status 1): a benchmark that traces nothing
measures nothing.  Run as root.

Environment: SP_BUILD (build dir), BENCH_ROUNDS (5), BENCH_REQUESTS
(30000), BENCH_CLIENTS (1), BENCH_STREAMS (10)."""
import math
import os
import shutil
import subprocess
import sys
import tempfile

from http_overhead import Daemon, counter, cpu_seconds, free_port, other_spanprobes, wait_port
from https_overhead import show

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "30000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "1"))
STREAMS = int(os.environ.get("BENCH_STREAMS", "10"))
BODY = b"hello, h2 bench\n"
PAGE = "/index.html"

NGINX_CONF = """
worker_processes 1;
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} http2;
        root {dir}/www;
    }}
}}
"""


def start_nginx(tmp):
    os.makedirs(os.path.join(tmp, "www"))
    with open(os.path.join(tmp, "www", PAGE.lstrip("/")), "wb") as f:
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
        raise SystemExit("h2_overhead: nginx did not start")
    return p, port


def percentile(sorted_values, q):
    """The q-th percentile (0..100) of a sorted list, by nearest rank."""
    return sorted_values[max(0, math.ceil(q / 100 * len(sorted_values)) - 1)]


def run_h2load(port, nginx_pid, tmp, daemon_pid=None):
    """One round: requests/s, p50 and p99 in us (each request's time until
    the end of its response, from h2load's --log-file), requests, and CPU
    per request in us of nginx and of the daemon."""
    log = os.path.join(tmp, "h2load.log")
    pids = {"nginx": nginx_pid, "spanprobe": daemon_pid}
    cpu0 = {k: cpu_seconds(p) for k, p in pids.items() if p}
    out = subprocess.run(["h2load", "-n", str(REQUESTS), "-c", str(CLIENTS), "-m", str(STREAMS),
                          "--log-file", log, f"http://127.0.0.1:{port}{PAGE}"],
                         capture_output=True, text=True).stdout
    cpu = {k: cpu_seconds(p) - cpu0[k] for k, p in pids.items() if p}
    if f"{REQUESTS} succeeded" not in out or f"{REQUESTS} 2xx" not in out:
        raise SystemExit(f"h2_overhead: h2load saw errors:\n{out}")
    rps = next(float(line.split()[3]) for line in out.splitlines()
               if line.startswith("finished in"))
    with open(log) as f:
        times = sorted(int(line.split("\t")[2]) for line in f if line.strip())
    os.unlink(log)
    r = {"rps": rps, "p50": percentile(times, 50), "p99": percentile(times, 99),
         "requests": len(times)}
    for k, seconds in cpu.items():
        r[k + "_us"] = 1e6 * seconds / len(times)
    return r


def count_spans(path, port):
    """SERVER spans of nginx's port and CLIENT spans of h2load's URL, over
    HTTP/2, and of each those that are whole: status 200, no headers left
    out."""
    n = {"server": 0, "client": 0, "server_whole": 0, "client_whole": 0}
    url = f'url.full="http://127.0.0.1:{port}{PAGE}"'
    with open(path, errors="replace") as f:
        for line in f:
            if 'network.protocol.version="2"' not in line:
                continue
            if " SERVER " in line and f"server.port={port} " in line:
                kind = "server"
            elif " CLIENT " in line and url in line:
                kind = "client"
            else:
                continue
            n[kind] += 1
            n[kind + "_whole"] += ("http.response.status_code=200" in line
                                   and "spanprobe.partial" not in line)
    return n


def traced_round(port, nginx_pid, tmp):
    spans = os.path.join(tmp, "spans.txt")
    d = Daemon(["-o", "text", "--output-file", spans], tmp)
    r = run_h2load(port, nginx_pid, tmp, d.proc.pid)
    err = d.stop()
    r.update(count_spans(spans, port))
    os.unlink(spans)
    r["exported"] = counter(err, r"spans: \d+ started, \d+ finished, (\d+) exported")
    r["dropped"] = sum(max(0, counter(err, p)) for p in (
        r"dropped: (\d+) queue full", r"(\d+) span pool empty", r"events: (\d+) lost",
        r"(\d+) lost \(pool empty\)"))
    r["drops"] = "; ".join(line.removeprefix("spanprobe: ") for line in err.splitlines()
                           if line.startswith(("spanprobe: dropped:", "spanprobe: events:")))
    r["http2"] = next((line.removeprefix("spanprobe: ") for line in err.splitlines()
                       if "http2:" in line), "")
    return r


def report(plain, traced):
    for name, rounds in (("untraced", plain), ("traced (spanprobe run, text to a file)", traced)):
        print(name)
        show("requests/s", [r["rps"] for r in rounds], "")
        show("latency p50", [r["p50"] for r in rounds], "us")
        show("latency p99", [r["p99"] for r in rounds], "us")
        show("nginx CPU per request", [r["nginx_us"] for r in rounds], "us", "{:10.2f}")
    show("spanprobe CPU per stream", [r["spanprobe_us"] for r in traced], "us", "{:10.2f}")
    show("SERVER spans per request", [r["server"] / r["requests"] for r in traced], "",
         "{:10.3f}")
    show("  of them whole (200, no partial)", [r["server_whole"] / r["requests"] for r in traced],
         "", "{:10.3f}")
    show("CLIENT spans per request", [r["client"] / r["requests"] for r in traced], "",
         "{:10.3f}")
    show("  of them whole (200, no partial)", [r["client_whole"] / r["requests"] for r in traced],
         "", "{:10.3f}")
    show("spans exported per request", [r["exported"] / r["requests"] for r in traced], "",
         "{:10.3f}")
    show("spans or events dropped", [r["dropped"] for r in traced], "", "{:10.0f}")
    print("spans per round (SERVER, CLIENT; whole ones in brackets) for requests made:")
    for i, r in enumerate(traced, 1):
        print(f"  round {i}: {r['server']} ({r['server_whole']}) SERVER, {r['client']} "
              f"({r['client_whole']}) CLIENT for {r['requests']} requests"
              + (f" ({r['drops']})" if r["dropped"] else ""))
    print(f"  last round's {traced[-1]['http2']}")


def main():
    if os.geteuid() != 0:
        raise SystemExit("h2_overhead: run as root (spanprobe loads BPF programs)")
    if not shutil.which("h2load"):
        raise SystemExit("h2_overhead: h2load not found (Debian package nghttp2-client)")
    tmp = tempfile.mkdtemp(prefix="sp-bench-nginx-h2-")
    nginx, port = start_nginx(tmp)
    plain, traced, disturbed = [], [], 0
    try:
        print(f"HTTP/2 server overhead: nginx (1 worker, h2c) serving {len(BODY)} bytes on "
              f"loopback, h2load -n {REQUESTS} -c {CLIENTS} -m {STREAMS}, {ROUNDS} rounds, "
              f"untraced and traced alternating; load average before: "
              f"{os.getloadavg()[0]:.2f}")
        for _ in range(ROUNDS):
            others = other_spanprobes()
            plain.append(run_h2load(port, nginx.pid, tmp))
            traced.append(traced_round(port, nginx.pid, tmp))
            disturbed += bool(others or other_spanprobes())
        report(plain, traced)
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if disturbed:
        print(f"note: another spanprobe ran in {disturbed} of {ROUNDS} rounds: its probes fire "
              "in the untraced runs too")
    short = [f"round {i}: {r['server']} SERVER spans for {r['requests']} requests"
             for i, r in enumerate(traced, 1) if r["server"] < r["requests"] / 2]
    if short:
        print("h2_overhead: the traced rounds did not trace the requests:\n  "
              + "\n  ".join(short), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
