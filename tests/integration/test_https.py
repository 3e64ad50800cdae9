#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTPS without keys: the plaintext read at the TLS library, node-wide.
Servers: Python's ssl (libssl, loaded by dlopen when `ssl` is imported),
one started before spanprobe (found by the start-up scan) and one after
(found when it loads libssl); Node.js (its own OpenSSL, exported from the
executable); a Go program (crypto/tls, probed at its return instructions).
Clients: curl (libssl, short-lived), Node.js, Go.  Every exchange gives
exactly one SERVER and one CLIENT span with url.scheme https, the client's
url.full https://..., linked on the same host; the ciphertext is never
decoded as HTTP; a stripped Go program is named as not decrypted, with
its connections counted; `trace`
follows the TLS of its own command only."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from sptest import IN_KERNEL_MATRIX, check, finish, program, require_root, run_json  # noqa: E402
from httptest import (Agent, Server, free_port, is_child, make_cert, seconds_until_out,  # noqa: E402
                      python_server)

require_root()
SERVER, CLIENT = 2, 3
HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(os.path.dirname(HERE), "programs")
PY_SERVER = os.path.join(PROGRAMS, "https_server.py")
NODE = os.path.join(PROGRAMS, "https_node.js")
GO = program("tls_server")
GO_STRIPPED = program("tls_server.stripped")


def spans_of(agent, pid, kind, n):
    return agent.wait_for(lambda s: s["_resource"].get("process.pid") == pid
                          and s["kind"] == kind, n)


def check_exchanges(agent, what, server, client_pids, port, paths):
    """Exactly one SERVER span of `server` per path and one CLIENT span of
    the client processes per path, https, linked."""
    n = len(paths)
    servers = spans_of(agent, server.pid, SERVER, n)
    clients = [s for pid in client_pids for s in spans_of(agent, pid, CLIENT, 1)]
    if len(clients) < n:
        clients = agent.wait_for(lambda s: s["_resource"].get("process.pid") in client_pids
                                 and s["kind"] == CLIENT, n)
    check(f"{what}: exactly {n} SERVER and {n} CLIENT spans",
          len(servers) == n and len(clients) == n, f"{len(servers)} {len(clients)}")
    check(f"{what}: server spans are https, the paths asked for, status 200",
          sorted(s["_attrs"].get("url.path") for s in servers) == sorted(paths)
          and all(s["_attrs"].get("url.scheme") == "https"
                  and s["_attrs"].get("http.response.status_code") == 200
                  and s["_attrs"].get("server.port") == port for s in servers),
          [s["_attrs"] for s in servers])
    check(f"{what}: client spans say url.full https://127.0.0.1:{port}/...",
          sorted(c["_attrs"].get("url.full") for c in clients)
          == sorted(f"https://127.0.0.1:{port}{p}" for p in paths)
          and all(c["_attrs"].get("url.scheme") == "https" for c in clients),
          [c["_attrs"] for c in clients])
    check(f"{what}: each server span is the child of one client span",
          all(sum(is_child(s, c) for c in clients) == 1 for s in servers),
          [(s["traceId"][:8], s.get("parentSpanId"), s["startTimeUnixNano"]) for s in servers]
          + [(c["traceId"][:8], c["spanId"], c["startTimeUnixNano"]) for c in clients])


def run_client(args):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out, _ = p.communicate(timeout=60)
    return p.returncode, out, p.pid


def test_curl_python(agent, py, what):
    pids = []
    for i in (1, 2):
        rc, out, pid = run_client(["curl", "-sk", f"https://127.0.0.1:{py.port}/{what}/{i}"])
        check(f"{what}: curl {i} got the page", rc == 0 and out == f"py-tls /{what}/{i}\n", out)
        pids.append(pid)
    check_exchanges(agent, f"curl -> python ({what})", py, pids, py.port,
                    [f"/{what}/1", f"/{what}/2"])


def test_curl_each(agent, server, what):
    """curl -k against a server: its SERVER span and curl's CLIENT span,
    method, path, status and size exact, out within a second."""
    path = f"/curl-{what}"
    p = subprocess.Popen(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                          f"https://127.0.0.1:{server.port}{path}"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out, _ = p.communicate(timeout=60)
    exited = time.monotonic()
    code, size = (int(x) for x in out.split()) if p.returncode == 0 else (0, -1)
    check(f"curl -k -> {what}: 200", code == 200, out)

    def is_server(s):
        return (s["_resource"].get("process.pid") == server.pid and s["kind"] == SERVER
                and s["_attrs"].get("url.path") == path)

    def is_client(s):
        return s["_resource"].get("process.pid") == p.pid and s["kind"] == CLIENT

    delay = seconds_until_out(agent, exited, [is_server, is_client])
    check(f"curl -k -> {what}: both spans out within 1 s of curl's exit",
          delay is not None and delay < 1.0, f"{delay} s")
    pair = [s for s in agent.snapshot() if is_server(s) or is_client(s)]
    want = {"http.request.method": "GET", "url.scheme": "https",
            "http.response.status_code": 200, "http.response.body.size": size,
            "server.port": server.port}
    check(f"curl -k -> {what}: one span each side, GET {path} 200, {size} bytes, https",
          len(pair) == 2 and all({k: s["_attrs"].get(k) for k in want} == want for s in pair)
          and any(s["_attrs"].get("url.full") == f"https://127.0.0.1:{server.port}{path}"
                  for s in pair if s["kind"] == CLIENT),
          [(s["kind"], s["_attrs"]) for s in pair])


def libssl_of(binary):
    """The libssl a program loads, as the dynamic loader finds it."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.strip().startswith("libssl.so") and "=>" in line:
            return line.split("=>")[1].split()[0]
    return None


def test_vendored_libssl(agent, server, d):
    """A libssl under a name of its own, as Python wheels bundle it
    (libssl-<hash>.so.N; its soname stays libssl.so.N, so preloading it
    serves curl's libcurl): probed like libssl.so.N.  Loaded at start by
    the dynamic loader, it is found by the scan its first handshake asks
    for: that connection is missed, the next ones (half a second apart,
    each a connection of its own) are traced."""
    curl = shutil.which("curl")
    lib = libssl_of(curl) if curl else None
    if not check("vendored libssl: curl's libssl found", lib is not None, curl):
        return
    copy = os.path.join(d, "libssl-3f2a9c1d" + os.path.basename(lib)[len("libssl"):])
    shutil.copyfile(lib, copy)
    urls = [f"https://127.0.0.1:{server.port}/vendored-libssl/{i}" for i in (1, 2, 3)]
    p = subprocess.Popen(["curl", "-sk", "--rate", "2/s", "-H", "Connection: close"] + urls,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env=dict(os.environ, LD_PRELOAD=copy))
    out, _ = p.communicate(timeout=60)
    check("vendored libssl: curl got the 3 pages", p.returncode == 0
          and out.count("/vendored-libssl/") == 3, out)
    got = agent.wait_for(lambda s: s["_resource"].get("process.pid") == p.pid
                         and s["kind"] == CLIENT, 2)
    check("vendored libssl: curl's CLIENT spans of its 2nd and 3rd connections",
          sorted(s["_attrs"].get("url.full") for s in got)[-2:] == urls[1:],
          [s["_attrs"].get("url.full") for s in got])


def test_node(agent, node):
    url = f"https://127.0.0.1:{node.port}/node"
    rc, out, pid = run_client(["node", NODE, "get", url, "3"])
    check("node client -> node server: 3 requests done", rc == 0 and "done 3" in out, out)
    check_exchanges(agent, "node -> node", node, [pid], node.port, ["/node"] * 3)


def test_go(agent, go):
    url = f"https://127.0.0.1:{go.port}/go/1"
    rc, out, pid = run_client([GO, "get", "-n", "3", url])
    check("go client -> go server: 3 requests done", rc == 0 and out.count("status 200") == 3,
          out)
    check_exchanges(agent, "go -> go", go, [pid], go.port, ["/go/1"] * 3)


def test_no_ciphertext_spans(agent, ports):
    tls = [s for s in agent.snapshot() if s["_attrs"].get("server.port") in ports]
    check("no span on the TLS ports but https ones (the ciphertext is not decoded)",
          tls and all(s["_attrs"].get("url.scheme") == "https" for s in tls),
          [(s["name"], s["_attrs"].get("url.scheme")) for s in tls])


def test_stripped_go(agent):
    port = free_port()
    go = Server([GO_STRIPPED, "serve", "-port", str(port)], port, wait_line=f"listening {port}")
    try:
        rc, out, pid = run_client(["curl", "-sk", f"https://127.0.0.1:{port}/stripped"])
        check("stripped Go server answers", out == "go-tls-get\n", out)
        want = f"Go executable without symbols: {os.path.realpath(GO_STRIPPED)}"
        ok = agent.wait_quick(lambda s: False) or want in agent.stderr()
        check("a stripped Go program is named: its TLS is not decrypted",
              ok and "its TLS is not decrypted" in agent.stderr(), agent.stderr()[-1500:])
    finally:
        go.stop()


def test_trace(go):
    url = f"https://127.0.0.1:{go.port}/traced"
    rc, spans, err = run_json(["trace", "--", "curl", "-sk", "-o", "/dev/null", url])
    check("trace curl https: exactly its one CLIENT span, https, the server untraced",
          rc == 0 and len(spans) == 1 and spans[0]["kind"] == CLIENT
          and spans[0]["_attrs"].get("url.full") == url
          and spans[0]["_attrs"].get("http.response.status_code") == 200,
          f"{err[-800:]} {[(s['name'], s['kind']) for s in spans]}")


def test_filters(node, go):
    """The filters apply to TLS plaintext as to clear text: --port keeps
    the exchanges with that server port (both ends), -p that process."""
    for args, what, want in ((["--port", str(node.port)], f"--port {node.port}",
                              {(SERVER, node.port), (CLIENT, node.port)}),
                             (["-p", str(go.pid)], f"-p {go.pid} (the Go server)",
                              {(SERVER, go.port)})):
        agent = Agent(extra_args=args + ["-v"])
        try:
            deadline = time.monotonic() + 20
            while ("tracing HTTP" not in agent.stderr() and time.monotonic() < deadline
                   and agent.proc.poll() is None):
                time.sleep(0.05)
            for server in (node, go):
                run_client(["curl", "-sk", f"https://127.0.0.1:{server.port}/filter"])
            agent.wait_for(lambda s: "/filter" in s["_attrs"].get("url.path", "")
                           + s["_attrs"].get("url.full", ""), len(want))
            time.sleep(0.3)  # anything more would be out by now
        finally:
            agent.stop()
        got = [(s["kind"], s["_attrs"].get("server.port")) for s in agent.snapshot()
               if "/filter" in s["_attrs"].get("url.path", "") + s["_attrs"].get("url.full", "")]
        check(f"filters over TLS, {what}: exactly the spans it keeps",
              sorted(got) == sorted(want), got)


def main():
    d = tempfile.mkdtemp(prefix="sp-tls-")
    cert, key = make_cert(d)
    port = free_port()
    py_before = Server(["python3", PY_SERVER, str(port), cert, key], port)
    plain = python_server(free_port(), d)
    agent = Agent(extra_args=["-v"])
    servers = [py_before, plain]
    try:
        check("servers started before spanprobe", py_before.ready and plain.ready)
        check("spanprobe run: capture on", agent.wait_ready(plain.port), agent.stderr())
        port = free_port()
        py_after = Server(["python3", PY_SERVER, str(port), cert, key], port)
        port = free_port()
        node = Server(["node", NODE, "serve", str(port), cert, key], port)
        port = free_port()
        go = Server([GO, "serve", "-port", str(port)], port, wait_line=f"listening {port}")
        servers += [py_after, node, go]
        check("servers started after spanprobe", py_after.ready and node.ready and go.ready)
        test_curl_python(agent, py_before, "before")
        test_curl_python(agent, py_after, "after")
        test_node(agent, node)
        test_go(agent, go)
        for server, what in ((py_after, "python"), (node, "node"), (go, "go")):
            test_curl_each(agent, server, what)
        test_vendored_libssl(agent, py_after, d)
        test_no_ciphertext_spans(agent, {s.port for s in (py_before, py_after, node, go)})
        test_stripped_go(agent)
    finally:
        rc = agent.stop()
    err = agent.stderr()
    check("spanprobe exits 0", rc == 0, err[-800:])
    # Node-wide: other programs of the host may be named too; ours must be.
    check("the report names the files probed: libssl, node, the Go program; the stripped "
          "Go program as not probeable",
          "tls: probing OpenSSL in /usr/bin/node" in err and "libssl.so" in err
          and f"crypto/tls in {os.path.realpath(GO)}\n" in err
          and f"without symbols: {os.path.realpath(GO_STRIPPED)};" in err
          and "files probed (" in err, [x for x in err.splitlines() if "tls" in x])
    blind = [x for x in err.splitlines() if x.startswith("tls: TLS traffic not decrypted")]
    check("the report names the one program whose TLS was not decrypted, with its one "
          "connection", blind == [f"tls: TLS traffic not decrypted: "
                                  f"{os.path.realpath(GO_STRIPPED)}, 1 connections"], blind)
    # `trace` and the filters choose the same on every kernel, and each
    # starts the daemon again (seconds under emulation): the host's run.
    if go.ready and not IN_KERNEL_MATRIX:
        test_trace(go)
    if go.ready and node.ready and not IN_KERNEL_MATRIX:
        test_filters(node, go)
    for s in servers:
        s.stop()
    finish()


main()
