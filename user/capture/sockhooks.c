// SPDX-License-Identifier: MIT
#include "capture/sockhooks.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sock.skel.h"
#include "sock_fexit.skel.h"
#include "sock_kprobe.skel.h"
#include "sock_sys.skel.h"
#include "capture/features.h"
#include "capture/loader.h"
#include "util/log.h"

/* Programs per object: the kprobe set has the most (9). */
#define SOCKHOOKS_MAX_LINKS 16

struct sockhooks {
	enum sockcap_hooks kind;
	void *skel;                           /* the generated skeleton */
	struct bpf_object_skeleton *skeleton; /* its libbpf description */
	struct bpf_object *obj;
	struct bpf_map *conns;
	struct bpf_map *known;                /* sp_sock_known */
	struct bpf_link *links[SOCKHOOKS_MAX_LINKS];
	size_t n_links;                       /* ours until handed to a loader */
	char left_out[96];                    /* optional functions this kernel lacks */
};

static const char *const names[SOCKCAP_HOOKS_COUNT] = {
	[SOCKCAP_HOOKS_AUTO] = "auto",       [SOCKCAP_HOOKS_SOCK] = "sock",
	[SOCKCAP_HOOKS_FENTRY] = "fentry",   [SOCKCAP_HOOKS_KPROBES] = "kprobes",
	[SOCKCAP_HOOKS_SYSCALLS] = "syscalls",
};

static const char *const describe[SOCKCAP_HOOKS_COUNT] = {
	[SOCKCAP_HOOKS_SOCK] =
		"raw tracepoints sock_send_length + sock_recv_length (payload "
		"from the syscall's user buffer), inet_sock_set_state (release)",
	[SOCKCAP_HOOKS_FENTRY] =
		"fexit on tcp_sendmsg, tcp_sendpage, inet_recvmsg, inet6_recvmsg "
		"(only TCP I/O pays; payload from the syscall's user buffer), "
		"inet_sock_set_state (release)",
	[SOCKCAP_HOOKS_KPROBES] =
		"kprobes + kretprobes on tcp_sendmsg, tcp_sendpage, inet_recvmsg, "
		"inet6_recvmsg (only TCP I/O pays; payload from the syscall's user "
		"buffer), inet_sock_set_state (release)",
	[SOCKCAP_HOOKS_SYSCALLS] =
		"raw tracepoint sys_exit on every syscall (socket reads and "
		"writes decoded from the registers), inet_sock_set_state (release)",
};

/*
 * Programs on kernel functions that not every kernel has: tcp_sendpage
 * went in 6.5 (sendfile reaches tcp_sendmsg since), inet6_recvmsg is in
 * a module when IPv6 is.  Left out, and said, when the kernel's BTF
 * lacks the function.
 */
static const struct optional_prog {
	enum sockcap_hooks kind;
	const char *prog;
	const char *func;
} optional[] = {
	{ SOCKCAP_HOOKS_FENTRY, "sp_fexit_tcp_sendpage", "tcp_sendpage" },
	{ SOCKCAP_HOOKS_FENTRY, "sp_fexit_inet6_recvmsg", "inet6_recvmsg" },
	{ SOCKCAP_HOOKS_KPROBES, "sp_kp_tcp_sendpage", "tcp_sendpage" },
	{ SOCKCAP_HOOKS_KPROBES, "sp_krp_tcp_sendpage", "tcp_sendpage" },
	{ SOCKCAP_HOOKS_KPROBES, "sp_kp_inet6_recvmsg", "inet6_recvmsg" },
	{ SOCKCAP_HOOKS_KPROBES, "sp_krp_inet6_recvmsg", "inet6_recvmsg" },
};

int sockhooks_parse(const char *name, enum sockcap_hooks *out)
{
	for (int i = 0; i < SOCKCAP_HOOKS_COUNT; i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum sockcap_hooks)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *sockhooks_names(void)
{
	return "auto, sock, fentry, kprobes, syscalls";
}

const char *sockhooks_name(enum sockcap_hooks hooks)
{
	return hooks < SOCKCAP_HOOKS_COUNT ? names[hooks] : "?";
}

enum sockcap_hooks sockhooks_kind(const struct sockhooks *h)
{
	return h->kind;
}

int sockhooks_conns_fd(const struct sockhooks *h)
{
	return bpf_map__fd(h->conns);
}

int sockhooks_map_fd(const struct sockhooks *h, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(h->obj, name);

	return m ? bpf_map__fd(m) : -1;
}

int sockhooks_known_set(const struct sockhooks *h, uint64_t sock_id, uint16_t local_port,
			uint16_t peer_port, uint8_t state, uint8_t whole)
{
	int fd = bpf_map__fd(h->known);
	uint32_t i = sp_sock_known_slot(sock_id);
	struct sp_sock_known k;

	/* TLS plaintext streams (odd ids) have no slot. */
	if (sock_id & 1)
		return 0;
	if (fd < 0)
		return -EBADF;
	if (bpf_map_lookup_elem(fd, &i, &k))
		return -errno;
	if (k.sk != sock_id || k.ports != ((uint32_t)local_port << 16 | htons(peer_port)))
		return 0;
	/* HTTP/2's frame walk keeps its state in the map: not copied. */
	k.state = state == SP_SOCK_CONN_H2 ? 0 : state;
	k.whole = state == SP_SOCK_CONN_HTTP ? whole : 0;
	return bpf_map_update_elem(fd, &i, &k, BPF_ANY) ? -errno : 0;
}

/* What the kernel must offer for `kind`, before anything is loaded;
 * NULL when it does, else what it lacks. */
static const char *kernel_lacks(enum sockcap_hooks kind)
{
	const struct sp_kernel_features *f = features_get();

	if (!f->inet_sock_set_state || !f->raw_tracepoints)
		return "this kernel has no inet_sock_set_state raw tracepoint";
	if (!f->task_pt_regs)
		return "this kernel has no bpf_task_pt_regs() (Linux 5.15 or later)";
	switch (kind) {
	case SOCKCAP_HOOKS_SOCK:
		return f->sock_length_tp ? NULL
					 : "this kernel has no sock_send_length/"
					   "sock_recv_length tracepoints (Linux 6.3 or later)";
	case SOCKCAP_HOOKS_FENTRY:
		return f->fentry ? NULL : "this kernel refuses fentry/fexit programs";
	case SOCKCAP_HOOKS_KPROBES:
		return f->kprobes ? NULL : "this kernel has no kprobes (CONFIG_KPROBES)";
	case SOCKCAP_HOOKS_SYSCALLS:
		return f->sys_exit_tp ? NULL
				      : "this kernel has no raw sys_exit tracepoint "
					"(CONFIG_FTRACE_SYSCALLS)";
	default:
		return "no such hooks";
	}
}

/* Every object takes the same settings under the same names. */
#define SOCKHOOKS_OPEN(h, prefix, oo, s)                                      \
	do {                                                                  \
		struct prefix##_bpf *skel = prefix##_bpf__open_opts(oo);      \
		if (!skel)                                                    \
			return -errno;                                        \
		(h)->skel = skel;                                             \
		(h)->skeleton = skel->skeleton;                               \
		(h)->obj = skel->obj;                                         \
		(h)->conns = skel->maps.sp_sock_conns;                        \
		(h)->known = skel->maps.sp_sock_known;                        \
		skel->rodata->sp_wakeup_bytes = (s)->wakeup_bytes;            \
		skel->rodata->sp_ring_count = (s)->ring_count;                \
		skel->rodata->sp_sock_capture = (s)->capture_bytes;           \
		skel->rodata->sp_sock_all = (s)->all_processes;               \
		skel->rodata->sp_sock_self_tgid = (uint32_t)getpid();         \
	} while (0)

static int open_object(struct sockhooks *h, const struct sockhooks_settings *s)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = features_btf_custom_path());

	switch (h->kind) {
	case SOCKCAP_HOOKS_SOCK:
		SOCKHOOKS_OPEN(h, sock, &oo, s);
		break;
	case SOCKCAP_HOOKS_FENTRY:
		SOCKHOOKS_OPEN(h, sock_fexit, &oo, s);
		break;
	case SOCKCAP_HOOKS_KPROBES:
		SOCKHOOKS_OPEN(h, sock_kprobe, &oo, s);
		break;
	case SOCKCAP_HOOKS_SYSCALLS:
		SOCKHOOKS_OPEN(h, sock_sys, &oo, s);
		break;
	default:
		return -EINVAL;
	}
	return bpf_map__set_max_entries(h->conns, s->bpf_conns);
}

/* Leave out the optional programs whose function the kernel lacks. */
static void leave_out_missing(struct sockhooks *h)
{
	struct btf *btf = btf__parse(features_btf_path(), NULL);

	if (libbpf_get_error(btf))
		return; /* no BTF to ask: try them all */
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
		const struct optional_prog *o = &optional[i];
		struct bpf_program *p;

		if (o->kind != h->kind ||
		    btf__find_by_name_kind(btf, o->func, BTF_KIND_FUNC) > 0)
			continue;
		p = bpf_object__find_program_by_name(h->obj, o->prog);
		if (p)
			bpf_program__set_autoload(p, false);
		if (!strstr(h->left_out, o->func))
			snprintf(h->left_out + strlen(h->left_out),
				 sizeof(h->left_out) - strlen(h->left_out), "%s%s",
				 h->left_out[0] ? ", " : "", o->func);
	}
	btf__free(btf);
}

/* Attach every loaded program; on failure detach what was attached. */
static int attach_all(struct sockhooks *h, char *why, size_t n)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, h->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		link = bpf_program__attach(prog);
		if (!link || h->n_links == SOCKHOOKS_MAX_LINKS) {
			int err = link ? -E2BIG : -errno;

			bpf_link__destroy(link);
			snprintf(why, n, "attaching %s failed: %s", bpf_program__name(prog),
				 strerror(-err));
			return err;
		}
		h->links[h->n_links++] = link;
	}
	return 0;
}

/* Open, load and attach one hook set; `why` says what failed. */
static int try_set(struct sockhooks *h, struct sp_loader *l,
		   const struct sockhooks_settings *s, char *why, size_t n)
{
	const char *lacks = kernel_lacks(h->kind);
	int err;

	if (lacks) {
		snprintf(why, n, "%s", lacks);
		return -ENOTSUP;
	}
	loader_libbpf_forget();
	if ((err = open_object(h, s))) {
		snprintf(why, n, "opening its programs failed: %s", strerror(-err));
		return err;
	}
	leave_out_missing(h);
	err = l ? loader_share_maps(l, h->obj) : 0;
	if (!err)
		err = bpf_object__load_skeleton(h->skeleton);
	if (err) {
		snprintf(why, n, "loading failed: %s%s%.120s", strerror(-err),
			 loader_libbpf_last()[0] ? " — libbpf: " : "", loader_libbpf_last());
		/* libbpf's line ends with a newline */
		why[strcspn(why, "\n")] = '\0';
		return err;
	}
	return attach_all(h, why, n);
}

void sockhooks_destroy(struct sockhooks *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_links; i++)
		bpf_link__destroy(h->links[i]);
	if (h->skeleton)
		bpf_object__destroy_skeleton(h->skeleton);
	free(h->skel);
	free(h);
}

/* Hand the links to the loader, which detaches them at its close. */
static int give_links(struct sockhooks *h, struct sp_loader *l)
{
	while (h->n_links) {
		int err = loader_keep_link(l, h->links[h->n_links - 1]);

		if (err)
			return err;
		h->n_links--;
	}
	return 0;
}

/* One set: NULL with `why` filled when it does not work here. */
static struct sockhooks *open_set(enum sockcap_hooks kind, struct sp_loader *l,
				  const struct sockhooks_settings *s, char *why, size_t n)
{
	struct sockhooks *h = calloc(1, sizeof(*h));
	int err;

	if (!h) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	h->kind = kind;
	err = try_set(h, l, s, why, n);
	if (!err && l && (err = give_links(h, l)))
		snprintf(why, n, "out of memory for its links");
	if (err) {
		sockhooks_destroy(h);
		errno = -err;
		return NULL;
	}
	return h;
}

static void say_chosen(const struct sockhooks *h, enum sockcap_hooks want,
		       const char *tried)
{
	const char *name = names[h->kind];

	if (want == SOCKCAP_HOOKS_AUTO && h->kind == SOCKCAP_HOOKS_SYSCALLS)
		sp_warn("sockcap: HTTP capture through the sys_exit tracepoint: every "
			"syscall on the host pays for it (%s)", tried);
	else if (want == SOCKCAP_HOOKS_AUTO)
		sp_info("sockcap: HTTP capture (auto: %s%s%s): %s", name,
			tried[0] ? "; " : ", the first choice", tried, describe[h->kind]);
	else
		sp_info("sockcap: HTTP capture (--http-hooks %s): %s", name,
			describe[h->kind]);
	if (h->left_out[0])
		sp_info("sockcap: %s hooks: not in this kernel, left out: %s", name,
			h->left_out);
	if (features_get()->bpf_loop)
		sp_info("sockcap: HTTP/2: frames walked in the kernel (bpf_loop), "
			"header blocks kept, DATA counted");
	else
		sp_info("sockcap: HTTP/2: the first capture bytes of each call only "
			"(this kernel has no bpf_loop(), Linux 5.17)");
}

struct sockhooks *sockhooks_open(struct sp_loader *l, enum sockcap_hooks want,
				 const struct sockhooks_settings *s)
{
	enum sockcap_hooks first = want ? want : SOCKCAP_HOOKS_SOCK;
	enum sockcap_hooks last = want ? want : SOCKCAP_HOOKS_SYSCALLS;
	char tried[512] = "", why[256];
	struct sockhooks *h = NULL;

	for (enum sockcap_hooks k = first; k <= last && !h; k++) {
		h = open_set(k, l, s, why, sizeof(why));
		if (!h)
			snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried),
				 "%s%s not used: %s", tried[0] ? "; " : "", names[k], why);
	}
	if (h) {
		say_chosen(h, want, tried);
		return h;
	}
	if (want)
		sp_err("sockcap: --http-hooks %s: %s; HTTP capture is off", names[want], why);
	else
		sp_err("sockcap: no hooks for HTTP capture work on this kernel (%s); "
		       "HTTP capture is off", tried);
	errno = ENOTSUP;
	return NULL;
}

void sockhooks_probe_report(FILE *out, enum sockcap_hooks want)
{
	struct sockhooks_settings s = { .capture_bytes = 1024, .bpf_conns = 64,
					.wakeup_bytes = 4096 };
	enum sockcap_hooks chosen = SOCKCAP_HOOKS_AUTO;
	char why[256];

	loader_quiet_libbpf();
	fprintf(out, "  HTTP capture hooks, in order of preference (each loaded and attached for a moment):\n");
	for (enum sockcap_hooks k = SOCKCAP_HOOKS_SOCK; k < SOCKCAP_HOOKS_COUNT; k++) {
		struct sockhooks *h = open_set(k, NULL, &s, why, sizeof(why));

		if (!h) {
			fprintf(out, "    %-9s no: %s\n", names[k], why);
			continue;
		}
		fprintf(out, "    %-9s yes%s%s%s\n", names[k],
			k == SOCKCAP_HOOKS_SYSCALLS ? " (taxes every syscall on the host)" : "",
			h->left_out[0] ? "; not in this kernel, left out: " : "", h->left_out);
		if (!chosen && (!want || want == k))
			chosen = k;
		sockhooks_destroy(h);
	}
	if (!chosen)
		fprintf(out, "  HTTP capture: unavailable (%s)\n",
			want ? "the hooks asked for do not work here" : "no hooks work here");
	else if (want)
		fprintf(out, "  HTTP capture (--http-hooks %s): %s\n", names[chosen],
			describe[chosen]);
	else
		fprintf(out, "  HTTP capture (auto: %s): %s\n", names[chosen], describe[chosen]);
}
