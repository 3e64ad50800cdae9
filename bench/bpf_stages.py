#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Where the BPF time of a socket call on an HTTP connection goes: nginx
(one worker) serving 13 bytes to wrk, traced by a build of spanprobe
whose socket programs stop after a stage (SP_BPF_STAGES, `make
bench-stages` builds it in $BUILD/stages), the stage set in the loaded
object's .data between rounds, the stages in alternating order round by
round.  Prints, per stage, min/median/max over the rounds of ns per call
(bpf_stats, as bench/bpf_cost.py reads it) and what the stage adds to the
one before (medians).  Sampling profilers do not help here: on a
hypervisor that delivers its interrupts only where the kernel re-enables
them, the programs' samples land after them.  Run as root.

Environment: SP_BUILD (the bench programs), SP_STAGES_BUILD (the stage
build), BENCH_ROUNDS (5), BENCH_SECONDS (3)."""
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("SP_BUILD", "build")
STAGES_BUILD = os.environ.get("SP_STAGES_BUILD", os.path.join(BUILD, "stages"))
os.environ["SP_BUILD"] = STAGES_BUILD  # the daemon of http_overhead.Daemon
import http_overhead as ho  # noqa: E402
import bpf_cost as bc  # noqa: E402

bc.BARE = os.path.join(BUILD, "bench", "bare_uprobe")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
STAGES = (
    (0, "the program runs, returns at once"),
    (1, "first checks: family, ports, the socket's slot (TCP)"),
    (2, "the process: traced?"),
    (3, "the call's registers: syscall, user buffer"),
    (4, "TLS link: a library call in flight on the thread?"),
    (5, "the verdict: HTTP (the slot, or the connection map)"),
    (12, "the record's fixed part and addresses"),
    (13, "  and 8 bytes of the payload copied"),
    (6, "  and the payload copied"),
    (7, "its header: ids, CPU, clock"),
    (8, "the wake-up rule (per-CPU count)"),
    (99, "the ring buffer's reservation, copy, commit"),
    (9, "  the same, never waking the reader"),
    (10, "  the same, the record's fixed part only"),
    (98, "  the same, a wake-up mark 4 times larger"),
    (11, "  instead: a bare record (header only, never waking)"),
)
ONLY = os.environ.get("BENCH_STAGES")
if ONLY:
    STAGES = tuple(x for x in STAGES if str(x[0]) in ONLY.split(","))


def bpftool(*args):
    out = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def stage_maps(pid):
    """The .data maps of the objects `pid` loaded that hold sp_stage."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                ids = [int(line.split()[1]) for line in f if line.startswith("map_id:")]
        except OSError:
            continue
        for mid in ids:
            info = bpftool("map", "show", "id", str(mid))
            if info.get("name", "").endswith(".data") and info.get("bytes_value") == 4:
                dump = bpftool("map", "dump", "id", str(mid))
                if "sp_stage" in json.dumps(dump[0].get("formatted", {})):
                    found.append(mid)
    if not found:
        raise SystemExit("bpf_stages: no sp_stage in the daemon's maps: is "
                         f"{STAGES_BUILD}/spanprobe the stage build (make bench-stages)?")
    return found


def set_stage(maps, stage):
    value = [str(b) for b in stage.to_bytes(4, "little")]
    for mid in maps:
        subprocess.run(["bpftool", "map", "update", "id", str(mid), "key", "0", "0", "0", "0",
                        "value", *value], check=True)


def main():
    if os.geteuid() != 0:
        raise SystemExit("bpf_stages: run as root (spanprobe loads BPF programs)")
    with open(bc.STATS) as f:
        old = f.read().strip()
    tmp = tempfile.mkdtemp(prefix="sp-bench-stages-")
    nginx, port = ho.start_nginx(tmp)
    got = {s: [] for s, _ in STAGES}
    floor = []
    bare = None
    try:
        with open(bc.STATS, "w") as f:
            f.write("1")
        d = ho.Daemon(["-o", "otlp-json", "--output-file", "/dev/null"], tmp)
        try:
            bare = bc.start_bare(ROUNDS * len(STAGES) * (bc.SECONDS + 3) + 60)
            maps = stage_maps(d.proc.pid)
            bc.http_load(port)  # every connection judged before the rounds
            for r in range(ROUNDS):
                order = STAGES if r % 2 == 0 else STAGES[::-1]
                for stage, _ in order:
                    set_stage(maps, stage)
                    before = bc.prog_stats(d.proc.pid)
                    bare0 = bc.prog_stats(bare.pid, bc.BARE_PROGS)
                    bc.http_load(port)
                    got[stage].append(bc.per_call(before, bc.prog_stats(d.proc.pid))["all"][0])
                    floor.append(bc.per_call(bare0, bc.prog_stats(bare.pid, bc.BARE_PROGS),
                                             bc.BARE_PROGS)["all"][0])
        finally:
            d.stop()
            bc.stop(bare)
    finally:
        with open(bc.STATS, "w") as f:
            f.write(old)
        nginx.terminate()
        nginx.wait()
    print(f"HTTP call (nginx + wrk), ns per call (bpf_stats) when the programs stop after "
          f"each stage, {ROUNDS} rounds of {bc.SECONDS} s:")
    last = None
    for stage, what in STAGES:
        med = statistics.median(got[stage])
        added = "" if last is None else f"{med - last:+6.0f}"
        print(f"  {stage:3d} {what:54s} min {min(got[stage]):5.0f}  median {med:5.0f}  "
              f"max {max(got[stage]):5.0f}  {added}")
        last = med
    print(f"  the floor in the same rounds (one bare record a call): median "
          f"{statistics.median(floor):.0f} ns")


if __name__ == "__main__":
    main()
