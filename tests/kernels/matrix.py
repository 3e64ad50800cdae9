#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The kernel matrix: the BPF integration tests inside Debian's kernels,
booted under QEMU (tests/kernels/guest.py), once per HTTP capture path the
kernel offers.

Per kernel (kernels.list, or SP_KERNELS), the first boot prints
`spanprobe probes`, finds which capture paths the kernel offers and runs
the kernel-wide tests (function spans, attaching, many symbols, HTTP
servers, filters)
with the hooks `auto` chooses; then one boot
per capture path runs the HTTP tests with SPANPROBE_HTTP_HOOKS set to that
path.  The `syscalls` fallback runs only on kernels without the socket
tracepoints (it is the path such a kernel used to get by default).

Every check line of a guest's tests comes back as
    ok - [KERNEL PATH] TEST: CHECK
and a test that times out, crashes without a failed check, or a guest that
cannot boot, is a "not ok - " line with the reason.  Each kernel ends with
"kernel KERNEL: N passed, N failed"; the exit status is 1 when anything
failed.

Settings (environment):
  SP_KERNELS          regexes of kernel packages, instead of kernels.list
  SP_KERNEL_PATHS     capture paths to run on every kernel that has them,
                      instead of the rule above (e.g. "sock syscalls")
  SP_TEST_FILTER      only the tests whose tests/kernels/NAME contains it
  SP_KERNEL_TEST_TIMEOUT  seconds one test may take in a guest (300)
"""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import guest  # noqa: E402

PATHS = ("sock", "fentry", "kprobes", "syscalls")
# Tests of what every kernel must do, with the hooks `auto` chooses there:
# function spans, attaching, many symbols, HTTP servers of every kind, the
# filters.
KERNEL_TESTS = ["test_funcspans", "test_attach", "test_startup", "test_http_servers",
                "test_run_filters"]
# The HTTP test set, run once per capture path: every server and client
# kind through the forced hooks (test_http_hooks), context propagation,
# and the process life cycle under load.
HTTP_TESTS = ["test_http_hooks", "test_http_context", "test_http_lifecycle"]
TEST_TIMEOUT = int(os.environ.get("SP_KERNEL_TEST_TIMEOUT", "300"))
GUEST_HOOK_SKEW_MS = os.environ.get("SP_GUEST_HOOK_SKEW_MS", "20")
GUEST_CMD = ["python3", "tests/kernels/matrix.py", "--in-guest"]

MARK = "spguest-matrix: "
CHECK = re.compile(r"^(not ok|ok) - (.*)$")


# --- inside the guest ---------------------------------------------------------

def spanprobe(*args, env=None):
    p = subprocess.run([os.path.join(guest.BUILD, "spanprobe"), *args],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout, p.stderr


def guest_probe():
    """Print `spanprobe probes` and, per capture path, one MARK line from
    its table of hook sets: "path P available yes..." or "path P
    unavailable WHY"; "path P unknown" when this build of spanprobe does
    not list it."""
    rc, out, err = spanprobe("probes", env={"SPANPROBE_HTTP_HOOKS": ""})
    print(out + err, end="")
    table = {}
    for line in out.splitlines():
        words = line.split(None, 1)
        if line.startswith("    ") and len(words) == 2 and words[0] in PATHS:
            table[words[0]] = words[1]
    for p in PATHS:
        said = table.get(p)
        if said is None:
            print(f"{MARK}path {p} unknown")
        elif said.startswith("yes"):
            print(f"{MARK}path {p} available {said}")
        else:
            print(f"{MARK}path {p} unavailable {said}")


def guest_run_tests(tests):
    for t in tests:
        print(f"{MARK}begin {t}", flush=True)
        start = time.monotonic()
        try:
            p = subprocess.run([os.path.join("tests", "integration", t + ".py")],
                               stderr=subprocess.STDOUT, timeout=TEST_TIMEOUT)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        print(f"{MARK}end {t} {rc} {time.monotonic() - start:.1f}", flush=True)


def in_guest(argv):
    """--in-guest [--probe] TEST ... (the path comes in SPANPROBE_HTTP_HOOKS)"""
    probe = "--probe" in argv
    tests = [a for a in argv if a.startswith("test_")]
    if probe:
        guest_probe()
    guest_run_tests(tests)


# --- on the host --------------------------------------------------------------

class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def report(self, ok, text):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'ok' if ok else 'not ok'} - {text}", flush=True)


class Boot:
    """One guest boot's lines, turned into the report as they come."""

    def __init__(self, label, tally):
        self.label = label
        self.tally = tally
        self.test = None
        self.checks = 0
        self.bad = 0
        self.paths = {}
        self.times = []

    def line(self, text):
        m = CHECK.match(text)
        if m:
            where = f"[{self.label}] " + (f"{self.test}: " if self.test else "")
            self.checks += 1
            self.bad += m.group(1) == "not ok"
            self.tally.report(m.group(1) == "ok", where + m.group(2))
        elif text.startswith(MARK):
            self.marker(text[len(MARK):].split(" ", 3))
        else:
            print(f"  {text}", flush=True)

    def marker(self, words):
        if words[0] == "path":
            self.paths[words[1]] = (words[2], words[3] if len(words) > 3 else "")
        elif words[0] == "begin":
            self.test, self.checks, self.bad = words[1], 0, 0
            print(f"=== [{self.label}] {self.test}", flush=True)
        elif words[0] == "end":
            rc, secs = words[2], words[3]
            self.times.append((self.test, float(secs)))
            where = f"[{self.label}] {self.test}"
            if rc == "guest-stopped":
                self.tally.report(False, f"{where}: the guest stopped during the test")
            elif rc == "timeout":
                self.tally.report(False, f"{where}: timed out after {TEST_TIMEOUT} s, killed")
            elif rc != "0" and self.bad == 0:
                self.tally.report(False, f"{where}: exited with status {rc}, no failed check")
            elif self.checks == 0:
                self.tally.report(False, f"{where}: reported no check")
            print(f"--- [{self.label}] {self.test}: {secs} s", flush=True)
            self.test = None


def boot_once(label, kdir, args, env, tally, timeout):
    b = Boot(label, tally)
    print(f"### [{label}] boot: {' '.join(args)}"
          + "".join(f" {k}={v}" for k, v in env.items()), flush=True)
    # An emulated CPU, sharing this machine's: the hooks' client/server
    # skew grows from microseconds to milliseconds (tests/integration/lib/httptest.py).
    env = dict({"SP_TEST_HOOK_SKEW_MS": GUEST_HOOK_SKEW_MS}, **env)
    res = guest.boot(kdir, GUEST_CMD + args, env=env, timeout=timeout, on_line=b.line)
    if b.test:
        b.line(f"{MARK}end {b.test} guest-stopped 0")
    if res.status is None:
        tally.report(False, f"[{label}] guest: {res.reason}")
    elif res.status != 0:
        tally.report(False, f"[{label}] guest: the tests' runner exited with status "
                            f"{res.status}")
    print(f"--- [{label}] guest: boot {res.boot_s or 0:.1f} s, in all {res.total_s:.1f} s",
          flush=True)
    return b, res


def wanted(tests):
    """The tests SP_TEST_FILTER keeps: it is matched against
    tests/kernels/NAME, as tests/run.sh matches tests/integration/NAME."""
    f = os.environ.get("SP_TEST_FILTER", "")
    return [t for t in tests if f in "tests/kernels/" + t]


def paths_to_run(offered):
    """The capture paths a kernel's HTTP tests run on: SP_KERNEL_PATHS, or
    every path it offers but the syscalls fallback where it has the socket
    tracepoints.  Paths this build of spanprobe does not know are listed
    too, to be reported as skipped."""
    chosen = os.environ.get("SP_KERNEL_PATHS", "").split()
    if chosen:
        return chosen
    return [p for p in PATHS if offered.get(p, ("",))[0] in ("available", "unknown")
            and not (p == "syscalls" and offered.get("sock", ("",))[0] == "available")]


def run_kernel(regex, tally):
    package = guest.resolve(regex)
    name = guest.kernel_dir(package) if package else ""
    if not package or not os.path.exists(os.path.join(name, ".unpacked")):
        tally.report(False, f"[{regex}] kernel package: none matching is unpacked in "
                            f"{guest.CACHE} (tests/kernels/fetch.sh, run by deploy/deps.sh)")
        return
    short = guest.kernels_sh("kernels_short", package)
    before = (tally.passed, tally.failed)
    timeout = TEST_TIMEOUT * (max(len(HTTP_TESTS), len(KERNEL_TESTS)) + 1) + 120
    first, res = boot_once(short, name, ["--probe"] + wanted(KERNEL_TESTS), {}, tally,
                           timeout)
    times = [("boot", res.boot_s or 0)] + first.times
    if not first.paths and res.status is not None:
        tally.report(False, f"[{short}] spanprobe probes: no capture path reported")
    for p, (state, what) in first.paths.items():
        print(f"# [{short}] --http-hooks {p}: {state} {what}")
    for p in paths_to_run(first.paths):
        state = first.paths.get(p, ("unavailable", ""))[0]
        if state == "unknown":
            # Asked for by name but this build of spanprobe has no such value.
            print(f"# [{short} {p}] skipped: this spanprobe has no --http-hooks {p}")
            continue
        if state != "available" and os.environ.get("SP_KERNEL_PATHS"):
            tally.report(False, f"[{short} {p}] the kernel does not offer {p}: "
                                f"{first.paths.get(p, ('', 'not probed'))[1]}")
            continue
        tests = wanted(HTTP_TESTS)
        if not tests:
            continue
        b, res = boot_once(f"{short} {p}", name, tests,
                           {"SPANPROBE_HTTP_HOOKS": p}, tally, timeout)
        times += [("boot " + p, res.boot_s or 0)] + [(f"{t} {p}", s) for t, s in b.times]
    print(f"# [{short}] seconds: " + ", ".join(f"{t} {s:.0f}" for t, s in times))
    print(f"kernel {short}: {tally.passed - before[0]} passed, "
          f"{tally.failed - before[1]} failed", flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--in-guest":
        in_guest(sys.argv[2:])
        return
    if not wanted(KERNEL_TESTS + HTTP_TESTS):
        print("kernel matrix: no test matches SP_TEST_FILTER; nothing run")
        return
    tally = Tally()
    start = time.monotonic()
    missing = guest.missing_tools()
    if missing:
        tally.report(False, f"kernel matrix: {', '.join(missing)} not installed "
                            "(deploy/deps.sh installs them)")
    elif not os.access(os.path.join(guest.BUILD, "spanprobe"), os.X_OK):
        tally.report(False, f"kernel matrix: no {guest.BUILD}/spanprobe (make all tests-build)")
    else:
        regexes = guest.kernels_sh("kernels_patterns").split()
        if not regexes:
            tally.report(False, "kernel matrix: no kernel listed (kernels.list, SP_KERNELS)")
        for r in regexes:
            run_kernel(r, tally)
    print(f"kernel matrix: {time.monotonic() - start:.0f} s")
    sys.exit(1 if tally.failed or not tally.passed else 0)


if __name__ == "__main__":
    main()
