#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`spanprobe run` narrowed by --port, --exe, -p and --cgroup: only the
spans asked for come out, with the exact count, and the rest is counted
as filtered."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, parse_otlp_json, require_root  # noqa: E402

require_root()


def start_server():
    p = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1",
                          "-d", os.path.dirname(__file__)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N (...)"
    return p, int(line.split(" port ")[1].split()[0])


def curl(port, path, *args):
    subprocess.run(["curl", "-s", "-o", "/dev/null", *args, f"http://127.0.0.1:{port}{path}"],
                   check=True)


def traced(args, traffic):
    agent = subprocess.Popen([SPANPROBE, "run", "-v", "-o", "otlp-json"] + args,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        line = agent.stderr.readline()
        if "tracing HTTP of every process" in line or not line:
            break
    traffic()
    time.sleep(1.0)
    agent.send_signal(signal.SIGINT)
    out, err = agent.communicate(timeout=30)
    return agent.returncode, parse_otlp_json(out), err


def main():
    (s1, port1), (s2, port2) = start_server(), start_server()
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

        rc, spans, err = traced(["--cgroup", "/no/such/cgroup"], traffic)
        check("--cgroup that holds nothing: no spans, 10 filtered out",
              len(spans) == 0 and "10 filtered out" in err, err)
    finally:
        for s in (s1, s2):
            s.kill()
            s.wait()


main()
finish()
