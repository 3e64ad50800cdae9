// SPDX-License-Identifier: MIT
#include "capture/tlscap.h"

#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls.skel.h"
#include "capture/features.h"
#include "capture/gotls.h"
#include "capture/loader.h"
#include "capture/tlsprobe.h"
#include "capture/umulti.h"
#include "capture/procfs.h"
#include "capture/sockhooks.h"
#include "util/log.h"
#include "util/u32map.h"
#include "util/u64map.h"

#define TLSCAP_DEFAULT_FILES 4096
#define TLSCAP_PENDING 256       /* processes waiting for a rescan */
#define TLSCAP_RESCAN_MS 50      /* after exec: the loader maps libraries first */
#define TLSCAP_PROCS 4096        /* processes whose TLS was judged */
#define TLSCAP_BLIND 32          /* executables named with TLS not decrypted */

/* Values of the process map: its TLS is probed, or not. */
/* Values of the process map: probed, or blind (its struct blind, or this
 * when the table of them is full). */
#define PROC_PROBED ((void *)1)
#define PROC_BLIND_OTHER ((void *)2)

/* An executable whose TLS connections go undecrypted, and how many. */
struct blind {
	char exe[256];
	uint64_t conns;
};

/* What a file is, once looked at (values of the file map). */
#define FILE_TLS ((void *)1)     /* probed */
#define FILE_OTHER ((void *)2)   /* no TLS library functions, or probing failed */

struct pending {
	pid_t pid;
	uint64_t due_ms;
};

struct tlscap {
	struct tls_bpf *skel;
	struct sp_loader *loader;
	struct tlsprobe probe;       /* the probes put into files */
	struct sp_u64map files;      /* (device, inode) -> FILE_* */
	uint32_t max_files;
	struct pending pending[TLSCAP_PENDING];
	unsigned n_pending;
	struct sp_u32map procs;      /* pid -> PROC_* */
	struct blind blind[TLSCAP_BLIND];
	unsigned n_blind;
	uint64_t blind_other;        /* connections of executables past the table */
	struct {
		uint64_t files_probed, files_other, attach_failed, rescans,
			rescans_dropped, files_forgotten;
	} stats;
};

static bool basename_starts(const char *path, const char *prefix)
{
	const char *base = strrchr(path, '/');

	return strncmp(base ? base + 1 : path, prefix, strlen(prefix)) == 0;
}

struct scan {
	struct tlscap *t;
	pid_t pid;
	bool tls;      /* a probed TLS file is mapped */
	char exe[4096];
};

/* Remember what `key` is; a full table starts over (files are looked at again). */
static void remember(struct tlscap *t, uint64_t key, void *what)
{
	if (u64map_put(&t->files, key, what) == -ENOSPC) {
		t->stats.files_forgotten += t->max_files;
		u64map_destroy(&t->files);
		if (u64map_init(&t->files, t->max_files) == 0)
			u64map_put(&t->files, key, what);
	}
}

/*
 * Look at one file, each (device, inode) once; `path` opens it from here.
 * Returns whether its TLS functions are probed.
 */
static bool consider(struct tlscap *t, const char *path, const char *shown, bool libc,
		     bool exe)
{
	struct stat st;
	uint64_t key;
	void *known;
	int err;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return false;
	key = (uint64_t)st.st_ino ^ ((uint64_t)st.st_dev * 0x9e3779b97f4a7c15ULL);
	known = key ? u64map_get(&t->files, key) : FILE_OTHER;
	if (known)
		return known == FILE_TLS && !libc;
	err = tlsprobe_file(&t->probe, path, shown, libc, exe);
	if (err == -ESTALE)
		return false; /* its process is gone: no verdict on the file */
	if (!libc && !err)
		t->stats.files_probed++;
	else if (!libc && err == -ENOENT)
		t->stats.files_other++;
	else if (!libc) {
		t->stats.attach_failed++;
		sp_warn("tls: cannot probe %s: %s", shown, strerror(-err));
	}
	remember(t, key, err ? FILE_OTHER : FILE_TLS);
	return !err && !libc;
}

/* libssl.so.N, or a copy bundled under a name of its own: Python wheels
 * ship libssl-<hash>.so.N (whether it is OpenSSL, its exports say). */
static bool is_libssl(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return basename_starts(path, "libssl.so") ||
	       (basename_starts(path, "libssl-") && strstr(base, ".so"));
}

static bool is_libc(const char *path)
{
	return basename_starts(path, "libc.so") || basename_starts(path, "libdl.so");
}

/*
 * One mapped file of a process: probed when it is libssl, the process's
 * executable (Node.js with its own OpenSSL, a Go program), or libc
 * (dlopen).
 */
static int scan_file(const char *mapped, void *arg)
{
	struct scan *s = arg;
	char path[4096 + 32];
	bool exe = strcmp(mapped, s->exe) == 0;

	if (!(is_libssl(mapped) || is_libc(mapped) || exe) || strstr(mapped, " (deleted)"))
		return 0;
	/* The process's own view: it may live in another mount namespace. */
	snprintf(path, sizeof(path), "/proc/%d/root%s", (int)s->pid, mapped);
	if (consider(s->t, path, mapped, is_libc(mapped), exe))
		s->tls = true;
	return 0;
}

/* Probe what `pid` maps; *tls: whether a probed TLS file is among them. */
static int scan_process(struct tlscap *t, pid_t pid, bool *tls, char *exe, size_t size)
{
	struct scan s = { .t = t, .pid = pid };
	char link[64];
	ssize_t n;
	int err;

	/* The executable as the maps name it: the link's target.  Without it
	 * the process has exited (a zombie maps nothing): no verdict. */
	if (procfs_exe_link(pid, link, sizeof(link)) ||
	    (n = readlink(link, s.exe, sizeof(s.exe) - 1)) <= 0)
		return -ESRCH;
	s.exe[n] = '\0';
	err = procfs_maps_each(pid, scan_file, &s);
	if (tls)
		*tls = s.tls;
	if (exe)
		snprintf(exe, size, "%.*s", (int)size - 1, s.exe);
	return err < 0 ? err : 0;
}

int tlscap_scan_process(struct tlscap *t, pid_t pid)
{
	return scan_process(t, pid, NULL, NULL, 0);
}

/*
 * The host's own libssl and libc in the usual library folders, mapped by
 * no process yet: a short-lived client (curl) started later would be
 * done before its maps are read.
 */
/* The system library folders under `root` ("" or a process's root). */
static void scan_system_under(struct tlscap *t, const char *root)
{
	static const char *const dirs[] = {
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
		"/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
		"/usr/local/lib",
	};
	size_t skip = strlen(root);

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct dirent *e;
		char path[4096];
		DIR *d;

		snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		d = opendir(path);
		if (!d)
			continue;
		while ((e = readdir(d))) {
			if (!is_libssl(e->d_name) && strcmp(e->d_name, "libc.so.6"))
				continue;
			snprintf(path, sizeof(path), "%s%s/%s", root, dirs[i], e->d_name);
			consider(t, path, path + skip, is_libc(path), false);
		}
		closedir(d);
	}
}

/*
 * The root of the host, as "/proc/PID/root" in out, when ours is another
 * (a container's): the first process, in PID order, whose root we may
 * read and that is not ours (PID 1 on a node, given CAP_SYS_PTRACE).
 */
static bool host_root(char out[64])
{
	struct stat ours, st;
	struct dirent *e;
	bool found = false;
	DIR *d;

	if (stat("/", &ours))
		return false;
	/* PID 1 has our root: we run on the host (other roots are containers'). */
	if (stat("/proc/1/root", &st) == 0 && st.st_dev == ours.st_dev && st.st_ino == ours.st_ino)
		return false;
	d = opendir("/proc");
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(out, 64, "/proc/%d/root", (int)pid);
		found = stat(out, &st) == 0 &&
			(st.st_dev != ours.st_dev || st.st_ino != ours.st_ino);
	}
	closedir(d);
	return found;
}

/*
 * In a container (a DaemonSet's pod with hostPID), our own library
 * folders are the image's: the host's, which the node's short-lived
 * clients load, are under the host's root.
 */
void tlscap_scan_system(struct tlscap *t)
{
	char root[64];

	scan_system_under(t, "");
	if (host_root(root))
		scan_system_under(t, root);
}

void tlscap_scan_all(struct tlscap *t)
{
	DIR *d;
	struct dirent *e;

	d = opendir("/proc");
	if (!d)
		return;
	while ((e = readdir(d))) {
		pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);

		if (pid > 0 && pid != getpid())
			tlscap_scan_process(t, pid);
	}
	closedir(d);
}

void tlscap_rescan_later(struct tlscap *t, pid_t pid, uint64_t now_ms)
{
	for (unsigned i = 0; i < t->n_pending; i++)
		if (t->pending[i].pid == pid)
			return;
	if (t->n_pending == TLSCAP_PENDING) {
		t->stats.rescans_dropped++;
		return;
	}
	t->pending[t->n_pending++] = (struct pending){ pid, now_ms + TLSCAP_RESCAN_MS };
}

void tlscap_tick(struct tlscap *t, uint64_t now_ms)
{
	unsigned i = 0;

	while (i < t->n_pending) {
		if (t->pending[i].due_ms > now_ms) {
			i++;
			continue;
		}
		t->stats.rescans++;
		tlscap_scan_process(t, t->pending[i].pid);
		t->pending[i] = t->pending[--t->n_pending];
	}
}

bool tlscap_owns(uint16_t type)
{
	return type == SP_EV_LIB_LOADED || type == SP_EV_TLS_SEEN;
}

/*
 * The entry of an executable whose TLS is not probed (made, and said, the
 * first time), or PROC_BLIND_OTHER past the table: what the process's
 * verdict holds, so that its later connections are counted without
 * looking at the process again.
 */
static void *blind_entry(struct tlscap *t, const char *exe)
{
	unsigned i;

	for (i = 0; i < t->n_blind && strcmp(t->blind[i].exe, exe); i++)
		;
	if (i < t->n_blind)
		return &t->blind[i];
	if (t->n_blind == TLSCAP_BLIND)
		return PROC_BLIND_OTHER;
	snprintf(t->blind[t->n_blind].exe, sizeof(t->blind[0].exe), "%s", exe);
	sp_info("tls: TLS traffic of %s is not decrypted (no probed TLS library)", exe);
	return &t->blind[t->n_blind++];
}

/*
 * A connection of `pid` starts a TLS handshake: is its TLS library probed?
 * The process's files are looked at once (which probes any new one); the
 * verdict, and for a blind one its executable's entry, is kept.
 */
static void tls_seen(struct tlscap *t, pid_t pid)
{
	void *known = u32map_get(&t->procs, (uint32_t)pid);
	char exe[256];
	bool tls = false;

	if (!known) {
		if (scan_process(t, pid, &tls, exe, sizeof(exe)))
			return; /* gone already */
		known = tls ? PROC_PROBED : blind_entry(t, exe);
		if (u32map_put(&t->procs, (uint32_t)pid, known) == -ENOSPC) {
			u32map_destroy(&t->procs); /* full: judge again from now on */
			if (u32map_init(&t->procs, TLSCAP_PROCS, false) == 0)
				u32map_put(&t->procs, (uint32_t)pid, known);
		}
	}
	if (known == PROC_BLIND_OTHER)
		t->blind_other++;
	else if (known != PROC_PROBED)
		((struct blind *)known)->conns++;
}

void tlscap_process_exit(struct tlscap *t, pid_t pid)
{
	u32map_del(&t->procs, (uint32_t)pid);
}

void tlscap_handle(struct tlscap *t, const void *record, uint64_t now_ms)
{
	const struct sp_event_header *hdr = record;

	if (hdr->type == SP_EV_TLS_SEEN) {
		tls_seen(t, (pid_t)hdr->pid);
		return;
	}
	/* dlopen has returned: the library is mapped already. */
	tlscap_rescan_later(t, (pid_t)hdr->pid, now_ms - TLSCAP_RESCAN_MS);
}

static int load(struct tlscap *t, const struct sockhooks *h, const struct tlscap_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = features_btf_custom_path());
	struct bpf_program *prog;
	int err;

	t->skel = tls_bpf__open_opts(&oo);
	if (!t->skel)
		return -errno;
	t->skel->rodata->sp_wakeup_bytes = loader_wakeup_bytes(t->loader);
	t->skel->rodata->sp_ring_count = loader_ring_count(t->loader);
	t->skel->rodata->sp_sock_capture = o->capture_bytes;
	t->skel->rodata->sp_sock_all = o->all_processes;
	t->skel->rodata->sp_sock_self_tgid = (uint32_t)getpid();
	t->skel->rodata->sp_go_conn_data = GOTLS_TLSCONN_CONN + GOTLS_IFACE_DATA;
	t->skel->rodata->sp_go_netfd = GOTLS_TCPCONN_FD;
	t->skel->rodata->sp_go_sysfd = GOTLS_NETFD_PFD + GOTLS_POLLFD_SYSFD;
	err = loader_share_maps(t->loader, t->skel->obj);
	if (!err)
		err = bpf_map__reuse_fd(t->skel->maps.sp_sock_conns,
					sockhooks_map_fd(h, "sp_sock_conns"));
	if (!err)
		err = bpf_map__reuse_fd(t->skel->maps.sp_sock_known,
					sockhooks_map_fd(h, "sp_sock_known"));
	if (!err)
		err = bpf_map__reuse_fd(t->skel->maps.sp_tls_calls,
					sockhooks_map_fd(h, "sp_tls_calls"));
	if (!err)
		err = bpf_map__reuse_fd(t->skel->maps.sp_tls_procs,
					sockhooks_map_fd(h, "sp_tls_procs"));
	if (!err)
		err = bpf_map__reuse_fd(t->skel->maps.sp_tls_pslots,
					sockhooks_map_fd(h, "sp_tls_pslots"));
	if (!err)
		err = bpf_map__reuse_fd(t->skel->maps.sp_tls_last,
					sockhooks_map_fd(h, "sp_tls_last"));
	if (err)
		return err;
	/* Attached as the function programs are (tlsprobe.c says why). */
	if (t->loader->multi)
		bpf_object__for_each_program(prog, t->skel->obj)
			bpf_program__set_expected_attach_type(prog, UMULTI_ATTACH_TYPE);
	return tls_bpf__load(t->skel);
}

struct tlscap *tlscap_open(struct sp_loader *l, const struct sockhooks *h,
			   const struct tlscap_opts *opts)
{
	struct tlscap *t = calloc(1, sizeof(*t));
	int err = -ENOMEM;

	if (!t)
		goto fail;
	t->loader = l;
	t->max_files = opts->max_files ? opts->max_files : TLSCAP_DEFAULT_FILES;
	if (u64map_init(&t->files, t->max_files) || u32map_init(&t->procs, TLSCAP_PROCS, false))
		goto fail;
	err = load(t, h, opts);
	if (err) {
		sp_err("tls: loading the TLS programs failed: %s — libbpf: %s", strerror(-err),
		       loader_libbpf_last());
		goto fail;
	}
	t->probe = (struct tlsprobe){ .skel = t->skel, .loader = l };
	return t;
fail:
	tlscap_close(t);
	errno = -err;
	return NULL;
}

void tlscap_report(const struct tlscap *t, FILE *out)
{
	if (!t)
		return;
	fprintf(out, "tls: %llu files probed (%llu Go), %llu Go not probeable, %llu without "
		"TLS functions, %llu failed; %llu rescans, %llu not done (queue full), "
		"%llu files forgotten (table full)\n",
		(unsigned long long)t->stats.files_probed,
		(unsigned long long)t->probe.go_probed,
		(unsigned long long)t->probe.go_unprobeable,
		(unsigned long long)t->stats.files_other,
		(unsigned long long)t->stats.attach_failed,
		(unsigned long long)t->stats.rescans,
		(unsigned long long)t->stats.rescans_dropped,
		(unsigned long long)t->stats.files_forgotten);
	for (unsigned i = 0; i < t->n_blind; i++)
		fprintf(out, "tls: TLS traffic not decrypted: %s, %llu connections\n",
			t->blind[i].exe, (unsigned long long)t->blind[i].conns);
	if (t->blind_other)
		fprintf(out, "tls: TLS traffic not decrypted: %llu connections of other "
			"executables\n", (unsigned long long)t->blind_other);
}

uint64_t tlscap_not_decrypted(const struct tlscap *t)
{
	uint64_t n = t->blind_other;

	for (unsigned i = 0; i < t->n_blind; i++)
		n += t->blind[i].conns;
	return n;
}

void tlscap_close(struct tlscap *t)
{
	if (!t)
		return;
	tls_bpf__destroy(t->skel);
	u64map_destroy(&t->files);
	u32map_destroy(&t->procs);
	free(t);
}
