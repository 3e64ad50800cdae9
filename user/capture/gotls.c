// SPDX-License-Identifier: MIT
#include "capture/gotls.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/elfsym.h"
#include "capture/gobuildinfo.h"
#include "capture/x86insn.h"

#define READ_SYM "crypto/tls.(*Conn).Read"
#define WRITE_SYM "crypto/tls.(*Conn).Write"
/* Go 1.17 moved amd64 to the register ABI (arguments in RAX, RBX, ...). */
#define REGABI_MINOR 17
/* Read and Write are a few hundred bytes; a larger size is a bad symbol. */
#define MAX_FUNC_BYTES (1 << 20)

static bool note_size(void *ctx, const char *name, const GElf_Sym *sym, bool hidden)
{
	struct gotls_facts *f = ctx;

	(void)hidden;
	if (GELF_ST_TYPE(sym->st_info) != STT_FUNC)
		return false;
	if (!strcmp(name, READ_SYM))
		f->read.size = sym->st_size;
	else if (!strcmp(name, WRITE_SYM))
		f->write.size = sym->st_size;
	return false;
}

/* Whether .symtab has entries (past the null one every table starts
 * with), and the sizes of Read and Write in it. */
static bool symtab_sizes(Elf *elf, struct gotls_facts *f)
{
	return elfsym_each(elf, SHT_SYMTAB, note_size, f) > 1;
}

/* The Go facts that need only the ELF headers: which verdict so far. */
static enum gotls_verdict check_go(Elf *elf, struct gotls_facts *f)
{
	GElf_Ehdr eh;

	if (!gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64)
		return GOTLS_OTHER_ARCH;
	if (gobuildinfo_version(elf, f->version, sizeof(f->version)) == -ENOENT)
		return GOTLS_NOT_GO;
	f->is_go = true;
	if (gobuildinfo_release(f->version, &f->major, &f->minor))
		return GOTLS_NO_VERSION;
	f->regabi = f->major > 1 || f->minor >= REGABI_MINOR;
	f->has_symbols = symtab_sizes(elf, f);
	if (!f->has_symbols)
		return GOTLS_NO_SYMBOLS;
	return f->regabi ? GOTLS_PROBEABLE : GOTLS_OLD_ABI;
}

/* Every return of one function: its bytes from the file, walked from the
 * entry.  Returns 0, -EILSEQ/-ENODATA/-ENOSPC (x86_find_returns: not
 * probed), -EIO on a short read, or -ENOMEM. */
static int find_returns(int fd, struct gotls_func *fn)
{
	uint8_t *code;
	uint64_t rel[GOTLS_MAX_RETURNS];
	int err = 0;

	if (!fn->size || fn->size > MAX_FUNC_BYTES)
		return -EILSEQ;
	code = malloc(fn->size);
	if (!code)
		return -ENOMEM;
	if (pread(fd, code, fn->size, (off_t)fn->entry) != (ssize_t)fn->size)
		err = -EIO;
	else
		err = x86_find_returns(code, fn->size, rel, GOTLS_MAX_RETURNS,
				       &fn->n_returns, NULL);
	free(code);
	if (!err && !fn->n_returns)
		err = -EILSEQ; /* a Read or Write that never returns is not these */
	for (size_t i = 0; !err && i < fn->n_returns; i++)
		fn->returns[i] = fn->entry + rel[i];
	if (err)
		fn->n_returns = 0;
	return err;
}

/* Entry offsets as every uprobe of spanprobe gets them (elfsym), then the
 * returns.  Sets the verdict; returns 0 or -ENOMEM. */
static int find_functions(const char *path, int fd, struct gotls_facts *f)
{
	const char *names[2] = { READ_SYM, WRITE_SYM };
	uint64_t offs[2] = { 0, 0 };
	int errs[2], err;

	err = elfsym_find_all(path, names, 2, offs, errs);
	if (err == -ENOMEM)
		return err;
	if (err || errs[0] || errs[1]) {
		f->verdict = GOTLS_NO_TLS;
		return 0;
	}
	f->read.entry = offs[0];
	f->write.entry = offs[1];
	err = find_returns(fd, &f->read);
	if (!err)
		err = find_returns(fd, &f->write);
	if (err == -ENOMEM)
		return err;
	f->verdict = err ? GOTLS_UNDECODABLE : GOTLS_PROBEABLE;
	return 0;
}

int gotls_inspect(const char *path, struct gotls_facts *f)
{
	Elf *elf;
	int fd, err = 0;

	memset(f, 0, sizeof(*f));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF)
		f->verdict = GOTLS_NOT_ELF;
	else
		f->verdict = check_go(elf, f);
	if (f->verdict == GOTLS_PROBEABLE)
		err = find_functions(path, fd, f);
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

int gotls_describe(const char *path, const struct gotls_facts *f, char *buf,
		   size_t size)
{
	switch (f->verdict) {
	case GOTLS_PROBEABLE:
		return snprintf(buf, size, "Go executable (%s), crypto/tls probed: %s",
				f->version, path);
	case GOTLS_NOT_ELF:
		return snprintf(buf, size, "not an ELF file: %s", path);
	case GOTLS_OTHER_ARCH:
		return snprintf(buf, size, "not an x86-64 executable: %s", path);
	case GOTLS_NOT_GO:
		return snprintf(buf, size, "not a Go executable: %s", path);
	case GOTLS_NO_VERSION:
		return snprintf(buf, size, "Go executable of unknown version \"%s\": %s",
				f->version, path);
	case GOTLS_NO_SYMBOLS:
		return snprintf(buf, size, "Go executable without symbols: %s", path);
	case GOTLS_OLD_ABI:
		return snprintf(buf, size,
				"Go executable built by %s, before Go 1.17's register ABI "
				"(unsupported): %s", f->version, path);
	case GOTLS_NO_TLS:
		return snprintf(buf, size, "Go executable without crypto/tls: %s", path);
	case GOTLS_UNDECODABLE:
		return snprintf(buf, size,
				"Go executable whose crypto/tls.(*Conn).Read or Write "
				"holds code this decoder does not know: %s", path);
	}
	return snprintf(buf, size, "unknown verdict %d: %s", (int)f->verdict, path);
}
