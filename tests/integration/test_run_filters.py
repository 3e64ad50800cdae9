#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`spanprobe run` narrowed by --port, --exe, -p and --cgroup: only the
spans asked for come out, with the exact count, and the rest is counted
as filtered."""
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, parse_otlp_json, require_root, wait_started  # noqa: E402

require_root()


# The servers run through a link named python3 to the interpreter's real
# file (python3.11 or so), as on Debian: /proc/PID/exe names the file.
LINK_DIR = tempfile.mkdtemp(prefix="sp-filters-")
PYTHON3 = os.path.join(LINK_DIR, "python3")
os.symlink(os.path.realpath(sys.executable), PYTHON3)
EXE_NAME = os.path.basename(os.path.realpath(sys.executable))


def start_server():
    # http.server prints its port with print(): unbuffered, or the line
    # stays in the server's buffer when stdout is a pipe.
    p = subprocess.Popen([PYTHON3, "-m", "http.server", "0", "--bind", "127.0.0.1",
                          "-d", os.path.dirname(__file__)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env=dict(os.environ, PYTHONUNBUFFERED="1"))
    line = ""
    if select.select([p.stdout], [], [], 20)[0]:
        line = p.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N (...)"
    if not check("a python3 http.server started and said its port", " port " in line,
                 repr(line)):
        p.kill()
        finish()
    return p, int(line.split(" port ")[1].split()[0])


def curl(port, path, *args):
    subprocess.run(["curl", "-s", "-o", "/dev/null", *args, f"http://127.0.0.1:{port}{path}"],
                   check=True)


def traced(args, traffic):
    agent = subprocess.Popen([SPANPROBE, "run", "-v", "-o", "otlp-json"] + args,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_started(agent, 20)
    traffic()
    time.sleep(1.0)
    agent.send_signal(signal.SIGINT)
    out, err = agent.communicate(timeout=30)
    return agent.returncode, parse_otlp_json(out), err


def cgroup_mount():
    """A mounted cgroup hierarchy (v1 or v2) to make an empty cgroup in."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, fstype = line.split(" - ")[0].split(), line.split(" - ")[1].split()[0]
            if fstype in ("cgroup", "cgroup2"):
                return fields[4]
    return None


def main():
    (s1, port1), (s2, port2) = start_server(), start_server()
    mount = cgroup_mount()
    check("a cgroup file system is mounted", mount is not None)
    empty_cgroup = f"/sp-filters-{os.getpid()}"
    os.mkdir(mount + empty_cgroup)
    try:
        def traffic():
            for i in range(3):
                curl(port1, f"/a/{i}")
            for i in range(2):
                curl(port2, f"/b/{i}")

        rc, spans, err = traced(["--port", str(port1)], traffic)
        ports = {s["_attrs"].get("server.port") for s in spans}
        kinds = sorted(s["kind"] for s in spans)
        check("--port: only the 3 requests to that port, server and client side",
              rc == 0 and ports == {port1} and kinds == [2, 2, 2, 3, 3, 3], f"{ports} {kinds}")
        check("--port: the others are counted as filtered out", "4 filtered out" in err, err)

        def forged_hosts():
            curl(port1, "/host/kept", "-H", "Host: x")
            curl(port2, "/host/forged", "-H", f"Host: x:{port1}")

        rc, spans, err = traced(["--port", str(port1)], forged_hosts)
        paths = sorted((s["_attrs"].get("url.path"), s["kind"]) for s in spans
                       if s["_attrs"].get("url.path", "").startswith("/host/"))
        check("--port: the socket's port decides, not the Host header",
              paths == [("/host/kept", 2), ("/host/kept", 3)], paths)

        rc, spans, err = traced(["--exe", "curl"], traffic)
        check("--exe curl: the 5 CLIENT spans of curl only",
              len(spans) == 5 and all(s["kind"] == 3 for s in spans)
              and {s["_resource"]["process.executable.name"] for s in spans} == {"curl"},
              [(s["name"], s["kind"]) for s in spans])

        rc, spans, err = traced(["-p", str(s2.pid)], traffic)
        check("-p PID: the 2 SERVER spans of that server only",
              len(spans) == 2 and all(s["kind"] == 2 and s["_resource"]["process.pid"] == s2.pid
                                      for s in spans), len(spans))

        # -p keeps these exact under other traffic on the host; --exe
        # decides between the two servers and nothing else.
        servers = ["-p", str(s1.pid), "-p", str(s2.pid)]

        def exe_check(args, what):
            rc, spans, err = traced(args + servers, traffic)
            got = sorted(s["kind"] for s in spans)
            check(f"{' '.join(args)}: {what}", rc == 0 and got == [2] * 5,
                  f"{got} {[s['_resource']['process.executable.name'] for s in spans]}")

        check("the servers' executable is not named python3", EXE_NAME != "python3", EXE_NAME)
        exe_check(["--exe", "python3"], "the link they ran: the 5 SERVER spans")
        exe_check(["--exe", "py*3"], "a glob on the link's name: the 5 SERVER spans")
        exe_check(["--exe", EXE_NAME], "the executable's name: the 5 SERVER spans")
        exe_check(["--exe", "python3", "--exe", "curl"], "two given: either, 5 SERVER spans")
        exe_check(["--exe", "nothing-here", "--exe", "python3", "--exe", "cur?"],
                  "three given: any of them, 5 SERVER spans")

        rc, spans, err = traced(["--cgroup", empty_cgroup], traffic)
        filtered = [int(w.split()[-1]) for w in err.split(" filtered out")[:-1]]
        check("--cgroup that holds nothing: no spans, 10 filtered out",
              rc == 0 and len(spans) == 0 and filtered and filtered[-1] == 10, err)
    finally:
        for s in (s1, s2):
            s.kill()
            s.wait()
        os.rmdir(mount + empty_cgroup)


main()
finish()
