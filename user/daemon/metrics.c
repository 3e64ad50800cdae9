// SPDX-License-Identifier: MIT
/*
 * /metrics, /healthz and /readyz.  The counters are the self-report's
 * (daemon/report.c) and the gauges what the reader thread can see at one
 * moment; the server thread never touches the stages themselves, only the
 * copy kept here under a lock, and the kernel's program statistics.
 */
#include "daemon/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assemble/exchange.h"
#include "capture/tlscap.h"
#include "daemon/httpserve.h"
#include "export/otlp_exporter.h"
#include "util/clock.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct httpserve *server;
	pthread_mutex_t lock;
	struct metrics_values v;  /* the last copy; under the lock */
	enum metrics_phase phase; /* under the lock */
	char hooks[16];           /* under the lock */
	int64_t last_round_ms;    /* atomic */
	int64_t next_copy_ms;     /* the reader thread's */
	uint64_t start_time_ms;
};

/* --- the exposition format -------------------------------------------- */

void metrics_add_label_value(struct sp_strbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			strbuf_adds(b, "\\\\");
		else if (*s == '"')
			strbuf_adds(b, "\\\"");
		else if (*s == '\n')
			strbuf_adds(b, "\\n");
		else
			strbuf_addc(b, *s);
	}
}

/* # HELP and # TYPE of a family (help texts are ours: no \ or newline). */
static void family(struct sp_strbuf *b, const char *name, const char *type,
		   const char *help)
{
	strbuf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct sp_strbuf *b, const char *name, uint64_t value)
{
	strbuf_addf(b, "%s %llu\n", name, (unsigned long long)value);
}

static void sample_label(struct sp_strbuf *b, const char *name, const char *key,
			 const char *label, uint64_t value)
{
	strbuf_addf(b, "%s{%s=\"", name, key);
	metrics_add_label_value(b, label);
	strbuf_addf(b, "\"} %llu\n", (unsigned long long)value);
}

/* A family of one sample without labels. */
static void single(struct sp_strbuf *b, const char *name, const char *type,
		   const char *help, uint64_t value)
{
	family(b, name, type, help);
	sample(b, name, value);
}

struct single {
	const char *name, *type, *help;
	uint64_t value;
};

static void singles(struct sp_strbuf *b, const struct single *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		single(b, s[i].name, s[i].type, s[i].help, s[i].value);
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

struct labelled {
	const char *label;
	uint64_t value;
};

static void labelled(struct sp_strbuf *b, const char *name, const char *help,
		     const char *key, const struct labelled *l, size_t n)
{
	family(b, name, "counter", help);
	for (size_t i = 0; i < n; i++)
		sample_label(b, name, key, l[i].label, l[i].value);
}

static void format_spans(struct sp_strbuf *b, const struct report_values *r)
{
	const struct sp_pipeline_stats *st = &r->pipe;
	const struct labelled dropped[] = {
		{ "export_failed", r->exp.spans_failed },
		{ "export_timed_out", r->exp.spans_timed_out },
		{ "queue_full", r->batch.dropped_queue_full },
		{ "shutdown", r->batch.dropped_at_shutdown + r->exp.spans_cut_off },
		{ "pool_empty", st->pool_empty },
		{ "thread_table_full", st->threads_full },
		{ "too_deep", st->depth_exceeded },
		{ "unfinished", st->discarded },
		{ "never_returned", st->abandoned },
		{ "open_at_exit", st->open_at_exit },
		{ "no_exporter", r->exp.spans_discarded },
	};

	const struct single spans[] = {
		{ "spanprobe_spans_started_total", "counter",
		  "Spans started (function calls, HTTP requests).", st->spans_started },
		{ "spanprobe_spans_finished_total", "counter",
		  "Spans finished and handed to the exporter's queue.", st->spans_finished },
		{ "spanprobe_spans_exported_total", "counter",
		  "Spans the collector accepted or the console wrote.", r->exp.spans_exported },
		{ "spanprobe_spans_not_sampled_total", "counter",
		  "Spans left out by the sampler.", st->spans_not_sampled },
		{ "spanprobe_spans_filtered_total", "counter",
		  "Spans outside --pid, --exe, --cgroup or --port.", st->filtered },
	};

	singles(b, spans, N_OF(spans));
	labelled(b, "spanprobe_spans_dropped_total",
		 "Spans not exported (or never started), by reason.", "reason",
		 dropped, N_OF(dropped));
}

static void format_events(struct sp_strbuf *b, const struct report_values *r)
{
	const uint64_t *d = r->drops;
	const struct labelled bpf[] = {
		{ "read_failed", d[SP_DROP_READ_FAILED] },
		{ "map_full", d[SP_DROP_MAP_FULL] },
		{ "sock_unknown_call", d[SP_DROP_SOCK_UNKNOWN_CALL] },
		{ "tls_no_socket", d[SP_DROP_TLS_NO_SOCKET] },
		{ "h2_frames_cut", d[SP_DROP_H2_CUT] },
		{ "h2_walk_lost", d[SP_DROP_H2_LOST] },
	};

	const struct single records[] = {
		{ "spanprobe_records_bad_total", "counter",
		  "Ring-buffer records refused as malformed.", r->bad_records },
		{ "spanprobe_returns_unmatched_total", "counter",
		  "Function returns whose entry was never seen.", r->pipe.unmatched_returns },
	};

	single(b, "spanprobe_ringbuf_lost_total", "counter",
	       "Ring-buffer records lost (the buffer was full).", d[SP_DROP_RINGBUF_FULL]);
	labelled(b, "spanprobe_bpf_drops_total",
		 "What the BPF programs could not capture, by reason.", "reason",
		 bpf, N_OF(bpf));
	singles(b, records, N_OF(records));
}

static void add_status(void *ctx, const char *status, uint64_t count)
{
	sample_label(ctx, "spanprobe_export_requests_total", "status", status, count);
}

static void format_export(struct sp_strbuf *b, const struct metrics_values *v)
{
	const struct report_values *r = &v->report;
	const struct single export[] = {
		{ "spanprobe_export_retries_total", "counter",
		  "Export requests sent again after a retryable failure.",
		  r->exp.requests_retried },
		{ "spanprobe_export_encoded_bytes_total", "counter",
		  "Bytes of encoded spans, before compression.", r->exp.bytes_raw },
		{ "spanprobe_export_sent_bytes_total", "counter",
		  "Bytes that reached a socket or the output file.", r->exp.bytes_sent },
		{ "spanprobe_export_queue_spans", "gauge",
		  "Spans waiting for export or being exported.", v->queue_spans },
		{ "spanprobe_export_queue_capacity_spans", "gauge",
		  "Spans the export queue holds (OTEL_BSP_MAX_QUEUE_SIZE).", v->queue_capacity },
	};
	const struct single disk[] = {
		{ "spanprobe_disk_queue_bytes", "gauge",
		  "Bytes of batches waiting in --queue-dir.", v->disk_queue_bytes },
		{ "spanprobe_disk_queue_budget_bytes", "gauge",
		  "The disk queue's budget (--queue-max-bytes).", v->disk_queue_budget },
		{ "spanprobe_disk_queue_batches", "gauge",
		  "Batches waiting in --queue-dir.", v->disk_queue_batches },
		{ "spanprobe_disk_queue_spans", "gauge",
		  "Spans waiting in --queue-dir.", v->disk_queue_spans },
	};

	if (v->otlp) {
		family(b, "spanprobe_export_requests_total", "counter",
		       "Export requests by outcome: ok, the HTTP status or gRPC code, "
		       "timeout, connection_failed, protocol_error.");
		export_health_each(&v->export, add_status, b);
	}
	singles(b, export, N_OF(export));
	family(b, "spanprobe_export_queue_fill_ratio", "gauge",
	       "Spans waiting over the queue's capacity.");
	strbuf_addf(b, "spanprobe_export_queue_fill_ratio %.6f\n",
		    v->queue_capacity ? (double)v->queue_spans / v->queue_capacity : 0.0);
	if (v->disk_queue)
		singles(b, disk, N_OF(disk));
}

static void format_bpf(struct sp_strbuf *b, const struct metrics_bpf *bpf)
{
	single(b, "spanprobe_bpf_stats_enabled", "gauge",
	       "1 when the kernel counts the run time of BPF programs.",
	       bpf->enabled);
	if (!bpf->enabled || bpf->n_progs <= 0)
		return;
	family(b, "spanprobe_bpf_run_time_seconds_total", "counter",
	       "Time spent in spanprobe's BPF programs, by program.");
	for (int i = 0; i < bpf->n_progs; i++) {
		uint64_t ns = bpf->progs[i].run_time_ns;

		strbuf_adds(b, "spanprobe_bpf_run_time_seconds_total{program=\"");
		metrics_add_label_value(b, bpf->progs[i].name);
		strbuf_addf(b, "\"} %llu.%09llu\n", (unsigned long long)(ns / 1000000000),
			    (unsigned long long)(ns % 1000000000));
	}
	family(b, "spanprobe_bpf_runs_total", "counter",
	       "Runs of spanprobe's BPF programs, by program.");
	for (int i = 0; i < bpf->n_progs; i++)
		sample_label(b, "spanprobe_bpf_runs_total", "program", bpf->progs[i].name,
			     bpf->progs[i].run_cnt);
}

void metrics_format(struct sp_strbuf *b, const struct metrics_values *v,
		    const struct metrics_info *info, const struct metrics_bpf *bpf,
		    const struct httpserve_stats *server)
{
	const struct single served[] = {
		{ "spanprobe_metrics_requests_total", "counter",
		  "Requests this metrics server answered (this one not yet).",
		  server->requests },
		{ "spanprobe_metrics_bad_requests_total", "counter",
		  "Requests it refused (4xx, 5xx) for what the client sent.",
		  server->bad_requests },
		{ "spanprobe_metrics_timeouts_total", "counter",
		  "Connections closed without a whole request head: the time limit passed,"
		  " or a newer connection took the slot.",
		  server->timeouts },
	};

	format_spans(b, &v->report);
	format_events(b, &v->report);
	format_export(b, v);
	single(b, "spanprobe_processes", "gauge",
	       "Processes whose resource spanprobe keeps.", v->processes);
	if (v->http)
		single(b, "spanprobe_connections", "gauge",
		       "Connections HTTP capture tracks.", v->connections);
	single(b, "spanprobe_tls_connections_not_decrypted_total", "counter",
	       "TLS connections of processes whose TLS library is not probed.",
	       v->tls_not_decrypted);
	format_bpf(b, bpf);
	family(b, "spanprobe_build_info", "gauge", "The version and HTTP capture hooks.");
	strbuf_adds(b, "spanprobe_build_info{version=\"");
	metrics_add_label_value(b, info->version);
	strbuf_adds(b, "\",hooks=\"");
	metrics_add_label_value(b, info->hooks);
	strbuf_adds(b, "\"} 1\n");
	family(b, "process_start_time_seconds", "gauge",
	       "Start time of the process since the Unix epoch, in seconds.");
	strbuf_addf(b, "process_start_time_seconds %llu.%03llu\n",
		    (unsigned long long)(info->start_time_ms / 1000),
		    (unsigned long long)(info->start_time_ms % 1000));
	singles(b, served, N_OF(served));
}

/* --- health ---------------------------------------------------------------- */

int metrics_readiness(enum metrics_phase phase, const struct metrics_values *v,
		      char *why, size_t size)
{
	const struct export_health_snap *e = &v->export;

	if (phase == METRICS_STARTING) {
		snprintf(why, size, "starting: the probes are not attached yet");
		return 503;
	}
	if (phase == METRICS_STOPPING) {
		snprintf(why, size, "stopping");
		return 503;
	}
	if (v->otlp && e->failures_in_row && e->unreachable) {
		snprintf(why, size, "collector unreachable: %s", e->last_error);
		return 503;
	}
	if (v->otlp && e->failures_in_row >= METRICS_READY_FAILURES) {
		snprintf(why, size, "export failing: %llu requests in a row; last: %s",
			 (unsigned long long)e->failures_in_row, e->last_error);
		return 503;
	}
	snprintf(why, size, "ok");
	return 200;
}

int metrics_liveness(enum metrics_phase phase, int64_t last_round_ms, int64_t now_ms,
		     char *why, size_t size)
{
	if (phase == METRICS_RUNNING && now_ms - last_round_ms > METRICS_STALL_MS) {
		snprintf(why, size, "the reader loop has not gone round for %lld ms",
			 (long long)(now_ms - last_round_ms));
		return 503;
	}
	snprintf(why, size, "ok");
	return 200;
}

/* --- the server's side ------------------------------------------------------ */

static void serve_metrics(struct metrics *m, struct httpserve_response *r)
{
	struct metrics_values *v = malloc(sizeof(*v));
	struct progstat progs[PROGSTATS_MAX];
	struct metrics_bpf bpf = { .progs = progs };
	struct metrics_info info = { .version = SP_VERSION,
				     .start_time_ms = m->start_time_ms };
	char hooks[sizeof(m->hooks)];
	struct httpserve_stats served;

	if (!v) {
		r->status = 503;
		strbuf_adds(&r->body, "out of memory\n");
		return;
	}
	pthread_mutex_lock(&m->lock);
	*v = m->v;
	memcpy(hooks, m->hooks, sizeof(hooks));
	pthread_mutex_unlock(&m->lock);
	info.hooks = hooks;
	/* The sysctl shows only what was written to it: a process holding a
	 * BPF_ENABLE_STATS descriptor turns the counting on unseen there. */
	bpf.n_progs = progstats_read(progs, PROGSTATS_MAX);
	bpf.enabled = progstats_enabled();
	for (int i = 0; i < bpf.n_progs && !bpf.enabled; i++)
		bpf.enabled = progs[i].run_cnt != 0;
	httpserve_get_stats(m->server, &served);
	r->content_type = PROM_CONTENT_TYPE;
	metrics_format(&r->body, v, &info, &bpf, &served);
	free(v);
}

static void serve_health(struct metrics *m, bool ready, struct httpserve_response *r)
{
	struct metrics_values *v = ready ? malloc(sizeof(*v)) : NULL;
	enum metrics_phase phase;
	char why[400];

	if (ready && !v) {
		r->status = 503;
		strbuf_adds(&r->body, "out of memory\n");
		return;
	}
	pthread_mutex_lock(&m->lock);
	phase = m->phase;
	if (v)
		*v = m->v;
	pthread_mutex_unlock(&m->lock);
	if (ready)
		r->status = metrics_readiness(phase, v, why, sizeof(why));
	else
		r->status = metrics_liveness(phase,
					     __atomic_load_n(&m->last_round_ms, __ATOMIC_RELAXED),
					     clock_mono_ms(), why, sizeof(why));
	strbuf_addf(&r->body, "%s\n", why);
	free(v);
}

static void handle(void *ctx, const struct httpserve_request *req,
		   struct httpserve_response *r)
{
	struct metrics *m = ctx;

	if (strcmp(req->path, "/metrics") == 0)
		serve_metrics(m, r);
	else if (strcmp(req->path, "/healthz") == 0)
		serve_health(m, false, r);
	else if (strcmp(req->path, "/readyz") == 0)
		serve_health(m, true, r);
	else {
		r->status = 404;
		strbuf_adds(&r->body, "not found: try /metrics, /healthz or /readyz\n");
	}
}

/* --- the reader thread's side ---------------------------------------------- */

static void collect(struct metrics_values *out, const struct metrics_values *prev,
		    const struct metrics_sources *src, const struct report_values *v)
{
	uint32_t queued = 0, exporting = 0;
	struct diskq_stats q;

	memset(out, 0, sizeof(*out));
	if (v)
		out->report = *v;
	else
		report_collect(&out->report, src->pipeline, src->bsp, src->exporter,
			       src->loader, src->unknown_probe);
	batch_get_fill(src->bsp, &queued, &exporting);
	out->queue_spans = queued + exporting;
	out->queue_capacity = src->bsp->opts.max_queue;
	out->processes = pipeline_processes(src->pipeline);
	/* HTTP capture closed at shutdown: its counter keeps its last value. */
	out->http = src->exchanges || prev->http;
	out->connections = src->exchanges ? exchange_connections(src->exchanges) : 0;
	out->tls_not_decrypted = src->tlscap ? tlscap_not_decrypted(src->tlscap)
					     : prev->tls_not_decrypted;
	out->otlp = src->otlp;
	if (!src->otlp)
		return;
	otlp_exporter_health(src->exporter, &out->export);
	if (otlp_exporter_queue_stats(src->exporter, &q) == 0) {
		out->disk_queue = true;
		out->disk_queue_bytes = q.pending_bytes;
		out->disk_queue_batches = q.pending;
		out->disk_queue_spans = q.pending_spans;
		out->disk_queue_budget = src->disk_queue_budget;
	}
}

void metrics_update(struct metrics *m, const struct metrics_sources *src,
		    const struct report_values *v)
{
	int64_t now = clock_mono_ms();
	struct metrics_values *fresh;

	if (!m)
		return;
	__atomic_store_n(&m->last_round_ms, now, __ATOMIC_RELAXED);
	if (!v && now < m->next_copy_ms)
		return;
	m->next_copy_ms = now + METRICS_COPY_MS;
	fresh = malloc(sizeof(*fresh));
	if (!fresh)
		return; /* the last copy stays; the next round tries again */
	/* prev->http and tls_not_decrypted only ever grow: read unlocked by
	 * their only writer, this thread. */
	collect(fresh, &m->v, src, v);
	pthread_mutex_lock(&m->lock);
	m->v = *fresh;
	pthread_mutex_unlock(&m->lock);
	free(fresh);
}

void metrics_set_phase(struct metrics *m, enum metrics_phase phase, const char *hooks)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->phase = phase;
	if (hooks)
		snprintf(m->hooks, sizeof(m->hooks), "%s", hooks);
	pthread_mutex_unlock(&m->lock);
	__atomic_store_n(&m->last_round_ms, clock_mono_ms(), __ATOMIC_RELAXED);
}

struct metrics *metrics_start(const char *address)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	snprintf(m->hooks, sizeof(m->hooks), "off");
	m->start_time_ms = clock_real_ns() / 1000000;
	m->last_round_ms = clock_mono_ms();
	m->server = httpserve_start(address, handle, m);
	if (!m->server) {
		int err = errno;

		pthread_mutex_destroy(&m->lock);
		free(m);
		errno = err;
		return NULL;
	}
	return m;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	httpserve_stop(m->server);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
