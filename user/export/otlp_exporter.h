/* SPDX-License-Identifier: MIT */
/*
 * The "otlp" exporter: OTLP/HTTP (protobuf or JSON) and OTLP/gRPC to one
 * endpoint, gzip, retries as the OTLP specification says.
 */
#ifndef SPANPROBE_OTLP_EXPORTER_H
#define SPANPROBE_OTLP_EXPORTER_H

#include "export/exporter.h"
#include "export/otlp_config.h"
#include "transport/http.h"

/*
 * Create the exporter for a finished config (otlp_config_finish()); `cfg`
 * must outlive it.  No connection is opened yet: an endpoint that is down
 * is not an error here.  Returns NULL with errno set (EINVAL: bad URL or
 * CA file, logged; ENOMEM).
 */
struct sp_exporter *otlp_exporter_create(const struct sp_otlp_config *cfg);

/* Connection counters of the exporter's client (tests, self-report). */
void otlp_exporter_http_stats(const struct sp_exporter *exp,
			      struct http_client_stats *out);

#endif /* SPANPROBE_OTLP_EXPORTER_H */
