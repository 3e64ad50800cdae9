/* SPDX-License-Identifier: MIT */
/*
 * cli/: settings parsed once into typed values.  It may include every
 * stage below it (export/, capture/ and the others, for their option
 * types) and util/.
 *
 * Everything the command line and the environment configure.  Parsed once
 * at start (cli/options.c); read-only afterwards.
 */
#ifndef SPANPROBE_CONFIG_H
#define SPANPROBE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "export/exporter.h"
#include "export/otlp_config.h"
#include "export/sampler.h"
#include "capture/sockcap.h"

#define SP_MAX_SYMBOLS 64
#define SP_MAX_EXES 16 /* --exe given at most this often */

enum sp_command {
	SP_CMD_RUN = 0, /* node-wide daemon */
	SP_CMD_ATTACH,  /* one running process */
	SP_CMD_TRACE,   /* launch a command and trace it */
	SP_CMD_PROBES,  /* report kernel hooks and exit */
	SP_CMD_VERSION,
	SP_CMD_HELP,
};

struct sp_config {
	enum sp_command command;
	int verbose;
	pid_t pid;                       /* attach -p */
	uint32_t pids[SP_MAX_SYMBOLS];    /* run -p PID...: narrow to these */
	size_t n_pids;
	const char *filter_exes[SP_MAX_EXES]; /* run --exe NAME (globs; any of them) */
	size_t n_exes;
	const char *filter_cgroup;        /* run --cgroup PATH */
	uint32_t filter_port;             /* run --port N */
	const char *symbols[SP_MAX_SYMBOLS]; /* -u SYMBOL or LIBRARY:SYMBOL */
	size_t n_symbols;
	char *const *command_argv;        /* trace -- CMD ARGS */

	enum sp_output output;            /* the exporter (export/exporter.h) */
	const char *output_file;          /* NULL: stdout */
	int with_command_line;            /* export process.command_line */
	const char *service_name;         /* OTEL_SERVICE_NAME */
	const char *resource_attrs;       /* OTEL_RESOURCE_ATTRIBUTES */
	int no_http;                      /* --no-http: function spans only */
	int with_query;                   /* export url.query */
	const char *redact_params;        /* more path parameters removed, comma-separated */
	int db_query_raw;                 /* db.query.text unsanitised */
	int db_server_spans;              /* database servers' SERVER spans too */
	uint32_t capture_bytes;           /* payload captured per socket read/write */
	uint32_t max_connections;         /* connections tracked; full: LRU evicted, counted */
	enum sockcap_hooks http_hooks;    /* --http-hooks: kernel hooks of HTTP capture */
	bool http_hooks_given;            /* on the command line: the environment loses */
	const char *btf_path;             /* --btf: kernel BTF file, NULL: the kernel's own */
	const char *metrics_address;      /* --metrics-address: /metrics, /healthz, /readyz */

	/* Sizes: every buffer has one, and a policy when full. */
	uint32_t ringbuf_bytes;           /* BPF ring buffers, all CPUs'; full: drop, counted in BPF */
	bool ringbuf_shared;              /* --ringbuf-shared: one for all CPUs */
	uint32_t span_pool;               /* spans in flight; empty: drop, counted */
	uint32_t max_threads;             /* threads with open calls; full: drop, counted */
	uint32_t max_depth;               /* open calls per thread; deeper: drop, counted */
	uint32_t max_processes;           /* tracked processes (BPF map) */

	/* Batch span processor (OTEL_BSP_*). */
	uint32_t batch_max_queue;
	uint32_t batch_max_batch;
	uint32_t batch_delay_ms;
	uint32_t batch_export_timeout_ms;
	uint32_t stats_interval_ms;       /* -v: periodic self-report */

	struct sp_otlp_config otlp;
	struct sp_sampler sampler;        /* OTEL_TRACES_SAMPLER */

	/* Kubernetes metadata (k8s/): on in a pod or with a kubeconfig. */
	const char *kubeconfig;           /* --kubeconfig, else $KUBECONFIG */
	const char *node_name;            /* --node-name, else $NODE_NAME, else the host name */
	const char *cluster_name;         /* --cluster-name, else $SPANPROBE_CLUSTER_NAME */
	int no_k8s;                       /* --no-k8s */
	uint32_t k8s_max_pods;            /* pods kept; full: not kept, counted */
};

/* Fill `cfg` with the defaults. */
void config_defaults(struct sp_config *cfg);

#endif /* SPANPROBE_CONFIG_H */
