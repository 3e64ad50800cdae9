#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What tracing MySQL/MariaDB calls costs an application: Debian's MariaDB
server on loopback (its data in a temporary directory), `mariadb-slap`
sending point selects on 4 connections, in alternating rounds without
spanprobe and with `spanprobe run -o otlp-json` to /dev/null (every
process on the host traced: the client's calls become spans, the
server's connections are left alone).  Prints min/median/max across
rounds of queries/s and the daemon's CPU per span.  Run as root.

Environment: SP_BUILD (build dir), BENCH_ROUNDS (5), BENCH_QUERIES (20000),
BENCH_CONNECTIONS (4), BENCH_MYSQL_PORT (23307)."""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import summary  # noqa: E402
from http_overhead import Daemon, counter, cpu_seconds, other_spanprobes, show  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
QUERIES = int(os.environ.get("BENCH_QUERIES", "20000"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "4"))
PORT = int(os.environ.get("BENCH_MYSQL_PORT", "23307"))
CLIENT = ["-h", "127.0.0.1", "-P", str(PORT), "--skip-ssl", "-u", "root"]
QUERY = "SELECT n FROM t WHERE id = 42"


def start_server(tmp):
    shutil.chown(tmp, "mysql", "mysql")
    data = os.path.join(tmp, "data")
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=mysql",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   capture_output=True, check=True)
    log = open(os.path.join(tmp, "server.log"), "w")
    server = subprocess.Popen(["mariadbd", "--no-defaults", f"--datadir={data}",
                               f"--socket={tmp}/sock", f"--port={PORT}",
                               "--bind-address=127.0.0.1", "--user=mysql",
                               "--skip-grant-tables", "--skip-ssl", f"--pid-file={tmp}/pid"],
                              stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if subprocess.run(["mariadb", *CLIENT, "-e", "SELECT 1"],
                          capture_output=True).returncode == 0:
            return server
        time.sleep(0.2)
    server.kill()
    raise SystemExit("mysql bench: mariadbd did not start")


def slap():
    """One load round: queries/s, from mariadb-slap's own timing."""
    out = subprocess.run(["mariadb-slap", *CLIENT, "--create-schema=bench",
                          f"--query={QUERY}", f"--concurrency={CONNECTIONS}",
                          f"--number-of-queries={QUERIES}", "--iterations=1"],
                         capture_output=True, text=True, check=True).stdout
    secs = float(re.search(r"Average number of seconds to run all queries: ([\d.]+)",
                           out).group(1))
    return QUERIES / max(secs, 1e-6)


def traced_round(tmp):
    d = Daemon(["-o", "otlp-json", "--output-file", "/dev/null"], tmp)
    cpu0 = cpu_seconds(d.proc.pid)
    qps = slap()
    time.sleep(0.5)  # the last records read and their spans ended
    cpu = cpu_seconds(d.proc.pid) - cpu0
    err = d.stop()
    spans = counter(err, r"spans: \d+ started, \d+ finished, (\d+) exported")
    return {"qps": qps, "spans": spans, "cpu_us_per_span": 1e6 * cpu / max(spans, 1)}


def main():
    if os.geteuid() != 0:
        raise SystemExit("mysql bench: run as root (spanprobe loads BPF programs)")
    tmp = tempfile.mkdtemp(prefix="sp-bench-mysql-")
    server = start_server(tmp)
    base, traced, others = [], [], set()
    try:
        subprocess.run(["mariadb", *CLIENT, "-e",
                        "CREATE DATABASE bench; USE bench; CREATE TABLE t (id INT PRIMARY KEY, "
                        "n VARCHAR(32)); INSERT INTO t SELECT seq, 'x' FROM seq_1_to_1000"],
                       check=True, capture_output=True)
        print(f"MariaDB point selects: mariadb-slap, {CONNECTIONS} connections, {QUERIES} "
              f"queries a round, {ROUNDS} rounds per mode, modes alternating; load average "
              f"before: {os.getloadavg()[0]:.2f}")
        slap()  # warm the server's caches
        for _ in range(ROUNDS):
            others.update(other_spanprobes())
            base.append(slap())
            traced.append(traced_round(tmp))
        show("untraced queries/s", base, "")
        show("traced queries/s", [r["qps"] for r in traced], "")
        show("spans exported per query", [r["spans"] / QUERIES for r in traced], "",
             "{:10.3f}")
        show("daemon CPU per span", [r["cpu_us_per_span"] for r in traced], "us", "{:10.2f}")
        ratios = [t["qps"] / b for t, b in zip(traced, base)]
        show("traced/untraced queries/s (pairs)", [100 * r for r in ratios], "%")
        if others:
            print(f"note: other spanprobe processes ran during the rounds ({len(others)})")
        summary.record("MariaDB point selects: traced/untraced queries/s (median of pairs)",
                       f"{100 * statistics.median(ratios):.1f} % (min {100 * min(ratios):.1f},"
                       f" max {100 * max(ratios):.1f})")
        summary.record("MariaDB point selects: daemon CPU per span",
                       f"{statistics.median(r['cpu_us_per_span'] for r in traced):.2f} us")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
