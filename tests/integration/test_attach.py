#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`spanprobe attach` to a running process: exact spans while attached,
the process's own OTEL_* settings, a flush on SIGTERM, exit when the
process exits, libraries found through /proc/PID/maps, and a program or
a library replaced on disk while it runs."""
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import (Agent, Target, check, finish, parse_otlp_json, program,  # noqa: E402
                    require_root)

require_root()


def test_attach_until_exit():
    target = Target(env={"OTEL_SERVICE_NAME": "own-service",
                         "OTEL_RESOURCE_ATTRIBUTES": "team=payments"})
    check("target ran before attach", target.run(3))
    agent = Agent(target.proc.pid, ["outer", "inner"], env={"OTEL_SERVICE_NAME": "agent"})
    check("attach: started", agent.started, "".join(agent.err))
    check("target ran while attached", target.run(10))
    target.close()
    rc = agent.wait()
    spans = parse_otlp_json(agent.out)
    outer = [s for s in spans if s["name"] == "outer"]
    inner = [s for s in spans if s["name"] == "inner"]
    check("attach exits 0 when the process exits", rc == 0, "".join(agent.err))
    check("attach: exactly the calls made while attached (10 outer, 30 inner)",
          len(outer) == 10 and len(inner) == 30, f"{len(outer)} {len(inner)}")
    ids = {s["spanId"] for s in outer}
    check("attach: every inner is the child of an outer",
          all(s.get("parentSpanId") in ids for s in inner))
    res = spans[0]["_resource"] if spans else {}
    check("attach: the process's own OTEL_SERVICE_NAME wins, its resource attributes are read",
          res.get("service.name") == "own-service" and res.get("team") == "payments"
          and res.get("process.pid") == target.proc.pid, res)


def test_attach_sigterm_flushes():
    target = Target()
    agent = Agent(target.proc.pid, ["outer", "inner", "libc.so.6:atoi"])
    check("attach with a library function: started", agent.started, "".join(agent.err))
    check("target ran while attached", target.run(5) and target.run(2))
    time.sleep(0.3)
    agent.proc.send_signal(signal.SIGTERM)
    rc = agent.wait()
    spans = parse_otlp_json(agent.out)
    names = [s["name"] for s in spans]
    check("SIGTERM: exit 0 with every span flushed (7 outer, 21 inner, 2 atoi)",
          rc == 0 and names.count("outer") == 7 and names.count("inner") == 21
          and names.count("atoi") == 2, f"rc={rc} {sorted(set(names))} {len(names)}")
    check("the process keeps running after spanprobe detaches", target.run(1))
    target.close()


def test_main_thread_leaves_first():
    proc = subprocess.Popen([program("threads"), "main-exit", "20"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    time.sleep(0.2)  # the main thread is gone; the worker waits
    agent = Agent(proc.pid, ["work"])
    check("main thread gone: attach started", agent.started, "".join(agent.err))
    proc.stdin.write("go\n")
    proc.stdin.close()
    proc.wait(timeout=10)
    rc = agent.wait()
    spans = parse_otlp_json(agent.out)
    check("main thread gone: the worker's 20 calls traced until the last thread exits",
          rc == 0 and len(spans) == 20, f"rc={rc} n={len(spans)}")


def test_replaced_program():
    """A deploy replaces the program on disk while it runs: /proc/PID/exe
    then ends in " (deleted)", which is no part of its name."""
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "svc")
        shutil.copy(program("nested"), exe)
        proc = subprocess.Popen([exe, "stdin"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()
        os.unlink(exe)
        shutil.copy(program("nested"), exe)  # the new version
        agent = Agent(proc.pid, ["outer"])
        check("replaced program: attach started", agent.started, "".join(agent.err))
        proc.stdin.write("2\n")
        proc.stdin.close()
        proc.wait(timeout=10)
        agent.wait()
    spans = parse_otlp_json(agent.out)
    res = spans[0]["_resource"] if spans else {}
    check("replaced program: 2 spans; service.name and process.executable.* without "
          "' (deleted)'", len(spans) == 2 and res.get("service.name") == "unknown_service:svc"
          and res.get("process.executable.name") == "svc"
          and res.get("process.executable.path") == exe, res)


# A library, a second build of it laid out otherwise (del_work at another
# offset), and a program that calls del_work() N times for each line N.
DEL_LIB_V1 = "__attribute__((noinline)) int del_work(int x) { return x * 2; }\n"
DEL_LIB_V2 = r"""
__attribute__((noinline)) int pad1(int x) { return x * 3 + 7; }
__attribute__((noinline)) int pad2(int x) { return x * 5 + pad1(x); }
__attribute__((noinline)) int del_work(int x) { __asm__ volatile("nop; nop"); return x * 2; }
"""
DEL_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
int del_work(int);
int main(void)
{
	char line[64];
	long s = 0;
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		int n = atoi(line);
		for (int i = 0; i < n; i++)
			s += del_work(i);
		printf("ok %d\n", n);
		fflush(stdout);
	}
	return (int)(s & 1);
}
"""


def build_del(tmp):
    for name, text in (("v1.c", DEL_LIB_V1), ("v2.c", DEL_LIB_V2), ("main.c", DEL_MAIN)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    for v in ("v1", "v2"):
        subprocess.run(["cc", "-O1", "-shared", "-fPIC", os.path.join(tmp, v + ".c"),
                        "-o", os.path.join(tmp, v + ".so")], check=True)
    shutil.copy(os.path.join(tmp, "v1.so"), os.path.join(tmp, "libspdel.so"))
    exe = os.path.join(tmp, "usedel")
    subprocess.run(["cc", "-O1", os.path.join(tmp, "main.c"), "-o", exe, "-L" + tmp,
                    "-lspdel", "-Wl,-rpath," + tmp], check=True)
    addrs = [subprocess.run(["nm", "-D", os.path.join(tmp, v + ".so")], capture_output=True,
                            text=True).stdout.split("del_work")[0].split()[-2]
             for v in ("v1", "v2")]
    check("the two builds have del_work at different offsets", addrs[0] != addrs[1], addrs)
    return exe


def test_replaced_library():
    """A package upgrade replaces a library while its process runs (or
    removes it): the maps then say "PATH (deleted)", and the file under
    PATH is another one (or none).  The mapped one is read and probed
    through /proc/PID/map_files."""
    for how, lib_arg in (("replaced", "libspdel.so"), ("removed", None)):
        with tempfile.TemporaryDirectory() as tmp:
            exe = build_del(tmp)
            lib = os.path.join(tmp, "libspdel.so")
            target = Target(argv=[exe])
            check(f"library {how}: the program ran", target.run(1))
            if how == "replaced":
                shutil.copy(os.path.join(tmp, "v2.so"), lib + ".new")
                os.rename(lib + ".new", lib)
            else:
                os.unlink(lib)
            with open(f"/proc/{target.proc.pid}/maps") as f:
                maps = f.read()
            check(f"library {how}: the maps say (deleted)", f"{lib} (deleted)" in maps, maps)
            agent = Agent(target.proc.pid, [f"{lib_arg or lib}:del_work"])
            check(f"library {how}: attach started", agent.started, "".join(agent.err))
            check(f"library {how}: the program ran while attached", target.run(4))
            target.close()
            agent.wait()
        spans = parse_otlp_json(agent.out)
        err = "".join(agent.err)
        check(f"library {how}: 4 del_work spans, the mapped file probed",
              len(spans) == 4 and all(s["name"] == "del_work" for s in spans)
              and "/map_files/" in err, f"{len(spans)} {err}")


test_attach_until_exit()
test_replaced_program()
test_replaced_library()
test_attach_sigterm_flushes()
test_main_thread_leaves_first()
finish()
