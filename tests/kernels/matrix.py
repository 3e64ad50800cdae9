#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The kernel matrix: the BPF integration tests inside Debian's kernels,
booted under QEMU (tests/kernels/guest.py), once per HTTP capture path the
kernel offers.

Per kernel (kernels.list, or SP_KERNELS), the first boot prints
`spanprobe probes`, finds which capture paths the kernel offers and runs
the kernel-wide tests (function spans, the process life cycle) and the
HTTP tests (every server and client kind, context propagation) with the
hooks `auto` chooses; then, in the same boot, the HTTP servers and
clients test with SPANPROBE_HTTP_HOOKS set to each other path the kernel
offers, if no kernel before it in the list ran that path (each path once
in the matrix; SP_KERNEL_FULL=1 runs every path on every kernel).  The
`syscalls` fallback runs only on kernels without the socket tracepoints
(it is the path such a kernel used to get by default), and not in the
boot that runs test_before_bpf_loop, whose HTTP tests go through it
(ONCE_PATHS).  SP_KERNEL_PATHS runs the paths it names in boots of their
own.

A boot's lines are printed when it ends.  Inside the guests the tests
leave out their checks that do not depend on the kernel (the host's run
has them): SP_KERNEL_MATRIX_GUEST=1; and a run through a path other than
`auto`'s leaves out those that do not depend on the path (the process
life cycle under `trace`): SP_PATH_CHECKS_ONLY=1.

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
  SP_KERNEL_FULL      1: also attaching, many symbols and the filters, and
                      every capture path on every kernel
  SP_KERNEL_JOBS      kernels run at once (1)
  SP_GUEST_CPUS       emulated CPUs per guest (2; tests/kernels/guest.py)
"""
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import guest  # noqa: E402

PATHS = ("sock", "fentry", "kprobes", "syscalls")
# Tests of what every kernel must do, with the hooks `auto` chooses there:
# function spans and the process life cycle under load.  (Every test here
# reads a ring buffer per CPU from the guest's two CPUs; their merge is
# the daemon's own, checked on the host by test_ring_order.)  SP_KERNEL_FULL=1
# adds attaching, many symbols, HTTP servers of every kind, the filters
# and HTTPS (the host runs them on every `make test`).
KERNEL_TESTS = ["test_funcspans", "test_http_lifecycle"]
# Once in the matrix, in its first kernel (kernels.list puts the oldest
# first: its verifier is the nearest to a 5.15's): HTTP capture as a
# kernel before bpf_loop() (5.17) gets it.
ONCE_TESTS = ["test_before_bpf_loop"]
_once_run = set()
# The capture path a once-test's HTTP tests go through, and the check line
# that shows it: test_before_bpf_loop runs test_http_hooks through its
# default, `syscalls`.  That path's HTTP tests then need no run of their
# own in that boot (its objects with bpf_loop() load in `probes` there,
# and run on the host).
ONCE_PATHS = {"test_before_bpf_loop": (
    "syscalls",
    "[before bpf_loop] test_http_hooks: spanprobe run --http-hooks syscalls: HTTP capture on")}
# With SP_KERNEL_FULL=1 too: TLS plaintext joined to sockets through each
# kernel's hooks (45 s in the 6.1 guest; passed there, not run by default
# to keep `make test` within its time).
FULL_TESTS = ["test_attach", "test_startup", "test_http_servers", "test_run_filters",
              "test_https"]
if os.environ.get("SP_KERNEL_FULL") == "1":
    KERNEL_TESTS += FULL_TESTS
# The HTTP test set, run once per capture path: every server and client
# kind through the forced hooks; with the hooks `auto` chose, context
# propagation and the databases' calls captured whole too.
HTTP_TESTS = ["test_http_hooks"]
AUTO_HTTP_TESTS = ["test_http_hooks", "test_http_context", "test_whole_calls"]
TEST_TIMEOUT = int(os.environ.get("SP_KERNEL_TEST_TIMEOUT", "300"))
GUEST_HOOK_SKEW_MS = os.environ.get("SP_GUEST_HOOK_SKEW_MS", "20")
JOBS = int(os.environ.get("SP_KERNEL_JOBS", "1"))
GUEST_CMD = ["python3", "tests/kernels/matrix.py", "--in-guest"]

MARK = "spguest-matrix: "
CHECK = re.compile(r"^(not ok|ok) - (.*)$")


# --- inside the guest ---------------------------------------------------------

def spanprobe(*args, env=None):
    p = subprocess.run([os.path.join(guest.BUILD, "spanprobe"), *args],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout, p.stderr


AUTO = re.compile(r"^  HTTP capture \(auto: (\w+)\)")
# What guest_probe() found, per capture path: available, unavailable, unknown.
GUEST_PATHS = {}


def guest_probe():
    """Print `spanprobe probes` and, per capture path, one MARK line from
    its table of hook sets: "path P available yes..." or "path P
    unavailable WHY"; "path P unknown" when this build of spanprobe does
    not list it; then "auto P", the set `auto` chose.  Returns P."""
    rc, out, err = spanprobe("probes", env={"SPANPROBE_HTTP_HOOKS": ""})
    print(out + err, end="")
    table = {}
    chosen = ""
    for line in out.splitlines():
        words = line.split(None, 1)
        if line.startswith("    ") and len(words) == 2 and words[0] in PATHS:
            table[words[0]] = words[1]
        m = AUTO.match(line)
        if m:
            chosen = {"sys_exit": "syscalls"}.get(m.group(1), m.group(1))
    for p in PATHS:
        said = table.get(p)
        if said is None:
            GUEST_PATHS[p] = "unknown"
            print(f"{MARK}path {p} unknown")
        elif said.startswith("yes"):
            GUEST_PATHS[p] = "available"
            print(f"{MARK}path {p} available {said}")
        else:
            GUEST_PATHS[p] = "unavailable"
            print(f"{MARK}path {p} unavailable {said}")
    print(f"{MARK}auto {chosen or 'none'}", flush=True)
    return chosen


def guest_run_tests(tests, env=None, name=None):
    for t in tests:
        print(f"{MARK}begin {name or t}", flush=True)
        start = time.monotonic()
        try:
            p = subprocess.run([os.path.join("tests", "integration", t + ".py")],
                               stderr=subprocess.STDOUT, timeout=TEST_TIMEOUT,
                               env=dict(os.environ, **(env or {})))
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        print(f"{MARK}end {name or t} {rc} {time.monotonic() - start:.1f}", flush=True)


def guest_run_path(path, tests):
    """The HTTP tests through capture path `path`, in this boot: each
    test's name carries the path (TEST@PATH)."""
    print(f"{MARK}ran {path}", flush=True)
    # The checks that do not depend on the path ran with `auto`'s.
    env = {"SPANPROBE_HTTP_HOOKS": path, "SP_PATH_CHECKS_ONLY": "1"}
    for t in tests:
        guest_run_tests([t], env, name=f"{t}@{path}")


def in_guest(argv):
    """--in-guest TEST ... [--auto TEST ... [--paths P,P... TEST ...]]: the
    tests before --auto with the environment as given (the path comes in
    SPANPROBE_HTTP_HOOKS); with --auto, `probes` first, and the tests
    after it with SPANPROBE_HTTP_HOOKS set to the set `auto` chose; with
    --paths, the tests after the list once more through each listed path
    the kernel offers besides that one (paths_to_run())."""
    tests = [a for a in argv if a.startswith("test_")]
    if "--auto" not in argv:
        guest_run_tests(tests)
        return
    chosen = guest_probe()
    cut = argv.index("--auto")
    more = argv.index("--paths") if "--paths" in argv else len(argv)
    guest_run_tests([a for a in argv[:cut] if a.startswith("test_")])
    later = [a for a in argv[cut:more] if a.startswith("test_")]
    if chosen in PATHS:
        guest_run_tests(later, {"SPANPROBE_HTTP_HOOKS": chosen})
    if more == len(argv):
        return
    offered = {p: (state, "") for p, state in GUEST_PATHS.items()}
    listed = argv[more + 1].split(",")
    for p in paths_to_run(offered, chosen):
        if p in listed and offered.get(p, ("",))[0] == "available":
            guest_run_path(p, [a for a in argv[more + 2:] if a.startswith("test_")])


# --- on the host --------------------------------------------------------------

class Tally:
    """The counts of every kernel's checks, and the printing of the report:
    each boot's lines are held and printed together when it ends, so that
    kernels run side by side (SP_KERNEL_JOBS) do not mix their reports."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.lock = threading.Lock()

    def count(self, ok, kernel=None):
        """Count a check, in `kernel`'s [passed, failed] too."""
        with self.lock:
            if ok:
                self.passed += 1
            else:
                self.failed += 1
            if kernel is not None:
                kernel[0 if ok else 1] += 1

    def report(self, ok, text, out, kernel=None):
        """Count a check and hold its line in `out`."""
        self.count(ok, kernel)
        out.append(f"{'ok' if ok else 'not ok'} - {text}")

    def flush(self, out):
        with self.lock:
            if out:
                print("\n".join(out), flush=True)
        out.clear()


class Boot:
    """One guest boot's lines, turned into report lines as they come; its
    checks are counted only when the boot is kept (boot_once())."""

    def __init__(self, label):
        self.label = label
        self.out = []
        self.results = []
        self.passed = set()  # the texts of the checks that passed
        self.test = None
        self.checks = 0
        self.bad = 0
        self.paths = {}
        self.auto = None
        self.ran = []  # capture paths whose HTTP tests ran besides auto's
        self.times = []

    def report(self, ok, text):
        self.results.append(ok)
        if ok:
            self.passed.add(text)
        self.out.append(f"{'ok' if ok else 'not ok'} - {text}")

    def line(self, text):
        m = CHECK.match(text)
        if m:
            where = f"[{self.label}] " + (f"{self.test}: " if self.test else "")
            self.checks += 1
            self.bad += m.group(1) == "not ok"
            self.report(m.group(1) == "ok", where + m.group(2))
        elif text.startswith(MARK):
            self.marker(text[len(MARK):].split(" ", 3))
        else:
            self.out.append(f"  {text}")

    def marker(self, words):
        if words[0] == "path":
            self.paths[words[1]] = (words[2], words[3] if len(words) > 3 else "")
        elif words[0] == "auto":
            self.auto = words[1]
        elif words[0] == "ran":
            self.ran.append(words[1])
        elif words[0] == "begin":
            self.test, self.checks, self.bad = words[1], 0, 0
            self.out.append(f"=== [{self.label}] {self.test}")
        elif words[0] == "end":
            rc, secs = words[2], words[3]
            self.times.append((self.test, float(secs)))
            where = f"[{self.label}] {self.test}"
            if rc == "guest-stopped":
                self.report(False, f"{where}: the guest stopped during the test")
            elif rc == "timeout":
                self.report(False, f"{where}: timed out after {TEST_TIMEOUT} s, killed")
            elif rc != "0" and self.bad == 0:
                self.report(False, f"{where}: exited with status {rc}, no failed check")
            elif self.checks == 0:
                self.report(False, f"{where}: reported no check")
            self.out.append(f"--- [{self.label}] {self.test}: {secs} s")
            self.test = None


def boot_guest(label, kdir, args, env, timeout):
    b = Boot(label)
    b.out.append(f"### [{label}] boot: {' '.join(args)}"
                 + "".join(f" {k}={v}" for k, v in env.items()))
    # An emulated CPU, sharing this machine's: the hooks' client/server
    # skew grows from microseconds to milliseconds (tests/integration/lib/httptest.py).
    # The tests leave the checks that do not depend on the kernel to the
    # host (tests/integration/lib/sptest.py).
    env = dict({"SP_TEST_HOOK_SKEW_MS": GUEST_HOOK_SKEW_MS,
                "SP_KERNEL_MATRIX_GUEST": "1"}, **env)
    res = guest.boot(kdir, GUEST_CMD + args, env=env, timeout=timeout, on_line=b.line)
    if b.test:
        b.line(f"{MARK}end {b.test} guest-stopped 0")
    if res.status is None:
        b.report(False, f"[{label}] guest: {res.reason}")
    elif res.status != 0:
        b.report(False, f"[{label}] guest: the tests' runner exited with status "
                        f"{res.status}")
    b.out.append(f"--- [{label}] guest: boot {res.boot_s or 0:.1f} s, in all "
                 f"{res.total_s:.1f} s")
    return b, res


def boot_once(label, kdir, args, env, tally, kernel, timeout):
    """One boot, its checks counted.  A guest whose kernel panicked is
    booted once more: under emulation a kernel now and then crashes while
    probes are attached (its RIP inside code just patched), which no BPF
    program can cause; its report is kept, shown but not counted.  A
    second panic counts."""
    b, res = boot_guest(label, kdir, args, env, timeout)
    if res.panicked:
        first = ["  | " + x for x in b.out]
        first.insert(0, f"# [{label}] the guest's kernel panicked; booting it again. "
                        f"The first boot's report, not counted:")
        tally.flush(first)
        b, res = boot_guest(label, kdir, args, env, timeout)
    for ok in b.results:
        tally.count(ok, kernel)
    tally.flush(b.out)
    return b, res


def wanted(tests):
    """The tests SP_TEST_FILTER keeps: it is matched against
    tests/kernels/NAME, as tests/run.sh matches tests/integration/NAME."""
    f = os.environ.get("SP_TEST_FILTER", "")
    return [t for t in tests if f in "tests/kernels/" + t]


def paths_to_run(offered, auto):
    """The capture paths a kernel's HTTP tests run on in boots of their own:
    SP_KERNEL_PATHS, or every path it offers but the one `auto` chose (its
    HTTP tests ran in the first boot) and the syscalls fallback where it
    has the socket tracepoints.  Paths this build of spanprobe does not
    know are listed too, to be reported as skipped."""
    chosen = os.environ.get("SP_KERNEL_PATHS", "").split()
    if chosen:
        return chosen
    return [p for p in PATHS if offered.get(p, ("",))[0] in ("available", "unknown")
            and p != auto
            and not (p == "syscalls" and offered.get("sock", ("",))[0] == "available")]


# Capture paths whose HTTP tests ran on a kernel already (each runs once).
RAN_PATHS = set()
RAN_LOCK = threading.Lock()


def paths_not_run():
    """The capture paths no kernel has run the HTTP tests through yet
    (every path with SP_KERNEL_FULL=1)."""
    if os.environ.get("SP_KERNEL_FULL") == "1":
        return list(PATHS)
    with RAN_LOCK:
        return [p for p in PATHS if p not in RAN_PATHS]


def first_run_of(path, kernel):
    """True when `path` has not run on another kernel yet (and notes it)."""
    if os.environ.get("SP_KERNEL_FULL") == "1" or os.environ.get("SP_KERNEL_PATHS"):
        return True
    with RAN_LOCK:
        if path in RAN_PATHS:
            return False
        RAN_PATHS.add(path)
        return True


def run_kernel(regex, tally):
    package = guest.resolve(regex)
    name = guest.kernel_dir(package) if package else ""
    note = []
    if not package or not os.path.exists(os.path.join(name, ".unpacked")):
        tally.report(False, f"[{regex}] kernel package: none matching is unpacked in "
                            f"{guest.CACHE} (tests/kernels/fetch.sh, run by deploy/deps.sh)",
                     note)
        tally.flush(note)
        return
    short = guest.kernels_sh("kernels_short", package)
    kernel = [0, 0]
    auto_http = [] if os.environ.get("SP_KERNEL_PATHS") else wanted(AUTO_HTTP_TESTS)
    once = [t for t in wanted(ONCE_TESTS) if t not in _once_run]
    _once_run.update(once)
    args = wanted(KERNEL_TESTS) + once + ["--auto"] + auto_http
    # The other paths' HTTP tests in the same boot (a boot under emulation
    # costs tens of seconds): the guest runs those it offers.
    covered = {ONCE_PATHS[t][0]: t for t in once if t in ONCE_PATHS}
    extra = [p for p in paths_not_run() if p not in covered] \
        if auto_http and wanted(HTTP_TESTS) else []
    if extra:
        args += ["--paths", ",".join(extra)] + wanted(HTTP_TESTS)
    timeout = TEST_TIMEOUT * (len(AUTO_HTTP_TESTS) + len(KERNEL_TESTS) + len(once) + 1
                              + len(extra) * len(HTTP_TESTS)) + 120
    first, res = boot_once(short, name, args, {}, tally, kernel, timeout)
    times = [("boot", res.boot_s or 0)] + first.times
    if not first.paths and res.status is not None:
        tally.report(False, f"[{short}] spanprobe probes: no capture path reported", note,
                     kernel)
    for p, (state, what) in first.paths.items():
        note.append(f"# [{short}] --http-hooks {p}: {state} {what}")
        # A kernel that has the hooks but refuses our objects (the
        # verifier) is our bug, even when `auto` falls back to another.
        if state == "unavailable" and "loading failed" in what:
            tally.report(False, f"[{short}] --http-hooks {p}: the kernel has its hooks "
                                f"but refused the programs: {what}", note, kernel)
        elif state == "available":
            tally.report(True, f"[{short}] --http-hooks {p}: its programs load", note, kernel)
    if first.auto:
        first_run_of(first.auto, short)
        note.append(f"# [{short}] auto chose {first.auto}; its HTTP tests ran in the first boot")
    for p in first.ran:
        first_run_of(p, short)
        note.append(f"# [{short}] --http-hooks {p}: its HTTP tests ran in the first boot too")
    for p, t in covered.items():
        said = f"[{short}] {t}: " + ONCE_PATHS[t][1]
        ran = said in first.passed
        tally.report(ran, f"[{short}] --http-hooks {p}: its HTTP tests ran in {t}", note,
                     kernel)
        if ran:
            first_run_of(p, short)
    tally.flush(note)
    timeout = TEST_TIMEOUT * (len(HTTP_TESTS) + 1) + 120
    for p in paths_to_run(first.paths, first.auto):
        if p in first.ran or p in covered:
            continue
        state = first.paths.get(p, ("unavailable", ""))[0]
        if state == "unknown":
            # Asked for by name but this build of spanprobe has no such value.
            note.append(f"# [{short} {p}] skipped: this spanprobe has no --http-hooks {p}")
            continue
        if state != "available" and os.environ.get("SP_KERNEL_PATHS"):
            tally.report(False, f"[{short} {p}] the kernel does not offer {p}: "
                                f"{first.paths.get(p, ('', 'not probed'))[1]}", note, kernel)
            continue
        tests = wanted(HTTP_TESTS)
        if not tests:
            continue
        if state == "available" and not first_run_of(p, short):
            note.append(f"# [{short} {p}] its HTTP tests ran on an earlier kernel "
                        "(SP_KERNEL_FULL=1 runs them here too)")
            continue
        b, res = boot_once(f"{short} {p}", name, tests,
                           {"SPANPROBE_HTTP_HOOKS": p}, tally, kernel, timeout)
        times += [("boot " + p, res.boot_s or 0)] + [(f"{t} {p}", s) for t, s in b.times]
    note.append(f"# [{short}] seconds: " + ", ".join(f"{t} {s:.0f}" for t, s in times))
    note.append(f"kernel {short}: {kernel[0]} passed, {kernel[1]} failed")
    tally.flush(note)
def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--in-guest":
        in_guest(sys.argv[2:])
        return
    if not wanted(KERNEL_TESTS + ONCE_TESTS + AUTO_HTTP_TESTS):
        print("kernel matrix: no test matches SP_TEST_FILTER; nothing run")
        return
    tally = Tally()
    out = []
    start = time.monotonic()
    missing = guest.missing_tools()
    if missing:
        tally.report(False, f"kernel matrix: {', '.join(missing)} not installed "
                            "(deploy/deps.sh installs them)", out)
    elif not os.access(os.path.join(guest.BUILD, "spanprobe"), os.X_OK):
        tally.report(False, f"kernel matrix: no {guest.BUILD}/spanprobe (make all tests-build)",
                     out)
    else:
        regexes = guest.kernels_sh("kernels_patterns").split()
        if not regexes:
            tally.report(False, "kernel matrix: no kernel listed (kernels.list, SP_KERNELS)", out)
        # A worker per kernel, JOBS at a time; each prints as its boots end.
        todo = list(regexes)
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    r = todo.pop(0)
                run_kernel(r, tally)

        workers = [threading.Thread(target=worker) for _ in range(max(1, JOBS))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    tally.flush(out)
    print(f"kernel matrix: {time.monotonic() - start:.0f} s")
    sys.exit(1 if tally.failed or not tally.passed else 0)


if __name__ == "__main__":
    main()
