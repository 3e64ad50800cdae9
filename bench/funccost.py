#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Cost per traced call: the same program (callbench) untraced, under the
bare uprobe + uretprobe pair of bench/bare.bpf.c (the floor: one ring-buffer
record each, nothing else), and under `spanprobe trace -u bench_target`,
rounds alternating; prints min/median/max of the program's own ns per call,
spanprobe's cost over the bare pair, and spanprobe's CPU per span."""
import os
import resource
import statistics
import subprocess
import sys

BUILD = os.environ.get("SP_BUILD", "build")
PROG = os.path.join(BUILD, "tests", "programs", "callbench")
SPANPROBE = os.path.join(BUILD, "spanprobe")
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
CALLS = 100000


def ns_per_call(out):
    for line in out.splitlines():
        if line.startswith("ns_per_call "):
            return float(line.split()[1])
    raise SystemExit(f"callbench printed no timing: {out!r}")


def untraced():
    return ns_per_call(subprocess.run([PROG, str(CALLS)], capture_output=True,
                                      text=True, check=True).stdout)


def bare():
    p = subprocess.run([os.path.join(BUILD, "bench", "bare_uprobe"), PROG, "bench_target",
                        "--", PROG, str(CALLS)], capture_output=True, text=True, check=True)
    return ns_per_call(p.stdout)


def traced():
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([SPANPROBE, "trace", "-o", "otlp-json", "--output-file", "/dev/null",
                        "--span-pool", "262144", "-u", "bench_target", "--", PROG, str(CALLS)],
                       capture_output=True, text=True, check=True,
                       env=dict(os.environ, OTEL_BSP_MAX_QUEUE_SIZE="262144"))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if f"{CALLS} exported" not in p.stderr:
        raise SystemExit(f"not every call became a span: {p.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ns_per_call(p.stdout), cpu * 1e9 / CALLS


def show(label, values, unit):
    print(f"{label:48s} min {min(values):9.1f}  median {statistics.median(values):9.1f}  "
          f"max {max(values):9.1f} {unit}")


def main():
    plain, floor, with_probe, cpu = [], [], [], []
    for _ in range(RUNS):
        plain.append(untraced())
        floor.append(bare())
        t, c = traced()
        with_probe.append(t)
        cpu.append(c)
    print(f"function tracing, {RUNS} runs of {CALLS} calls, modes alternating")
    show("untraced call", plain, "ns")
    show("bare uprobe + uretprobe (24-byte record each)", floor, "ns")
    show("spanprobe trace", with_probe, "ns")
    show("added per call by spanprobe", [t - p for t, p in zip(with_probe, plain)], "ns")
    show("spanprobe over the bare pair", [t - b for t, b in zip(with_probe, floor)], "ns")
    show("CPU per span, whole run incl. program", cpu, "ns")


if __name__ == "__main__":
    sys.exit(main())
