/* SPDX-License-Identifier: MIT */
/*
 * x86-64 instruction lengths, enough to walk compiler output one
 * instruction at a time and find a function's return instructions.
 * Probing a Go function's return needs a plain uprobe on each of them (a
 * uretprobe rewrites the return address on a goroutine stack, which Go
 * moves), and those can only be found by decoding from the entry.
 *
 * 64-bit mode only.  Known: legacy prefixes, REX, the one-byte, 0F, 0F38
 * and 0F3A maps, VEX (C4/C5) and EVEX (62) with maps 0F, 0F38 and 0F3A.
 * Anything else (XOP, 3DNow!, EVEX maps 4-7, encodings invalid in 64-bit
 * mode, a 66-prefixed near branch whose length differs between Intel and
 * AMD) is reported as unknown rather than guessed at.
 */
#ifndef SPANPROBE_X86INSN_H
#define SPANPROBE_X86INSN_H

#include <stddef.h>
#include <stdint.h>

/* The architectural limit: a longer byte sequence is not an instruction. */
#define X86_INSN_MAX_LEN 15

/*
 * Length of the instruction at `p`, of which `avail` bytes may be read.
 * Returns 1..15, -EILSEQ for an encoding this decoder does not know (or
 * one invalid in 64-bit mode, or longer than 15 bytes), -ENODATA when the
 * instruction runs past `avail`.
 */
int x86_insn_len(const uint8_t *p, size_t avail);

/*
 * Nonzero when the instruction at `p` (of length `len`, as x86_insn_len
 * gave it) is a near return: C3 or C2 iw after any prefixes (F3 C3,
 * "rep ret", and F2 C3, "bnd ret", included).
 */
int x86_insn_is_ret(const uint8_t *p, size_t len);

/*
 * Walks `code[0..len)` from its first byte, instruction by instruction,
 * and writes the offset of every near return (x86_insn_is_ret) to
 * `offsets`, at most `max` of them; *n is how many were written.
 * Returns 0 when the walk ends exactly at `len`; -EILSEQ when it meets an
 * encoding it does not know, -ENODATA when the last instruction runs past
 * `len` (then *n counts the returns before it, which are not a complete
 * list), -ENOSPC when there are more than `max` returns.  If `stop` is not
 * NULL it gets the offset where the walk stopped (`len` on success).
 */
int x86_find_returns(const uint8_t *code, size_t len, uint64_t *offsets,
		     size_t max, size_t *n, size_t *stop);

#endif /* SPANPROBE_X86INSN_H */
