#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// An OTLP trace receiver that demands a client certificate (mutual TLS),
// for spanprobe's mTLS export test.  It serves:
//   --tls PORT    OTLP/HTTP over TLS, ALPN h2 or http/1.1 (node's http2)
//   --grpc PORT   OTLP/gRPC over TLS (@grpc/grpc-js)
// with --ca FILE (the client certificates' CA), --cert FILE and --key FILE
// (its own), and appends one JSON line per request to --out FILE:
//   {"port","httpVersion","cn","header","spans":[[name, url.path]...]}
// where cn is the client certificate's subject CN and header the value of
// the request header --header NAME.  A TLS handshake it refuses appends
// {"port":"tls","refused":CODE}.
// SIGHUP: read the three files again for new connections and close the
// connections already open (a collector restarted with new certificates).
// Prints "ready" on stdout once listening.

'use strict';

const fs = require('fs');
const http2 = require('http2');
const zlib = require('zlib');
const grpc = require('@grpc/grpc-js');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const v1 = root.opentelemetry.proto.collector.trace.v1;
const GRPC_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

const opts = { header: 'x-tenant', out: '/dev/stdout' };
for (let i = 2; i < process.argv.length; i += 2)
  opts[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

function record(entry) {
  fs.appendFileSync(opts.out, JSON.stringify(entry) + '\n');
}

function files() {
  return { ca: fs.readFileSync(opts.ca), cert: fs.readFileSync(opts.cert),
           key: fs.readFileSync(opts.key) };
}

// [name, url.path] of every span of an ExportTraceServiceRequest.
function spansOf(req) {
  const out = [];
  for (const rs of req.resourceSpans || [])
    for (const ss of rs.scopeSpans || [])
      for (const s of ss.spans || []) {
        const path = (s.attributes || []).find((a) => a.key === 'url.path');
        out.push([s.name, path ? path.value.stringValue : null]);
      }
  return out;
}

const okBody = Buffer.from(v1.ExportTraceServiceResponse.encode({}).finish());

function startTls(port) {
  const sockets = new Set();
  const server = http2.createSecureServer(Object.assign(files(), {
    requestCert: true, rejectUnauthorized: true, allowHTTP1: true }));
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', (err) => record({ port: 'tls', refused: err.code || String(err) }));
  server.on('request', (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const sock = req.stream ? req.stream.session.socket : req.socket;
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip')
        body = zlib.gunzipSync(body);
      record({ port: 'tls', httpVersion: req.httpVersion,
               cn: sock.getPeerCertificate().subject.CN,
               header: req.headers[opts.header] || null,
               spans: spansOf(v1.ExportTraceServiceRequest.decode(body)) });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end(okBody);
    });
  });
  process.on('SIGHUP', () => {
    server.setSecureContext(Object.assign(files(), { requestCert: true,
                                                     rejectUnauthorized: true }));
    for (const s of sockets)
      s.destroy();
    record({ port: 'tls', reloaded: true });
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
      const auth = call.getAuthContext ? call.getAuthContext() : {};
      const peer = auth.sslPeerCertificate;
      const h = call.metadata.get(opts.header);
      record({ port: 'grpc', httpVersion: '2.0', cn: peer ? peer.subject.CN : null,
               header: h.length ? String(h[0]) : null,
               spans: spansOf(v1.ExportTraceServiceRequest.decode(call.request)) });
      callback(null, okBody);
    },
  });
  const f = files();
  const creds = grpc.ServerCredentials.createSsl(f.ca, [{ cert_chain: f.cert, private_key: f.key }],
                                                 true);
  server.bindAsync('127.0.0.1:' + port, creds, (err) => {
    if (err)
      throw err;
    ready();
  });
}

let pending = opts.grpc ? 1 : 0;
const ready = () => { if (--pending <= 0) console.log('ready'); };
if (opts.tls)
  startTls(opts.tls);
if (opts.grpc)
  startGrpc(opts.grpc, ready);
else
  ready();
