// SPDX-License-Identifier: MIT
#include "capture/sockcap.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sock.skel.h"
#include "sock_sys.skel.h"
#include "capture/loader.h"
#include "capture/features.h"
#include "util/log.h"

#define SOCKCAP_DEFAULT_CAPTURE 1024
#define SOCKCAP_DEFAULT_BPF_CONNS 16384

struct sockcap {
	struct sock_bpf *skel;         /* SOCKCAP_HOOKS_SOCK */
	struct sock_sys_bpf *sys_skel; /* SOCKCAP_HOOKS_SYSCALLS */
	enum sockcap_hooks hooks;      /* the hooks in use */
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
#define SOCKCAP_CONFIGURE(skel, o, l)                                         \
	do {                                                                  \
		(skel)->rodata->sp_wakeup_bytes = loader_wakeup_bytes(l);     \
		(skel)->rodata->sp_sock_capture = (o)->capture_bytes;         \
		(skel)->rodata->sp_sock_all = (o)->all_processes;             \
		(skel)->rodata->sp_sock_self_tgid = (uint32_t)getpid();       \
		bpf_map__set_max_entries((skel)->maps.sp_sock_conns,          \
					 (o)->bpf_conns);                     \
	} while (0)

/* Open the object of the chosen hooks and configure it; NULL: errno set. */
static struct bpf_object *open_object(struct sockcap *sc, const struct sp_loader *l)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = features_btf_custom_path());

	if (sc->hooks == SOCKCAP_HOOKS_SYSCALLS) {
		sc->sys_skel = sock_sys_bpf__open_opts(&oo);
		if (!sc->sys_skel)
			return NULL;
		SOCKCAP_CONFIGURE(sc->sys_skel, &sc->opts, l);
		return sc->sys_skel->obj;
	}
	sc->skel = sock_bpf__open_opts(&oo);
	if (!sc->skel)
		return NULL;
	SOCKCAP_CONFIGURE(sc->skel, &sc->opts, l);
	return sc->skel->obj;
}

static int load_bpf(struct sockcap *sc, struct sp_loader *l)
{
	bool sys = sc->hooks == SOCKCAP_HOOKS_SYSCALLS;
	struct bpf_object *obj = open_object(sc, l);
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

struct sockcap *sockcap_open(struct sp_loader *l, const struct sockcap_opts *opts)
{
	enum sockcap_hooks hooks = hooks_announce(opts->hooks);
	struct sockcap *sc;
	int err = -ENOMEM;

	if (hooks == SOCKCAP_HOOKS_AUTO) {
		errno = ENOTSUP;
		return NULL;
	}
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	sc->hooks = hooks;
	sc->opts = *opts;
	sc->conns_map_fd = -1;
	if ((err = check_opts(&sc->opts)))
		goto fail;
	if ((err = load_bpf(sc, l)))
		goto fail;
	return sc;
fail:
	sockcap_close(sc);
	errno = -err;
	return NULL;
}

void sockcap_set_sink(struct sockcap *sc, struct stream_sink sink)
{
	sc->sink = sink;
}

/*
 * A decoder took the connection (the kernel side then copies every call)
 * or none wants it (nothing more is sent until it closes).  "Decode" must
 * not overwrite what BPF may have decided meanwhile.
 */
int sockcap_verdict(void *ctx, uint64_t conn_id, uint16_t local_port,
		    uint16_t peer_port, enum stream_verdict verdict)
{
	struct sockcap *sc = ctx;
	struct sp_sock_conn v = { .local_port = local_port,
				  .peer_port = peer_port };
	uint64_t flags = BPF_ANY;

	if (verdict == STREAM_VERDICT_IGNORE) {
		v.state = SP_SOCK_CONN_IGNORE;
	} else if (verdict == STREAM_VERDICT_DECODE) {
		v.state = SP_SOCK_CONN_HTTP;
		flags = BPF_NOEXIST;
	} else {
		return -EINVAL;
	}
	if (sc->conns_map_fd < 0)
		return -EBADF;
	if (bpf_map_update_elem(sc->conns_map_fd, &conn_id, &v, flags) &&
	    errno != EEXIST) {
		sc->stats.bpf_update_errors++;
		return -errno;
	}
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

static int handle_data(struct sockcap *sc, const struct sp_event_header *hdr,
		       size_t size)
{
	const struct sp_sock_data_event *ev = (const void *)hdr;
	struct stream_addr local, peer;
	struct stream_chunk ch;

	sc->stats.data_records++;
	sc->stats.payload_bytes += ev->captured;
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
	};
	sc->sink.data(sc->sink.ctx, &ch);
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
	if (sc->sink.close)
		sc->sink.close(sc->sink.ctx, ev->sock_id, hdr->ts_ns);
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
	fprintf(out, "sockcap: %llu data records (%llu payload bytes), %llu closes\n",
		(unsigned long long)sc->stats.data_records,
		(unsigned long long)sc->stats.payload_bytes,
		(unsigned long long)sc->stats.close_records);
	if (sc->stats.bpf_update_errors)
		fprintf(out, "sockcap: %llu BPF map updates failed\n",
			(unsigned long long)sc->stats.bpf_update_errors);
}

void sockcap_stats(const struct sockcap *sc, struct sockcap_stats *out)
{
	*out = sc->stats;
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

void sockcap_close(struct sockcap *sc)
{
	if (!sc)
		return;
	sock_bpf__destroy(sc->skel);
	sock_sys_bpf__destroy(sc->sys_skel);
	free(sc);
}
