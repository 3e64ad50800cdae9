// SPDX-License-Identifier: MIT
#include "export/exporter.h"

#include <errno.h>

#include "export/console.h"
#include "export/otlp_exporter.h"

struct sp_exporter *exporter_create(const struct sp_exporter_options *o)
{
	switch (o->output) {
	case SP_OUTPUT_TEXT:
		return console_exporter_create(o->output_file, 0);
	case SP_OUTPUT_OTLP_JSON:
		return console_exporter_create(o->output_file, 1);
	case SP_OUTPUT_OTLP:
		return otlp_exporter_create(o->otlp);
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

	/* The export thread writes them; relaxed loads do not tear. */
	out->spans_exported = __atomic_load_n(&st->spans_exported, __ATOMIC_RELAXED);
	out->spans_failed = __atomic_load_n(&st->spans_failed, __ATOMIC_RELAXED);
	out->spans_timed_out = __atomic_load_n(&st->spans_timed_out, __ATOMIC_RELAXED);
	out->spans_cut_off = __atomic_load_n(&st->spans_cut_off, __ATOMIC_RELAXED);
	out->requests_retried = __atomic_load_n(&st->requests_retried, __ATOMIC_RELAXED);
	out->bytes_raw = __atomic_load_n(&st->bytes_raw, __ATOMIC_RELAXED);
	out->bytes_sent = __atomic_load_n(&st->bytes_sent, __ATOMIC_RELAXED);
	out->write_errors = __atomic_load_n(&st->write_errors, __ATOMIC_RELAXED);
}
