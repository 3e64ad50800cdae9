/* SPDX-License-Identifier: MIT */
/*
 * The "otlp" exporter: OTLP/HTTP (protobuf or JSON) and OTLP/gRPC to one
 * endpoint, gzip, retries as the OTLP specification says.
 */
#ifndef SPANPROBE_OTLP_EXPORTER_H
#define SPANPROBE_OTLP_EXPORTER_H

#include "export/diskq.h"
#include "export/exporter.h"
#include "export/export_health.h"
#include "export/otlp_config.h"
#include "transport/http.h"

/*
 * Create the exporter for a finished config (otlp_config_finish()); `cfg`
 * must outlive it.  No connection is opened yet: an endpoint that is down
 * is not an error here.  Returns NULL with errno set (EINVAL: no endpoint
 * or a bad CA file, logged; ENOMEM).
 */
struct sp_exporter *otlp_exporter_create(const struct sp_otlp_config *cfg);

typedef int (*otlp_encode_fn)(struct sp_span *const *spans, size_t count,
			      uint8_t **out, size_t *len);

/*
 * Benchmarks only: encode with `encode` (e.g. the protobuf-c reference,
 * otlp_encode_protobuf()) instead of the exporter's own choice.  The
 * daemon never calls this, so it always sends the hand-written encoder's
 * bytes.  Call before the first export.
 */
void otlp_exporter_set_encoder(struct sp_exporter *exp, otlp_encode_fn encode);

/* Connection counters of the exporter's client (tests, self-report). */
void otlp_exporter_http_stats(const struct sp_exporter *exp,
			      struct http_client_stats *out);

/* How its requests ended, by status, and the failures since the last
 * success (metrics, readiness); any thread. */
void otlp_exporter_health(const struct sp_exporter *exp,
			  struct export_health_snap *out);

/* Counters of the disk queue (--queue-dir).  Returns 0, or -ENOENT when
 * the exporter has none. */
int otlp_exporter_queue_stats(const struct sp_exporter *exp,
			      struct diskq_stats *out);

#endif /* SPANPROBE_OTLP_EXPORTER_H */
