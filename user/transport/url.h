/* SPDX-License-Identifier: MIT */
/*
 * Endpoint URLs: http://host[:port][/path] and https://..., with IPv6
 * literals in brackets.  No user info, no fragments.
 */
#ifndef SPANPROBE_NET_URL_H
#define SPANPROBE_NET_URL_H

#include <stdbool.h>
#include <stddef.h>

struct net_url {
	bool tls;            /* https */
	char host[256];      /* without brackets */
	char port[8];        /* "80" / "443" when absent */
	char authority[272]; /* as in the Host header / :authority */
	char path[1024];     /* "/" when absent; query kept */
	bool has_path;       /* the URL named a path other than "/" */
};

/*
 * Parse `s` into `u`.  Returns 0, or -EINVAL when the scheme is not http
 * or https, the host is empty, the port is not 1-65535, user info or a
 * fragment is present, or a part does not fit.
 */
int url_parse(const char *s, struct net_url *u);

/*
 * Write `u` as a URL (scheme://authority, then the path if it named one)
 * into buf of `size` bytes (cut to fit), for messages.  Returns buf.
 */
const char *url_format(const struct net_url *u, char *buf, size_t size);

#endif /* SPANPROBE_NET_URL_H */
