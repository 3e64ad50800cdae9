# SPDX-License-Identifier: MIT
"""The Node OTLP receiver (tests/otlp-node/receiver.js) for the tests that
export to a collector: one process serving h2c, HTTP/1.1 and gRPC ports,
every request decoded in full by the OpenTelemetry project's own code.
It can be stopped and started again on the same ports (an outage)."""
import json
import os
import socket
import subprocess

from sptest import ROOT

NODE_DIR = os.path.join(ROOT, "tests", "otlp-node")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    def __init__(self, tmp):
        self.ports = {"h2c": free_port(), "h1": free_port(), "grpc": free_port()}
        self.out = os.path.join(tmp, "requests.jsonl")
        self.dump = os.path.join(tmp, "dump.jsonl")
        self.proc = None
        self.pos = {}  # how far take() has read each file
        self.start()

    def start(self):
        """Listen (again) on the same ports; self.ready says it does."""
        self.proc = subprocess.Popen(
            ["node", os.path.join(NODE_DIR, "receiver.js"), "--h2c", str(self.ports["h2c"]),
             "--http1", str(self.ports["h1"]), "--grpc", str(self.ports["grpc"]),
             "--out", self.out, "--dump", self.dump],
            stdout=subprocess.PIPE, text=True)
        self.ready = self.proc.stdout.readline().strip() == "ready"

    def endpoint(self, port="h2c"):
        return f"http://127.0.0.1:{self.ports[port]}"

    def take(self):
        """Requests and full dumps received since the last call.  The files
        are read on from where the last call stopped, complete lines only,
        and never moved or removed: the receiver appends to them by name,
        so a line written between a read and a removal would be lost."""
        return self._lines(self.out), self._lines(self.dump)

    def _lines(self, path):
        if not os.path.exists(path):
            return []
        with open(path, "rb") as f:
            f.seek(self.pos.get(path, 0))
            data = f.read()
        whole = data[:data.rfind(b"\n") + 1]
        self.pos[path] = self.pos.get(path, 0) + len(whole)
        return [json.loads(line) for line in whole.splitlines() if line.strip()]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def spans_of(dumps):
    """(resource attributes, scope, span) of every span in the dumps."""
    out = []
    for d in dumps:
        for rs in d["request"]["resourceSpans"]:
            res = attrs(rs["resource"]["attributes"])
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    out.append((res, ss["scope"], s))
    return out


def value(v):
    for k in ("stringValue", "boolValue", "doubleValue"):
        if k in v:
            return v[k]
    return int(v["intValue"]) if "intValue" in v else None


def attrs(lst):
    return {a["key"]: value(a["value"]) for a in lst or []}
