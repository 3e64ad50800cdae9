#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Interop: spanprobe's OTLP protobuf, decoded by code not written here.

The unit-test binary writes a known batch (fixture_build() in
tests/unit/test_otlp_pb.c) with each encoder; tests/otlp-node/decode.js
decodes it with the protobufjs code that @opentelemetry/otlp-transformer
generated from the official OTLP .proto files.  Every decoded value must be
exactly the one below, with nothing missing and nothing extra.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SP_BUILD", "build")
ENCODER_BIN = os.path.join(ROOT, BUILD, "tests", "test_otlp_pb")
NODE_DIR = os.path.join(ROOT, "tests", "otlp-node")


def kv(key, **value):
    return {"key": key, "value": value}


def expected(version):
    scope = {"name": "spanprobe", "version": version}
    trace = "0102030405060708090a0b0c0d0e0f10"
    return {"resourceSpans": [
        {
            "resource": {"attributes": [
                kv("service.name", stringValue="checkout"),
                kv("process.pid", intValue="4242"),
                kv("host.name", stringValue="box-1"),
            ]},
            "scopeSpans": [{"scope": scope, "spans": [
                {
                    "traceId": trace,
                    "spanId": "a1a2a3a4a5a6a7a8",
                    "name": "GET /api/orders",
                    "kind": 2,
                    "startTimeUnixNano": "1700000000123456789",
                    "endTimeUnixNano": "1700000000223456789",
                    "attributes": [
                        kv("http.request.method", stringValue="GET"),
                        kv("http.response.status_code", intValue="200"),
                        kv("url.path", stringValue="/api/orders"),
                        kv("error", boolValue=False),
                        kv("ratio", doubleValue=0.25),
                        kv("empty", stringValue=""),
                        kv("big", intValue="9223372036854775807"),
                        kv("neg", intValue="-1"),
                    ],
                    "flags": 1,
                },
                {
                    "traceId": trace,
                    "spanId": "b1b2b3b4b5b6b7b8",
                    "parentSpanId": "a1a2a3a4a5a6a7a8",
                    "name": "SELECT orders",
                    "kind": 3,
                    "startTimeUnixNano": "1700000000130000000",
                    "endTimeUnixNano": "1700000000210000000",
                    "attributes": [
                        kv("db.system", stringValue="postgresql"),
                        kv("pi", doubleValue=3.141592653589793),
                        kv("flag", boolValue=True),
                    ],
                    "status": {"message": "timeout after 2s", "code": 2},
                    "flags": 1,
                },
            ]}],
        },
        {
            "resource": {"attributes": [
                kv("service.name", stringValue="日本-svc"),
                kv("k.min", intValue="-9223372036854775808"),
            ]},
            "scopeSpans": [{"scope": scope, "spans": [
                {
                    "traceId": "ff" * 16,
                    "spanId": "0102030405060708",
                    "startTimeUnixNano": "5",
                    "endTimeUnixNano": "5",
                    "attributes": [
                        kv("utf8", stringValue="é日本\U0001F600"),
                        kv("tiny", doubleValue=1e-300),
                    ],
                    "status": {"code": 1},
                },
            ]}],
        },
    ]}


failures = 0


def report(ok, name, detail=""):
    global failures
    print(("ok - " if ok else "not ok - ") + name)
    if not ok:
        failures += 1
        if detail:
            print("#   " + detail.replace("\n", "\n#   "))


def makefile_version():
    with open(os.path.join(ROOT, "Makefile")) as f:
        for line in f:
            if line.startswith("VERSION"):
                return line.split("=", 1)[1].strip()
    return None


def spans_of(doc):
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            yield from ss.get("spans", [])


def check_encoder(encoder, want, tmp):
    path = os.path.join(tmp, encoder + ".pb")
    r = subprocess.run([ENCODER_BIN, "--write-fixture", path, encoder],
                       capture_output=True, text=True)
    if r.returncode != 0:
        report(False, f"{encoder}: write fixture", r.stderr.strip())
        return None
    r = subprocess.run(["node", os.path.join(NODE_DIR, "decode.js"), path],
                       capture_output=True, text=True)
    report(r.returncode == 0, f"{encoder}: decoded by otlp-transformer's generated code",
           r.stderr.strip())
    if r.returncode != 0:
        return None
    got = json.loads(r.stdout)
    # One check per resource and per span, so a failure says where.
    want_rs, got_rs = want["resourceSpans"], got.get("resourceSpans", [])
    report(len(got_rs) == len(want_rs), f"{encoder}: {len(want_rs)} ResourceSpans",
           f"got {len(got_rs)}")
    for i, (w, g) in enumerate(zip(want_rs, got_rs)):
        report(g.get("resource") == w["resource"], f"{encoder}: resource {i} attributes",
               f"want {w['resource']}\ngot  {g.get('resource')}")
        g_scope = [ss.get("scope") for ss in g.get("scopeSpans", [])]
        report(g_scope == [w["scopeSpans"][0]["scope"]], f"{encoder}: resource {i} scope",
               f"got {g_scope}")
    want_spans, got_spans = list(spans_of(want)), list(spans_of(got))
    report(len(got_spans) == len(want_spans), f"{encoder}: {len(want_spans)} spans",
           f"got {len(got_spans)}")
    for i, (w, g) in enumerate(zip(want_spans, got_spans)):
        report(g == w, f"{encoder}: span {i} ({w.get('name', '')!r}) every field",
               f"want {json.dumps(w, ensure_ascii=False)}\n"
               f"got  {json.dumps(g, ensure_ascii=False)}")
    report(got == want, f"{encoder}: whole request equal, nothing extra")
    with open(path, "rb") as f:
        return f.read()


def main():
    if not os.access(ENCODER_BIN, os.X_OK):
        report(False, f"encoder binary {ENCODER_BIN} built (make BUILD={BUILD} tests-build)")
        return 1
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules")):
        report(False, "tests/otlp-node/node_modules installed (run deploy/deps.sh)")
        return 1
    want = expected(makefile_version())
    with tempfile.TemporaryDirectory() as tmp:
        a = check_encoder("protobuf-c", want, tmp)
        b = check_encoder("fast", want, tmp)
    report(a is not None and a == b, "protobuf-c and fast encoders wrote identical bytes")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
