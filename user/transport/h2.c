// SPDX-License-Identifier: MIT
/*
 * HTTP/2 client side of one pooled connection, on nghttp2's memory
 * interface: we own the socket (and TLS) and move bytes between it and
 * the session ourselves, so the pool can poll every connection at once.
 */
#include "transport/h2.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "transport/exchange.h"
#include "util/log.h"

#define MAKE_NV(n, v, vlen)                                                    \
	{ (uint8_t *)(n), (uint8_t *)(v), strlen(n), (vlen),                   \
	  NGHTTP2_NV_FLAG_NONE }

static struct http_exchange *stream_exchange(nghttp2_session *s, int32_t id)
{
	return nghttp2_session_get_stream_user_data(s, id);
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame,
		     const uint8_t *name, size_t name_len, const uint8_t *value,
		     size_t value_len, uint8_t flags, void *user)
{
	struct http_exchange *x;

	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	x = stream_exchange(s, frame->hd.stream_id);
	if (!x || x->done)
		return 0;
	if (name_len == 7 && memcmp(name, ":status", 7) == 0) {
		int status = 0;

		for (size_t i = 0; i < value_len && i < 3; i++)
			status = status * 10 + (value[i] - '0');
		/* 1xx answers are interim; the final one follows. */
		if (status >= 200)
			x->resp->status = status;
		return 0;
	}
	http_response_add_field(x->resp, (const char *)name, name_len,
				(const char *)value, value_len);
	return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *user)
{
	struct http_exchange *x = stream_exchange(s, stream_id);

	if (x && !x->done)
		http_response_append(x->resp, data, len);
	return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame,
			 void *user)
{
	struct http_exchange *x;

	if ((frame->hd.type == NGHTTP2_HEADERS ||
	     frame->hd.type == NGHTTP2_DATA) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		x = stream_exchange(s, frame->hd.stream_id);
		if (x)
			x->ended = true;
	}
	return 0;
}

/* The request's last frame (END_STREAM) went out: from now on the server
 * may have processed it; a body cut short by flow control it cannot. */
static int on_frame_send(nghttp2_session *s, const nghttp2_frame *frame,
			 void *user)
{
	struct http_exchange *x;

	if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	x = stream_exchange(s, frame->hd.stream_id);
	if (x)
		x->on_wire = true;
	(void)user;
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id,
			   uint32_t error_code, void *user)
{
	struct http_exchange *x = stream_exchange(s, stream_id);

	if (!x || x->done)
		return 0;
	/*
	 * A stream the server refused (REFUSED_STREAM, or beyond GOAWAY's
	 * last stream) or reset before its answer ended was not processed:
	 * for the caller that is a lost connection, retryable.
	 */
	if (!x->ended || x->resp->status == 0)
		http_exchange_finish(x, -ECONNRESET);
	else
		http_exchange_finish(x, 0);
	(void)error_code;
	return 0;
}

static void h2_close(struct http_conn *hc);

static int h2_open(struct http_conn *hc)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
	};
	int ret;

	if (nghttp2_session_callbacks_new(&cbs))
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
								  on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
							       on_stream_close);
	ret = nghttp2_session_client_new(&hc->h2, cbs, hc);
	nghttp2_session_callbacks_del(cbs);
	if (ret)
		return -ENOMEM;
	/* The client preface (magic + SETTINGS) goes out with the first send. */
	if (nghttp2_submit_settings(hc->h2, NGHTTP2_FLAG_NONE, iv,
				    sizeof(iv) / sizeof(iv[0]))) {
		h2_close(hc);
		return -ENOMEM;
	}
	hc->h1_match = 0;
	return 0;
}

static void h2_close(struct http_conn *hc)
{
	nghttp2_session_del(hc->h2);
	hc->h2 = NULL;
	hc->out = NULL;
	hc->out_len = 0;
	hc->woff = hc->wlen = 0;
}

static ssize_t body_read(nghttp2_session *s, int32_t stream_id, uint8_t *buf,
			 size_t length, uint32_t *flags,
			 nghttp2_data_source *source, void *user)
{
	struct http_exchange *x = source->ptr;
	size_t left = x->req->body_len - x->body_off;
	size_t n = left < length ? left : length;

	memcpy(buf, x->req->body + x->body_off, n);
	x->body_off += n;
	if (x->body_off == x->req->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

#define H2_MAX_NV 48

static int h2_submit(struct http_conn *hc, struct http_exchange *x)
{
	const struct http_target *t = hc->target;
	const struct http_request *rq = x->req;
	char length[24];
	nghttp2_nv nv[H2_MAX_NV];
	size_t n = 0;
	nghttp2_data_provider prd = { .source.ptr = x,
				      .read_callback = body_read };
	const char *scheme = t->url.tls ? "https" : "http";
	int32_t id;

	nv[n++] = (nghttp2_nv)MAKE_NV(":method", "POST", 4);
	nv[n++] = (nghttp2_nv)MAKE_NV(":scheme", scheme, strlen(scheme));
	nv[n++] = (nghttp2_nv)MAKE_NV(":authority", t->url.authority,
				      strlen(t->url.authority));
	nv[n++] = (nghttp2_nv)MAKE_NV(":path", t->url.path, strlen(t->url.path));
	nv[n++] = (nghttp2_nv)MAKE_NV("content-type", rq->content_type,
				      strlen(rq->content_type));
	nv[n++] = (nghttp2_nv)MAKE_NV("user-agent", t->user_agent,
				      strlen(t->user_agent));
	if (rq->trailers) {
		nv[n++] = (nghttp2_nv)MAKE_NV("te", "trailers", 8);
	} else {
		snprintf(length, sizeof(length), "%zu", rq->body_len);
		nv[n++] = (nghttp2_nv)MAKE_NV("content-length", length,
					      strlen(length));
	}
	for (size_t i = 0; i < rq->n_headers && n < H2_MAX_NV; i++)
		nv[n++] = (nghttp2_nv)MAKE_NV(rq->headers[i].name,
					      rq->headers[i].value,
					      strlen(rq->headers[i].value));
	x->body_off = 0;
	x->ended = false;
	id = nghttp2_submit_request(hc->h2, NULL, nv, n, &prd, x);
	if (id < 0)
		return id == NGHTTP2_ERR_NOMEM ? -ENOMEM : -ECONNRESET;
	x->stream_id = id;
	return 0;
}

static bool h2_wants_write(const struct http_conn *hc)
{
	return hc->out_len || hc->wlen > hc->woff || nghttp2_session_want_write(hc->h2);
}

/* Is the session still going (streams open, or open to new ones)? */
static bool h2_going(const struct http_conn *hc)
{
	return hc->h2 && (nghttp2_session_want_read(hc->h2) ||
			  nghttp2_session_want_write(hc->h2));
}

/* Can new requests go on this session (no GOAWAY, not finished)? */
static bool h2_usable(const struct http_conn *hc)
{
	return h2_going(hc) && nghttp2_session_check_request_allowed(hc->h2);
}

/*
 * After a GOAWAY the streams up to its last stream ID were taken by the
 * server and are answered on this session; nghttp2 closes the others
 * (on_stream_close: retryable).  Failing the taken ones too would send
 * them again: the collector would get those spans twice.
 */
static bool h2_draining(const struct http_conn *hc)
{
	return h2_going(hc) && !nghttp2_session_check_request_allowed(hc->h2);
}

/* Copy what nghttp2 has to send into wbuf, up to its size. */
static int h2_gather(struct http_conn *hc)
{
	while (hc->wlen < sizeof(hc->wbuf)) {
		size_t take;

		if (!hc->out_len) {
			ssize_t n = nghttp2_session_mem_send(hc->h2, &hc->out);

			if (n < 0)
				return -EPROTO;
			if (n == 0)
				break;
			hc->out_len = (size_t)n;
		}
		take = sizeof(hc->wbuf) - hc->wlen;
		if (take > hc->out_len)
			take = hc->out_len;
		memcpy(hc->wbuf + hc->wlen, hc->out, take);
		hc->wlen += take;
		hc->out += take;
		hc->out_len -= take;
	}
	return 0;
}

static int h2_on_writable(struct http_conn *hc)
{
	for (;;) {
		ssize_t n;

		if (hc->woff == hc->wlen) {
			hc->woff = hc->wlen = 0;
			if (h2_gather(hc))
				return -EPROTO;
			if (hc->wlen == 0)
				return 0;
		}
		n = conn_write(&hc->io, hc->wbuf + hc->woff, hc->wlen - hc->woff);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		hc->woff += (size_t)n;
	}
}

#define H1_MATCH_NOT 0xff

/*
 * Whether the server's stream starts "HTTP/": an HTTP/1 server answering
 * our preface with a status line.  Its first five bytes are matched in
 * however many reads they come; a read that merely holds "HTTP/" later
 * (inside a SETTINGS frame) is not the start.
 */
static bool h1_answer(struct http_conn *hc, const uint8_t *p, size_t n)
{
	static const char v[] = "HTTP/";
	size_t got = hc->h1_match, take;

	if (got >= sizeof(v) - 1) /* decided */
		return false;
	take = n < sizeof(v) - 1 - got ? n : sizeof(v) - 1 - got;
	if (memcmp(p, v + got, take)) {
		hc->h1_match = H1_MATCH_NOT;
		return false;
	}
	hc->h1_match = (uint8_t)(got + take);
	return hc->h1_match == sizeof(v) - 1;
}

static int h2_on_readable(struct http_conn *hc)
{
	uint8_t buf[16384];
	ssize_t n, used;

	for (;;) {
		n = conn_read(&hc->io, buf, sizeof(buf));
		if (n == -EAGAIN)
			break;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : (int)n;
		if (h1_answer(hc, buf, (size_t)n))
			return -EPROTONOSUPPORT;
		/* Bytes that may still begin a status line ("HTT") told us
		 * nothing: the connection can still fall back to HTTP/1.1. */
		if (hc->h1_match == H1_MATCH_NOT)
			hc->fresh = false;
		used = nghttp2_session_mem_recv(hc->h2, buf, (size_t)n);
		if (used < 0) {
			sp_debug("export: HTTP/2 protocol error from %s: %s",
				 hc->target->url.authority,
				 nghttp2_strerror((int)used));
			return -EPROTO;
		}
		/* A short read of a plain socket took all it had: poll() tells
		 * of more, without a read that would say EAGAIN.  TLS may hold
		 * decrypted bytes that poll() does not see: read on. */
		if (!hc->io.ssl && (size_t)n < sizeof(buf))
			break;
	}
	/* SETTINGS acks and WINDOW_UPDATEs go out at once. */
	return h2_on_writable(hc);
}

static bool h2_has_room(const struct http_conn *hc)
{
	/* Streams are multiplexed, but none is new after a GOAWAY. */
	return hc->h2 && nghttp2_session_check_request_allowed(hc->h2);
}

/* Keep the connection; only this stream is abandoned. */
static bool h2_abandon(struct http_conn *hc, struct http_exchange *x)
{
	nghttp2_session_set_stream_user_data(hc->h2, x->stream_id, NULL);
	nghttp2_submit_rst_stream(hc->h2, NGHTTP2_FLAG_NONE, x->stream_id,
				  NGHTTP2_CANCEL);
	return true;
}

const struct http_proto_ops h2_ops = {
	.version = 2,
	.open = h2_open,
	.start = h2_submit,
	.on_readable = h2_on_readable,
	.on_writable = h2_on_writable,
	.wants_write = h2_wants_write,
	.usable = h2_usable,
	.draining = h2_draining,
	.has_room = h2_has_room,
	.abandon = h2_abandon,
	.close = h2_close,
};
