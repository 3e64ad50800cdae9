// SPDX-License-Identifier: MIT
#include "daemon/memory.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "assemble/threads.h"
#include "capture/loader.h"
#include "export/regroup.h"
#include "protocol/http2.h"
#include "protocol/mysql.h"
#include "protocol/pgsql.h"
#include "protocol/redis.h"
#include "span/span.h"
#include "util/hashprobe.h"

/*
 * glibc's allocator keeps an arena per thread that allocates, each holding
 * on to its own free memory: two here, the reader thread's and one the
 * others share (export, metrics, Kubernetes).  The mmap and trim
 * thresholds stay dynamic: fixed ones (128 KiB, or 1 MiB and 4 MiB) made
 * the export's buffers come and go with the kernel on every batch and
 * tripled the daemon's CPU per span (bench/memory.py's load, measured
 * side by side).  What the dynamic thresholds keep (they rise to the
 * largest block freed, 5 MB once libbpf has parsed the kernel's BTF) goes
 * back by memory_trim().
 */
#define ARENA_MAX 2

void memory_tune(void)
{
	mallopt(M_ARENA_MAX, ARENA_MAX);
}

/*
 * free() gives back only the top of the heap, past the trim threshold.
 * After loading (libbpf's BTF) or a burst of connections (2.5 KB each, up
 * to --max-connections) the heap keeps free pages; malloc_trim() gives
 * back every free page, a walk of the free chunks (a few ms; some 50 ms
 * when it gives back 20 MB), so every MEMORY_TRIM_NS.
 */
void memory_trim(void)
{
	malloc_trim(0);
}

void memory_tick(uint64_t now_ns)
{
	static uint64_t next;

	if (now_ns < next)
		return;
	if (next)
		memory_trim();
	next = now_ns + MEMORY_TRIM_NS;
}

#define KIB 1024.0
#define MIB (1024.0 * 1024.0)

/* "12.3 MiB", "456 KiB": sizes as people read them. */
static const char *human(char *buf, size_t size, double bytes)
{
	if (bytes >= MIB)
		snprintf(buf, size, "%.1f MiB", bytes / MIB);
	else
		snprintf(buf, size, "%.0f KiB", bytes / KIB);
	return buf;
}

/* One allocation; `bytes` < 0: no size of its own (a policy). */
static void line(FILE *out, const char *what, double bytes, const char *how)
{
	char b[32];

	fprintf(out, "spanprobe: memory: %-18s %10s  %s\n", what,
		bytes < 0 ? "-" : human(b, sizeof(b), bytes), how);
}

/* The settings that size our BPF maps, by map name; the rest are fixed. */
static const char *map_setting(const char *name)
{
	static const struct {
		const char *name, *setting;
	} known[] = {
		{ "sp_events", "--ringbuf-size" },
		{ "sp_ring", "--ringbuf-size" },
		{ "sp_tracked", "--max-processes" },
		{ "sp_sock_conns", "--max-connections" },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(name, known[i].name))
			return known[i].setting;
	return "fixed";
}

struct bpf_map_mem {
	uint32_t id, type, max_entries;
	uint64_t memlock;
	char name[BPF_OBJ_NAME_LEN];
};

#define MAX_MAPS 128

/* One map fd's facts from /proc/self/fdinfo (the kernel's memlock figure). */
static int read_map(int fd, struct bpf_map_mem *m)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	char path[64], key[32], text[128];
	unsigned long long val;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	memset(m, 0, sizeof(*m));
	while (fgets(text, sizeof(text), f)) {
		if (sscanf(text, "%31[^:]: %llu", key, &val) != 2)
			continue;
		if (!strcmp(key, "memlock"))
			m->memlock = val;
		else if (!strcmp(key, "map_id"))
			m->id = (uint32_t)val;
		else if (!strcmp(key, "map_type"))
			m->type = (uint32_t)val;
		else if (!strcmp(key, "max_entries"))
			m->max_entries = (uint32_t)val;
	}
	fclose(f);
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		snprintf(m->name, sizeof(m->name), "%s", info.name);
	return m->id ? 0 : -1;
}

/* Our BPF maps, each once (objects share some by fd). */
static size_t list_maps(struct bpf_map_mem *maps, size_t max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char path[64], target[64];
		ssize_t len;
		size_t i;
		int fd = atoi(e->d_name);

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strcmp(target, "anon_inode:bpf-map") || read_map(fd, &maps[n]))
			continue;
		for (i = 0; i < n && maps[i].id != maps[n].id; i++)
			;
		if (i == n)
			n++;
	}
	closedir(d);
	return n;
}

static int by_memlock(const void *a, const void *b)
{
	const struct bpf_map_mem *x = a, *y = b;

	return x->memlock < y->memlock ? 1 : x->memlock > y->memlock ? -1 : 0;
}

/* Kernel memory: each map of 64 KiB or more on its line, the rest summed. */
static void account_maps(FILE *out)
{
	static struct bpf_map_mem maps[MAX_MAPS];
	size_t n = list_maps(maps, MAX_MAPS), small = 0;
	uint64_t total = 0, rest = 0;
	char how[160];

	qsort(maps, n, sizeof(maps[0]), by_memlock);
	for (size_t i = 0; i < n; i++) {
		total += maps[i].memlock;
		if (maps[i].type == BPF_MAP_TYPE_RINGBUF)
			continue; /* said on its own line */
		if (maps[i].memlock < 64 * 1024) {
			rest += maps[i].memlock;
			small++;
			continue;
		}
		snprintf(how, sizeof(how), "BPF map %s, %u entries (%s); kernel memory",
			 maps[i].name, maps[i].max_entries, map_setting(maps[i].name));
		line(out, "bpf map", (double)maps[i].memlock, how);
	}
	snprintf(how, sizeof(how), "%zu smaller BPF maps (fixed); kernel memory", small);
	line(out, "bpf maps, small", (double)rest, how);
	snprintf(how, sizeof(how), "all %zu BPF maps, ring buffer included; kernel memory, "
		 "outside spanprobe's RSS but for the ring buffer's mapping", n);
	line(out, "bpf maps, total", (double)total, how);
}

static unsigned count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A table of IDs (util/u32map.c): a key and a pointer per slot. */
static double index_bytes(uint32_t max)
{
	uint32_t slots;

	if (hashprobe_slots(max, &slots))
		return 0;
	return (double)slots * (sizeof(uint32_t) + sizeof(void *));
}

void memory_account(FILE *out, const struct sp_config *cfg, const struct memory_facts *f)
{
	struct rlimit rl;
	size_t stack = 8u << 20; /* glibc's default when the limit is unlimited */
	double ring;
	char how[240];

	if (!getrlimit(RLIMIT_STACK, &rl) && rl.rlim_cur != RLIM_INFINITY)
		stack = rl.rlim_cur;

	ring = (double)f->ring_bytes * (f->rings ? f->rings : 1);
	if (f->rings)
		snprintf(how, sizeof(how), "BPF ring buffers, one per CPU: %u of %.0f KiB "
			 "(--ringbuf-size; more CPUs than %u share them); kernel memory, their data pages mapped twice into "
			 "spanprobe: RSS counts %.0f MiB from the start", f->rings,
			 f->ring_bytes / KIB, LOADER_RINGS_MAX, 2.0 * ring / MIB);
	else
		snprintf(how, sizeof(how), "BPF ring buffer (--ringbuf-size), one for all "
			 "CPUs; kernel memory, its data pages mapped twice into spanprobe: "
			 "RSS counts %.0f MiB from the start", 2.0 * ring / MIB);
	line(out, "ring buffer", ring, how);
	account_maps(out);
	snprintf(how, sizeof(how), "%u spans of %zu B (--span-pool); reserved, resident as "
		 "many as were ever in use at once (the peak, below)", cfg->span_pool,
		 sizeof(struct sp_span));
	line(out, "span pool", (double)cfg->span_pool * sizeof(struct sp_span), how);
	snprintf(how, sizeof(how), "%u span pointers (OTEL_BSP_MAX_QUEUE_SIZE), a batch of "
		 "%u (OTEL_BSP_MAX_EXPORT_BATCH_SIZE) and the room to put it in runs of one "
		 "resource; the spans are the pool's",
		 cfg->batch_max_queue, cfg->batch_max_batch);
	line(out, "batch queue", 8.0 * cfg->batch_max_queue + 8.0 * cfg->batch_max_batch +
				 regroup_bytes(cfg->batch_max_batch), how);
	snprintf(how, sizeof(how), "%u threads x %u open calls of %zu B (--max-threads, "
		 "--max-depth); reserved, resident as threads use them",
		 cfg->max_threads, cfg->max_depth, sizeof(struct sp_frame));
	line(out, "thread table",
	     (double)cfg->max_threads * sizeof(struct sp_thread) + index_bytes(cfg->max_threads) +
	     (double)cfg->max_threads * cfg->max_depth * sizeof(struct sp_frame), how);
	snprintf(how, sizeof(how), "index of %u processes (--max-processes); a resource per "
		 "process as processes are seen", cfg->max_processes);
	line(out, "process table", index_bytes(cfg->max_processes), how);
	if (f->conn_bytes) {
		snprintf(how, sizeof(how), "at most %u connections of %zu B (--max-connections), "
			 "allocated as they open, freed as they close; more pending requests and "
			 "HTTP/2 streams and HPACK tables on the heap while in use",
			 cfg->max_connections, f->conn_bytes);
		line(out, "connections", (double)cfg->max_connections * f->conn_bytes, how);
	}
	if (f->conn_bytes) {
		snprintf(how, sizeof(how), "an HTTP/2 connection: up to %u streams of %zu B "
			 "(and a pointer each), their open requests' ring of %zu B and an "
			 "HPACK table of up to %u B each way, from the heap while in use "
			 "(fixed)", (unsigned)HTTP2_STREAMS_MAX, sizeof(struct http2_stream),
			 f->reqs_bytes, (unsigned)HTTP2_HPACK_TABLE_MAX);
		line(out, "http/2, each",
		     (double)HTTP2_STREAMS_MAX *
				     (sizeof(struct http2_stream) + sizeof(void *)) +
			     (double)f->reqs_bytes + 2.0 * HTTP2_HPACK_TABLE_MAX,
		     how);
	}
	if (f->conn_bytes) {
		/* The largest of the three: Redis's queue of commands. */
		double redis = (double)REDIS_QUEUE_MAX * sizeof(struct redis_cmd);
		double pg = (double)PGSQL_STMTS_MAX * (PGSQL_TEXT_MAX + PGSQL_NAME_MAX);
		double my = (double)MYSQL_STMTS_MAX * MYSQL_QUERY_MAX;

		snprintf(how, sizeof(how), "a database connection, at most, from the heap while "
			 "in use: Redis's %u commands waiting of %zu B, PostgreSQL's %u statements "
			 "of up to %u B, MySQL's %u of up to %u B (fixed)",
			 (unsigned)REDIS_QUEUE_MAX, sizeof(struct redis_cmd),
			 (unsigned)PGSQL_STMTS_MAX, (unsigned)PGSQL_TEXT_MAX,
			 (unsigned)MYSQL_STMTS_MAX, (unsigned)MYSQL_QUERY_MAX);
		line(out, "database, each", redis > pg ? (redis > my ? redis : my)
						       : (pg > my ? pg : my), how);
	}
	snprintf(how, sizeof(how), "one request's encoding of up to %u spans and its "
		 "compressed copy (OTEL_BSP_MAX_EXPORT_BATCH_SIZE), ~500 B a span; "
		 "allocated per request, freed after", cfg->batch_max_batch);
	line(out, "export buffers", 2.0 * 500 * cfg->batch_max_batch, how);
	if (cfg->otlp.queue_dir) {
		snprintf(how, sizeof(how), "on disk (--queue-max-bytes); in memory one record "
			 "at a time while it is sent");
		line(out, "disk queue", (double)cfg->otlp.queue_max_bytes, how);
	}
	if (f->k8s) {
		snprintf(how, sizeof(how), "at most %u pods of some 9 KB (--k8s-max-pods), as "
			 "the node's pods are listed", cfg->k8s_max_pods);
		line(out, "kubernetes pods", 9.0 * 1024 * cfg->k8s_max_pods, how);
	}
	snprintf(how, sizeof(how), "%u threads so far, %.0f MiB of address space each; "
		 "resident only what they touch", count_threads(), stack / MIB);
	line(out, "thread stacks", (double)count_threads() * stack, how);
	snprintf(how, sizeof(how), "glibc malloc: %d arenas; free heap pages given back "
		 "every %llu s", ARENA_MAX, MEMORY_TRIM_NS / 1000000000ULL);
	line(out, "allocator", -1, how);
	fflush(out);
}

/* Fields of /proc/self/status, in KiB. */
static void status_kib(unsigned long *rss, unsigned long *hwm, unsigned long *anon,
		       unsigned long *file)
{
	char text[128];
	FILE *f = fopen("/proc/self/status", "re");

	*rss = *hwm = *anon = *file = 0;
	if (!f)
		return;
	while (fgets(text, sizeof(text), f)) {
		sscanf(text, "VmRSS: %lu", rss);
		sscanf(text, "VmHWM: %lu", hwm);
		sscanf(text, "RssAnon: %lu", anon);
		sscanf(text, "RssFile: %lu", file);
	}
	fclose(f);
}

void memory_usage(FILE *out, struct sp_spanpool *pool)
{
	unsigned long rss, hwm, anon, file;
	uint32_t in_use, peak;

	status_kib(&rss, &hwm, &anon, &file);
	spanpool_usage(pool, &in_use, &peak);
	fprintf(out, "spanprobe: memory: RSS %lu KiB (anon %lu, file and ring buffer %lu), "
		"peak %lu KiB; span pool %u in use, peak %u of %u\n", rss, anon, file, hwm,
		in_use, peak, pool->size);
}
