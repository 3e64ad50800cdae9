#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An HTTPS server on Python's ssl module (OpenSSL, libssl loaded when
`ssl` is imported): https_server.py PORT CERT KEY.  GET answers 200 with
"py-tls <path>\\n", but GET /bytes/N with N bytes of "x", and GET
/stream/N with N bytes of "s" and no Content-Length (the end of the body is
the connection's close); POST reads its Content-Length body and answers
"py-tls POST <path> <bytes read>\\n"; keep-alive; prints "ready" once
listening."""
import http.server
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/bytes/"):
            self.answer(b"x" * int(self.path[len("/bytes/"):]))
        elif self.path.startswith("/stream/"):
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"s" * int(self.path[len("/stream/"):]))
            self.close_connection = True
        else:
            self.answer(f"py-tls {self.path}\n".encode())

    def do_POST(self):
        left = int(self.headers.get("Content-Length", "0"))
        got = 0
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            got += len(chunk)
            left -= len(chunk)
        self.answer(f"py-tls POST {self.path} {got}\n".encode())

    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()


main()
