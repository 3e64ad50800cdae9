#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The summary table `make bench` ends with: each benchmark records its
headline figures with record() (a line in the file SP_BENCH_SUMMARY
names; nothing when it is unset, so a benchmark run alone prints only its
own report), and `summary.py FILE` prints them as one table, the target
beside each figure and whether it is met, so a regression shows at once.

A line of the file: figure <TAB> measured <TAB> target <TAB> yes|no|-
("-": a figure shown for reference, with no target)."""
import os
import sys


def record(figure, measured, target="", met=None):
    path = os.environ.get("SP_BENCH_SUMMARY")
    if not path:
        return
    mark = "-" if met is None else ("yes" if met else "no")
    with open(path, "a") as f:
        f.write("\t".join((figure, measured, target or "-", mark)) + "\n")


def show(path):
    rows = []
    try:
        with open(path) as f:
            rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    except FileNotFoundError:
        pass
    rows = [r for r in rows if len(r) == 4]
    if not rows:
        print("summary: no benchmark recorded a figure")
        return 1
    widths = [max(len(r[i]) for r in rows + [["figure", "measured", "target", "met"]])
              for i in range(4)]
    line = "  ".join("%%-%ds" % w for w in widths)
    print(line % ("figure", "measured", "target", "met"))
    print(line % tuple("-" * w for w in widths))
    for r in rows:
        print(line % tuple(r))
    targets = [r for r in rows if r[3] != "-"]
    met = sum(1 for r in targets if r[3] == "yes")
    print("targets met: %d of %d" % (met, len(targets)))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: summary.py FILE")
    sys.exit(show(sys.argv[1]))
