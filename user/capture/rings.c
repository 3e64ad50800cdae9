// SPDX-License-Identifier: MIT
#include "capture/rings.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spanprobe/events.h"
#include "util/clock.h"

enum head_state { HEAD_READY, HEAD_DONE, HEAD_BUSY };

/* A ring's next record in this drain (kept between the merge's steps). */
struct head {
	enum head_state state;
	void *data;
	uint32_t len;
	uint64_t ts;
};

static uint64_t record_space(uint32_t len)
{
	return ((uint64_t)len + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;
}

/*
 * Give the space up to the ring's position back to the kernel: at the end
 * of a drain, and after each eighth of the ring within one.  Every
 * reservation reads this position; it need not move at every record.
 */
static void publish(struct rings_one *o)
{
	__atomic_store_n(o->consumer, o->cons, __ATOMIC_RELEASE);
}

static void publish_some(struct rings_one *o)
{
	if (o->cons - *o->consumer >= (o->mask + 1) / 8)
		publish(o);
}

static void publish_all(struct rings *r)
{
	for (unsigned int i = 0; i < r->n; i++)
		if (*r->ring[i].consumer != r->ring[i].cons)
			publish(&r->ring[i]);
}

/* Find the ring's next record before its limit, past discarded ones. */
static void head_read(struct rings_one *o, struct head *h)
{
	while (o->cons < o->limit) {
		const uint32_t *hdr = (const uint32_t *)(o->data + (o->cons & o->mask));
		uint32_t word = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
		uint32_t len = word & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

		if (word & BPF_RINGBUF_BUSY_BIT) {
			h->state = HEAD_BUSY;
			return;
		}
		if (word & BPF_RINGBUF_DISCARD_BIT) {
			o->cons += record_space(len);
			continue;
		}
		h->data = (void *)((const uint8_t *)hdr + BPF_RINGBUF_HDR_SZ);
		h->len = len;
		/* A record too short for a header goes first; the records
		 * check refuses it. */
		h->ts = len >= sizeof(struct sp_event_header) ?
			((const struct sp_event_header *)h->data)->ts_ns : 0;
		h->state = HEAD_READY;
		return;
	}
	h->state = HEAD_DONE;
}

/*
 * Ask for the cache lines of the next RINGS_AHEAD bytes of records while
 * this one is decoded, each line once, up to the drain's limit.  At
 * saturation the reader runs most of a ring behind the kernel: the
 * records have left the caches, and each one's first reads were what
 * the decoders waited for (bench/throughput: the reader's time 0.89 of
 * what it was; 512 to 2048 bytes ahead did as well, 1024 best).  The
 * data is mapped twice, but a line's address is taken in the first
 * mapping, where every position has one.
 */
#define RINGS_AHEAD 1024

static void prefetch_ahead(struct rings_one *o)
{
	uint64_t end = o->cons + RINGS_AHEAD, p = o->ahead > o->cons ? o->ahead : o->cons;

	if (end > o->limit)
		end = o->limit;
	for (p &= ~(uint64_t)63; p < end; p += 64)
		__builtin_prefetch(o->data + (p & o->mask));
	if (p > o->ahead)
		o->ahead = p;
}

static int hand_over(struct rings *r, struct rings_one *o, const struct head *h)
{
	int err;

	o->cons += record_space(h->len);
	prefetch_ahead(o);
	o->last_ts = h->ts > o->last_ts ? h->ts : o->last_ts;
	err = r->fn(r->ctx, h->data, h->len);
	publish_some(o);
	return err;
}

/* One ring: every record in its order, until none is left or one is busy. */
static int drain_one(struct rings *r)
{
	struct rings_one *o = &r->ring[0];
	struct head h;
	int n = 0, err;

	for (;;) {
		uint64_t start = o->cons;

		o->limit = __atomic_load_n(o->producer, __ATOMIC_ACQUIRE);
		for (head_read(o, &h); h.state == HEAD_READY; head_read(o, &h)) {
			err = hand_over(r, o, &h);
			if (err < 0)
				return err;
			n++;
		}
		if (o->cons == start || h.state == HEAD_BUSY)
			return n;
	}
}

/* The ready head with the oldest clock, or -1. */
static int oldest(const struct head *h, unsigned int n)
{
	int best = -1;

	for (unsigned int i = 0; i < n; i++)
		if (h[i].state == HEAD_READY && (best < 0 || h[i].ts < h[best].ts))
			best = (int)i;
	return best;
}

/* A clock past any the kernel could have written (the drain's start and
 * a second) would hold its ring forever: such a record goes first. */
static void head_read_sane(struct rings_one *o, struct head *h, uint64_t future)
{
	head_read(o, h);
	if (h->state == HEAD_READY && h->ts > future)
		h->ts = 0;
}

/* A busy ring holds back, in the others, what is newer than its last. */
static uint64_t cap_for(const struct rings_one *o, const struct head *h, uint64_t cap)
{
	if (h->state == HEAD_BUSY && o->last_ts < cap)
		return o->last_ts + 1;
	return cap;
}

/* Several rings: what is older than the drain's start, merged by clock. */
static int drain_merged(struct rings *r, struct head *heads)
{
	uint64_t cap = clock_mono_ns(), future = cap + 1000000000ULL;
	int n = 0, best, err;

	for (unsigned int i = 0; i < r->n; i++)
		r->ring[i].limit = __atomic_load_n(r->ring[i].producer, __ATOMIC_ACQUIRE);
	for (unsigned int i = 0; i < r->n; i++) {
		head_read_sane(&r->ring[i], &heads[i], future);
		cap = cap_for(&r->ring[i], &heads[i], cap);
	}
	while ((best = oldest(heads, r->n)) >= 0 && heads[best].ts < cap) {
		err = hand_over(r, &r->ring[best], &heads[best]);
		if (err < 0)
			return err;
		n++;
		head_read_sane(&r->ring[best], &heads[best], future);
		cap = cap_for(&r->ring[best], &heads[best], cap);
	}
	return n;
}

int rings_drain(struct rings *r)
{
	struct head heads[64], *h = heads;
	int n;

	if (r->n == 1) {
		n = drain_one(r);
	} else {
		if (r->n > sizeof(heads) / sizeof(heads[0])) {
			h = calloc(r->n, sizeof(*h));
			if (!h)
				return -ENOMEM;
		}
		n = drain_merged(r, h);
		if (h != heads)
			free(h);
	}
	publish_all(r);
	return n;
}

int rings_poll(struct rings *r, int timeout_ms)
{
	struct epoll_event ev[8];

	if (epoll_wait(r->epoll_fd, ev, 8, timeout_ms) < 0)
		return -errno;
	return rings_drain(r);
}

static int map_one(struct rings_one *o, int fd, uint32_t size, size_t page)
{
	void *p;

	o->fd = fd;
	o->mask = size - 1;
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	o->consumer = p;
	o->map_size = page + 2 * (size_t)size;
	p = mmap(NULL, o->map_size, PROT_READ, MAP_SHARED, fd, (off_t)page);
	if (p == MAP_FAILED) {
		int err = -errno;

		munmap(o->consumer, page);
		o->consumer = NULL;
		return err;
	}
	o->producer = p;
	o->data = (const uint8_t *)p + page;
	o->cons = __atomic_load_n(o->consumer, __ATOMIC_ACQUIRE);
	return 0;
}

static int watch(struct rings *r, unsigned int i)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

	return epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, r->ring[i].fd, &ev) ? -errno : 0;
}

int rings_open(struct rings *r, const int *fds, unsigned int n, uint32_t size,
	       rings_record_fn fn, void *ctx)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int err = 0;

	memset(r, 0, sizeof(*r));
	r->epoll_fd = -1;
	if (!n || size < page || (size & (size - 1)))
		return -EINVAL;
	r->ring = calloc(n, sizeof(*r->ring));
	if (!r->ring)
		return -ENOMEM;
	r->fn = fn;
	r->ctx = ctx;
	r->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epoll_fd < 0)
		err = -errno;
	for (unsigned int i = 0; i < n && !err; i++) {
		err = map_one(&r->ring[i], fds[i], size, page);
		if (!err)
			r->n = i + 1;
		if (!err)
			err = watch(r, i);
	}
	if (err)
		rings_close(r);
	return err;
}

void rings_close(struct rings *r)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	for (unsigned int i = 0; r->ring && i < r->n; i++) {
		munmap(r->ring[i].consumer, page);
		munmap((void *)r->ring[i].producer, r->ring[i].map_size);
	}
	/* A zeroed struct (never opened) has no epoll fd, whatever 0 says. */
	if (r->ring && r->epoll_fd >= 0)
		close(r->epoll_fd);
	free(r->ring);
	memset(r, 0, sizeof(*r));
	r->epoll_fd = -1;
}
