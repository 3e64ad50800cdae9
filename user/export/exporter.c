// SPDX-License-Identifier: MIT
#include "export/exporter.h"

#include "cli/config.h"
#include "export/console.h"
#include "export/otlp_exporter.h"

struct sp_exporter *exporter_create(const struct sp_config *cfg)
{
	switch (cfg->output) {
	case SP_OUTPUT_TEXT:
		return console_exporter_create(cfg->output_file, 0);
	case SP_OUTPUT_OTLP_JSON:
		return console_exporter_create(cfg->output_file, 1);
	case SP_OUTPUT_OTLP:
		return otlp_exporter_create(&cfg->otlp);
	}
	return NULL;
}

void exporter_destroy(struct sp_exporter *exp)
{
	if (exp)
		exp->ops->destroy(exp);
}
