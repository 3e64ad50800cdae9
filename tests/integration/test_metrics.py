#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""--metrics-address: spanprobe run exports HTTP spans of curl and a
Python server to the OTLP receiver while a real Prometheus (Debian's)
scrapes /metrics every second.  The exported-span count Prometheus stores
must be what the receiver got and what the exit report says; /healthz and
/readyz answer 200, /readyz 503 with a reason while the collector is
down; bad requests (garbage, a huge header, an unknown path, a slow
client holding every connection) get their 4xx and harm nothing."""
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, check_report_sums, exit_report, finish, require_root  # noqa: E402
from httptest import curl, python_server  # noqa: E402
from otlprx import Receiver, free_port, spans_of  # noqa: E402

N = 20        # requests whose spans Prometheus must count
M = 3         # requests made while the collector is down
WAIT_S = 15

PROM_CONFIG = """
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: spanprobe
    static_configs:
      - targets: ['127.0.0.1:{port}']
"""


def get(port, path, timeout=5):
    """(status, body) of GET http://127.0.0.1:port/path; status 0 on error."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def raw(port, data, timeout=5, shut=True):
    """Send raw bytes, read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except OSError as e:
            out += f"<{e}>".encode()
        return out.decode(errors="replace")


def metric(text, name):
    """The value of the sample `name` (with its labels, if any) in an
    exposition, or None."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split(" ")[1])
    return None


def enable_bpf_stats():
    """A BPF_ENABLE_STATS descriptor: the kernel counts the run time of
    every BPF program while it is open (the sysctl is left alone).
    Returns it, or -errno."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(16)  # .enable_stats.type = BPF_STATS_RUN_TIME
    fd = libc.syscall(321, 32, attr, 16)  # __NR_bpf (x86-64), BPF_ENABLE_STATS
    return fd if fd >= 0 else -ctypes.get_errno()


def samples(text, name):
    """{labels text: value} of every sample of `name`."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, _, value = line[len(name):].rpartition(" ")
            out[labels] = float(value)
    return out


def wait(pred, limit=WAIT_S, step=0.1):
    deadline = time.monotonic() + limit
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


class Prometheus:
    def __init__(self, tmp, target_port):
        self.port = free_port()
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(PROM_CONFIG.format(port=target_port))
        self.log = open(os.path.join(tmp, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus") or "/usr/bin/prometheus", f"--config.file={cfg}",
             f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, q):
        """The vector of an instant query: [(labels, value)], or None."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                body = json.load(r)
        except (OSError, ValueError):
            return None
        if body.get("status") != "success":
            return None
        return [(e["metric"], float(e["value"][1])) for e in body["data"]["result"]]

    def value(self, q):
        r = self.query(q)
        return r[0][1] if r and len(r) == 1 else None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Spanprobe:
    def __init__(self, args, env):
        self.proc = subprocess.Popen([SPANPROBE, "run", *args], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True,
                                     env=dict(os.environ, **env))
        self.err = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.err.append(line)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.reader.join(5)
        return rc

    def stderr(self):
        return "".join(self.err)


class Spans:
    """Every span the receiver decoded, accumulated across take() calls."""

    def __init__(self, rx):
        self.rx = rx
        self.all = []

    def update(self):
        _, dumps = self.rx.take()
        self.all.extend(spans_of(dumps))
        return self.all

    def with_path(self, path):
        out = []
        for _, _, s in self.update():
            for a in s.get("attributes", []):
                if a["key"] == "url.path" and a["value"].get("stringValue") == path:
                    out.append(s)
        return out


def check_options():
    """A bad address and a port in use stop spanprobe before it loads anything."""
    rc, err = run_quick(["--metrics-address", "localhost:9100"])
    check("bad --metrics-address: exit 1 with a message",
          rc == 1 and "is not A.B.C.D:PORT, [IPv6]:PORT or :PORT" in err, err[-500:])
    rc, err = run_quick([], {"SPANPROBE_METRICS_ADDRESS": "127.0.0.1:99999"})
    check("bad SPANPROBE_METRICS_ADDRESS: exit 1 with a message",
          rc == 1 and "'127.0.0.1:99999' is not" in err, err[-500:])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        t0 = time.monotonic()
        rc, err = run_quick(["--metrics-address", f"127.0.0.1:{port}"])
        check("--metrics-address on a port in use: exit 1, at once",
              rc == 1 and "Address already in use" in err and time.monotonic() - t0 < 5,
              err[-500:])


def check_port_zero():
    """Port 0: the kernel chooses one, and -v says which."""
    sp = subprocess.Popen([SPANPROBE, "run", "-v", "-o", "none", "--metrics-address",
                           "127.0.0.1:0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    head, port = "", None
    try:
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = sp.stderr.readline()
            if not line:
                break
            head += line
            m = re.search(r"metrics: serving /metrics, /healthz and /readyz on "
                          r"127\.0\.0\.1:0 \(port (\d+)\)", line)
            port = int(m.group(1)) if m else None
        check("--metrics-address 127.0.0.1:0: -v says the port chosen",
              port is not None and port != 0, head[-1000:])
        if port:
            check("--metrics-address 127.0.0.1:0: /healthz served there",
                  wait(lambda: get(port, "/healthz") == (200, "ok\n")))
    finally:
        sp.send_signal(signal.SIGINT)
        try:
            sp.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            sp.kill()
            sp.communicate()


def run_quick(args, env=None):
    p = subprocess.run([SPANPROBE, "run", *args], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stderr


def check_bad_requests(mport):
    r = raw(mport, b"garbage\r\n\r\n")
    check("garbage: 400", r.startswith("HTTP/1.1 400 Bad Request\r\n"), r[:200])
    r = raw(mport, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    check("a 20 KB header: 431", r.startswith("HTTP/1.1 431 "), r[:200])
    r = raw(mport, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    check("unknown path: 404", r.startswith("HTTP/1.1 404 Not Found\r\n"), r[:200])
    r = raw(mport, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    check("POST: 405 with Allow", r.startswith("HTTP/1.1 405 ") and "Allow: GET, HEAD" in r,
          r[:200])
    r = raw(mport, b"GET /metrics HTTP/2.0\r\n\r\n")
    check("HTTP/2.0 request line: 505", r.startswith("HTTP/1.1 505 "), r[:200])
    r = raw(mport, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    check("HEAD: headers only", r.startswith("HTTP/1.1 200 OK\r\n") and r.endswith("\r\n\r\n")
          and "Content-Length: 3\r\n" in r, r[:300])
    r = raw(mport, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
            shut=False)
    check("keep-alive asked: answered, then closed", r.startswith("HTTP/1.1 200 OK\r\n")
          and "Connection: close\r\n" in r and r.endswith("ok\n"), r[:300])
    # Every connection slot held by clients that send nothing (or half a
    # request): the next is served at once, not after the 2 s read timeout
    # (a liveness probe waits 2 s), the oldest held one closed for it.
    held = [socket.create_connection(("127.0.0.1", mport)) for _ in range(4)]
    held[0].sendall(b"GET /metr")
    time.sleep(0.2)  # all four taken by the server
    t0 = time.monotonic()
    status, _ = get(mport, "/healthz", timeout=10)
    took = time.monotonic() - t0
    check("slots all held: the next request is served at once",
          status == 200 and took < 0.5, f"{status} after {took:.2f} s")
    held[0].settimeout(5)
    try:
        first = held[0].recv(200).decode(errors="replace")
    except OSError as e:
        first = str(e)
    check("slots all held: the oldest, half a request, closed with 408",
          first.startswith("HTTP/1.1 408 "), first)
    # The others are closed by the server at their own read timeout (each
    # counted): wait for that, not to close them first ourselves.
    closed = 0
    for s in held[1:]:
        s.settimeout(10)
        try:
            closed += s.recv(200) == b""
        except OSError:
            pass
    check("silent connections: closed by the server", closed == 3, str(closed))
    for s in held:
        s.close()


def main():
    require_root()
    if not shutil.which("prometheus"):
        check("prometheus installed (sh deploy/deps.sh)", False)
        finish()
    check_options()
    check_port_zero()
    tmp = tempfile.mkdtemp(prefix="sp-metrics-")
    docs = os.path.join(tmp, "www")
    os.mkdir(docs)
    for i in range(N + M + 8):
        with open(os.path.join(docs, f"item-{i}"), "w") as f:
            f.write("x" * i)
    with open(os.path.join(docs, "warmup"), "w") as f:
        f.write("w")
    rx = Receiver(tmp)
    check("receiver started", rx.ready)
    spans = Spans(rx)
    sport, mport = free_port(), free_port()
    server = python_server(sport, docs)
    check("python server started", server.ready)
    prom = Prometheus(tmp, mport)
    env = {"OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_EXPORTER_OTLP_TIMEOUT": "2000",
           "OTEL_BSP_EXPORT_TIMEOUT": "3000",
           # The flag wins over the environment.
           "SPANPROBE_METRICS_ADDRESS": "not an address"}
    sp = Spanprobe(["--port", str(sport), "--otlp-endpoint", rx.endpoint("h2c"),
                    "--metrics-address", f"127.0.0.1:{mport}"], env)
    try:
        run_checks(sp, rx, spans, prom, sport, mport)
    finally:
        rc = sp.stop()
        prom.stop()
        server.stop()
        rx.stop()
    check("spanprobe exits 0", rc == 0, sp.stderr()[-2000:])
    final_checks(sp, spans, prom_last[0])
    shutil.rmtree(tmp, ignore_errors=True)
    finish()


prom_last = [None]


def run_checks(sp, rx, spans, prom, sport, mport):
    ready = wait(lambda: get(mport, "/readyz")[0] == 200)
    check("/readyz 200 once the probes are attached", ready,
          get(mport, "/readyz")[1] + sp.stderr()[-2000:])
    if not ready:
        return
    # Capture is on once a request yields its spans.
    wait(lambda: curl(f"http://127.0.0.1:{sport}/warmup") and spans.with_path("/warmup"),
         step=0.3)
    base = wait(lambda: stable_count(mport, spans))
    check("warm-up spans exported", base is not None and base > 0, str(base))
    if base is None:
        return
    stats_fd = enable_bpf_stats()
    check("BPF statistics on (BPF_ENABLE_STATS)", stats_fd >= 0, str(stats_fd))
    for i in range(N):
        curl(f"http://127.0.0.1:{sport}/item-{i}")
    want = base + 2 * N
    got = wait(lambda: len(spans.update()) >= want and
               metric(get(mport, "/metrics")[1], "spanprobe_spans_exported_total") == want)
    check(f"{N} requests: {2 * N} spans (SERVER and CLIENT) at the receiver and in /metrics",
          got and len(spans.all) == want, f"{len(spans.all)} != {want}")
    per_path = [len(spans.with_path(f"/item-{i}")) for i in range(N)]
    check("each request: exactly 2 spans", per_path == [2] * N, str(per_path))
    text = get(mport, "/metrics")[1]
    check("/metrics: export requests ok > 0, retries 0",
          (metric(text, 'spanprobe_export_requests_total{status="ok"}') or 0) > 0
          and metric(text, "spanprobe_export_retries_total") == 0, text[:3000])
    check("/metrics: no drops",
          all(metric(text, f'spanprobe_spans_dropped_total{{reason="{r}"}}') == 0
              for r in ("export_failed", "queue_full", "pool_empty", "unfinished")))
    runs = samples(text, "spanprobe_bpf_runs_total")
    run_time = samples(text, "spanprobe_bpf_run_time_seconds_total")
    check(f"/metrics: BPF runs and run time per program, over {2 * N} socket calls",
          metric(text, "spanprobe_bpf_stats_enabled") == 1 and sum(runs.values()) >= 2 * N
          and sum(run_time.values()) > 0 and set(runs) == set(run_time)
          and all(k.startswith('{program="sp_') for k in runs), str(runs))

    # Prometheus reads the same number.
    seen = wait(lambda: prom.value("spanprobe_spans_exported_total") == want, limit=20)
    check("Prometheus: spanprobe_spans_exported_total = spans the receiver got", seen,
          f"{prom.query('spanprobe_spans_exported_total')} != {want}")
    check("Prometheus: the scrape is up", prom.value('up{job="spanprobe"}') == 1)
    check("Prometheus: BPF runs of spanprobe's programs",
          (prom.value("sum(spanprobe_bpf_runs_total)") or 0) >= 2 * N,
          str(prom.query("sum(spanprobe_bpf_runs_total)")))
    if stats_fd >= 0:
        os.close(stats_fd)
    info = prom.query("spanprobe_build_info") or []
    check("Prometheus: spanprobe_build_info with version and hooks",
          len(info) == 1 and info[0][0].get("version") == "0.1.0"
          and info[0][0].get("hooks") in ("sock", "fentry", "kprobes", "syscalls"), str(info))
    check("Prometheus: process_start_time_seconds is spanprobe's start",
          abs((prom.value("process_start_time_seconds") or 0) - time.time()) < 120)

    check("/healthz 200", get(mport, "/healthz") == (200, "ok\n"))
    check("/readyz 200 with the collector up", get(mport, "/readyz") == (200, "ok\n"))
    check_bad_requests(mport)
    check("after the bad requests: spanprobe runs, /healthz 200",
          sp.proc.poll() is None and get(mport, "/healthz")[0] == 200)
    text = get(mport, "/metrics")[1]
    check("/metrics: 4 bad requests (400, 431, 405, 505), 4 connections timed out",
          metric(text, "spanprobe_metrics_bad_requests_total") == 4
          and metric(text, "spanprobe_metrics_timeouts_total") == 4,
          "".join(l + "\n" for l in text.splitlines() if l.startswith("spanprobe_metrics_")))

    # The collector goes away: the next export finds nobody.
    rx.stop()
    for i in range(N, N + M):
        curl(f"http://127.0.0.1:{sport}/item-{i}")
    down = wait(lambda: get(mport, "/readyz")[0] == 503)
    status, body = get(mport, "/readyz")
    check("/readyz 503 with the collector down, and why", down and status == 503
          and body.startswith("collector unreachable: connection failed: ")
          and body.endswith("\n") and body.count("\n") == 1, f"{status} {body!r}")
    text = get(mport, "/metrics")[1]
    check("/metrics: failed export requests counted as connection_failed",
          (metric(text, 'spanprobe_export_requests_total{status="connection_failed"}') or 0) > 0,
          text[:4000])
    check("/healthz still 200 while the collector is down", get(mport, "/healthz")[0] == 200)
    # Their export gives up (its timeout), before the collector is back: a
    # retry that reaches the new one too late to hear its answer would be
    # delivered and counted "timed out (outcome unknown)".
    failed = wait(lambda: metric(get(mport, "/metrics")[1],
                                 'spanprobe_spans_dropped_total{reason="export_failed"}') == 2 * M)
    check(f"/metrics: the {2 * M} spans of the outage counted export_failed", failed,
          get(mport, "/metrics")[1][:3000])

    # Back: readiness returns with the next export that gets through.
    rx.start()
    check("receiver restarted", rx.ready)
    up = wait(lambda: curl(f"http://127.0.0.1:{sport}/item-{N + M}") and
              get(mport, "/readyz")[0] == 200, step=0.5)
    check("/readyz 200 again once an export gets through", up, get(mport, "/readyz")[1])

    # What Prometheus has last must be what spanprobe says at exit.
    final = wait(lambda: stable_count(mport, spans, settle=1.5))
    if final:
        prom_last[0] = wait(lambda: prom.value("spanprobe_spans_exported_total") == final
                            and final, limit=20)
    check("Prometheus caught up with the last count", bool(prom_last[0]),
          f"{prom.query('spanprobe_spans_exported_total')} != {final}")


def stable_count(mport, spans, settle=0.6):
    """The exported count once /metrics and the receiver agree and stay so."""
    a = metric(get(mport, "/metrics")[1], "spanprobe_spans_exported_total")
    if a is None or a != len(spans.update()):
        return None
    time.sleep(settle)
    b = metric(get(mport, "/metrics")[1], "spanprobe_spans_exported_total")
    return int(a) if a == b == len(spans.update()) else None


def final_checks(sp, spans, prom_value):
    c = check_report_sums("exit report", sp.stderr())
    exported = c.get("spans: exported")
    check("exit report: exported = Prometheus's last value = spans the receiver got",
          exported is not None and prom_value is not None and exported == prom_value
          == len(spans.all), f"{exported}, {prom_value}, {len(spans.all)}: "
          + "".join(line for line in sp.stderr().splitlines(True) if "spanprobe: " in line))


if __name__ == "__main__":
    main()
