#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`spanprobe run` exporting to a collector on the same host must leave
out both ends of its own export connections: otherwise the collector's
SERVER span of each export request is exported in the next request, and
so on forever.  One curl request seeds the loop; the collector (the Node
receiver, over HTTP/1.1, h2c and gRPC) must receive the curl request's
span and no span of an export request."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, require_root, wait_started  # noqa: E402
import test_export_otlp  # noqa: E402
from test_export_otlp import Receiver, free_port  # noqa: E402
from httptest import curl, python_server, wait_port  # noqa: E402

require_root()

# Each variant: the receiver's flag, spanprobe's export settings.
VARIANTS = [
    ("HTTP/1.1", "--http1", ["--otlp-http-version", "1.1"]),
    ("h2c", "--h2c", ["--otlp-http-version", "2"]),
    ("gRPC", "--grpc", ["--otlp-protocol", "grpc"]),
]


def run_variant(name, flag, args, web_port):
    port = free_port()
    rcv = Receiver(flag, port)
    path = "" if flag == "--grpc" else "/v1/traces"
    # -p keeps the spans exact under other traffic on this host; capture
    # stays node-wide (the loop needs no filter to happen).
    sp = subprocess.Popen([SPANPROBE, "run", "-v", "-p", str(rcv.proc.pid), "-p", str(web.pid),
                           "--otlp-endpoint", f"http://127.0.0.1:{port}{path}", *args],
                          env=dict(os.environ, OTEL_BSP_SCHEDULE_DELAY="300"),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    head = wait_started(sp)  # probes attached
    curl(f"http://127.0.0.1:{web_port}/")
    time.sleep(3)  # ten export rounds of 300 ms: a loop shows in two
    sp.send_signal(signal.SIGINT)
    _, err = sp.communicate(timeout=60)
    err = head + err
    time.sleep(0.5)
    spans = rcv.spans()
    rcv.stop()
    check(f"{name}: exit status 0", sp.returncode == 0, err)
    check(f"{name}: the curl request's server span arrives once", spans.count("GET /") == 1 or
          spans.count("GET") == 1, str(spans))
    check(f"{name}: no span of an export request",
          [s for s in spans if s.startswith("POST")] == [], str(spans[:20]))
    check(f"{name}: own connections counted", "own connections left out" in err and
          " 0 own connections left out" not in err, err)


web_port = free_port()
web = python_server(web_port, os.path.dirname(__file__))
try:
    wait_port("127.0.0.1", web_port)
    for v in VARIANTS:
        run_variant(*v, web_port)
finally:
    web.stop()
    shutil.rmtree(test_export_otlp.tmp, ignore_errors=True)
finish()
