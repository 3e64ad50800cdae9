#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The export benchmark's parts, for correctness only (no timings): the
sink (bench/otlp_sink.c) answers h2c and HTTP/1.1 on one port, counts
exactly, refuses bad requests and stops by itself; the benchmark
(bench/export.c) exits 0 only when every span was delivered, both encoders
sent the same bytes and the sink received exactly what was sent; the
throughput benchmark (bench/throughput.c) exits 0 only when every HTTP/1
exchange of its records became one span exported to the sink."""
import os
import signal
import socket
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.path.join(ROOT, os.environ.get('SP_BUILD', 'build'))
SINK = os.path.join(BUILD, 'bench', 'otlp_sink')
EXPORT = os.path.join(BUILD, 'bench', 'export')
THROUGHPUT = os.path.join(BUILD, 'bench', 'throughput')
failures = 0


def check(name, cond, detail=''):
    global failures
    if cond:
        print(f'ok - {name}')
    else:
        failures += 1
        print(f'not ok - {name} {detail}')


def start_sink(*args):
    p = subprocess.Popen([SINK, *args], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    if len(line) != 2 or line[0] != 'listening':
        p.kill()
        raise RuntimeError('the sink did not start')
    return p, int(line[1])


def converse(port, data):
    """Send `data`, read until the sink closes or goes quiet."""
    out = b''
    with socket.create_connection(('127.0.0.1', port)) as s:
        s.settimeout(1.0)
        try:
            s.sendall(data)
            while True:
                d = s.recv(65536)
                if not d:
                    return out + b'<closed>'
                out += d
        except socket.timeout:
            return out
        except ConnectionResetError:
            return out + b'<closed>'


def stop_sink(p):
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=10)
    fields = out.split()
    return p.returncode, dict(zip(fields[0::2], fields[1::2]))


def test_sink():
    p, port = start_sink('-t', '60')
    req = (b'POST /v1/traces HTTP/1.1\r\nHost: x\r\n'
           b'Content-Type: application/x-protobuf\r\nContent-Length: 5\r\n\r\nhello')
    out = converse(port, req * 3)
    check('sink: 3 pipelined HTTP/1.1 requests, 3 answers',
          out.count(b'HTTP/1.1 200 OK\r\n') == 3 and
          out.count(b'Content-Length: 0\r\n') == 3 and
          out.count(b'Content-Type: application/x-protobuf\r\n') == 3, repr(out[:200]))
    out = converse(port, b'POST / HTTP/1.1\r\nX: ' + b'a' * 70000)
    check('sink: oversized head answered 431, closed',
          out.startswith(b'HTTP/1.1 431 ') and out.endswith(b'<closed>'), repr(out[:80]))
    out = converse(port, b'GARBAGE\r\n\r\n')
    check('sink: garbage answered 400, closed',
          out.startswith(b'HTTP/1.1 400 ') and out.endswith(b'<closed>'), repr(out[:80]))
    out = converse(port, b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n')
    check('sink: chunked body answered 411', out.startswith(b'HTTP/1.1 411 '), repr(out[:80]))
    r = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{http_version}',
                        '--http2-prior-knowledge', '--data-binary', 'x' * 1000,
                        f'http://127.0.0.1:{port}/v1/traces'],
                       capture_output=True, text=True, timeout=30)
    check('sink: h2c prior knowledge answered 200 over HTTP/2', r.stdout == '200 2', r.stdout)
    rc, counters = stop_sink(p)
    want = {'requests': '4', 'h2': '1', 'h1': '3', 'body_bytes': '1015',
            'connections': '5', 'errors': '0'}
    got = {k: counters.get(k) for k in want}
    check('sink: SIGTERM, exact counters', rc == 0 and got == want, f'rc {rc} {got}')


def test_sink_time_limit():
    p, _ = start_sink('-t', '1')
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    check('sink: stops by itself at its time limit', rc == 0, f'rc {rc}')


def test_export_bench():
    r = subprocess.run([EXPORT, '-n', '3', '-b', '2', '-s', '100'],
                       capture_output=True, text=True, timeout=300)
    rows = [l for l in r.stdout.splitlines()
            if l.startswith(('h2c ', 'HTTP/1.1 '))]
    check('export bench: every span delivered, encoders agree, sink exact',
          r.returncode == 0, r.stderr.strip())
    check('export bench: 8 variants reported', len(rows) == 8, f'{len(rows)} rows')


def test_throughput_bench():
    r = subprocess.run([THROUGHPUT, '-n', '3', '-r', '1', '-P'],
                       capture_output=True, text=True, timeout=300)
    check('throughput bench: every exchange one span, exported, sink answered',
          r.returncode == 0, r.stderr.strip())
    check('throughput bench: 16384 exchanges a replay, CPU per span reported',
          '3 runs of 1 replays of 16384 exchanges' in r.stdout and
          'CPU, both threads:' in r.stdout, r.stdout[-300:])


def main():
    for path in (SINK, EXPORT, THROUGHPUT):
        if not os.access(path, os.X_OK):
            print(f'not ok - {os.path.basename(path)} is not built: '
                  f'make BUILD={os.path.basename(BUILD)} tests-build')
            return 1
    test_sink()
    test_sink_time_limit()
    test_export_bench()
    test_throughput_bench()
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
