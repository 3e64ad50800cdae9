// SPDX-License-Identifier: MIT
/*
 * End-to-end export throughput through the real "otlp" exporter to a local
 * sink (otlp_sink, next to this program), one connection each:
 *
 *   export [-n RUNS] [-b BATCHES] [-s SPANS] [-S SINK]
 *          defaults: 10 runs of 20 batches of 1000 spans
 *
 * Eight variants: {h2c, HTTP/1.1} x {hand-written, protobuf-c encoder} x
 * {gzip level 1, none}.  A run exports BATCHES distinct batches in a row,
 * each call waiting for its answer as the batch processor does; the
 * variants take turns within each run (rotating who goes first) so that
 * load from elsewhere on the machine spreads over all of them.  One
 * warm-up run is not counted.  Prints min/median/max spans/s per variant,
 * the median time per batch, the exporting thread's CPU per span and the
 * bytes per batch.  Exits non-zero unless every span was delivered on one
 * connection per variant without retries, both encoders produced the
 * same bytes and the sink received exactly the requests and bytes sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"
#include "spans.h"
#include "export/otlp_config.h"
#include "export/otlp_encode.h"
#include "export/otlp_exporter.h"
#include "util/log.h"

#define MAX_RUNS 1000
#define N_VARIANTS 8

struct variant {
	const char *transport, *http_version, *encoder;
	int protobuf_c, gzip;
	struct sp_otlp_config cfg;
	struct sp_exporter *exp;
	uint64_t ns[MAX_RUNS];  /* wall time of each run */
	uint64_t cpu[MAX_RUNS]; /* exporting thread's CPU time of each run */
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int variant_open(struct variant *v, int port)
{
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	otlp_config_defaults(&v->cfg);
	v->cfg.connections = 1;
	if (otlp_config_set_endpoint(&v->cfg, url) ||
	    otlp_config_set_http_version(&v->cfg, v->http_version) ||
	    otlp_config_set_compression(&v->cfg, v->gzip ? "gzip" : "none") ||
	    otlp_config_finish(&v->cfg))
		return -EINVAL;
	v->exp = otlp_exporter_create(&v->cfg);
	if (!v->exp)
		return -errno;
	if (v->protobuf_c)
		otlp_exporter_set_encoder(v->exp, otlp_encode_protobuf);
	return 0;
}

/* Export every batch once; run < 0 is the warm-up (not recorded). */
static int variant_run(struct variant *v, int run, struct sp_span **spans,
		       size_t batches, size_t count)
{
	uint64_t t0 = clock_mono_ns(), c0 = thread_cpu_ns();

	for (size_t b = 0; b < batches; b++)
		if (v->exp->ops->export_spans(v->exp, spans + b * count, count))
			return -EIO;
	if (run >= 0) {
		v->ns[run] = clock_mono_ns() - t0;
		v->cpu[run] = thread_cpu_ns() - c0;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void variant_report(struct variant *v, int runs, size_t batches,
			   size_t count)
{
	double spans = (double)(batches * count), calls = (double)(runs + 1);
	double per_batch = (double)batches * calls;

	qsort(v->ns, (size_t)runs, sizeof(v->ns[0]), cmp_u64);
	qsort(v->cpu, (size_t)runs, sizeof(v->cpu[0]), cmp_u64);
	/* The fastest run gives the highest rate: max uses ns[0]. */
	printf("%-8s  %-12s  %-4s  %9.0f %9.0f %9.0f  %8.3f  %8.2f  %7.1f %7.1f\n",
	       v->transport, v->encoder, v->gzip ? "gzip" : "none",
	       spans * 1e9 / (double)v->ns[runs - 1],
	       spans * 1e9 / (double)v->ns[runs / 2],
	       spans * 1e9 / (double)v->ns[0],
	       (double)v->ns[runs / 2] / (double)batches / 1e6,
	       (double)v->cpu[runs / 2] / spans / 1e3,
	       (double)v->exp->stats.bytes_raw / per_batch / 1024,
	       (double)v->exp->stats.bytes_sent / per_batch / 1024);
}

/* Every span delivered, one connection, no retry. */
static int variant_check(struct variant *v, int runs, size_t batches,
			 size_t count)
{
	struct http_client_stats hs;
	uint64_t calls = (uint64_t)(runs + 1) * batches;
	const struct sp_export_stats *st = &v->exp->stats;

	otlp_exporter_http_stats(v->exp, &hs);
	if (st->spans_exported == calls * count && !st->spans_failed &&
	    !st->requests_retried && hs.connects == 1 && !hs.h1_fallbacks &&
	    hs.requests == calls)
		return 0;
	fprintf(stderr, "export: %s %s %s: exported %" PRIu64 " failed %" PRIu64
		" retried %" PRIu64 " connects %" PRIu64 " requests %" PRIu64
		" (expected %" PRIu64 " spans in %" PRIu64 " requests)\n",
		v->transport, v->encoder, v->gzip ? "gzip" : "none",
		st->spans_exported, st->spans_failed, st->requests_retried,
		hs.connects, hs.requests, calls * count, calls);
	return -EIO;
}

/* Both encoders give the same bytes (before gzip: its level 1 codes with
 * a Huffman code made from the thread's own earlier batches, so what one
 * variant sends depends on what was compressed before it), the sink got
 * what was sent. */
static int check_totals(struct variant *vs, const struct sink *s)
{
	uint64_t requests = 0, h2 = 0, bytes = 0;
	int err = 0;

	for (int i = 0; i < N_VARIANTS; i++) {
		struct http_client_stats hs;

		otlp_exporter_http_stats(vs[i].exp, &hs);
		requests += hs.requests;
		h2 += vs[i].http_version[0] == '2' ? hs.requests : 0;
		bytes += vs[i].exp->stats.bytes_sent;
		if (i % 2 == 0 && (vs[i].exp->stats.bytes_raw !=
					   vs[i + 1].exp->stats.bytes_raw ||
				   (!vs[i].gzip && vs[i].exp->stats.bytes_sent !=
							   vs[i + 1].exp->stats.bytes_sent))) {
			fprintf(stderr, "export: the encoders sent different"
				" bytes (%s %s)\n", vs[i].transport,
				vs[i].gzip ? "gzip" : "none");
			err = -EIO;
		}
	}
	/* bytes_sent is what our sockets took: the sink read exactly that. */
	if (s->requests != requests || s->h2 != h2 || s->wire_bytes != bytes ||
	    s->errors || s->connections != N_VARIANTS) {
		fprintf(stderr, "export: the sink got %" PRIu64 " requests (%"
			PRIu64 " h2), %" PRIu64 " bytes, %" PRIu64 " connections,"
			" %" PRIu64 " errors; sent %" PRIu64 " (%" PRIu64
			" h2), %" PRIu64 " bytes on %d\n", s->requests, s->h2,
			s->wire_bytes, s->connections, s->errors, requests, h2,
			bytes, N_VARIANTS);
		err = -EIO;
	}
	return err;
}

/* Variant i: bit 2 transport, bit 1 compression, bit 0 encoder. */
static void variants_init(struct variant *vs)
{
	for (int i = 0; i < N_VARIANTS; i++) {
		vs[i].transport = i & 4 ? "HTTP/1.1" : "h2c";
		vs[i].http_version = i & 4 ? "1.1" : "2";
		vs[i].gzip = !(i & 2);
		vs[i].protobuf_c = i & 1;
		vs[i].encoder = i & 1 ? "protobuf-c" : "hand-written";
	}
}

static int bench_all(struct variant *vs, struct sp_span **spans, int runs,
		     size_t batches, size_t count)
{
	for (int run = -1; run < runs; run++)
		for (int k = 0; k < N_VARIANTS; k++) {
			struct variant *v = &vs[(run + 1 + k) % N_VARIANTS];

			if (variant_run(v, run, spans, batches, count)) {
				fprintf(stderr, "export: %s %s %s: an export"
					" failed\n", v->transport, v->encoder,
					v->gzip ? "gzip" : "none");
				return -EIO;
			}
		}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: export [-n RUNS (3..%d)] [-b BATCHES] [-s SPANS]"
		" [-S SINK]\n", MAX_RUNS);
	return 2;
}

int main(int argc, char **argv)
{
	static struct variant vs[N_VARIANTS];
	struct sp_resource *res[2];
	struct sink sink = { 0 };
	char sink_path[PATH_MAX];
	struct sp_span **spans;
	size_t batches = 20, count = 1000;
	int runs = 10, opt, err = 0;

	sink_default_path(sink_path, sizeof(sink_path));
	while ((opt = getopt(argc, argv, "n:b:s:S:")) != -1) {
		if (opt == 'n')
			runs = atoi(optarg);
		else if (opt == 'b')
			batches = strtoul(optarg, NULL, 10);
		else if (opt == 's')
			count = strtoul(optarg, NULL, 10);
		else if (opt == 'S')
			snprintf(sink_path, sizeof(sink_path), "%s", optarg);
		else
			return usage();
	}
	if (optind != argc || runs < 3 || runs > MAX_RUNS || !batches ||
	    batches > 1000 || count < 2 || count > 100000)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	res[0] = spans_resource("checkout", 4242);
	res[1] = spans_resource("frontend", 977);
	spans = res[0] && res[1] ? spans_build(batches, count, res) : NULL;
	if (!spans)
		return 1;
	if (sink_start(&sink, sink_path)) {
		fprintf(stderr, "export: the sink %s did not start\n", sink_path);
		return 1;
	}
	variants_init(vs);
	for (int i = 0; i < N_VARIANTS && !err; i++)
		err = variant_open(&vs[i], sink.port);
	if (!err)
		err = bench_all(vs, spans, runs, batches, count);
	printf("export: %d runs of %zu batches of %zu spans, 1 connection per"
	       " variant, gzip level 1, sink on 127.0.0.1:%d\n",
	       runs, batches, count, sink.port);
	printf("%-8s  %-12s  %-4s  %9s %9s %9s  %8s  %8s  %7s %7s\n", "", "encoder",
	       "", "spans/s", "", "", "ms/batch", "CPU", "KB/batch", "");
	printf("%-8s  %-12s  %-4s  %9s %9s %9s  %8s  %8s  %7s %7s\n",
	       "transport", "", "body", "min", "median", "max", "median",
	       "us/span", "raw", "sent");
	for (int i = 0; i < N_VARIANTS && !err; i++)
		variant_report(&vs[i], runs, batches, count);
	for (int i = 0; i < N_VARIANTS && !err; i++)
		err |= variant_check(&vs[i], runs, batches, count);
	err |= sink_stop(&sink);
	if (!err)
		err = check_totals(vs, &sink);
	printf("sink: %" PRIu64 " requests, %.1f MB, CPU %.2f us/span\n",
	       sink.requests, (double)sink.body_bytes / 1e6,
	       sink.cpu_ms * 1e3 /
		       (double)((uint64_t)(runs + 1) * N_VARIANTS * batches * count));
	for (int i = 0; i < N_VARIANTS; i++) {
		if (vs[i].exp)
			vs[i].exp->ops->destroy(vs[i].exp);
		otlp_config_free(&vs[i].cfg);
	}
	spans_free(spans);
	resource_put(res[0]);
	resource_put(res[1]);
	if (err)
		fprintf(stderr, "export: checks failed\n");
	return err ? 1 : 0;
}
