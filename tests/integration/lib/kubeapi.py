#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A small Kubernetes API server for the tests: the pods of a node (list
and watch with the API's JSON: PodList with resourceVersion, watch events
ADDED/MODIFIED/DELETED/BOOKMARK/ERROR as newline-separated JSON in one
chunked response) and ReplicaSets by namespace/name.

  kubeapi.py --port N --state FILE --log FILE [--token T | --tls CERT KEY CA]

FILE (JSON): {"rv": first resourceVersion, "node": name, "pods": [...],
"replicasets": [...], "too_old_below": RV (watches from an older version
get 410 Gone as the HTTP status)}.  Commands on stdin, one JSON object a
line (answered "done RV", the resourceVersion now): {"add": pod}, {"modify": pod}, {"delete": pod}, {"bookmark": 1},
{"close": 1} (ends every watch), {"gone": 1} (the next event of every
watch is an ERROR with code 410, then the watch ends).  Every request is
logged as a line "METHOD PATH STATUS" to the log file.  With --token, a
request without "Authorization: Bearer T" gets 401; with --tls, the
connection needs a client certificate signed by CA."""
import argparse
import json
import queue
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
STATE = {}
WATCHERS = []  # queue.Queue per open watch
ARGS = None


def log(line):
    with LOCK, open(ARGS.log, "a") as f:
        f.write(line + "\n")


def next_rv():
    STATE["rv"] += 1
    return str(STATE["rv"])


def stamp(obj):
    obj.setdefault("metadata", {})["resourceVersion"] = next_rv()
    return obj


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        log(f"GET {self.path} {status}")
        head = (f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        # One write: a client sees the status and the body together.
        self.wfile.write(head.encode() + body)

    def status(self, code, reason):
        return {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "reason": reason, "code": code}

    def do_GET(self):
        if ARGS.token and self.headers.get("Authorization") != f"Bearer {ARGS.token}":
            return self.reply(401, self.status(401, "Unauthorized"))
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        if url.path == "/api/v1/pods":
            node = q.get("fieldSelector", "").removeprefix("spec.nodeName=")
            if q.get("watch") in ("1", "true"):
                return self.watch(node, q)
            with LOCK:
                items = [p for p in STATE["pods"] if p["spec"].get("nodeName") == node]
                rv = str(STATE["rv"])
            return self.reply(200, {"kind": "PodList", "apiVersion": "v1",
                                    "metadata": {"resourceVersion": rv}, "items": items})
        if len(parts) == 7 and parts[:3] == ["apis", "apps", "v1"] and parts[5] == "replicasets":
            for rs in STATE["replicasets"]:
                if rs["metadata"]["namespace"] == parts[4] and rs["metadata"]["name"] == parts[6]:
                    return self.reply(200, rs)
            return self.reply(404, self.status(404, "NotFound"))
        return self.reply(404, self.status(404, "NotFound"))

    def chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, node, q):
        rv = int(q.get("resourceVersion") or 0)
        if rv < STATE.get("too_old_below", 0):
            return self.reply(410, self.status(410, "Expired"))
        mine = queue.Queue()
        with LOCK:
            WATCHERS.append(mine)
        log(f"GET {self.path} 200")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while True:
                ev = mine.get()
                if ev is None:
                    break
                obj = ev.get("object", {})
                if ev["type"] in ("ADDED", "MODIFIED", "DELETED") and \
                        obj.get("spec", {}).get("nodeName") != node:
                    continue
                self.chunk(ev)
                if ev["type"] == "ERROR":
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass
        finally:
            with LOCK:
                WATCHERS.remove(mine)
        self.close_connection = True


def broadcast(ev):
    with LOCK:
        for w in WATCHERS:
            w.put(ev)


def apply(cmd):
    with LOCK:
        if "add" in cmd or "modify" in cmd or "delete" in cmd:
            kind = next(k for k in ("add", "modify", "delete") if k in cmd)
            pod = stamp(cmd[kind])
            uid = pod["metadata"]["uid"]
            STATE["pods"] = [p for p in STATE["pods"] if p["metadata"]["uid"] != uid]
            if kind != "delete":
                STATE["pods"].append(pod)
            ev = {"type": {"add": "ADDED", "modify": "MODIFIED", "delete": "DELETED"}[kind],
                  "object": pod}
        elif "bookmark" in cmd:
            ev = {"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                                 "metadata": {"resourceVersion": next_rv()}}}
        elif "gone" in cmd:
            STATE["too_old_below"] = STATE["rv"]
            ev = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                                              "status": "Failure", "reason": "Expired",
                                              "message": "too old resource version",
                                              "code": 410}}
        else:
            ev = None
    if ev is None:
        with LOCK:
            for w in WATCHERS:
                w.put(None)
    else:
        broadcast(ev)
    print(f"done {STATE['rv']}", flush=True)


def main():
    global ARGS, STATE
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--token")
    ap.add_argument("--tls", nargs=3, metavar=("CERT", "KEY", "CA"))
    ARGS = ap.parse_args()
    with open(ARGS.state) as f:
        STATE = json.load(f)
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    if ARGS.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls[0], ARGS.tls[1])
        ctx.load_verify_locations(ARGS.tls[2])
        ctx.verify_mode = ssl.CERT_REQUIRED
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip():
            apply(json.loads(line))


if __name__ == "__main__":
    main()
