// SPDX-License-Identifier: MIT
#include "capture/elfsym.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Open `path` as ELF.  Returns the Elf handle (and *fd) or NULL with *err set. */
static Elf *open_elf(const char *path, int *fd, int *err)
{
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		*err = -ENOSYS;
		return NULL;
	}
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		*err = -errno;
		return NULL;
	}
	elf = elf_begin(*fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		close(*fd);
		*err = -ENOEXEC;
		return NULL;
	}
	return elf;
}

/* Virtual address -> file offset through the PT_LOAD segment holding it. */
static int vaddr_to_offset(Elf *elf, uint64_t vaddr, uint64_t *offset)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_memsz) {
			*offset = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

/* The GNU version table that goes with symbol table `symtab`, or NULL. */
static Elf_Data *versym_for(Elf *elf, size_t symtab_index)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_versym &&
		    sh.sh_link == symtab_index)
			return elf_getdata(scn, NULL);
	}
	return NULL;
}

/* The version definitions (.gnu.version_d), or NULL. */
static Elf_Scn *verdef_scn(Elf *elf)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_verdef)
			return scn;
	}
	return NULL;
}

/* Hidden versions (0x8000) are old compat symbols: "name@VER", not "name@@VER". */
static bool is_hidden_version(Elf_Data *versym, size_t i)
{
	GElf_Versym v;

	return versym && gelf_getversym(versym, (int)i, &v) && (v & 0x8000);
}

/* One symbol table being read, with what names the versions of its symbols. */
struct table {
	Elf *elf;
	Elf_Data *versym;    /* .gnu.version of .dynsym; NULL for .symtab */
	Elf_Scn *verdef;     /* .gnu.version_d */
};

/*
 * The name of the version defined at index `ndx` of .gnu.version_d (its
 * first name), or NULL: index 0 is local and 1 the unversioned global
 * (the file's base entry), neither a version a symbol is asked by.
 */
static const char *verdef_name(const struct table *t, unsigned ndx)
{
	GElf_Shdr sh;
	Elf_Data *data;
	size_t off = 0;

	if (ndx < 2 || !t->verdef || !gelf_getshdr(t->verdef, &sh) ||
	    !(data = elf_getdata(t->verdef, NULL)))
		return NULL;
	for (size_t k = 0; k < sh.sh_info && off < data->d_size; k++) {
		GElf_Verdef vd;
		GElf_Verdaux va;

		if (!gelf_getverdef(data, (int)off, &vd))
			return NULL;
		if (vd.vd_ndx == ndx && vd.vd_cnt &&
		    gelf_getverdaux(data, (int)(off + vd.vd_aux), &va))
			return elf_strptr(t->elf, sh.sh_link, va.vda_name);
		if (!vd.vd_next)
			return NULL;
		off += vd.vd_next;
	}
	return NULL;
}

/*
 * The bare name of symbol `i`, `name` in its table, and its version: in
 * .symtab the linker writes it into the name ("foo@@V2" the default,
 * "foo@V1" a hidden one); in .dynsym the name is bare and the version
 * comes from .gnu.version and .gnu.version_d.  *ver is NULL when the
 * symbol has none.  Returns the bare name's length.
 */
static size_t symbol_version(const struct table *t, size_t i, const char *name,
			     const char **ver, bool *hidden)
{
	const char *at = strchr(name, '@');
	GElf_Versym v;

	if (at) {
		*hidden = at[1] != '@';
		*ver = at + (*hidden ? 1 : 2);
		return (size_t)(at - name);
	}
	*hidden = is_hidden_version(t->versym, i);
	*ver = t->versym && gelf_getversym(t->versym, (int)i, &v) ?
		verdef_name(t, v & 0x7fff) : NULL;
	return strlen(name);
}

/* What one pass has seen of one wanted name. */
struct sym_state {
	uint64_t vaddr;
	bool found;          /* a default (or unversioned) definition */
	bool compat;         /* only a hidden compat version so far */
	bool ifunc, ifunc_default;
};

/*
 * One name asked for: "name" (the version a program binds to by default),
 * "name@@VER" (VER, the default version) or "name@VER" (VER, default or
 * hidden).  Sorted by the bare name.
 */
struct sym_want {
	const char *name;    /* the bare name, `len` bytes */
	size_t len;
	const char *version; /* NULL: any */
	bool need_default;
	size_t index;        /* into the caller's arrays */
};

static struct sym_want parse_want(const char *request, size_t index)
{
	const char *at = strchr(request, '@');
	struct sym_want w = { .name = request, .len = strlen(request), .index = index };

	if (at) {
		w.len = (size_t)(at - request);
		w.need_default = at[1] == '@';
		w.version = at + (w.need_default ? 2 : 1);
	}
	return w;
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (alen > blen) - (alen < blen);
}

static int want_cmp(const void *a, const void *b)
{
	const struct sym_want *x = a, *y = b;

	return name_cmp(x->name, x->len, y->name, y->len);
}

/* The first wanted entry of bare name `name` (`len` bytes), or NULL. */
static const struct sym_want *want_find(const struct sym_want *want, size_t n,
					const char *name, size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (name_cmp(want[mid].name, want[mid].len, name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !name_cmp(want[lo].name, want[lo].len, name, len) ? &want[lo] : NULL;
}

/* Record symbol `i` of the table for its wanted name.  The default version
 * wins over hidden compat versions, as the dynamic linker would bind it. */
static void note_symbol(struct sym_state *st, const GElf_Sym *sym, bool hidden)
{
	if (GELF_ST_TYPE(sym->st_info) == STT_GNU_IFUNC) {
		st->ifunc = true;
		st->ifunc_default |= !hidden;
		return;
	}
	if (st->found)
		return;
	if (!hidden) {
		st->vaddr = sym->st_value;
		st->found = true;
	} else if (!st->compat) {
		st->vaddr = sym->st_value;
		st->compat = true;
	}
}

/*
 * A symbol of version `ver` (hidden or not) for each entry asking for its
 * bare name, which sit next to each other from `first` on in the sorted
 * `want`.  One asking for a version takes the symbol of that version as
 * the one it wants, hidden or not.
 */
static void note_all(const struct sym_want *want, size_t n, const struct sym_want *first,
		     struct sym_state *st, const GElf_Sym *sym, const char *ver,
		     bool hidden)
{
	for (size_t j = (size_t)(first - want);
	     j < n && !want_cmp(&want[j], first); j++) {
		const struct sym_want *w = &want[j];

		if (!w->version)
			note_symbol(&st[j], sym, hidden);
		else if (ver && !strcmp(ver, w->version) && !(w->need_default && hidden))
			note_symbol(&st[j], sym, false);
	}
}

typedef bool table_visit_fn(void *ctx, const struct table *t, size_t i,
			    const char *name, const GElf_Sym *sym);

/* Each named symbol of the tables of `type`; see elfsym_each(). */
static size_t each_symbol(Elf *elf, Elf64_Word type, table_visit_fn *visit, void *ctx)
{
	struct table t = { .elf = elf, .verdef = verdef_scn(elf) };
	Elf_Scn *scn = NULL;
	size_t entries = 0;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		t.versym = versym_for(elf, elf_ndxscn(scn));
		entries += sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) ||
			    !(name = elf_strptr(elf, sh.sh_link, sym.st_name)) ||
			    !*name)
				continue;
			if (visit(ctx, &t, i, name, &sym))
				return entries;
		}
	}
	return entries;
}

struct each_ctx {
	elfsym_visit_fn *visit;
	void *ctx;
};

static bool each_one(void *ctx, const struct table *t, size_t i, const char *name,
		     const GElf_Sym *sym)
{
	struct each_ctx *c = ctx;

	return c->visit(c->ctx, name, sym, is_hidden_version(t->versym, i));
}

size_t elfsym_each(Elf *elf, Elf64_Word type, elfsym_visit_fn *visit, void *ctx)
{
	struct each_ctx c = { visit, ctx };

	return each_symbol(elf, type, each_one, &c);
}

struct scan_ctx {
	const struct sym_want *want;
	size_t n;
	struct sym_state *st;
};

static bool scan_one(void *ctx, const struct table *t, size_t i, const char *name,
		     const GElf_Sym *sym)
{
	struct scan_ctx *c = ctx;
	const struct sym_want *w;
	int kind = GELF_ST_TYPE(sym->st_info);
	const char *ver;
	bool hidden;
	size_t len;

	if (sym->st_shndx == SHN_UNDEF || sym->st_value == 0 ||
	    (kind != STT_FUNC && kind != STT_GNU_IFUNC))
		return false;
	len = symbol_version(t, i, name, &ver, &hidden);
	w = want_find(c->want, c->n, name, len);
	if (w)
		note_all(c->want, c->n, w, c->st, sym, ver, hidden);
	return false;
}

/* One pass over the symbol tables of `type`, for every wanted name at once. */
static void scan_table(Elf *elf, Elf64_Word type, const struct sym_want *want,
		       size_t n, struct sym_state *st)
{
	struct scan_ctx c = { want, n, st };

	each_symbol(elf, type, scan_one, &c);
}

/* -ENOTSUP for an IFUNC: its address is the resolver, not the function that
 * runs; what a program calls by this name is the default version. */
static int state_result(const struct sym_state *st)
{
	if (st->found)
		return 0;
	if (st->ifunc_default || (st->ifunc && !st->compat))
		return -ENOTSUP;
	return st->compat ? 0 : -ENOENT;
}

/* .dynsym only for the names .symtab lacks, each as one name alone did;
 * `want` and `st` have room for `n` more entries after the first `n`. */
static void scan_dynsym_for_missing(Elf *elf, struct sym_want *want, size_t n,
				    struct sym_state *st)
{
	struct sym_want *miss = want + n;
	struct sym_state *miss_st = st + n;
	size_t m = 0;

	for (size_t k = 0; k < n; k++)
		if (state_result(&st[k]) == -ENOENT) {
			miss[m] = want[k];
			miss[m++].index = k;
		}
	if (!m)
		return;
	scan_table(elf, SHT_DYNSYM, miss, m, miss_st);
	for (size_t j = 0; j < m; j++)
		st[miss[j].index] = miss_st[j];
}

static void resolve_wanted(Elf *elf, struct sym_want *want, size_t n,
			   struct sym_state *st, uint64_t *offsets, int *errs)
{
	scan_table(elf, SHT_SYMTAB, want, n, st);
	scan_dynsym_for_missing(elf, want, n, st);
	for (size_t k = 0; k < n; k++) {
		size_t i = want[k].index;

		errs[i] = state_result(&st[k]);
		if (!errs[i])
			errs[i] = vaddr_to_offset(elf, st[k].vaddr, &offsets[i]);
	}
}

int elfsym_find_all(const char *path, const char *const *names, size_t n,
		    uint64_t *offsets, int *errs)
{
	/* Twice `n`: the second half holds the names .symtab lacks. */
	struct sym_want *want = calloc(2 * n + 1, sizeof(*want));
	struct sym_state *st = calloc(2 * n + 1, sizeof(*st));
	int fd, err = 0;
	Elf *elf = NULL;

	if (!want || !st)
		err = -ENOMEM;
	else
		elf = open_elf(path, &fd, &err);
	if (elf) {
		for (size_t i = 0; i < n; i++)
			want[i] = parse_want(names[i], i);
		qsort(want, n, sizeof(*want), want_cmp);
		resolve_wanted(elf, want, n, st, offsets, errs);
		elf_end(elf);
		close(fd);
	}
	free(want);
	free(st);
	return err;
}

int elfsym_find(const char *path, const char *name, uint64_t *offset)
{
	int sym_err, err = elfsym_find_all(path, &name, 1, offset, &sym_err);

	return err ? err : sym_err;
}

int elfsym_runpath(const char *path, char *out, size_t size, int *is_rpath)
{
	Elf_Scn *scn = NULL;
	const char *runpath = NULL, *rpath = NULL;
	int fd, err;
	Elf *elf = open_elf(path, &fd, &err);

	if (!elf)
		return err;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC ||
		    !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Dyn dyn;

			if (!gelf_getdyn(data, (int)i, &dyn))
				continue;
			if (dyn.d_tag == DT_RUNPATH)
				runpath = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
			else if (dyn.d_tag == DT_RPATH)
				rpath = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
		}
	}
	snprintf(out, size, "%s", runpath ? runpath : rpath ? rpath : "");
	*is_rpath = !runpath && rpath;
	elf_end(elf);
	close(fd);
	return 0;
}
