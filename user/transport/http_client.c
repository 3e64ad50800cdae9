// SPDX-License-Identifier: MIT
/*
 * The connection pool and its event loop.  A call hands each request to a
 * pool slot (round-robin from slot 0, so a lone request always reuses the
 * same warm connection), opens the slot's connection if it is closed or
 * found dead, and polls every busy connection until all answers are in
 * or the deadline passes.  Another thread may move the cutoff (shutdown):
 * an eventfd wakes the poll, which then ends at the cutoff.
 */
#include "transport/http.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "transport/exchange.h"
#include "transport/h1.h"
#include "transport/h2.h"
#include "transport/tlsctx.h"
#include "util/clock.h"
#include "util/log.h"

struct http_client {
	struct http_target target;
	enum http_version_pref version;
	int connect_timeout_ms;
	struct tlsctx tls;    /* ctx NULL: cleartext */
	bool h1_only;        /* learned: the server does not speak h2c */
	unsigned h2c_closes; /* fresh h2c connections closed unanswered, in a row */
	struct http_conn *conns;
	unsigned n_conns;
	unsigned next_conn;  /* round-robin start */
	struct http_client_stats stats;
	int64_t cutoff;      /* no wait past it; atomic: any thread moves it */
	int wake_fd;         /* eventfd: the cutoff moved */
};

struct http_client *http_client_create(const struct http_client_options *o)
{
	struct http_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->target.url = *o->url;
	c->version = o->version;
	c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
	c->n_conns = o->connections ? o->connections : 1;
	c->cutoff = INT64_MAX;
	c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->wake_fd < 0)
		goto fail;
	c->target.user_agent = strdup(o->user_agent ? o->user_agent : "spanprobe");
	c->conns = calloc(c->n_conns, sizeof(*c->conns));
	if (!c->target.user_agent || !c->conns)
		goto fail;
	for (unsigned i = 0; i < c->n_conns; i++) {
		c->conns[i].target = &c->target;
		c->conns[i].io.fd = -1;
	}
	if (c->target.url.tls) {
		struct tls_files f = { o->ca_file, o->cert_file, o->key_file };
		int ret = tlsctx_open(&c->tls, &f, o->tls_check_ms);

		if (ret) {
			errno = -ret;
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
	if (hc->ops)
		hc->ops->close(hc);
	conn_close(&hc->io);
	hc->ops = NULL;
	hc->active = 0;
}

void http_client_destroy(struct http_client *c)
{
	if (!c)
		return;
	for (unsigned i = 0; c->conns && i < c->n_conns; i++)
		conn_drop(&c->conns[i]);
	tlsctx_close(&c->tls);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c->conns);
	free(c->target.user_agent);
	free(c);
}

void http_client_get_stats(const struct http_client *c,
			   struct http_client_stats *out)
{
	*out = c->stats;
	out->tls_reloads = c->tls.reloads;
	out->tls_reload_failures = c->tls.reload_failures;
}

void http_client_set_cutoff(struct http_client *c, int64_t cutoff_ms)
{
	uint64_t one = 1;

	__atomic_store_n(&c->cutoff, cutoff_ms, __ATOMIC_RELEASE);
	if (write(c->wake_fd, &one, sizeof(one)) < 0)
		sp_debug("export: cannot wake the export thread: %s", strerror(errno));
}

int64_t http_client_cutoff(const struct http_client *c)
{
	return __atomic_load_n(&c->cutoff, __ATOMIC_ACQUIRE);
}

/* Sooner of `deadline` and the cutoff. */
static int64_t cut(const struct http_client *c, int64_t deadline)
{
	int64_t cutoff = http_client_cutoff(c);

	return cutoff < deadline ? cutoff : deadline;
}

static void wake_drain(struct http_client *c)
{
	uint64_t n;

	if (read(c->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		sp_debug("export: reading the wake-up failed: %s", strerror(errno));
}

void http_client_pause(struct http_client *c, int64_t until_ms)
{
	struct pollfd p = { .fd = c->wake_fd, .events = POLLIN };
	int64_t left;

	while ((left = cut(c, until_ms) - clock_mono_ms()) > 0)
		if (poll(&p, 1, (int)left) > 0)
			wake_drain(c);
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
	ret = conn_open(&hc->io, &c->target.url, c->tls.ctx, alpn, alpn_len,
			(int)left);
	/* The connect timeout, not the deadline: a failed connection, which
	 * a retry may get (-ETIMEDOUT says the deadline passed). */
	if (ret == -ETIMEDOUT && clock_mono_ms() < deadline)
		return -ETIME;
	if (ret)
		return ret;
	hc->tls_generation = c->tls.generation;
	hc->io.written = &c->stats.bytes_written;
	c->stats.connects++;
	hc->fresh = true;
	if (c->tls.ctx)
		h1 = strcmp(hc->io.alpn, "h2") != 0;
	else
		h1 = c->version == HTTP_PREF_1_1 || c->h1_only || hc->h1_stopgap;
	if (h1 && c->version == HTTP_PREF_2) {
		sp_debug("export: %s did not agree to HTTP/2 in ALPN",
			 c->target.url.authority);
		conn_close(&hc->io);
		return -EPROTO;
	}
	hc->ops = h1 ? &h1_ops : &h2_ops;
	ret = hc->ops->open ? hc->ops->open(hc) : 0;
	if (ret) {
		hc->ops = NULL;
		conn_close(&hc->io);
	}
	return ret;
}

/* Read what an idle connection got (GOAWAY, close); is it still usable? */
static bool conn_alive(struct http_conn *hc)
{
	struct pollfd p = { .fd = hc->io.fd, .events = POLLIN };
	int ret = 0;

	if (poll(&p, 1, 0) == 1)
		ret = hc->ops->on_readable(hc);
	if (ret)
		return false;
	return hc->ops->usable(hc);
}

struct roundtrip {
	struct http_client *c;
	struct http_exchange *x;
	size_t n;
	int64_t deadline;
	bool h2c_closed; /* a new h2c connection was closed unanswered */
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

	/* An idle connection made with TLS files since replaced is closed. */
	if (hc->ops && hc->active == 0 &&
	    (hc->tls_generation != rt->c->tls.generation || !conn_alive(hc)))
		conn_drop(hc);
	if (!hc->ops)
		ret = conn_connect(rt->c, hc, cut(rt->c, rt->deadline));
	if (ret) {
		fail_on_conn(rt, hc, ret, false);
		return;
	}
	for (size_t i = 0; i < rt->n; i++) {
		struct http_exchange *x = &rt->x[i];

		if (x->conn != hc || x->done || x->started)
			continue;
		if (!hc->ops->has_room(hc))
			break;
		ret = hc->ops->start(hc, x);
		if (ret) {
			http_exchange_finish(x, ret);
			continue;
		}
		x->started = true;
		hc->active++;
		rt->c->stats.requests++;
	}
}

/* This many exports in a row whose new h2c connection was closed
 * unanswered, and which HTTP/1.1 then answered, mean a server that does
 * not speak h2c (and says nothing). */
#define H2C_CLOSES_MAX 3

static void keep_h1(struct http_client *c)
{
	if (!c->h1_only)
		sp_info("export: %s does not speak HTTP/2 without TLS (h2c);"
			" using HTTP/1.1", c->target.url.authority);
	c->h1_only = true;
}

/*
 * h2c refused: start the same requests over again on HTTP/1.1.  An
 * HTTP/1 answer settles it for good.  A close without an answer may also
 * be a collector restarting: HTTP/1.1 for the rest of this export, h2c
 * again for the next (count_h2c_close() decides at the export's end).
 */
static bool try_h1_fallback(struct roundtrip *rt, struct http_conn *hc, int err)
{
	struct http_client *c = rt->c;

	if (hc->ops != &h2_ops || !hc->fresh || c->tls.ctx ||
	    c->version != HTTP_PREF_AUTO ||
	    (err != -EPROTONOSUPPORT && err != -ECONNRESET && err != -EPIPE))
		return false;
	if (err == -EPROTONOSUPPORT) {
		keep_h1(c);
	} else {
		sp_debug("export: %s closed a new h2c connection unanswered;"
			 " HTTP/1.1 for this export", c->target.url.authority);
		hc->h1_stopgap = true;
		rt->h2c_closed = true;
	}
	c->stats.h1_fallbacks++;
	for (size_t i = 0; i < rt->n; i++) {
		struct http_exchange *x = &rt->x[i];

		if (x->conn == hc && !x->done && x->started) {
			x->started = false;
			x->on_wire = false; /* refused: not HTTP/2 */
			http_response_reset(x->resp);
		}
	}
	conn_drop(hc);
	return true;
}

static void conn_on_events(struct roundtrip *rt, struct http_conn *hc,
			   short revents)
{
	int ret = 0;

	if (revents & (POLLIN | POLLHUP | POLLERR))
		ret = hc->ops->on_readable(hc);
	if (hc->ops == &h2_ops && !hc->fresh)
		rt->c->h2c_closes = 0; /* it speaks h2c */
	if (ret == 0 && (revents & POLLOUT))
		ret = hc->ops->on_writable(hc);
	if (ret == 0 && !hc->ops->usable(hc)) {
		/* GOAWAY: what was refused is failed by nghttp2; what was
		 * taken is answered here before the connection goes. */
		if (hc->active && hc->ops->draining && hc->ops->draining(hc))
			return;
		ret = 1;
	}
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
		if (x->started && (!hc->ops || !hc->ops->abandon(hc, x)))
			conn_drop(hc);
		http_exchange_finish(x, -ETIMEDOUT);
	}
	for (unsigned i = 0; i < rt->c->n_conns; i++) {
		struct http_conn *hc = &rt->c->conns[i];

		hc->active = 0;
		/* Send what abandoning queued (HTTP/2 RST_STREAM). */
		if (hc->ops && hc->ops->on_writable(hc))
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
	struct pollfd pfd[c->n_conns + 1];
	struct http_conn *who[c->n_conns];
	int64_t left = cut(c, rt->deadline) - clock_mono_ms();
	nfds_t n = 0;

	for (unsigned i = 0; i < c->n_conns; i++) {
		struct http_conn *hc = &c->conns[i];
		bool out;

		if (!hc->ops || !hc->active)
			continue;
		out = hc->ops->wants_write(hc);
		pfd[n] = (struct pollfd){ .fd = hc->io.fd,
					  .events = POLLIN | (out ? POLLOUT : 0) };
		who[n++] = hc;
	}
	if (n == 0 || left <= 0)
		return;
	pfd[n] = (struct pollfd){ .fd = c->wake_fd, .events = POLLIN };
	if (poll(pfd, n + 1, (int)left) <= 0)
		return;
	if (pfd[n].revents)
		wake_drain(c);
	for (nfds_t i = 0; i < n; i++)
		if (pfd[i].revents)
			conn_on_events(rt, who[i], pfd[i].revents);
}

/* Before an export: a stopgap HTTP/1.1 connection is closed, so that the
 * next one asks for h2c again. */
static void pool_round_start(struct http_client *c)
{
	for (unsigned i = 0; i < c->n_conns; i++) {
		struct http_conn *hc = &c->conns[i];

		if (hc->h1_stopgap) {
			conn_drop(hc);
			hc->h1_stopgap = false;
		}
	}
}

/*
 * After an export whose new h2c connection was closed unanswered: when
 * HTTP/1.1 then answered, the server speaks that, and the third such
 * export in a row keeps it (its stopgap connections stay open).  One that
 * HTTP/1.1 did not answer either (nothing serves the port yet) tells
 * nothing, and counts nothing.
 */
static void count_h2c_close(struct http_client *c, const struct roundtrip *rt)
{
	bool answered = false;

	for (size_t i = 0; i < rt->n; i++)
		answered |= rt->x[i].conn->h1_stopgap && rt->x[i].resp->status;
	if (!answered || ++c->h2c_closes < H2C_CLOSES_MAX)
		return;
	keep_h1(c);
	for (unsigned i = 0; i < c->n_conns; i++)
		c->conns[i].h1_stopgap = false;
}

int http_client_roundtrip(struct http_client *c, const struct http_request *reqs,
			  struct http_response *resps, size_t n,
			  int64_t deadline_ms)
{
	struct roundtrip rt = { .c = c, .n = n, .deadline = deadline_ms };

	rt.x = calloc(n ? n : 1, sizeof(*rt.x));
	if (!rt.x) {
		/* Each response says so: nothing was sent, a retry may do. */
		for (size_t i = 0; i < n; i++) {
			http_response_reset(&resps[i]);
			resps[i].error = -ENOMEM;
		}
		return -ENOMEM;
	}
	if (c->tls.ctx)
		tlsctx_refresh(&c->tls, clock_mono_ms());
	pool_round_start(c);
	for (size_t i = 0; i < n; i++) {
		http_response_reset(&resps[i]);
		rt.x[i].req = &reqs[i];
		rt.x[i].resp = &resps[i];
		rt.x[i].conn = &c->conns[i % c->n_conns];
	}
	while (roundtrip_pending(&rt)) {
		if (clock_mono_ms() >= cut(c, deadline_ms)) {
			roundtrip_expire(&rt);
			break;
		}
		for (unsigned i = 0; i < c->n_conns; i++) {
			struct http_conn *hc = &c->conns[i];

			/* An idle one is reopened when it is not usable. */
			if (has_waiting(&rt, hc) &&
			    (!hc->ops || !hc->active || hc->ops->has_room(hc)))
				conn_start_work(&rt, hc);
		}
		roundtrip_poll(&rt);
	}
	if (rt.h2c_closed)
		count_h2c_close(c, &rt);
	for (size_t i = 0; i < n; i++)
		resps[i].sent = rt.x[i].on_wire;
	free(rt.x);
	return 0;
}
