#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What tracing PostgreSQL clients costs: `pgbench -S` (select-only: one
SELECT by primary key a transaction, one CLIENT span each) against a
PostgreSQL server started here (data in a temporary directory, loopback),
in alternating rounds untraced and under `spanprobe run --exe pgbench -o
otlp-json` (to /dev/null).  Prints min/median/max across rounds of
transactions/s, the traced/untraced ratio of each pair of rounds, and the
daemon's CPU per span.  Run as root (spanprobe loads BPF programs; the
server runs as the user postgres).

Environment: SP_BUILD (build dir), BENCH_ROUNDS (3), BENCH_SECONDS (10),
BENCH_CLIENTS (4), BENCH_PG_PROTOCOL (simple; or extended, prepared)."""
import glob
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import summary  # noqa: E402

BUILD = os.environ.get("SP_BUILD", "build")
SPANPROBE = os.path.join(BUILD, "spanprobe")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
PROTOCOL = os.environ.get("BENCH_PG_PROTOCOL", "simple")
PORT = 25433
READY_LINE = "tracing HTTP of every process on this host"
TICK = os.sysconf("SC_CLK_TCK")


def as_postgres(args, cwd):
    subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                   capture_output=True, cwd=cwd)


def start_server(tmp):
    """initdb (as postgres: the server refuses root), start on loopback,
    and pgbench's tables at scale 1 (100,000 accounts)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise SystemExit("pgbench bench: no PostgreSQL server (deploy/deps.sh: postgresql)")
    bindir = os.path.dirname(found[-1])
    os.chmod(tmp, 0o755)
    shutil.chown(tmp, "postgres")
    data = os.path.join(tmp, "data")
    as_postgres([os.path.join(bindir, "initdb"), "-D", data, "-A", "trust", "-U", "postgres",
                 "--no-sync"], tmp)
    as_postgres([os.path.join(bindir, "pg_ctl"), "-D", data, "-l", os.path.join(tmp, "log"),
                 "-o", f"-p {PORT} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off",
                 "-w", "start"], tmp)
    pgbench(["-i", "-s", "1", "-q"])
    return bindir, data


def stop_server(bindir, data, tmp):
    try:
        as_postgres([os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "fast", "stop"], tmp)
    except subprocess.CalledProcessError:
        pass


def pgbench(args):
    return subprocess.run(["pgbench", "-h", "127.0.0.1", "-p", str(PORT), "-U", "postgres",
                           *args, "postgres"], env=dict(os.environ, PGSSLMODE="disable"),
                          capture_output=True, text=True, check=True).stdout


def load_round():
    """One round: transactions/s and transactions."""
    out = pgbench(["-S", "-n", "-M", PROTOCOL, "-c", str(CLIENTS), "-j", str(min(CLIENTS, 2)),
                   "-T", str(SECONDS)])
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    done = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    return tps, done


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def traced_round(tmp):
    log = os.path.join(tmp, "spanprobe.err")
    with open(log, "w") as err:
        p = subprocess.Popen([SPANPROBE, "run", "-v", "--exe", "pgbench", "-o", "otlp-json",
                              "--output-file", "/dev/null"], stdout=subprocess.DEVNULL,
                             stderr=err)
    deadline = time.monotonic() + 60
    while READY_LINE not in open(log).read():
        if p.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"spanprobe did not start:\n{open(log).read()}")
        time.sleep(0.05)
    cpu0 = cpu_seconds(p.pid)
    tps, done = load_round()
    cpu = cpu_seconds(p.pid) - cpu0
    p.send_signal(signal.SIGTERM)
    if p.wait(timeout=60) != 0:
        raise SystemExit(f"spanprobe failed:\n{open(log).read()}")
    text = open(log).read()
    # The report comes at the signal, and again when the last spans are
    # out: the last one counts.
    text = text[text.rfind("spanprobe: spans:"):] if "spanprobe: spans:" in text else ""
    m = re.search(r"spans: \d+ started, \d+ finished, (\d+) exported", text)
    spans = int(m.group(1)) if m else 0
    lost = sum(int(n) for n in re.findall(
        r"(\d+) (?:lost \(ring buffer full\)|span pool empty|queue full)", text))
    return {"tps": tps, "spans_per_tx": spans / max(done, 1),
            "cpu_us_per_span": 1e6 * cpu / max(spans, 1), "lost": lost,
            "pgsql": next((line for line in reversed(open(log).read().splitlines())
                           if line.startswith("pgsql:")), "")}


def show(label, values, unit, fmt="{:10.1f}"):
    print(f"  {label:34s} min {fmt.format(min(values))}  median "
          f"{fmt.format(statistics.median(values))}  max {fmt.format(max(values))}  {unit}")


def main():
    if os.geteuid() != 0:
        raise SystemExit("pgbench bench: run as root (spanprobe loads BPF programs)")
    tmp = tempfile.mkdtemp(prefix="sp-bench-pg-")
    bindir, data = start_server(tmp)
    untraced, traced = [], []
    try:
        print(f"PostgreSQL clients: pgbench -S -M {PROTOCOL} -c {CLIENTS}, {ROUNDS} rounds of "
              f"{SECONDS} s each way, alternating; load average before: "
              f"{os.getloadavg()[0]:.2f}")
        for _ in range(ROUNDS):
            untraced.append(load_round()[0])
            traced.append(traced_round(tmp))
    finally:
        stop_server(bindir, data, tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    ratios = [t["tps"] / u for t, u in zip(traced, untraced)]
    show("untraced transactions/s", untraced, "")
    show("traced transactions/s", [t["tps"] for t in traced], "")
    show("traced/untraced (pairs of rounds)", [100 * r for r in ratios], "%")
    show("spans per transaction", [t["spans_per_tx"] for t in traced], "", "{:10.3f}")
    show("daemon CPU per span", [t["cpu_us_per_span"] for t in traced], "us", "{:10.2f}")
    show("events or spans lost", [t["lost"] for t in traced], "", "{:10.0f}")
    print(f"  last traced round's decoder counters: {traced[-1]['pgsql']}")
    summary.record(f"pgbench -S ({PROTOCOL}): traced/untraced transactions/s",
                   f"{100 * statistics.median(ratios):.1f} % (min {100 * min(ratios):.1f}, "
                   f"max {100 * max(ratios):.1f})")
    summary.record(f"pgbench -S ({PROTOCOL}): daemon CPU per span",
                   f"{statistics.median(t['cpu_us_per_span'] for t in traced):.2f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
