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
