// SPDX-License-Identifier: MIT
/*
 * The daemon's life cycle: check the kernel, resolve targets, build the
 * pipeline (pool -> assembly -> batch processor -> exporter), load and
 * attach the BPF programs, poll the ring buffer until told to stop, then
 * detach, drain, flush and report.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "assemble/funcspan.h"
#include "assemble/pipeline_impl.h"
#include "assemble/process.h"
#include "span/spanpool.h"
#include "daemon/caps.h"
#include "daemon/memory.h"
#include "daemon/metrics.h"
#include "daemon/report.h"
#include "daemon/targets.h"
#include "export/batch.h"
#include "export/exporter.h"
#include "export/otlp_exporter.h"
#include "export/sampler.h"
#include "capture/launcher.h"
#include "capture/libpath.h"
#include "capture/procfs.h"
#include "capture/loader.h"
#include "capture/features.h"
#include "capture/sockcap.h"
#include "capture/tlscap.h"
#include "assemble/exchange.h"
#include "protocol/ownconns.h"
#include "protocol/protocol.h"
#include "transport/conn.h"
#include "k8s/meta.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/slice.h"
#include "util/u32map.h"

#define POLL_MS 100
/* trace: told to stop, the command's own shutdown is read this long. */
#define TRACE_GRACE_MS 5000
#define CLOCK_SYNC_NS (5ULL * 1000000000ULL)
/* Export connections remembered: the pool's, and closed ones for a while. */
#define OWN_CONNS_MAX 256

/*
 * trace: the children (and their children) of the command, given the
 * function probes when their fork record is read.  The links are per
 * process (the kernel matches them by it), so each followed process has
 * its own, released when it ends.  At most --max-processes at a time.
 */
struct sp_followed {
	struct sp_u32map pids; /* processes whose links are theirs to release */
	bool ready;
	uint64_t attached;     /* given the probes */
	uint64_t gone;         /* ended before their probes were attached */
	uint64_t full;         /* refused: --max-processes followed already */
	uint64_t failed;       /* refused: the kernel did not attach them */
};

struct sp_daemon {
	const struct sp_config *cfg;
	uint64_t ring_lost; /* records lost to a full ring buffer, as last told */
	struct sp_resource_defaults resource_defaults;
	struct sp_target *targets;
	const char *names[SP_MAX_SYMBOLS];
	struct sp_spanpool pool;
	struct sp_batch bsp;
	bool batch_started;
	struct sp_exporter *exporter;
	struct sp_pipeline *pipeline;
	struct sp_funcspan funcs;
	bool funcs_off;          /* the kernel cannot trace functions */
	uint64_t stop_ns;        /* told to stop then (CLOCK_MONOTONIC); 0: running */
	struct sp_loader loader;
	struct sockcap *sockcap; /* HTTP capture; NULL when off */
	struct tlscap *tlscap;   /* its TLS plaintext; NULL when off */
	struct exchange_spans *exchanges; /* its decoders and spans */
	struct ownconns *own_conns; /* the exporter's connections; NULL: none */
	bool sockcap_closed;
	pid_t target_pid;      /* attach: the process; trace: the command */
	bool target_exited;
	struct sp_child child; /* trace only */
	bool child_exec_seen;
	uint64_t grace_end_ns;  /* trace: told to stop; reading until then */
	int exit_status;
	pthread_t watcher;        /* during shutdown: waits for the signal
				   * that ends it at once */
	bool watching;
	int signals_to_abort;
	bool export_stuck; /* the export thread outlived shutdown: it still
			    * uses the exporter and the pool */
	struct metrics *metrics; /* --metrics-address; NULL: off */
	struct k8s_meta *k8s;     /* Kubernetes metadata; NULL when off */
	struct sp_followed followed; /* trace: children with function probes */
};

static void follow_fork(struct sp_daemon *d, pid_t parent, pid_t child);
static void follow_exit(struct sp_daemon *d, pid_t pid);

/* Set by the signal handler, read by the main and the watcher threads:
 * atomic accesses (a volatile sig_atomic_t is only safe for one thread).
 * stop_requested is the first signal, stop_code its si_code. */
static int stop_requested;
static int stop_code;
static int signals_seen;
/* The handler writes a byte: shutdown's watcher wakes up (self-pipe). */
static int signal_pipe[2] = { -1, -1 };

/* Wake the watcher; a full pipe means a wake-up is pending anyway. */
static void signal_pipe_poke(void)
{
	ssize_t n = signal_pipe[1] >= 0 ? write(signal_pipe[1], "", 1) : 0;

	(void)n;
}

static void on_signal(int sig, siginfo_t *si, void *uctx)
{
	int saved = errno, none = 0;

	if (__atomic_compare_exchange_n(&stop_requested, &none, sig, false,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		__atomic_store_n(&stop_code, si->si_code, __ATOMIC_RELAXED);
	__atomic_add_fetch(&signals_seen, 1, __ATOMIC_RELAXED);
	signal_pipe_poke();
	errno = saved;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };

	if (pipe2(signal_pipe, O_NONBLOCK | O_CLOEXEC))
		sp_warn("daemon: no pipe for signals (%s): a second signal will "
			"not hurry the shutdown", strerror(errno));
	/* No SA_RESTART: a signal must interrupt the ring-buffer poll. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* SIG_IGN, inherited across exec from a parent that ignores it, has
	 * the kernel reap the command: its status would be lost. */
	signal(SIGCHLD, SIG_DFL);
}

static int on_event(void *ctx, const struct sp_event_header *hdr, size_t size)
{
	struct sp_daemon *d = ctx;

	switch (hdr->type) {
	case SP_EV_FUNC_ENTRY:
	case SP_EV_FUNC_RETURN:
		/* Removing the probes takes a while (a grace period per link):
		 * what ran after the stop is not part of the trace, so a call
		 * in flight stays open (counted at exit). */
		if (!d->stop_ns || hdr->ts_ns <= d->stop_ns)
			funcspan_handle(&d->funcs, (const struct sp_func_event *)hdr);
		return 0;
	case SP_EV_THREAD_EXIT: {
		bool process_exit = hdr->flags & SP_TASK_F_PROCESS_EXIT;

		pipeline_thread_exit(d->pipeline, hdr->pid, hdr->tid, process_exit);
		if (process_exit)
			follow_exit(d, (pid_t)hdr->pid);
		if (process_exit && d->tlscap)
			tlscap_process_exit(d->tlscap, (pid_t)hdr->pid);
		if (process_exit && (pid_t)hdr->pid == d->target_pid)
			d->target_exited = true;
		return 0;
	}
	case SP_EV_PROC_EXEC:
		if (d->tlscap) /* its TLS libraries, once the loader mapped them */
			tlscap_rescan_later(d->tlscap, (pid_t)hdr->pid, clock_mono_ms());
		/* The launched command's own exec: its resource is known. */
		if ((pid_t)hdr->pid == d->child.pid && !d->child_exec_seen)
			d->child_exec_seen = true;
		else
			pipeline_process_exec(d->pipeline, hdr->pid,
					      ((const struct sp_exec_event *)hdr)->filename);
		return 0;
	case SP_EV_PROC_FORK:
		follow_fork(d, (pid_t)hdr->pid,
			    (pid_t)((const struct sp_fork_event *)hdr)->child_pid);
		return 0;
	}
	if (d->sockcap && sockcap_owns(hdr->type)) {
		sockcap_handle(d->sockcap, hdr, size);
		return 0;
	}
	if (d->tlscap && tlscap_owns(hdr->type)) {
		tlscap_handle(d->tlscap, hdr, clock_mono_ms());
		return 0;
	}
	loader_count_unhandled(&d->loader);
	return 0;
}

/* The configured sampler: root spans, and spans of a remote parent. */
static bool sample_span(void *ctx, const uint8_t trace_id[16], bool has_parent,
			bool parent_sampled)
{
	return sampler_keep(ctx, trace_id, parent_sampled, has_parent);
}

static void own_conn_opened(void *ctx, const struct sockaddr *local,
			    const struct sockaddr *peer)
{
	ownconns_add(ctx, local, peer); /* full: counted and reported */
}

static void own_conn_closed(void *ctx, const struct sockaddr *local,
			    const struct sockaddr *peer)
{
	ownconns_remove(ctx, local, peer);
}

/*
 * The exporter's connections (and the Kubernetes API's) are left out of
 * HTTP capture at both ends: a collector on this host would otherwise
 * yield a span per export request, exported in the next one, forever.
 */
static int watch_own_conns(struct sp_daemon *d, const struct k8s_meta_opts *k8s)
{
	if (d->cfg->output != SP_OUTPUT_OTLP && (d->cfg->no_k8s || !k8s_meta_wanted(k8s)))
		return 0;
	d->own_conns = ownconns_create(OWN_CONNS_MAX);
	if (!d->own_conns) {
		sp_err("export: out of memory for %u own connections", OWN_CONNS_MAX);
		return -ENOMEM;
	}
	conn_set_observer(&(struct conn_observer){ .opened = own_conn_opened,
						   .closed = own_conn_closed,
						   .ctx = d->own_conns });
	return 0;
}

/* Kubernetes metadata: on in a pod or with a kubeconfig (k8s/meta.h). */
static int start_k8s(struct sp_daemon *d, const struct k8s_meta_opts *o)
{
	if (d->cfg->no_k8s)
		return 0;
	d->k8s = k8s_meta_start(o);
	if (!d->k8s)
		return errno == ENODEV ? 0 : -errno;
	d->resource_defaults.enricher = k8s_meta_enricher(d->k8s);
	return 0;
}

static void k8s_report(struct sp_daemon *d)
{
	struct k8s_meta_stats ks;

	if (!d->k8s)
		return;
	k8s_meta_get_stats(d->k8s, &ks);
	fprintf(stderr, "spanprobe: k8s: %u pods known, %llu not kept (table full), "
		"%llu with containers not kept (over 16), %llu watch restarts, %llu relists, "
		"%llu API errors, %llu ReplicaSet lookups, %llu resources refreshed\n", ks.pods,
		(unsigned long long)ks.pods_dropped, (unsigned long long)ks.pods_cut,
		(unsigned long long)ks.watch_restarts,
		(unsigned long long)ks.relists, (unsigned long long)ks.api_errors,
		(unsigned long long)ks.owner_lookups,
		(unsigned long long)pipeline_stats(d->pipeline)->resources_refreshed);
}

static int build_pipeline(struct sp_daemon *d)
{
	const struct sp_config *cfg = d->cfg;
	struct sp_bsp_opts bo = {
		.max_queue = cfg->batch_max_queue,
		.max_batch = cfg->batch_max_batch,
		.delay_ms = cfg->batch_delay_ms,
		.export_timeout_ms = cfg->batch_export_timeout_ms,
	};
	struct k8s_meta_opts k8s = {
		.kubeconfig = cfg->kubeconfig,
		.node_name = cfg->node_name,
		.cluster_name = cfg->cluster_name,
		.max_pods = cfg->k8s_max_pods,
	};
	struct sp_pipeline_opts po = {
		.span_pool = cfg->span_pool,
		.max_threads = cfg->max_threads,
		.max_depth = cfg->max_depth,
		.max_processes = cfg->max_processes,
		.resource_defaults = d->resource_defaults,
		.sink = batch_sink(&d->bsp),
		.pool = &d->pool,
		.sample = sample_span,
		.sample_ctx = (void *)&cfg->sampler,
		.push_batch = PIPELINE_PUSH_MAX, /* flushed after each read */
		.filter = {
			.pids = cfg->command == SP_CMD_RUN ? cfg->pids : NULL,
			.n_pids = cfg->command == SP_CMD_RUN ? cfg->n_pids : 0,
			.exes = cfg->filter_exes,
			.n_exes = cfg->n_exes,
			.cgroup = cfg->filter_cgroup,
			.port = cfg->filter_port,
		},
	};
	int err;

	err = spanpool_init(&d->pool, cfg->span_pool);
	if (err)
		goto nomem;
	err = watch_own_conns(d, &k8s);
	if (!err)
		err = start_k8s(d, &k8s);
	if (err)
		return err;
	po.resource_defaults = d->resource_defaults;
	d->exporter = exporter_create(&(struct sp_exporter_options){
		.output = cfg->output, .output_file = cfg->output_file,
		.otlp = &cfg->otlp });
	if (!d->exporter)
		return -errno ? -errno : -EINVAL;
	err = batch_start(&d->bsp, &bo, d->exporter, &d->pool);
	if (err)
		return err;
	d->batch_started = true;
	d->pipeline = pipeline_create(&po);
	if (!d->pipeline) {
		err = -errno;
		goto nomem;
	}
	for (size_t i = 0; i < cfg->n_symbols; i++)
		d->names[i] = d->targets[i].function;
	funcspan_init(&d->funcs, d->pipeline, d->names, cfg->n_symbols);
	return 0;
nomem:
	sp_err("assemble: cannot allocate %u spans and %u threads x %u calls: %s "
	       "(lower --span-pool, --max-threads or --max-depth)", cfg->span_pool,
	       cfg->max_threads, cfg->max_depth, strerror(-err));
	return err;
}

/* Targets of one file (those of target `first` not attached yet) go in
 * one call: on kernels with uprobe-multi links that is one link each way. */
static int attach_file(struct sp_daemon *d, size_t first, bool *done, pid_t pid,
		       bool quiet)
{
	size_t n = d->cfg->n_symbols, m = 0;
	const char *path = d->targets[first].path;
	uint64_t *offsets = calloc(n, sizeof(*offsets));
	uint64_t *ids = calloc(n, sizeof(*ids));
	int err = -ENOMEM;

	if (offsets && ids) {
		for (size_t i = first; i < n; i++)
			if (!done[i] && !strcmp(d->targets[i].path, path)) {
				offsets[m] = d->targets[i].offset;
				ids[m++] = i;
				done[i] = true;
			}
		err = loader_attach_functions(&d->loader, path, offsets, ids, m, pid);
	}
	if (err && !quiet)
		sp_err("bpf: cannot attach to %zu functions in %s (%s first): %s", m,
		       path, d->targets[first].symbol, strerror(-err));
	for (size_t k = 0; k < m && !err && !quiet; k++)
		sp_info("probe: %s at %s+0x%llx", d->targets[ids[k]].symbol, path,
			(unsigned long long)offsets[k]);
	free(offsets);
	free(ids);
	return err;
}

/* The targets' probes for process `pid`; `quiet`: a followed child's,
 * whose failure the caller counts. */
static int attach_targets_to(struct sp_daemon *d, pid_t pid, bool quiet)
{
	bool *done;
	int err;

	if (d->funcs_off)
		return 0;
	done = calloc(d->cfg->n_symbols + 1, sizeof(*done));
	err = done ? 0 : -ENOMEM;

	for (size_t i = 0; i < d->cfg->n_symbols && !err; i++)
		if (!done[i])
			err = attach_file(d, i, done, pid, quiet);
	free(done);
	return err;
}

static int attach_targets(struct sp_daemon *d, pid_t pid)
{
	int err = attach_targets_to(d, pid, false);

	if (err || d->funcs_off)
		return err;
	sp_info("tracing %zu functions in process %d%s", d->cfg->n_symbols, (int)pid,
		d->sockcap ? ", and its HTTP" : "");
	return 0;
}

/* Collects the followed processes that are gone (their exit record lost). */
struct follow_sweep {
	uint32_t *gone;
	size_t n;
};

static void find_gone(uint32_t pid, void *value, void *arg)
{
	struct follow_sweep *sw = arg;

	(void)value;
	if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
		sw->gone[sw->n++] = pid;
}

/* Room for one more followed process: those found gone are let go. */
static bool follow_room(struct sp_daemon *d)
{
	struct sp_followed *f = &d->followed;
	struct follow_sweep sw = { 0 };

	if (f->pids.count < f->pids.max)
		return true;
	sw.gone = calloc(f->pids.count, sizeof(uint32_t));
	if (sw.gone)
		u32map_each(&f->pids, find_gone, &sw);
	for (size_t i = 0; i < sw.n; i++)
		follow_exit(d, (pid_t)sw.gone[i]);
	free(sw.gone);
	return f->pids.count < f->pids.max;
}

/*
 * A followed process started `child`: it gets the command's probes, the
 * same files and offsets (a fork maps what its parent mapped).  Its
 * calls before this are missed: the fork record wakes us at once.
 */
static void follow_fork(struct sp_daemon *d, pid_t parent, pid_t child)
{
	struct sp_followed *f = &d->followed;
	struct sp_resource *res;
	int err;

	if (d->stop_ns || child <= 0)
		return;
	/* Its resource, read while it runs: a short-lived child would be
	 * gone from /proc by the time its first span is made. */
	res = pipeline_resource(d->pipeline, (uint32_t)child);
	if (res)
		resource_put(res);
	if (d->funcs_off || !d->cfg->n_symbols)
		return;
	if (!f->ready) {
		if (u32map_init(&f->pids, d->cfg->max_processes, false)) {
			f->failed++;
			sp_warn_once("trace: out of memory for the table of followed "
				     "processes: children get no function probes");
			return;
		}
		f->ready = true;
	}
	/* Its PID again, the end of the one before unseen: a fresh start. */
	follow_exit(d, child);
	if (!follow_room(d)) {
		f->full++;
		sp_warn_once("trace: %u processes hold function probes already "
			     "(--max-processes): new children get none (counted)",
			     f->pids.max);
		return;
	}
	err = attach_targets_to(d, child, true);
	if (err) {
		loader_release_functions(&d->loader, child);
		if (err == -ESRCH || (kill(child, 0) == -1 && errno == ESRCH)) {
			f->gone++;
			return;
		}
		f->failed++;
		sp_warn_once("trace: cannot attach the function probes to process %d "
			     "(a child of %d): %s; such children are counted",
			     (int)child, (int)parent, strerror(-err));
		return;
	}
	u32map_put(&f->pids, (uint32_t)child, &f->pids); /* room was made */
	f->attached++;
	sp_debug("trace: process %d, a child of %d, gets the function probes",
		 (int)child, (int)parent);
}

/* A followed process ended: its links go at once. */
static void follow_exit(struct sp_daemon *d, pid_t pid)
{
	struct sp_followed *f = &d->followed;

	if (f->ready && pid > 0 && u32map_del(&f->pids, (uint32_t)pid))
		loader_release_functions(&d->loader, pid);
}

static void follow_report(const struct sp_daemon *d)
{
	const struct sp_followed *f = &d->followed;

	if (!f->attached && !f->gone && !f->full && !f->failed)
		return;
	fprintf(stderr, "spanprobe: children: %llu given the function probes, %llu "
		"ended before them, %llu refused (--max-processes), %llu refused "
		"by the kernel, %u holding them now\n",
		(unsigned long long)f->attached, (unsigned long long)f->gone,
		(unsigned long long)f->full, (unsigned long long)f->failed,
		f->ready ? f->pids.count : 0);
}

/*
 * A main thread that left with pthread_exit cannot take perf-event
 * uprobes: they go to a live thread.  A multi link wants the process, and
 * the kernel matches it by its main thread's memory: without a main
 * thread it goes to every process (0), the BPF side keeping the tracked.
 */
static pid_t attach_pid(struct sp_daemon *d)
{
	pid_t live = procfs_live_task(d->target_pid);

	if (!d->loader.multi)
		return live;
	return live == d->target_pid ? live : 0;
}

static int start_attach(struct sp_daemon *d)
{
	struct sp_resource *res;
	int err;

	d->target_pid = d->cfg->pid;
	res = process_read_resource(d->target_pid, &d->resource_defaults);
	if (!res) {
		sp_err("attach: no process with PID %d", (int)d->target_pid);
		return -ESRCH;
	}
	pipeline_set_resource(d->pipeline, (uint32_t)d->target_pid, res);
	if (d->tlscap)
		tlscap_scan_process(d->tlscap, d->target_pid);
	err = loader_track_pid(&d->loader, d->target_pid);
	return err ? err : attach_targets(d, attach_pid(d));
}

/* The launched command's resource: its environment is ours. */
static int set_child_resource(struct sp_daemon *d, const char *exe)
{
	char cmdline[4096] = "";
	struct sp_process_info info = {
		.pid = d->child.pid,
		.exe_path = exe,
		.service_name = getenv("OTEL_SERVICE_NAME"),
		.own_resource_attrs = getenv("OTEL_RESOURCE_ATTRIBUTES"),
		.command_line = cmdline,
	};
	size_t off = 0;
	struct sp_resource *res;

	for (char *const *a = d->cfg->command_argv; *a && off < sizeof(cmdline) - 1; a++)
		off += (size_t)snprintf(cmdline + off, sizeof(cmdline) - off, "%s%s",
					off ? " " : "", *a);
	res = resource_build(&info, &d->resource_defaults);
	if (!res)
		return -ENOMEM;
	return pipeline_set_resource(d->pipeline, (uint32_t)d->child.pid, res);
}

/* A command that cannot run: 127 not found, 126 found but not run, as
 * shells, env and timeout say it. */
static int cannot_run_status(int err)
{
	return err == -ENOENT ? 127 : 126;
}

/*
 * Told to stop while starting (loading takes a second or more): the
 * command is not started, or not let run, since it would run untraced
 * and be left behind.  The status is that of the signal.
 */
static bool stopped_at_start(struct sp_daemon *d, const char *exe)
{
	int sig = __atomic_load_n(&stop_requested, __ATOMIC_RELAXED);

	if (!sig)
		return false;
	sp_warn("trace: stopped before %s was started", exe);
	d->exit_status = 128 + sig;
	return true;
}

static int start_trace(struct sp_daemon *d, const char *exe)
{
	int err;

	if (stopped_at_start(d, exe))
		return -EINTR;
	err = launcher_spawn(exe, d->cfg->command_argv, &d->child);
	if (err) {
		sp_err("trace: cannot start %s: %s", exe, strerror(-err));
		return err;
	}
	d->target_pid = d->child.pid;
	err = set_child_resource(d, exe);
	if (!err)
		err = loader_track_pid(&d->loader, d->child.pid);
	if (!err)
		err = attach_targets(d, d->child.pid);
	if (!err && stopped_at_start(d, exe))
		err = -EINTR;
	if (err) {
		launcher_abort(&d->child);
		return err;
	}
	err = launcher_release(&d->child);
	if (err) {
		sp_err("trace: cannot run %s: %s", exe, strerror(-err));
		waitpid(d->child.pid, NULL, 0);
		d->child.pid = 0;
		d->exit_status = cannot_run_status(err);
	}
	return err;
}

static void http_report(const struct sp_daemon *d)
{
	if (!d->sockcap)
		return;
	sockcap_report(d->sockcap, stderr);
	tlscap_report(d->tlscap, stderr);
	exchange_report(d->exchanges, stderr);
	if (d->own_conns)
		ownconns_report(d->own_conns, stderr);
}

/* Requests still open have no end: their spans are dropped (counted). */
static void http_close(struct sp_daemon *d)
{
	exchange_destroy(d->exchanges);
	tlscap_close(d->tlscap);
	d->tlscap = NULL;
	sockcap_close(d->sockcap);
	d->sockcap_closed = true;
}

/* The disk queue (--queue-dir): every batch in it, out or dropped. */
static void queue_report(const struct sp_daemon *d)
{
	struct diskq_stats q;

	if (otlp_exporter_queue_stats(d->exporter, &q))
		return;
	fprintf(stderr, "spanprobe: queue: %llu batches (%llu spans) queued, "
		"%llu (%llu spans) sent from the queue, %llu (%llu spans) dropped "
		"(budget full), %llu corrupt skipped, %llu (%llu spans) sent again "
		"after a stop while sending, %llu (%llu spans, %llu bytes) waiting\n",
		(unsigned long long)q.appended, (unsigned long long)q.appended_spans,
		(unsigned long long)q.sent, (unsigned long long)q.sent_spans,
		(unsigned long long)q.dropped, (unsigned long long)q.dropped_spans,
		(unsigned long long)q.corrupt,
		(unsigned long long)q.maybe_resent, (unsigned long long)q.maybe_resent_spans,
		(unsigned long long)q.pending, (unsigned long long)q.pending_spans,
		(unsigned long long)q.pending_bytes);
}

/* /metrics: a copy of the counters now and then (`v`: now, these). */
static void publish_metrics(struct sp_daemon *d, const struct report_values *v)
{
	struct metrics_sources src = {
		.pipeline = d->pipeline, .bsp = &d->bsp, .exporter = d->exporter,
		.loader = &d->loader, .unknown_probe = funcspan_unknown_probes(&d->funcs),
		.exchanges = d->sockcap_closed ? NULL : d->exchanges,
		.tlscap = d->tlscap, .otlp = d->cfg->output == SP_OUTPUT_OTLP,
		.disk_queue_budget = d->cfg->otlp.queue_max_bytes,
	};

	metrics_update(d->metrics, &src, v);
}

static void report_all(struct sp_daemon *d)
{
	struct report_values v;

	if (!d->sockcap_closed)
		http_report(d);
	report_collect(&v, d->pipeline, &d->bsp, d->exporter, &d->loader,
		       funcspan_unknown_probes(&d->funcs));
	report_print_values(stderr, &v);
	follow_report(d);
	if (d->metrics)
		publish_metrics(d, &v);
	if (d->cfg->output == SP_OUTPUT_OTLP) {
		struct http_client_stats hs;

		otlp_exporter_http_stats(d->exporter, &hs);
		fprintf(stderr, "spanprobe: export: %llu connections opened, %llu requests, "
			"%llu fell back to HTTP/1.1\n", (unsigned long long)hs.connects,
			(unsigned long long)hs.requests, (unsigned long long)hs.h1_fallbacks);
		queue_report(d);
	}
	k8s_report(d);
	if (d->cfg->verbose)
		memory_usage(stderr, &d->pool);
}

#define TARGET_GONE_WAIT_MS 1000

/* True when the traced command or attached process has ended. */
static bool target_done(struct sp_daemon *d)
{
	int status;

	if (d->child.pid > 0) {
		pid_t got = waitpid(d->child.pid, &status, WNOHANG);

		if (got == -1 && errno == ECHILD) { /* reaped, not by us */
			d->child.pid = 0;
			return true;
		}
		if (got != d->child.pid)
			return false;
		d->exit_status = WIFEXITED(status) ? WEXITSTATUS(status)
						   : 128 + WTERMSIG(status);
		d->child.pid = 0;
		return true;
	}
	/* EPERM: it lives, but is another user's and we lack CAP_KILL. */
	if (d->cfg->command == SP_CMD_ATTACH &&
	    (d->target_exited || (kill(d->target_pid, 0) == -1 && errno == ESRCH))) {
		/* The exit record came from the thread that found none alive;
		 * others may still be on the way to theirs (before Linux 6.16
		 * a thread's exit tracepoint comes after exit_mm()), and the
		 * probes go at the stop: wait for them, a second at most. */
		if (procfs_wait_threads_gone(d->target_pid, TARGET_GONE_WAIT_MS) == -ETIMEDOUT)
			sp_warn("attach: process %d: threads still exiting after %d ms; "
				"their open calls are counted open at exit",
				(int)d->target_pid, TARGET_GONE_WAIT_MS);
		sp_info("attach: process %d exited", (int)d->target_pid);
		return true;
	}
	return false;
}

/* Spans could not be written (the console said why): stop, and fail. */
static bool output_failed(struct sp_daemon *d)
{
	struct sp_export_stats st;

	exporter_get_stats(d->exporter, &st);
	if (st.write_errors)
		d->exit_status = 1;
	return st.write_errors != 0;
}

/*
 * Records lost to a full ring buffer since the last poll are some
 * connection's: the decoders that must see every record are told
 * (protocol.h), before the records after the loss are read further.
 * One map lookup a poll that read records.
 */
static void tell_ring_losses(struct sp_daemon *d)
{
	uint64_t lost;

	if (!d->sockcap && !d->tlscap)
		return; /* no decoder reads connections */
	lost = loader_ring_lost(&d->loader);
	if (lost != d->ring_lost) {
		d->ring_lost = lost;
		proto_records_lost();
	}
}

/*
 * A terminal's Ctrl-C (SI_KERNEL) went to the whole foreground process
 * group: the command got it too, unless it left our group.  A signal
 * sent to spanprobe alone (kill, a service manager's stop) did not reach
 * it: it is asked to end with SIGTERM, as a service manager would.
 */
static void tell_child(struct sp_daemon *d)
{
	if (__atomic_load_n(&stop_code, __ATOMIC_RELAXED) == SI_KERNEL &&
	    getpgid(d->child.pid) == getpgrp())
		return;
	if (kill(d->child.pid, SIGTERM) && errno != ESRCH)
		sp_warn("trace: cannot pass the stop on to process %d: %s",
			(int)d->child.pid, strerror(errno));
}

/*
 * Told to stop, `run` and `attach` stop reading at once.  `trace` reads
 * on while its command winds down (what its signal handler calls is part
 * of the trace) until it is reaped (target_done()), TRACE_GRACE_MS have
 * passed, or a second signal comes; a command still running then is left
 * to run, and the exit status is that of our signal.
 */
static bool stop_now(struct sp_daemon *d)
{
	int sig = __atomic_load_n(&stop_requested, __ATOMIC_RELAXED);

	if (!sig)
		return false;
	if (d->child.pid <= 0)
		return true;
	if (!d->grace_end_ns) {
		d->grace_end_ns = clock_mono_ns() + TRACE_GRACE_MS * 1000000ULL;
		tell_child(d);
		return false;
	}
	if (__atomic_load_n(&signals_seen, __ATOMIC_RELAXED) < 2 &&
	    clock_mono_ns() < d->grace_end_ns)
		return false;
	if (clock_mono_ns() >= d->grace_end_ns)
		sp_warn("trace: process %d still running %d s after the stop: "
			"stopping without it", (int)d->child.pid, TRACE_GRACE_MS / 1000);
	d->exit_status = 128 + sig;
	return true;
}

static void poll_loop(struct sp_daemon *d)
{
	uint64_t next_report = clock_mono_ns() + d->cfg->stats_interval_ms * 1000000ULL;
	uint64_t next_clock_sync = clock_mono_ns() + CLOCK_SYNC_NS;
	int err = slice_request(SLICE_SHORT_NS);

	/* The reader wakes in bursts; short turns keep the servers it shares
	 * a CPU with from waiting a whole default slice for it. */
	if (d->cfg->verbose)
		sp_info("scheduling: the reader and the exporter ask for %u us slices%s%s",
			SLICE_SHORT_NS / 1000, err ? ": " : " (used from Linux 6.12)",
			err ? strerror(-err) : "");

	while (!stop_now(d)) {
		int n = loader_poll(&d->loader, POLL_MS);

		if (n < 0 && n != -EINTR) {
			sp_err("bpf: reading the ring buffer failed: %s", strerror(-n));
			d->exit_status = 1;
			break;
		}
		if (n > 0)
			tell_ring_losses(d);
		if (target_done(d) || output_failed(d))
			break;
		if (d->tlscap)
			tlscap_tick(d->tlscap, clock_mono_ms());
		if (d->exchanges)
			exchange_tick(d->exchanges, clock_mono_ns());
		pipeline_flush(d->pipeline);
		pipeline_refresh_resources(d->pipeline);
		if (d->metrics)
			publish_metrics(d, NULL);
		/* Follow steps of the wall clock (NTP at boot, an admin). */
		if (clock_mono_ns() >= next_clock_sync) {
			pipeline_sync_clock(d->pipeline);
			next_clock_sync = clock_mono_ns() + CLOCK_SYNC_NS;
		}
		memory_tick(clock_mono_ns());
		if (d->cfg->verbose && clock_mono_ns() >= next_report) {
			report_all(d);
			next_report += d->cfg->stats_interval_ms * 1000000ULL;
		}
	}
}

/*
 * Shutdown's watcher: one more SIGINT/SIGTERM (the first when shutdown
 * did not come from a signal) cuts the export short.  A thread, because
 * the waits it must wake take locks no signal handler may touch.
 */
static void *watch_signals(void *arg)
{
	struct sp_daemon *d = arg;
	struct pollfd p = { .fd = signal_pipe[0], .events = POLLIN };
	char buf[64];

	while (__atomic_load_n(&d->watching, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&signals_seen, __ATOMIC_RELAXED) >= d->signals_to_abort) {
			sp_warn("daemon: signal during shutdown: stopping now");
			batch_abort(&d->bsp);
			break;
		}
		poll(&p, 1, -1);
		while (read(signal_pipe[0], buf, sizeof(buf)) > 0)
			;
	}
	return NULL;
}

static void watch_start(struct sp_daemon *d)
{
	/* The next signal from here: the first, the second after a signal
	 * stopped us, the third when a second ended `trace`'s wait for its
	 * command (that one asked to stop waiting, not to drop the spans). */
	d->signals_to_abort = __atomic_load_n(&signals_seen, __ATOMIC_RELAXED) + 1;
	if (signal_pipe[0] < 0)
		return;
	d->watching = true;
	if (pthread_create(&d->watcher, NULL, watch_signals, d)) {
		sp_warn("daemon: a second signal will not hurry the shutdown");
		d->watching = false;
	}
}

static void watch_stop(struct sp_daemon *d)
{
	if (!d->watching)
		return;
	__atomic_store_n(&d->watching, false, __ATOMIC_RELEASE);
	signal_pipe_poke();
	pthread_join(d->watcher, NULL);
}

/*
 * Stop the probes, read what they already wrote, export it all: within
 * the export timeout from the moment we were told to stop, whatever the
 * collector does, or at once on another signal.
 */
static void drain_and_flush(struct sp_daemon *d)
{
	d->stop_ns = clock_mono_ns();
	metrics_set_phase(d->metrics, METRICS_STOPPING, NULL);
	batch_begin_shutdown(&d->bsp);
	watch_start(d);
	loader_detach(&d->loader);
	pipeline_set_draining(d->pipeline);
	while (loader_poll(&d->loader, 0) > 0)
		;
	/* Requests still open have no end: dropped before the flush. */
	http_report(d);
	http_close(d);
	pipeline_end_open_calls(d->pipeline);
	if (batch_shutdown(&d->bsp))
		d->export_stuck = true;
	d->batch_started = false;
	watch_stop(d);
	report_all(d);
}

static void cleanup(struct sp_daemon *d)
{
	metrics_stop(d->metrics);
	if (d->child.pid > 0) {
		/* Still running past the grace period, or a second signal
		 * came: it was told to stop, and is left to do so. */
		waitpid(d->child.pid, NULL, WNOHANG);
	}
	if (!d->sockcap_closed)
		http_close(d);
	if (d->batch_started)
		batch_shutdown(&d->bsp);
	loader_close(&d->loader);
	if (d->followed.ready)
		u32map_destroy(&d->followed.pids);
	d->followed.ready = false;
	if (d->export_stuck) {
		free(d->targets);
		return; /* the exit frees the rest */
	}
	pipeline_destroy(d->pipeline);
	k8s_meta_stop(d->k8s); /* its connections are observed: before the set goes */
	exporter_destroy(d->exporter);
	conn_set_observer(NULL);
	ownconns_destroy(d->own_conns);
	spanpool_destroy(&d->pool);
	free(d->targets);
}

/*
 * TLS plaintext, on top of the socket hooks.  Without it HTTP capture
 * still sees clear text: a failure is a warning.  `run` probes the TLS
 * files of every process now; `attach` and `trace` those of their process
 * when it starts (start_attach(), the exec record).
 */
static void open_tls_capture(struct sp_daemon *d)
{
	struct tlscap_opts to = {
		.capture_bytes = sockcap_capture_bytes(d->sockcap),
		.all_processes = d->cfg->command == SP_CMD_RUN,
	};

	d->tlscap = tlscap_open(&d->loader, sockcap_hooks(d->sockcap), &to);
	if (!d->tlscap) {
		sp_warn("tls: TLS plaintext capture is off");
		return;
	}
	tlscap_scan_system(d->tlscap);
	if (d->cfg->command == SP_CMD_RUN)
		tlscap_scan_all(d->tlscap);
}

/*
 * HTTP capture: node-wide for `run`, the tracked processes otherwise.  A
 * kernel without the socket hooks is fatal only when HTTP is all we trace.
 */
static int open_http_capture(struct sp_daemon *d)
{
	const struct sp_config *cfg = d->cfg;
	struct sockcap_opts so = {
		.capture_bytes = cfg->capture_bytes,
		/* The kernel's verdicts, per socket: both ends of a connection
		 * may be on the host, and HTTP/2's TLS plaintext is a stream of
		 * its own; never fewer than the default. */
		.bpf_conns = cfg->max_connections > SOCKCAP_DEFAULT_BPF_CONNS / 4
				     ? cfg->max_connections * 4 : 0,
		.all_processes = cfg->command == SP_CMD_RUN,
		.hooks = cfg->http_hooks,
		.debug_dump = cfg->verbose >= 3 ? stderr : NULL, /* -vvv: every record */
	};
	struct proto_streams_opts po = {
		.max_conns = cfg->max_connections,
		.decode.with_query = cfg->with_query,
		.decode.redact_params = cfg->redact_params,
		.decode.db_query_raw = cfg->db_query_raw,
		.decode.db_server_spans = cfg->db_server_spans,
		.verdict = sockcap_verdict,
		.own = d->own_conns,
	};

	d->sockcap = sockcap_open(&d->loader, &so);
	if (d->sockcap && so.all_processes) {
		unsigned primed = pipeline_prime_processes(d->pipeline);

		if (primed)
			sp_info("http: resources of %u running processes read (for the "
				"filters)", primed);
	}
	if (d->sockcap) {
		po.verdict_ctx = d->sockcap;
		d->exchanges = exchange_create(d->pipeline, &po);
		if (!d->exchanges) {
			sp_err("http: out of memory for %u connections", po.max_conns);
			return -ENOMEM;
		}
		sockcap_set_sink(d->sockcap, exchange_sink(d->exchanges));
		open_tls_capture(d);
		return 0;
	}
	if (cfg->n_symbols && !d->funcs_off) {
		sp_warn("http: HTTP capture is off; tracing the functions only");
		return 0;
	}
	return errno ? -errno : -ENOTSUP;
}

/* Which executable `trace` runs; checks it before anything is loaded. */
static int find_command(struct sp_daemon *d, char *exe, size_t size)
{
	const struct sp_config *cfg = d->cfg;
	char found[PATH_MAX];
	int err = libpath_which(cfg->command_argv[0], found, sizeof(found));

	if (err)
		d->exit_status = cannot_run_status(err);
	if (err == -ENOENT)
		sp_err("trace: command '%s' not found", cfg->command_argv[0]);
	else if (err)
		sp_err("trace: '%s' is not executable", found);
	/* process.executable.path is absolute, as /proc/PID/exe would say. */
	else if (!realpath(found, exe))
		snprintf(exe, size, "%s", found);
	return err;
}

/* What the user named exists: a process to attach to, processes and a
 * cgroup to narrow `run` to. */
static int check_targets(const struct sp_config *cfg)
{
	int err = 0;

	if (cfg->command == SP_CMD_ATTACH)
		return targets_check_pid("attach", cfg->pid, true);
	/* HTTP capture needs no program file: only a live process. */
	for (size_t i = 0; i < cfg->n_pids && !err; i++)
		err = targets_check_pid("run", (pid_t)cfg->pids[i], false);
	if (err)
		return err;
	if (!cfg->filter_cgroup)
		return 0;
	err = cfg->filter_cgroup[0] == '/' ? procfs_cgroup_exists(cfg->filter_cgroup)
					   : -ENOENT;
	if (err == -ENOENT) {
		sp_err("--cgroup: no cgroup %s here (give the path /proc/PID/cgroup shows, "
		       "starting with /)", cfg->filter_cgroup);
		return err;
	}
	if (err)
		sp_warn("--cgroup: no cgroup file system mounted to check %s in",
			cfg->filter_cgroup);
	return 0;
}

static int prepare(struct sp_daemon *d, char *exe, size_t exe_size)
{
	const struct sp_config *cfg = d->cfg;
	struct sp_loader_opts lo = {
		.ringbuf_bytes = cfg->ringbuf_bytes,
		.shared_ring = cfg->ringbuf_shared,
		.max_processes = cfg->max_processes,
		.follow_children = cfg->command == SP_CMD_TRACE,
		.all_processes = cfg->command == SP_CMD_RUN,
		.on_event = on_event,
		.on_event_ctx = d,
	};
	int err;

	if (cfg->command == SP_CMD_RUN && cfg->n_symbols) {
		sp_err("run: -u SYMBOL needs a process: use attach -p PID or trace -- COMMAND");
		return -EINVAL;
	}
	if (cfg->no_http && cfg->n_symbols == 0) {
		sp_err("nothing to trace: --no-http and no -u SYMBOL");
		return -EINVAL;
	}
	err = check_targets(cfg);
	if (err)
		return err;
	err = features_check_required();
	if (!err && cfg->n_symbols && features_check_functions()) {
		/* said by features_check_functions(); HTTP may still run */
		d->funcs_off = true;
		if (cfg->no_http)
			err = -ENOTSUP;
	}
	if (!err && cfg->command == SP_CMD_TRACE)
		err = find_command(d, exe, exe_size);
	if (err)
		return err;
	d->targets = calloc(cfg->n_symbols, sizeof(*d->targets));
	if (!d->targets)
		return -ENOMEM;
	err = targets_resolve(cfg->symbols, cfg->n_symbols,
			      cfg->command == SP_CMD_ATTACH ? cfg->pid : 0, exe,
			      d->targets);
	if (!err)
		err = build_pipeline(d);
	if (!err)
		err = loader_open(&d->loader, &lo);
	if (!err && !cfg->no_http)
		err = open_http_capture(d);
	return err;
}

/*
 * A closed standard stream would be taken by the next file we open (a BPF
 * map, a socket), and console output written into that: hold it with
 * /dev/null, unless spans were to go there.
 */
static int reserve_stdio(const struct sp_config *cfg)
{
	int fd;

	for (int std = 0; std <= 2; std++) {
		if (fcntl(std, F_GETFD) != -1 || errno != EBADF)
			continue;
		if (std == STDOUT_FILENO && (cfg->output == SP_OUTPUT_TEXT ||
					     cfg->output == SP_OUTPUT_OTLP_JSON) &&
		    !cfg->output_file) {
			sp_err("export: writing spans failed: standard output is closed "
			       "(give --output-file PATH)");
			return -EBADF;
		}
		fd = open("/dev/null", O_RDWR | O_CLOEXEC); /* the lowest: std */
		if (fd != std) {
			if (fd >= 0)
				close(fd);
			return -EBADF;
		}
	}
	return 0;
}

int daemon_main(const struct sp_config *cfg)
{
	struct sp_daemon d = { .cfg = cfg };
	char exe[PATH_MAX] = "";
	int err;

	d.resource_defaults = (struct sp_resource_defaults){
		.service_name = cfg->service_name,
		.resource_attrs = cfg->resource_attrs,
		.with_command_line = cfg->with_command_line,
	};
	memory_tune();
	launcher_note_signals();
	install_signals();
	err = reserve_stdio(cfg);
	if (!err)
		err = caps_check(cfg); /* before a bpf() error could say it less clearly */
	if (err)
		return 1;
	/* Listening first: a port in use fails before the probes load. */
	if (cfg->metrics_address) {
		d.metrics = metrics_start(cfg->metrics_address);
		if (!d.metrics)
			return 1;
	}
	err = prepare(&d, exe, sizeof(exe));
	if (!err)
		err = loader_map_ring(&d.loader); /* every object loaded: a lower peak */
	if (!err && cfg->verbose)
		features_report(stderr); /* the HTTP hooks are said when chosen */
	if (!err && cfg->command == SP_CMD_TRACE)
		err = start_trace(&d, exe);
	else if (!err && cfg->command == SP_CMD_ATTACH)
		err = start_attach(&d);
	if (!err) {
		/* What loading parsed and freed (the kernel's BTF) goes back. */
		memory_trim();
		if (cfg->verbose)
			memory_account(stderr, cfg, &(struct memory_facts){
				.conn_bytes = d.exchanges ? exchange_conn_bytes() : 0,
				.reqs_bytes = d.exchanges ? exchange_ring_bytes() : 0,
				.k8s = d.k8s != NULL,
				.rings = loader_ring_count(&d.loader),
				.ring_bytes = loader_ring_size(&d.loader) });
	}
	if (!err && cfg->command != SP_CMD_TRACE && cfg->command != SP_CMD_ATTACH)
		sp_info("tracing HTTP of every process on this host");
	if (err) {
		if (!d.exit_status)
			d.exit_status = 1;
		cleanup(&d);
		return d.exit_status;
	}
	metrics_set_phase(d.metrics, METRICS_RUNNING,
			  d.sockcap ? sockhooks_name(sockhooks_kind(sockcap_hooks(d.sockcap)))
				    : "off");
	poll_loop(&d);
	drain_and_flush(&d);
	output_failed(&d); /* the last spans count too */
	cleanup(&d);
	return d.exit_status;
}
