// SPDX-License-Identifier: MIT
/*
 * The connection pool and its event loop.  A call hands each request to a
 * pool slot (round-robin from slot 0, so a lone request always reuses the
 * same warm connection), opens the slot's connection if it is closed or
 * found dead, and polls every busy connection until all answers are in
 * or the deadline passes.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transport/http_internal.h"
#include "util/clock.h"
#include "util/log.h"

void http_response_reset(struct http_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->grpc_status = -1;
}

void http_response_append(struct http_response *r, const uint8_t *p, size_t n)
{
	size_t room = HTTP_BODY_MAX - r->body_len;
	uint8_t *grown;

	if (n > room) {
		r->body_truncated = true;
		n = room;
	}
	if (!n)
		return;
	grown = realloc(r->body, r->body_len + n);
	if (!grown) {
		r->body_truncated = true;
		return;
	}
	r->body = grown;
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
}

static void copy_value(char *dst, size_t size, const char *v, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

void http_response_header(struct http_response *r, const char *name,
			  size_t name_len, const char *value, size_t value_len)
{
#define IS(n) (name_len == sizeof(n) - 1 && strncasecmp(name, n, name_len) == 0)
	if (IS("retry-after"))
		copy_value(r->retry_after, sizeof(r->retry_after), value, value_len);
	else if (IS("content-type"))
		copy_value(r->content_type, sizeof(r->content_type), value,
			   value_len);
	else if (IS("content-encoding") || IS("grpc-encoding"))
		copy_value(r->encoding, sizeof(r->encoding), value, value_len);
	else if (IS("grpc-message"))
		copy_value(r->grpc_message, sizeof(r->grpc_message), value,
			   value_len);
	else if (IS("grpc-status-details-bin"))
		copy_value(r->grpc_details, sizeof(r->grpc_details), value,
			   value_len);
	else if (IS("grpc-status")) {
		r->grpc_status = 0;
		for (size_t i = 0; i < value_len && i < 3; i++)
			r->grpc_status = r->grpc_status * 10 + (value[i] - '0');
	}
#undef IS
}

void http_exchange_finish(struct http_exchange *x, int error)
{
	if (x->done)
		return;
	x->done = true;
	x->resp->error = error;
	if (error == 0 && x->conn)
		x->resp->version = x->conn->proto == HTTP_CONN_H2 ? 2 : 1;
	if (x->started && x->conn && x->conn->active)
		x->conn->active--;
}

struct http_client *http_client_create(const struct http_client_options *o)
{
	struct http_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->url = *o->url;
	c->version = o->version;
	c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
	c->n_conns = o->connections ? o->connections : 1;
	c->user_agent = strdup(o->user_agent ? o->user_agent : "spanprobe");
	c->conns = calloc(c->n_conns, sizeof(*c->conns));
	if (!c->user_agent || !c->conns)
		goto fail;
	for (unsigned i = 0; i < c->n_conns; i++) {
		c->conns[i].client = c;
		c->conns[i].io.fd = -1;
	}
	if (c->url.tls) {
		c->tls = conn_tls_ctx_create(o->ca_file);
		if (!c->tls) {
			errno = EINVAL;
			goto fail;
		}
	}
	return c;
fail:
	http_client_destroy(c);
	if (!errno)
		errno = ENOMEM;
	return NULL;
}

static void conn_drop(struct http_conn *hc)
{
	if (hc->h2)
		h2_session_close(hc);
	h1_reset(hc);
	conn_close(&hc->io);
	hc->proto = HTTP_CONN_CLOSED;
	hc->active = 0;
}

void http_client_destroy(struct http_client *c)
{
	if (!c)
		return;
	for (unsigned i = 0; c->conns && i < c->n_conns; i++)
		conn_drop(&c->conns[i]);
	conn_tls_ctx_destroy(c->tls);
	free(c->conns);
	free(c->user_agent);
	free(c);
}

void http_client_get_stats(const struct http_client *c,
			   struct http_client_stats *out)
{
	*out = c->stats;
}

/* ALPN lists in wire format. */
static const uint8_t alpn_auto[] = "\x02h2\x08http/1.1";
static const uint8_t alpn_h2[] = "\x02h2";
static const uint8_t alpn_h1[] = "\x08http/1.1";

static int conn_connect(struct http_client *c, struct http_conn *hc,
			int64_t deadline)
{
	const uint8_t *alpn = alpn_auto;
	size_t alpn_len = sizeof(alpn_auto) - 1;
	int64_t left = deadline - clock_mono_ms();
	bool h1;
	int ret;

	if (left <= 0)
		return -ETIMEDOUT;
	if (left > c->connect_timeout_ms)
		left = c->connect_timeout_ms;
	if (c->version == HTTP_PREF_2) {
		alpn = alpn_h2;
		alpn_len = sizeof(alpn_h2) - 1;
	} else if (c->version == HTTP_PREF_1_1) {
		alpn = alpn_h1;
		alpn_len = sizeof(alpn_h1) - 1;
	}
	ret = conn_open(&hc->io, &c->url, c->tls, alpn, alpn_len, (int)left);
	if (ret)
		return ret;
	c->stats.connects++;
	hc->fresh = true;
	if (c->tls)
		h1 = strcmp(hc->io.alpn, "h2") != 0;
	else
		h1 = c->version == HTTP_PREF_1_1 || c->h1_only;
	if (h1 && c->version == HTTP_PREF_2) {
		sp_debug("export: %s did not agree to HTTP/2 in ALPN",
			 c->url.authority);
		conn_close(&hc->io);
		return -EPROTO;
	}
	if (h1) {
		hc->proto = HTTP_CONN_H1;
		return 0;
	}
	ret = h2_session_open(hc);
	if (ret)
		conn_close(&hc->io);
	return ret;
}

/* Read what an idle connection got (GOAWAY, close); is it still usable? */
static bool conn_alive(struct http_conn *hc)
{
	struct pollfd p = { .fd = hc->io.fd, .events = POLLIN };
	int ret = 0;

	if (poll(&p, 1, 0) == 1)
		ret = hc->proto == HTTP_CONN_H2 ? h2_on_readable(hc) :
						  h1_on_readable(hc);
	if (ret)
		return false;
	return hc->proto == HTTP_CONN_H1 || h2_usable(hc);
}

struct roundtrip {
	struct http_client *c;
	struct http_exchange *x;
	size_t n;
	int64_t deadline;
};

static void fail_on_conn(struct roundtrip *rt, struct http_conn *hc,
			 int error, bool started_only)
{
	for (size_t i = 0; i < rt->n; i++) {
		struct http_exchange *x = &rt->x[i];

		if (x->conn == hc && !x->done && (x->started || !started_only))
			http_exchange_finish(x, error);
	}
}

/* Open the slot if needed and put its waiting exchanges on it. */
static void conn_start_work(struct roundtrip *rt, struct http_conn *hc)
{
	int ret = 0;

	if (hc->proto != HTTP_CONN_CLOSED && hc->active == 0 && !conn_alive(hc))
		conn_drop(hc);
	if (hc->proto == HTTP_CONN_CLOSED)
		ret = conn_connect(rt->c, hc, rt->deadline);
	if (ret) {
		fail_on_conn(rt, hc, ret, false);
		return;
	}
	for (size_t i = 0; i < rt->n; i++) {
		struct http_exchange *x = &rt->x[i];

		if (x->conn != hc || x->done || x->started)
			continue;
		if (hc->proto == HTTP_CONN_H1 && hc->h1.cur)
			break; /* one at a time; the next goes after this one */
		ret = hc->proto == HTTP_CONN_H2 ? h2_submit(hc, x) : h1_start(hc, x);
		if (ret) {
			http_exchange_finish(x, ret);
			continue;
		}
		x->started = true;
		hc->active++;
		rt->c->stats.requests++;
	}
}

/* h2c refused by an HTTP/1 server: start the same requests over again. */
static bool try_h1_fallback(struct roundtrip *rt, struct http_conn *hc, int err)
{
	struct http_client *c = rt->c;

	if (hc->proto != HTTP_CONN_H2 || !hc->fresh || c->tls ||
	    c->version != HTTP_PREF_AUTO ||
	    (err != -EPROTONOSUPPORT && err != -ECONNRESET && err != -EPIPE))
		return false;
	if (!c->h1_only)
		sp_info("export: %s does not speak HTTP/2 without TLS (h2c);"
			" using HTTP/1.1", c->url.authority);
	c->h1_only = true;
	c->stats.h1_fallbacks++;
	for (size_t i = 0; i < rt->n; i++) {
		struct http_exchange *x = &rt->x[i];

		if (x->conn == hc && !x->done && x->started) {
			x->started = false;
			http_response_reset(x->resp);
		}
	}
	conn_drop(hc);
	return true;
}

static void conn_on_events(struct roundtrip *rt, struct http_conn *hc,
			   short revents)
{
	bool h2 = hc->proto == HTTP_CONN_H2;
	int ret = 0;

	if (revents & (POLLIN | POLLHUP | POLLERR))
		ret = h2 ? h2_on_readable(hc) : h1_on_readable(hc);
	if (ret == 0 && (revents & POLLOUT))
		ret = h2 ? h2_on_writable(hc) : h1_on_writable(hc);
	if (ret == 0 && h2 && !h2_usable(hc))
		ret = 1; /* GOAWAY: what was refused is failed by nghttp2 */
	if (ret == 0)
		return;
	if (ret < 0 && try_h1_fallback(rt, hc, ret))
		return;
	if (ret == -EPIPE || ret == -ENOTCONN)
		ret = -ECONNRESET;
	fail_on_conn(rt, hc, ret < 0 ? ret : -ECONNRESET, true);
	conn_drop(hc);
}

/* The deadline passed: cancel what is in flight. */
static void roundtrip_expire(struct roundtrip *rt)
{
	for (size_t i = 0; i < rt->n; i++) {
		struct http_exchange *x = &rt->x[i];
		struct http_conn *hc = x->conn;

		if (x->done)
			continue;
		if (x->started && hc->proto == HTTP_CONN_H2) {
			/* Keep the connection; only this stream is abandoned. */
			nghttp2_session_set_stream_user_data(hc->h2, x->stream_id,
							     NULL);
			nghttp2_submit_rst_stream(hc->h2, NGHTTP2_FLAG_NONE,
						  x->stream_id, NGHTTP2_CANCEL);
		} else if (x->started) {
			conn_drop(hc); /* HTTP/1.1 cannot abandon an answer */
		}
		http_exchange_finish(x, -ETIMEDOUT);
	}
	for (unsigned i = 0; i < rt->c->n_conns; i++) {
		struct http_conn *hc = &rt->c->conns[i];

		hc->active = 0;
		if (hc->proto == HTTP_CONN_H2 && h2_on_writable(hc))
			conn_drop(hc);
	}
}

static bool has_waiting(const struct roundtrip *rt, const struct http_conn *hc)
{
	for (size_t i = 0; i < rt->n; i++)
		if (rt->x[i].conn == hc && !rt->x[i].done && !rt->x[i].started)
			return true;
	return false;
}

static size_t roundtrip_pending(const struct roundtrip *rt)
{
	size_t left = 0;

	for (size_t i = 0; i < rt->n; i++)
		left += !rt->x[i].done;
	return left;
}

static void roundtrip_poll(struct roundtrip *rt)
{
	struct http_client *c = rt->c;
	struct pollfd pfd[c->n_conns];
	struct http_conn *who[c->n_conns];
	int64_t left = rt->deadline - clock_mono_ms();
	nfds_t n = 0;

	for (unsigned i = 0; i < c->n_conns; i++) {
		struct http_conn *hc = &c->conns[i];
		bool out;

		if (hc->proto == HTTP_CONN_CLOSED || !hc->active)
			continue;
		out = hc->proto == HTTP_CONN_H2 ? h2_wants_write(hc) :
						  h1_wants_write(hc);
		pfd[n] = (struct pollfd){ .fd = hc->io.fd,
					  .events = POLLIN | (out ? POLLOUT : 0) };
		who[n++] = hc;
	}
	if (n == 0 || left <= 0)
		return;
	if (poll(pfd, n, (int)left) <= 0)
		return;
	for (nfds_t i = 0; i < n; i++)
		if (pfd[i].revents)
			conn_on_events(rt, who[i], pfd[i].revents);
}

int http_client_roundtrip(struct http_client *c, const struct http_request *reqs,
			  struct http_response *resps, size_t n,
			  int64_t deadline_ms)
{
	struct roundtrip rt = { .c = c, .n = n, .deadline = deadline_ms };

	rt.x = calloc(n ? n : 1, sizeof(*rt.x));
	if (!rt.x)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		http_response_reset(&resps[i]);
		rt.x[i].req = &reqs[i];
		rt.x[i].resp = &resps[i];
		rt.x[i].conn = &c->conns[i % c->n_conns];
	}
	while (roundtrip_pending(&rt)) {
		if (clock_mono_ms() >= deadline_ms) {
			roundtrip_expire(&rt);
			break;
		}
		for (unsigned i = 0; i < c->n_conns; i++) {
			struct http_conn *hc = &c->conns[i];

			if (has_waiting(&rt, hc) &&
			    (hc->proto != HTTP_CONN_H1 || !hc->h1.cur))
				conn_start_work(&rt, hc);
		}
		roundtrip_poll(&rt);
	}
	free(rt.x);
	return 0;
}
