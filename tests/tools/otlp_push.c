// SPDX-License-Identifier: MIT
/*
 * Test driver: pushes synthetic spans through the "otlp" exporter.
 * Configured by the OTEL_EXPORTER_OTLP_* variables plus a few options;
 * reads commands on stdin, one per line:
 *   send N     export one batch of N spans, then print the counters
 *   idle       the export thread's idle work (sending the disk queue),
 *              then print the counters
 *   cutoff     the shutdown deadline: now (exporter_set_deadline())
 *   sleep MS   wait
 *   quit
 * Each counters line is JSON:
 *   {"ret":0,"exported":N,"failed":N,"timed_out":N,"cut_off":N,
 *    "retried":N,"bytes_raw":N,"bytes_sent":N,"bytes_written":N,
 *    "connects":N,"h1_fallbacks":N,"requests":N,
 *    "queue_appended_spans":N,"queue_sent_spans":N,"queue_pending_spans":N}
 * Span names are "push-<batch>-<index>" so a receiver can check each one.
 * Options: --connections N --retry-initial MS --retry-max MS
 *          --max-body BYTES --gzip-min BYTES --http-version V
 *          --connect-timeout MS --queue-dir DIR -v
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "span/resource.h"
#include "span/span.h"
#include "export/otlp_config.h"
#include "export/otlp_exporter.h"
#include "export/diskq.h"
#include "util/clock.h"
#include "util/log.h"

static void make_span(struct sp_span *s, struct sp_resource *res,
		      unsigned batch, unsigned i)
{
	char name[64];

	span_reset(s);
	for (int b = 0; b < 16; b++)
		s->trace_id[b] = (uint8_t)(batch * 31 + i * 7 + b + 1);
	for (int b = 0; b < 8; b++)
		s->span_id[b] = (uint8_t)(i * 13 + b + 1);
	s->span_id[0] = (uint8_t)batch;
	s->start_unix_ns = 1700000000000000000ULL + i * 1000;
	s->end_unix_ns = s->start_unix_ns + 5000;
	s->kind = SP_KIND_INTERNAL;
	s->sampled = 1;
	s->pid = 4242;
	s->tid = 4242;
	s->resource = res;
	snprintf(name, sizeof(name), "push-%u-%u", batch, i);
	span_set_name(s, name, strlen(name));
	span_add_int(s, "test.index", i);
	span_add_cstr(s, "code.function", "otlp_push_synthetic_function");
	span_add_cstr(s, "test.padding",
		      "a value long enough to make bodies worth compressing");
}

static void print_counters(struct sp_exporter *exp, int ret)
{
	struct http_client_stats hs;
	struct diskq_stats q = { 0 };

	otlp_exporter_http_stats(exp, &hs);
	otlp_exporter_queue_stats(exp, &q);
	printf("{\"ret\":%d,\"exported\":%" PRIu64 ",\"failed\":%" PRIu64
	       ",\"timed_out\":%" PRIu64 ",\"cut_off\":%" PRIu64
	       ",\"retried\":%" PRIu64 ",\"bytes_raw\":%" PRIu64
	       ",\"bytes_sent\":%" PRIu64 ",\"bytes_written\":%" PRIu64
	       ",\"connects\":%" PRIu64
	       ",\"h1_fallbacks\":%" PRIu64 ",\"requests\":%" PRIu64
	       ",\"queue_appended_spans\":%" PRIu64 ",\"queue_sent_spans\":%" PRIu64
	       ",\"queue_pending_spans\":%" PRIu64 "}\n",
	       ret, exp->stats.spans_exported, exp->stats.spans_failed,
	       exp->stats.spans_timed_out, exp->stats.spans_cut_off,
	       exp->stats.requests_retried, exp->stats.bytes_raw,
	       exp->stats.bytes_sent, hs.bytes_written, hs.connects,
	       hs.h1_fallbacks, hs.requests, q.appended_spans, q.sent_spans,
	       q.pending_spans);
	fflush(stdout);
}

static int send_batch(struct sp_exporter *exp, struct sp_resource *res,
		      unsigned batch, unsigned n)
{
	struct sp_span *spans = calloc(n ? n : 1, sizeof(*spans));
	struct sp_span **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	int ret;

	if (!spans || !ptrs) {
		free(spans);
		free(ptrs);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		make_span(&spans[i], res, batch, i);
		ptrs[i] = &spans[i];
	}
	ret = exp->ops->export_spans(exp, ptrs, n);
	print_counters(exp, ret);
	free(spans);
	free(ptrs);
	return 0;
}

static int parse_options(struct sp_otlp_config *cfg, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-v") == 0) {
			log_set_level(SP_LOG_DEBUG);
			continue;
		}
		if (!v)
			return -EINVAL;
		i++;
		if (strcmp(a, "--connections") == 0)
			cfg->connections = (uint32_t)atoi(v);
		else if (strcmp(a, "--retry-initial") == 0)
			cfg->retry_initial_ms = (uint32_t)atoi(v);
		else if (strcmp(a, "--retry-max") == 0)
			cfg->retry_max_ms = (uint32_t)atoi(v);
		else if (strcmp(a, "--max-body") == 0)
			cfg->max_body_bytes = (uint32_t)atoi(v);
		else if (strcmp(a, "--gzip-min") == 0)
			cfg->gzip_min_bytes = (uint32_t)atoi(v);
		else if (strcmp(a, "--connect-timeout") == 0)
			cfg->connect_timeout_ms = (uint32_t)atoi(v);
		else if (strcmp(a, "--queue-dir") == 0)
			cfg->queue_dir = v;
		else if (strcmp(a, "--http-version") == 0) {
			if (otlp_config_set_http_version(cfg, v))
				return -EINVAL;
		} else
			return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sp_otlp_config cfg;
	struct sp_process_info info = { .pid = 4242, .exe_path = "/usr/bin/otlp-push" };
	struct sp_resource_defaults defaults = { .service_name = "otlp-push" };
	struct sp_resource *res;
	struct sp_exporter *exp;
	char line[128];
	unsigned batch = 0, n;

	/* As the daemon: a peer's close is an error return, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	otlp_config_defaults(&cfg);
	if (otlp_config_from_env(&cfg, NULL) || parse_options(&cfg, argc, argv) ||
	    otlp_config_finish(&cfg)) {
		fprintf(stderr, "otlp_push: bad configuration\n");
		return 2;
	}
	exp = otlp_exporter_create(&cfg);
	res = resource_build(&info, &defaults);
	if (!exp || !res) {
		fprintf(stderr, "otlp_push: cannot create the exporter\n");
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "send %u", &n) == 1) {
			send_batch(exp, res, batch++, n);
		} else if (strncmp(line, "idle", 4) == 0) {
			exp->ops->idle(exp);
			print_counters(exp, 0);
		} else if (sscanf(line, "sleep %u", &n) == 1) {
			usleep(n * 1000u);
		} else if (strncmp(line, "cutoff", 6) == 0) {
			exporter_set_deadline(exp, clock_mono_ms());
		} else if (strncmp(line, "quit", 4) == 0)
			break;
	}
	exp->ops->destroy(exp);
	resource_put(res);
	otlp_config_free(&cfg);
	return 0;
}
