// SPDX-License-Identifier: MIT
/* spanprobe: zero-code distributed tracing with eBPF. */
#include <stdio.h>

#include "cli/options.h"
#include "daemon/caps.h"
#include "daemon/daemon.h"
#include "export/otlp_config.h"
#include "capture/features.h"
#include "capture/sockhooks.h"

int main(int argc, char **argv)
{
	struct sp_config cfg;
	int status;

	if (options_parse(&cfg, argc, argv)) {
		otlp_config_free(&cfg.otlp);
		return 2;
	}
	if (cfg.btf_path)
		features_set_btf_path(cfg.btf_path);
	switch (cfg.command) {
	case SP_CMD_HELP:
		options_usage(stdout);
		return 0;
	case SP_CMD_VERSION:
		printf("spanprobe %s\n", SP_VERSION);
		return 0;
	case SP_CMD_PROBES:
		features_report(stdout);
		sockhooks_probe_report(stdout, cfg.http_hooks);
		caps_report(stdout);
		return 0;
	default:
		status = daemon_main(&cfg);
		otlp_config_free(&cfg.otlp);
		return status;
	}
}
