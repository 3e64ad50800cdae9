#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What node-wide HTTPS tracing adds per request: nginx (one worker, TLS
with a P-256 certificate made by `openssl` at start) serving a small file
over keep-alive connections on loopback, loaded by `wrk` (HTTP/1.1
keep-alive over TLS, through libssl's SSL_read/SSL_write, so the client is
traced as well), in rounds alternating without spanprobe and with
`spanprobe run -o text --output-file FILE`.  Prints min/median/max across
rounds of requests/s, latency, CPU per request of nginx, wrk and spanprobe
(from /proc/PID/stat, utime + stime; the BPF programs run in the time of
the process whose call they probe), and what tracing adds per request,
from the throughput and from the CPU time, each traced round against the
untraced round before it.  Checks that each traced round gave one SERVER
and one CLIENT span per request, https, on nginx's port: a round short of
spans is noted with spanprobe's drop counters, and one with less than
half of them fails the run (exit status 1), as a benchmark that traces
nothing measures nothing.  Run as root.

Environment: SP_BUILD (build dir), BENCH_ROUNDS (5), BENCH_SECONDS (4),
BENCH_CONNECTIONS (16), BENCH_THREADS (1)."""
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from http_overhead import (Daemon, counter, cpu_seconds, free_port, other_spanprobes,
                           to_us, wait_port)

BUILD = os.environ.get("SP_BUILD", "build")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "4"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
BODY = b"hello, https bench\n"
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
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        root {dir}/www;
    }}
}}
"""


def make_cert(tmp):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", os.path.join(tmp, "key.pem"),
                    "-out", os.path.join(tmp, "cert.pem"), "-days", "1", "-subj",
                    "/CN=localhost"], check=True, capture_output=True)


def start_nginx(tmp):
    os.makedirs(os.path.join(tmp, "www"))
    with open(os.path.join(tmp, "www", PAGE.lstrip("/")), "wb") as f:
        f.write(BODY)
    make_cert(tmp)
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=tmp, port=port))
    p = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-p", tmp, "-c", conf,
                          "-e", os.path.join(tmp, "error.log")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_port(port):
        p.kill()
        raise SystemExit("https_overhead: nginx did not start")
    return p, port


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_wrk(port, nginx_pid, daemon_pid=None):
    """One load round: requests/s, latency, requests, and CPU per request in
    us of nginx, wrk (a child: its rusage once reaped) and the daemon."""
    pids = {"nginx": nginx_pid, "spanprobe": daemon_pid}
    cpu0 = {k: cpu_seconds(p) for k, p in pids.items() if p}
    wrk0 = children_cpu()
    out = subprocess.run(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{SECONDS}s",
                          "--latency", f"https://127.0.0.1:{port}{PAGE}"],
                         capture_output=True, text=True, check=True).stdout
    wrk_cpu = children_cpu() - wrk0
    if re.search(r"Non-2xx|Socket errors", out):
        raise SystemExit(f"https_overhead: wrk saw errors:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
         "p50": to_us(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
         "p99": to_us(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
         "requests": requests, "wrk_us": 1e6 * wrk_cpu / requests}
    for k, p in pids.items():
        if p:
            r[k + "_us"] = 1e6 * (cpu_seconds(p) - cpu0[k]) / requests
    return r


def count_spans(path, port):
    """SERVER spans of nginx's port and CLIENT spans to it, both https."""
    server = client = 0
    url = f'url.full="https://127.0.0.1:{port}{PAGE}"'
    with open(path, errors="replace") as f:
        for line in f:
            if 'url.scheme="https"' not in line:
                continue
            if " SERVER " in line and f"server.port={port} " in line:
                server += 1
            elif " CLIENT " in line and url in line:
                client += 1
    return server, client


def traced_round(port, nginx_pid, tmp):
    spans = os.path.join(tmp, "spans.txt")
    d = Daemon(["-o", "text", "--output-file", spans], tmp)
    t0 = time.monotonic()
    r = run_wrk(port, nginx_pid, d.proc.pid)
    r["cpu_pct"] = 100 * r["spanprobe_us"] * r["requests"] / 1e6 / (time.monotonic() - t0)
    err = d.stop()
    r["probed"] = "tls: probing OpenSSL in " in err
    r["server_spans"], r["client_spans"] = count_spans(spans, port)
    os.unlink(spans)
    r["drops"] = "; ".join(line.removeprefix("spanprobe: ") for line in err.splitlines()
                           if line.startswith(("spanprobe: dropped:", "spanprobe: events:")))
    r["dropped"] = sum(max(0, counter(err, p)) for p in (
        r"dropped: (\d+) queue full", r"(\d+) span pool empty", r"events: (\d+) lost",
        r"(\d+) lost \(pool empty\)"))
    return r


def show(label, values, unit, fmt="{:10.1f}"):
    print(f"  {label:40s} min {fmt.format(min(values))}  median "
          f"{fmt.format(statistics.median(values))}  max {fmt.format(max(values))}  {unit}")


def report(plain, traced):
    for name, rounds in (("untraced", plain), ("traced (spanprobe run, text to a file)", traced)):
        print(name)
        show("requests/s", [r["rps"] for r in rounds], "")
        show("latency p50", [r["p50"] for r in rounds], "us")
        show("latency p99", [r["p99"] for r in rounds], "us")
        show("nginx CPU per request", [r["nginx_us"] for r in rounds], "us", "{:10.2f}")
        show("wrk CPU per request", [r["wrk_us"] for r in rounds], "us", "{:10.2f}")
    show("spanprobe CPU per request (2 spans)", [r["spanprobe_us"] for r in traced], "us",
         "{:10.2f}")
    show("spanprobe CPU (user+sys)", [r["cpu_pct"] for r in traced], "% of one core")
    show("SERVER spans per request", [r["server_spans"] / r["requests"] for r in traced], "",
         "{:10.3f}")
    show("CLIENT spans per request", [r["client_spans"] / r["requests"] for r in traced], "",
         "{:10.3f}")
    show("spans or events dropped", [r["dropped"] for r in traced], "", "{:10.0f}")
    pairs = list(zip(plain, traced))
    print("added per request by tracing (each traced round against the untraced one before it)")
    show("wall time, from requests/s", [1e6 / t["rps"] - 1e6 / p["rps"] for p, t in pairs],
         "us", "{:10.2f}")
    show("nginx CPU (its SSL calls' probes)", [t["nginx_us"] - p["nginx_us"] for p, t in pairs],
         "us", "{:10.2f}")
    show("wrk CPU (the client's probes)", [t["wrk_us"] - p["wrk_us"] for p, t in pairs], "us",
         "{:10.2f}")
    show("server side: nginx CPU + spanprobe",
         [t["nginx_us"] - p["nginx_us"] + t["spanprobe_us"] for p, t in pairs], "us",
         "{:10.2f}")
    show("all: nginx + wrk + spanprobe CPU",
         [t["nginx_us"] + t["wrk_us"] + t["spanprobe_us"] - p["nginx_us"] - p["wrk_us"]
          for p, t in pairs], "us", "{:10.2f}")


def check(traced, port):
    """One SERVER and one CLIENT span per request in each traced round (wrk
    counts the responses it read; up to one per connection more may be in
    flight when it stops).  Returns (notes, failures): a round short of
    spans is noted with spanprobe's drop counters (an overloaded host
    drops, and says so); one with less than half of them, or where OpenSSL
    was not probed, traced nothing worth measuring."""
    notes, failures = [], []
    for i, r in enumerate(traced, 1):
        slack = max(2 * CONNECTIONS, r["requests"] // 100)
        for kind in ("server", "client"):
            got = r[f"{kind}_spans"]
            if abs(got - r["requests"]) <= slack:
                continue
            line = (f"round {i}: {got} {kind.upper()} spans of https://127.0.0.1:{port} for "
                    f"{r['requests']} requests")
            if got < r["requests"] / 2:
                failures.append(line)
            else:
                notes.append(f"{line} ({r['drops']})")
        if not r["probed"]:
            failures.append(f"round {i}: spanprobe did not say it probed OpenSSL")
    return notes, failures


def main():
    if os.geteuid() != 0:
        raise SystemExit("https_overhead: run as root (spanprobe loads BPF programs)")
    tmp = tempfile.mkdtemp(prefix="sp-bench-nginx-tls-")
    nginx, port = start_nginx(tmp)
    plain, traced, disturbed = [], [], 0
    try:
        print(f"HTTPS server overhead: nginx (1 worker, TLS) serving {len(BODY)} bytes on "
              f"loopback, wrk -t{THREADS} -c{CONNECTIONS} over TLS with keep-alive, {ROUNDS} "
              f"rounds of {SECONDS} s each, untraced and traced alternating; load average "
              f"before: {os.getloadavg()[0]:.2f}")
        for _ in range(ROUNDS):
            others = other_spanprobes()
            plain.append(run_wrk(port, nginx.pid))
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
    notes, failures = check(traced, port)
    for line in notes:
        print(f"note: {line}")
    if failures:
        print("https_overhead: the traced rounds did not trace the requests:\n  "
              + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
