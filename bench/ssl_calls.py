#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The BPF cost per OpenSSL call: ns per SSL_write and per SSL_read of a
small message (bench/ssl_calls.c: TLS 1.3 on loopback TCP, both ends in one
process), in runs alternating untraced, under the bare uprobe + uretprobe
pair of bench/bare.bpf.c on SSL_write and SSL_read of the libssl the
program maps (the floor: a trap and one ring-buffer record each way), and
under `spanprobe run` (text to a file).  Two payloads: an HTTP exchange
per round trip (captured, a CLIENT and a SERVER span each) and bytes that
are not HTTP (the connection is left alone after its first call: the
probes' own cost).  The times include the socket call inside each TLS
call, and with spanprobe the socket hooks it meets.  Prints min/median/max
of the runs and what each tracer adds per call, each run against the
untraced run before it.  Checks that spanprobe probed the very libssl the
program maps and made one CLIENT and one SERVER span of every HTTP round
trip (a shortfall is noted with spanprobe's drop counters; the file not
probed or less than half of the spans is exit status 1).  Run as root.

Environment: SP_BUILD (build dir), BENCH_RUNS (5), BENCH_ROUND_TRIPS (1000
per pass; three passes per payload, the best counts)."""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

from http_overhead import Daemon, other_spanprobes

BUILD = os.environ.get("SP_BUILD", "build")
PROG = os.path.join(BUILD, "bench", "ssl_calls")
BARE = os.path.join(BUILD, "bench", "bare_uprobe")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
ROUND_TRIPS = os.environ.get("BENCH_ROUND_TRIPS", "1000")
CALLS = (("http_write_ns", "SSL_write, HTTP (captured)"),
         ("http_read_ns", "SSL_read, HTTP (captured)"),
         ("other_write_ns", "SSL_write, not HTTP (left alone)"),
         ("other_read_ns", "SSL_read, not HTTP (left alone)"))


def libssl_of(prog):
    """The libssl the program maps, as the dynamic loader resolves it."""
    out = subprocess.run(["ldd", prog], capture_output=True, text=True, check=True).stdout
    m = re.search(r"libssl\.so\S* => (\S+)", out)
    if not m:
        raise SystemExit(f"ssl_calls: {prog} does not link libssl:\n{out}")
    return os.path.realpath(m.group(1))


def measure(prefix=()):
    p = subprocess.run([*prefix, PROG, ROUND_TRIPS], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"ssl_calls failed ({p.returncode}):\n{p.stderr}")
    return {k: float(v) for k, v in (line.split() for line in p.stdout.splitlines())}


def bare(libssl):
    return measure([BARE, libssl, "SSL_write,SSL_read", "--"])


def probed_files(err):
    """The files spanprobe says it probed for OpenSSL, as (device, inode)."""
    files = set()
    for m in re.finditer(r"tls: probing OpenSSL in (\S+)", err):
        try:
            st = os.stat(m.group(1))
            files.add((st.st_dev, st.st_ino))
        except OSError:
            pass
    return files


def count_spans(path):
    """CLIENT and SERVER spans of ssl_calls's HTTP exchanges (its own path)."""
    n = {"CLIENT": 0, "SERVER": 0}
    with open(path, errors="replace") as f:
        for line in f:
            if 'url.path="/ssl_calls"' in line and 'url.scheme="https"' in line:
                for kind in n:
                    if f" {kind} " in line:
                        n[kind] += 1
    return n


def traced(libssl, tmp):
    spans = os.path.join(tmp, "spans.txt")
    d = Daemon(["-o", "text", "--output-file", spans], tmp)
    try:
        r = measure()
    finally:
        err = d.stop()
    st = os.stat(libssl)
    r["probed"] = (st.st_dev, st.st_ino) in probed_files(err)
    r["drops"] = "; ".join(line.removeprefix("spanprobe: ") for line in err.splitlines()
                           if line.startswith(("spanprobe: dropped:", "spanprobe: events:")))
    r.update(count_spans(spans))
    os.unlink(spans)
    return r


def show(label, values):
    print(f"  {label:44s} min {min(values):9.1f}  median {statistics.median(values):9.1f}  "
          f"max {max(values):9.1f} ns")


def check(runs, libssl):
    """Returns (notes, failures) of the traced runs: spans missing are
    noted with spanprobe's drop counters; the file not probed, or less
    than half of the spans, means the run measured no tracing."""
    notes, failures = [], []
    for i, r in enumerate(runs, 1):
        if not r["probed"]:
            failures.append(f"run {i}: spanprobe did not say it probed {libssl}")
        want = int(r["http_exchanges"])
        for kind in ("CLIENT", "SERVER"):
            line = f"run {i}: {r[kind]} {kind} spans for {want} HTTP round trips"
            if r[kind] < want / 2:
                failures.append(line)
            elif r[kind] != want:
                notes.append(f"{line} ({r['drops']})")
    return notes, failures


def main():
    if os.geteuid() != 0:
        raise SystemExit("ssl_calls: run as root (BPF programs are loaded)")
    libssl = libssl_of(PROG)
    tmp = tempfile.mkdtemp(prefix="sp-bench-ssl-")
    plain, floor, with_sp, disturbed = [], [], [], 0
    for _ in range(RUNS):
        others = other_spanprobes()
        plain.append(measure())
        floor.append(bare(libssl))
        with_sp.append(traced(libssl, tmp))
        disturbed += bool(others or other_spanprobes())
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"OpenSSL calls ({libssl}), {RUNS} runs of best-of-3 passes of {ROUND_TRIPS} "
          f"round trips per payload, modes alternating; load average after: "
          f"{os.getloadavg()[0]:.2f}")
    for key, label in CALLS:
        print(label)
        show("untraced", [r[key] for r in plain])
        show("bare uprobe + uretprobe", [r[key] for r in floor])
        show("spanprobe run", [r[key] for r in with_sp])
        show("added by the bare pair", [b[key] - p[key] for p, b in zip(plain, floor)])
        show("added by spanprobe", [t[key] - p[key] for p, t in zip(plain, with_sp)])
        show("spanprobe over the bare pair", [t[key] - b[key] for b, t in zip(floor, with_sp)])
    print(f"spans per HTTP round trip: CLIENT "
          f"{statistics.median(r['CLIENT'] / r['http_exchanges'] for r in with_sp):.3f}, "
          f"SERVER {statistics.median(r['SERVER'] / r['http_exchanges'] for r in with_sp):.3f}"
          " (median of the runs)")
    if disturbed:
        print(f"note: another spanprobe ran in {disturbed} of {RUNS} runs: its probes fire in "
              "the untraced runs too")
    notes, failures = check(with_sp, libssl)
    for line in notes:
        print(f"note: {line}")
    if failures:
        print("ssl_calls: spanprobe did not trace the calls:\n  " + "\n  ".join(failures),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
