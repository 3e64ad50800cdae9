#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gRPC from real gRPC implementations, node-wide over h2c: grpc-js
(Node.js) and Python's grpcio (gRPC's C core) servers, started after
spanprobe, called by grpc-js and grpcio clients (tests/programs/grpc_node.js,
grpc_py.py: the service demo.Echo, messages as raw bytes).  Every call
gives exactly one SERVER span of the server and one CLIENT span of the
client, named demo.Echo/Method, with the rpc.* attributes, the status
code of the trailers and the span status of the RPC semantic conventions
(a client's span is an error for any code but OK, a server's only for
UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and
DATA_LOSS), the server span the child of its client span (same host).
Cases: unary OK and errors (grpc-message percent-decoded), a server
stream, a deadline, large messages, grpcio on both sides and across,
20 calls in flight on one channel, and the same spans through OTLP to
the Node receiver (tests/otlp-node) from a second spanprobe.

Of a write, capture sees the first --capture-bytes (1024) and 16 iovecs,
and of a read the first 1024 bytes; frames past that are lost with the
step of their direction.  Checks that hit this limit on today's capture:
- a 200000-byte response: the client reads it in large chunks, a DATA
  frame header falls where nothing was captured, and the trailers after
  it are not seen: the client span has no status code;
- 20 calls in flight: grpc-js writes the requests, and the server its
  answers, in writes of more than 16 iovecs: the client's streams past
  the cut give no span, and the server's trailers past it are not seen
  (those spans end at the close, without a status code);
- grpcio's client writes its first frames (preface, SETTINGS, HEADERS) in
  more than 16 small iovecs: the request headers are cut
  (spanprobe.partial) on its spans."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import ROOT, SPANPROBE, check, finish, require_root  # noqa: E402
from httptest import (PROGRAM_SOURCES, WAIT_S, Agent, Server, curl,  # noqa: E402
                      end_ns, free_port, is_child, start_ns, status_code)
from otlprx import Receiver, attrs, spans_of  # noqa: E402

require_root()
SERVER, CLIENT = 2, 3
ERROR = 2  # span status code
GRPC_NODE = os.path.join(PROGRAM_SOURCES, "grpc_node.js")
GRPC_PY = os.path.join(PROGRAM_SOURCES, "grpc_py.py")
GRPC_JS = os.path.join(ROOT, "tests", "otlp-node", "node_modules", "@grpc", "grpc-js")
CODE_NAMES = {0: "OK", 1: "CANCELLED", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND", 13: "INTERNAL"}
# The codes a server's span is an error for (RPC semantic conventions).
SERVER_ERRORS = {2, 4, 12, 13, 14, 15}
# Percent-encoded in grpc-message on the wire (PROTOCOL-HTTP2).
BROKE = "it broke: 100% ü"
QUIET_S = 5  # see pair()


def grpc_python():
    """An interpreter that imports grpc: this one, python3 on PATH, or
    Debian's, for which python3-grpcio is built; None when none does."""
    for exe in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if exe and subprocess.run([exe, "-c", "import grpc"], capture_output=True).returncode == 0:
            return exe
    return None


def cgroup_hierarchy():
    """(mount point, this process's cgroup in it) of the cgroup2
    hierarchy, else of a cgroup v1 one; None when none is mounted whole."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, rest = line.partition(" - ")
            fstype, _, opts = (rest.split() + ["", "", ""])[:3]
            if fstype in ("cgroup", "cgroup2") and fields.split()[3] == "/":
                mounts.append((fstype != "cgroup2", fields.split()[4], set(opts.split(","))))
    with open("/proc/self/cgroup") as f:
        own = [line.rstrip("\n").split(":", 2) for line in f]
    for v1, mount, opts in sorted(mounts):
        for hid, controllers, path in own:
            if (not v1 and hid == "0" and not controllers) or \
                    (v1 and controllers and set(controllers.split(",")) <= opts):
                return mount, path
    return None


class OwnCgroup:
    """This test and all it starts in a cgroup of their own, the one
    spanprobe keeps spans of (--cgroup): capture stays node-wide, but the
    host may carry other HTTP traffic (other tests, benchmarks) whose spans
    would otherwise fill the export queue and push this test's out
    (counted as "dropped: queue full")."""

    def __init__(self):
        self.path = None
        found = cgroup_hierarchy()
        if not found:
            print("# no cgroup file system: spans of every process kept")
            return
        self.mount, self.home = found
        path = f"/sp-grpc-{os.getpid()}"
        try:
            os.mkdir(self.mount + path)
        except OSError as e:
            print(f"# no cgroup of its own ({e}): spans of every process kept")
            return
        try:
            with open(f"{self.mount}{path}/cgroup.procs", "w") as f:
                f.write(str(os.getpid()))
            self.path = path
        except OSError as e:
            os.rmdir(self.mount + path)
            print(f"# not moved into a cgroup of its own ({e}): spans of every process kept")

    def args(self):
        return ["--cgroup", self.path] if self.path else []

    def leave(self):
        """Back to the cgroup this test came from; the cgroup goes (every
        process the test started has ended)."""
        if not self.path:
            return
        try:
            with open(f"{self.mount}{self.home}/cgroup.procs", "w") as f:
                f.write(str(os.getpid()))
            os.rmdir(self.mount + self.path)
        except OSError as e:
            print(f"# cgroup {self.path} not removed: {e}")


class Case:
    """One client run: its pid, its output lines, and when it started."""

    def __init__(self, args):
        self.since = time.time_ns()
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = p.communicate(timeout=30)
        self.rc, self.pid, self.err = p.returncode, p.pid, err
        self.lines = out.splitlines()


def node_call(port, *actions):
    return Case(["node", GRPC_NODE, "call", f"127.0.0.1:{port}", *actions])


def py_call(python, port, *actions):
    return Case([python, GRPC_PY, "call", f"127.0.0.1:{port}", *actions])


def method_of(s):
    """rpc.method, or the last part of url.path for a span that is not
    an RPC's (so that it shows in a count)."""
    a = s["_attrs"]
    return a.get("rpc.method") or (a.get("url.path") or "").rsplit("/", 1)[-1]


def pair(source, server_pid, case, methods):
    """Wait for one SERVER span of server_pid per method in `methods`
    (started since the case did) and as many CLIENT spans of the case's
    client, in the spans of `source` (the Agent, or the Exporter's
    receiver); returns both lists, each sorted by method then start
    (every such span: a count past len(methods) shows).  The client has
    exited: its spans and the server's are due, so the wait ends WAIT_S
    after it began or QUIET_S after the last of them came."""
    n = len(methods)

    def server(s):
        return (s["_resource"].get("process.pid") == server_pid and s["kind"] == SERVER
                and method_of(s) in methods and start_ns(s) >= case.since)

    def client(s):
        return s["_resource"].get("process.pid") == case.pid and s["kind"] == CLIENT
    deadline = time.monotonic() + WAIT_S
    seen, since_last = 0, time.monotonic()
    while source.proc.poll() is None and time.monotonic() < deadline:
        spans = source.snapshot()
        got = (sum(map(server, spans)), sum(map(client, spans)))
        if got[0] >= n and got[1] >= n:
            break
        if sum(got) != seen:
            seen, since_last = sum(got), time.monotonic()
        elif time.monotonic() - since_last > QUIET_S:
            break
        time.sleep(0.05)
    time.sleep(0.3)  # a span too many would come out with the others
    key = lambda s: (method_of(s), start_ns(s))  # noqa: E731
    spans = source.snapshot()
    return sorted(filter(server, spans), key=key), sorted(filter(client, spans), key=key)


def expect(method, port, code, server):
    """The attributes an RPC span of demo.Echo/method to port must have
    (None: must not have), and whether it is an error."""
    error = code != 0 and (not server or code in SERVER_ERRORS)
    want = {"rpc.system": "grpc", "rpc.service": "demo.Echo", "rpc.method": method,
            "server.address": "127.0.0.1", "server.port": port,
            "network.peer.address": "127.0.0.1", "rpc.grpc.status_code": code,
            "error.type": CODE_NAMES[code] if error else None,
            "client.address": "127.0.0.1" if server else None,
            "http.request.method": None, "url.path": None}
    if not server:
        want["network.peer.port"] = port
    return want, error


def check_span(label, s, method, port, code, message=None):
    """Name, attributes, status (and grpc-message when given) of one RPC
    span; `label` names it in the checks."""
    server = s["kind"] == SERVER
    want, error = expect(method, port, code, server)
    a = s["_attrs"]
    got = {k: a.get(k) for k in want}
    check(f"{label}: name demo.Echo/{method}, rpc.* attributes, status code {code}",
          s["name"] == f"demo.Echo/{method}" and got == want, f"{s['name']} {a}")
    if server:
        cport = a.get("client.port")
        check(f"{label}: client.port is the peer's port (not the server's)",
              isinstance(cport, int) and 0 < cport < 65536 and cport != port
              and a.get("network.peer.port") == cport, a)
    st = s.get("status", {})
    if error:
        check(f"{label}: status ERROR" + (f", message {message!r}" if message else ""),
              st.get("code") == ERROR and (message is None or st.get("message") == message),
              st)
    else:
        check(f"{label}: status unset", status_code(s) == 0 and not st.get("message"), st)
    check(f"{label}: whole headers (no spanprobe.partial)", "spanprobe.partial" not in a,
          a.get("spanprobe.partial"))


def check_pair(label, servers, clients, calls, port):
    """`calls`: (method, code, grpc-message) per RPC, in the order
    servers and clients are sorted in; checks count, spans and links."""
    ok = len(servers) == len(calls) and len(clients) == len(calls)
    check(f"{label}: exactly {len(calls)} SERVER and {len(calls)} CLIENT span(s)", ok,
          f"{[(s['name'], method_of(s)) for s in servers]} "
          f"{[(c['name'], method_of(c)) for c in clients]}")
    if not ok:
        return False
    for s, c, (method, code, message) in zip(servers, clients, calls):
        what = f"{label}: {method} {CODE_NAMES[code]}"
        check_span(f"{what}: server", s, method, port, code, message)
        check_span(f"{what}: client", c, method, port, code, message)
        check(f"{what}: the server span is the child of the client span (same host)",
              is_child(s, c), f"{s.get('parentSpanId')} {c['spanId']}")
    return True


def test_unary(agent, node):
    case = node_call(node.port, "say=hello", "fail=5,no such thing", f"fail=13,{BROKE}")
    check("grpc-js unary: OK, NOT_FOUND, INTERNAL as called",
          case.rc == 0 and case.lines == ["0 hello", "5 no such thing", f"13 {BROKE}"],
          f"{case.lines} {case.err}")
    servers, clients = pair(agent, node.pid, case, ["Say", "Fail", "Fail"])
    # Sorted by method then start: Fail NOT_FOUND, Fail INTERNAL, Say.
    if check_pair("grpc-js unary", servers, clients,
                  [("Fail", 5, "no such thing"), ("Fail", 13, BROKE), ("Say", 0, None)],
                  node.port):
        check("grpc-js unary: the three calls on one connection",
              len({s["_attrs"].get("client.port") for s in servers}) == 1,
              [s["_attrs"].get("client.port") for s in servers])
        check("grpc-js unary OK: network.protocol.version \"2\" on both spans",
              [x["_attrs"].get("network.protocol.version") for x in (servers[2], clients[2])]
              == ["2", "2"], f"{servers[2]['_attrs']} {clients[2]['_attrs']}")


def test_server_stream(agent, node):
    case = node_call(node.port, "count=5")
    check("grpc-js server stream: 5 messages, then OK",
          case.rc == 0 and case.lines == ["0 5"], f"{case.lines} {case.err}")
    servers, clients = pair(agent, node.pid, case, ["Count"])
    check_pair("grpc-js server stream (one span per side for the stream)", servers, clients,
               [("Count", 0, None)], node.port)


def test_deadline(agent, node):
    """The handler answers after 1000 ms, the client's deadline is 200 ms.
    The client, at its deadline, resets the stream with CANCEL; grpc-js's
    server keeps its own timer from grpc-timeout (started when it read
    the request) and ends the call with trailers of DEADLINE_EXCEEDED.
    Whichever the decoder sees first ends a span, once, with RST_STREAM
    or the trailers.  The client's span: DEADLINE_EXCEEDED (the trailers'
    code, or its CANCEL once the grpc-timeout it sent ran out).  The
    server's: DEADLINE_EXCEEDED, an error for a server too; or, when the
    CANCEL comes before the timeout ran out by the server's clock (it read
    the request late, as on a loaded host), CANCELLED, no error for a
    server: the client gave up, as grpc-js's server then reports it."""
    case = node_call(node.port, "slow=1000,200")
    check("grpc-js deadline: the client gets DEADLINE_EXCEEDED",
          case.rc == 0 and case.lines == ["4"], f"{case.lines} {case.err}")
    servers, clients = pair(agent, node.pid, case, ["Slow"])
    ok = len(servers) == 1 and len(clients) == 1
    check("grpc-js deadline: exactly 1 SERVER and 1 CLIENT span", ok,
          f"{len(servers)} {len(clients)}")
    if not ok:
        return
    s, c = servers[0], clients[0]
    server_code = 1 if s["_attrs"].get("rpc.grpc.status_code") == 1 else 4
    check_span("grpc-js deadline: server", s, "Slow", node.port, server_code)
    check_span("grpc-js deadline: client", c, "Slow", node.port, 4)
    check("grpc-js deadline: the server span is the child of the client span (same host)",
          is_child(s, c), f"{s.get('parentSpanId')} {c['spanId']}")
    check("grpc-js deadline: both spans end at the deadline (under 800 ms), not at the "
          "handler's answer (1000 ms)",
          all(0 < end_ns(x) - start_ns(x) < 800_000_000 for x in (s, c)),
          [(end_ns(x) - start_ns(x)) // 1_000_000 for x in (s, c)])
    # grpc-message of the server's trailers, or none (a reset has none).
    check("grpc-js deadline: status message grpc-js's \"Deadline exceeded\" or none",
          all((x.get("status") or {}).get("message") in (None, "", "Deadline exceeded")
              for x in (s, c)), [x.get("status") for x in (s, c)])


def test_large(agent, node):
    """A 200000-byte response (13 DATA frames of 16384 bytes or fewer, the
    trailers after them) and a 100000-byte request; gRPC spans carry no
    body sizes: the status code shows whether the trailers were seen."""
    case = node_call(node.port, "big=200000")
    check("grpc-js 200000-byte response: OK, all bytes",
          case.rc == 0 and case.lines == ["0 200000"], f"{case.lines} {case.err}")
    servers, clients = pair(agent, node.pid, case, ["Big"])
    check_pair("grpc-js 200000-byte response", servers, clients, [("Big", 0, None)],
               node.port)
    case = node_call(node.port, "put=100000")
    check("grpc-js 100000-byte request: OK, the server got all of it",
          case.rc == 0 and case.lines == ["0 100000"], f"{case.lines} {case.err}")
    servers, clients = pair(agent, node.pid, case, ["Put"])
    check_pair("grpc-js 100000-byte request", servers, clients, [("Put", 0, None)],
               node.port)


def test_in_flight(agent, node):
    n = 20
    case = node_call(node.port, f"many={n}")
    check(f"grpc-js: {n} calls in flight on one channel, each answered with its own reply",
          case.rc == 0 and case.lines == [" ".join(["0"] * n)], f"{case.lines} {case.err}")
    servers, clients = pair(agent, node.pid, case, ["Say"] * n)
    check(f"{n} in flight: exactly {n} SERVER and {n} CLIENT spans",
          len(servers) == n and len(clients) == n, f"{len(servers)} {len(clients)}")
    check(f"{n} in flight: one connection",
          len({s["_attrs"].get("client.port") for s in servers}) == 1,
          {s["_attrs"].get("client.port") for s in servers})
    bad = [(x["kind"], x["name"], x["_attrs"]) for x in servers + clients
           if x["name"] != "demo.Echo/Say" or x["_attrs"].get("rpc.grpc.status_code") != 0
           or status_code(x) != 0 or "spanprobe.partial" in x["_attrs"]]
    check(f"{n} in flight: every span demo.Echo/Say, status code 0, status unset, "
          "whole headers", not bad, f"{len(bad)} not: {bad[:3]}")
    by_id = {c["spanId"]: c for c in clients}
    parents = [s.get("parentSpanId") for s in servers]
    check(f"{n} in flight: each server span is the child of a distinct client span",
          len(set(parents)) == len(servers)
          and all(p in by_id and is_child(s, by_id[p]) for s, p in zip(servers, parents)),
          f"{sum(p not in by_id for p in parents)} of {len(servers)} without their client's")


def test_python(agent, python, py, node):
    case = py_call(python, py.port, "say=hello", f"fail=13,{BROKE}")
    check("grpcio client to grpcio server: OK, INTERNAL as called",
          case.rc == 0 and case.lines == ["0 hello", f"13 {BROKE}"], f"{case.lines} {case.err}")
    servers, clients = pair(agent, py.pid, case, ["Say", "Fail"])
    check_pair("grpcio to grpcio", servers, clients,
               [("Fail", 13, BROKE), ("Say", 0, None)], py.port)

    case = py_call(python, py.port, "fail=5,no such thing")
    check("grpcio to grpcio: NOT_FOUND as called",
          case.rc == 0 and case.lines == ["5 no such thing"], f"{case.lines} {case.err}")
    servers, clients = pair(agent, py.pid, case, ["Fail"])
    check_pair("grpcio to grpcio", servers, clients, [("Fail", 5, "no such thing")], py.port)

    case = node_call(py.port, "say=hello", "fail=5,no such thing")
    check("grpc-js client to grpcio server: OK, NOT_FOUND as called",
          case.rc == 0 and case.lines == ["0 hello", "5 no such thing"],
          f"{case.lines} {case.err}")
    servers, clients = pair(agent, py.pid, case, ["Say", "Fail"])
    check_pair("grpc-js to grpcio", servers, clients,
               [("Fail", 5, "no such thing"), ("Say", 0, None)], py.port)

    case = py_call(python, node.port, "say=hello", f"fail=13,{BROKE}")
    check("grpcio client to grpc-js server: OK, INTERNAL as called",
          case.rc == 0 and case.lines == ["0 hello", f"13 {BROKE}"], f"{case.lines} {case.err}")
    servers, clients = pair(agent, node.pid, case, ["Say", "Fail"])
    check_pair("grpcio to grpc-js", servers, clients,
               [("Fail", 13, BROKE), ("Say", 0, None)], node.port)


class Exporter:
    """A second `spanprobe run`, node-wide, sending to the receiver as
    OTEL_EXPORTER_OTLP_ENDPOINT says (OTLP/HTTP, protobuf, over h2c)."""

    def __init__(self, rx, tmp, extra_args):
        self.rx = rx
        self.spans = []
        self.errfile = open(os.path.join(tmp, "exporter.err"), "w+")
        env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint("h2c"),
                   OTEL_BSP_SCHEDULE_DELAY="100")
        self.proc = subprocess.Popen([SPANPROBE, "run", "-v", *extra_args], stdout=subprocess.DEVNULL,
                                     stderr=self.errfile, env=env)

    def stderr(self):
        self.errfile.seek(0)
        return self.errfile.read()

    def snapshot(self):
        """Every span received so far, with its attributes as a dict under
        "_attrs" and its resource's under "_resource" (as Agent's).  The
        receiver's dump is read as it grows (Receiver.take())."""
        for res, _, s in spans_of(self.rx.take()[1]):
            s["_attrs"] = attrs(s.get("attributes"))
            s["_resource"] = res
            self.spans.append(s)
        return self.spans

    def wait_ready(self, port):
        """Capture is on once an h2c request to port reaches the receiver."""
        warm = lambda s: s["_attrs"].get("url.path") == "/otlp-warmup"  # noqa: E731
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            curl("--http2-prior-knowledge", f"http://127.0.0.1:{port}/otlp-warmup")
            for _ in range(10):
                if any(warm(s) for s in self.snapshot()):
                    return True
                time.sleep(0.05)
        return False

    def stop(self):
        """SIGTERM; returns the exit status and what it wrote on stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        err = self.stderr()
        self.errfile.close()
        return rc, err


def same_span(otlp, json_span):
    """What the two outputs must agree on (IDs are each spanprobe's own)."""
    def view(s):
        st = s.get("status") or {}
        return (s["name"], s["kind"], s["_attrs"], st.get("code", 0), st.get("message") or "",
                s["_resource"].get("process.pid"))
    return view(otlp) == view(json_span)


def test_otlp(agent, node, tmp, extra_args):
    """The same calls through OTLP to the receiver (a second spanprobe)
    and as OTLP/JSON on stdout (the first): the same spans."""
    rx = Receiver(tmp)
    exporter = None
    try:
        if not check("OTLP: receiver (node, tests/otlp-node) started", rx.ready):
            return
        exporter = Exporter(rx, tmp, extra_args)
        ready = exporter.wait_ready(node.port)
        if not check("OTLP: a second spanprobe run sends to the receiver", ready,
                     exporter.stderr()[-2000:]):
            return
        case = node_call(node.port, "say=hello", f"fail=13,{BROKE}")
        check("OTLP: grpc-js unary OK and INTERNAL as called",
              case.rc == 0 and case.lines == ["0 hello", f"13 {BROKE}"],
              f"{case.lines} {case.err}")
        servers, clients = pair(agent, node.pid, case, ["Say", "Fail"])
        o_servers, o_clients = pair(exporter, node.pid, case, ["Say", "Fail"])
        if not check_pair("OTLP receiver", o_servers, o_clients,
                          [("Fail", 13, BROKE), ("Say", 0, None)], node.port):
            return
        check("OTLP receiver: the same spans as OTLP/JSON (name, kind, attributes, status, "
              "pid)", len(servers) == 2 and len(clients) == 2
              and all(same_span(o, j) for o, j in zip(o_servers + o_clients, servers + clients)),
              f"{[(s['name'], s['_attrs'], s.get('status')) for s in o_servers + o_clients]} "
              f"{[(s['name'], s['_attrs'], s.get('status')) for s in servers + clients]}")
    finally:
        if exporter:
            rc, err = exporter.stop()
            check("OTLP: the second spanprobe exits 0 on SIGTERM", rc == 0, err[-2000:])
        rx.stop()


def wait_capture(agent, port):
    """Capture is on once an h2c request to port yields a server span."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and agent.proc.poll() is None:
        curl("--http2-prior-knowledge", f"http://127.0.0.1:{port}/warmup")
        if agent.wait_quick(lambda s: s["_attrs"].get("url.path") == "/warmup"):
            return True
    return False


def run_cases(agent, python, cgroup, tmp):
    node = py = None
    try:
        # Started after spanprobe, so that their connections open under
        # capture (the first bytes of a connection choose its decoder).
        port = free_port()
        node = Server(["node", GRPC_NODE, "serve", str(port)], port)
        check("grpc-js server started", node.ready)
        if python:
            pport = free_port()
            py = Server([python, GRPC_PY, "serve", str(pport)], pport)
            check("grpcio server started", py.ready)
        ready = node.ready and wait_capture(agent, port)
        check("spanprobe run: HTTP/2 capture on", ready, agent.stderr())
        if not ready:
            return
        test_unary(agent, node)
        test_server_stream(agent, node)
        test_deadline(agent, node)
        test_large(agent, node)
        test_in_flight(agent, node)
        if py and py.ready:
            test_python(agent, python, py, node)
        test_otlp(agent, node, tmp, cgroup.args())
    finally:
        for s in (node, py):
            if s:
                s.stop()


def main():
    have_node = shutil.which("node") is not None and os.path.isdir(GRPC_JS)
    if not check("node and @grpc/grpc-js (tests/otlp-node; deploy/deps.sh installs it), curl",
                 have_node and shutil.which("curl") is not None):
        finish()
    python = grpc_python()
    check("python3 with the grpc module (Debian: python3-grpcio; deploy/deps.sh installs it)",
          python is not None)
    cgroup = OwnCgroup()
    agent = Agent(cgroup.args())
    try:
        with tempfile.TemporaryDirectory(prefix="sp-grpc-") as tmp:
            run_cases(agent, python, cgroup, tmp)
    finally:
        rc = agent.stop()
        cgroup.leave()
    check("spanprobe exits 0 on SIGTERM", rc == 0, agent.stderr()[-2000:])
    finish()


main()
