#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// An OTLP trace receiver for spanprobe's export tests, decoding with the
// OpenTelemetry project's own generated code (otlp-transformer's root.js)
// and a real gRPC server (@grpc/grpc-js).  It serves:
//   --http1 PORT   OTLP/HTTP over HTTP/1.1 (node's http)
//   --h2c PORT     OTLP/HTTP over cleartext HTTP/2 with prior knowledge,
//                  and gRPC handled by hand on the same port, so the
//                  request's grpc-encoding can be recorded
//   --grpc PORT    OTLP/gRPC with @grpc/grpc-js
//   --tls PORT     OTLP/HTTP over TLS, ALPN h2 or http/1.1 (--cert, --key)
// and appends one JSON line per request to --out FILE:
//   {"port","fault","httpVersion","contentType","encoding","ua",
//    "spans":[name...],"services":[service.name...]}
// Faults apply to the first --count N requests (all ports together), after
// the first --skip K:
//   --fault 503|429|400|reset|delay|goaway|partial|unavailable|exhausted|exhausted-retry
//   --retry-after VALUE   Retry-After header (503/429) or RetryInfo seconds
//   --delay-ms MS         for "delay", "503" and "429": answer that late;
//                         for "goaway" (h2c
//                         OTLP/HTTP): a graceful GOAWAY naming this stream
//                         the last taken, the answer MS later, then close
//   --rejected K          for "partial": rejected_spans
//   --start-delay MS      listen only after MS
//   --max-streams N       h2c: SETTINGS_MAX_CONCURRENT_STREAMS
// Prints "ready" on stdout once listening.

'use strict';

const fs = require('fs');
const http = require('http');
const http2 = require('http2');
const zlib = require('zlib');
const grpc = require('@grpc/grpc-js');
const { Writer } = require('protobufjs/minimal');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');
const { toJson } = require('./decode');

const v1 = root.opentelemetry.proto.collector.trace.v1;
const GRPC_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

const opts = { count: 0, skip: 0, fault: '', retryAfter: '0', delayMs: 0, rejected: 0,
               startDelay: 0, out: '/dev/stdout' };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '').replace(/-(.)/g, (m, c) => c.toUpperCase());
  opts[k] = process.argv[i + 1];
}
opts.count = Number(opts.count);
opts.skip = Number(opts.skip);
let seen = 0;

function record(entry) {
  fs.appendFileSync(opts.out, JSON.stringify(entry) + '\n');
}

// Whether the next request gets the fault (--skip, --count).
function faultDue() {
  return seen >= opts.skip && seen < opts.skip + opts.count;
}

// The fault for the next request, counting it.
function nextFault() {
  const due = faultDue();
  seen += 1;
  return due ? opts.fault : '';
}

// --dump FILE: every accepted request in full, as decoded by the generated
// code (protobuf) or as parsed (OTLP/JSON), one JSON line each.
function dump(port, decoded, json) {
  if (!opts.dump)
    return;
  const request = json ? decoded
    : v1.ExportTraceServiceRequest.toObject(decoded, { longs: String, enums: Number, defaults: false });
  fs.appendFileSync(opts.dump, toJson({ port, json, request }) + '\n');
}

function summarize(req) {
  const spans = [];
  const services = [];
  for (const rs of req.resourceSpans || []) {
    for (const a of (rs.resource && rs.resource.attributes) || [])
      if (a.key === 'service.name')
        services.push(a.value.stringValue);
    for (const ss of rs.scopeSpans || [])
      for (const s of ss.spans || [])
        spans.push(s.name);
  }
  return { spans, services };
}

function decodeBody(buf, encoding, json) {
  if (encoding === 'gzip')
    buf = zlib.gunzipSync(buf);
  if (json)
    return JSON.parse(buf.toString('utf8'));
  return v1.ExportTraceServiceRequest.decode(buf);
}

function responseBytes(fault) {
  if (fault !== 'partial')
    return v1.ExportTraceServiceResponse.encode({}).finish();
  return v1.ExportTraceServiceResponse.encode({
    partialSuccess: { rejectedSpans: Number(opts.rejected), errorMessage: 'too old' },
  }).finish();
}

// google.rpc.Status { code = 1; message = 2; details = 3 (Any) } holding
// a RetryInfo { retry_delay = 1 (Duration { seconds = 1 }) }.
function statusDetails(code, message, retrySeconds) {
  const duration = Writer.create().uint32(8).int64(retrySeconds).finish();
  const retryInfo = Writer.create().uint32(10).bytes(duration).finish();
  const any = Writer.create().uint32(10).string('type.googleapis.com/google.rpc.RetryInfo')
    .uint32(18).bytes(retryInfo).finish();
  return Buffer.from(Writer.create().uint32(8).int32(code).uint32(18).string(message)
    .uint32(26).bytes(any).finish());
}

// OTLP/HTTP answer for `fault` (h1 res or h2 stream via `send`).
function httpAnswer(fault, json, send, goaway) {
  const ct = json ? 'application/json' : 'application/x-protobuf';
  if (fault === '503' || fault === '429') {
    const refuse = () => send(Number(fault), { 'retry-after': opts.retryAfter,
                                               'content-type': 'text/plain' },
                              'busy, come back later');
    return opts.delayMs > 0 ? setTimeout(refuse, Number(opts.delayMs)) : refuse();
  }
  if (fault === '400') {
    const body = json ? JSON.stringify({ code: 3, message: 'bad spans here' })
      : Buffer.from(Writer.create().uint32(8).int32(3).uint32(18).string('bad spans here').finish());
    return send(400, { 'content-type': ct }, body);
  }
  let body;
  if (json) {
    body = fault === 'partial'
      ? JSON.stringify({ partialSuccess: { rejectedSpans: String(opts.rejected), errorMessage: 'too old' } })
      : '{}';
  } else {
    body = Buffer.from(responseBytes(fault));
  }
  const reply = () => send(200, { 'content-type': ct }, body);
  if (fault === 'delay')
    setTimeout(reply, Number(opts.delayMs));
  else if (fault === 'goaway' && goaway)
    goaway(reply, Number(opts.delayMs));
  else
    reply();
}

function handleOtlpHttp(port, headers, body, httpVersion, send, reset, goaway) {
  const fault = nextFault();
  const entry = { port, fault, httpVersion, contentType: headers['content-type'] || '',
                  encoding: headers['content-encoding'] || '', ua: headers['user-agent'] || '' };
  if (fault === 'reset') {
    record(Object.assign(entry, { spans: [], services: [] }));
    return reset();
  }
  const json = entry.contentType.startsWith('application/json');
  let decoded;
  try {
    decoded = decodeBody(body, entry.encoding, json);
  } catch (e) {
    record(Object.assign(entry, { error: String(e), spans: [], services: [] }));
    return send(400, { 'content-type': 'text/plain' }, 'cannot decode: ' + e.message);
  }
  // Refused requests are recorded without spans: they were not accepted.
  const accepted = !['503', '429', '400'].includes(fault);
  if (accepted)
    dump(port, decoded, json);
  record(Object.assign(entry, accepted ? summarize(decoded) : { spans: [], services: [] }));
  httpAnswer(fault, json, send, goaway);
}

function grpcFaultStatus(fault) {
  if (fault === 'unavailable')
    return { code: 14, message: 'try again' };
  if (fault === 'exhausted' || fault === 'exhausted-retry')
    return { code: 8, message: 'quota' };
  if (fault === '400')
    return { code: 3, message: 'bad spans here' };
  return null;
}

// gRPC by hand on the h2c port: the request's grpc-encoding is visible.
function handleRawGrpc(stream, headers, body) {
  const fault = nextFault();
  const entry = { port: 'grpc-raw', fault, httpVersion: '2.0', contentType: headers['content-type'],
                  encoding: headers['grpc-encoding'] || '', ua: headers['user-agent'] || '' };
  if (fault === 'reset') {
    record(Object.assign(entry, { spans: [], services: [] }));
    return stream.session.destroy();
  }
  let msg = body.subarray(5, 5 + body.readUInt32BE(1));
  if (body[0] === 1)
    msg = zlib.gunzipSync(msg);
  const st = grpcFaultStatus(fault);
  const decoded = st ? null : v1.ExportTraceServiceRequest.decode(msg);
  if (decoded)
    dump('h2c-grpc', decoded, false);
  record(Object.assign(entry, st ? { spans: [], services: [] } : summarize(decoded)));
  const trailers = { 'grpc-status': String(st ? st.code : 0) };
  if (st) {
    trailers['grpc-message'] = encodeURIComponent(st.message);
    if (fault === 'exhausted-retry')
      trailers['grpc-status-details-bin'] =
        statusDetails(st.code, st.message, Number(opts.retryAfter)).toString('base64').replace(/=+$/, '');
  }
  const answer = () => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    if (st)
      return stream.end();
    const rsp = Buffer.from(responseBytes(fault));
    const frame = Buffer.alloc(5 + rsp.length);
    frame.writeUInt32BE(rsp.length, 1);
    rsp.copy(frame, 5);
    stream.end(frame);
  };
  if (fault === 'delay')
    setTimeout(answer, Number(opts.delayMs));
  else
    answer();
}

function collect(readable, done) {
  const chunks = [];
  readable.on('data', (c) => chunks.push(c));
  readable.on('end', () => done(Buffer.concat(chunks)));
}

function startHttp1(port) {
  const server = http.createServer((req, res) => {
    const send = (status, headers, body) => { res.writeHead(status, headers); res.end(body); };
    if (nextPeekReset(req, () => req.socket.destroy()))
      return;
    collect(req, (body) => handleOtlpHttp('h1', req.headers, body, req.httpVersion, send,
                                          () => req.socket.destroy()));
  });
  server.keepAliveTimeout = 60000;
  server.listen(Number(port), '127.0.0.1');
}

// Reset faults hit before the body is read, so nothing is accepted.
function nextPeekReset(req, reset) {
  if (opts.fault !== 'reset' || !faultDue())
    return false;
  nextFault();
  record({ port: req.httpVersion === '2.0' ? 'h2c' : 'h1', fault: 'reset', httpVersion: req.httpVersion,
           spans: [], services: [] });
  reset();
  return true;
}

function startH2c(port) {
  const settings = opts.maxStreams ? { maxConcurrentStreams: Number(opts.maxStreams) } : {};
  const server = http2.createServer({ settings });
  server.on('stream', (stream, headers) => {
    if (opts.fault === 'reset' && faultDue()) {
      nextFault();
      record({ port: 'h2c', fault: 'reset', httpVersion: '2.0', spans: [], services: [] });
      return stream.session.destroy();
    }
    collect(stream, (body) => {
      if (headers[':path'] === GRPC_PATH)
        return handleRawGrpc(stream, headers, body);
      const send = (status, hdrs, b) => {
        stream.respond(Object.assign({ ':status': status }, hdrs));
        stream.end(b);
      };
      // Taken, then the session ends gracefully: no new stream on it.
      const goaway = (reply, ms) => {
        stream.session.goaway(0, stream.id);
        setTimeout(() => { reply(); stream.session.close(); }, ms);
      };
      handleOtlpHttp('h2c', headers, body, '2.0', send, () => stream.session.destroy(), goaway);
    });
  });
  server.listen(Number(port), '127.0.0.1');
}

// TLS: the same handlers, HTTP/2 or HTTP/1.1 as ALPN decides.
function startTls(port) {
  const server = http2.createSecureServer({ cert: fs.readFileSync(opts.cert),
                                            key: fs.readFileSync(opts.key), allowHTTP1: true });
  server.on('request', (req, res) => {
    const send = (status, headers, body) => { res.writeHead(status, headers); res.end(body); };
    collect(req, (body) => handleOtlpHttp('tls', req.headers, body, req.httpVersion, send,
                                          () => req.socket.destroy()));
  });
  server.listen(Number(port), '127.0.0.1');
}

function startGrpc(port, ready) {
  const server = new grpc.Server();
  const raw = (x) => x;
  server.addService({
    Export: { path: GRPC_PATH, requestStream: false, responseStream: false,
              requestSerialize: raw, requestDeserialize: raw,
              responseSerialize: raw, responseDeserialize: raw },
  }, {
    Export: (call, callback) => {
      const fault = nextFault();
      const md = call.metadata.getMap();
      const entry = { port: 'grpc', fault, httpVersion: '2.0', contentType: 'application/grpc',
                      encoding: '', ua: String(md['user-agent'] || '') };
      const st = grpcFaultStatus(fault);
      const decoded = st ? null : v1.ExportTraceServiceRequest.decode(call.request);
      if (decoded)
        dump('grpc', decoded, false);
      record(Object.assign(entry, st ? { spans: [], services: [] } : summarize(decoded)));
      if (st)
        return callback({ code: st.code, details: st.message });
      const reply = () => callback(null, Buffer.from(responseBytes(fault)));
      if (fault === 'delay')
        setTimeout(reply, Number(opts.delayMs));
      else
        reply();
    },
  });
  server.bindAsync('127.0.0.1:' + port, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err)
      throw err;
    ready();
  });
}

function main() {
  let pending = opts.grpc ? 1 : 0;
  const ready = () => { if (--pending <= 0) console.log('ready'); };
  if (opts.http1)
    startHttp1(opts.http1);
  if (opts.h2c)
    startH2c(opts.h2c);
  if (opts.tls)
    startTls(opts.tls);
  if (opts.grpc)
    startGrpc(opts.grpc, ready);
  else
    ready();
}

setTimeout(main, Number(opts.startDelay));
