// SPDX-License-Identifier: MIT
#include "capture/tlsprobe.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tls.skel.h"
#include "capture/elfsym.h"
#include "capture/gotls.h"
#include "capture/loader.h"
#include "capture/umulti.h"
#include "util/log.h"

/* The functions probed in a TLS file (SSL_read and SSL_write are required). */
static const char *const tls_funcs[] = { "SSL_read", "SSL_write", "SSL_read_ex",
					 "SSL_write_ex", "SSL_free" };
enum { F_READ, F_WRITE, F_READ_EX, F_WRITE_EX, F_FREE, F_COUNT };

static struct bpf_program *entry_prog(struct tlsprobe *t, int f)
{
	switch (f) {
	case F_READ:
		return t->skel->progs.sp_tls_read;
	case F_WRITE:
		return t->skel->progs.sp_tls_write;
	case F_READ_EX:
		return t->skel->progs.sp_tls_read_ex;
	case F_WRITE_EX:
		return t->skel->progs.sp_tls_write_ex;
	default:
		return t->skel->progs.sp_tls_free;
	}
}

/*
 * Where the kernel has uprobe-multi links the programs were loaded for
 * them (tlscap.c): a multi link needs CAP_BPF and CAP_PERFMON only, while
 * a perf-event uprobe needs CAP_SYS_ADMIN again since Linux 6.16 (commit
 * ba677dbe77af, also in the stable kernels).
 */
static int attach_at(struct tlsprobe *t, struct bpf_program *prog, bool ret,
		     const char *path, uint64_t off)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = ret);
	struct bpf_link *link;
	uint64_t cookie = 0;
	int err, fd;

	if (t->loader->multi) {
		fd = umulti_attach(bpf_program__fd(prog), path, &off, &cookie, 1, 0, ret);
		return fd < 0 ? fd : loader_keep_multi_fd(t->loader, fd);
	}
	link = bpf_program__attach_uprobe_opts(prog, -1, path, off, &uo);
	err = link ? 0 : -errno;
	if (!err && (err = loader_keep_link(t->loader, link)))
		bpf_link__destroy(link);
	return err;
}

/*
 * Probe the TLS functions of `path`: SSL_read and SSL_write must be
 * there (and not be IFUNCs); the _ex calls (OpenSSL 1.1.1+) and SSL_free
 * where present.  -ENOENT: not a TLS library.
 */
static int probe_file(struct tlsprobe *t, const char *path)
{
	uint64_t off[F_COUNT];
	int errs[F_COUNT], err;

	err = elfsym_find_all(path, tls_funcs, F_COUNT, off, errs);
	if (err)
		return err;
	if (errs[F_READ] || errs[F_WRITE])
		return -ENOENT;
	for (int f = 0; f < F_COUNT && !err; f++) {
		if (errs[f])
			continue;
		err = attach_at(t, entry_prog(t, f), false, path, off[f]);
		if (!err && f != F_FREE)
			err = attach_at(t, t->skel->progs.sp_tls_return, true, path, off[f]);
	}
	return err;
}

#if defined(__x86_64__)
/* Read: its entry and every return; Write (sent at entry): its entry. */
static int attach_go_func(struct tlsprobe *t, struct bpf_program *entry,
			  const struct gotls_func *fn, const char *path, bool returns)
{
	int err = attach_at(t, entry, false, path, fn->entry);

	for (size_t i = 0; returns && i < fn->n_returns && !err; i++)
		err = attach_at(t, t->skel->progs.sp_gotls_return, false, path,
				fn->returns[i]);
	return err;
}
#endif

/*
 * A Go executable: crypto/tls's Read and Write, entry and every return.
 * -ENOENT when it is not Go or has no TLS; a Go program whose TLS cannot
 * be probed (no symbols, before Go 1.17...) is said once.
 */
static int probe_go(struct tlsprobe *t, const char *path, const char *shown)
{
	struct gotls_facts f;
	char why[512];
	int err = gotls_inspect(path, &f);

	if (err || f.verdict == GOTLS_NOT_GO || f.verdict == GOTLS_NOT_ELF ||
	    f.verdict == GOTLS_NO_TLS)
		return -ENOENT;
	if (f.verdict != GOTLS_PROBEABLE) {
		gotls_describe(shown, &f, why, sizeof(why));
		sp_warn("tls: %s; its TLS is not decrypted", why);
		t->go_unprobeable++;
		return -ENOENT;
	}
#if defined(__x86_64__)
	err = attach_go_func(t, t->skel->progs.sp_gotls_read, &f.read, path, true);
	if (!err)
		err = attach_go_func(t, t->skel->progs.sp_gotls_write, &f.write, path, false);
	if (!err) {
		t->go_probed++;
		sp_info("tls: probing Go %s crypto/tls in %s", f.version, shown);
	}
	return err;
#else
	return -ENOENT;
#endif
}

/* libc's (or old glibc's libdl's) dlopen: a library loaded later. */
static int probe_dlopen(struct tlsprobe *t, const char *path)
{
	uint64_t off;
	int err = elfsym_find(path, "dlopen", &off);

	return err ? err : attach_at(t, t->skel->progs.sp_tls_dlopen, true, path, off);
}

/* Probe one file of interest; 0 when probed, -ENOENT when it has no TLS,
 * -ESTALE when it went away while being looked at. */
int tlsprobe_file(struct tlsprobe *t, const char *path, const char *shown,
		     bool libc, bool exe)
{
	int err;

	if (libc)
		return probe_dlopen(t, path);
	err = probe_file(t, path);
	if (!err) {
		sp_info("tls: probing OpenSSL in %s", shown);
		return 0;
	}
	if (err == -ENOENT && exe)
		err = probe_go(t, path, shown);
	/* A path through /proc/PID/root goes with its process: "no TLS"
	 * only while the file is still there to say so. */
	return err == -ENOENT && access(path, F_OK) ? -ESTALE : err;
}

