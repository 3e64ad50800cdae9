# SPDX-License-Identifier: MIT
"""An HTTP/2 server that accepts HTTP/1.1's "Upgrade: h2c" (RFC 7540
section 3.2), with the h2 library (Debian's python3-h2): the request that
asked is answered as stream 1, later requests of the connection are
HTTP/2 streams.  Every response is 200 with the body "h2c <path>\\n".

usage: h2c_upgrade.py PORT   (prints "ready" once listening)"""
import socket
import sys
import threading

import h2.config
import h2.connection
import h2.events


def body_for(path):
    return f"h2c {path}\n".encode()


def answer(conn, stream_id, path):
    data = body_for(path)
    conn.send_headers(stream_id, [(":status", "200"), ("content-length", str(len(data))),
                                  ("content-type", "text/plain")])
    conn.send_data(stream_id, data, end_stream=True)


def read_head(sock):
    """The HTTP/1.1 request head, or None when the peer went away."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        more = sock.recv(4096)
        if not more:
            return None, b""
        buf += more
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def serve(sock):
    head, rest = read_head(sock)
    if head is None:
        return
    lines = head.split("\r\n")
    path = lines[0].split(" ")[1]
    fields = {k.strip().lower(): v.strip() for k, v in
              (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
    if fields.get("upgrade", "").lower() != "h2c":
        data = body_for(path)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
        return
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                 b"Upgrade: h2c\r\n\r\n")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_upgrade_connection(fields.get("http2-settings", ""))
    answer(conn, 1, path)
    sock.sendall(conn.data_to_send())
    pending = rest
    while True:
        if pending:
            for ev in conn.receive_data(pending):
                if isinstance(ev, h2.events.RequestReceived):
                    hdrs = {k.decode() if isinstance(k, bytes) else k:
                            v.decode() if isinstance(v, bytes) else v for k, v in ev.headers}
                    answer(conn, ev.stream_id, hdrs.get(":path", "/"))
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    return
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        pending = sock.recv(65536)
        if not pending:
            return


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(sys.argv[1])))
    srv.listen(16)
    print("ready", flush=True)
    while True:
        s, _ = srv.accept()
        threading.Thread(target=lambda c=s: (serve(c), c.close()), daemon=True).start()


if __name__ == "__main__":
    main()
