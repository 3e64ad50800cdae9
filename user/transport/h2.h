/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 on a pooled connection (nghttp2's memory interface), several
 * requests multiplexed.  on_readable returns -EPROTONOSUPPORT when an
 * HTTP/1 server answered the h2c preface with a status line.
 */
#ifndef SPANPROBE_NET_H2_H
#define SPANPROBE_NET_H2_H

struct http_proto_ops;

extern const struct http_proto_ops h2_ops;

#endif /* SPANPROBE_NET_H2_H */
