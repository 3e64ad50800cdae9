#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""OTLP exporter against the Node receiver (tests/otlp-node/receiver.js):
every protocol and transport, gzip, and the fault modes, each with exact
counts of what was delivered, retried and dropped.  The push driver
(tests/tools/otlp_push) sends synthetic spans named push-<batch>-<index>."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.path.join(ROOT, os.environ.get('SP_BUILD', 'build'))
PUSH = os.path.join(BUILD, 'tests', 'tools', 'otlp_push')
NODE_DIR = os.path.join(ROOT, 'tests', 'otlp-node')
failures = 0
tmp = tempfile.mkdtemp(prefix='sp-export-')


def check(name, cond, detail=''):
    global failures
    if cond:
        print(f'ok - {name}')
    else:
        failures += 1
        print(f'not ok - {name} {detail}')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Receiver:
    def __init__(self, *args, wait=True):
        self.out = os.path.join(tmp, f'rcv-{free_port()}.jsonl')
        open(self.out, 'w').close()
        self.proc = subprocess.Popen(['node', 'receiver.js', '--out', self.out, *map(str, args)],
                                     cwd=NODE_DIR, stdout=subprocess.PIPE, text=True)
        if wait:
            self.wait_ready()

    def wait_ready(self):
        line = self.proc.stdout.readline()
        if line.strip() != 'ready':
            raise RuntimeError('receiver did not start')

    def records(self):
        with open(self.out) as f:
            return [json.loads(l) for l in f if l.strip()]

    def spans(self):
        return [s for r in self.records() for s in r['spans']]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def push(endpoint, batches, env=None, args=(), protocol=None):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith('OTEL_'):
            del e[k]
    e['OTEL_EXPORTER_OTLP_ENDPOINT'] = endpoint
    if protocol:
        e['OTEL_EXPORTER_OTLP_PROTOCOL'] = protocol
    e.update(env or {})
    cmds = ''.join(f'send {n}\n' for n in batches) + 'quit\n'
    p = subprocess.run([PUSH, *map(str, args)], input=cmds, capture_output=True, text=True,
                       env=e, timeout=120)
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith('{')]
    return lines, p.stderr


def names(batch, n):
    return [f'push-{batch}-{i}' for i in range(n)]


def expect(name, stats, **want):
    got = {k: stats.get(k) for k in want}
    check(name, got == want, f'got {got} want {want}')


def test_transports():
    h1, h2c, grpc = free_port(), free_port(), free_port()
    r = Receiver('--http1', h1, '--h2c', h2c, '--grpc', grpc)
    try:
        # h2c with prior knowledge, one warm connection for both batches; gzip above 1 KiB.
        st, _ = push(f'http://127.0.0.1:{h2c}', [5, 700], args=['--connections', '1'])
        expect('h2c: counters', st[-1], exported=705, failed=0, retried=0, connects=1, requests=2)
        recs = r.records()
        check('h2c: every span once', sorted(r.spans()) == sorted(names(0, 5) + names(1, 700)))
        check('h2c: HTTP/2, gzip, protobuf, user agent',
              [(x['httpVersion'], x['encoding'], x['contentType']) for x in recs] ==
              [('2.0', 'gzip', 'application/x-protobuf')] * 2 and
              recs[0]['ua'].startswith('spanprobe/'), str(recs[:1]))
        check('h2c: resource grouped', recs[0]['services'] == ['otlp-push'])

        # An HTTP/1 server at an http:// URL: h2c refused, HTTP/1.1 from then on.
        r0 = len(r.records())
        st, err = push(f'http://127.0.0.1:{h1}', [5, 5, 5], args=['--connections', '1', '-v'])
        expect('h1 fallback: counters', st[-1], exported=15, failed=0, retried=0,
               connects=2, h1_fallbacks=1, requests=4)
        recs = r.records()[r0:]
        check('h1 fallback: HTTP/1.1 keep-alive', [x['httpVersion'] for x in recs] == ['1.1'] * 3)
        check('h1 fallback: said once', err.count('does not speak HTTP/2') == 1, err)

        r0 = len(r.records())
        st, _ = push(f'http://127.0.0.1:{h1}', [5, 5], args=['--http-version', '1.1'],
                     protocol='http/json')
        expect('http/json over HTTP/1.1: counters', st[-1], exported=10, failed=0, connects=1)
        recs = r.records()[r0:]
        check('http/json: decoded', [x['spans'] for x in recs] == [names(0, 5), names(1, 5)] and
              recs[0]['contentType'] == 'application/json' and recs[0]['encoding'] == 'gzip')

        r0 = len(r.records())
        st, _ = push(f'http://127.0.0.1:{grpc}', [5, 300], protocol='grpc')
        expect('gRPC (grpc-js): counters', st[-1], exported=305, failed=0, retried=0, connects=1)
        check('gRPC (grpc-js): every span once',
              sorted(s for x in r.records()[r0:] for s in x['spans']) ==
              sorted(names(0, 5) + names(1, 300)))

        r0 = len(r.records())
        st, _ = push(f'http://127.0.0.1:{h2c}', [2, 40], protocol='grpc')
        recs = r.records()[r0:]
        expect('gRPC (raw): counters', st[-1], exported=42, failed=0)
        check('gRPC: grpc-encoding gzip only above the threshold',
              [(x['port'], x['encoding']) for x in recs] == [('grpc-raw', ''), ('grpc-raw', 'gzip')])

        # Bodies above the limit are split; the parts go out together.
        r0 = len(r.records())
        st, _ = push(f'http://127.0.0.1:{h2c}', [20], args=['--max-body', '2000', '--connections', '2'])
        recs = r.records()[r0:]
        expect('split: counters', st[-1], exported=20, failed=0, requests=4, connects=2)
        check('split: 4 requests of 5, every span once',
              [len(x['spans']) for x in recs] == [5] * 4 and sorted(r.spans()[-20:]) ==
              sorted(names(0, 20)), str([len(x['spans']) for x in recs]))
    finally:
        r.stop()


def fault(kind, count, *extra):
    h1, h2c, grpc = free_port(), free_port(), free_port()
    r = Receiver('--http1', h1, '--h2c', h2c, '--grpc', grpc, '--fault', kind,
                 '--count', count, *extra)
    return r, {'h1': f'http://127.0.0.1:{h1}', 'h2c': f'http://127.0.0.1:{h2c}',
               'grpc': f'http://127.0.0.1:{grpc}'}


def test_faults():
    fast = ['--retry-initial', '50', '--retry-max', '200']
    r, ep = fault('503', 2, '--retry-after', '1')
    try:
        st, _ = push(ep['h2c'], [10], args=fast)
        expect('503 + Retry-After x2: counters', st[-1], exported=10, failed=0, retried=2,
               connects=1)
        check('503: refused twice, then delivered once',
              [len(x['spans']) for x in r.records()] == [0, 0, 10] and
              sorted(r.spans()) == sorted(names(0, 10)))
    finally:
        r.stop()

    r, ep = fault('429', 1, '--retry-after', 'Thu, 01 Jan 1970 00:00:00 GMT')
    try:
        st, _ = push(ep['h1'], [7], args=fast + ['--http-version', '1.1'])
        expect('429 + past HTTP-date over HTTP/1.1: counters', st[-1], exported=7, failed=0,
               retried=1, connects=1)
        check('429: delivered once', sorted(r.spans()) == sorted(names(0, 7)))
    finally:
        r.stop()

    r, ep = fault('400', 2)
    try:
        st, err = push(ep['h2c'], [4, 6, 3], args=fast)
        expect('400: not retried, counted failed', st[-1], exported=3, failed=10, retried=0)
        check('400: logged once with the server message',
              err.count('HTTP 400: bad spans here') == 1, err)
        check('400: recovery said', 'accepts spans again' in err, err)
    finally:
        r.stop()

    for transport, args in (('h2c', []), ('h1', ['--http-version', '1.1'])):
        r, ep = fault('reset', 2)
        try:
            st, _ = push(ep[transport], [9], args=fast + args)
            expect(f'connection reset x2 ({transport}): counters', st[-1], exported=9,
                   failed=0, retried=2, connects=3)
            check(f'reset ({transport}): delivered once', sorted(r.spans()) == sorted(names(0, 9)))
        finally:
            r.stop()

    r, ep = fault('delay', 1, '--delay-ms', '3000')
    try:
        st, err = push(ep['h2c'], [5, 6], env={'OTEL_EXPORTER_OTLP_TIMEOUT': '1000'}, args=fast)
        expect('answer past the timeout: first batch failed, not retried', st[0], exported=0,
               failed=5, retried=0)
        expect('answer past the timeout: same connection serves the next batch', st[1],
               exported=6, failed=5, retried=0, connects=1)
        check('timeout: logged', 'no answer within the export timeout' in err, err)
    finally:
        r.stop()

    r, ep = fault('partial', 1, '--rejected', '2')
    try:
        st, err = push(ep['h2c'], [8], args=fast)
        expect('partial_success: rejected counted failed, not retried', st[-1], exported=6,
               failed=2, retried=0)
        check('partial_success: message logged', 'too old' in err, err)
    finally:
        r.stop()


def test_grpc_faults():
    fast = ['--retry-initial', '50', '--retry-max', '200']
    cases = (('unavailable', 2, 'h2c', dict(exported=6, failed=0, retried=2)),
             ('unavailable', 1, 'grpc', dict(exported=6, failed=0, retried=1)),
             ('exhausted', 1, 'h2c', dict(exported=0, failed=6, retried=0)),
             ('exhausted-retry', 1, 'h2c', dict(exported=6, failed=0, retried=1)),
             ('400', 1, 'grpc', dict(exported=0, failed=6, retried=0)))
    for kind, count, port, want in cases:
        r, ep = fault(kind, count, '--retry-after', '0')
        try:
            st, _ = push(ep[port], [6], protocol='grpc', args=fast)
            expect(f'gRPC {kind} x{count} ({port}): counters', st[-1], **want)
            check(f'gRPC {kind} ({port}): spans received {want["exported"]}',
                  len(r.spans()) == want['exported'])
        finally:
            r.stop()


def test_endpoint_down():
    port = free_port()
    ep = f'http://127.0.0.1:{port}'
    env = {'OTEL_EXPORTER_OTLP_TIMEOUT': '800'}
    st, err = push(ep, [3, 3], env=env, args=['--retry-initial', '100', '--retry-max', '200'])
    expect('endpoint down: spans failed', st[-1], exported=0, failed=6)
    check('endpoint down: one line for two batches',
          err.count('Connection refused') == 1, err)
    # Down at start, up within the export timeout: delivered by the retries.
    r = Receiver('--h2c', port, '--start-delay', '1500', wait=False)
    try:
        st, err = push(ep, [5], env={'OTEL_EXPORTER_OTLP_TIMEOUT': '20000'},
                       args=['--retry-initial', '200', '--retry-max', '400'])
        check('endpoint comes up later: delivered after retries',
              st[-1]['exported'] == 5 and st[-1]['failed'] == 0 and st[-1]['retried'] >= 1,
              str(st))
        check('endpoint comes up later: every span once', sorted(r.spans()) == sorted(names(0, 5)))
    finally:
        r.stop()


def test_tls():
    cert, key = os.path.join(tmp, 'cert.pem'), os.path.join(tmp, 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
                    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
                    '-keyout', key, '-out', cert], check=True, capture_output=True)
    port = free_port()
    r = Receiver('--tls', port, '--cert', cert, '--key', key)
    try:
        ep = f'https://localhost:{port}'
        st, _ = push(ep, [5, 5], env={'OTEL_EXPORTER_OTLP_CERTIFICATE': cert})
        expect('TLS + ALPN h2: counters', st[-1], exported=10, failed=0, connects=1)
        recs = r.records()
        check('TLS: HTTP/2 chosen', [x['httpVersion'] for x in recs] == ['2.0', '2.0'])
        st, _ = push(ep, [4], env={'OTEL_EXPORTER_OTLP_CERTIFICATE': cert},
                     args=['--http-version', '1.1'])
        expect('TLS + ALPN http/1.1: counters', st[-1], exported=4, failed=0)
        check('TLS: HTTP/1.1 chosen', r.records()[-1]['httpVersion'] == '1.1')
        n = len(r.records())
        st, err = push(ep, [3])
        expect('TLS with an unknown CA: refused, counted', st[-1], exported=0, failed=3,
               retried=0)
        check('TLS unknown CA: nothing delivered', len(r.records()) == n)
    finally:
        r.stop()


def main():
    if not os.path.exists(PUSH):
        print(f'not ok - otlp_push missing: build {PUSH} (make tests-build)')
        return 1
    if not os.path.isdir(os.path.join(NODE_DIR, 'node_modules')):
        subprocess.run(['npm', 'ci', '--silent'], cwd=NODE_DIR, check=False)
    if not shutil.which('node') or not os.path.isdir(os.path.join(NODE_DIR, 'node_modules')):
        print('not ok - node and tests/otlp-node/node_modules are needed (npm ci)')
        return 1
    tests = [test_transports, test_faults, test_grpc_faults, test_endpoint_down, test_tls]
    only = sys.argv[1:]
    for t in tests:
        if not only or t.__name__ in only:
            t()
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
