/* SPDX-License-Identifier: MIT */
/*
 * Reading the BPF ring buffers: one shared by every CPU, or one per CPU
 * merged in time order.
 *
 * One ring buffer for all CPUs hands records over in the order they were
 * reserved, but every producer takes its one lock and moves its positions
 * between CPUs: on two CPUs that was some 300 ns of an HTTP call
 * (bench/bpf_stages.py).  With one ring buffer per CPU the producers never
 * meet, and the order the decoders need (a connection's request and
 * response can be written on two CPUs) is restored here: each drain hands
 * over the records of every ring in the order of their header's clock
 * (sp_event_header.ts_ns, CLOCK_MONOTONIC on every CPU).
 *
 * Why that order holds for records that depend on each other: a program
 * writes its record before the call it traces returns, so a record B
 * caused by record A (the response sent after the request was read) takes
 * its clock after A was committed; and every program reads a record's
 * clock before it reserves the record's space (bpf/common.bpf.h), so in
 * a ring no record waits behind one whose clock is later than its own
 * reservation.  A drain reads the clock first (t0),
 * then each ring's producer position, and hands over only records older
 * than t0: if B is handed over, A was committed before t0, so it is seen
 * in this drain too, and comes first.  A record still being written
 * (its busy bit set) stops its ring, and the other rings stop at the
 * clock of the last record that ring handed over: the records behind it
 * are newer.  Records left behind stay in their ring for the next drain.
 *
 * The reader speaks the kernel's ring-buffer layout (include/uapi/linux/
 * bpf.h): a consumer page the reader writes, a producer page, then the
 * data pages mapped twice so a record never wraps; each record is an
 * 8-byte header (length with the busy and discard bits, page offset) and
 * its bytes, rounded up to 8.
 */
#ifndef SPANPROBE_RINGS_H
#define SPANPROBE_RINGS_H

#include <stddef.h>
#include <stdint.h>

/* A record handed over; a negative return stops the drain, which returns it. */
typedef int (*rings_record_fn)(void *ctx, void *data, size_t size);

struct rings_one {
	int fd;
	uint64_t *consumer;        /* the page the reader writes */
	const uint64_t *producer;  /* the page the kernel writes */
	const uint8_t *data;       /* size bytes, mapped twice */
	uint64_t mask;             /* size - 1 */
	uint64_t cons, limit;      /* this drain: where it is, where it stops */
	uint64_t last_ts;          /* clock of the last record handed over */
	uint64_t ahead;            /* asked for the caches up to here */
	size_t map_size;           /* of the producer mapping */
};

struct rings {
	struct rings_one *ring;
	unsigned int n;
	int epoll_fd;
	rings_record_fn fn;
	void *ctx;
};

/*
 * Map the `n` ring buffers `fds` (each `size` bytes, a power of two of at
 * least a page) for reading; `fn` gets every record.  The fds stay the
 * caller's.  Returns 0 or a negative errno.
 */
int rings_open(struct rings *r, const int *fds, unsigned int n, uint32_t size,
	       rings_record_fn fn, void *ctx);

/*
 * Hand over the records written so far: with one ring, all of them in
 * their order; with several, those older than the drain's start, merged
 * by their clock.  Returns how many, or the first negative of `fn`.
 */
int rings_drain(struct rings *r);

/*
 * Wait up to `timeout_ms` for a wake-up of any ring, then drain (records
 * submitted without a wake-up are read too).  Returns the records handed
 * over, or a negative errno (-EINTR when a signal came).
 */
int rings_poll(struct rings *r, int timeout_ms);

/* Unmap and forget; the fds are not closed.  Accepts a zeroed struct. */
void rings_close(struct rings *r);

#endif /* SPANPROBE_RINGS_H */
