#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Spans of `spanprobe trace` and `spanprobe attach` reach a real OTLP
receiver over h2c, HTTP/1.1 and gRPC, with and without gzip, protobuf and
JSON, and every field and attribute survives, as decoded by the
OpenTelemetry project's own generated code (tests/otlp-node)."""
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, program, require_root, run  # noqa: E402
from otlprx import Receiver, attrs, spans_of  # noqa: E402

require_root()
NESTED = program("nested")


def check_spans(label, spans, service, n_outer, before, after):
    outer = [s for _, _, s in spans if s["name"] == "outer"]
    inner = [s for _, _, s in spans if s["name"] == "inner"]
    check(f"{label}: {n_outer} outer and {3 * n_outer} inner spans received",
          len(outer) == n_outer and len(inner) == 3 * n_outer and len(spans) == 4 * n_outer,
          f"{len(outer)} {len(inner)} {len(spans)}")
    ids = {s["spanId"]: s for s in outer}
    check(f"{label}: parent links and trace IDs survive",
          all(s.get("parentSpanId") in ids and ids[s["parentSpanId"]]["traceId"] == s["traceId"]
              for s in inner) and all(not s.get("parentSpanId") for s in outer))
    res, scope, s = spans[0]
    pid = res.get("process.pid")
    check(f"{label}: kind, times, attributes",
          all(sp["kind"] == 1 and before <= int(sp["startTimeUnixNano"])
              <= int(sp["endTimeUnixNano"]) <= after for _, _, sp in spans)
          and all(attrs(sp["attributes"]) == {"code.function.name": sp["name"],
                                               "thread.id": pid, "process.pid": pid}
                  for _, _, sp in spans), s)
    check(f"{label}: resource and scope",
          res.get("service.name") == service and res.get("deployment.environment") == "ci"
          and res.get("process.executable.name") == "nested"
          and res.get("host.name") == socket.gethostname()
          and res.get("telemetry.sdk.name") == "spanprobe"
          and scope.get("name") == "spanprobe" and scope.get("version"), (res, scope))


CASES = [
    ("h2c, protobuf, gzip", "h2c", ["--otlp-protocol", "http/protobuf"], "gzip", "2.0"),
    ("HTTP/1.1, protobuf, gzip", "h1", ["--otlp-http-version", "1.1"], "gzip", "1.1"),
    ("HTTP/1.1, protobuf, no compression", "h1",
     ["--otlp-http-version", "1.1", "--otlp-compression", "none"], "", "1.1"),
    ("h2c, JSON, gzip", "h2c", ["--otlp-protocol", "http/json"], "gzip", "2.0"),
    ("gRPC to grpc-js", "grpc", ["--otlp-protocol", "grpc"], None, "2.0"),
    # The h2c port also answers gRPC by hand and records grpc-encoding.
    ("gRPC, gzip", "h2c", ["--otlp-protocol", "grpc"], "gzip", "2.0"),
]


def test_trace(rx):
    for label, port, flags, encoding, version in CASES:
        endpoint = f"http://127.0.0.1:{rx.ports[port]}"
        service = "svc-" + port
        before = time.time_ns()
        rc, out, err = run(["trace", "--otlp-endpoint", endpoint] + flags +
                           ["-u", "inner", "-u", "outer", "--", NESTED, "10"],
                           env={"OTEL_SERVICE_NAME": service,
                                "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci"})
        after = time.time_ns()
        reqs, dumps = rx.take()
        check(f"{label}: exit 0, 40 exported, none failed",
              rc == 0 and "40 exported, 0 failed" in err, err)
        check(f"{label}: sent as {version} with encoding {encoding!r}, User-Agent spanprobe",
              reqs and all(r["httpVersion"] == version and r["ua"].startswith("spanprobe/")
                           and (encoding is None or r["encoding"] == encoding) for r in reqs),
              reqs)
        check_spans(label, spans_of(dumps), service, 10, before, after)


def test_attach(rx):
    target = subprocess.Popen([NESTED, "stdin"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=dict(os.environ, OTEL_SERVICE_NAME="attached",
                                                  OTEL_RESOURCE_ATTRIBUTES="deployment.environment=ci"))
    target.stdout.readline()
    before = time.time_ns()
    agent = subprocess.Popen([SPANPROBE, "attach", "-v", "-p", str(target.pid),
                              "--otlp-endpoint", f"http://127.0.0.1:{rx.ports['h2c']}",
                              "-u", "outer", "-u", "inner"],
                             stderr=subprocess.PIPE, text=True)
    while True:
        line = agent.stderr.readline()
        if not line or "functions in process" in line:
            break
    target.stdin.write("4\n")
    target.stdin.flush()
    target.stdout.readline()
    target.stdin.close()
    target.wait()
    err = agent.communicate(timeout=60)[1]
    after = time.time_ns()
    reqs, dumps = rx.take()
    check("attach to h2c: exit 0, 16 exported", agent.returncode == 0 and "16 exported" in err, err)
    check_spans("attach to h2c", spans_of(dumps), "attached", 4, before, after)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        rx = Receiver(tmp)
        try:
            if not check("receiver (node, tests/otlp-node) started", rx.ready):
                return
            test_trace(rx)
            test_attach(rx)
        finally:
            rx.stop()


main()
finish()
