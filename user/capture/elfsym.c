// SPDX-License-Identifier: MIT
#include "capture/elfsym.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
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

/* Hidden versions (0x8000) are old compat symbols: "name@VER", not "name@@VER". */
static bool is_hidden_version(Elf_Data *versym, size_t i)
{
	GElf_Versym v;

	return versym && gelf_getversym(versym, (int)i, &v) && (v & 0x8000);
}

/*
 * Look for a defined function `name` in the symbol table `type`.  The
 * default version wins over hidden compat versions, as the dynamic linker
 * would bind it.  Returns 0, -ENOENT, or -ENOTSUP for an IFUNC (its
 * address is the resolver, not the function that runs).
 */
static int find_in_table(Elf *elf, Elf64_Word type, const char *name,
			 uint64_t *vaddr)
{
	Elf_Scn *scn = NULL;
	bool ifunc = false, ifunc_default = false, compat = false;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data, *versym;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		versym = versym_for(elf, elf_ndxscn(scn));
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *s;
			int kind;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    sym.st_value == 0)
				continue;
			kind = GELF_ST_TYPE(sym.st_info);
			if (kind != STT_FUNC && kind != STT_GNU_IFUNC)
				continue;
			s = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!s || strcmp(s, name) != 0)
				continue;
			if (kind == STT_GNU_IFUNC) {
				ifunc = true;
				ifunc_default |= !is_hidden_version(versym, i);
				continue;
			}
			if (!is_hidden_version(versym, i)) {
				*vaddr = sym.st_value;
				return 0;
			}
			if (!compat)
				*vaddr = sym.st_value;
			compat = true;
		}
	}
	/* What a program calls by this name is the default version. */
	if (ifunc_default || (ifunc && !compat))
		return -ENOTSUP;
	return compat ? 0 : -ENOENT;
}

int elfsym_find(const char *path, const char *name, uint64_t *offset)
{
	uint64_t vaddr;
	int fd, err;
	Elf *elf = open_elf(path, &fd, &err);

	if (!elf)
		return err;
	err = find_in_table(elf, SHT_SYMTAB, name, &vaddr);
	if (err == -ENOENT)
		err = find_in_table(elf, SHT_DYNSYM, name, &vaddr);
	if (!err)
		err = vaddr_to_offset(elf, vaddr, offset);
	elf_end(elf);
	close(fd);
	return err;
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
