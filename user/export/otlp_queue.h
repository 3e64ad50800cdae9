/* SPDX-License-Identifier: MIT */
/*
 * The OTLP exporter's records in the disk queue (export/diskq.h): one
 * request body each, gzipped on disk whatever the compression setting,
 * with the protocol it was encoded for and whether it is sent gzipped.
 */
#ifndef SPANPROBE_OTLP_QUEUE_H
#define SPANPROBE_OTLP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export/diskq.h"
#include "export/otlp_config.h"

/*
 * Open the queue `cfg` asks for.  Returns it; NULL with errno 0 when no
 * queue is configured, NULL with errno set when it cannot be opened
 * (logged).
 */
struct diskq *otlp_queue_open(const struct sp_otlp_config *cfg);

/*
 * Append a request body of `spans` spans (`gzip`: it is gzipped already,
 * and sent so; else it is gzipped for the disk only).  Returns 0, or what
 * diskq_append() returns (-E2BIG: larger than the budget, dropped and
 * counted), or -ENOMEM.
 */
int otlp_queue_put(struct diskq *q, const struct sp_otlp_config *cfg,
		   const uint8_t *body, size_t len, bool gzip, uint32_t spans);

/*
 * The body to send for record `r`, malloc'd in *body, and whether it is
 * gzipped.  Returns 0, -EPROTO when it was encoded for another protocol
 * than cfg's, -EBADMSG when it does not gunzip, or -ENOMEM.
 */
int otlp_queue_body(const struct sp_otlp_config *cfg,
		    const struct diskq_record *r, uint8_t **body, size_t *len,
		    bool *gzip);

#endif /* SPANPROBE_OTLP_QUEUE_H */
