/* SPDX-License-Identifier: MIT */
/*
 * An exporter for the tests that keeps a copy of each span it is given:
 * exported[0 .. n_exported), the first MAX_SPANS of them (the includer
 * defines MAX_SPANS); n_exported counts them all.
 */
#ifndef SPANPROBE_TEST_KEEP_EXPORTER_H
#define SPANPROBE_TEST_KEEP_EXPORTER_H

#include "export/exporter.h"

static struct sp_span exported[MAX_SPANS];
static int n_exported;

static int keep_spans(struct sp_exporter *exp, struct sp_span *const *spans,
		      size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (n_exported < MAX_SPANS)
			exported[n_exported] = *spans[i];
		n_exported++;
	}
	return 0;
}

static int no_flush(struct sp_exporter *exp)
{
	return 0;
}

static void no_destroy(struct sp_exporter *exp)
{
}

static const struct sp_exporter_ops keep_ops = {
	.name = "test", .export_spans = keep_spans, .flush = no_flush,
	.destroy = no_destroy,
};

#endif /* SPANPROBE_TEST_KEEP_EXPORTER_H */
