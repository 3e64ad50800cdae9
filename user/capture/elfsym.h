/* SPDX-License-Identifier: MIT */
/* Reading what uprobes need from ELF files: function offsets, RUNPATH. */
#ifndef SPANPROBE_ELFSYM_H
#define SPANPROBE_ELFSYM_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * File offset of function `name` in the ELF file `path` (from .symtab, else
 * .dynsym; defined functions only), as uprobes want it.  A bare `name` is
 * the default symbol version (the one a program binds to), or a hidden
 * compat version when there is no other; "name@@VER" is the default
 * version when it is VER, "name@VER" version VER, default or hidden.
 * Versions are read from the names in .symtab and from .gnu.version and
 * .gnu.version_d for .dynsym, so a stripped library answers alike.  Returns 0, -ENOENT when there is no such function,
 * -ENOTSUP when it is an IFUNC (chosen at load time, not traceable by
 * name), -ENOEXEC when the file is not ELF, or the negative errno of
 * opening it.
 */
int elfsym_find(const char *path, const char *name, uint64_t *offset);

/*
 * elfsym_find() for `n` names of one file in one pass over its symbol
 * tables: offsets[i] and errs[i] (0, -ENOENT, -ENOTSUP) for names[i].
 * Returns 0, or for the whole file -ENOEXEC, -ENOMEM or the negative
 * errno of opening it.
 */
int elfsym_find_all(const char *path, const char *const *names, size_t n,
		    uint64_t *offsets, int *errs);

/*
 * Each named symbol of the tables of `type` (SHT_SYMTAB or SHT_DYNSYM) of
 * the open ELF `elf`, handed to `visit` with whether it is a hidden
 * (non-default) version; `visit` returns true to stop.  Returns how many
 * entries the tables hold, the null entry each starts with included.
 */
typedef bool elfsym_visit_fn(void *ctx, const char *name, const GElf_Sym *sym, bool hidden);
size_t elfsym_each(Elf *elf, Elf64_Word type, elfsym_visit_fn *visit, void *ctx);

/*
 * DT_RUNPATH (or, when absent, DT_RPATH) of `path` into `out`, "" when it
 * has neither; *is_rpath tells which (the loader searches them at different
 * points).  Returns 0, -ENOEXEC, or a negative errno.
 */
int elfsym_runpath(const char *path, char *out, size_t size, int *is_rpath);

#endif /* SPANPROBE_ELFSYM_H */
