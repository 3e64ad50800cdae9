/* SPDX-License-Identifier: MIT */
/*
 * The exporter of `-o none` (OTEL_TRACES_EXPORTER=none): spans are
 * assembled, sampled and counted as with any other, then let go.  For a
 * node that wants spanprobe's metrics, or its `traceparent` links seen by
 * other tools, without sending spans anywhere.
 */
#ifndef SPANPROBE_DISCARD_H
#define SPANPROBE_DISCARD_H

#include "export/exporter.h"

/* Counts each batch in stats.spans_discarded.  NULL: no memory. */
struct sp_exporter *discard_exporter_create(void);

#endif /* SPANPROBE_DISCARD_H */
