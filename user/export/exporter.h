/* SPDX-License-Identifier: MIT */
/*
 * export/: the batch span processor, the console, the OTLP encoders and
 * the OTLP exporter.  It may include span/, transport/ and util/.
 *
 * Exporters: where finished spans go.  Each exporter is one file and one
 * entry in the table of exporter.c; the batch processor calls it from its
 * own thread, never from the ring-buffer consumer.
 */
#ifndef SPANPROBE_EXPORTER_H
#define SPANPROBE_EXPORTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "span/span.h"

struct sp_exporter;
struct sp_otlp_config;

/* Where spans go. */
enum sp_output {
	SP_OUTPUT_TEXT = 0,
	SP_OUTPUT_OTLP_JSON,
	SP_OUTPUT_OTLP, /* send to a collector: see otlp */
	SP_OUTPUT_NONE, /* nowhere: counted, then let go (export/discard.h) */
};

/* What exporter_create() builds; filled by whoever read the settings. */
struct sp_exporter_options {
	enum sp_output output;
	const char *output_file;           /* console: NULL for stdout */
	const struct sp_otlp_config *otlp; /* SP_OUTPUT_OTLP: finished, and
					    * outliving the exporter */
};

/* Counters every exporter keeps; read by the self-report. */
struct sp_export_stats {
	uint64_t spans_exported;
	uint64_t spans_failed;    /* given up after retries / rejected */
	uint64_t spans_timed_out; /* sent, no answer in time: outcome unknown */
	uint64_t spans_cut_off;   /* not sent (again): the deadline of
				   * exporter_set_deadline() came first */
	uint64_t requests_retried;
	uint64_t bytes_raw;        /* before compression */
	uint64_t bytes_sent;       /* written to sockets (framing included) */
	uint64_t write_errors;     /* console: output failed; spanprobe stops */
	uint64_t spans_discarded;  /* -o none: finished, sent nowhere */
};

struct sp_exporter_ops {
	const char *name;
	/*
	 * Export `count` spans.  Spans that share a resource are adjacent.  The
	 * exporter must not keep pointers to the spans after it returns.
	 * Returns 0 when the spans were delivered (or written), a negative
	 * errno when they were not; in both cases the exporter has counted
	 * them in its stats.
	 */
	int (*export_spans)(struct sp_exporter *exp, struct sp_span *const *spans,
			    size_t count);
	/* Push out anything buffered.  Returns 0 or a negative errno. */
	int (*flush)(struct sp_exporter *exp);
	/*
	 * Optional: the export thread had nothing to export for a schedule
	 * delay; time for work of the exporter's own (sending what it queued
	 * on disk).  Must return within about a second.
	 */
	void (*idle)(struct sp_exporter *exp);
	/* See exporter_set_deadline(); NULL when exports never wait. */
	void (*set_deadline)(struct sp_exporter *exp, int64_t deadline_ms);
	/* Free everything; `exp` itself included. */
	void (*destroy)(struct sp_exporter *exp);
};

struct sp_exporter {
	const struct sp_exporter_ops *ops;
	struct sp_export_stats stats;
	void *state; /* the exporter's own */
};

/*
 * Shutdown: no export, the one in progress included, goes on past
 * `deadline_ms` (clock_mono_ms(), util/clock.h); a deadline already
 * passed ends the current one at once.  What is then not sent is counted
 * in spans_cut_off.  The one call another thread may make during an export.
 */
void exporter_set_deadline(struct sp_exporter *exp, int64_t deadline_ms);

/* A consistent-enough copy of `exp`'s counters, from any thread. */
void exporter_get_stats(const struct sp_exporter *exp, struct sp_export_stats *out);

/*
 * Create the exporter that `o` asks for (console text, console OTLP/JSON,
 * OTLP over HTTP or gRPC).  Returns NULL with errno set and a message
 * logged when it cannot be created.
 */
struct sp_exporter *exporter_create(const struct sp_exporter_options *o);
void exporter_destroy(struct sp_exporter *exp); /* accepts NULL */

#endif /* SPANPROBE_EXPORTER_H */
