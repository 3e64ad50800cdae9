/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 on a pooled connection: one request at a time, keep-alive
 * unless the server says otherwise, answers delimited by Content-Length,
 * chunked coding or (HTTP/1.0 style) the end of stream.  on_readable
 * returns 1 when the answer is complete and the connection must be closed
 * (Connection: close, HTTP/1.0, end of stream), -ECONNRESET when it ended
 * mid-answer, -EPROTO for an unreadable answer.
 */
#ifndef SPANPROBE_NET_H1_H
#define SPANPROBE_NET_H1_H

struct http_proto_ops;

extern const struct http_proto_ops h1_ops;

#endif /* SPANPROBE_NET_H1_H */
