#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Soak: `spanprobe run` under mixed load for SOAK_SECONDS (default 1800),
exporting over h2c to the Node receiver (tests/otlp-node/receiver.js).

Load, all on this machine and bounded in rate and time:
  - keep-alive: one connection, one request after another (~20/s);
  - short connections: a new connection per request (~10/s);
  - process churn: a curl process every 0.5 s, two requests each;
  - a collector that flaps: the receiver is up SOAK_FLAP_UP s (40), then
    killed for SOAK_FLAP_DOWN s (20), then started again.
spanprobe watches only the load server's port (--port), so other HTTP on
the host does not enter its counts.

Every SOAK_SAMPLE s (10) it samples spanprobe's VmRSS and its counters
(-v prints them every 10 s) and ends with a table and a verdict:
  - RSS growth after warm-up < 5 %: the highest RSS after the warm-up
    (SOAK_WARMUP s, default 180, at most a third of the run) against the
    first sample after it;
  - the counters add up, as the tests check them (report_sums of
    tests/integration/lib/sptest.py): every span started is counted once
    where it ended, every span finished once where it went; what the
    receiver got lies between exported and exported + failed; started >=
    requests answered.
Exits 0 when both hold.  `make soak` runs it; SOAK_SECONDS=180 for a trial.
"""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import json

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "lib"))
from httptest import free_port, node_server  # noqa: E402
from sptest import report_line_counters, report_sums  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("SP_BUILD", "build"))
SPANPROBE = os.path.join(BUILD, "spanprobe")
NODE_DIR = os.path.join(ROOT, "tests", "otlp-node")
SECONDS = int(os.environ.get("SOAK_SECONDS", "1800"))
SAMPLE = int(os.environ.get("SOAK_SAMPLE", "10"))
WARMUP = int(os.environ.get("SOAK_WARMUP", str(min(180, SECONDS // 3))))
FLAP_UP = int(os.environ.get("SOAK_FLAP_UP", "40"))
FLAP_DOWN = int(os.environ.get("SOAK_FLAP_DOWN", "20"))
MAX_GROWTH = 0.05



class Load:
    """The client side: threads that stop at `deadline`, counting requests."""

    def __init__(self, port, deadline):
        self.port = port
        self.deadline = deadline
        self.requests = 0
        self.errors = 0
        self.lock = threading.Lock()

    def count(self, ok, n=1):
        with self.lock:
            if ok:
                self.requests += n
            else:
                self.errors += n

    def keep_alive(self):
        conn = None
        i = 0
        while time.monotonic() < self.deadline:
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", f"/users/{i}")
                conn.getresponse().read()
                self.count(True)
            except (OSError, http.client.HTTPException):
                self.count(False)
                conn = None
            i += 1
            time.sleep(0.05)

    def short(self):
        while time.monotonic() < self.deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/users/short", headers={"Connection": "close"})
                conn.getresponse().read()
                conn.close()
                self.count(True)
            except (OSError, http.client.HTTPException):
                self.count(False)
            time.sleep(0.1)

    def churn(self):
        url = f"http://127.0.0.1:{self.port}/users/churn"
        while time.monotonic() < self.deadline:
            rc = subprocess.call(["curl", "-s", "-o", "/dev/null", "-o", "/dev/null",
                                  "--max-time", "5", url, url])
            self.count(rc == 0, 2)
            time.sleep(0.5)


class Collector:
    """The Node receiver on one h2c port, started and killed in turn."""

    def __init__(self, port, tmp, deadline):
        self.port = port
        self.tmp = tmp
        self.deadline = deadline
        self.proc = None
        self.outs = []
        self.flaps = 0

    def start(self):
        out = os.path.join(self.tmp, f"received-{len(self.outs)}.jsonl")
        self.outs.append(out)
        self.proc = subprocess.Popen(["node", "receiver.js", "--h2c", str(self.port),
                                      "--out", out], cwd=NODE_DIR,
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("soak: the receiver did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def flap(self):
        while True:
            if not self.sleep_until(FLAP_UP):
                return
            self.stop()
            self.flaps += 1
            if not self.sleep_until(FLAP_DOWN):
                return
            self.start()

    def sleep_until(self, seconds):
        end = min(time.monotonic() + seconds, self.deadline)
        while time.monotonic() < end:
            time.sleep(0.2)
        return time.monotonic() < self.deadline

    def received(self):
        n = 0
        for out in self.outs:
            with open(out) as f:
                n += sum(len(json.loads(line)["spans"]) for line in f if line.strip())
        return n


class Agent:
    """spanprobe run -v, its stderr kept for the counters it prints."""

    def __init__(self, collector_port, server_port):
        env = dict(os.environ, OTEL_BSP_SCHEDULE_DELAY="500")
        self.proc = subprocess.Popen(
            [SPANPROBE, "run", "-v", "--port", str(server_port),
             "--otlp-endpoint", f"http://127.0.0.1:{collector_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.counters = {}  # of the latest report (-v every 10 s, and at exit)
        self.err = []
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        for line in self.proc.stderr:
            self.err.append(line)
            report_line_counters(line.rstrip("\n"), self.counters)

    def rss_kib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.reader.join(5)
        return rc


def sample_loop(agent, start, deadline):
    rows = []
    next_at = start + SAMPLE
    while time.monotonic() < deadline and agent.proc.poll() is None:
        time.sleep(max(0.0, min(next_at, deadline) - time.monotonic()))
        c = agent.counters
        rows.append((round(time.monotonic() - start), agent.rss_kib(),
                     c.get("spans: started", 0), c.get("spans: exported", 0),
                     c.get("spans: failed", 0),
                     c.get("dropped: queue full", 0) + c.get("dropped: at shutdown", 0)))
        next_at += SAMPLE
    return rows


def print_table(rows):
    print(f"{'time s':>7} {'RSS KiB':>9} {'started':>9} {'exported':>9} "
          f"{'failed':>8} {'dropped':>8}")
    for t, rss, started, exported, failed, dropped in rows:
        print(f"{t:>7} {rss:>9} {started:>9} {exported:>9} {failed:>8} {dropped:>8}")


def rss_verdict(rows):
    after = [r for r in rows if r[0] >= WARMUP and r[1] > 0]
    if len(after) < 2:
        return False, "too few samples after the warm-up"
    base, peak = after[0][1], max(r[1] for r in after)
    growth = (peak - base) / base
    return growth < MAX_GROWTH, (f"RSS after warm-up: {base} KiB at {after[0][0]} s, "
                                 f"peak {peak} KiB, growth {growth * 100:.1f} % "
                                 f"(limit {MAX_GROWTH * 100:.0f} %)")


def counters_verdict(agent, received, requests):
    c = agent.counters
    try:
        started, ended, finished, gone = report_sums(c)
    except KeyError as e:
        return False, f"no final counters from spanprobe (missing {e})"
    exported, failed = c["spans: exported"], c["spans: failed"]
    ok = (started == ended and finished == gone
          and exported <= received <= exported + failed and started >= requests)
    return ok, (f"started {started} = ended {ended} (finished + not sampled + filtered + "
                f"unfinished + never returned + open at exit); finished {finished} = "
                f"gone {gone} (exported {exported} + failed {failed} + timed out + "
                f"queue full + at shutdown); receiver got {received}; "
                f"started >= requests {requests}")


def main():
    if os.geteuid() != 0:
        print("soak: needs root (spanprobe loads BPF programs)")
        return 1
    tmp = tempfile.mkdtemp(prefix="sp-soak-")
    server_port, collector_port = free_port(), free_port()
    server = node_server(server_port)
    start = time.monotonic()
    deadline = start + SECONDS
    collector = Collector(collector_port, tmp, deadline)
    collector.start()
    agent = Agent(collector_port, server_port)
    load = Load(server_port, deadline)
    threads = [threading.Thread(target=f, daemon=True)
               for f in (load.keep_alive, load.short, load.churn, collector.flap)]
    print(f"soak: {SECONDS} s, sample every {SAMPLE} s, warm-up {WARMUP} s, "
          f"collector up {FLAP_UP} s / down {FLAP_DOWN} s", flush=True)
    for t in threads:
        t.start()
    try:
        rows = sample_loop(agent, start, deadline)
        for t in threads:
            t.join(30)
        if collector.proc.poll() is not None:
            collector.start()  # the last spans have somewhere to go
        rc = agent.stop()
        time.sleep(1)
    finally:
        collector.stop()
        server.stop()
    print_table(rows)
    print(f"requests: {load.requests} answered, {load.errors} failed; "
          f"collector stopped {collector.flaps} times; spanprobe exit {rc}")
    ok_rss, why_rss = rss_verdict(rows)
    ok_cnt, why_cnt = counters_verdict(agent, collector.received(), load.requests)
    print(f"{'ok' if ok_rss else 'FAIL'}: {why_rss}")
    print(f"{'ok' if ok_cnt else 'FAIL'}: {why_cnt}")
    ok = ok_rss and ok_cnt and rc == 0
    print(f"verdict: {'PASS' if ok else 'FAIL'}")
    if not ok:
        sys.stdout.write("".join(agent.err[-20:]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
