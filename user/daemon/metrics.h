/* SPDX-License-Identifier: MIT */
/*
 * Self-metrics and health (--metrics-address): /metrics in the Prometheus
 * text format (0.0.4), /healthz and /readyz, served by daemon/httpserve.c
 * from its own thread.  The reader thread copies the counters here (the
 * assembly stage's are its own, unlocked), from the same sources as the
 * self-report; the server formats the last copy.
 */
#ifndef SPANPROBE_METRICS_H
#define SPANPROBE_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/progstats.h"
#include "daemon/httpserve.h"
#include "daemon/report.h"
#include "export/export_health.h"
#include "util/strbuf.h"

#define METRICS_COPY_MS 250      /* the reader copies the counters this often */
#define METRICS_STALL_MS 10000   /* /healthz: the reader loop went round since */
#define METRICS_READY_FAILURES 3 /* /readyz: failed export requests in a row */

enum metrics_phase {
	METRICS_STARTING = 0, /* loading and attaching the probes */
	METRICS_RUNNING,      /* the reader loop runs */
	METRICS_STOPPING,     /* detached; the last spans are exported */
};

/* What the reader thread copies; /metrics is made of it. */
struct metrics_values {
	struct report_values report;
	uint32_t queue_spans;        /* waiting for export, or being exported */
	uint32_t queue_capacity;     /* OTEL_BSP_MAX_QUEUE_SIZE */
	bool disk_queue;             /* --queue-dir */
	uint64_t disk_queue_bytes, disk_queue_budget, disk_queue_batches, disk_queue_spans;
	uint32_t processes;          /* process resources known */
	bool http;                   /* HTTP capture on */
	uint32_t connections;        /* connections tracked */
	uint64_t tls_not_decrypted;  /* TLS connections of processes not probed */
	bool otlp;                   /* exporting to a collector */
	struct export_health_snap export;
};

/* What does not change while spanprobe runs. */
struct metrics_info {
	const char *version;
	const char *hooks;            /* the HTTP capture hooks, or "off" */
	uint64_t start_time_ms;       /* Unix time */
};

/* The BPF statistics of spanprobe's programs, when the kernel keeps them. */
struct metrics_bpf {
	bool enabled;
	const struct progstat *progs;
	int n_progs;
};

/*
 * The exposition: every metric family (# HELP, # TYPE, its samples) of
 * `v`, `info`, `bpf` and the metrics server's own counters `server`,
 * appended to `b`.  Pure: the unit tests compare its text.
 */
void metrics_format(struct sp_strbuf *b, const struct metrics_values *v,
		    const struct metrics_info *info, const struct metrics_bpf *bpf,
		    const struct httpserve_stats *server);

/* Append `s` as the inside of a label value: \ " and newline escaped. */
void metrics_add_label_value(struct sp_strbuf *b, const char *s);

/*
 * /readyz: 200, or 503 with a one-line reason in `why`: starting,
 * stopping, the collector unreachable at the last request, or
 * METRICS_READY_FAILURES requests in a row failed.
 */
int metrics_readiness(enum metrics_phase phase, const struct metrics_values *v,
		      char *why, size_t size);

/*
 * /healthz: 200 unless the reader loop runs and has not gone round for
 * METRICS_STALL_MS (503, reason in `why`).
 */
int metrics_liveness(enum metrics_phase phase, int64_t last_round_ms, int64_t now_ms,
		     char *why, size_t size);

struct metrics;
struct sp_pipeline;
struct sp_batch;
struct sp_exporter;
struct sp_loader;
struct exchange_spans;
struct tlscap;

/* Where metrics_update() reads; NULL members are parts that are off. */
struct metrics_sources {
	const struct sp_pipeline *pipeline;
	struct sp_batch *bsp;
	const struct sp_exporter *exporter;
	struct sp_loader *loader;
	uint64_t unknown_probe;
	const struct exchange_spans *exchanges;
	const struct tlscap *tlscap;
	bool otlp;
	uint64_t disk_queue_budget;
};

/*
 * Serve on `address` (daemon/httpserve.h).  NULL with errno set and a
 * message logged when it cannot listen there.
 */
struct metrics *metrics_start(const char *address);

/* The life cycle, for /readyz; `hooks` (kept) once the probes run. */
void metrics_set_phase(struct metrics *m, enum metrics_phase phase, const char *hooks);

/*
 * From the reader thread, each round: notes the round (/healthz), and
 * copies the counters when METRICS_COPY_MS passed, or now when `v` (the
 * report's own copy) is given.  Accepts a NULL `m`.
 */
void metrics_update(struct metrics *m, const struct metrics_sources *src,
		    const struct report_values *v);

/* Stop serving and free.  Accepts NULL. */
void metrics_stop(struct metrics *m);

#endif /* SPANPROBE_METRICS_H */
