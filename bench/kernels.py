#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The node-wide tax (bench/syscall_tax.py) inside each kernel of the
kernel matrix, booted under QEMU, once per HTTP capture path the kernel
offers (SPANPROBE_HTTP_HOOKS=sock, fentry, kprobes, syscalls).  Under an
emulated CPU absolute times say little: the figure is the ratio with/without
spanprobe of runs made in the same guest, one after the other.

Environment: SP_KERNELS (regexes of kernel packages, instead of
tests/kernels/kernels.list), BENCH_RUNS (5 pairs of runs per path),
BENCH_ITERATIONS (getppid calls per run, a tenth of that per write+read;
100000), SP_KERNEL_PATHS (the paths to measure; all by default)."""
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(REPO, "tests", "kernels"))
import guest  # noqa: E402

PATHS = os.environ.get("SP_KERNEL_PATHS", "sock fentry kprobes syscalls").split()
RUNS = os.environ.get("BENCH_RUNS", "5")
ITERATIONS = os.environ.get("BENCH_ITERATIONS", "100000")

# Run in the guest: every path the kernel and this spanprobe offer, the
# others named.  `probes --http-hooks P` prints "HTTP capture (...)" only
# when P can be used here.
GUEST_SCRIPT = """
for p in %s; do
	if ! "$SP_BUILD/spanprobe" probes --http-hooks "$p" 2>&1 | grep -q '^  HTTP capture ('; then
		echo "== $p: not offered here: $("$SP_BUILD/spanprobe" probes --http-hooks "$p" 2>&1 | grep 'HTTP capture\\|http-hooks')"
		continue
	fi
	echo "== $p: $("$SP_BUILD/spanprobe" probes --http-hooks "$p" | grep '^  HTTP capture (' | sed 's/^ *//')"
	SPANPROBE_HTTP_HOOKS=$p BENCH_SPANPROBE_ARGS="--http-hooks $p" python3 bench/syscall_tax.py ||
		echo "== $p: the benchmark failed"
done
"""


def main():
    build = os.environ.get("SP_BUILD", "build")
    for f in ("spanprobe", "bench/syscall_tax"):
        if not os.access(os.path.join(REPO, build, f), os.X_OK):
            sys.exit(f"bench-kernels: no {build}/{f} (make bench-kernels builds it)")
    missing = guest.missing_tools()
    if missing:
        sys.exit(f"bench-kernels: {', '.join(missing)} not installed (sh deploy/deps.sh)")
    status = 0
    for regex in guest.kernels_sh("kernels_patterns").split():
        package = guest.resolve(regex)
        kdir = guest.kernel_dir(package) if package else ""
        if not package or not os.path.exists(os.path.join(kdir, ".unpacked")):
            print(f"== {regex}: no such kernel unpacked (tests/kernels/fetch.sh)")
            status = 1
            continue
        print(f"==== {package}", flush=True)
        start = time.monotonic()
        res = guest.boot(kdir, GUEST_SCRIPT % " ".join(PATHS),
                         env={"SP_BUILD": build, "BENCH_RUNS": RUNS,
                              "BENCH_ITERATIONS": ITERATIONS},
                         timeout=3600, on_line=lambda s: print(s, flush=True))
        if res.status != 0:
            print(f"==== {package}: the guest failed: {res.reason or res.status}")
            status = 1
        print(f"==== {package}: {time.monotonic() - start:.0f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
