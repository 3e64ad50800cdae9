// SPDX-License-Identifier: MIT
#include "capture/sockcap.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/loader.h"
#include "capture/records.h"
#include "capture/sockhooks.h"
#include "util/log.h"

#define SOCKCAP_DEFAULT_CAPTURE 1024

struct sockcap {
	struct sockhooks *hooks;       /* the kernel side in use */
	struct stream_sink sink;       /* NULL data: records are counted only */
	struct sockcap_opts opts;
	struct sockcap_stats stats;
	int conns_map_fd;
};

static int check_opts(struct sockcap_opts *o)
{
	if (!o->capture_bytes)
		o->capture_bytes = SOCKCAP_DEFAULT_CAPTURE;
	if (!o->bpf_conns)
		o->bpf_conns = SOCKCAP_DEFAULT_BPF_CONNS;
	if (o->capture_bytes < 64 || o->capture_bytes > SP_SOCK_CAPTURE_MAX) {
		sp_err("sockcap: capture size %u is out of range (64..%u bytes)",
		       o->capture_bytes, SP_SOCK_CAPTURE_MAX);
		return -EINVAL;
	}
	return 0;
}

struct sockcap *sockcap_open_detached(const struct sockcap_opts *opts)
{
	struct sockcap *sc = calloc(1, sizeof(*sc));
	int err;

	if (!sc)
		return NULL;
	sc->opts = *opts;
	sc->conns_map_fd = -1;
	err = check_opts(&sc->opts);
	if (err) {
		free(sc);
		errno = -err;
		return NULL;
	}
	return sc;
}

struct sockcap *sockcap_open(struct sp_loader *l, const struct sockcap_opts *opts)
{
	struct sockhooks_settings hs;
	struct sockcap *sc = sockcap_open_detached(opts);
	int err;

	if (!sc)
		return NULL;
	hs = (struct sockhooks_settings){
		.capture_bytes = sc->opts.capture_bytes,
		.bpf_conns = sc->opts.bpf_conns,
		.wakeup_bytes = loader_wakeup_bytes(l),
		.ring_count = loader_ring_count(l),
		.all_processes = sc->opts.all_processes,
	};
	sc->hooks = sockhooks_open(l, sc->opts.hooks, &hs);
	if (!sc->hooks) {
		err = -errno;
		sockcap_close(sc);
		errno = -err;
		return NULL;
	}
	sc->conns_map_fd = sockhooks_conns_fd(sc->hooks);
	return sc;
}

const struct sockhooks *sockcap_hooks(const struct sockcap *sc)
{
	return sc->hooks;
}

uint32_t sockcap_capture_bytes(const struct sockcap *sc)
{
	return sc->opts.capture_bytes;
}

void sockcap_set_sink(struct sockcap *sc, struct stream_sink sink)
{
	sc->sink = sink;
}

/*
 * A decoder took the connection (the kernel side then copies every call,
 * or walks its HTTP/2 frames) or none wants it (nothing more is sent
 * until it closes).  "Decode" must not overwrite what BPF may have
 * decided meanwhile.
 */
int sockcap_verdict(void *ctx, uint64_t conn_id, uint16_t local_port,
		    uint16_t peer_port, enum stream_verdict verdict)
{
	struct sockcap *sc = ctx;
	struct sp_sock_conn v = { .local_port = local_port,
				  .peer_port = peer_port };
	struct sp_sock_conn now;
	uint64_t flags = BPF_ANY;

	if (verdict == STREAM_VERDICT_IGNORE) {
		v.state = SP_SOCK_CONN_IGNORE;
	} else if (verdict == STREAM_VERDICT_DECODE) {
		v.state = SP_SOCK_CONN_HTTP;
		flags = BPF_NOEXIST;
	} else if (verdict == STREAM_VERDICT_WHOLE_OUT ||
		   verdict == STREAM_VERDICT_WHOLE_IN ||
		   verdict == STREAM_VERDICT_WHOLE_BOTH) {
		/* Replaces the kernel side's "capture every call". */
		v.state = SP_SOCK_CONN_HTTP;
		if (verdict != STREAM_VERDICT_WHOLE_IN)
			v.whole |= 1 << SP_SOCK_SEND;
		if (verdict != STREAM_VERDICT_WHOLE_OUT)
			v.whole |= 1 << SP_SOCK_RECV;
	} else if (verdict == STREAM_VERDICT_FRAMES) {
		/* Frames from a connection that began as HTTP/1.1 (h2c):
		 * BPF's own walk, when it has one, stays; a new one starts
		 * at the next call that begins with a frame header. */
		v.state = SP_SOCK_CONN_H2;
	} else {
		return -EINVAL;
	}
	if (sc->conns_map_fd < 0)
		return -EBADF;
	if (verdict == STREAM_VERDICT_FRAMES &&
	    !bpf_map_lookup_elem(sc->conns_map_fd, &conn_id, &now) &&
	    now.state == SP_SOCK_CONN_H2 && now.local_port == local_port &&
	    now.peer_port == peer_port)
		return 0;
	if (bpf_map_update_elem(sc->conns_map_fd, &conn_id, &v, flags)) {
		if (errno == EEXIST)
			return 0;
		sc->stats.bpf_update_errors++;
		return -errno;
	}
	if (sockhooks_known_set(sc->hooks, conn_id, local_port, peer_port, v.state, v.whole))
		sc->stats.bpf_update_errors++;
	return 0;
}

static void set_addr(struct stream_addr *a, uint8_t family,
		     const uint8_t *addr, uint16_t port)
{
	a->family = family;
	memcpy(a->addr, addr, 16);
	a->port = port;
}

static void dump_data(FILE *out, const struct sp_sock_data_event *ev)
{
	struct stream_addr l, r;
	char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN];
	const unsigned char *d = (const unsigned char *)(ev + 1);

	set_addr(&l, ev->family, ev->local_addr, ev->local_port);
	set_addr(&r, ev->family, ev->peer_addr, ev->peer_port);
	fprintf(out, "sock %s pid=%u tid=%u sock=%llx fd=%d call=%u len=%u captured=%u "
		"flags=%u %s:%u %s %s:%u \"",
		ev->direction == SP_SOCK_SEND ? "send" : "recv", ev->hdr.pid,
		ev->hdr.tid, (unsigned long long)ev->sock_id, ev->fd,
		ev->syscall_nr, ev->total_len, ev->captured, ev->sock_flags,
		stream_addr_str(&l, la, sizeof(la)), l.port,
		ev->direction == SP_SOCK_SEND ? "->" : "<-",
		stream_addr_str(&r, ra, sizeof(ra)), r.port);
	for (unsigned i = 0; i < ev->captured && i < 64; i++) {
		bool plain = d[i] >= 0x20 && d[i] < 0x7f && d[i] != '"' && d[i] != '\\';

		fputc(plain ? d[i] : '.', out);
	}
	fputs("\"\n", out);
}

/*
 * A frame-walked call (SP_SOCK_F_FRAMES, checked whole by records.c):
 * each piece goes up as a chunk of its own, its kept bytes and then the
 * skipped ones as the part not captured, so the stage above sees the
 * call's bytes in order with gaps where DATA was.
 */
static void hand_pieces(struct sockcap *sc, const struct stream_chunk *call)
{
	struct stream_chunk ch = *call;
	struct records_piece pc;
	size_t off = 0;

	sc->stats.frame_records++;
	while (records_piece_next(call->data, call->captured, &off, &pc) > 0) {
		ch.data = pc.kept;
		ch.captured = pc.n_kept;
		ch.total_len = (size_t)pc.n_kept + pc.skip;
		if (ch.total_len)
			sc->sink.data(sc->sink.ctx, &ch);
	}
}

/*
 * Records come cold from the ring buffer, and decoders read a chunk's
 * first bytes (a start line, headers) from front to back: asking for its
 * first cache lines at once lets their misses overlap instead of coming
 * one after the other.  A body past them is mostly skipped, not read.
 */
#define PREFETCH_HEAD 512

static void prefetch_head(const void *data, size_t n)
{
	const char *p = data;

	if (n > PREFETCH_HEAD)
		n = PREFETCH_HEAD;
	for (size_t off = 64; off < n; off += 64)
		__builtin_prefetch(p + off);
}

static int handle_data(struct sockcap *sc, const struct sp_event_header *hdr,
		       size_t size)
{
	const struct sp_sock_data_event *ev = (const void *)hdr;
	struct stream_addr local, peer;
	struct stream_chunk ch;

	sc->stats.data_records++;
	sc->stats.payload_bytes += ev->captured;
	prefetch_head(ev + 1, ev->captured);
	if (sc->opts.debug_dump)
		dump_data(sc->opts.debug_dump, ev);
	if (!sc->sink.data)
		return 0;
	set_addr(&local, ev->family, ev->local_addr, ev->local_port);
	set_addr(&peer, ev->family, ev->peer_addr, ev->peer_port);
	ch = (struct stream_chunk){
		.conn_id = ev->sock_id, .ts_ns = hdr->ts_ns,
		.pid = hdr->pid, .tid = hdr->tid,
		.dir = ev->direction == SP_SOCK_SEND ? STREAM_OUT : STREAM_IN,
		.local = &local, .peer = &peer,
		.data = ev + 1, .captured = ev->captured, .total_len = ev->total_len,
		.tls = ev->sock_flags & SP_SOCK_F_TLS,
		.start = ev->sock_flags & SP_SOCK_F_START,
	};
	if (ev->sock_flags & SP_SOCK_F_FRAMES) {
		ch.has_seq = true;
		ch.seq = ev->h2_seq;
		hand_pieces(sc, &ch);
	} else {
		sc->sink.data(sc->sink.ctx, &ch);
	}
	return 0;
}

static int handle_close(struct sockcap *sc, const struct sp_event_header *hdr,
			size_t size)
{
	const struct sp_sock_close_event *ev = (const void *)hdr;

	sc->stats.close_records++;
	if (sc->opts.debug_dump)
		fprintf(sc->opts.debug_dump, "sock close sock=%llx state=%u\n",
			(unsigned long long)ev->sock_id, ev->old_state);
	if (sc->sink.close) {
		sc->sink.close(sc->sink.ctx, ev->sock_id, hdr->ts_ns);
		/* the socket's TLS plaintext stream, if it had one */
		sc->sink.close(sc->sink.ctx, ev->sock_id | 1, hdr->ts_ns);
	}
	return 0;
}

int sockcap_handle(struct sockcap *sc, const struct sp_event_header *hdr,
		   size_t size)
{
	switch (hdr->type) {
	case SP_EV_SOCK_DATA:
		return handle_data(sc, hdr, size);
	case SP_EV_SOCK_CLOSE:
		return handle_close(sc, hdr, size);
	}
	return -ENOENT;
}

void sockcap_report(const struct sockcap *sc, FILE *out)
{
	if (!sc)
		return;
	fprintf(out, "sockcap: %llu data records (%llu payload bytes, %llu with "
		"HTTP/2 frames walked), %llu closes\n",
		(unsigned long long)sc->stats.data_records,
		(unsigned long long)sc->stats.payload_bytes,
		(unsigned long long)sc->stats.frame_records,
		(unsigned long long)sc->stats.close_records);
	if (sc->stats.bpf_update_errors)
		fprintf(out, "sockcap: %llu BPF map updates failed\n",
			(unsigned long long)sc->stats.bpf_update_errors);
}

void sockcap_stats(const struct sockcap *sc, struct sockcap_stats *out)
{
	*out = sc->stats;
}

void sockcap_close(struct sockcap *sc)
{
	if (!sc)
		return;
	sockhooks_destroy(sc->hooks);
	free(sc);
}
