// SPDX-License-Identifier: MIT
#include "capture/sockcap.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assemble/httpspan.h"
#include "sock.skel.h"
#include "sock_sys.skel.h"
#include "capture/loader.h"
#include "capture/features.h"
#include "protocol/conntable.h"
#include "util/log.h"

#define SOCKCAP_DEFAULT_CAPTURE 1024
#define SOCKCAP_DEFAULT_CONNS 4096
#define SOCKCAP_DEFAULT_BPF_CONNS 16384

struct sockcap_stats {
	uint64_t data_records;
	uint64_t close_records;
	uint64_t bad_records;
	uint64_t payload_bytes;   /* captured bytes received from BPF */
	uint64_t feed_errors;
	uint64_t bpf_update_errors;
};

struct sockcap {
	struct sp_pipeline *p;
	struct sock_bpf *skel;         /* SOCKCAP_HOOKS_SOCK */
	struct sock_sys_bpf *sys_skel; /* SOCKCAP_HOOKS_SYSCALLS */
	enum sockcap_hooks hooks;      /* the hooks in use */
	struct httpspan *hs;
	struct sockconn_table conns;
	struct sockcap_opts opts;
	struct sockcap_stats stats;
	int conns_map_fd;
};

static struct httpspan_conn *find_peer(void *ctx, const struct httpspan_conn *c)
{
	struct sockcap *sc = ctx;
	struct sockconn *peer = sockconn_find_peer(&sc->conns, c);

	return peer ? &peer->hc : NULL;
}

static int check_opts(struct sockcap_opts *o)
{
	if (!o->capture_bytes)
		o->capture_bytes = SOCKCAP_DEFAULT_CAPTURE;
	if (!o->max_conns)
		o->max_conns = SOCKCAP_DEFAULT_CONNS;
	if (!o->bpf_conns)
		o->bpf_conns = SOCKCAP_DEFAULT_BPF_CONNS;
	if (o->capture_bytes < 64 || o->capture_bytes > SP_SOCK_CAPTURE_MAX) {
		sp_err("sockcap: capture size %u is out of range (64..%u bytes)",
		       o->capture_bytes, SP_SOCK_CAPTURE_MAX);
		return -EINVAL;
	}
	return 0;
}

/* Attach every program of `obj`; the loader keeps the links. */
static int attach_all(struct bpf_object *obj, struct sp_loader *l)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		struct bpf_link *link = bpf_program__attach(prog);
		int err = link ? 0 : -errno;

		if (!err && (err = loader_keep_link(l, link)))
			bpf_link__destroy(link);
		if (err) {
			sp_err("sockcap: attaching %s failed: %s",
			       bpf_program__name(prog), strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Both objects take the same settings under the same names. */
#define SOCKCAP_CONFIGURE(skel, o)                                            \
	do {                                                                  \
		(skel)->rodata->sp_sock_capture = (o)->capture_bytes;         \
		(skel)->rodata->sp_sock_all = (o)->all_processes;             \
		(skel)->rodata->sp_sock_self_tgid = (uint32_t)getpid();       \
		bpf_map__set_max_entries((skel)->maps.sp_sock_conns,          \
					 (o)->bpf_conns);                     \
	} while (0)

static struct bpf_object *open_sock(struct sockcap *sc)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = features_btf_custom_path());

	sc->skel = sock_bpf__open_opts(&oo);
	if (!sc->skel)
		return NULL;
	SOCKCAP_CONFIGURE(sc->skel, &sc->opts);
	return sc->skel->obj;
}

static struct bpf_object *open_syscalls(struct sockcap *sc)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = features_btf_custom_path());

	sc->sys_skel = sock_sys_bpf__open_opts(&oo);
	if (!sc->sys_skel)
		return NULL;
	SOCKCAP_CONFIGURE(sc->sys_skel, &sc->opts);
	return sc->sys_skel->obj;
}

static int load_bpf(struct sockcap *sc, struct sp_loader *l)
{
	bool sys = sc->hooks == SOCKCAP_HOOKS_SYSCALLS;
	struct bpf_object *obj = sys ? open_syscalls(sc) : open_sock(sc);
	int err;

	if (!obj) {
		err = -errno;
		sp_err("sockcap: opening the socket programs failed: %s",
		       strerror(-err));
		return err;
	}
	err = loader_share_maps(l, obj);
	if (!err)
		err = sys ? sock_sys_bpf__load(sc->sys_skel) : sock_bpf__load(sc->skel);
	if (err) {
		sp_err("sockcap: loading the socket programs failed: %s "
		       "(run with -vv for the verifier's log)", strerror(-err));
		return err;
	}
	sc->conns_map_fd = bpf_map__fd(sys ? sc->sys_skel->maps.sp_sock_conns
					   : sc->skel->maps.sp_sock_conns);
	return attach_all(obj, l);
}

int sockcap_hooks_parse(const char *name, enum sockcap_hooks *out)
{
	static const char *const names[] = {
		[SOCKCAP_HOOKS_AUTO] = "auto",
		[SOCKCAP_HOOKS_SOCK] = "sock",
		[SOCKCAP_HOOKS_SYSCALLS] = "syscalls",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum sockcap_hooks)i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * The hooks to use when `want` is asked for, or AUTO when the kernel has
 * none that fits; `why` says how they were chosen, or what is missing.
 */
static enum sockcap_hooks hooks_choose(enum sockcap_hooks want, const char **why)
{
	const struct sp_kernel_features *f = features_get();
	bool sock_ok = f->sock_length_tp && f->inet_sock_set_state;
	bool sys_ok = f->raw_tracepoints && f->sys_exit_tp && f->inet_sock_set_state;

	if (!f->inet_sock_set_state) {
		*why = "this kernel has no inet_sock_set_state tracepoint";
		return SOCKCAP_HOOKS_AUTO;
	}
	switch (want) {
	case SOCKCAP_HOOKS_SOCK:
		*why = sock_ok ? "--http-hooks sock"
			       : "this kernel has no sock_send_length/sock_recv_length "
				 "tracepoints (Linux 6.3 or later has them)";
		return sock_ok ? SOCKCAP_HOOKS_SOCK : SOCKCAP_HOOKS_AUTO;
	case SOCKCAP_HOOKS_SYSCALLS:
		*why = sys_ok ? "--http-hooks syscalls"
			      : "this kernel has no raw sys_exit tracepoint (CONFIG_FTRACE_SYSCALLS)";
		return sys_ok ? SOCKCAP_HOOKS_SYSCALLS : SOCKCAP_HOOKS_AUTO;
	default:
		break;
	}
	if (sock_ok) {
		*why = "auto: the kernel has them";
		return SOCKCAP_HOOKS_SOCK;
	}
	*why = sys_ok ? "auto: fallback, this kernel has no sock_send_length/"
			"sock_recv_length tracepoints (Linux 6.3); every syscall "
			"on the host pays for it"
		      : "this kernel has neither the socket nor the raw tracepoints";
	return sys_ok ? SOCKCAP_HOOKS_SYSCALLS : SOCKCAP_HOOKS_AUTO;
}

static const char *hooks_describe(enum sockcap_hooks hooks)
{
	if (hooks == SOCKCAP_HOOKS_SYSCALLS)
		return "raw tracepoint sys_exit on every syscall (socket reads and "
		       "writes decoded from the registers), inet_sock_set_state (release)";
	return "raw tracepoints sock_send_length + sock_recv_length (payload "
	       "from the syscall's user buffer), inet_sock_set_state (release)";
}

/*
 * Choose the hooks and say which, once: a warning when the fallback is
 * chosen unasked (every syscall on the host pays for it), an error when
 * none fits (returns AUTO then).
 */
static enum sockcap_hooks hooks_announce(enum sockcap_hooks want)
{
	const char *why;
	enum sockcap_hooks hooks = hooks_choose(want, &why);

	if (hooks == SOCKCAP_HOOKS_AUTO)
		sp_err("sockcap: %s; HTTP capture is off", why);
	else if (hooks == SOCKCAP_HOOKS_SYSCALLS && want == SOCKCAP_HOOKS_AUTO)
		sp_warn("sockcap: HTTP capture through the sys_exit tracepoint: %s", why);
	else
		sp_info("sockcap: HTTP capture (%s): %s", why, hooks_describe(hooks));
	return hooks;
}

struct sockcap *sockcap_open(struct sp_loader *l, struct sp_pipeline *p,
			     const struct sockcap_opts *opts)
{
	enum sockcap_hooks hooks = hooks_announce(opts->hooks);
	struct httpspan_opts hopts = { 0 };
	struct sockcap *sc;
	int err = -ENOMEM;

	if (hooks == SOCKCAP_HOOKS_AUTO) {
		errno = ENOTSUP;
		return NULL;
	}
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	sc->p = p;
	sc->hooks = hooks;
	sc->opts = *opts;
	sc->conns_map_fd = -1;
	if ((err = check_opts(&sc->opts)))
		goto fail;
	if ((err = sockconn_init(&sc->conns, sc->opts.max_conns)))
		goto fail;
	hopts.with_query = sc->opts.with_query;
	hopts.find_peer = find_peer;
	hopts.find_peer_ctx = sc;
	sc->hs = httpspan_create(p, &hopts);
	if (!sc->hs) {
		err = -ENOMEM;
		goto fail;
	}
	if ((err = load_bpf(sc, l)))
		goto fail;
	return sc;
fail:
	sockcap_close(sc);
	errno = -err;
	return NULL;
}

/* Tell BPF what the parser learnt, once per connection and state. */
static void sync_bpf_state(struct sockcap *sc, struct sockconn *conn)
{
	struct sp_sock_conn v = { 0 };
	uint64_t flags = BPF_ANY;

	if (httpspan_is_skipped(&conn->hc)) {
		v.state = SP_SOCK_CONN_IGNORE;
	} else if (httpspan_is_http(&conn->hc)) {
		v.state = SP_SOCK_CONN_HTTP;
		flags = BPF_NOEXIST; /* BPF may know better meanwhile */
	}
	if (!v.state || conn->bpf_state == v.state || sc->conns_map_fd < 0)
		return;
	conn->bpf_state = v.state;
	if (bpf_map_update_elem(sc->conns_map_fd, &conn->hc.sock_id, &v, flags) &&
	    errno != EEXIST)
		sc->stats.bpf_update_errors++;
}

static void set_addr(struct httpspan_addr *a, uint8_t family,
		     const uint8_t *addr, uint16_t port)
{
	a->family = family;
	memcpy(a->addr, addr, 16);
	a->port = port;
}

static struct sockconn *conn_for(struct sockcap *sc,
				 const struct sp_sock_data_event *ev)
{
	struct sockconn *conn = sockconn_find(&sc->conns, ev->sock_id), *old;

	if (!conn) {
		conn = sockconn_add(&sc->conns, ev->sock_id, &old);
		if (old) {
			httpspan_discard(sc->hs, &old->hc);
			sockconn_free(old);
		}
		if (!conn)
			return NULL;
		httpspan_conn_init(&conn->hc, ev->sock_id);
		set_addr(&conn->hc.local, ev->family, ev->local_addr, ev->local_port);
		set_addr(&conn->hc.peer, ev->family, ev->peer_addr, ev->peer_port);
		sockconn_index_tuple(&sc->conns, conn);
	}
	conn->hc.pid = ev->hdr.pid;
	return conn;
}

static void dump_data(FILE *out, const struct sp_sock_data_event *ev)
{
	struct httpspan_addr l, r;
	char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN];
	const unsigned char *d = (const unsigned char *)(ev + 1);

	set_addr(&l, ev->family, ev->local_addr, ev->local_port);
	set_addr(&r, ev->family, ev->peer_addr, ev->peer_port);
	fprintf(out, "sock %s pid=%u tid=%u sock=%llx fd=%d call=%u len=%u captured=%u "
		"flags=%u %s:%u %s %s:%u \"",
		ev->direction == SP_SOCK_SEND ? "send" : "recv", ev->hdr.pid,
		ev->hdr.tid, (unsigned long long)ev->sock_id, ev->fd,
		ev->syscall_nr, ev->total_len, ev->captured, ev->sock_flags,
		httpspan_addr_str(&l, la, sizeof(la)), l.port,
		ev->direction == SP_SOCK_SEND ? "->" : "<-",
		httpspan_addr_str(&r, ra, sizeof(ra)), r.port);
	for (unsigned i = 0; i < ev->captured && i < 64; i++) {
		bool plain = d[i] >= 0x20 && d[i] < 0x7f && d[i] != '"' && d[i] != '\\';

		fputc(plain ? d[i] : '.', out);
	}
	fputs("\"\n", out);
}

static int handle_data(struct sockcap *sc, const struct sp_event_header *hdr,
		       size_t size)
{
	const struct sp_sock_data_event *ev = (const void *)hdr;
	struct sockconn *conn;
	enum http1_dir dir;

	if (size < sizeof(*ev) || sizeof(*ev) + ev->captured > size ||
	    ev->captured > ev->total_len ||
	    (ev->direction != SP_SOCK_SEND && ev->direction != SP_SOCK_RECV)) {
		sc->stats.bad_records++;
		return -EINVAL;
	}
	sc->stats.data_records++;
	sc->stats.payload_bytes += ev->captured;
	if (sc->opts.debug_dump)
		dump_data(sc->opts.debug_dump, ev);
	if (ev->total_len == 0)
		return 0; /* end of stream: the socket's release ends the exchange */
	conn = conn_for(sc, ev);
	if (!conn)
		return 0;
	dir = ev->direction == SP_SOCK_SEND ? HTTP1_OUTBOUND : HTTP1_INBOUND;
	if (httpspan_feed(sc->hs, &conn->hc, hdr->tid, dir, ev + 1, ev->captured,
			  ev->total_len, hdr->ts_ns))
		sc->stats.feed_errors++;
	sync_bpf_state(sc, conn);
	return 0;
}

static int handle_close(struct sockcap *sc, const struct sp_event_header *hdr,
			size_t size)
{
	const struct sp_sock_close_event *ev = (const void *)hdr;
	struct sockconn *conn;

	if (size < sizeof(*ev)) {
		sc->stats.bad_records++;
		return -EINVAL;
	}
	sc->stats.close_records++;
	if (sc->opts.debug_dump)
		fprintf(sc->opts.debug_dump, "sock close sock=%llx state=%u\n",
			(unsigned long long)ev->sock_id, ev->old_state);
	conn = sockconn_find(&sc->conns, ev->sock_id);
	if (!conn)
		return 0;
	httpspan_close(sc->hs, &conn->hc, hdr->ts_ns);
	sockconn_remove(&sc->conns, conn);
	sockconn_free(conn);
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

void sockcap_report(struct sockcap *sc, FILE *out)
{
	const struct httpspan_stats *h;

	if (!sc)
		return;
	h = httpspan_stats(sc->hs);
	fprintf(out, "sockcap: %llu data records (%llu payload bytes), %llu closes, "
		"%llu bad; %u connections open, %llu evicted, %llu not allocated\n",
		(unsigned long long)sc->stats.data_records,
		(unsigned long long)sc->stats.payload_bytes,
		(unsigned long long)sc->stats.close_records,
		(unsigned long long)sc->stats.bad_records, sc->conns.count,
		(unsigned long long)sc->conns.evictions,
		(unsigned long long)sc->conns.alloc_failures);
	fprintf(out, "sockcap: spans %llu server, %llu client, %llu lost (pool "
		"empty), %llu dropped unfinished; context: %llu traceparent, "
		"%llu thread, %llu same-host peer, %llu bad traceparent\n",
		(unsigned long long)h->server_spans,
		(unsigned long long)h->client_spans,
		(unsigned long long)h->no_span, (unsigned long long)h->discarded,
		(unsigned long long)h->ctx_traceparent,
		(unsigned long long)h->ctx_thread, (unsigned long long)h->ctx_peer,
		(unsigned long long)h->bad_traceparent);
	if (sc->stats.feed_errors || sc->stats.bpf_update_errors)
		fprintf(out, "sockcap: %llu parser refusals, %llu BPF map updates failed\n",
			(unsigned long long)sc->stats.feed_errors,
			(unsigned long long)sc->stats.bpf_update_errors);
}

void sockcap_probe_report(FILE *out, enum sockcap_hooks hooks)
{
	const char *why;
	enum sockcap_hooks chosen = hooks_choose(hooks, &why);

	if (chosen == SOCKCAP_HOOKS_AUTO) {
		fprintf(out, "  HTTP capture: unavailable (%s)\n", why);
		return;
	}
	fprintf(out, "  HTTP capture (%s): %s\n", why, hooks_describe(chosen));
	if (chosen == SOCKCAP_HOOKS_SOCK &&
	    hooks_choose(SOCKCAP_HOOKS_SYSCALLS, &why) == SOCKCAP_HOOKS_SYSCALLS)
		fprintf(out, "  HTTP capture fallback (--http-hooks syscalls): "
			"raw tracepoint sys_exit, taxes every syscall on the host\n");
}

static void discard_conn(struct sockconn *conn, void *arg)
{
	httpspan_discard(arg, &conn->hc);
}

void sockcap_close(struct sockcap *sc)
{
	if (!sc)
		return;
	if (sc->hs && sc->conns.by_id.keys)
		sockconn_each(&sc->conns, discard_conn, sc->hs);
	sockconn_destroy(&sc->conns);
	httpspan_destroy(sc->hs);
	sock_bpf__destroy(sc->skel);
	sock_sys_bpf__destroy(sc->sys_skel);
	free(sc);
}
