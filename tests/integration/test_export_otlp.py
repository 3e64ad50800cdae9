#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""OTLP exporter against the Node receiver (tests/otlp-node/receiver.js):
every protocol and transport, gzip, and the fault modes, each with exact
counts of what was delivered, retried and dropped.  The push driver
(tests/tools/otlp_push) sends synthetic spans named push-<batch>-<index>."""
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from sptest import check_report_sums, exit_report  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.path.join(ROOT, os.environ.get('SP_BUILD', 'build'))
PUSH = os.path.join(BUILD, 'tests', 'tools', 'otlp_push')
SPANPROBE = os.path.join(BUILD, 'spanprobe')
NESTED = os.path.join(BUILD, 'tests', 'programs', 'nested')
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


def receiver_on_free_ports(*extra):
    """A Receiver on three free ports (HTTP/1.1, h2c, gRPC) and the ports.
    A port found free can be taken before the receiver binds it (another
    process's outgoing connection gets it as its local port): then new
    ports, at most three times."""
    for attempt in range(3):
        ports = (free_port(), free_port(), free_port())
        r = Receiver('--http1', ports[0], '--h2c', ports[1], '--grpc', ports[2], *extra,
                     wait=False)
        try:
            r.wait_ready()
            return r, ports
        except RuntimeError:
            r.stop()
            if attempt == 2:
                raise


def push(endpoint, batches, env=None, args=(), protocol=None, commands=None):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith('OTEL_'):
            del e[k]
    e['OTEL_EXPORTER_OTLP_ENDPOINT'] = endpoint
    if protocol:
        e['OTEL_EXPORTER_OTLP_PROTOCOL'] = protocol
    e.update(env or {})
    cmds = ''.join(f'send {n}\n' for n in batches) + ''.join(
        f'{c}\n' for c in commands or ()) + 'quit\n'
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
    r, (h1, h2c, grpc) = receiver_on_free_ports()
    try:
        # h2c with prior knowledge, one warm connection for both batches; gzip above 1 KiB.
        st, _ = push(f'http://127.0.0.1:{h2c}', [5, 700], args=['--connections', '1'])
        expect('h2c: counters', st[-1], exported=705, failed=0, retried=0, connects=1, requests=2)
        check('h2c: bytes sent are the bytes the sockets took (framing included)',
              st[-1]['bytes_sent'] == st[-1].get('bytes_written') and st[-1]['bytes_sent'] > 0, str(st[-1]))
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


def close_listener(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes its accept()
    except OSError:
        pass
    sock.close()


class BothPort:
    """A collector port that serves HTTP/1.1 and h2c, as the OpenTelemetry
    Collector's does: each connection goes on to the receiver's h2c or
    HTTP/1.1 port by its first bytes.  The first `close_h2c` h2c
    connections are closed unanswered, as by a collector restarting, or
    by a server that drops what it cannot read; before them, the first
    `close_any` connections of either kind (nothing serves the port yet)."""
    PREFACE = b'PRI * HTTP/2.0\r\n'

    def __init__(self, h1, h2c, close_h2c, close_any=0):
        self.ports = {False: h1, True: h2c}
        self.close_h2c = close_h2c
        self.close_any = close_any
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        first = b''
        while len(first) < len(self.PREFACE) and self.PREFACE.startswith(first):
            got = conn.recv(len(self.PREFACE) - len(first))
            if not got:
                conn.close()
                return
            first += got
        h2c = first == self.PREFACE
        if self.close_any > 0:
            self.close_any -= 1
            conn.close()
            return
        if h2c and self.close_h2c > 0:
            self.close_h2c -= 1
            conn.close()
            return
        up = socket.create_connection(('127.0.0.1', self.ports[h2c]))
        up.sendall(first)
        threading.Thread(target=self.pipe, args=(up, conn), daemon=True).start()
        self.pipe(conn, up)

    @staticmethod
    def pipe(a, b):
        try:
            while (data := a.recv(65536)):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        close_listener(self.sock)


def test_h2c_closed_unanswered():
    """A new h2c connection closed without an answer is not proof that the
    server cannot speak h2c: that export goes over HTTP/1.1, the next asks
    for h2c again, and only three such closes in a row keep HTTP/1.1."""
    r, (h1, h2c, _) = receiver_on_free_ports()
    try:
        both = BothPort(h1, h2c, 1)
        st, err = push(f'http://127.0.0.1:{both.port}', [5, 5, 5],
                       args=['--connections', '1', '-v'])
        recs = r.records()
        expect('h2c closed once: counters', st[-1], exported=15, failed=0, retried=0,
               connects=3, h1_fallbacks=1, requests=4)
        check('h2c closed once: HTTP/1.1 for that export, h2c again after',
              [x['httpVersion'] for x in recs] == ['1.1', '2.0', '2.0'], str(recs))
        check('h2c closed once: not called an HTTP/1 server',
              'does not speak HTTP/2' not in err, err)
        both.stop()

        r0 = len(recs)
        both = BothPort(h1, h2c, 100)
        st, err = push(f'http://127.0.0.1:{both.port}', [5] * 5,
                       args=['--connections', '1', '-v'])
        recs = r.records()[r0:]
        expect('h2c always closed: counters', st[-1], exported=25, failed=0, retried=0,
               connects=6, h1_fallbacks=3, requests=8)
        check('h2c always closed: HTTP/1.1 throughout',
              [x['httpVersion'] for x in recs] == ['1.1'] * 5, str(recs))
        check('h2c always closed: HTTP/1.1 for good after three, said once',
              err.count('does not speak HTTP/2') == 1, err)
        check('h2c always closed: every span once',
              sorted(s for x in recs for s in x['spans']) ==
              sorted(n for b in range(5) for n in names(b, 5)))
        both.stop()

        # Nothing answers at all for three tries (h2c, then HTTP/1.1, each
        # closed): that says nothing of h2c, which the fourth try gets.
        r0 = len(r.records())
        both = BothPort(h1, h2c, 0, close_any=6)
        st, err = push(f'http://127.0.0.1:{both.port}', [5, 5],
                       args=['--connections', '1', '-v', '--retry-initial', '50',
                             '--retry-max', '200'])
        recs = r.records()[r0:]
        expect('port closing everything: counters', st[-1], exported=10, failed=0,
               retried=3, connects=7, h1_fallbacks=3, requests=8)
        check('port closing everything: h2c once it answers',
              [x['httpVersion'] for x in recs] == ['2.0', '2.0'], str(recs))
        check('port closing everything: not called an HTTP/1 server',
              'does not speak HTTP/2' not in err, err)
        both.stop()
    finally:
        r.stop()


class Stall:
    """A TCP port that takes connections and never says a word: a TLS
    handshake with it waits until the client's connect timeout.  With
    close: closes each connection as soon as it is taken."""

    def __init__(self, close=False):
        self.close = close
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return
            if self.close:
                self.conns[-1].close()

    def stop(self):
        close_listener(self.sock)
        for c in self.conns:
            c.close()


@contextlib.contextmanager
def stalled(close=False):
    """A Stall and a scratch directory for a disk queue, both gone after."""
    s, qdir = Stall(close), tempfile.mkdtemp()
    try:
        yield s, qdir
    finally:
        s.stop()
        shutil.rmtree(qdir, ignore_errors=True)


def test_connect_timeout():
    """A connection not made within the connect timeout (here a TLS
    handshake never answered) sent nothing: it is retried while the export
    timeout leaves room, then kept in the disk queue, and a batch of the
    queue stays there, at its head, until it is sent."""
    fast = ['--retry-initial', '50', '--retry-max', '200', '--connect-timeout', '300']
    env = {'OTEL_EXPORTER_OTLP_TIMEOUT': '2000'}
    with stalled() as (s, _):
        st, err = push(f'https://127.0.0.1:{s.port}', [5], env=env, args=fast)
        got = st[-1] if st else {}
        check('connect timeout: retried while the timeout leaves room, then failed',
              got.get('failed') == 5 and got.get('timed_out') == 0 and
              got.get('exported') == 0 and got.get('retried', 0) >= 3, str(got))
        check('connect timeout: one connection per try',
              len(s.conns) == got.get('retried', -2) + 1, f'{len(s.conns)} {got}')
        check('connect timeout: said so',
              'not made within the connect timeout (300 ms)' in err, err)

    with stalled() as (s, qdir):
        st, err = push(f'https://127.0.0.1:{s.port}', [5], env=env,
                       args=fast + ['--queue-dir', qdir],
                       commands=['sleep 300', 'idle', 'cutoff', 'sleep 300', 'idle'])
        want = dict(exported=0, failed=0, timed_out=0, cut_off=0,
                    queue_appended_spans=5, queue_sent_spans=0, queue_pending_spans=5)
        check('connect timeout, disk queue: the batch is queued, not failed',
              len(st) == 3, str(st))
        for name, line in zip(('queued', 'queue tried, not sent',
                               'queue tried after the shutdown deadline'), st):
            expect(f'connect timeout, disk queue: {name}: the batch stays at the head',
                   line, **want)
        check('connect timeout, disk queue: the queue tried the batch',
              len(s.conns) > (st[0].get('retried', 0) + 1 if st else 0), str(len(s.conns)))
        check('connect timeout, disk queue: the batch kept at the head is said, once',
              err.count('not made within the connect timeout (300 ms); the disk queue'
                        ' keeps its oldest batch for a later try') == 1, err)

    # The export timeout ends the connect: nothing was sent, to the queue.
    with stalled() as (s, qdir):
        st, err = push(f'https://127.0.0.1:{s.port}', [5],
                       env={'OTEL_EXPORTER_OTLP_TIMEOUT': '1000'},
                       args=['--retry-initial', '50', '--retry-max', '200',
                             '--connect-timeout', '3000', '--queue-dir', qdir])
        expect('export timeout before anything was sent: queued, not failed',
               st[-1] if st else {}, exported=0, failed=0, timed_out=0, retried=0,
               queue_appended_spans=5, queue_pending_spans=5)
        check('export timeout before anything was sent: said so',
              'not sent within the export timeout (1000 ms)' in err, err)

    # A server that closes every connection in the TLS handshake (a
    # collector restarting behind a TCP balancer): a lost connection,
    # retried, then queued; not a TLS failure refused for good.
    for queue in (False, True):
        with stalled(close=True) as (s, qdir):
            st, err = push(f'https://127.0.0.1:{s.port}', [5], env=env,
                           args=fast + (['--queue-dir', qdir] if queue else []))
            got = st[-1] if st else {}
            name = 'TLS handshake closed' + (', disk queue' if queue else '')
            check(f'{name}: retried, then {"queued" if queue else "failed"}',
                  got.get('retried', 0) >= 3 and got.get('timed_out') == 0 and
                  got.get('failed') == (0 if queue else 5) and
                  got.get('queue_appended_spans') == (5 if queue else 0), str(got))


def fault(kind, count, *extra):
    r, (h1, h2c, grpc) = receiver_on_free_ports('--fault', kind, '--count', count, *extra)
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
        # The collector has the spans; only the answer came late.
        expect('answer past the timeout: timed out, outcome unknown (not failed), not retried',
               st[0], exported=0, failed=0, timed_out=5, retried=0)
        expect('answer past the timeout: same connection serves the next batch', st[1],
               exported=6, failed=0, timed_out=5, retried=0, connects=1)
        check('timeout: the collector did receive the timed-out batch',
              [x['spans'] for x in r.records()] == [names(0, 5), names(1, 6)],
              str(r.records()))
        check('timeout: logged as outcome unknown',
              'no answer within the export timeout (1000 ms); outcome unknown' in err, err)
    finally:
        r.stop()

    # Refusals that take 500 ms, Retry-After: 0, a 2 s timeout: retries
    # at 0.5 and 1 s fit (a try's time and half as long again before the
    # deadline); at 1.5 s one more would have no room to spare, so it is
    # not sent (it would only have turned "failed" into "outcome unknown",
    # and kept the spans out of a disk queue).
    r, ep = fault('503', 100, '--retry-after', '0', '--delay-ms', '500')
    try:
        st, err = push(ep['h2c'], [5], env={'OTEL_EXPORTER_OTLP_TIMEOUT': '2000'},
                       args=fast)
        expect('slow refusals: two retries, then failed, no try left unanswered', st[-1],
               exported=0, failed=5, timed_out=0, retried=2)
        check('slow refusals: the collector saw three tries', len(r.records()) == 3,
              str(r.records()))
        check('slow refusals: logged as the timeout reached while retrying',
              'export timeout reached while retrying' in err, err)
    finally:
        r.stop()

    # A graceful GOAWAY naming the request's stream as taken, its answer
    # 300 ms later: the request is answered on that connection, not sent
    # again (the collector would have its spans twice); the next batch
    # goes on a new connection.
    r, ep = fault('goaway', 1, '--delay-ms', '300')
    try:
        st, err = push(ep['h2c'], [5, 6], args=fast)
        expect('GOAWAY with the request taken: delivered once, not retried', st[0],
               exported=5, failed=0, timed_out=0, retried=0, connects=1)
        expect('GOAWAY: the next batch on a new connection', st[1],
               exported=11, failed=0, timed_out=0, retried=0, connects=2)
        check('GOAWAY: the collector got each batch once',
              [x['spans'] for x in r.records()] == [names(0, 5), names(1, 6)],
              str(r.records()))
    finally:
        r.stop()

    # One stream at a time (a connection warmed by a first batch knows
    # it), the first part of the second batch answered past the timeout:
    # the parts nghttp2 held back never left, so they are not "outcome
    # unknown" (with --queue-dir they would be kept and sent later).
    r, ep = fault('delay', 1, '--delay-ms', '3000', '--max-streams', '1', '--skip', '1')
    try:
        st, err = push(ep['h2c'], [1, 12], env={'OTEL_EXPORTER_OTLP_TIMEOUT': '1000'},
                       args=fast + ['--connections', '1', '--max-body', '700'])
        recs = r.records()
        first = len(recs[1]['spans']) if len(recs) > 1 else -1
        check('stream limit: only the first part of the batch reached the collector',
              len(recs) == 2 and 0 < first < 12, recs)
        expect('stream limit: the part sent is outcome unknown, those held back failed',
               st[1], exported=1, timed_out=first, failed=12 - first, retried=0)
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
    # Nothing reached a socket: no byte counted sent, though bodies were encoded.
    expect('endpoint down: 0 bytes sent, 0 written', st[-1], bytes_sent=0, bytes_written=0)
    check('endpoint down: bodies encoded all the same', st[-1]['bytes_raw'] > 0, str(st))
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


def test_peer_gone_silent():
    """A collector that goes silent without a reset (its host lost: here
    the firewall drops every packet to it): the batch in flight times out,
    and once its data stays unacknowledged for 20 s the kernel closes the
    pooled connection, so that the next batch opens a new one instead of
    timing out on the old one for as long as TCP retransmits."""
    if shutil.which('iptables') is None:
        check('silent peer: iptables installed (deps.sh)', False)
        return
    r, (_, h2c, _) = receiver_on_free_ports()
    rule = ['INPUT', '-p', 'tcp', '--dport', str(h2c), '-j', 'DROP']
    e = {k: v for k, v in os.environ.items() if not k.startswith('OTEL_')}
    e.update(OTEL_EXPORTER_OTLP_ENDPOINT=f'http://127.0.0.1:{h2c}',
             OTEL_EXPORTER_OTLP_TIMEOUT='2000')
    p = subprocess.Popen([PUSH, '--retry-initial', '100', '--retry-max', '200'],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=e)
    dropping = False

    def send(n):
        p.stdin.write(f'send {n}\n')
        p.stdin.flush()
        return json.loads(p.stdout.readline())

    try:
        first = send(3)
        subprocess.run(['iptables', '-I', *rule], check=True)
        dropping = True
        silent = send(4)
        time.sleep(23)
        subprocess.run(['iptables', '-D', *rule], check=True)
        dropping = False
        after = send(5)
    finally:
        if dropping:
            subprocess.run(['iptables', '-D', *rule], check=False)
        p.stdin.close()
        p.wait(timeout=30)
        r.stop()
    expect('silent peer: the first batch delivered', first, exported=3, connects=1)
    expect('silent peer: the batch sent into silence times out', silent,
           exported=3, timed_out=4, connects=1)
    expect('silent peer: the next batch goes on a new connection', after,
           exported=8, timed_out=4, failed=0, connects=2)


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


class Traced:
    """spanprobe attached to `nested stdin` (ours), exporting to `endpoint`
    only at shutdown (the schedule delay is never reached)."""

    def __init__(self, endpoint, env):
        self.prog = subprocess.Popen([NESTED, 'stdin'], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.prog.stdout.readline()  # ready
        e = {k: v for k, v in os.environ.items() if not k.startswith('OTEL_')}
        e.update({'OTEL_BSP_SCHEDULE_DELAY': '600000'}, **env)
        # -v: it says when the probes are in ('tracing 2 functions').
        self.sp = subprocess.Popen([SPANPROBE, 'attach', '-v', '-p', str(self.prog.pid),
                                    '-u', 'inner', '-u', 'outer', '--no-http',
                                    '--otlp-endpoint', endpoint],
                                   stderr=subprocess.PIPE, text=True, env=e)
        self.err, self.started = [], threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.sp.stderr:
            self.err.append(line)
            if 'tracing 2 functions' in line:
                self.started.set()
        self.started.set()

    def calls(self, n):
        """n outer calls (4 n spans); returns once spanprobe can have read them."""
        if not self.started.wait(30):
            print('# spanprobe did not say it was tracing within 30 s')
        self.prog.stdin.write(f'{n}\n')
        self.prog.stdin.flush()
        self.prog.stdout.readline()
        time.sleep(0.5)  # the reader polls every 100 ms

    def stop(self, second_after=None, limit=20):
        """SIGTERM (and another after `second_after` s); returns the seconds
        from the first (or the second) signal to spanprobe's exit."""
        t0 = time.monotonic()
        self.sp.send_signal(signal.SIGTERM)
        if second_after is not None:
            time.sleep(second_after)
            t0 = time.monotonic()
            self.sp.send_signal(signal.SIGTERM)
        try:
            self.sp.wait(limit)
        except subprocess.TimeoutExpired:
            self.sp.kill()
            self.sp.wait()
        took = time.monotonic() - t0
        self.prog.kill()
        self.prog.wait()
        time.sleep(0.1)  # the reader thread has the last lines
        return took, ''.join(self.err)


def shutdown_case(name, receiver_args, port, env, bound, want, second_after=None,
                  received=None):
    r, ep = fault(*receiver_args)
    try:
        t = Traced(ep[port], env)
        t.calls(100)
        took, err = t.stop(second_after)
        check(f'shutdown, {name}: {took:.1f} s, within {bound} s', took < bound, err[-1500:])
        c = check_report_sums(f'shutdown, {name}', err)
        got = {k: c.get(k) for k in want}
        check(f'shutdown, {name}: counters', got == want, f'got {got} want {want}')
        if received is not None:
            check(f'shutdown, {name}: the collector got {received} spans',
                  len(r.spans()) == received, str(len(r.spans())))
    finally:
        r.stop()


def test_shutdown():
    # Every case: 400 spans queued when SIGTERM comes; the shutdown must end
    # within OTEL_BSP_EXPORT_TIMEOUT (2 s) plus the fixed margin (1 s).
    bsp = {'OTEL_BSP_EXPORT_TIMEOUT': '2000'}
    queued = {'spans: started': 400, 'spans: finished': 400, 'spans: exported': 0,
              'spans: failed': 0}
    shutdown_case('503 + Retry-After: 1, forever', ('503', 100000, '--retry-after', '1'),
                  'h2c', bsp, 3.0, dict(queued, **{'dropped: at shutdown': 400}))
    shutdown_case('a collector that never answers, OTEL_EXPORTER_OTLP_TIMEOUT=60000',
                  ('delay', 100000, '--delay-ms', '600000'), 'h2c',
                  dict(bsp, OTEL_EXPORTER_OTLP_TIMEOUT='60000'), 3.0,
                  dict(queued, **{'spans: timed out (outcome unknown)': 400,
                                  'dropped: at shutdown': 0}), received=400)
    shutdown_case('gRPC UNAVAILABLE storm, OTEL_EXPORTER_OTLP_TIMEOUT=60000',
                  ('unavailable', 100000, '--retry-after', '0'), 'grpc',
                  dict(bsp, OTEL_EXPORTER_OTLP_PROTOCOL='grpc',
                       OTEL_EXPORTER_OTLP_TIMEOUT='60000'), 3.0,
                  dict(queued, **{'dropped: at shutdown': 400}))
    # Default export timeout (30 s): a second SIGTERM ends it at once.
    long = {'OTEL_EXPORTER_OTLP_TIMEOUT': '60000'}
    shutdown_case('second SIGTERM while waiting out Retry-After: 10',
                  ('503', 100000, '--retry-after', '10'), 'h2c', long, 0.5,
                  dict(queued, **{'dropped: at shutdown': 400}), second_after=1.0)
    shutdown_case('second SIGTERM while the collector hangs',
                  ('delay', 100000, '--delay-ms', '600000'), 'h2c', long, 0.5,
                  dict(queued, **{'spans: timed out (outcome unknown)': 400}),
                  second_after=1.0, received=400)


def test_collector_down_bytes():
    # Nothing listens: the daemon encodes, retries, and sends no byte.
    t = Traced(f'http://127.0.0.1:{free_port()}', {'OTEL_BSP_EXPORT_TIMEOUT': '1500'})
    t.calls(10)
    took, err = t.stop()
    c = check_report_sums('collector down', err)
    check('collector down: 0 bytes sent, bytes encoded, 40 spans at shutdown',
          c.get('export: bytes sent') == 0 and c.get('export: bytes encoded', 0) > 0 and
          c.get('dropped: at shutdown') == 40, str(c))


def main():
    if not os.path.exists(PUSH):
        print(f'not ok - otlp_push missing: build {PUSH} (make tests-build)')
        return 1
    if not os.path.isdir(os.path.join(NODE_DIR, 'node_modules')):
        subprocess.run(['npm', 'ci', '--silent'], cwd=NODE_DIR, check=False)
    if not shutil.which('node') or not os.path.isdir(os.path.join(NODE_DIR, 'node_modules')):
        print('not ok - node and tests/otlp-node/node_modules are needed (npm ci)')
        return 1
    tests = [test_transports, test_h2c_closed_unanswered, test_faults, test_connect_timeout,
             test_grpc_faults, test_endpoint_down, test_peer_gone_silent, test_tls,
             test_shutdown, test_collector_down_bytes]
    only = sys.argv[1:]
    for t in tests:
        if not only or t.__name__ in only:
            t()
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
