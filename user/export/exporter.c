// SPDX-License-Identifier: MIT
#include "export/exporter.h"

#include <errno.h>

#include "export/console.h"
#include "export/discard.h"
#include "export/otlp_exporter.h"
#include "util/counter.h"

struct sp_exporter *exporter_create(const struct sp_exporter_options *o)
{
	switch (o->output) {
	case SP_OUTPUT_TEXT:
		return console_exporter_create(o->output_file, 0);
	case SP_OUTPUT_OTLP_JSON:
		return console_exporter_create(o->output_file, 1);
	case SP_OUTPUT_OTLP:
		return otlp_exporter_create(o->otlp);
	case SP_OUTPUT_NONE:
		return discard_exporter_create();
	}
	errno = EINVAL;
	return NULL;
}

void exporter_destroy(struct sp_exporter *exp)
{
	if (exp)
		exp->ops->destroy(exp);
}

void exporter_set_deadline(struct sp_exporter *exp, int64_t deadline_ms)
{
	if (exp->ops->set_deadline)
		exp->ops->set_deadline(exp, deadline_ms);
}

void exporter_get_stats(const struct sp_exporter *exp, struct sp_export_stats *out)
{
	const struct sp_export_stats *st = &exp->stats;

	/* The export thread writes them (util/counter.h). */
	out->spans_exported = counter_get(&st->spans_exported);
	out->spans_failed = counter_get(&st->spans_failed);
	out->spans_timed_out = counter_get(&st->spans_timed_out);
	out->spans_cut_off = counter_get(&st->spans_cut_off);
	out->requests_retried = counter_get(&st->requests_retried);
	out->bytes_raw = counter_get(&st->bytes_raw);
	out->bytes_sent = counter_get(&st->bytes_sent);
	out->write_errors = counter_get(&st->write_errors);
	out->spans_discarded = counter_get(&st->spans_discarded);
}
