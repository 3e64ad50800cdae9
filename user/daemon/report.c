// SPDX-License-Identifier: MIT
#include "daemon/report.h"

#include <pthread.h>
#include <string.h>

#include "capture/loader.h"

void report_collect(struct report_values *v, const struct sp_pipeline *p,
		    const struct sp_batch *bsp, const struct sp_exporter *exp,
		    struct sp_loader *loader, uint64_t unknown_probe)
{
	memset(v, 0, sizeof(*v));
	v->pipe = *pipeline_stats(p);
	loader_read_drops(loader, v->drops);
	batch_get_stats(bsp, &v->batch);
	exporter_get_stats(exp, &v->exp);
	v->bad_records = loader_bad_records(loader) + unknown_probe;
}

void report_print_values(FILE *out, const struct report_values *v)
{
	const struct sp_pipeline_stats *st = &v->pipe;
	const struct sp_batch_stats *bs = &v->batch;
	const struct sp_export_stats *es = &v->exp;
	const uint64_t *drops = v->drops;

	/*
	 * Every span started is counted once: finished, not sampled,
	 * filtered out, or dropped unfinished / never returned / open at
	 * exit; every span finished once: exported, failed, timed out, queue
	 * full or at shutdown (queued, or cut off by the shutdown deadline).
	 */
	fprintf(out,
		"spanprobe: spans: %llu started, %llu finished, %llu exported, "
		"%llu failed, %llu timed out (outcome unknown), %llu not sampled, "
		"%llu filtered out\n"
		"spanprobe: dropped: %llu queue full, %llu at shutdown, %llu span pool empty, "
		"%llu thread table full, %llu too deep, %llu unfinished\n"
		"spanprobe: events: %llu lost (ring buffer full), %llu unreadable, "
		"%llu bad records, %llu unmatched returns, %llu calls that never returned, "
		"%llu calls open at exit\n"
		"spanprobe: export: %llu requests retried, %llu bytes encoded, %llu bytes sent\n",
		(unsigned long long)st->spans_started,
		(unsigned long long)st->spans_finished,
		(unsigned long long)es->spans_exported,
		(unsigned long long)es->spans_failed,
		(unsigned long long)es->spans_timed_out,
		(unsigned long long)st->spans_not_sampled,
		(unsigned long long)st->filtered,
		(unsigned long long)bs->dropped_queue_full,
		(unsigned long long)(bs->dropped_at_shutdown + es->spans_cut_off),
		(unsigned long long)st->pool_empty,
		(unsigned long long)st->threads_full,
		(unsigned long long)st->depth_exceeded,
		(unsigned long long)st->discarded,
		(unsigned long long)drops[SP_DROP_RINGBUF_FULL],
		(unsigned long long)drops[SP_DROP_READ_FAILED],
		(unsigned long long)v->bad_records,
		(unsigned long long)st->unmatched_returns,
		(unsigned long long)st->abandoned,
		(unsigned long long)st->open_at_exit,
		(unsigned long long)es->requests_retried,
		(unsigned long long)es->bytes_raw,
		(unsigned long long)es->bytes_sent);
	if (es->spans_discarded)
		fprintf(out, "spanprobe: spans: %llu sent nowhere (output none)\n",
			(unsigned long long)es->spans_discarded);
	/* Rare, and each means something was not captured: said when seen. */
	if (drops[SP_DROP_MAP_FULL] || drops[SP_DROP_SOCK_UNKNOWN_CALL] ||
	    drops[SP_DROP_TLS_NO_SOCKET])
		fprintf(out, "spanprobe: kernel side: %llu table entries refused (a new "
			"process not followed past --max-processes, or a socket judged "
			"call by call past --max-connections), %llu socket calls of a "
			"kind not read, %llu TLS records of no socket seen\n",
			(unsigned long long)drops[SP_DROP_MAP_FULL],
			(unsigned long long)drops[SP_DROP_SOCK_UNKNOWN_CALL],
			(unsigned long long)drops[SP_DROP_TLS_NO_SOCKET]);
	if (drops[SP_DROP_H2_CUT] || drops[SP_DROP_H2_LOST])
		fprintf(out, "spanprobe: http/2 frame walk: %llu calls cut at %u bytes "
			"of frames, %llu walks out of step\n",
			(unsigned long long)drops[SP_DROP_H2_CUT], (unsigned)SP_SOCK_FRAMES_MAX,
			(unsigned long long)drops[SP_DROP_H2_LOST]);
	fflush(out);
}

void report_print(FILE *out, const struct sp_pipeline *p,
		  const struct sp_batch *bsp, const struct sp_exporter *exp,
		  struct sp_loader *loader, uint64_t unknown_probe)
{
	struct report_values v;

	report_collect(&v, p, bsp, exp, loader, unknown_probe);
	report_print_values(out, &v);
}
