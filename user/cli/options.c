// SPDX-License-Identifier: MIT
#include "cli/options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "export/otlp_config.h"
#include "spanprobe/events.h"
#include "util/log.h"

/* Console output is for people watching: a short delay.  OTLP uses the
 * SDK default (OTEL_BSP_SCHEDULE_DELAY = 5000 ms). */
#define CONSOLE_DELAY_MS 200

void config_defaults(struct sp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ringbuf_bytes = 4u << 20; /* bench/memory.py: no loss at the rates measured */
	cfg->span_pool = 16384;
	cfg->max_threads = 4096;
	cfg->max_depth = 64;
	cfg->max_processes = 4096;
	cfg->batch_max_queue = 2048;
	cfg->batch_max_batch = 512;
	cfg->batch_delay_ms = 5000;
	cfg->batch_export_timeout_ms = 30000;
	cfg->stats_interval_ms = 10000;
	cfg->capture_bytes = 1024;
	cfg->max_connections = 4096;
	cfg->k8s_max_pods = 1024;
	otlp_config_defaults(&cfg->otlp);
	sampler_defaults(&cfg->sampler);
}

void options_usage(FILE *out)
{
	fputs("usage: spanprobe [run] [options]              trace every process on the host\n"
	      "       spanprobe attach -p PID [-u SYMBOL]... [options]\n"
	      "       spanprobe trace [-u SYMBOL]... [options] -- COMMAND [ARGS...]\n"
	      "       spanprobe probes                       what this kernel offers\n"
	      "       spanprobe version\n"
	      "\n"
	      "  -u, --uprobe SYMBOL       span per call of SYMBOL (main executable) or\n"
	      "                            LIBRARY:SYMBOL (e.g. libc.so.6:getaddrinfo)\n"
	      "  -p, --pid PID             the process to attach to; with run, only these (repeatable)\n"
	      "      --exe NAME            run: only processes whose executable, the link it was\n"
	      "                            started by, or comm is NAME (a glob; repeatable)\n"
	      "      --cgroup PATH         run: only processes in cgroup PATH (or below)\n"
	      "      --port N              run: only HTTP spans whose server.port is N\n"
	      "  -o, --output FORMAT       text (default), otlp-json, otlp (to a collector), or\n"
	      "                            none (spans counted, sent nowhere)\n"
	      "      --output-file PATH    write console output to PATH\n"
	      "      --service-name NAME   service.name when the process sets none (and is in no\n"
	      "                            known Kubernetes pod)\n"
	      "      --with-command-line   export process.command_line (may hold secrets)\n"
	      "      --ringbuf-size BYTES  BPF ring buffers, all CPUs' (power of two; default\n"
	      "                            4194304): one per CPU shares it, each at least a page\n"
	      "      --ringbuf-shared      one BPF ring buffer for all CPUs, not one per CPU\n"
	      "      --span-pool N         spans in flight\n"
	      "      --max-threads N       threads with open calls\n"
	      "      --max-depth N         open calls per thread\n"
	      "      --max-processes N     processes tracked\n"
	      "      --no-http             no HTTP capture: function spans only\n"
	      "      --capture-bytes N     bytes captured per socket read/write (64..4096, default 1024)\n"
	      "      --max-connections N   connections tracked (default 4096)\n"
	      "      --http-hooks H        HTTP capture hooks: auto (default: the first that works\n"
	      "                            of the next four), sock (socket tracepoints, Linux 6.3+),\n"
	      "                            fentry (fexit on the TCP functions), kprobes, or\n"
	      "                            syscalls (sys_exit: slows every syscall on the host);\n"
	      "                            default: $SPANPROBE_HTTP_HOOKS\n"
	      "      --with-query          export url.query (off: it may hold secrets)\n"
	      "      --redact-path-params LIST  path parameters removed besides jsessionid,\n"
	      "                            phpsessid, sessionid, sid (names, comma-separated;\n"
	      "                            default: $SPANPROBE_REDACT_PATH_PARAMS)\n"
	      "      --db-query-raw        export db.query.text as sent (off: literals become ?)\n"
	      "      --db-server-spans     SERVER spans in traced database servers too (off:\n"
	      "                            CLIENT spans only, in the applications)\n"
	      "      --btf PATH            kernel BTF file, for kernels without /sys/kernel/btf/vmlinux\n"
	      "                            default: $SPANPROBE_BTF\n"
	      "      --otlp-endpoint URL   send spans to an OTLP collector (implies -o otlp)\n"
	      "      --otlp-protocol P     grpc, http/protobuf (default) or http/json\n"
	      "      --otlp-header K=V     request header (repeatable), e.g. an API key\n"
	      "      --otlp-compression C  gzip (default) or none\n"
	      "      --otlp-timeout MS     per-export timeout\n"
	      "      --otlp-http-version V auto (h2, falling back to HTTP/1.1), 2, 1.1\n"
	      "      --otlp-certificate FILE  CA certificates (PEM) to verify the collector\n"
	      "      --otlp-client-certificate FILE, --otlp-client-key FILE\n"
	      "                            client certificate and key (PEM) for mutual TLS\n"
	      "      --otlp-insecure       a gRPC endpoint given as HOST:PORT: no TLS\n"
	      "      --otlp-headers-file FILE  request headers, one name=value a line\n"
	      "                            (re-read when it changes, as the TLS files are)\n"
	      "      --queue-dir DIR       keep batches the collector cannot take in DIR, send\n"
	      "                            them in order when it is back (off by default)\n"
	      "      --queue-max-bytes N   budget of that queue (K/M/G; default 256M): when\n"
	      "                            full, the oldest batches are dropped and counted\n"
	      "      --metrics-address A   serve /metrics (Prometheus), /healthz and /readyz on\n"
	      "                            A (IP:PORT, [IPv6]:PORT or :PORT; off by default;\n"
	      "                            default: $SPANPROBE_METRICS_ADDRESS)\n"
	      "      --kubeconfig FILE     Kubernetes metadata from FILE's current context\n"
	      "                            (default: $KUBECONFIG; in a pod: its service account)\n"
	      "      --node-name NAME      this node (default: $NODE_NAME, else the host name)\n"
	      "      --cluster-name NAME   k8s.cluster.name (default: $SPANPROBE_CLUSTER_NAME)\n"
	      "      --k8s-max-pods N      pods kept (default 1024)\n"
	      "      --no-k8s              no Kubernetes metadata\n"
	      "  -v, --verbose             start-up report and periodic counters (-vv: libbpf;\n"
	      "                            -vvv: every socket and TLS record)\n"
	      "  -h, --help\n"
	      "\n"
	      "Environment: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_MAX_QUEUE_SIZE,\n"
	      "OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT,\n"
	      "OTEL_EXPORTER_OTLP_[TRACES_]* (ENDPOINT, PROTOCOL, HEADERS, COMPRESSION, TIMEOUT,\n"
	      "INSECURE, CERTIFICATE, CLIENT_CERTIFICATE, CLIENT_KEY), SPANPROBE_OTLP_HEADERS_FILE,\n"
	      "OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG.\n",
	      out);
}

/* Parse a positive number in [1, max].  -EINVAL with a message otherwise. */
static int parse_u32(const char *what, const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max) {
		sp_err("%s: '%s' is not a number from 1 to %u", what, s, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int env_u32(const char *name, uint32_t *out)
{
	const char *v = getenv(name);

	return v && *v ? parse_u32(name, v, INT32_MAX, out) : 0;
}

/* $SPANPROBE_HTTP_HOOKS: --http-hooks for a whole fleet (the option wins). */
static int env_http_hooks(struct sp_config *cfg)
{
	const char *v = getenv("SPANPROBE_HTTP_HOOKS");

	if (cfg->http_hooks_given || !v || !*v)
		return 0;
	if (sockhooks_parse(v, &cfg->http_hooks)) {
		sp_err("SPANPROBE_HTTP_HOOKS: '%s' is not one of %s", v, sockhooks_names());
		return -EINVAL;
	}
	return 0;
}

static int parse_env(struct sp_config *cfg)
{
	const char *delay = getenv("OTEL_BSP_SCHEDULE_DELAY");

	cfg->service_name = getenv("OTEL_SERVICE_NAME");
	cfg->resource_attrs = getenv("OTEL_RESOURCE_ATTRIBUTES");
	if (!cfg->redact_params) /* the command line wins */
		cfg->redact_params = getenv("SPANPROBE_REDACT_PATH_PARAMS");
	if (!cfg->btf_path) { /* a fleet's BTF file; the command line wins */
		cfg->btf_path = getenv("SPANPROBE_BTF");
		if (cfg->btf_path && !*cfg->btf_path)
			cfg->btf_path = NULL;
	}
	if (!cfg->metrics_address) {
		cfg->metrics_address = getenv("SPANPROBE_METRICS_ADDRESS");
		if (cfg->metrics_address && !*cfg->metrics_address)
			cfg->metrics_address = NULL;
	}
	if (cfg->output != SP_OUTPUT_OTLP && !(delay && *delay))
		cfg->batch_delay_ms = CONSOLE_DELAY_MS;
	return env_http_hooks(cfg) ||
	       env_u32("OTEL_BSP_MAX_QUEUE_SIZE", &cfg->batch_max_queue) ||
	       env_u32("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &cfg->batch_max_batch) ||
	       env_u32("OTEL_BSP_SCHEDULE_DELAY", &cfg->batch_delay_ms) ||
	       env_u32("OTEL_BSP_EXPORT_TIMEOUT", &cfg->batch_export_timeout_ms)
		       ? -EINVAL
		       : 0;
}

static int parse_command(struct sp_config *cfg, int *argc, char ***argv)
{
	static const struct { const char *name; enum sp_command cmd; } cmds[] = {
		{ "run", SP_CMD_RUN },       { "attach", SP_CMD_ATTACH },
		{ "trace", SP_CMD_TRACE },   { "probes", SP_CMD_PROBES },
		{ "version", SP_CMD_VERSION }, { "help", SP_CMD_HELP },
	};

	cfg->command = SP_CMD_RUN;
	if (*argc < 2 || (*argv)[1][0] == '-')
		return 0;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp((*argv)[1], cmds[i].name) == 0) {
			cfg->command = cmds[i].cmd;
			(*argc)--;
			(*argv)++;
			return 0;
		}
	}
	sp_err("unknown command '%s' (try spanprobe --help)", (*argv)[1]);
	return -EINVAL;
}

enum {
	OPT_OUTPUT_FILE = 256,
	OPT_SERVICE_NAME,
	OPT_WITH_CMDLINE,
	OPT_RINGBUF,
	OPT_RINGBUF_SHARED,
	OPT_POOL,
	OPT_THREADS,
	OPT_DEPTH,
	OPT_PROCESSES,
	OPT_BTF,
	OPT_NO_HTTP,
	OPT_WITH_QUERY,
	OPT_REDACT_PARAMS,
	OPT_DB_QUERY_RAW,
	OPT_DB_SERVER_SPANS,
	OPT_CAPTURE,
	OPT_CONNS,
	OPT_HTTP_HOOKS,
	OPT_EXE,
	OPT_CGROUP,
	OPT_PORT,
	OPT_OTLP_ENDPOINT,
	OPT_OTLP_PROTOCOL,
	OPT_OTLP_HEADER,
	OPT_OTLP_COMPRESSION,
	OPT_OTLP_TIMEOUT,
	OPT_OTLP_HTTP_VERSION,
	OPT_OTLP_CERTIFICATE,
	OPT_OTLP_CLIENT_CERT,
	OPT_OTLP_CLIENT_KEY,
	OPT_OTLP_INSECURE,
	OPT_OTLP_HEADERS_FILE,
	OPT_QUEUE_DIR,
	OPT_QUEUE_MAX_BYTES,
	OPT_METRICS_ADDRESS, /* after the OTLP flags' range */
	OPT_KUBECONFIG,
	OPT_NODE_NAME,
	OPT_CLUSTER_NAME,
	OPT_K8S_MAX_PODS,
	OPT_NO_K8S,
};

/* OTLP flags are applied after the environment is read, so they win. */
struct otlp_flag {
	int opt;
	const char *arg;
};

static const struct option long_opts[] = {
	{ "uprobe", required_argument, NULL, 'u' },
	{ "pid", required_argument, NULL, 'p' },
	{ "output", required_argument, NULL, 'o' },
	{ "output-file", required_argument, NULL, OPT_OUTPUT_FILE },
	{ "service-name", required_argument, NULL, OPT_SERVICE_NAME },
	{ "with-command-line", no_argument, NULL, OPT_WITH_CMDLINE },
	{ "ringbuf-size", required_argument, NULL, OPT_RINGBUF },
	{ "ringbuf-shared", no_argument, NULL, OPT_RINGBUF_SHARED },
	{ "span-pool", required_argument, NULL, OPT_POOL },
	{ "max-threads", required_argument, NULL, OPT_THREADS },
	{ "max-depth", required_argument, NULL, OPT_DEPTH },
	{ "max-processes", required_argument, NULL, OPT_PROCESSES },
	{ "btf", required_argument, NULL, OPT_BTF },
	{ "no-http", no_argument, NULL, OPT_NO_HTTP },
	{ "with-query", no_argument, NULL, OPT_WITH_QUERY },
	{ "redact-path-params", required_argument, NULL, OPT_REDACT_PARAMS },
	{ "db-query-raw", no_argument, NULL, OPT_DB_QUERY_RAW },
	{ "db-server-spans", no_argument, NULL, OPT_DB_SERVER_SPANS },
	{ "capture-bytes", required_argument, NULL, OPT_CAPTURE },
	{ "max-connections", required_argument, NULL, OPT_CONNS },
	{ "http-hooks", required_argument, NULL, OPT_HTTP_HOOKS },
	{ "exe", required_argument, NULL, OPT_EXE },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "otlp-endpoint", required_argument, NULL, OPT_OTLP_ENDPOINT },
	{ "otlp-protocol", required_argument, NULL, OPT_OTLP_PROTOCOL },
	{ "otlp-header", required_argument, NULL, OPT_OTLP_HEADER },
	{ "otlp-compression", required_argument, NULL, OPT_OTLP_COMPRESSION },
	{ "otlp-timeout", required_argument, NULL, OPT_OTLP_TIMEOUT },
	{ "otlp-http-version", required_argument, NULL, OPT_OTLP_HTTP_VERSION },
	{ "otlp-certificate", required_argument, NULL, OPT_OTLP_CERTIFICATE },
	{ "otlp-client-certificate", required_argument, NULL, OPT_OTLP_CLIENT_CERT },
	{ "otlp-client-key", required_argument, NULL, OPT_OTLP_CLIENT_KEY },
	{ "otlp-insecure", no_argument, NULL, OPT_OTLP_INSECURE },
	{ "otlp-headers-file", required_argument, NULL, OPT_OTLP_HEADERS_FILE },
	{ "queue-dir", required_argument, NULL, OPT_QUEUE_DIR },
	{ "queue-max-bytes", required_argument, NULL, OPT_QUEUE_MAX_BYTES },
	{ "metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS },
	{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
	{ "node-name", required_argument, NULL, OPT_NODE_NAME },
	{ "cluster-name", required_argument, NULL, OPT_CLUSTER_NAME },
	{ "k8s-max-pods", required_argument, NULL, OPT_K8S_MAX_PODS },
	{ "no-k8s", no_argument, NULL, OPT_NO_K8S },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_output(struct sp_config *cfg, const char *v)
{
	if (strcmp(v, "text") == 0)
		cfg->output = SP_OUTPUT_TEXT;
	else if (strcmp(v, "otlp-json") == 0)
		cfg->output = SP_OUTPUT_OTLP_JSON;
	else if (strcmp(v, "otlp") == 0)
		cfg->output = SP_OUTPUT_OTLP;
	else if (strcmp(v, "none") == 0)
		cfg->output = SP_OUTPUT_NONE;
	else {
		sp_err("--output: '%s' is not one of text, otlp-json, otlp, none", v);
		return -EINVAL;
	}
	return 0;
}

static int parse_one(struct sp_config *cfg, int opt, const char *arg,
		     const char **service_flag)
{
	uint32_t pid;

	switch (opt) {
	case 'u':
		if (cfg->n_symbols == SP_MAX_SYMBOLS) {
			sp_err("-u: at most %d symbols", SP_MAX_SYMBOLS);
			return -EINVAL;
		}
		if (!*arg || arg[strlen(arg) - 1] == ':') {
			sp_err("-u: '%s' names no function", arg);
			return -EINVAL;
		}
		cfg->symbols[cfg->n_symbols++] = arg;
		return 0;
	case 'p':
		if (parse_u32("-p", arg, INT32_MAX, &pid))
			return -EINVAL;
		if (cfg->n_pids == SP_MAX_SYMBOLS) {
			sp_err("-p: at most %d processes", SP_MAX_SYMBOLS);
			return -EINVAL;
		}
		cfg->pid = (pid_t)pid;
		cfg->pids[cfg->n_pids++] = pid;
		return 0;
	case OPT_EXE:
		if (cfg->n_exes == SP_MAX_EXES) {
			sp_err("--exe: at most %d names", SP_MAX_EXES);
			return -EINVAL;
		}
		if (!*arg) {
			sp_err("--exe: an empty name matches no process");
			return -EINVAL;
		}
		cfg->filter_exes[cfg->n_exes++] = arg;
		return 0;
	case OPT_CGROUP:
		cfg->filter_cgroup = arg;
		return 0;
	case OPT_PORT:
		return parse_u32("--port", arg, 65535, &cfg->filter_port);
	case 'o':
		return parse_output(cfg, arg);
	case OPT_OUTPUT_FILE:
		cfg->output_file = arg;
		return 0;
	case OPT_SERVICE_NAME:
		*service_flag = arg;
		return 0;
	case OPT_WITH_CMDLINE:
		cfg->with_command_line = 1;
		return 0;
	case OPT_RINGBUF_SHARED:
		cfg->ringbuf_shared = true;
		return 0;
	case OPT_RINGBUF:
		if (parse_u32("--ringbuf-size", arg, 1u << 30, &cfg->ringbuf_bytes))
			return -EINVAL;
		if (cfg->ringbuf_bytes < 4096 ||
		    (cfg->ringbuf_bytes & (cfg->ringbuf_bytes - 1))) {
			sp_err("--ringbuf-size: %s is not a power of two of at least 4096", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_POOL:
		return parse_u32("--span-pool", arg, 1u << 22, &cfg->span_pool);
	case OPT_THREADS:
		return parse_u32("--max-threads", arg, 1u << 20, &cfg->max_threads);
	case OPT_DEPTH:
		return parse_u32("--max-depth", arg, 4096, &cfg->max_depth);
	case OPT_PROCESSES:
		return parse_u32("--max-processes", arg, 1u << 20, &cfg->max_processes);
	case OPT_BTF:
		cfg->btf_path = arg;
		return 0;
	case OPT_NO_HTTP:
		cfg->no_http = 1;
		return 0;
	case OPT_WITH_QUERY:
		cfg->with_query = 1;
		return 0;
	case OPT_REDACT_PARAMS:
		cfg->redact_params = arg;
		return 0;
	case OPT_DB_QUERY_RAW:
		cfg->db_query_raw = 1;
		return 0;
	case OPT_DB_SERVER_SPANS:
		cfg->db_server_spans = 1;
		return 0;
	case OPT_CAPTURE:
		if (parse_u32("--capture-bytes", arg, SP_SOCK_CAPTURE_MAX, &cfg->capture_bytes))
			return -EINVAL;
		if (cfg->capture_bytes < 64) {
			sp_err("--capture-bytes: at least 64");
			return -EINVAL;
		}
		return 0;
	case OPT_CONNS:
		return parse_u32("--max-connections", arg, 1u << 22, &cfg->max_connections);
	case OPT_HTTP_HOOKS:
		if (sockhooks_parse(arg, &cfg->http_hooks)) {
			sp_err("--http-hooks: '%s' is not one of %s", arg, sockhooks_names());
			return -EINVAL;
		}
		cfg->http_hooks_given = true;
		return 0;
	case OPT_METRICS_ADDRESS:
		cfg->metrics_address = arg;
		return 0;
	case OPT_KUBECONFIG:
		cfg->kubeconfig = arg;
		return 0;
	case OPT_NODE_NAME:
		cfg->node_name = arg;
		return 0;
	case OPT_CLUSTER_NAME:
		cfg->cluster_name = arg;
		return 0;
	case OPT_K8S_MAX_PODS:
		return parse_u32("--k8s-max-pods", arg, 1u << 20, &cfg->k8s_max_pods);
	case OPT_NO_K8S:
		cfg->no_k8s = 1;
		return 0;
	case 'v':
		cfg->verbose++;
		return 0;
	case 'h':
		cfg->command = SP_CMD_HELP;
		return 0;
	}
	sp_err("bad option (try spanprobe --help)");
	return -EINVAL;
}

static int check_command(const struct sp_config *cfg)
{
	if (cfg->command == SP_CMD_ATTACH && cfg->n_pids > 1) {
		sp_err("attach: one -p PID (spanprobe run -p PID -p PID... narrows the node-wide mode)");
		return -EINVAL;
	}
	if (cfg->command != SP_CMD_RUN &&
	    (cfg->n_exes || cfg->filter_cgroup || cfg->filter_port)) {
		sp_err("--exe, --cgroup and --port narrow 'spanprobe run'");
		return -EINVAL;
	}
	if (cfg->command == SP_CMD_ATTACH && cfg->pid == 0) {
		sp_err("attach: which process? give -p PID");
		return -EINVAL;
	}
	if (cfg->command == SP_CMD_TRACE && cfg->n_pids) {
		sp_err("trace: -p is for attach and run; trace follows the command it "
		       "starts (after --)");
		return -EINVAL;
	}
	if (cfg->command == SP_CMD_TRACE && !cfg->command_argv) {
		sp_err("trace: which command? give it after --");
		return -EINVAL;
	}
	if (cfg->command != SP_CMD_TRACE && cfg->command_argv) {
		sp_err("a command after -- is only for 'spanprobe trace'");
		return -EINVAL;
	}
	return 0;
}

static int apply_otlp_flag(struct sp_otlp_config *o, const struct otlp_flag *f)
{
	switch (f->opt) {
	case OPT_OTLP_ENDPOINT:
		return otlp_config_set_endpoint(o, f->arg);
	case OPT_OTLP_PROTOCOL:
		return otlp_config_set_protocol(o, f->arg);
	case OPT_OTLP_HEADER:
		return otlp_config_set_header(o, f->arg);
	case OPT_OTLP_COMPRESSION:
		return otlp_config_set_compression(o, f->arg);
	case OPT_OTLP_TIMEOUT:
		return otlp_config_set_timeout(o, f->arg);
	case OPT_OTLP_CERTIFICATE:
		return otlp_config_set_certificate(o, f->arg);
	case OPT_OTLP_CLIENT_CERT:
		return otlp_config_set_client_certificate(o, f->arg);
	case OPT_OTLP_CLIENT_KEY:
		return otlp_config_set_client_key(o, f->arg);
	case OPT_OTLP_INSECURE:
		return otlp_config_set_insecure(o);
	case OPT_OTLP_HEADERS_FILE:
		return otlp_config_set_headers_file(o, f->arg);
	case OPT_QUEUE_DIR:
		o->queue_dir = f->arg;
		return 0;
	case OPT_QUEUE_MAX_BYTES:
		return otlp_config_set_queue_max_bytes(o, f->arg);
	default:
		return otlp_config_set_http_version(o, f->arg);
	}
}

static const struct {
	const char *name;
	enum sp_output output;
} traces_exporters[] = {
	{ "otlp", SP_OUTPUT_OTLP },
	{ "console", SP_OUTPUT_TEXT },
	{ "none", SP_OUTPUT_NONE },
};

/* One name of OTEL_TRACES_EXPORTER, [s, s + n): its index, or -1. */
static int traces_exporter(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(traces_exporters) / sizeof(traces_exporters[0]); i++)
		if (strlen(traces_exporters[i].name) == n &&
		    strncasecmp(traces_exporters[i].name, s, n) == 0)
			return (int)i;
	return -1;
}

/*
 * OTEL_TRACES_EXPORTER, as the SDK specification reads it: a list of
 * otlp, console and none, any case, blanks around each name ignored, an
 * unknown name said and left out.  spanprobe sends spans to one place: of
 * several names the first known one is taken, and the others said.
 * Returns whether it chose the output.
 */
static bool env_traces_exporter(struct sp_config *cfg)
{
	const char *v = getenv("OTEL_TRACES_EXPORTER"), *p = v;
	int chosen = -1;

	while (p && *p) {
		const char *end = strchrnul(p, ','), *s = p;
		size_t n = (size_t)(end - p);
		int i;

		while (n && (*s == ' ' || *s == '\t'))
			s++, n--;
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		p = *end ? end + 1 : end;
		if (!n)
			continue;
		i = traces_exporter(s, n);
		if (i < 0)
			sp_warn("OTEL_TRACES_EXPORTER: '%.*s' is not one of otlp, console, "
				"none: left out", (int)n, s);
		else if (chosen >= 0 && i != chosen)
			sp_warn("OTEL_TRACES_EXPORTER: spans go to one place, %s: '%.*s' "
				"left out", traces_exporters[chosen].name, (int)n, s);
		else
			chosen = i;
	}
	if (chosen < 0)
		return false;
	cfg->output = traces_exporters[chosen].output;
	return true;
}

/*
 * The exporter: -o, else OTLP when --otlp-endpoint is given, else
 * OTEL_TRACES_EXPORTER, else OTLP when the environment names an endpoint,
 * else the console.
 */
static int configure_export(struct sp_config *cfg, const struct otlp_flag *flags,
			    size_t n_flags, bool output_given)
{
	bool endpoint_flag = false;

	if (otlp_config_from_env(&cfg->otlp, NULL))
		return -EINVAL;
	for (size_t i = 0; i < n_flags; i++) {
		if (apply_otlp_flag(&cfg->otlp, &flags[i]))
			return -EINVAL;
		endpoint_flag |= flags[i].opt == OPT_OTLP_ENDPOINT;
	}
	/* Spans go to one place: an endpoint asked for is not dropped unsaid. */
	if (endpoint_flag && output_given && cfg->output != SP_OUTPUT_OTLP) {
		sp_err("--otlp-endpoint sends spans to a collector, -o %s %s: "
		       "give one of them",
		       cfg->output == SP_OUTPUT_TEXT ? "text" :
		       cfg->output == SP_OUTPUT_NONE ? "none" : "otlp-json",
		       cfg->output == SP_OUTPUT_NONE ? "nowhere" : "to the console");
		return -EINVAL;
	}
	/* A sampler setting it cannot use is reported and replaced by the
	 * default (the SDK specification), not fatal. */
	sampler_from_env(&cfg->sampler, NULL);
	if (!output_given && (endpoint_flag || !env_traces_exporter(cfg)) &&
	    cfg->otlp.enabled)
		cfg->output = SP_OUTPUT_OTLP;
	if (cfg->output != SP_OUTPUT_OTLP) {
		if (cfg->otlp.queue_dir)
			sp_info("--queue-dir: not used, spans go %s",
				cfg->output == SP_OUTPUT_NONE ? "nowhere" : "to the console");
		return 0;
	}
	return otlp_config_finish(&cfg->otlp) ? -EINVAL : 0;
}

int options_parse(struct sp_config *cfg, int argc, char **argv)
{
	struct otlp_flag otlp_flags[SP_OTLP_MAX_HEADERS + 16];
	const char *service_flag = NULL;
	size_t n_otlp = 0;
	bool output_given = false;
	int opt;

	config_defaults(cfg);
	if (parse_command(cfg, &argc, &argv))
		return -EINVAL;
	optind = 1;
	opterr = 0;
	/* '+': stop at the first non-option, so the traced command's own
	 * options are left alone. */
	while ((opt = getopt_long(argc, argv, "+u:p:o:vh", long_opts, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			sp_err("unknown option or missing value: %s (try spanprobe --help)",
			       argv[optind - 1]);
			return -EINVAL;
		}
		if (opt >= OPT_OTLP_ENDPOINT && opt <= OPT_QUEUE_MAX_BYTES) {
			if (n_otlp == sizeof(otlp_flags) / sizeof(otlp_flags[0])) {
				sp_err("too many --otlp-* flags");
				return -EINVAL;
			}
			otlp_flags[n_otlp++] = (struct otlp_flag){ opt, optarg };
			continue;
		}
		output_given |= opt == 'o';
		if (parse_one(cfg, opt, optarg, &service_flag))
			return -EINVAL;
	}
	if (optind < argc)
		cfg->command_argv = &argv[optind];
	if (configure_export(cfg, otlp_flags, n_otlp, output_given) || parse_env(cfg))
		return -EINVAL;
	if (service_flag)
		cfg->service_name = service_flag;
	if (cfg->verbose)
		log_set_level(cfg->verbose > 1 ? SP_LOG_DEBUG : SP_LOG_INFO);
	return cfg->command == SP_CMD_HELP ? 0 : check_command(cfg);
}
