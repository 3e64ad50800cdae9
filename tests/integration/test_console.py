#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The text console: what a client sends cannot drive the terminal
(C0, C1 and bidirectional controls in the URL and User-Agent come out
escaped), and spans that cannot be written make spanprobe fail.  Which
output OTEL_TRACES_EXPORTER picks: the console or none, even with a
collector's endpoint in the environment."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, check, finish, require_root, wait_started  # noqa: E402
from httptest import curl, free_port, python_server, wait_port  # noqa: E402

require_root()
tmp = tempfile.mkdtemp(prefix="sp-console-")

# 8-bit CSI (U+009B), right-to-left override (U+202E), first-strong isolate
# (U+2066), ESC: each would act on the terminal if printed raw.
CSI, RLO, FSI = "\u009b".encode(), "\u202e".encode(), "\u2066".encode()
REQUEST = (b"GET /a" + CSI + b"2J" + RLO + b"txt.exe HTTP/1.1\r\nHost: x\r\n"
           b"User-Agent: ua" + CSI + b"31m" + FSI + b"\x1b[0m\r\nConnection: close\r\n\r\n")


def send_raw(port):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(REQUEST)
        while s.recv(4096):
            pass


def wait_for(path, pred):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with open(path, "rb") as f:
            data = f.read()
        if pred(data):
            return data
        time.sleep(0.2)
    return data


def test_injection():
    port = free_port()
    web = python_server(port, tmp)
    out = os.path.join(tmp, "spans.txt")
    open(out, "w").close()
    sp = subprocess.Popen([SPANPROBE, "run", "-v", "-p", str(web.pid), "--output-file", out],
                          stderr=subprocess.PIPE, text=True)
    try:
        wait_port("127.0.0.1", port)
        wait_started(sp)  # probes attached
        send_raw(port)
        data = wait_for(out, lambda d: b"SERVER" in d)
    finally:
        sp.send_signal(signal.SIGINT)
        sp.communicate(timeout=30)
        web.stop()
    line = [l for l in data.splitlines() if b"SERVER" in l]
    check("injection: one server span", len(line) == 1, repr(data))
    line = line[0] if line else b""
    check("injection: no raw C1, bidi or ESC byte in the output",
          CSI not in data and RLO not in data and FSI not in data and b"\x1b" not in data,
          repr(data))
    check("injection: URL escaped", b"/a\\u009b2J\\u202etxt.exe" in line, repr(line))
    check("injection: User-Agent escaped",
          b'user_agent.original="ua\\u009b31m\\u2066\\u001b[0m"' in line, repr(line))


def traced(env_add, requests=3):
    """spanprobe run against a python server, `requests` curls, stopped:
    (stdout, stderr) of spanprobe."""
    port = free_port()
    web = python_server(port, tmp)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OTEL_")}
    env.update(env_add)
    sp = subprocess.Popen([SPANPROBE, "run", "-v", "-p", str(web.pid)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_port("127.0.0.1", port)
        head = wait_started(sp)
        for _ in range(requests):
            curl(f"http://127.0.0.1:{port}/")
        time.sleep(1.5)  # the console's batch delay is 200 ms
    finally:
        sp.send_signal(signal.SIGINT)
        out, err = sp.communicate(timeout=30)
        web.stop()
    return out, head + err


def test_traces_exporter():
    # A collector's endpoint nothing listens on: any try to send is seen.
    dead = f"http://127.0.0.1:{free_port()}"
    out, err = traced({"OTEL_TRACES_EXPORTER": "none",
                       "OTEL_EXPORTER_OTLP_ENDPOINT": dead})
    check("OTEL_TRACES_EXPORTER=none: nothing on stdout", out == "", repr(out))
    check("OTEL_TRACES_EXPORTER=none: 3 spans counted as sent nowhere",
          "spanprobe: spans: 3 sent nowhere (output none)" in err, err)
    check("OTEL_TRACES_EXPORTER=none: 0 exported, no export tried",
          " 0 exported," in err and "connections opened" not in err and
          "refused" not in err, err)
    out, err = traced({"OTEL_TRACES_EXPORTER": " Console ,otlp,bogus",
                       "OTEL_EXPORTER_OTLP_ENDPOINT": dead})
    spans = [l for l in out.splitlines() if "SERVER" in l]
    check("OTEL_TRACES_EXPORTER=' Console ,otlp,bogus': 3 spans on the console",
          len(spans) == 3 and " 3 exported," in err, repr(out) + err)
    check("OTEL_TRACES_EXPORTER: the exporter left out is said",
          "OTEL_TRACES_EXPORTER: spans go to one place, console: 'otlp' left out" in err,
          err)
    check("OTEL_TRACES_EXPORTER: the unknown name is said",
          "OTEL_TRACES_EXPORTER: 'bogus' is not one of otlp, console, none" in err, err)
    # -o wins over the variable.
    rc = subprocess.run([SPANPROBE, "run", "-o", "none", "--otlp-endpoint", dead],
                        capture_output=True, text=True, timeout=30)
    check("-o none with --otlp-endpoint: refused",
          rc.returncode != 0 and "-o none nowhere" in rc.stderr, rc.stderr)


test_injection()
test_traces_exporter()
finish()
