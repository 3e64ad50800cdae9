// SPDX-License-Identifier: MIT
/*
 * The .go.buildinfo layout (written by cmd/link, read by debug/buildinfo):
 * a 32-byte header that starts with the 14 bytes "\xff Go buildinf:",
 * then the pointer size (byte 14) and flags (byte 15: bit 0 big-endian,
 * bit 1 strings inline).  Since Go 1.18 the strings follow the header
 * inline, each a uvarint length and its bytes, the version first.  Before,
 * bytes 16.. hold the address of the version's string header (a data
 * pointer and a length, each of the pointer size), to be read through the
 * sections that hold those addresses.
 */
#include "capture/gobuildinfo.h"

#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/elfsym.h"

#define MAGIC "\xff Go buildinf:"
#define MAGIC_LEN 14
#define HEADER_LEN 32
#define FLAG_BIG_ENDIAN 0x1
#define FLAG_INLINE 0x2
/* Longer than any release name; a bigger length means a bad section. */
#define VERSION_MAX 256

static Elf_Scn *section_named(Elf *elf, const char *name)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (gelf_getshdr(scn, &sh) && (n = elf_strptr(elf, shstrndx, sh.sh_name)) &&
		    !strcmp(n, name))
			return scn;
	}
	return NULL;
}

/* `len` bytes at virtual address `vaddr`, from the section holding them
 * all (a string never straddles sections).  NULL when none does. */
static const uint8_t *at_vaddr(Elf *elf, uint64_t vaddr, uint64_t len)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS || !sh.sh_addr ||
		    vaddr < sh.sh_addr || vaddr - sh.sh_addr > sh.sh_size ||
		    len > sh.sh_size - (vaddr - sh.sh_addr))
			continue;
		d = elf_getdata(scn, NULL);
		if (d && d->d_buf && d->d_size == sh.sh_size)
			return (const uint8_t *)d->d_buf + (vaddr - sh.sh_addr);
	}
	return NULL;
}

static uint64_t read_word(const uint8_t *p, int ptrsize, bool big_endian)
{
	uint64_t v = 0;

	for (int i = 0; i < ptrsize; i++)
		v = big_endian ? v << 8 | p[i] : v | (uint64_t)p[i] << (8 * i);
	return v;
}

static int copy_version(const uint8_t *s, uint64_t len, char *out, size_t size)
{
	if (!len || len > VERSION_MAX || memchr(s, '\0', len))
		return -EBADMSG;
	if (len >= size)
		return -ENOSPC;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* A Go string header {data, len} at `vaddr`, and the bytes it names. */
static int string_at(Elf *elf, uint64_t vaddr, int ptrsize, bool big_endian,
		     char *out, size_t size)
{
	const uint8_t *hdr = at_vaddr(elf, vaddr, 2 * (uint64_t)ptrsize), *s;
	uint64_t len;

	if (!hdr)
		return -EBADMSG;
	len = read_word(hdr + ptrsize, ptrsize, big_endian);
	if (len > VERSION_MAX)
		return -EBADMSG;
	s = at_vaddr(elf, read_word(hdr, ptrsize, big_endian), len);
	return s ? copy_version(s, len, out, size) : -EBADMSG;
}

/* The inline form: a uvarint length, then the bytes, right after the header. */
static int inline_version(const uint8_t *p, size_t avail, char *out, size_t size)
{
	uint64_t len = 0;
	size_t i = 0;

	for (int shift = 0; i < avail && shift < 63; shift += 7) {
		len |= (uint64_t)(p[i] & 0x7f) << shift;
		if (!(p[i++] & 0x80))
			return len <= avail - i ? copy_version(p + i, len, out, size)
						: -EBADMSG;
	}
	return -EBADMSG;
}

static int from_buildinfo(Elf *elf, Elf_Scn *scn, char *out, size_t size)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	const uint8_t *p;
	int ptrsize, flags;

	if (!d || !d->d_buf || d->d_size < HEADER_LEN)
		return -EBADMSG;
	p = d->d_buf;
	if (memcmp(p, MAGIC, MAGIC_LEN))
		return -EBADMSG;
	ptrsize = p[14];
	flags = p[15];
	if (flags & FLAG_INLINE)
		return inline_version(p + HEADER_LEN, d->d_size - HEADER_LEN, out, size);
	if (ptrsize != 4 && ptrsize != 8)
		return -EBADMSG;
	return string_at(elf, read_word(p + 16, ptrsize, flags & FLAG_BIG_ENDIAN),
			 ptrsize, flags & FLAG_BIG_ENDIAN, out, size);
}

static bool is_build_version(void *ctx, const char *name, const GElf_Sym *sym, bool hidden)
{
	(void)hidden;
	if (!sym->st_value || strcmp(name, "runtime.buildVersion"))
		return false;
	*(uint64_t *)ctx = sym->st_value;
	return true;
}

/* runtime.buildVersion's address, from .symtab; 0 when absent. */
static uint64_t build_version_symbol(Elf *elf)
{
	uint64_t addr = 0;

	elfsym_each(elf, SHT_SYMTAB, is_build_version, &addr);
	return addr;
}

int gobuildinfo_version(Elf *elf, char *out, size_t size)
{
	Elf_Scn *scn = section_named(elf, ".go.buildinfo");
	GElf_Ehdr eh;
	uint64_t addr;

	if (scn)
		return from_buildinfo(elf, scn, out, size);
	addr = build_version_symbol(elf);
	if (!addr)
		return -ENOENT;
	if (!gelf_getehdr(elf, &eh))
		return -EBADMSG;
	return string_at(elf, addr, eh.e_ident[EI_CLASS] == ELFCLASS64 ? 8 : 4,
			 eh.e_ident[EI_DATA] == ELFDATA2MSB, out, size);
}

int gobuildinfo_release(const char *version, int *major, int *minor)
{
	const char *go = strstr(version, "go1.");
	char *end;
	long m;

	if (!go || (go != version && go[-1] != ' '))
		return -EINVAL;
	m = strtol(go + 4, &end, 10);
	if (end == go + 4 || m < 0 || m > 1000)
		return -EINVAL;
	*major = 1;
	*minor = (int)m;
	return 0;
}
