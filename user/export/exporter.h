/* SPDX-License-Identifier: MIT */
/*
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

struct sp_config;
struct sp_exporter;

/* Counters every exporter keeps; read by the self-report. */
struct sp_export_stats {
	uint64_t spans_exported;
	uint64_t spans_failed;    /* given up after retries / rejected */
	uint64_t requests_retried;
	uint64_t bytes_raw;        /* before compression */
	uint64_t bytes_sent;       /* after compression */
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
	/* Free everything; `exp` itself included. */
	void (*destroy)(struct sp_exporter *exp);
};

struct sp_exporter {
	const struct sp_exporter_ops *ops;
	struct sp_export_stats stats;
	void *state; /* the exporter's own */
};

/*
 * Create the exporter that `cfg` asks for (console text, console OTLP/JSON,
 * OTLP over HTTP or gRPC).  Returns NULL with errno set and a message
 * logged when it cannot be created.
 */
struct sp_exporter *exporter_create(const struct sp_config *cfg);
void exporter_destroy(struct sp_exporter *exp); /* accepts NULL */

#endif /* SPANPROBE_EXPORTER_H */
