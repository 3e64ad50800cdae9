/* SPDX-License-Identifier: MIT */
#ifndef SPANPROBE_REPORT_H
#define SPANPROBE_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "spanprobe/events.h"
#include "assemble/pipeline.h"
#include "export/batch.h"
#include "export/exporter.h"

struct sp_loader;

/*
 * The counters of the self-report, read at one moment: what the exit
 * report, the -v report and /metrics all print (so they agree).
 */
struct report_values {
	struct sp_pipeline_stats pipe;
	struct sp_batch_stats batch;
	struct sp_export_stats exp;
	uint64_t drops[SP_DROP_REASON_MAX]; /* counted by the BPF programs */
	uint64_t bad_records;               /* refused records, unknown probes */
};

/*
 * Read the counters into `v`.  From the reader thread (the pipeline's
 * counters are its own).
 */
void report_collect(struct report_values *v, const struct sp_pipeline *p,
		    const struct sp_batch *bsp, const struct sp_exporter *exp,
		    struct sp_loader *loader, uint64_t unknown_probe);

/* The self-report's lines of `v`: spans, drops, events, export. */
void report_print_values(FILE *out, const struct report_values *v);

/*
 * The self-report: what was traced, exported, dropped and why, including
 * the drops the BPF programs counted.  Printed on exit and with -v.
 */
void report_print(FILE *out, const struct sp_pipeline *p,
		  const struct sp_batch *bsp, const struct sp_exporter *exp,
		  struct sp_loader *loader, uint64_t unknown_probe);

#endif /* SPANPROBE_REPORT_H */
