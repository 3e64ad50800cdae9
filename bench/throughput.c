// SPDX-License-Identifier: MIT
/*
 * Daemon throughput at saturation: ring-buffer records of HTTP/1.1
 * exchanges (SP_EV_SOCK_DATA, SP_EV_SOCK_CLOSE, as include/spanprobe/
 * events.h lays them out and the socket programs write them) go through
 * the code the daemon runs on what it drains from the ring buffer:
 *
 *   records_validate() -> sockcap_handle() -> protocol stage (connection
 *   table, HTTP/1 decoder) -> exchange spans (context, pipeline, pool) ->
 *   batch span processor -> OTLP exporter (protobuf, gzip, HTTP/2) ->
 *   the local sink (otlp_sink, next to this program)
 *
 *   throughput [-n RUNS] [-r REPLAYS] [-P] [-S SINK]
 *              defaults: 7 runs of 8 replays of one block
 *
 * A block is 256 keep-alive connections to one server (pid 4242, 16
 * worker threads), 64 exchanges each, interleaved, then their closes:
 * 16384 server spans.  Requests vary in method, path, headers (half carry
 * a traceparent); responses in status and body size, captured up to the
 * daemon's default 1024 bytes.  A run replays the block REPLAYS times
 * (each replay moves its times forward) and ends when every span was
 * exported.  No kernel: the verdicts (one BPF map update per connection)
 * are left out.  The records lie as the kernel lays out a BPF ring
 * buffer (an 8-byte header each), in one ring as large as the block, and
 * the daemon's ring reader (capture/rings.c) hands them over; a replay
 * is the kernel moving the producer position one ring on.  Finished spans go
 * to the export queue 64 at a time, flushed after each replay, as the
 * daemon hands them over (push_batch, flushed after each read of the
 * ring buffer).  The reader waits
 * for room when the export queue is full (as the daemon does while it
 * drains), so every span is counted, none dropped.
 *
 * Both threads (reader, exporter) are pinned to one CPU, unless -P: the
 * wall-clock rate is then what one core does.  CPU per span is the two
 * threads' CPU time over the spans (the sink's, another process, is not
 * counted); spans/s per core is its inverse.  Prints min/median/max over
 * the runs after one warm-up run, and exits non-zero unless every
 * exchange became one exported span and the sink got every request.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"
#include "summary.h"
#include "assemble/exchange.h"
#include "assemble/pipeline_impl.h"
#include "capture/records.h"
#include "capture/rings.h"
#include "capture/sockcap.h"
#include "export/batch.h"
#include "export/otlp_config.h"
#include "export/otlp_exporter.h"
#include "span/spanpool.h"
#include "spanprobe/events.h"
#include "util/clock.h"
#include "util/ids.h"

#define MAX_RUNS 100
#define CONNS 256
#define PER_CONN 64
#define WORKERS 16
#define SERVER_PID 4242
#define CAPTURE 1024      /* the daemon's default --capture-bytes */
#define EXCHANGE_NS 20000 /* one exchange every 20 us in the block */
#define RING_HDR 8        /* a ring-buffer record's header (BPF_RINGBUF_HDR_SZ) */
#define RING_DISCARD (1u << 30) /* BPF_RINGBUF_DISCARD_BIT */

/*
 * The records of one block as a BPF ring buffer holds them: each after
 * an 8-byte header (its length), at an 8-byte boundary.  Once built, a
 * discarded record fills the block up to `ring` bytes (a power of two).
 */
struct block {
	uint8_t *buf;
	size_t len, cap, ring;
	uint32_t records, exchanges;
	uint64_t duration_ns;
};

/* What the daemon wires together, as daemon.c does. */
struct rig {
	struct sp_spanpool pool;
	struct sp_batch bsp;
	struct sp_otlp_config cfg;
	struct sp_exporter *exp;
	struct sp_pipeline *p;
	struct exchange_spans *xs;
	struct sockcap *sc;
	struct records_stats records;
	struct rings rings;          /* over the block, one ring */
	struct rings_one ring;
	uint64_t consumer, producer; /* the ring's positions (the kernel's pages) */
	uint64_t shift;              /* added to every clock of this replay */
};

struct runs {
	uint64_t wall[MAX_RUNS], cpu[MAX_RUNS], reader[MAX_RUNS], exporter[MAX_RUNS];
	uint64_t sys[MAX_RUNS]; /* of cpu[], in the kernel (both threads) */
	int on[MAX_RUNS];	/* the CPU both threads were pinned to, or -1 */
};

/* The CPUs the runs take turns on: a VM's vCPUs need not run at one speed. */
struct cpus {
	int id[CPU_SETSIZE];
	int n;
};

static struct sp_idgen rng;

static uint32_t pick(uint32_t n)
{
	return (uint32_t)(idgen_next(&rng) % n);
}

static void *block_room(struct block *b, size_t size)
{
	size_t need = b->len + RING_HDR + ((size + 7) & ~(size_t)7);
	uint32_t *hdr;

	if (need > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1 << 20;
		uint8_t *n;

		while (cap < need)
			cap *= 2;
		n = realloc(b->buf, cap);
		if (!n)
			return NULL;
		b->buf = n;
		b->cap = cap;
	}
	hdr = (uint32_t *)(b->buf + b->len);
	memset(hdr, 0, need - b->len);
	hdr[0] = (uint32_t)size; /* the length; no busy or discard bit */
	b->len = need;
	b->records++;
	return (uint8_t *)hdr + RING_HDR;
}

static void put_header(struct sp_event_header *h, uint16_t type, size_t size,
		       uint32_t tid, uint64_t ts)
{
	h->type = type;
	h->size = (uint16_t)size;
	h->version = SP_EVENT_VERSION;
	h->pid = SERVER_PID;
	h->tid = tid;
	h->ts_ns = ts;
}

/* One read or write of connection `c` (client 10.1.x.y, server 10.0.0.5:8080). */
static int put_data(struct block *b, uint32_t c, uint32_t tid, uint64_t ts,
		    uint8_t dir, const char *data, size_t total)
{
	size_t captured = total < CAPTURE ? total : CAPTURE;
	size_t size = sizeof(struct sp_sock_data_event) + captured;
	struct sp_sock_data_event *ev = block_room(b, size);
	static const uint8_t server[4] = { 10, 0, 0, 5 };

	if (!ev)
		return -ENOMEM;
	put_header(&ev->hdr, SP_EV_SOCK_DATA, size, tid, ts);
	ev->sock_id = 0xffff888100000000ULL + (uint64_t)c * 0x1000;
	ev->fd = 10 + (int)c;
	ev->total_len = (uint32_t)total;
	ev->captured = (uint16_t)captured;
	ev->direction = dir;
	ev->family = 2;
	ev->local_port = 8080;
	ev->peer_port = (uint16_t)(40000 + c);
	ev->syscall_nr = dir == SP_SOCK_SEND ? 1 : 0;
	memcpy(ev->local_addr, server, 4);
	ev->peer_addr[0] = 10;
	ev->peer_addr[1] = 1;
	ev->peer_addr[2] = (uint8_t)(c >> 8);
	ev->peer_addr[3] = (uint8_t)c;
	memcpy(ev + 1, data, captured);
	return 0;
}

static int put_close(struct block *b, uint32_t c, uint64_t ts)
{
	struct sp_sock_close_event *ev = block_room(b, sizeof(*ev));

	if (!ev)
		return -ENOMEM;
	put_header(&ev->hdr, SP_EV_SOCK_CLOSE, sizeof(*ev), 0, ts);
	ev->sock_id = 0xffff888100000000ULL + (uint64_t)c * 0x1000;
	ev->old_state = 8; /* TCP_CLOSE_WAIT */
	return 0;
}

static const char *const agents[] = {
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/120.0.0.0 Safari/537.36",
	"curl/7.88.1", "Go-http-client/1.1", "python-requests/2.31.0",
};

/* A request as a client sends it: `*len` bytes at `buf`. */
static size_t make_request(char *buf, size_t size)
{
	static const char *const methods[] = { "GET", "GET", "GET", "GET",
					       "POST", "PUT", "DELETE" };
	const char *method = methods[pick(7)];
	char path[128], tp[96] = "";
	size_t n, body = method[0] == 'P' ? 40 + pick(200) : 0;

	switch (pick(5)) {
	case 0: snprintf(path, sizeof(path), "/api/v1/orders/%u", pick(1000000)); break;
	case 1: snprintf(path, sizeof(path), "/api/v1/users/%u/cart", pick(100000)); break;
	case 2: snprintf(path, sizeof(path), "/health"); break;
	case 3: snprintf(path, sizeof(path), "/api/v1/products?page=%u&limit=20", pick(50)); break;
	default: snprintf(path, sizeof(path), "/static/app.%08x.js", pick(1u << 31)); break;
	}
	if (pick(2))
		snprintf(tp, sizeof(tp), "traceparent: 00-%016" PRIx64 "%016" PRIx64
			 "-%016" PRIx64 "-01\r\n", idgen_next(&rng) | 1,
			 idgen_next(&rng), idgen_next(&rng) | 1);
	n = (size_t)snprintf(buf, size, "%s %s HTTP/1.1\r\nHost: shop.example.com\r\n"
			     "User-Agent: %s\r\nAccept: application/json\r\n%s",
			     method, path, agents[pick(4)], tp);
	if (body)
		n += (size_t)snprintf(buf + n, size - n, "Content-Type: application/json\r\n"
				      "Content-Length: %zu\r\n", body);
	n += (size_t)snprintf(buf + n, size - n, "\r\n");
	memset(buf + n, '{', body);
	return n + body;
}

/* A response head and its body (the body's first bytes only are captured). */
static size_t make_response(char *buf, size_t size, size_t *total)
{
	uint32_t r = pick(100), status = r < 90 ? 200 : r < 98 ? 404 : 503;
	const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found"
								: "Service Unavailable";
	size_t body = 20 + pick(4000), n;

	n = (size_t)snprintf(buf, size, "HTTP/1.1 %u %s\r\nServer: nginx/1.22.1\r\n"
			     "Date: Sat, 05 Dec 2026 10:00:00 GMT\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
			     "Connection: keep-alive\r\n\r\n", status, reason, body);
	memset(buf + n, 'x', size - n < body ? size - n : body);
	*total = n + body;
	return n + body < size ? n + body : size;
}

/* The block made a whole ring: a discarded record from its end to the ring's. */
static int block_ring(struct block *b)
{
	size_t ring = 1 << 20;
	uint8_t *n;

	while (ring < b->len + RING_HDR)
		ring *= 2;
	n = realloc(b->buf, ring);
	if (!n)
		return -ENOMEM;
	memset(n + b->len, 0, ring - b->len);
	*(uint32_t *)(n + b->len) = (uint32_t)(ring - b->len - RING_HDR) | RING_DISCARD;
	b->buf = n;
	b->cap = b->ring = ring;
	return 0;
}

/* The block: CONNS connections, PER_CONN exchanges each, then their closes. */
static int block_build(struct block *b)
{
	char req[1024], resp[CAPTURE + 1];
	uint64_t ts = 1000000000ULL;
	size_t total;
	int err = 0;

	idgen_seed(&rng, 0x9e3779b97f4a7c15ULL);
	for (uint32_t e = 0; e < PER_CONN && !err; e++) {
		for (uint32_t c = 0; c < CONNS && !err; c++) {
			uint32_t tid = SERVER_PID + 1 + pick(WORKERS);
			size_t rl = make_request(req, sizeof(req));

			make_response(resp, sizeof(resp), &total);
			err = put_data(b, c, tid, ts, SP_SOCK_RECV, req, rl) ||
			      put_data(b, c, tid, ts + 2000 + pick(5000), SP_SOCK_SEND,
				       resp, total);
			b->exchanges++;
			ts += EXCHANGE_NS;
		}
	}
	for (uint32_t c = 0; c < CONNS && !err; c++)
		err = put_close(b, c, ts + c);
	b->duration_ns = ts + CONNS;
	return err ? -ENOMEM : block_ring(b);
}

/* A record from the ring reader, as the daemon's callback takes it. */
static int on_record(void *ctx, void *data, size_t size)
{
	struct rig *r = ctx;
	struct sp_event_header *hdr = data;

	hdr->ts_ns += r->shift; /* the replay comes later than the last */
	if (records_validate(&r->records, hdr, size))
		return 0;
	if (sockcap_owns(hdr->type))
		sockcap_handle(r->sc, hdr, size);
	return 0;
}

/* The ring reader over the block (the consumer and producer pages are
 * the rig's two positions). */
static void rig_ring(struct rig *r, struct block *b)
{
	r->ring = (struct rings_one){ .fd = -1, .consumer = &r->consumer,
				      .producer = &r->producer, .data = b->buf,
				      .mask = b->ring - 1 };
	r->rings = (struct rings){ .ring = &r->ring, .n = 1, .epoll_fd = -1,
				   .fn = on_record, .ctx = r };
}

/* Every record of the block, through the ring reader.  Not inlined: the
 * reader's work is then one function to a profiler
 * (`valgrind --tool=callgrind --toggle-collect=block_feed`). */
static __attribute__((noinline)) void block_feed(struct rig *r, struct block *b, uint64_t shift)
{
	r->shift = shift;
	__atomic_store_n(&r->producer, r->producer + b->ring, __ATOMIC_RELEASE);
	/* A drain that hands nothing over ends it: rig_check() then counts
	 * the spans missing. */
	while (r->consumer != r->producer && rings_drain(&r->rings) > 0)
		;
	pipeline_flush(r->p); /* as the daemon after each read of the ring */
}

static int rig_open(struct rig *r, int port)
{
	char url[64];
	struct sp_bsp_opts bo = { .max_queue = 2048, .max_batch = 512,
				  .delay_ms = 5000, .export_timeout_ms = 30000 };
	struct sp_process_info info = { .pid = SERVER_PID, .exe_path = "/usr/sbin/nginx" };
	struct sp_resource_defaults rd = { 0 };
	struct sp_pipeline_opts po = { .span_pool = 16384, .max_threads = 1024,
				       .max_depth = 64, .max_processes = 64,
				       .sink = batch_sink(&r->bsp), .pool = &r->pool,
				       .push_batch = PIPELINE_PUSH_MAX };
	struct proto_streams_opts so = { .max_conns = 4096 };
	struct sockcap_opts co = { .capture_bytes = CAPTURE };
	struct sp_resource *res;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	otlp_config_defaults(&r->cfg);
	r->cfg.connections = 1;
	if (otlp_config_set_endpoint(&r->cfg, url) ||
	    otlp_config_set_http_version(&r->cfg, "2") ||
	    otlp_config_set_compression(&r->cfg, "gzip") || otlp_config_finish(&r->cfg))
		return -EINVAL;
	r->exp = otlp_exporter_create(&r->cfg);
	if (!r->exp || spanpool_init(&r->pool, po.span_pool) ||
	    batch_start(&r->bsp, &bo, r->exp, &r->pool))
		return -ENOMEM;
	r->p = pipeline_create(&po);
	res = r->p ? resource_build(&info, &rd) : NULL;
	if (!res || pipeline_set_resource(r->p, SERVER_PID, res))
		return -ENOMEM;
	pipeline_set_draining(r->p); /* wait for room: count every span */
	r->xs = exchange_create(r->p, &so);
	r->sc = r->xs ? sockcap_open_detached(&co) : NULL;
	if (!r->sc)
		return -ENOMEM;
	sockcap_set_sink(r->sc, exchange_sink(r->xs));
	return 0;
}

static void rig_close(struct rig *r)
{
	sockcap_close(r->sc);
	exchange_destroy(r->xs);
	if (r->bsp.ring)
		batch_shutdown(&r->bsp);
	pipeline_destroy(r->p);
	if (r->exp)
		r->exp->ops->destroy(r->exp);
	spanpool_destroy(&r->pool);
	otlp_config_free(&r->cfg);
}

static uint64_t cpu_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The process's time in the kernel (its threads: the reader, the exporter). */
static uint64_t sys_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)ru.ru_stime.tv_sec * 1000000000ULL +
	       (uint64_t)ru.ru_stime.tv_usec * 1000ULL;
}

/* One run: the block REPLAYS times, then everything exported. */
static int run_once(struct rig *r, struct block *b, int replays, struct runs *m,
		    int run)
{
	clockid_t exp_clock;
	uint64_t t0, c0, e0, s0;

	if (pthread_getcpuclockid(r->bsp.thread, &exp_clock))
		return -EIO;
	t0 = clock_mono_ns();
	c0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	e0 = cpu_ns(exp_clock);
	s0 = sys_ns();
	for (int i = 0; i < replays; i++)
		block_feed(r, b, b->duration_ns);
	batch_flush(&r->bsp);
	if (run < 0)
		return 0;
	m->wall[run] = clock_mono_ns() - t0;
	m->reader[run] = cpu_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	m->exporter[run] = cpu_ns(exp_clock) - e0;
	m->cpu[run] = m->reader[run] + m->exporter[run];
	m->sys[run] = sys_ns() - s0;
	return 0;
}

/* Every exchange one span, exported; nothing refused, lost or dropped. */
static int rig_check(struct rig *r, uint64_t spans)
{
	const struct sp_pipeline_stats *ps = pipeline_stats(r->p);
	const struct sp_export_stats *es = &r->exp->stats;
	struct exchange_stats xs;
	struct http_client_stats hs;

	exchange_stats(r->xs, &xs);
	otlp_exporter_http_stats(r->exp, &hs);
	if (es->spans_exported == spans && !es->spans_failed && !es->requests_retried &&
	    xs.server_spans == spans && !xs.no_span && !xs.discarded &&
	    !ps->queue_full && !ps->pool_empty && !records_refused(&r->records) &&
	    hs.connects == 1)
		return 0;
	fprintf(stderr, "throughput: expected %" PRIu64 " spans; exported %" PRIu64
		" failed %" PRIu64 " retried %" PRIu64 ", server spans %" PRIu64
		" lost %" PRIu64 " discarded %" PRIu64 ", queue full %" PRIu64
		" pool empty %" PRIu64 ", records refused %" PRIu64 ", connects %"
		PRIu64 "\n", spans, es->spans_exported, es->spans_failed,
		es->requests_retried, xs.server_spans, xs.no_span, xs.discarded,
		ps->queue_full, ps->pool_empty, records_refused(&r->records), hs.connects);
	return -EIO;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts `v`; prints per span (in us) min, median, max. */
static double report_per_span(const char *what, uint64_t *v, int runs, double spans)
{
	qsort(v, (size_t)runs, sizeof(*v), cmp_u64);
	printf("throughput: %-28s min %6.3f median %6.3f max %6.3f us/span\n", what,
	       (double)v[0] / spans / 1e3, (double)v[runs / 2] / spans / 1e3,
	       (double)v[runs - 1] / spans / 1e3);
	return (double)v[runs / 2] / spans / 1e3;
}

/*
 * The runs take turns on the CPUs: one line per CPU shows whether they ran
 * at one speed (a hypervisor may give a vCPU half the time of another).
 */
static void report_per_cpu(const struct runs *m, int runs, double spans)
{
	uint64_t v[MAX_RUNS];
	bool done[MAX_RUNS] = { false };

	for (int i = 0; i < runs; i++) {
		int n = 0;

		if (done[i] || m->on[i] < 0)
			continue;
		for (int j = i; j < runs; j++)
			if (m->on[j] == m->on[i]) {
				v[n++] = m->cpu[j];
				done[j] = true;
			}
		qsort(v, (size_t)n, sizeof(v[0]), cmp_u64);
		printf("throughput: on CPU %-3d %d runs, CPU per span min %.3f median %.3f"
		       " max %.3f us\n", m->on[i], n, (double)v[0] / spans / 1e3,
		       (double)v[n / 2] / spans / 1e3, (double)v[n - 1] / spans / 1e3);
	}
}

static void report(struct runs *m, int runs, double spans, bool pinned)
{
	char measured[64];
	double cpu, rate;

	report_per_cpu(m, runs, spans);
	qsort(m->wall, (size_t)runs, sizeof(m->wall[0]), cmp_u64);
	printf("throughput: spans/s %s: min %.0f median %.0f max %.0f\n",
	       pinned ? "with both threads on one core (wall clock)" : "(wall clock, not pinned)",
	       spans * 1e9 / (double)m->wall[runs - 1],
	       spans * 1e9 / (double)m->wall[runs / 2], spans * 1e9 / (double)m->wall[0]);
	cpu = report_per_span("CPU, both threads:", m->cpu, runs, spans);
	report_per_span("CPU, reader (records->queue):", m->reader, runs, spans);
	report_per_span("CPU, exporter (batch->sink):", m->exporter, runs, spans);
	/* The kernel's part: the export's socket calls (and the ticks and
	 * interrupts that land on the threads).  getrusage() splits the time
	 * by ticks: a share, less exact than the CPU clocks above. */
	report_per_span("CPU in the kernel, both:", m->sys, runs, spans);
	rate = 1e6 / cpu;
	printf("throughput: spans/s per core (1 / median CPU per span): %.0f\n", rate);
	snprintf(measured, sizeof(measured), "%.0f", rate);
	summary_record("daemon throughput, spans/s per core (HTTP/1 records, gzip, h2c)",
		       measured, ">= 1,000,000", rate >= 1e6);
	snprintf(measured, sizeof(measured), "%.3f us", cpu);
	summary_record("daemon CPU per span", measured, "<= 1 us", cpu <= 1.0);
}

static int allowed_cpus(struct cpus *c)
{
	cpu_set_t set;

	c->n = 0;
	if (sched_getaffinity(0, sizeof(set), &set))
		return -errno;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			c->id[c->n++] = i;
	return c->n ? 0 : -ENOENT;
}

/* Both threads on one CPU (the sink, started before, is not). */
static int pin_both(struct rig *r, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	return -pthread_setaffinity_np(r->bsp.thread, sizeof(set), &set);
}

static int usage(void)
{
	fprintf(stderr, "usage: throughput [-n RUNS (3..%d)] [-r REPLAYS] [-P] [-S SINK]\n",
		MAX_RUNS);
	return 2;
}

int main(int argc, char **argv)
{
	static struct rig rig;
	static struct runs m;
	struct block b = { 0 };
	struct sink sink = { 0 };
	static struct cpus cpus;
	char sink_path[PATH_MAX];
	int runs = 8, replays = 8, opt, err;
	bool pin = true;
	double spans;

	sink_default_path(sink_path, sizeof(sink_path));
	while ((opt = getopt(argc, argv, "n:r:PS:")) != -1) {
		if (opt == 'n')
			runs = atoi(optarg);
		else if (opt == 'r')
			replays = atoi(optarg);
		else if (opt == 'P')
			pin = false;
		else if (opt == 'S')
			snprintf(sink_path, sizeof(sink_path), "%s", optarg);
		else
			return usage();
	}
	if (optind != argc || runs < 3 || runs > MAX_RUNS || replays < 1 || replays > 1000)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	if (block_build(&b)) {
		fprintf(stderr, "throughput: out of memory for the records\n");
		return 1;
	}
	if (sink_start(&sink, sink_path)) {
		fprintf(stderr, "throughput: the sink %s did not start\n", sink_path);
		return 1;
	}
	err = allowed_cpus(&cpus);
	if (err)
		fprintf(stderr, "throughput: cannot read the allowed CPUs: %s\n", strerror(-err));
	if (!err)
		err = rig_open(&rig, sink.port);
	rig_ring(&rig, &b);
	for (int run = -1; run < runs && !err; run++) {
		int cpu = pin ? cpus.id[(run + 1) % cpus.n] : -1;

		err = pin ? pin_both(&rig, cpu) : 0;
		if (err)
			fprintf(stderr, "throughput: cannot pin to CPU %d: %s\n", cpu,
				strerror(-err));
		else
			err = run_once(&rig, &b, replays, &m, run);
		if (run >= 0)
			m.on[run] = cpu;
	}
	spans = (double)b.exchanges * replays;
	printf("throughput: %d runs of %d replays of %u exchanges (%u records, %.1f MB),"
	       " %d connections, sink on 127.0.0.1:%d\n", runs, replays, b.exchanges,
	       b.records, (double)b.len / 1e6, CONNS, sink.port);
	if (!err)
		err = rig_check(&rig, (uint64_t)b.exchanges * replays * (uint64_t)(runs + 1));
	if (!err)
		report(&m, runs, spans, pin);
	printf("throughput: %.1f KB raw, %.1f KB sent per span batch of 512\n",
	       rig.exp ? (double)rig.exp->stats.bytes_raw / (spans * (runs + 1) / 512) / 1024 : 0,
	       rig.exp ? (double)rig.exp->stats.bytes_sent / (spans * (runs + 1) / 512) / 1024 : 0);
	rig_close(&rig);
	err |= sink_stop(&sink);
	if (!err && (sink.errors || !sink.requests)) {
		fprintf(stderr, "throughput: the sink got %" PRIu64 " requests, %" PRIu64
			" errors\n", sink.requests, sink.errors);
		err = -EIO;
	}
	free(b.buf);
	if (err)
		fprintf(stderr, "throughput: checks failed\n");
	return err ? 1 : 0;
}
