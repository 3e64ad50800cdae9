// SPDX-License-Identifier: MIT
#include "capture/loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "func.skel.h"
#include "capture/features.h"
#include "capture/umulti.h"
#include "task.skel.h"
#include "util/log.h"

/* libbpf speaks only at -vv; its last warning explains a failure. */
static char last_libbpf_msg[256];

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (level <= LIBBPF_WARN)
		snprintf(last_libbpf_msg, sizeof(last_libbpf_msg), "%.250s", msg);
	if (log_get_level() >= SP_LOG_DEBUG)
		fprintf(stderr, "libbpf: %s", msg);
	return 0;
}

void loader_quiet_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

const char *loader_libbpf_last(void)
{
	return last_libbpf_msg;
}

void loader_libbpf_forget(void)
{
	last_libbpf_msg[0] = '\0';
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct sp_loader *l = ctx;

	if (records_validate(&l->records, data, size)) {
		l->bad_records++;
		return 0;
	}
	return l->on_event(l->on_event_ctx, data, size);
}

uint32_t loader_wakeup_for(uint32_t ringbuf_bytes, unsigned int ncpus)
{
	uint32_t eighth = ringbuf_bytes / 8, share, floor;

	if (ncpus == 0)
		ncpus = 1;
	share = eighth / ncpus;
	if (share > LOADER_WAKEUP_MAX)
		share = LOADER_WAKEUP_MAX;
	/* The floor: LOADER_WAKEUP_CPU_MIN, never past the eighth, and all
	 * the shares together within half the ring. */
	floor = LOADER_WAKEUP_CPU_MIN < eighth ? LOADER_WAKEUP_CPU_MIN : eighth;
	if (floor > ringbuf_bytes / 2 / ncpus)
		floor = ringbuf_bytes / 2 / ncpus;
	share = share > floor ? share : floor;
	return share ? share : 1;
}

uint32_t loader_ring_bytes(uint32_t total, unsigned int n, uint32_t page)
{
	uint32_t each = n ? total / n : total, size = page;

	while (size <= each / 2)
		size *= 2;
	return size;
}

unsigned int loader_ring_count(const struct sp_loader *l)
{
	return l->n_rings;
}

uint32_t loader_ring_size(const struct sp_loader *l)
{
	return l->ring_bytes;
}

uint32_t loader_wakeup_bytes(const struct sp_loader *l)
{
	return l->wakeup_bytes;
}

uint64_t loader_bad_records(const struct sp_loader *l)
{
	return l->bad_records;
}

void loader_count_unhandled(struct sp_loader *l)
{
	l->bad_records++;
}

const struct records_stats *loader_record_stats(const struct sp_loader *l)
{
	return &l->records;
}

int loader_share_maps(struct sp_loader *l, struct bpf_object *obj)
{
	static const char *const names[] = { "sp_events", "sp_drops", "sp_tracked",
					     "sp_wake_acct", "sp_rings" };
	const int fds[] = { l->events_fd, l->drops_fd, l->tracked_fd, l->wake_fd,
			    l->rings_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, names[i]);
		int err = map ? bpf_map__reuse_fd(map, fds[i]) : -ENOENT;

		if (err)
			return err;
	}
	return 0;
}

/* Room for one more of `size`-byte entries in *arr (and owners). */
static int grow(void **arr, pid_t **owners, size_t n, size_t *cap, size_t size,
		size_t first)
{
	size_t c = *cap ? *cap * 2 : first;
	void *a;
	pid_t *o;

	if (n < *cap)
		return 0;
	a = realloc(*arr, c * size);
	if (!a)
		return -ENOMEM;
	*arr = a;
	o = realloc(*owners, c * sizeof(*o));
	if (!o)
		return -ENOMEM;
	*owners = o;
	*cap = c;
	return 0;
}

static int keep_link_of(struct sp_loader *l, struct bpf_link *link, pid_t owner)
{
	if (grow((void **)&l->links, &l->link_owners, l->n_links, &l->cap_links,
		 sizeof(*l->links), 16))
		return -ENOMEM;
	l->link_owners[l->n_links] = owner;
	l->links[l->n_links++] = link;
	return 0;
}

int loader_keep_link(struct sp_loader *l, struct bpf_link *link)
{
	return keep_link_of(l, link, 0);
}

static int report_load_error(const char *what, int err)
{
	sp_err("bpf: loading the %s programs failed: %s%s%s", what, strerror(-err),
	       last_libbpf_msg[0] ? " — libbpf: " : "", last_libbpf_msg);
	return err;
}

/* One ring buffer per CPU, made before load: the first is the template of
 * sp_rings' values (libbpf's own template would take the declared size). */
static int make_rings(struct sp_loader *l)
{
	l->ring_fds = malloc(l->n_rings * sizeof(*l->ring_fds));
	if (!l->ring_fds)
		return -ENOMEM;
	for (unsigned int i = 0; i < l->n_rings; i++)
		l->ring_fds[i] = -1;
	for (unsigned int i = 0; i < l->n_rings; i++) {
		l->ring_fds[i] = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "sp_ring", 0, 0,
						l->ring_bytes, NULL);
		if (l->ring_fds[i] < 0)
			return -errno;
	}
	return 0;
}

/*
 * The ring buffers' sizes, before load: per CPU, sp_rings gets a slot per
 * CPU and sp_events a page (unused, but every object declares it); else
 * sp_events gets it all.
 */
static int size_rings(struct sp_loader *l, struct func_bpf *func)
{
	int err;

	if (!l->n_rings)
		return bpf_map__set_max_entries(func->maps.sp_events, l->ring_bytes);
	err = make_rings(l);
	if (!err)
		err = bpf_map__set_max_entries(func->maps.sp_events, (uint32_t)getpagesize());
	if (!err)
		err = bpf_map__set_inner_map_fd(func->maps.sp_rings, l->ring_fds[0]);
	if (!err)
		err = bpf_map__set_max_entries(func->maps.sp_rings, l->n_rings);
	return err;
}

/* Each CPU's ring buffer in its slot of sp_rings, once it exists. */
static int fill_rings(struct sp_loader *l)
{
	for (unsigned int i = 0; i < l->n_rings; i++) {
		__u32 key = i;

		if (bpf_map_update_elem(l->rings_fd, &key, &l->ring_fds[i], BPF_ANY))
			return -errno;
	}
	return 0;
}

/*
 * One ring buffer per possible CPU, up to LOADER_RINGS_MAX (CPU i writes
 * to ring i % the count), where the kernel takes ring buffers in an array
 * of maps, unless told otherwise.
 */
static void choose_rings(struct sp_loader *l, const struct sp_loader_opts *opts)
{
	int possible = libbpf_num_possible_cpus();
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int sharing;

	l->n_rings = 0;
	if (!opts->shared_ring && features_get()->ringbuf_per_cpu && possible > 1)
		l->n_rings = (unsigned int)possible < LOADER_RINGS_MAX ?
			(unsigned int)possible : LOADER_RINGS_MAX;
	/* At least a page (the kernel's rule; pages may be 64 KiB). */
	l->ring_bytes = loader_ring_bytes(opts->ringbuf_bytes, l->n_rings ? l->n_rings : 1,
					  (uint32_t)getpagesize());
	/* Each CPU wakes the reader at its share of the ring it writes to:
	 * one ring per CPU, or the CPUs sharing one (those online now: one
	 * brought up later adds its share; the timed poll bounds the delay). */
	if (l->n_rings)
		sharing = ((unsigned int)possible + l->n_rings - 1) / l->n_rings;
	else
		sharing = online > 0 ? (unsigned int)online : 1;
	l->wakeup_bytes = loader_wakeup_for(l->ring_bytes, sharing);
}

static int open_func(struct sp_loader *l, const struct sp_loader_opts *opts)
{
	int err;

	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = features_btf_custom_path());

	l->func = func_bpf__open_opts(&oo);
	if (!l->func)
		return report_load_error("function", -errno);
	err = size_rings(l, l->func);
	if (err)
		return report_load_error("function", err);
	bpf_map__set_max_entries(l->func->maps.sp_tracked, opts->max_processes);
	l->func->rodata->sp_wakeup_bytes = l->wakeup_bytes;
	l->func->rodata->sp_ring_count = l->n_rings;
	/* A program loaded for multi links cannot take perf-event ones. */
	l->multi = umulti_supported();
	if (l->multi) {
		bpf_program__set_expected_attach_type(l->func->progs.sp_func_entry,
						      UMULTI_ATTACH_TYPE);
		bpf_program__set_expected_attach_type(l->func->progs.sp_func_return,
						      UMULTI_ATTACH_TYPE);
	}
	/* Without attach cookies the object still makes the shared maps;
	 * function spans are off then (features_check_functions()). */
	if (!features_get()->attach_cookie || !features_get()->uprobes) {
		bpf_program__set_autoload(l->func->progs.sp_func_entry, false);
		bpf_program__set_autoload(l->func->progs.sp_func_return, false);
	}
	err = func_bpf__load(l->func);
	if (err)
		return report_load_error("function", err);
	l->events_fd = bpf_map__fd(l->func->maps.sp_events);
	l->drops_fd = bpf_map__fd(l->func->maps.sp_drops);
	l->wake_fd = bpf_map__fd(l->func->maps.sp_wake_acct);
	l->tracked_fd = bpf_map__fd(l->func->maps.sp_tracked);
	l->rings_fd = bpf_map__fd(l->func->maps.sp_rings);
	err = fill_rings(l);
	return err ? report_load_error("function", err) : 0;
}

static int open_task(struct sp_loader *l)
{
	int err;

	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = features_btf_custom_path());

	l->task = task_bpf__open_opts(&oo);
	if (!l->task)
		return report_load_error("task", -errno);
	l->task->rodata->sp_follow_children = l->follow_children;
	l->task->rodata->sp_task_all = l->all_processes;
	l->task->rodata->sp_wakeup_bytes = l->wakeup_bytes;
	l->task->rodata->sp_ring_count = l->n_rings;
	err = loader_share_maps(l, l->task->obj);
	if (!err)
		err = task_bpf__load(l->task);
	if (!err)
		err = task_bpf__attach(l->task);
	return err ? report_load_error("task", err) : 0;
}

int loader_open(struct sp_loader *l, const struct sp_loader_opts *opts)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->events_fd = l->drops_fd = l->tracked_fd = l->wake_fd = l->rings_fd = -1;
	l->rings.epoll_fd = -1;
	l->on_event = opts->on_event;
	l->on_event_ctx = opts->on_event_ctx;
	l->follow_children = opts->follow_children;
	l->all_processes = opts->all_processes;
	loader_quiet_libbpf();
	err = features_check_required();
	if (err)
		return err;
	choose_rings(l, opts);
	err = open_func(l, opts);
	if (!err)
		err = open_task(l);
	return err;
}

int loader_map_ring(struct sp_loader *l)
{
	int err;

	if (l->mapped)
		return 0;
	if (l->n_rings)
		err = rings_open(&l->rings, l->ring_fds, l->n_rings, l->ring_bytes,
				 on_record, l);
	else
		err = rings_open(&l->rings, &l->events_fd, 1, l->ring_bytes, on_record, l);
	l->mapped = !err;
	if (err)
		sp_err("bpf: cannot read the ring buffer: %s", strerror(-err));
	return err;
}

int loader_track_pid(struct sp_loader *l, pid_t pid)
{
	__u32 key = (__u32)pid, one = 1;

	return bpf_map_update_elem(l->tracked_fd, &key, &one, BPF_ANY) ? -errno : 0;
}

int loader_untrack_pid(struct sp_loader *l, pid_t pid)
{
	__u32 key = (__u32)pid;

	return bpf_map_delete_elem(l->tracked_fd, &key) ? -errno : 0;
}

static int attach_one(struct sp_loader *l, struct bpf_program *prog, bool ret,
		      const char *path, uint64_t offset, uint32_t probe_id,
		      pid_t pid)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = ret, .bpf_cookie = probe_id);
	struct bpf_link *link;

	link = bpf_program__attach_uprobe_opts(prog, pid, path, (size_t)offset, &uo);
	if (!link)
		return -errno;
	if (keep_link_of(l, link, pid > 0 ? pid : 0)) {
		bpf_link__destroy(link);
		return -ENOMEM;
	}
	return 0;
}

static int keep_multi_of(struct sp_loader *l, int fd, pid_t owner)
{
	if (grow((void **)&l->multi_fds, &l->multi_owners, l->n_multi, &l->cap_multi,
		 sizeof(*l->multi_fds), 8)) {
		close(fd);
		return -ENOMEM;
	}
	l->multi_owners[l->n_multi] = owner;
	l->multi_fds[l->n_multi++] = fd;
	return 0;
}

int loader_keep_multi_fd(struct sp_loader *l, int fd)
{
	return keep_multi_of(l, fd, 0);
}

static int attach_multi(struct sp_loader *l, struct bpf_program *prog, bool ret,
			const char *path, const uint64_t *offsets,
			const uint64_t *probe_ids, size_t n, pid_t pid)
{
	int fd = umulti_attach(bpf_program__fd(prog), path, offsets, probe_ids, n,
			       pid > 0 ? pid : 0, ret);

	return fd < 0 ? fd : keep_multi_of(l, fd, pid > 0 ? pid : 0);
}

int loader_attach_functions(struct sp_loader *l, const char *path,
			    const uint64_t *offsets, const uint64_t *probe_ids,
			    size_t n, pid_t pid)
{
	struct bpf_program *entry = l->func->progs.sp_func_entry;
	struct bpf_program *ret = l->func->progs.sp_func_return;
	int err = 0;

	if (l->multi) {
		err = attach_multi(l, entry, false, path, offsets, probe_ids, n, pid);
		return err ? err : attach_multi(l, ret, true, path, offsets, probe_ids,
						n, pid);
	}
	for (size_t i = 0; i < n && !err; i++) {
		err = attach_one(l, entry, false, path, offsets[i],
				 (uint32_t)probe_ids[i], pid);
		if (!err)
			err = attach_one(l, ret, true, path, offsets[i],
					 (uint32_t)probe_ids[i], pid);
	}
	return err;
}

size_t loader_release_functions(struct sp_loader *l, pid_t pid)
{
	size_t gone = 0, k = 0;

	if (pid <= 0)
		return 0;
	/* The order of the others does not matter: compacted in place. */
	for (size_t i = 0; i < l->n_links; i++) {
		if (l->link_owners[i] == pid) {
			bpf_link__destroy(l->links[i]);
			gone++;
			continue;
		}
		l->links[k] = l->links[i];
		l->link_owners[k++] = l->link_owners[i];
	}
	l->n_links = k;
	k = 0;
	for (size_t i = 0; i < l->n_multi; i++) {
		if (l->multi_owners[i] == pid) {
			close(l->multi_fds[i]);
			gone++;
			continue;
		}
		l->multi_fds[k] = l->multi_fds[i];
		l->multi_owners[k++] = l->multi_owners[i];
	}
	l->n_multi = k;
	return gone;
}

int loader_poll(struct sp_loader *l, int timeout_ms)
{
	int err = loader_map_ring(l);

	/* Records submitted without a wake-up are not seen by epoll: the
	 * drain after every wait reads whatever is there. */
	return err ? err : rings_poll(&l->rings, timeout_ms);
}

/* The per-CPU values of drop counter `k` summed, read into vals[ncpu];
 * 0 when they cannot be read. */
static uint64_t drop_sum(const struct sp_loader *l, __u32 k, uint64_t *vals, int ncpu)
{
	uint64_t sum = 0;

	if (bpf_map_lookup_elem(l->drops_fd, &k, vals))
		return 0;
	for (int c = 0; c < ncpu; c++)
		sum += vals[c];
	return sum;
}

int loader_read_drops(struct sp_loader *l, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	memset(out, 0, SP_DROP_REASON_MAX * sizeof(*out));
	if (ncpu <= 0 || l->drops_fd < 0)
		return -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (__u32 k = 0; k < SP_DROP_REASON_MAX; k++)
		out[k] = drop_sum(l, k, vals, ncpu);
	free(vals);
	return 0;
}

uint64_t loader_ring_lost(struct sp_loader *l)
{
	int ncpu = libbpf_num_possible_cpus();

	if (ncpu <= 0 || l->drops_fd < 0)
		return 0;
	if (!l->lost_vals)
		l->lost_vals = calloc((size_t)ncpu, sizeof(*l->lost_vals));
	return l->lost_vals ? drop_sum(l, SP_DROP_RINGBUF_FULL, l->lost_vals, ncpu) : 0;
}

void loader_detach(struct sp_loader *l)
{
	for (size_t i = 0; i < l->n_links; i++)
		bpf_link__destroy(l->links[i]);
	free(l->links);
	free(l->link_owners);
	for (size_t i = 0; i < l->n_multi; i++)
		close(l->multi_fds[i]);
	free(l->multi_fds);
	free(l->multi_owners);
	l->multi_fds = NULL;
	l->multi_owners = NULL;
	l->link_owners = NULL;
	l->n_multi = l->cap_multi = 0;
	l->links = NULL;
	l->n_links = l->cap_links = 0;
	/* The task tracepoints are skeleton links, not in l->links. */
	if (l->task)
		task_bpf__detach(l->task);
}

void loader_close(struct sp_loader *l)
{
	loader_detach(l);
	free(l->lost_vals);
	l->lost_vals = NULL;
	rings_close(&l->rings);
	l->mapped = false;
	for (unsigned int i = 0; l->ring_fds && i < l->n_rings; i++)
		if (l->ring_fds[i] >= 0)
			close(l->ring_fds[i]);
	free(l->ring_fds);
	l->ring_fds = NULL;
	task_bpf__destroy(l->task);
	func_bpf__destroy(l->func);
	l->task = NULL;
	l->func = NULL;
}
