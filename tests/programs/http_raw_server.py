#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A raw HTTP/1.1 server for the conformance tests: answers what real
servers answer, byte for byte, one thread per connection.  Prints "ready"
once listening on 127.0.0.1:PORT.
  CONNECT host:port       200, then echoes the tunnel's bytes until close
  any with "Upgrade:"     101 Switching Protocols, then echoes until close
  anything else           200, body "ok" (Content-Length), keep-alive"""
import socket
import socketserver
import sys


def read_head(rfile):
    """The request's head, empty lines before the request line skipped."""
    line = rfile.readline()
    while line in (b"\r\n", b"\n"):
        line = rfile.readline()
    if not line:
        return None
    lines = [line]
    while line not in (b"\r\n", b"\n", b""):
        line = rfile.readline()
        lines.append(line)
    return lines


def echo(rfile, wfile):
    while True:
        data = rfile.read1(4096)
        if not data:
            return
        wfile.write(data)
        wfile.flush()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            head = read_head(self.rfile)
            if not head:
                return
            method = head[0].split(b" ", 1)[0]
            if method == b"CONNECT":
                self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self.wfile.flush()
                return echo(self.rfile, self.wfile)
            if any(h.lower().startswith(b"upgrade:") for h in head):
                self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 b"Connection: Upgrade\r\n\r\n")
                self.wfile.flush()
                return echo(self.rfile, self.wfile)
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


with Server(("127.0.0.1", int(sys.argv[1])), Handler) as srv:
    print("ready", flush=True)
    srv.serve_forever()
