#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// Decodes an OTLP ExportTraceServiceRequest (binary protobuf, optionally
// gzip-compressed) with the code the OpenTelemetry project generated from
// its own .proto files, and prints it as one line of JSON.
//
//   node decode.js [FILE]      FILE, or stdin when absent or "-"
//
// In the output, bytes fields (trace and span IDs) are lowercase hex,
// 64-bit integers are decimal strings (exact), enums are numbers, doubles
// that JSON cannot hold are the strings "NaN", "Infinity", "-Infinity",
// and fields absent on the wire are absent.  Span.flags comes from a
// wire-level read (see spanFlags()).

'use strict';

const fs = require('fs');
const zlib = require('zlib');
const { Reader } = require('protobufjs/minimal');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

// Raw bytes of a request, gunzipped when they carry the gzip magic.
function requestBytes(buf) {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b)
    return zlib.gunzipSync(buf);
  return buf;
}

function replacer(key, value) {
  if (value instanceof Uint8Array)
    return Buffer.from(value).toString('hex');
  if (value && value.type === 'Buffer' && Array.isArray(value.data))
    return Buffer.from(value.data).toString('hex');
  if (typeof value === 'number' && !Number.isFinite(value))
    return String(value);
  return value;
}

// The sub-messages of field `field` (length-delimited) in `buf`, in order.
function subMessages(buf, field) {
  const r = Reader.create(buf);
  const out = [];

  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === field && (tag & 7) === 2)
      out.push(r.bytes());
    else
      r.skipType(tag & 7);
  }
  return out;
}

// Span.flags (field 16, fixed32) of every span, in order; undefined when
// absent.  The generated code of otlp-transformer 0.52 predates the field
// (it skips it as unknown), so it is read here at the wire level with
// protobufjs' own reader.
function spanFlags(buf) {
  const flags = [];

  for (const rs of subMessages(buf, 1))
    for (const ss of subMessages(rs, 2))
      for (const span of subMessages(ss, 2)) {
        const r = Reader.create(span);
        let value;
        while (r.pos < r.len) {
          const tag = r.uint32();
          if (tag === ((16 << 3) | 5))
            value = r.fixed32();
          else
            r.skipType(tag & 7);
        }
        flags.push(value);
      }
  return flags;
}

// Decode a request; returns a plain object (see the header for the forms).
function decodeRequest(buf) {
  const bytes = requestBytes(buf);
  const msg = Request.decode(bytes);
  const obj = Request.toObject(msg, { longs: String, enums: Number, defaults: false });
  const flags = spanFlags(bytes);
  let i = 0;

  for (const rs of obj.resourceSpans || [])
    for (const ss of rs.scopeSpans || [])
      for (const span of ss.spans || []) {
        if (span.flags === undefined && flags[i] !== undefined)
          span.flags = flags[i];
        i++;
      }
  return obj;
}

function toJson(obj) {
  return JSON.stringify(obj, replacer);
}

function main() {
  const file = process.argv[2];
  const buf = fs.readFileSync(!file || file === '-' ? 0 : file);
  let obj;

  try {
    obj = decodeRequest(buf);
  } catch (err) {
    process.stderr.write(`decode: not an ExportTraceServiceRequest: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(toJson(obj) + '\n');
}

module.exports = { decodeRequest, toJson, requestBytes };

if (require.main === module)
  main();
