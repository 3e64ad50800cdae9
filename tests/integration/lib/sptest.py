# SPDX-License-Identifier: MIT
"""Helpers shared by the integration tests: run spanprobe, read its
OTLP/JSON output, and report checks as "ok - NAME" / "not ok - NAME"."""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("SP_BUILD", "build"))
SPANPROBE = os.path.join(BUILD, "spanprobe")
PROGRAMS = os.path.join(BUILD, "tests", "programs")
# Inside a guest of the kernel matrix (tests/kernels/matrix.py sets it),
# where time is dear: checks that do not depend on the kernel (options,
# output formats, settings) are left to the run on the host.
IN_KERNEL_MATRIX = os.environ.get("SP_KERNEL_MATRIX_GUEST") == "1"

_failed = 0
_passed = 0


def check(name, cond, detail=""):
    """Report one check; a failing check prints what was seen."""
    global _failed, _passed
    if cond:
        _passed += 1
        print(f"ok - {name}")
    else:
        _failed += 1
        print(f"not ok - {name}" + (f": {detail}" if detail else ""))
    sys.stdout.flush()
    return cond


def finish():
    print(f"# {_passed} checks passed, {_failed} failed")
    sys.exit(1 if _failed else 0)


def require_root():
    if os.geteuid() != 0:
        check("running as root (BPF tests load programs)", False,
              "run the tests as root")
        finish()


def program(name):
    return os.path.join(PROGRAMS, name)


class Target:
    """nested in stdin mode: runs N iterations per line it reads (or
    `argv`, a program that says "ready" and answers each N likewise)."""

    def __init__(self, env=None, argv=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv or [program("nested"), "stdin"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=full_env)
        assert self.proc.stdout.readline().strip() == "ready"

    def run(self, n):
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip() == f"ok {n}"

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class Agent:
    """spanprobe attach, with stderr watched for the start-up line; `output`
    says where spans go (OTLP/JSON on stdout by default)."""

    def __init__(self, pid, symbols, env=None, output=("-o", "otlp-json")):
        args = [SPANPROBE, "attach", "-v", *output, "-p", str(pid)]
        for s in symbols:
            args += ["-u", s]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=full_env)
        self.err = []
        self.out_parts = []
        self.ready = threading.Event()
        # Both pipes read by threads: communicate() would race the stderr reader.
        self.readers = [threading.Thread(target=self._read_err, daemon=True),
                        threading.Thread(target=self._read_out, daemon=True)]
        for r in self.readers:
            r.start()
        self.out = ""
        self.started = self.ready.wait(20)

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line)
            if "tracing " in line and " functions in process " in line:
                self.ready.set()

    def _read_out(self):
        self.out_parts.append(self.proc.stdout.read())

    def wait(self, timeout=30):
        self.proc.wait(timeout=timeout)
        for r in self.readers:
            r.join(5)
        self.out = "".join(self.out_parts)
        return self.proc.returncode


def run(args, env=None, timeout=120, stdin=None):
    """Run spanprobe with args; returns (rc, stdout, stderr)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run([SPANPROBE] + args, capture_output=True, text=True,
                       env=full_env, timeout=timeout, input=stdin)
    return p.returncode, p.stdout, p.stderr


def run_json(args, env=None, timeout=120):
    """Run spanprobe with OTLP/JSON written to a file (so a traced command's
    own stdout cannot interleave with it); returns (rc, spans, stderr)."""
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    try:
        sub = args.index("--") if "--" in args else len(args)
        full = args[:sub] + ["-o", "otlp-json", "--output-file", path] + args[sub:]
        rc, _, err = run(full, env=env, timeout=timeout)
        with open(path) as f:
            return rc, parse_otlp_json(f.read()), err
    finally:
        os.unlink(path)


def parse_otlp_json(text):
    """Spans of OTLP/JSON lines, each a dict with '_resource' (attributes as
    a dict of plain values) and '_attrs' (the span's attributes)."""
    spans = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        req = json.loads(line)
        for rs in req["resourceSpans"]:
            res = attrs_to_dict(rs["resource"]["attributes"])
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    span["_resource"] = res
                    span["_scope"] = ss["scope"]
                    span["_attrs"] = attrs_to_dict(span.get("attributes", []))
                    spans.append(span)
    return spans


def attrs_to_dict(attrs):
    out = {}
    for kv in attrs:
        value = kv["value"]
        if "stringValue" in value:
            out[kv["key"]] = value["stringValue"]
        elif "intValue" in value:
            out[kv["key"]] = int(value["intValue"])
        elif "boolValue" in value:
            out[kv["key"]] = value["boolValue"]
        elif "doubleValue" in value:
            out[kv["key"]] = value["doubleValue"]
    return out


def is_hex_id(value, length):
    return (isinstance(value, str) and len(value) == length
            and all(c in "0123456789abcdef" for c in value)
            and value != "0" * length)


REPORT_LINE = re.compile(r"^spanprobe: (spans|dropped|events|export): (.*)$")


def exit_report(err):
    """The counters of the last report spanprobe printed, keyed
    "line: name" ("spans: started", "dropped: at shutdown", ...)."""
    counters = {}
    for line in err.splitlines():
        report_line_counters(line, counters)
    return counters


def report_line_counters(line, counters):
    """Add the counters of one report line to `counters` (keyed as
    exit_report() keys them); False when the line is not a report line."""
    m = REPORT_LINE.match(line)
    if not m:
        return False
    for part in m.group(2).split(", "):
        num, _, name = part.partition(" ")
        if num.isdigit():
            counters[f"{m.group(1)}: {name}"] = int(num)
    return True


def report_sums(c):
    """The two identities of an exit report, as (started, ended, finished,
    gone): every span started is counted once where it ended, every span
    finished once where it went."""
    ended = (c["spans: finished"] + c["spans: not sampled"] + c["spans: filtered out"]
             + c["dropped: unfinished"] + c["events: calls that never returned"]
             + c["events: calls open at exit"])
    gone = (c["spans: exported"] + c["spans: failed"]
            + c["spans: timed out (outcome unknown)"] + c["dropped: queue full"]
            + c["dropped: at shutdown"])
    return c["spans: started"], ended, c["spans: finished"], gone


def check_report_sums(name, err):
    """Check that the exit report adds up (report_sums).  Returns the
    counters (empty when no report was printed)."""
    c = exit_report(err)
    need = ("spans: started", "events: calls open at exit", "dropped: at shutdown")
    if not check(f"{name}: exit report printed", all(k in c for k in need), err[-2000:]):
        return {}
    started, ended, finished, gone = report_sums(c)
    check(f"{name}: started = finished + not sampled + filtered + unfinished"
          " + never returned + open at exit", started == ended,
          f"{started} != {ended}: {c}")
    check(f"{name}: finished = exported + failed + timed out + queue full + at shutdown",
          finished == gone, f"{finished} != {gone}: {c}")
    return c


READY_LINE = "tracing HTTP of every process"


def wait_started(proc, limit=30):
    """The stderr of `spanprobe run -v` (proc, its stderr a text pipe) up to
    the line that says it traces, or its end: the probes are attached.  A
    fixed wait lost that race when the host was slow."""
    head = ""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        head += line
        if not line or READY_LINE in line:
            break
    return head
