// SPDX-License-Identifier: MIT
/* An HTTP exchange as a span: what HTTP/1.x and HTTP/2 share. */
#include "protocol/http_attrs.h"

#include <arpa/inet.h>
#include <string.h>

#include "protocol/route.h"
#include "util/strbuf.h"

/*
 * A string attribute whose length is known here: what proto_attr_str()
 * does without copying, minus its measuring again (proto_attr_cstr()
 * measures twice).  `len` bytes of `str`, no NUL among them.
 */
static void attr_str(struct proto_exchange *o, const char *key, const char *str,
		     size_t len)
{
	struct proto_attr *a;

	if (o->n_attrs == PROTO_ATTRS_MAX)
		return; /* as proto_attr_str(): left out */
	a = &o->attrs[o->n_attrs++];
	a->key = key;
	a->str = str;
	a->len = (uint32_t)len;
	a->is_int = 0;
	a->i = 0;
}

static void attr_cstr(struct proto_exchange *o, const char *key, const char *str)
{
	attr_str(o, key, str, strlen(str));
}

/* RFC 3986's port: the `n` bytes at `s` digits only, here 1 to 65535;
 * else -1. */
static long port_value(const char *s, size_t n)
{
	long v = 0;

	for (const char *end = s + n; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > 65535)
			return -1;
	}
	return v > 0 ? v : -1;
}

void http_attrs_split_host(const char *host, size_t host_len,
			   const char **name, size_t *len, long *port)
{
	const char *colon, *end = host + host_len;

	*port = -1;
	*name = host;
	if (host[0] == '[') {
		const char *close = memchr(host, ']', host_len);

		if (!close) {
			*len = host_len;
			return;
		}
		*name = host + 1;
		*len = (size_t)(close - host - 1);
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memrchr(host, ':', host_len);
		*len = colon ? (size_t)(colon - host) : host_len;
	}
	if (colon && colon + 1 < end)
		*port = port_value(colon + 1, (size_t)(end - colon - 1));
}

/* The address as text, kept in the exchange (formatted straight there). */
const char *http_attrs_addr_text(struct proto_exchange *o,
				 const struct stream_addr *a)
{
	char *out = proto_text_alloc(o, INET6_ADDRSTRLEN);

	return out ? stream_addr_str(a, out, INET6_ADDRSTRLEN) : "";
}

void http_attrs_server(struct proto_exchange *o, const char *host,
		       size_t host_len, const struct stream_addr *server_end,
		       bool tls)
{
	const char *name;
	size_t len;
	long port;

	if (host_len) {
		http_attrs_split_host(host, host_len, &name, &len, &port);
		attr_str(o, "server.address", name, len);
		/* A host without a port means the scheme's default. */
		proto_attr_int(o, "server.port", port > 0 ? port : tls ? 443 : 80);
		return;
	}
	attr_cstr(o, "server.address", http_attrs_addr_text(o, server_end));
	proto_attr_int(o, "server.port", server_end->port);
}

/* A port's digits in `buf` (6 bytes), NUL-terminated. */
static const char *port_text(char *buf, uint16_t port)
{
	buf[5] = '\0';
	return strbuf_u64_digits(buf + 5, port);
}

/*
 * url.full: "scheme://host[:port][path][?query]".  A port is given only
 * with an address, which an IPv6 one needs brackets around (RFC 3986
 * section 3.2.2); a Host header's value is used as it came.
 */
static void add_url_full(struct proto_exchange *o, const char *scheme,
			 const char *host, const char *port, const char *path,
			 const char *query)
{
	bool v6 = port && strchr(host, ':');
	const char *parts[] = { scheme, "://", v6 ? "[" : "", host, v6 ? "]" : "",
				port ? ":" : "", port ? port : "", path,
				query ? "?" : "", query ? query : "" };
	const char *full;
	size_t len = proto_text_cat(o, parts, sizeof(parts) / sizeof(parts[0]), &full);

	attr_str(o, "url.full", full, len);
}

static void add_url(struct proto_exchange *o, const struct proto_conn *c,
		    const struct http_attrs_msg *m, bool server, bool with_query)
{
	bool query = with_query && m->query_len;
	const char *scheme = c->tls ? "https" : "http";
	size_t scheme_len = c->tls ? 5 : 4;
	char buf[64], port[6];

	if (m->connect) {
		/* The target is an authority: a client's URL is just that. */
		attr_str(o, "url.scheme", scheme, scheme_len);
		if (!server && m->host[0])
			add_url_full(o, scheme, m->host, NULL, "", NULL);
		return;
	}
	if (m->path_len)
		attr_str(o, "url.path", m->path, m->path_len);
	if (query)
		attr_str(o, "url.query", m->query, m->query_len);
	attr_str(o, "url.scheme", scheme, scheme_len);
	if (server)
		return;
	/* Clients must say url.full; the query only when allowed. */
	if (m->host[0])
		add_url_full(o, scheme, m->host, NULL, m->path, query ? m->query : NULL);
	else
		add_url_full(o, scheme, stream_addr_str(&c->peer, buf, sizeof(buf)),
			     port_text(port, c->peer.port), m->path,
			     query ? m->query : NULL);
}

void http_attrs_peer(struct proto_exchange *o, const struct proto_conn *c,
		     bool server)
{
	/* Formatted once for the connection (protocol/streams.c); else now. */
	const char *peer = c->peer_text_len ? c->peer_text
					    : http_attrs_addr_text(o, &c->peer);
	size_t len = c->peer_text_len ? c->peer_text_len : strlen(peer);

	/* Both attributes point at one text: the span keeps one copy. */
	if (server) {
		attr_str(o, "client.address", peer, len);
		proto_attr_int(o, "client.port", c->peer.port);
	}
	attr_str(o, "network.peer.address", peer, len);
	proto_attr_int(o, "network.peer.port", c->peer.port);
}

void http_attrs_error(struct proto_exchange *o, uint16_t status)
{
	attr_cstr(o, "error.type", proto_text(o, "%u", status));
	o->error = true;
}

/* `method` is m->method, `ml` bytes long (measured once for the name and
 * the attribute); "HTTP" stands for a method we do not know (semantic
 * conventions). */
static void set_name(struct proto_exchange *o, const struct http_attrs_msg *m,
		     const char *method, size_t ml)
{
	char route[HTTP1_PATH_MAX]; /* the decoders keep paths this long */
	size_t rl;
	char *out;

	if (m->connect) {
		o->name = "CONNECT"; /* no route: the target is an authority */
		o->name_len = strlen(o->name);
		return;
	}
	out = proto_text_alloc(o, ml + 1 + sizeof(route));
	if (!out) {
		route_template(m->path, route, sizeof(route));
		o->name = proto_text_join(o, method, ' ', route);
		o->name_len = strlen(o->name);
		return;
	}
	/* The route written straight after the method, in the text: the name
	 * is written once.  What the route left of its room is given back
	 * (it was the last allocation). */
	memcpy(out, method, ml);
	out[ml] = ' ';
	route_template_n(m->path, m->path_len, out + ml + 1, sizeof(route), &rl);
	o->name = out;
	o->name_len = ml + 1 + rl;
	o->text_used -= (uint32_t)(sizeof(route) - (o->name_len - ml));
}

void http_attrs_describe(struct proto_exchange *o, const struct proto_conn *c,
			 const struct http_attrs_msg *m, bool with_query)
{
	bool server = o->server;
	size_t ml = m->method ? strlen(m->method) : 0;

	set_name(o, m, m->method ? m->method : "HTTP", m->method ? ml : 4);
	/* Neither: the method was not seen (headers left out). */
	if (m->method)
		attr_str(o, "http.request.method", m->method, ml);
	else if (m->method_original[0])
		attr_str(o, "http.request.method", "_OTHER", 6);
	if (!m->method && m->method_original[0])
		attr_cstr(o, "http.request.method_original", m->method_original);
	add_url(o, c, m, server, with_query);
	if (m->status)
		proto_attr_int(o, "http.response.status_code", m->status);
	http_attrs_server(o, m->host, m->host_len, server ? &c->local : &c->peer,
			  c->tls);
	http_attrs_peer(o, c, server);
	if (m->version)
		attr_str(o, "network.protocol.version", m->version, m->version_len);
	if (m->user_agent_len)
		attr_str(o, "user_agent.original", m->user_agent, m->user_agent_len);
	if (m->req_body_size >= 0)
		proto_attr_int(o, "http.request.body.size", m->req_body_size);
	if (m->status && m->resp_body_size >= 0)
		proto_attr_int(o, "http.response.body.size", m->resp_body_size);
}
