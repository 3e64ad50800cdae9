#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Function spans, for real: spanprobe loads its BPF programs, traces the
test programs by uprobes, and the spans it prints are checked exactly."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import sptest  # noqa: E402
from sptest import (IN_KERNEL_MATRIX, SPANPROBE, check, check_report_sums, finish,  # noqa: E402
                    is_hex_id, program, require_root)

require_root()
NESTED = program("nested")


def guest_args(args):
    """In an emulated guest `trace` goes without HTTP capture: verifying the
    socket programs costs each start a quarter of a minute there, and the
    guests' HTTP tests load them anyway.  The host traces as users do."""
    if IN_KERNEL_MATRIX and args[:1] == ["trace"]:
        return ["trace", "--no-http"] + args[1:]
    return args


def run(args, **kw):
    return sptest.run(guest_args(args), **kw)


def run_json(args, **kw):
    return sptest.run_json(guest_args(args), **kw)


def by_name(spans, name):
    return [s for s in spans if s["name"] == name]


def test_trace_nesting():
    before = time.time_ns()
    # The queue holds the whole run: this test is about structure, not
    # about the drop policy of a full queue.
    rc, spans, err = run_json(["trace", "-u", "inner", "-u", "outer",
                               "--", NESTED, "1000", "0", "0", "3"],
                              env={"OTEL_BSP_MAX_QUEUE_SIZE": "8192"})
    after = time.time_ns()
    outer, inner = by_name(spans, "outer"), by_name(spans, "inner")
    check("trace exits with the command's status", rc == 3, f"rc={rc} {err}")
    check("1000 outer spans", len(outer) == 1000, len(outer))
    check("3000 inner spans", len(inner) == 3000, len(inner))
    check("no other spans", len(spans) == 4000, len(spans))
    outer_by_id = {s["spanId"]: s for s in outer}
    children = {}
    nested_ok = True
    for s in inner:
        parent = outer_by_id.get(s.get("parentSpanId"))
        if (not parent or parent["traceId"] != s["traceId"]
                or int(s["startTimeUnixNano"]) < int(parent["startTimeUnixNano"])
                or int(s["endTimeUnixNano"]) > int(parent["endTimeUnixNano"])):
            nested_ok = False
        children[s.get("parentSpanId")] = children.get(s.get("parentSpanId"), 0) + 1
    check("every inner is a child of an outer, same trace, inside its time",
          nested_ok)
    check("every outer has exactly 3 children",
          len(children) == 1000 and set(children.values()) == {3})
    check("outer spans are roots", all("parentSpanId" not in s for s in outer))
    check("one trace per outer call", len({s["traceId"] for s in outer}) == 1000)
    check("trace and span IDs are valid and unique",
          all(is_hex_id(s["traceId"], 32) and is_hex_id(s["spanId"], 16) for s in spans)
          and len({s["spanId"] for s in spans}) == 4000)
    check("start/end are Unix times within the run",
          all(before <= int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]) <= after
              for s in spans))
    s = inner[0]
    pid = s["_resource"].get("process.pid")
    check("kind INTERNAL, attributes code.function.name/thread.id/process.pid",
          s["kind"] == 1 and s["_attrs"] == {"code.function.name": "inner",
                                             "thread.id": pid, "process.pid": pid},
          s["_attrs"])
    res = s["_resource"]
    expected = {
        "service.name": "unknown_service:nested",
        "process.pid": pid,
        "process.executable.name": "nested",
        "process.executable.path": os.path.realpath(NESTED),
        "host.name": socket.gethostname(),
        "telemetry.sdk.name": "spanprobe",
        "telemetry.sdk.language": "cpp",
    }
    check("resource attributes", all(res.get(k) == v for k, v in expected.items())
          and res.get("telemetry.sdk.version") and "process.command_line" not in res, res)
    check("scope is spanprobe", s["_scope"]["name"] == "spanprobe")
    check("exit report counts 4000 exported, none lost",
          "4000 exported" in err and "0 lost" in err and "0 unmatched" in err, err)


def test_recursion():
    rc, spans, err = run_json(["trace", "-u", "recurse", "--", NESTED, "1", "5"])
    check("recursion: 6 spans for recurse(5)", len(spans) == 6, len(spans))
    ids = {s["spanId"]: s for s in spans}
    roots = [s for s in spans if "parentSpanId" not in s]
    depth_ok = len(roots) == 1
    for s in spans:
        if "parentSpanId" in s:
            p = ids.get(s["parentSpanId"])
            depth_ok &= p is not None and p["traceId"] == s["traceId"]
    parents = [s.get("parentSpanId") for s in spans]
    check("recursion: one chain, each call the child of the one before",
          depth_ok and len(set(parents)) == 6, parents)


def test_text_output():
    rc, out, err = run(["trace", "-u", "inner", "--", NESTED, "2"])
    lines = out.splitlines()
    span_lines = [line for line in lines if " INTERNAL " in line]
    check("text: one line per span", len(span_lines) == 6, out)
    check("text: a resource line", sum(1 for line in lines if line.startswith("resource pid=")) == 1)
    check("text: line names the span, status, IDs and attributes",
          all(" inner status=UNSET trace=" in line and " span=" in line
              and 'code.function.name="inner"' in line for line in span_lines))


def test_shared_library():
    rc, spans, err = run_json(["trace", "-u", "libspwork.so:lib_work",
                               "--", program("uselib"), "7"])
    check("shared library (found through RUNPATH): 7 lib_work spans",
          rc == 0 and len(spans) == 7 and all(s["name"] == "lib_work" for s in spans),
          f"rc={rc} n={len(spans)} {err}")


def test_default_symbol_version():
    rc, spans, err = run_json(["trace", "-u", "libc.so.6:sched_getaffinity",
                               "--", program("affinity"), "5"])
    check("libc symbol with a compat version: the default version is traced (5 spans)",
          rc == 0 and len(spans) == 5, f"{len(spans)} {err}")


# foo@V1 (a hidden compat version) and foo@@V2 (the default) of one
# library; the program calls foo() COUNT times and the V1 one twice as often.
VERSIONED_LIB = r"""
__attribute__((noinline)) int foo_v1(int x) { __asm__ volatile(""); return x + 1; }
__attribute__((noinline)) int foo_v2(int x) { __asm__ volatile("nop"); return x + 2; }
__asm__(".symver foo_v1, foo@V1");
__asm__(".symver foo_v2, foo@@V2");
"""
VERSIONED_MAP = "V1 { global: foo; local: *; };\nV2 { global: foo; } V1;\n"
VERSIONED_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
int foo(int);
int foo_old(int);
__asm__(".symver foo_old, foo@V1");
int main(int argc, char **argv)
{
	int n = atoi(argv[1]), s = 0;
	for (int i = 0; i < n; i++)
		s += foo(i);
	for (int i = 0; i < 2 * n; i++)
		s += foo_old(i);
	printf("%d\n", s);
	return 0;
}
"""


def build_versioned(tmp, strip):
    """libfoov.so and a program using it; stripped as distributions ship
    libraries (.dynsym only, the versions in .gnu.version and
    .gnu.version_d), or with its .symtab (versioned names: "foo@@V2")."""
    for name, text in (("libfoov.c", VERSIONED_LIB), ("libfoov.map", VERSIONED_MAP),
                       ("main.c", VERSIONED_MAIN)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    lib, exe = os.path.join(tmp, "libfoov.so"), os.path.join(tmp, "usefoov")
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-Wl,--version-script=" +
                    os.path.join(tmp, "libfoov.map"), os.path.join(tmp, "libfoov.c"),
                    "-o", lib], check=True)
    if strip:
        subprocess.run(["strip", lib], check=True)
    subprocess.run(["cc", "-O1", os.path.join(tmp, "main.c"), "-o", exe, "-L" + tmp,
                    "-lfoov", "-Wl,-rpath," + tmp], check=True)
    sections = subprocess.run(["readelf", "-S", lib], capture_output=True, text=True).stdout
    check(f"versioned library: .symtab {'stripped' if strip else 'kept'}",
          (".symtab" in sections) != strip, sections)
    return exe


def test_versioned_symbols():
    """name@@VER is the default version VER, name@VER version VER even when
    hidden, a bare name the default; the span is named by the bare name."""
    for strip in (True, False):
        what = "stripped library" if strip else "library with .symtab"
        with tempfile.TemporaryDirectory() as tmp:
            exe = build_versioned(tmp, strip)
            for sym, calls in (("foo", 3), ("foo@@V2", 3), ("foo@V2", 3), ("foo@V1", 6)):
                rc, spans, err = run_json(["trace", "-u", "libfoov.so:" + sym, "--", exe, "3"])
                check(f"{what}, -u libfoov.so:{sym}: {calls} spans named foo",
                      rc == 0 and len(spans) == calls
                      and all(s["name"] == "foo"
                              and s["_attrs"]["code.function.name"] == "foo"
                              for s in spans), f"rc={rc} {[s['name'] for s in spans]} {err}")
            for sym in ("foo@@V1", "foo@V3"):
                rc, out, err = run(["trace", "-u", "libfoov.so:" + sym, "--", exe, "3"])
                check(f"{what}, -u libfoov.so:{sym}: no such version, refused",
                      rc != 0 and f"'{sym}' not found" in err, f"rc={rc} {err}")


def test_sampling():
    rc, spans, err = run_json(["trace", "-u", "inner", "-u", "outer", "--", NESTED, "100"],
                              env={"OTEL_TRACES_SAMPLER": "always_off"})
    check("always_off: no span exported, 400 not sampled",
          rc == 0 and not spans and "400 not sampled" in err, err)
    rc, spans, err = run_json(["trace", "-u", "inner", "-u", "outer", "--", NESTED, "1000"],
                              env={"OTEL_TRACES_SAMPLER": "traceidratio",
                                   "OTEL_TRACES_SAMPLER_ARG": "0.5"})
    kept = re.search(r"(\d+) exported", err)
    dropped = re.search(r"(\d+) not sampled", err)
    outer = {s["spanId"] for s in spans if s["name"] == "outer"}
    inner = [s for s in spans if s["name"] == "inner"]
    check("traceidratio 0.5: whole traces kept or dropped, counts add up to 4000",
          kept and dropped and int(kept.group(1)) + int(dropped.group(1)) == 4000
          and 0 < len(outer) < 1000 and len(inner) == 3 * len(outer)
          and all(s["parentSpanId"] in outer for s in inner), err)
    rc, spans, err = run_json(["trace", "-u", "inner", "--", NESTED, "2"],
                              env={"OTEL_TRACES_SAMPLER": "jaeger_remote"})
    check("an unsupported sampler is reported and the default used",
          rc == 0 and len(spans) == 6 and "jaeger_remote" in err, err)


def test_threads():
    rc, spans, err = run_json(["trace", "-u", "work", "-u", "leave",
                               "--", program("threads"), "4", "25"])
    work = by_name(spans, "work")
    pid = work[0]["_resource"]["process.pid"] if work else None
    tids = {s["_attrs"]["thread.id"] for s in work}
    check("threads: 100 work spans, none for leave()",
          len(work) == 100 and not by_name(spans, "leave"), len(spans))
    check("threads: 4 worker thread ids, none the main thread",
          len(tids) == 4 and pid not in tids, tids)
    check("threads: the call that never returned is counted",
          "1 calls that never returned" in err and " 0 calls open at exit" in err, err)
    # 16 threads wait inside leave() while the main thread ends the
    # process: 17 threads in do_exit at once, each one's open call counted
    # whichever of them finds the process over first.
    rc, spans, err = run_json(["trace", "-u", "leave", "--", program("threads"),
                               "exit-all", "16"])
    check("threads: 16 threads ending with their process, each call counted",
          rc == 0 and not spans and "16 calls that never returned" in err
          and " 0 calls open at exit" in err, err)
    # Which thread reaches its exit tracepoint last is the kernel's to
    # choose; the exit program's rule is checked by running it here
    # (BPF_PROG_TEST_RUN) for each state of this process in the maps.
    tool = os.path.join(sptest.BUILD, "tests", "tools", "task_exit_run")
    p = subprocess.run([tool], capture_output=True, text=True, timeout=300)
    check("the exit program: a record for a tracked process and for one ended "
          "but not freed, none otherwise",
          p.returncode == 0 and p.stdout.split() ==
          ["untracked", "0", "tracked", "1", "ended", "1", "gone", "0"],
          p.stdout + p.stderr)


def test_command_line_opt_in():
    rc, spans, err = run_json(["trace", "--with-command-line", "-u", "inner",
                               "--", NESTED, "1"])
    check("process.command_line only when asked",
          spans and spans[0]["_resource"].get("process.command_line") == f"{NESTED} 1",
          spans[0]["_resource"] if spans else err)


def test_resource_env():
    env = {"OTEL_SERVICE_NAME": "checkout",
           "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test%20env, team = core"}
    rc, spans, err = run_json(["trace", "-u", "inner", "--", NESTED, "1"], env=env)
    res = spans[0]["_resource"] if spans else {}
    check("OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (percent-decoded)",
          res.get("service.name") == "checkout"
          and res.get("deployment.environment") == "test env"
          and res.get("team") == "core", res)
    rc, spans, err = run_json(["trace", "-u", "inner", "--", NESTED, "1"],
                              env={"OTEL_RESOURCE_ATTRIBUTES": "team=core,broken"})
    check("malformed OTEL_RESOURCE_ATTRIBUTES is reported and ignored as a whole",
          rc == 0 and len(spans) == 3 and "team" not in spans[0]["_resource"]
          and "OTEL_RESOURCE_ATTRIBUTES" in err and "malformed" in err, err)


def test_full_queue_is_counted():
    """A queue too small for the run: every span is either exported or
    counted as dropped, and the output holds exactly the exported ones."""
    rc, spans, err = run_json(["trace", "-u", "inner", "-u", "outer", "--", NESTED, "2000"],
                              env={"OTEL_BSP_MAX_QUEUE_SIZE": "32",
                                   "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "8"})
    exported = re.search(r"(\d+) exported", err)
    dropped = re.search(r"dropped: (\d+) queue full", err)
    ok = exported and dropped
    check("full queue: exported + dropped (queue full) = 8000 spans, output = exported",
          ok and int(exported.group(1)) + int(dropped.group(1)) == 8000
          and len(spans) == int(exported.group(1)), err)


def test_open_at_exit_counted():
    """Stopped inside a call: that call has no end and no span, but it was
    started, so the report counts it (open at exit) and adds up."""
    # outer() lasts 400 ms (100 ms per spin), one after the other: a
    # signal always finds exactly one open.
    prog = subprocess.Popen([NESTED, "1000", "0", "100000"], stdout=subprocess.DEVNULL)
    sp = subprocess.Popen([SPANPROBE, "attach", "-v", "-p", str(prog.pid), "-u", "outer",
                           "--no-http", "-o", "otlp-json", "--output-file", os.devnull],
                          stderr=subprocess.PIPE, text=True)
    # From the moment the probes are in (slow to come on an emulated CPU):
    # 2.5 s is five calls of outer() or more.
    head = ""
    deadline = time.monotonic() + 60
    while "tracing 1 functions" not in head and time.monotonic() < deadline:
        line = sp.stderr.readline()
        if not line:
            break
        head += line
    time.sleep(2.5)
    sp.send_signal(signal.SIGINT)
    _, err = sp.communicate(timeout=30)
    err = head + err
    prog.kill()
    prog.wait()
    c = check_report_sums("stopped inside a call", err)
    check("stopped inside a call: exactly 1 call open at exit, spans finished",
          c.get("events: calls open at exit") == 1 and c.get("spans: finished", 0) >= 2, str(c))


def test_ringbuf_loss_accounted():
    """A ring buffer far too small for a fast loop: records are lost, and
    still every span started is accounted for.  A reader that keeps up on
    an idle machine loses nothing: the run is repeated until it does."""
    for attempt in range(5):
        rc, out, err = run(["trace", "--ringbuf-size", "4096", "-u", "inner", "-u", "outer",
                            "-o", "otlp-json", "--output-file", os.devnull,
                            "--", NESTED, "50000"])
        c = check_report_sums(f"ring-buffer loss (run {attempt + 1})", err)
        if c.get("events: lost (ring buffer full)", 0) > 0:
            break
    check("ring-buffer loss: records were lost, spans were started",
          c.get("events: lost (ring buffer full)", 0) > 0 and c.get("spans: started", 0) > 0,
          str(c))


def test_forked_children():
    """A prefork-style command: the function probes are per process, so
    each child (and grandchild) gets its own when its fork is read.  The
    children call work() after a short sleep, so every call is counted:
    1 in the parent, 3, 4 and 5 in the children, 2 in the grandchild,
    each span with its own process's PID; the links go with each child."""
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    try:
        rc, out, err = run(["trace", "-u", "work", "-o", "otlp-json", "--output-file", path,
                            "--", program("forks"), "3", "3", "300"])
        with open(path) as f:
            spans = sptest.parse_otlp_json(f.read())
    finally:
        os.unlink(path)
    calls = {int(m.group(1)): int(m.group(2))
             for m in re.finditer(r"^pid (\d+) calls (\d+)$", out, re.M)}
    check("forked children: the command ran, 5 processes called work()",
          rc == 0 and sorted(calls.values()) == [1, 2, 3, 4, 5], f"rc={rc} {calls} {err[-500:]}")
    got = {}
    for s in spans:
        pid = s["_resource"].get("process.pid")
        got[pid] = got.get(pid, 0) + 1
    check("forked children: one span per call, 15 in all", len(spans) == 15,
          f"{len(spans)} spans")
    check("forked children: each process's spans carry its own process.pid",
          got == calls, f"spans per pid {got}, calls per pid {calls}")
    check("forked children: the children's spans name the program",
          all(s["_resource"].get("process.executable.name") == "forks" for s in spans))
    check("forked children: 4 children got the probes, all let go at their end",
          "children: 4 given the function probes, 0 ended before them, 0 refused "
          "(--max-processes), 0 refused by the kernel, 0 holding them now" in err,
          err[-1000:])
    check_report_sums("forked children", err)


# What the kernel does: probes, nesting, libraries, threads, the ring
# buffer, exit.  The rest is the same on every kernel (the host runs it).
KERNEL = (test_open_at_exit_counted, test_ringbuf_loss_accounted, test_trace_nesting,
          test_recursion, test_shared_library, test_threads, test_forked_children)
HOST = (test_sampling, test_default_symbol_version, test_versioned_symbols,
        test_full_queue_is_counted, test_text_output, test_command_line_opt_in,
        test_resource_env)
for t in KERNEL + (() if IN_KERNEL_MATRIX else HOST):
    t()
finish()
