#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The disk queue (--queue-dir): a collector outage under steady load, with
spanprobe killed (SIGKILL) and started again in the middle of it, loses
nothing and sends nothing twice, in order; a tiny budget drops the oldest
batches and counts them.  The outage lasts SP_QUEUE_OUTAGE_S seconds (60
by default, as `make test` runs it).  Spans come from `spanprobe attach`
to tests/programs/nested, so other traffic on the host cannot change the
counts; span IDs tell duplicates apart."""
import glob
import os
import re
import signal
import struct
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import Agent, Target, check, finish, require_root  # noqa: E402
from otlprx import Receiver, free_port, spans_of  # noqa: E402

require_root()
OUTAGE_S = float(os.environ.get("SP_QUEUE_OUTAGE_S", "60"))
PER_LINE = 5        # iterations per line fed: 5 outer + 15 inner spans
PERIOD_S = 0.1      # a line every PERIOD_S: 200 spans a second
ENV = {"OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_EXPORTER_OTLP_TIMEOUT": "1000"}
RECORD_MAGIC = 0x51505331
QUEUE_LINE = re.compile(
    r"queue: (\d+) batches \((\d+) spans\) queued, (\d+) \((\d+) spans\) sent from the queue, "
    r"(\d+) \((\d+) spans\) dropped \(budget full\), (\d+) corrupt skipped, "
    r"(\d+) \((\d+) spans\) sent again after a stop while sending, "
    r"(\d+) \((\d+) spans, (\d+) bytes\) waiting")


def agent(target, rx, qdir, *extra):
    return Agent(target.proc.pid, ["outer", "inner"], env=ENV,
                 output=["--no-http", "--otlp-endpoint", rx.endpoint(),
                         "--queue-dir", qdir, *extra])


def exported(port):
    """spanprobe's own count of spans the collector answered for (-1: no
    answer from its metrics endpoint)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return -1
    m = re.search(r"^spanprobe_spans_exported_total (\d+)$", text, re.M)
    return int(m.group(1)) if m else -1


def feed(target, seconds, lines=None):
    """Steady load for `seconds`; returns the iterations run."""
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if lines is not None:
            lines.append(time.time_ns())
        if not target.run(PER_LINE):
            raise RuntimeError("the traced program stopped answering")
        n += PER_LINE
        time.sleep(PERIOD_S)
    return n


def disk_pending(qdir):
    """Spans in the queue's files after the cursor, read as the format says."""
    with open(os.path.join(qdir, "cursor"), "rb") as f:
        _, seq, off = struct.unpack("<IQQ", f.read(20))
    spans = 0
    for path in sorted(glob.glob(os.path.join(qdir, "*.spq"))):
        s = int(os.path.basename(path)[:16], 16)
        if s < seq:
            continue
        data = open(path, "rb").read()
        pos = off if s == seq else 0
        while pos + 20 <= len(data):
            magic, length, n = struct.unpack_from("<III", data, pos)
            if magic != RECORD_MAGIC:
                break
            spans += n
            pos += 20 + length
    return spans


def wait_for(cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


class Received:
    """Every span the receiver decoded, in the order it got them."""

    def __init__(self, rx):
        self.rx = rx
        self.spans = []

    def poll(self):
        self.spans.extend(s for _, _, s in spans_of(self.rx.take()[1]))
        return len(self.spans)


def queue_counts(err):
    m = QUEUE_LINE.findall(err)
    return [int(x) for x in m[-1]] if m else None


def report_lines(err):
    """The exit report's export lines, to tell a loss in spanprobe from
    one on the way."""
    return " | ".join(line for line in err.splitlines()
                      if re.search(r"spans: \d+ started|export: \d+ requests|queue: \d+", line))


def twice(spans, t_down_ns):
    """Where the spans received twice were: when made, against the outage's
    start, and at which places in the order received."""
    at = {}
    for i, s in enumerate(spans):
        at.setdefault(s["spanId"], []).append(i)
    dup = [(int(spans[v[0]]["startTimeUnixNano"]), v) for v in at.values() if len(v) > 1]
    return ", ".join(f"made {(t - t_down_ns) / 1e9:+.2f} s from the outage, received as {v}"
                     for t, v in sorted(dup)[:4])


def stop_agent(a, target):
    a.proc.send_signal(signal.SIGINT)
    a.wait(60)
    return "".join(a.err)


def test_outage_and_kill(tmp):
    qdir = os.path.join(tmp, "queue")
    rx = Receiver(tmp)
    got = Received(rx)
    target = Target()
    metrics = free_port()
    a1 = agent(target, rx, qdir, "--metrics-address", f"127.0.0.1:{metrics}")
    check("outage: receiver and first spanprobe started", rx.ready and a1.started,
          "".join(a1.err))
    produced = feed(target, 2) * 4
    # The receiver stores a request before it answers: spanprobe counting
    # every span as exported means no request is left in flight for the
    # outage to cut (one cut there is retried, so received twice).
    check("outage: before it, spans are delivered directly",
          wait_for(lambda: got.poll() == produced and exported(metrics) == produced, 15),
          f"{len(got.spans)} received and {exported(metrics)} exported of {produced}")
    rx.stop()
    t_down = time.monotonic()
    t_down_ns = time.time_ns()
    produced += feed(target, OUTAGE_S / 2) * 4
    # Everything made so far is on disk (or was delivered) before the kill.
    on_disk = wait_for(lambda: got.poll() + disk_pending(qdir) == produced, 15)
    check("outage: spans made while it is down are in the disk queue",
          on_disk, f"{got.poll()} received + {disk_pending(qdir)} on disk != {produced}")
    a1.proc.kill()
    a1.wait(10)
    a2 = agent(target, rx, qdir)
    check("outage: spanprobe started again on the queue after SIGKILL", a2.started,
          "".join(a2.err))
    produced += feed(target, max(0.0, OUTAGE_S - (time.monotonic() - t_down)) + 0.5) * 4
    rx.start()
    outage = time.monotonic() - t_down
    produced += feed(target, 3) * 4
    wait_for(lambda: got.poll() >= produced, 60)
    target.close()
    rc = a2.wait(60)
    err = "".join(a2.err)
    got.poll()
    ids = [s["spanId"] for s in got.spans]
    q = queue_counts(err)
    print(f"# outage: {produced} spans made, {len(set(ids))} received, "
          f"{len(ids) - len(set(ids))} duplicates, {q[5] if q else '?'} dropped by the budget")
    check(f"outage: collector down {outage:.0f} s", outage >= OUTAGE_S, f"{outage:.1f}")
    check(f"outage: every span made ({produced}) received", len(set(ids)) == produced,
          f"{len(set(ids))} distinct of {produced}; " + report_lines(err))
    resent = q[8] if q else 0
    check("outage: no span received twice (none was being sent at the kill)",
          len(ids) == len(set(ids)) and resent == 0,
          f"{len(ids) - len(set(ids))} duplicates, {resent} counted as sent again; "
          + twice(got.spans, t_down_ns))
    check("outage: names exact", sorted({s["name"] for s in got.spans}) == ["inner", "outer"] and
          sum(s["name"] == "outer" for s in got.spans) == produced // 4)
    outer = [int(s["startTimeUnixNano"]) for s in got.spans if s["name"] == "outer"]
    check("outage: received in the order made", outer == sorted(outer))
    check("outage: second run sent its queue, dropped none, left none",
          rc == 0 and q is not None and q[3] > 0 and q[5] == 0 and q[6] == 0
          and q[9] == 0, err)
    check("outage: the queue's files are gone but the newest segment",
          len(glob.glob(os.path.join(qdir, "*.spq"))) == 1)
    rx.stop()
    return outage


def test_tiny_budget(tmp):
    qdir = os.path.join(tmp, "tiny")
    rx = Receiver(tmp)
    rx.stop()  # down from the start: everything goes to the queue
    target = Target()
    a = agent(target, rx, qdir, "--queue-max-bytes", "64K")
    check("tiny budget: spanprobe started", a.started, "".join(a.err))
    lines = []
    produced = 0
    for _ in range(40):  # about 5.6 KB on disk a line: 64K holds about 11
        lines.append(time.time_ns())
        target.run(50)
        produced += 200
        time.sleep(0.25)
    time.sleep(1.5)
    err = stop_agent(a, target)
    q = queue_counts(err)
    check("tiny budget: oldest dropped and counted, the rest waits, nothing else lost",
          q is not None and q[4] > 0 and q[5] + q[10] == produced and q[11] <= 64 << 10
          and " 0 exported, 0 failed" in err and " 0 queue full" in err, err)
    rx.start()
    got = Received(rx)
    a = agent(target, rx, qdir, "--queue-max-bytes", "64K")
    waiting = q[10] if q else -1
    check("tiny budget: what waited is received after a restart",
          wait_for(lambda: got.poll() >= waiting, 30) and len(got.spans) == waiting,
          f"{len(got.spans)} of {waiting}")
    stop_agent(a, target)
    target.close()
    rx.stop()
    print(f"# tiny budget: {produced} spans made, {q[5] if q else '?'} dropped by the budget, "
          f"{waiting} kept, {len(got.spans)} received")
    # The spans kept are the newest: from the line of the oldest received on,
    # every line's 200 spans arrived (batches leave the queue whole).  A
    # span belongs to the last line fed before it (lines are 250 ms apart,
    # half of that absorbs clock differences).
    def line_of(t):
        return max((i for i, lt in enumerate(lines) if lt - 125_000_000 <= t), default=0)
    per_line = [0] * len(lines)
    for s in got.spans:
        per_line[line_of(int(s["startTimeUnixNano"]))] += 1
    start = min((i for i, n in enumerate(per_line) if n), default=0)
    check("tiny budget: the oldest were dropped, the newest kept",
          start > 0 and all(n == 200 for n in per_line[start + 1:])
          and sum(per_line[:start]) == 0, per_line)


def main():
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for name, test in (("outage", test_outage_and_kill), ("tiny", test_tiny_budget)):
            os.mkdir(os.path.join(tmp, name))
            test(os.path.join(tmp, name))
    print(f"# disk queue tests took {time.monotonic() - t0:.0f} s")
    finish()


main()
