// SPDX-License-Identifier: MIT
/*
 * Encode and compress one OTLP batch of realistic spans, many times.
 *
 *   encode [-n RUNS] [-s SPANS]      defaults: 50 runs of 1000 spans
 *
 * The batch: HTTP server and client spans with ~12 semantic-convention
 * attributes each, random trace/span IDs, two resources.  Prints min,
 * median and max over the runs for both protobuf encoders (protobuf-c and
 * hand-written), OTLP/JSON and the text console (written to /dev/null, as
 * `-o otlp-json` and `-o text` write them), and for gzip at zlib levels 1
 * and 6, libdeflate level 1, igzip's own level 1 and the exporter's
 * compress_gzip() at levels 1 and 2 (ISA-L's igzip where built in), with
 * the compression ratio.  Exits
 * non-zero when the two encoders disagree or a compressed copy does not
 * decompress to the original.
 */
#include <errno.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef SP_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include "export/compress.h"
#include "export/console.h"
#include "span/resource.h"
#include "span/span.h"
#include "export/otlp_encode.h"
#include "export/otlp_pb_fast.h"
#include "util/clock.h"
#include "spans.h"

#define MAX_RUNS 10000

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Print min/median/max of `runs` timings (ns) and the per-span cost. */
static void report(const char *what, uint64_t *ns, int runs, size_t spans,
		   const char *extra)
{
	qsort(ns, (size_t)runs, sizeof(*ns), cmp_u64);
	printf("%-22s min %8.3f  median %8.3f  max %8.3f ms  (%5.0f ns/span)%s\n",
	       what, ns[0] / 1e6, ns[runs / 2] / 1e6, ns[runs - 1] / 1e6,
	       (double)ns[runs / 2] / (double)spans, extra);
}

typedef int (*encode_fn)(struct sp_span *const *, size_t, uint8_t **, size_t *);

static int bench_encode(const char *what, encode_fn fn, struct sp_span **spans,
			size_t count, int runs, uint64_t *ns)
{
	for (int r = -2; r < runs; r++) { /* two warm-up runs */
		uint8_t *out;
		size_t len;
		uint64_t t0 = clock_mono_ns();

		if (fn(spans, count, &out, &len))
			return -ENOMEM;
		if (r >= 0)
			ns[r] = clock_mono_ns() - t0;
		free(out);
	}
	report(what, ns, runs, count, "");
	return 0;
}

/* The console exporter's whole export of the batch to /dev/null.  The
 * text console writes a process's resource line once, as the daemon does:
 * in the first warm-up run here, so the timed runs are its steady state. */
static int bench_console(const char *what, int json, struct sp_span **spans,
			 size_t count, int runs, uint64_t *ns)
{
	struct sp_exporter *exp = console_exporter_create("/dev/null", json);

	if (!exp)
		return -EIO;
	for (int r = -2; r < runs; r++) { /* two warm-up runs */
		uint64_t t0 = clock_mono_ns();

		if (exp->ops->export_spans(exp, spans, count)) {
			exp->ops->destroy(exp);
			return -EIO;
		}
		if (r >= 0)
			ns[r] = clock_mono_ns() - t0;
	}
	exp->ops->destroy(exp);
	report(what, ns, runs, count, "");
	return 0;
}

/* Check that `gz` (gzip) holds exactly `raw`. */
static int gunzip_matches(const uint8_t *gz, size_t gzlen, const uint8_t *raw,
			  size_t len)
{
	uint8_t *back = malloc(len + 1);
	z_stream z = { 0 };
	int ok;

	if (!back || inflateInit2(&z, 15 + 16) != Z_OK) {
		free(back);
		return 0;
	}
	z.next_in = (uint8_t *)gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = back;
	z.avail_out = (uInt)len + 1;
	ok = inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == len &&
	     memcmp(back, raw, len) == 0;
	inflateEnd(&z);
	free(back);
	return ok;
}

/* Check one compressor's last output, report its times and ratio, free it. */
static int report_gzip(const char *name, int level, uint8_t *gz, size_t gzlen,
		       const uint8_t *raw, size_t len, uint64_t *ns, int runs,
		       size_t spans)
{
	char what[32], extra[64];

	if (!gz || !gzlen || !gunzip_matches(gz, gzlen, raw, len)) {
		free(gz);
		return -EIO;
	}
	snprintf(what, sizeof(what), "gzip %s-%d", name, level);
	snprintf(extra, sizeof(extra), "  ratio %.2f (%zu bytes)",
		 (double)len / (double)gzlen, gzlen);
	report(what, ns, runs, spans, extra);
	free(gz);
	return 0;
}

static int bench_zlib(int level, const uint8_t *raw, size_t len, int runs,
		      uint64_t *ns, size_t spans)
{
	size_t cap = compressBound((uLong)len) + 64, gzlen = 0;
	uint8_t *gz = malloc(cap);
	z_stream z = { 0 };

	/* One stream reset per batch, as a long-lived exporter would. */
	if (!gz || deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8,
				Z_DEFAULT_STRATEGY) != Z_OK) {
		free(gz);
		return -ENOMEM;
	}
	for (int r = -2; r < runs; r++) {
		uint64_t t0 = clock_mono_ns();

		deflateReset(&z);
		z.next_in = (uint8_t *)raw;
		z.avail_in = (uInt)len;
		z.next_out = gz;
		z.avail_out = (uInt)cap;
		if (deflate(&z, Z_FINISH) != Z_STREAM_END)
			break;
		gzlen = z.total_out;
		if (r >= 0)
			ns[r] = clock_mono_ns() - t0;
	}
	deflateEnd(&z);
	return report_gzip("zlib", level, gz, gzlen, raw, len, ns, runs, spans);
}

static int bench_libdeflate(int level, const uint8_t *raw, size_t len,
			    int runs, uint64_t *ns, size_t spans)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
	size_t cap, gzlen = 0;
	uint8_t *gz;

	if (!c)
		return -ENOMEM;
	cap = libdeflate_gzip_compress_bound(c, len);
	gz = malloc(cap);
	for (int r = -2; gz && r < runs; r++) {
		uint64_t t0 = clock_mono_ns();

		gzlen = libdeflate_gzip_compress(c, raw, len, gz, cap);
		if (r >= 0)
			ns[r] = clock_mono_ns() - t0;
	}
	libdeflate_free_compressor(c);
	return report_gzip("libdeflate", level, gz, gzlen, raw, len, ns, runs, spans);
}

#ifdef SP_HAVE_ISAL
/*
 * igzip's own level 1 (a Huffman code built for every block), which
 * compress_gzip() level 1 stood on before it took igzip's level 0 with a
 * code made from earlier input: the two side by side.
 */
static int bench_igzip_own(int level, const uint8_t *raw, size_t len, int runs,
			   uint64_t *ns, size_t spans)
{
	size_t cap = len + len / 8 + 1024;
	struct isal_zstream z;
	uint8_t *lvl = malloc(ISAL_DEF_LVL1_DEFAULT), *gz = malloc(cap);
	size_t gzlen = 0;

	for (int r = -2; lvl && gz && r < runs; r++) {
		uint64_t t0 = clock_mono_ns();

		isal_deflate_init(&z);
		z.level = (uint32_t)level;
		z.level_buf = lvl;
		z.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
		z.gzip_flag = IGZIP_GZIP;
		z.end_of_stream = 1;
		z.next_in = (uint8_t *)raw;
		z.avail_in = (uint32_t)len;
		z.next_out = gz;
		z.avail_out = (uint32_t)cap;
		if (isal_deflate(&z) != COMP_OK)
			break;
		gzlen = z.total_out;
		if (r >= 0)
			ns[r] = clock_mono_ns() - t0;
	}
	free(lvl);
	return report_gzip("igzip-own", level, gz, gzlen, raw, len, ns, runs, spans);
}
#endif

/*
 * The exporter's own compress_gzip(): ISA-L's igzip at levels 1 to 3
 * where it is built in (libdeflate otherwise), with its per-call output
 * buffer; level 1 is igzip's level 0 with a Huffman code made from the
 * thread's earlier input (the warm-up runs: this batch).
 */
static int bench_spanprobe(int level, const uint8_t *raw, size_t len, int runs,
			   uint64_t *ns, size_t spans)
{
	uint8_t *gz = NULL;
	size_t gzlen = 0;

	for (int r = -2; r < runs; r++) {
		uint64_t t0 = clock_mono_ns();

		free(gz);
		if (compress_gzip(raw, len, level, &gz, &gzlen)) {
			gz = NULL;
			break;
		}
		if (r >= 0)
			ns[r] = clock_mono_ns() - t0;
	}
#ifdef SP_HAVE_ISAL
	return report_gzip("isa-l", level, gz, gzlen, raw, len, ns, runs, spans);
#else
	return report_gzip("compress_gzip", level, gz, gzlen, raw, len, ns, runs, spans);
#endif
}

/* One batch of `count` realistic spans over two resources (bench/spans.h). */
static struct sp_span **bench_batch(size_t count, struct sp_resource **res)
{
	res[0] = spans_resource("checkout", 4242);
	res[1] = spans_resource("frontend", 977);
	if (!res[0] || !res[1])
		return NULL;
	return spans_build(1, count, res);
}

static int usage(void)
{
	fprintf(stderr, "usage: encode [-n RUNS (20..%d)] [-s SPANS]\n", MAX_RUNS);
	return 2;
}

int main(int argc, char **argv)
{
	static uint64_t ns[MAX_RUNS];
	struct sp_resource *res[2] = { NULL, NULL };
	struct sp_span **spans;
	uint8_t *a, *b;
	size_t count = 1000, alen, blen;
	int runs = 50, err = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-n") == 0)
			runs = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "-s") == 0)
			count = (size_t)strtoul(argv[i + 1], NULL, 10);
		else
			return usage();
	}
	if (argc % 2 == 0 || runs < 20 || runs > MAX_RUNS || count < 2)
		return usage();
	spans = bench_batch(count, res);
	if (!spans)
		return 1;
	if (otlp_encode_protobuf(spans, count, &a, &alen) ||
	    otlp_encode_protobuf_fast(spans, count, &b, &blen))
		return 1;
	if (alen != blen || memcmp(a, b, alen) != 0) {
		fprintf(stderr, "encode: the two encoders disagree\n");
		return 1;
	}
	printf("batch: %zu spans, 2 resources, 12 attributes/span, %zu bytes "
	       "(%zu B/span), %d runs\n", count, alen, alen / count, runs);
	err |= bench_encode("encode protobuf-c", otlp_encode_protobuf, spans,
			    count, runs, ns);
	err |= bench_encode("encode hand-written", otlp_encode_protobuf_fast,
			    spans, count, runs, ns);
	err |= bench_encode("encode OTLP/JSON", otlp_encode_json, spans, count,
			    runs, ns);
	err |= bench_console("console OTLP/JSON", 1, spans, count, runs, ns);
	err |= bench_console("console text", 0, spans, count, runs, ns);
	err |= bench_zlib(1, a, alen, runs, ns, count);
	err |= bench_zlib(6, a, alen, runs, ns, count);
	err |= bench_libdeflate(1, a, alen, runs, ns, count);
#ifdef SP_HAVE_ISAL
	err |= bench_igzip_own(1, a, alen, runs, ns, count);
#endif
	err |= bench_spanprobe(1, a, alen, runs, ns, count);
	err |= bench_spanprobe(2, a, alen, runs, ns, count);
	if (err)
		fprintf(stderr, "encode: a benchmark failed (%d)\n", err);
	free(a);
	free(b);
	spans_free(spans);
	resource_put(res[0]);
	resource_put(res[1]);
	return err ? 1 : 0;
}
