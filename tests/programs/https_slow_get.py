#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A slow HTTPS reader: https_slow_get.py PORT PATH sends GET PATH as
HTTP/1.0 to 127.0.0.1:PORT (certificate not checked) from a socket with
a 4 KB receive buffer, waits a moment, then reads until the server closes
and prints the bytes of the body.  The small window makes the server's
sends go out in pieces: a TLS record written in part, then a full socket."""
import socket
import ssl
import sys
import time


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls = ctx.wrap_socket(sock)
    tls.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    time.sleep(0.05)
    data = bytearray()
    while True:
        chunk = tls.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    print(head.split(b"\r\n")[0].decode(), len(body))


main()
