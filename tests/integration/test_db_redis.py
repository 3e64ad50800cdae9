#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Redis calls as CLIENT spans, against Debian's redis-server started here
(127.0.0.1:26379, no persistence, its files in a temporary directory):
`spanprobe trace` runs a Python driver (Debian's python3-redis and a raw
socket) that also runs redis-cli.  1,000 SETs pipelined in one write (a
raw socket's one sendall) and 1,000 through a redis-py pipeline give
exactly 1,000 spans each; MULTI/EXEC, error replies (WRONGTYPE, ERR),
SELECT 3 and redis-cli give their exact spans and attributes.  Checked in
text, OTLP/JSON and OTLP to a receiver; the literals the driver stores
(s3cret, 4111111111111111) appear in no exported byte."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import SPANPROBE, attrs_to_dict, check, finish, parse_otlp_json, require_root  # noqa: E402
from otlprx import Receiver, attrs, spans_of  # noqa: E402

require_root()

PORT = 26379
PYTHON = "/usr/bin/python3"
LITERALS = ("s3cret", "4111111111111111")

# The driver: each phase between two marks (monotonic-free wall clock in
# ns), written as JSON lines to the file named by its argument.
DRIVER = r'''
import json, socket, subprocess, sys, time
import redis

PORT = %d
marks = open(sys.argv[1], "w")

def phase(name, fn):
    time.sleep(0.05)
    t0 = time.time_ns()
    fn()
    t1 = time.time_ns()
    marks.write(json.dumps({"phase": name, "t0": t0, "t1": t1}) + "\n")
    marks.flush()
    time.sleep(0.05)

def recv_exact(s, n):
    got = b""
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            raise SystemExit("closed")
        got += b
    return got

def warm_up(ping):
    # A connection the daemon has decided already: its calls are captured
    # whole from the first byte.
    ping()
    time.sleep(0.3)

def raw_pipeline(first):
    s = socket.create_connection(("127.0.0.1", PORT))
    if not first:
        warm_up(lambda: (s.sendall(b"*1\r\n$4\r\nPING\r\n"), recv_exact(s, 7)))
    cmds = []
    for i in range(1000):
        k, v = b"raw:%%d" %% i, b"s3cret-%%d" %% i
        cmds.append(b"*3\r\n$3\r\nSET\r\n$%%d\r\n%%s\r\n$%%d\r\n%%s\r\n" %% (len(k), k, len(v), v))
    s.sendall(b"".join(cmds))
    assert recv_exact(s, 5000) == b"+OK\r\n" * 1000
    s.close()

def py_pipeline(first):
    r = redis.Redis(port=PORT)
    if not first:
        warm_up(r.ping)
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set("py:%%d" %% i, "4111111111111111")
    assert p.execute() == [True] * 1000
    r.close()

def multi_exec():
    r = redis.Redis(port=PORT)
    p = r.pipeline(transaction=True)
    p.set("tx:card", "4111111111111111")
    p.incr("tx:n")
    assert p.execute() == [True, 1]
    r.close()

def errors():
    r = redis.Redis(port=PORT)
    r.set("err:s", "s3cret")
    for cmd in (("LPUSH", "err:s", "x"), ("INCR", "err:s"), ("NOSUCHCMD", "s3cret")):
        try:
            r.execute_command(*cmd)
            raise SystemExit("no error for %%s" %% (cmd,))
        except redis.ResponseError:
            pass
    r.close()

def select3():
    r = redis.Redis(port=PORT, db=3)
    r.set("sel:k", "s3cret")
    assert r.get("sel:k") == b"s3cret"
    r.close()

def cli():
    for args in (["SET", "cli:k", "s3cret"], ["GET", "cli:k"]):
        subprocess.run(["redis-cli", "-p", str(PORT)] + args, check=True,
                       stdout=subprocess.DEVNULL)

def setup():
    r = redis.Redis(port=PORT)
    r.flushall()
    r.close()

for name, fn in (("setup", setup), ("raw-first", lambda: raw_pipeline(True)),
                 ("py-first", lambda: py_pipeline(True)),
                 ("raw", lambda: raw_pipeline(False)), ("py", lambda: py_pipeline(False)),
                 ("multi", multi_exec),
                 ("errors", errors), ("select", select3), ("cli", cli)):
    phase(name, fn)
''' % PORT

# What each phase must give, in order of start: (name, attributes that
# must be there with these values), for the phases not counted in bulk.
SERVER = {"db.system.name": "redis", "server.address": "127.0.0.1",
          "server.port": PORT, "network.peer.address": "127.0.0.1",
          "network.peer.port": PORT}
EXPECT = {
    "setup": [("FLUSHALL", {"db.query.text": "FLUSHALL"})],
    "multi": [("MULTI", {"db.query.text": "MULTI"}),
              ("SET", {"db.query.text": "SET ? ?"}),
              ("INCRBY", {"db.query.text": "INCRBY ? ?"}),
              ("EXEC", {"db.query.text": "EXEC"})],
    "errors": [("SET", {"db.query.text": "SET ? ?"}),
               ("LPUSH", {"db.query.text": "LPUSH ? ?", "db.response.status_code": "WRONGTYPE",
                          "error.type": "WRONGTYPE"}),
               ("INCR", {"db.query.text": "INCR ?", "db.response.status_code": "ERR",
                         "error.type": "ERR"}),
               # A name Redis does not know names no operation.
               ("redis", {"db.query.text": "? ?", "db.response.status_code": "ERR",
                          "error.type": "ERR", "db.operation.name": None,
                          "db.query.summary": None})],
    "select": [("SELECT", {"db.query.text": "SELECT ?", "db.namespace": "3"}),
               ("SET", {"db.query.text": "SET ? ?", "db.namespace": "3"}),
               ("GET", {"db.query.text": "GET ?", "db.namespace": "3"})],
    "cli": [("SET", {"db.query.text": "SET ? ?"}), ("GET", {"db.query.text": "GET ?"})],
}
MESSAGES = {
    "LPUSH": "WRONGTYPE Operation against a key holding the wrong kind of value",
    "INCR": "ERR value is not an integer or out of range",
    "redis": "ERR unknown command ?, with args beginning with: ? ",
}


class Server:
    """redis-server on 127.0.0.1:PORT, its files in `tmp`."""

    def __init__(self, tmp):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        self.ready = False
        while time.time() < deadline and self.proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", PORT), timeout=1) as s:
                    s.sendall(b"*1\r\n$4\r\nPING\r\n")
                    self.ready = s.recv(16) == b"+PONG\r\n"
                    break
            except OSError:
                time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


TEXT_LINE = re.compile(r"^(\S+)\s+\S+\s+(CLIENT|SERVER|INTERNAL)\s+(\S+) status=(\w+)(?:\((.*?)\))?"
                       r" trace=\w+ span=\w+(.*)$")
TEXT_ATTR = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S+)')


def text_spans(out):
    """Spans of text output as dicts like the OTLP ones: name, kind, start
    (ns), status code (2: ERROR), message, attributes, executable."""
    spans, exe = [], None
    for line in out.splitlines():
        if line.startswith("resource "):
            m = re.search(r'process.executable.name="([^"]*)"', line)
            exe = m.group(1) if m else None
            continue
        m = TEXT_LINE.match(line)
        if not m:
            continue
        a = {}
        for k, v in TEXT_ATTR.findall(m.group(6)):
            a[k] = json.loads(v) if v.startswith('"') else int(v)
        ts = m.group(1).rstrip("Z")
        start = int(time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone) \
            * 10**9 + int(ts[20:].ljust(9, "0"))
        spans.append({"name": m.group(3), "kind": m.group(2), "start": start,
                      "error": m.group(4) == "ERROR", "message": m.group(5) or "",
                      "attrs": a, "exe": exe})
    return spans


def otlp_span(res, s):
    st = s.get("status", {})
    return {"name": s["name"], "kind": {3: "CLIENT", 2: "SERVER"}.get(s["kind"], s["kind"]),
            "start": int(s["startTimeUnixNano"]), "error": st.get("code") == 2,
            "message": st.get("message", ""), "attrs": s["_attrs"] if "_attrs" in s
            else attrs(s.get("attributes")), "exe": res.get("process.executable.name")}


def by_phase(spans, marks):
    out = {m["phase"]: [] for m in marks}
    for s in spans:
        for m in marks:
            if m["t0"] - 2_000_000 <= s["start"] <= m["t1"] + 2_000_000:
                out[m["phase"]].append(s)
    for v in out.values():
        v.sort(key=lambda s: s["start"])
    return out


def check_phases(label, spans, marks):
    ph = by_phase(spans, marks)
    check(f"{label}: every span a CLIENT span of redis",
          spans and all(s["kind"] == "CLIENT" and s["attrs"].get("db.system.name") == "redis"
                        for s in spans), [(s["name"], s["kind"]) for s in spans[:5]])
    for name, what in (("raw-first", "raw socket, the connection's first write"),
                       ("py-first", "redis-py, a new connection"),
                       ("raw", "raw socket, after a PING"), ("py", "redis-py, after a PING")):
        got = ph.get(name, [])
        sets = [s for s in got if s["name"] == "SET"]
        others = [s["name"] for s in got if s["name"] != "SET"]
        check(f"{label}: 1000 SETs pipelined ({what}): exactly 1000 SET spans",
              len(sets) == 1000 and others == ([] if name.endswith("first") else ["PING"]),
              f"{len(sets)} SET, others {others}")
        want = dict(SERVER, **{"db.operation.name": "SET", "db.query.summary": "SET",
                               "db.query.text": "SET ? ?", "db.namespace": "0"})
        bad = [s for s in sets if any(s["attrs"].get(k) != v for k, v in want.items())
               or s["error"] or "spanprobe.partial" in s["attrs"]]
        check(f"{label}: 1000 SETs pipelined ({what}): each with its attributes, no error",
              not bad, bad[:1])
    for name, want in EXPECT.items():
        got = ph.get(name, [])
        check(f"{label}: {name}: spans {[w[0] for w in want]}",
              [s["name"] for s in got] == [w[0] for w in want], [s["name"] for s in got])
        if len(got) != len(want):
            continue
        for s, (op, a) in zip(got, want):
            # Seen from their first command (the kernel says): index 0.
            full = dict(SERVER, **{"db.operation.name": op, "db.query.summary": op,
                                   "db.namespace": "0"})
            full.update(a)
            diff = {k: s["attrs"].get(k) for k, v in full.items() if s["attrs"].get(k) != v}
            check(f"{label}: {name}: {op}: attributes", not diff, diff)
            err = "db.response.status_code" in a
            check(f"{label}: {name}: {op}: status " + ("ERROR, its message" if err else "unset"),
                  s["error"] == err and (not err or s["message"] == MESSAGES[op]),
                  (s["error"], s["message"]))
            exe = "redis-cli" if name == "cli" else "python3.11"
            check(f"{label}: {name}: {op}: process {exe}", s["exe"] == exe, s["exe"])
    check(f"{label}: no other spans", sum(len(v) for v in ph.values()) == len(spans)
          and len(spans) == 4002 + sum(len(w) for w in EXPECT.values()),
          f"{len(spans)} {[(k, len(v)) for k, v in ph.items()]}, outside every phase: "
          f"{[(s['name'], s['attrs'].get('db.query.text')) for s in spans if not any(s in v for v in ph.values())][:5]}")


def no_literals(label, data):
    found = [lit for lit in LITERALS if lit.encode() in data]
    check(f"{label}: no literal stored ({', '.join(LITERALS)}) in any exported byte",
          not found, found)


def trace(tmp, output):
    """spanprobe trace over the driver; returns (rc, stderr, marks)."""
    marks = os.path.join(tmp, "marks.jsonl")
    driver = os.path.join(tmp, "driver.py")
    with open(driver, "w") as f:
        f.write(DRIVER)
    p = subprocess.run([SPANPROBE, "trace", *output, "--", PYTHON, driver, marks],
                       capture_output=True, text=True, timeout=60)
    with open(marks) as f:
        return p.returncode, p.stderr, [json.loads(line) for line in f if line.strip()]


def report_ok(label, rc, err):
    check(f"{label}: exit 0, nothing dropped, no place lost",
          rc == 0 and re.search(r"spanprobe: dropped: 0 queue full, 0 at shutdown, 0 span pool", err)
          and "0 replies to no command, 0 places lost in commands, 0 in replies, "
              "0 to records lost in the kernel, "
              "0 commands cut short" in err, err[-1500:])


def main():
    for tool in ("redis-server", "redis-cli"):
        if not shutil.which(tool):
            check(f"{tool} is installed (deploy/deps.sh: redis-server, redis-tools)", False)
            finish()
    if subprocess.run([PYTHON, "-c", "import redis"], capture_output=True).returncode:
        check("python3-redis is installed (deploy/deps.sh)", False)
        finish()
    tmp = tempfile.mkdtemp(prefix="sp-redis-")
    server = Server(tmp)
    rx = None
    try:
        check("redis-server answers on 127.0.0.1:26379", server.ready)
        if not server.ready:
            return
        out = os.path.join(tmp, "spans.txt")
        rc, err, marks = trace(tmp, ["-o", "text", "--output-file", out])
        report_ok("text", rc, err)
        with open(out, "rb") as f:
            data = f.read()
        check_phases("text", text_spans(data.decode()), marks)
        no_literals("text", data)

        out = os.path.join(tmp, "spans.jsonl")
        rc, err, marks = trace(tmp, ["-o", "otlp-json", "--output-file", out])
        report_ok("OTLP/JSON", rc, err)
        with open(out, "rb") as f:
            data = f.read()
        spans = [otlp_span(s["_resource"], s) for s in parse_otlp_json(data.decode())]
        check_phases("OTLP/JSON", spans, marks)
        no_literals("OTLP/JSON", data)

        rx = Receiver(tmp)
        check("OTLP receiver started", rx.ready)
        rc, err, marks = trace(tmp, ["--otlp-endpoint", rx.endpoint(), "--otlp-compression",
                                     "none"])
        report_ok("OTLP", rc, err)
        data = b""
        for path in (rx.out, rx.dump):
            if os.path.exists(path):
                with open(path, "rb") as f:
                    data += f.read()
        reqs, dumps = rx.take()
        spans = [otlp_span(res, s) for res, _, s in spans_of(dumps)]
        check_phases("OTLP", spans, marks)
        no_literals("OTLP (requests received, decoded)", data)
    finally:
        if rx:
            rx.stop()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


main()
finish()
