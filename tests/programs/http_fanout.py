#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A threaded HTTP server that calls another service while it serves:
GET /fanout/N makes N sequential GET /users/I requests to 127.0.0.1:BACKEND
(one connection each), then answers 200 "done".  Usage: PORT BACKEND.
Prints "ready" once listening."""
import http.client
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, BACKEND = int(sys.argv[1]), int(sys.argv[2])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        n = int(self.path.rsplit("/", 1)[-1]) if self.path.startswith("/fanout/") else 0
        for i in range(n):
            conn = http.client.HTTPConnection("127.0.0.1", BACKEND)
            conn.request("GET", f"/users/{i}")
            conn.getresponse().read()
            conn.close()
        body = b"done"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print("ready", flush=True)
server.serve_forever()
