// SPDX-License-Identifier: MIT
/*
 * One export call: encode the batch (split in halves until each body is
 * under max_body_bytes), gzip what is large enough, send every part at
 * once over the pooled client, then retry the retryable parts together
 * after the longest wait any of them asks for, until the export timeout
 * would pass.  Failures are logged once per distinct cause, not per batch.
 */
#include "export/otlp_exporter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "export/compress.h"
#include "export/export_health.h"
#include "export/otlp_encode.h"
#include "export/otlp_headers.h"
#include "export/otlp_pb_fast.h"
#include "export/otlp_queue.h"
#include "export/otlp_response.h"
#include "export/retry.h"
#include "transport/grpc.h"
#include "util/clock.h"
#include "util/counter.h"
#include "util/fnv.h"
#include "util/ids.h"
#include "util/log.h"

#define GRPC_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define SEEN_MAX 32       /* distinct failures remembered; then forgotten */
#define EXTRA_HEADERS 3   /* encoding, grpc-timeout, grpc-accept-encoding */
#define QUEUE_SLICE_MS 1000 /* sending from the disk queue, per call */

struct otlp {
	const struct sp_otlp_config *cfg;
	struct net_url url;
	struct http_client *client;
	struct sp_retry_policy policy;
	otlp_encode_fn encode;
	struct otlp_headers headers; /* what every request carries */
	struct sp_idgen rng;     /* retry jitter; the export thread's own */
	uint64_t seen[SEEN_MAX]; /* hashes of causes already logged */
	size_t n_seen;
	bool failing;            /* the last export lost spans */
	struct diskq *queue;     /* --queue-dir; NULL: off */
	int64_t queue_next_ms;   /* when to try the collector again */
	unsigned queue_retry;
	struct export_health health; /* outcomes, for metrics and readiness */
};

/* One request body: a run of the batch's spans. */
struct part {
	size_t first, count;
	uint8_t *wire;
	size_t raw_len, wire_len;
	bool gzip, pending;
	bool queued; /* read from the disk queue: stays there unless settled */
	struct http_header headers[SP_OTLP_MAX_HEADERS + EXTRA_HEADERS];
	char grpc_timeout[24];
	struct sp_attempt last;
	char why[320];
};

/* Log `msg` unless this cause was already logged since the last recovery. */
static void log_once(struct otlp *o, const char *msg)
{
	uint64_t h = fnv1a(FNV1A_START, msg, strlen(msg));

	for (size_t i = 0; i < o->n_seen; i++)
		if (o->seen[i] == h)
			return;
	if (o->n_seen == SEEN_MAX)
		o->n_seen = 0; /* forget the oldest causes: a repeat is logged again */
	o->seen[o->n_seen++] = h;
	sp_warn("%s", msg);
}

/* Encode spans[first, first+count) into p->wire, splitting when too big. */
static int encode_parts(struct otlp *o, struct sp_span *const *spans,
			size_t first, size_t count, struct part **parts,
			size_t *n, size_t *cap)
{
	uint8_t *raw;
	size_t len;
	int ret;

	ret = o->encode(spans + first, count, &raw, &len);
	if (ret)
		return ret;
	if (len > o->cfg->max_body_bytes && count > 1) {
		free(raw);
		ret = encode_parts(o, spans, first, count / 2, parts, n, cap);
		if (ret)
			return ret;
		return encode_parts(o, spans, first + count / 2, count - count / 2,
				    parts, n, cap);
	}
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct part *grown = realloc(*parts, ncap * sizeof(**parts));

		if (!grown) {
			free(raw);
			return -ENOMEM;
		}
		*parts = grown;
		*cap = ncap;
	}
	memset(&(*parts)[*n], 0, sizeof(**parts));
	(*parts)[*n].first = first;
	(*parts)[*n].count = count;
	(*parts)[*n].wire = raw;
	(*parts)[*n].raw_len = len;
	(*parts)[*n].wire_len = len;
	(*n)++;
	return 0;
}

/* The gRPC prefix, when gRPC. */
static int part_frame(struct otlp *o, struct part *p)
{
	uint8_t *framed;
	int ret;

	if (o->cfg->protocol != SP_OTLP_GRPC)
		return 0;
	framed = malloc(p->wire_len + GRPC_PREFIX);
	if (!framed)
		return -ENOMEM;
	ret = grpc_prefix(framed, p->wire_len, p->gzip);
	if (ret) {
		free(framed);
		return ret;
	}
	memcpy(framed + GRPC_PREFIX, p->wire, p->wire_len);
	free(p->wire);
	p->wire = framed;
	p->wire_len += GRPC_PREFIX;
	return 0;
}

/* gzip when worth it, then the gRPC prefix when gRPC. */
static int part_finish_body(struct otlp *o, struct part *p)
{
	const struct sp_otlp_config *cfg = o->cfg;
	uint8_t *z;
	size_t zlen;
	int ret;

	if (cfg->compression_gzip && p->raw_len >= cfg->gzip_min_bytes) {
		ret = compress_gzip(p->wire, p->raw_len, cfg->gzip_level, &z, &zlen);
		if (ret)
			return ret;
		free(p->wire);
		p->wire = z;
		p->wire_len = zlen;
		p->gzip = true;
	}
	return part_frame(o, p);
}

static const char *content_type(const struct sp_otlp_config *cfg)
{
	switch (cfg->protocol) {
	case SP_OTLP_GRPC:
		return "application/grpc";
	case SP_OTLP_HTTP_JSON:
		return "application/json";
	default:
		return "application/x-protobuf";
	}
}

static void part_request(struct otlp *o, struct part *p, int64_t deadline,
			 struct http_request *rq)
{
	size_t n = o->headers.n;
	bool grpc = o->cfg->protocol == SP_OTLP_GRPC;

	memcpy(p->headers, o->headers.list, n * sizeof(*p->headers));
	if (p->gzip)
		p->headers[n++] = (struct http_header){
			grpc ? "grpc-encoding" : "content-encoding", "gzip"
		};
	if (grpc) {
		int64_t left = deadline - clock_mono_ms();

		snprintf(p->grpc_timeout, sizeof(p->grpc_timeout), "%lldm",
			 (long long)(left > 0 ? left : 1));
		p->headers[n++] = (struct http_header){ "grpc-timeout",
							p->grpc_timeout };
		p->headers[n++] = (struct http_header){ "grpc-accept-encoding",
							"gzip" };
	}
	*rq = (struct http_request){ .content_type = content_type(o->cfg),
				     .headers = p->headers,
				     .n_headers = n,
				     .body = p->wire,
				     .body_len = p->wire_len,
				     .trailers = grpc };
}

/* The answer's message body, gunzipped when the server compressed it. */
static int answer_payload(struct otlp *o, const struct http_response *r,
			  uint8_t **buf, const uint8_t **msg, size_t *len)
{
	bool grpc = o->cfg->protocol == SP_OTLP_GRPC, z;
	size_t out_len;

	*buf = NULL;
	*msg = r->body;
	*len = r->body_len;
	if (grpc) {
		if (grpc_unframe(r->body, r->body_len, msg, len, &z))
			return -EBADMSG;
	} else {
		const char *enc = http_response_field(r, "content-encoding");

		z = enc && strcasecmp(enc, "gzip") == 0;
	}
	if (!z || !*len)
		return 0;
	if (compress_gunzip(*msg, *len, HTTP_BODY_MAX, buf, &out_len))
		return -EBADMSG;
	*msg = *buf;
	*len = out_len;
	return 0;
}

static void classify_grpc(struct otlp *o, const struct http_response *r,
			  struct part *p)
{
	struct sp_attempt *a = &p->last;
	struct grpc_status st;
	int64_t ms;

	a->kind = SP_ATTEMPT_GRPC;
	grpc_status_read(r, &st);
	if (r->status != 200) {
		a->grpc_status = retry_grpc_from_http(r->status);
		snprintf(p->why, sizeof(p->why), "HTTP %d on gRPC call", r->status);
	} else if (st.code < 0) {
		a->kind = SP_ATTEMPT_PROTOCOL;
		snprintf(p->why, sizeof(p->why), "answer without grpc-status");
		return;
	} else {
		a->grpc_status = st.code;
		if (st.details[0] &&
		    grpc_retry_info(st.details, &ms, NULL, 0) == 0) {
			a->has_retry_info = true;
			a->server_delay_ms = ms;
		}
		snprintf(p->why, sizeof(p->why), "gRPC status %d (%s)%s%s",
			 a->grpc_status, export_grpc_code_name(a->grpc_status),
			 st.message[0] ? ": " : "", st.message);
	}
	if (a->grpc_status == SP_GRPC_OK)
		a->kind = SP_ATTEMPT_OK;
	(void)o;
}

static void classify_http(struct otlp *o, const struct http_response *r,
			  struct part *p)
{
	struct sp_attempt *a = &p->last;
	const char *retry_after = http_response_field(r, "retry-after");
	char detail[200];
	uint8_t *buf;
	const uint8_t *msg;
	size_t len;

	if (r->status >= 200 && r->status < 300) {
		a->kind = SP_ATTEMPT_OK;
		return;
	}
	a->kind = SP_ATTEMPT_HTTP;
	a->http_status = r->status;
	if (retry_after && retry_after[0] &&
	    retry_parse_after(retry_after, time(NULL), &a->server_delay_ms))
		a->server_delay_ms = -1;
	detail[0] = '\0';
	if (answer_payload(o, r, &buf, &msg, &len) == 0) {
		otlp_response_error_message(msg, len,
					    http_response_field(r, "content-type"),
					    detail, sizeof(detail));
		free(buf);
	}
	snprintf(p->why, sizeof(p->why), "HTTP %d%s%s", r->status,
		 *detail ? ": " : "", detail);
}

static void classify_response(struct otlp *o, const struct http_response *r,
			      struct part *p)
{
	struct sp_attempt *a = &p->last;

	memset(a, 0, sizeof(*a));
	a->server_delay_ms = -1;
	p->why[0] = '\0';
	if (r->error) {
		a->kind = r->error == -ETIMEDOUT ? SP_ATTEMPT_TIMEOUT :
			  r->error == -EPROTO    ? SP_ATTEMPT_PROTOCOL :
						   SP_ATTEMPT_LOST;
		if (r->error == -ETIMEDOUT)
			snprintf(p->why, sizeof(p->why),
				 "%s within the export timeout (%u ms)",
				 r->sent ? "no answer" : "not sent",
				 o->cfg->timeout_ms);
		else if (r->error == -EPROTO)
			snprintf(p->why, sizeof(p->why),
				 "unreadable answer or failed TLS handshake");
		else if (r->error == -ETIME)
			snprintf(p->why, sizeof(p->why), "connection failed:"
				 " not made within the connect timeout (%u ms)",
				 (unsigned)o->cfg->connect_timeout_ms);
		else
			snprintf(p->why, sizeof(p->why), "connection failed: %s",
				 strerror(-r->error));
		return;
	}
	if (o->cfg->protocol == SP_OTLP_GRPC)
		classify_grpc(o, r, p);
	else
		classify_http(o, r, p);
}

/* Every attempt's outcome is counted, by status, and kept for readiness. */
static void classify(struct otlp *o, const struct http_response *r,
		     struct part *p)
{
	classify_response(o, r, p);
	export_health_note(&o->health, &p->last, p->why);
}

/* Delivered: count it, minus what partial_success says was rejected. */
static void part_delivered(struct otlp *o, struct sp_export_stats *st,
			   const struct http_response *r, struct part *p)
{
	char msg[256] = "", line[640];
	uint8_t *buf;
	const uint8_t *body;
	size_t len;
	int64_t rejected = 0;

	if (answer_payload(o, r, &buf, &body, &len) == 0) {
		otlp_response_partial(body, len,
				      o->cfg->protocol == SP_OTLP_HTTP_JSON,
				      &rejected, msg, sizeof(msg));
		free(buf);
	}
	if (rejected < 0 || (uint64_t)rejected > p->count)
		rejected = (int64_t)p->count;
	counter_add(&st->spans_exported, p->count - (size_t)rejected);
	counter_add(&st->spans_failed, (uint64_t)rejected);
	if (rejected || msg[0]) {
		snprintf(line, sizeof(line), "export: %s accepted part of a batch"
			 " (%s): %s", o->url.authority,
			 rejected ? "spans rejected" : "warning",
			 msg[0] ? msg : "no message");
		log_once(o, line);
	}
}

/* Not delivered: count the part's spans in `counter`, say why once. */
static void part_lost(struct otlp *o, uint64_t *counter, struct part *p,
		      const char *how, const char *fate)
{
	char line[1024];

	counter_add(counter, p->count);
	snprintf(line, sizeof(line), "export: %s to %s: %s; %s", how,
		 o->url.authority, p->why, fate);
	log_once(o, line);
}

static void part_failed(struct otlp *o, struct sp_export_stats *st,
			struct part *p, const char *how)
{
	part_lost(o, &st->spans_failed, p, how, "spans dropped");
}

/* Sooner of the export's own deadline and the shutdown deadline. */
static int64_t export_deadline(const struct otlp *o, int64_t deadline)
{
	int64_t cutoff = http_client_cutoff(o->client);

	return cutoff < deadline ? cutoff : deadline;
}

static bool cutoff_passed(const struct otlp *o)
{
	return clock_mono_ms() >= http_client_cutoff(o->client);
}

static void part_queue(struct otlp *o, struct sp_export_stats *st,
		       struct part *p, const char *how);

/*
 * Not sent, and no time left for it: to the disk queue when there is one
 * (a restart sends it), else counted, as cut off by the shutdown deadline
 * or failed.
 */
static void part_give_up(struct otlp *o, struct sp_export_stats *st,
			 struct part *p, bool cut, const char *how)
{
	if (cut && !o->queue)
		part_lost(o, &st->spans_cut_off, p, how, "spans not sent");
	else
		part_queue(o, st, p, how);
	p->pending = false;
}

/*
 * What one round left undelivered: counted, or kept (true): for a retry,
 * for give_up() (not sent by the export's deadline: it gives up every
 * part left in order, so that the disk queue keeps the batch's order), or,
 * read from the disk queue, to stay at its head.
 */
static bool part_settle(struct otlp *o, struct sp_export_stats *st,
			struct part *p, bool sent, bool cut)
{
	bool timeout = p->last.kind == SP_ATTEMPT_TIMEOUT;

	/* Sent and unanswered: the collector may well have the spans. */
	if (timeout && sent)
		part_lost(o, &st->spans_timed_out, p, "export timed out",
			  "outcome unknown");
	else if (!timeout && !retry_is_retryable(&p->last))
		part_failed(o, st, p, "export failed");
	else if (p->queued || !cut)
		return true;
	else
		part_give_up(o, st, p, true, "shutdown deadline reached");
	p->pending = false;
	return false;
}

/* One round: send every pending part; returns the wait the retries want. */
static int64_t send_round(struct otlp *o, struct sp_export_stats *st,
			  struct part *parts, size_t n, unsigned retry,
			  int64_t deadline, size_t *left)
{
	struct http_request rq[n];
	struct http_response rs[n];
	struct part *sent[n];
	struct http_client_stats before, after;
	size_t k = 0;
	int64_t wait = 0, d;
	bool cut;

	memset(rq, 0, sizeof(rq)); /* gcc cannot see that k parts are set */
	otlp_headers_refresh(&o->headers, clock_mono_ms());
	for (size_t i = 0; i < n; i++) {
		if (!parts[i].pending)
			continue;
		part_request(o, &parts[i], deadline, &rq[k]);
		memset(&rs[k], 0, sizeof(rs[k]));
		counter_add(&st->bytes_raw, parts[i].raw_len);
		sent[k++] = &parts[i];
	}
	http_client_get_stats(o->client, &before);
	http_client_roundtrip(o->client, rq, rs, k, deadline);
	http_client_get_stats(o->client, &after);
	/* What reached a socket, not what we meant to send. */
	counter_add(&st->bytes_sent, after.bytes_written - before.bytes_written);
	cut = cutoff_passed(o);
	*left = 0;
	for (size_t i = 0; i < k; i++) {
		struct part *p = sent[i];

		classify(o, &rs[i], p);
		if (p->last.kind == SP_ATTEMPT_OK) {
			part_delivered(o, st, &rs[i], p);
			p->pending = false;
		} else if (part_settle(o, st, p, rs[i].sent, cut)) {
			d = retry_delay_ms(&o->policy, retry, &p->last,
					   (uint32_t)(idgen_next(&o->rng) >> 32));
			wait = d > wait ? d : wait;
			(*left)++;
			sp_debug("export: %s: %s; retrying in %lld ms",
				 o->url.authority, p->why, (long long)d);
		}
		http_response_reset(&rs[i]);
	}
	return wait;
}

/* No retry fits: every part still pending is given up. */
static void give_up(struct otlp *o, struct sp_export_stats *st,
		    struct part *parts, size_t n, bool cut)
{
	const char *how = cut ? "shutdown deadline reached while retrying"
			      : "export timeout reached while retrying";

	for (size_t i = 0; i < n; i++)
		if (parts[i].pending)
			part_give_up(o, st, &parts[i], cut, how);
}

/*
 * Not taken, but not refused for good: to the disk queue, if there is one
 * (`how` the failure logged, NULL when the part only follows queued ones).
 */
static void part_queue(struct otlp *o, struct sp_export_stats *st,
		       struct part *p, const char *how)
{
	size_t skip = o->cfg->protocol == SP_OTLP_GRPC ? GRPC_PREFIX : 0;
	const char *failure = how ? how : "export";
	char line[1024];
	int ret;

	p->pending = false;
	if (!o->queue) {
		part_failed(o, st, p, failure);
		return;
	}
	ret = otlp_queue_put(o->queue, o->cfg, p->wire + skip, p->wire_len - skip,
			     p->gzip, (uint32_t)p->count);
	if (ret == -E2BIG) {
		sp_warn_once("export: a batch larger than --queue-max-bytes was"
			     " dropped (counted in the queue's drops)");
	} else if (ret) {
		snprintf(p->why + strlen(p->why), sizeof(p->why) - strlen(p->why),
			 "%sthe disk queue failed: %s", p->why[0] ? "; " : "",
			 strerror(-ret));
		part_failed(o, st, p, failure);
		return;
	}
	if (!how)
		return;
	snprintf(line, sizeof(line), "export: %s to %s: %s; batches kept in %s",
		 how, o->url.authority, p->why, o->cfg->queue_dir);
	log_once(o, line);
	o->failing = true;
	/* It just failed: the queue waits before trying again. */
	o->queue_next_ms = clock_mono_ms() + o->cfg->retry_initial_ms;
}

/*
 * Does a retry after `wait` ms, like the last try (`took` ms), fit before
 * the deadline and the shutdown's?  0 when it does; else every part still
 * pending is given up, and -ECANCELED (the shutdown's deadline came
 * first) or -ETIMEDOUT.
 */
static int retry_room(struct otlp *o, struct sp_export_stats *st,
		      struct part *parts, size_t n, int64_t wait, int64_t took,
		      int64_t deadline)
{
	int64_t now = clock_mono_ms();
	bool cut;

	if (retry_fits(now, wait, took, export_deadline(o, deadline)))
		return 0;
	cut = retry_fits(now, wait, took, deadline);
	give_up(o, st, parts, n, cut);
	return cut ? -ECANCELED : -ETIMEDOUT;
}

static int otlp_send_parts(struct otlp *o, struct sp_export_stats *st,
			   struct part *parts, size_t n, int64_t deadline)
{
	size_t left = n;
	int64_t wait, took;
	int ret;

	for (unsigned retry = 0; left; retry++) {
		took = clock_mono_ms();
		wait = send_round(o, st, parts, n, retry,
				  export_deadline(o, deadline), &left);
		if (!left)
			break;
		took = clock_mono_ms() - took;
		ret = retry_room(o, st, parts, n, wait, took, deadline);
		if (ret)
			return ret;
		http_client_pause(o->client, clock_mono_ms() + wait);
		/* Again: a shutdown during the pause brings its deadline closer. */
		ret = retry_room(o, st, parts, n, 0, took, deadline);
		if (ret)
			return ret;
		counter_add(&st->requests_retried, left);
	}
	return 0;
}

/*
 * Send the oldest queued batch, once.  Returns 0 when it left the queue
 * (*delivered, or refused for good and counted), -EAGAIN when it is to be
 * tried again later (not sent, or refused for now: it stays at the head),
 * -ENOENT when the queue is empty, or another -errno.
 */
static int queue_send_one(struct otlp *o, struct sp_export_stats *st,
			  bool *delivered)
{
	struct diskq_record rec;
	struct part p = { .pending = true, .queued = true };
	size_t left = 0;
	int ret;

	ret = diskq_peek(o->queue, &rec);
	if (ret)
		return ret;
	p.count = rec.spans;
	ret = otlp_queue_body(o->cfg, &rec, &p.wire, &p.wire_len, &p.gzip);
	if (ret == -EPROTO || ret == -EBADMSG) {
		snprintf(p.why, sizeof(p.why), "a batch in %s was queued for another"
			 " protocol or does not decompress", o->cfg->queue_dir);
		part_failed(o, st, &p, "queued batch not sent");
		return diskq_pop(o->queue);
	}
	p.raw_len = p.wire_len;
	if (!ret)
		ret = part_frame(o, &p);
	if (!ret)
		ret = diskq_mark_sending(o->queue, true);
	if (!ret)
		send_round(o, st, &p, 1, o->queue_retry,
			   clock_mono_ms() + o->cfg->timeout_ms, &left);
	free(p.wire);
	if (ret)
		return ret;
	if (left) {
		char line[1024];

		/* Said once per cause until the collector takes spans again. */
		snprintf(line, sizeof(line), "export: %s: %s; the disk queue keeps"
			 " its oldest batch for a later try", o->url.authority, p.why);
		log_once(o, line);
		diskq_mark_sending(o->queue, false);
		o->queue_next_ms = clock_mono_ms() +
			retry_delay_ms(&o->policy, o->queue_retry++, &p.last,
				       (uint32_t)(idgen_next(&o->rng) >> 32));
		return -EAGAIN;
	}
	o->queue_retry = 0;
	*delivered = p.last.kind == SP_ATTEMPT_OK;
	return diskq_pop(o->queue);
}

/* Send queued batches, oldest first, for at most QUEUE_SLICE_MS. */
static void queue_drain(struct otlp *o, struct sp_export_stats *st)
{
	int64_t end = clock_mono_ms() + QUEUE_SLICE_MS;
	bool sent = false, delivered;
	int ret = 0;

	if (!o->queue)
		return;
	while (clock_mono_ms() >= o->queue_next_ms && clock_mono_ms() < end) {
		delivered = false;
		ret = queue_send_one(o, st, &delivered);
		if (ret)
			break;
		sent |= delivered;
	}
	if (ret && ret != -EAGAIN && ret != -ENOENT) {
		sp_warn_once("export: reading the disk queue in %s failed: %s",
			     o->cfg->queue_dir, strerror(-ret));
		o->queue_next_ms = clock_mono_ms() + o->cfg->retry_max_ms;
	}
	if (sent && diskq_empty(o->queue) && o->failing) {
		sp_warn("export: %s accepts spans again; disk queue sent",
			o->url.authority);
		o->failing = false;
		o->n_seen = 0;
	}
}

/* Spans counted as not delivered, whatever the reason. */
static uint64_t spans_lost(const struct sp_export_stats *st)
{
	return counter_get(&st->spans_failed) + counter_get(&st->spans_timed_out) +
	       counter_get(&st->spans_cut_off);
}

static int otlp_export(struct sp_exporter *exp, struct sp_span *const *spans,
		       size_t count)
{
	struct otlp *o = exp->state;
	int64_t deadline = clock_mono_ms() + o->cfg->timeout_ms;
	uint64_t lost_before = spans_lost(&exp->stats);
	struct part *parts = NULL;
	size_t n = 0, cap = 0;
	int ret;

	if (!count)
		return 0;
	ret = encode_parts(o, spans, 0, count, &parts, &n, &cap);
	for (size_t i = 0; !ret && i < n; i++) {
		ret = part_finish_body(o, &parts[i]);
		parts[i].pending = true;
	}
	if (ret) {
		counter_add(&exp->stats.spans_failed, count);
		sp_warn_once("export: out of memory encoding a batch; %zu spans"
			     " dropped", count);
	} else if (o->queue && !diskq_empty(o->queue)) {
		/* Behind the queued batches, so the order is kept. */
		for (size_t i = 0; i < n; i++)
			part_queue(o, &exp->stats, &parts[i], NULL);
	} else {
		ret = otlp_send_parts(o, &exp->stats, parts, n, deadline);
	}
	for (size_t i = 0; i < n; i++)
		free(parts[i].wire);
	free(parts);
	queue_drain(o, &exp->stats);
	if (o->queue && !diskq_empty(o->queue))
		return -EAGAIN;
	if (spans_lost(&exp->stats) != lost_before) {
		o->failing = true;
		return ret ? ret : -EIO;
	}
	if (o->failing) {
		sp_warn("export: %s accepts spans again", o->url.authority);
		o->failing = false;
		o->n_seen = 0; /* a new outage is worth a new line */
	}
	return 0;
}

/* Only the disk queue is kept between calls: send some, sync the rest. */
static int otlp_flush(struct sp_exporter *exp)
{
	struct otlp *o = exp->state;

	if (!o->queue)
		return 0;
	queue_drain(o, &exp->stats);
	return diskq_sync(o->queue);
}

static void otlp_idle(struct sp_exporter *exp)
{
	struct otlp *o = exp->state;

	if (!o->queue)
		return;
	queue_drain(o, &exp->stats);
	diskq_sync(o->queue); /* the last group of appends, when writes stop */
}

static void otlp_set_deadline(struct sp_exporter *exp, int64_t deadline_ms)
{
	struct otlp *o = exp->state;

	http_client_set_cutoff(o->client, deadline_ms);
}

static void otlp_destroy(struct sp_exporter *exp)
{
	struct otlp *o;

	if (!exp)
		return;
	o = exp->state;
	if (o) {
		http_client_destroy(o->client);
		diskq_close(o->queue);
		otlp_headers_close(&o->headers);
		export_health_destroy(&o->health);
		free(o);
	}
	free(exp);
}

static const struct sp_exporter_ops otlp_ops = {
	.name = "otlp",
	.export_spans = otlp_export,
	.flush = otlp_flush,
	.idle = otlp_idle,
	.set_deadline = otlp_set_deadline,
	.destroy = otlp_destroy,
};

void otlp_exporter_set_encoder(struct sp_exporter *exp, otlp_encode_fn encode)
{
	struct otlp *o = exp->state;

	o->encode = encode;
}

int otlp_exporter_queue_stats(const struct sp_exporter *exp,
			      struct diskq_stats *out)
{
	const struct otlp *o = exp->state;

	if (!o->queue)
		return -ENOENT;
	diskq_get_stats(o->queue, out);
	return 0;
}

void otlp_exporter_health(const struct sp_exporter *exp,
			  struct export_health_snap *out)
{
	struct otlp *o = exp->state;

	export_health_get(&o->health, out);
}

void otlp_exporter_http_stats(const struct sp_exporter *exp,
			      struct http_client_stats *out)
{
	const struct otlp *o = exp->state;

	http_client_get_stats(o->client, out);
}

static const char *protocol_name(enum sp_otlp_protocol p)
{
	return p == SP_OTLP_GRPC ? "grpc" :
	       p == SP_OTLP_HTTP_JSON ? "http/json" : "http/protobuf";
}

static int otlp_setup(struct otlp *o, const struct sp_otlp_config *cfg)
{
	struct http_client_options opts = { 0 };
	char url[sizeof(o->url.authority) + sizeof(o->url.path) + 8];
	int ret;
	static const enum http_version_pref pref[] = {
		[SP_HTTP_AUTO] = HTTP_PREF_AUTO,
		[SP_HTTP_2] = HTTP_PREF_2,
		[SP_HTTP_1_1] = HTTP_PREF_1_1,
	};

	o->cfg = cfg;
	export_health_init(&o->health);
	if (!cfg->endpoint.host[0]) {
		sp_err("export: no endpoint: the OTLP settings were not finished");
		return -EINVAL;
	}
	o->url = cfg->endpoint;
	if (cfg->protocol == SP_OTLP_GRPC)
		snprintf(o->url.path, sizeof(o->url.path), "%s", GRPC_PATH);
	/* Protobuf is always the hand-written encoder: see otlp_pb_fast.h. */
	o->encode = cfg->protocol == SP_OTLP_HTTP_JSON ? otlp_encode_json :
							  otlp_encode_protobuf_fast;
	o->policy = (struct sp_retry_policy){ .initial_ms = cfg->retry_initial_ms,
					      .max_ms = cfg->retry_max_ms,
					      .multiplier_x10 = 15 };
	/*
	 * Not the assembly thread's generator: ids.h wants one per thread,
	 * and this one is used only by the export thread.
	 */
	ret = idgen_init(&o->rng);
	if (ret)
		return ret;
	ret = otlp_headers_open(&o->headers, cfg);
	if (ret)
		return ret;
	opts.url = &o->url;
	opts.version = cfg->protocol == SP_OTLP_GRPC ? HTTP_PREF_2 :
						       pref[cfg->http_version];
	opts.connections = cfg->connections;
	opts.ca_file = cfg->ca_file;
	opts.cert_file = cfg->client_cert_file;
	opts.key_file = cfg->client_key_file;
	opts.tls_check_ms = cfg->reload_check_ms;
	opts.user_agent = "spanprobe/" SP_VERSION;
	opts.connect_timeout_ms = (int)cfg->connect_timeout_ms;
	o->client = http_client_create(&opts);
	if (!o->client)
		return -errno;
	o->queue = otlp_queue_open(cfg);
	if (!o->queue && errno)
		return -errno;
	sp_info("export: OTLP %s to %s (%s, %u connection%s%s%s)",
		protocol_name(cfg->protocol),
		url_format(&cfg->endpoint, url, sizeof(url)),
		cfg->compression_gzip ? "gzip" : "no compression",
		cfg->connections, cfg->connections == 1 ? "" : "s",
		o->url.tls && cfg->client_cert_file ? ", client certificate" : "",
		cfg->headers_file ? ", headers file" : "");
	return 0;
}

struct sp_exporter *otlp_exporter_create(const struct sp_otlp_config *cfg)
{
	struct sp_exporter *exp = calloc(1, sizeof(*exp));
	struct otlp *o = calloc(1, sizeof(*o));
	int ret;

	if (!exp || !o) {
		free(exp);
		free(o);
		errno = ENOMEM;
		return NULL;
	}
	exp->ops = &otlp_ops;
	exp->state = o;
	ret = otlp_setup(o, cfg);
	if (ret) {
		otlp_destroy(exp);
		errno = -ret;
		return NULL;
	}
	return exp;
}
