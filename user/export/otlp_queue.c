// SPDX-License-Identifier: MIT
#include "export/otlp_queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export/compress.h"
#include "util/log.h"

#define FLAG_SENT_GZIP 0x1u   /* the body is sent as stored */
#define PROTOCOL_SHIFT 8      /* enum sp_otlp_protocol in bits 8..15 */

struct diskq *otlp_queue_open(const struct sp_otlp_config *cfg)
{
	struct diskq_opts o = { .dir = cfg->queue_dir,
				.max_bytes = cfg->queue_max_bytes };
	struct diskq_stats st;
	struct diskq *q;

	if (!cfg->queue_dir) {
		errno = 0;
		return NULL;
	}
	q = diskq_open(&o);
	if (!q)
		return NULL;
	diskq_get_stats(q, &st);
	sp_info("export: disk queue in %s (budget %llu bytes): %llu batches"
		" (%llu spans) waiting", cfg->queue_dir,
		(unsigned long long)cfg->queue_max_bytes,
		(unsigned long long)st.pending,
		(unsigned long long)st.pending_spans);
	return q;
}

int otlp_queue_put(struct diskq *q, const struct sp_otlp_config *cfg,
		   const uint8_t *body, size_t len, bool gzip, uint32_t spans)
{
	uint32_t flags = (uint32_t)cfg->protocol << PROTOCOL_SHIFT;
	uint8_t *z;
	size_t zlen;
	int ret;

	if (gzip)
		return diskq_append(q, body, len, spans, flags | FLAG_SENT_GZIP);
	ret = compress_gzip(body, len, cfg->gzip_level ? cfg->gzip_level : 1,
			    &z, &zlen);
	if (ret)
		return ret;
	ret = diskq_append(q, z, zlen, spans, flags);
	free(z);
	return ret;
}

int otlp_queue_body(const struct sp_otlp_config *cfg,
		    const struct diskq_record *r, uint8_t **body, size_t *len,
		    bool *gzip)
{
	if ((r->flags >> PROTOCOL_SHIFT & 0xff) != (uint32_t)cfg->protocol)
		return -EPROTO;
	*gzip = r->flags & FLAG_SENT_GZIP;
	if (!*gzip)
		return compress_gunzip(r->data, r->len, SP_OTLP_MAX_BODY, body, len);
	*body = malloc(r->len ? r->len : 1);
	if (!*body)
		return -ENOMEM;
	memcpy(*body, r->data, r->len);
	*len = r->len;
	return 0;
}
