// SPDX-License-Identifier: MIT
/*
 * An x86-64 length decoder driven by two opcode tables (the one-byte map
 * and the 0F map) built from the opcode maps of the Intel SDM, volume 2,
 * appendix A.  Only the shape of an instruction matters here: whether a
 * ModRM byte follows the opcode and how many immediate bytes come last.
 */
#include "capture/x86insn.h"

#include <errno.h>
#include <stdbool.h>

/* What follows an opcode.  The immediate kinds are exclusive. */
enum {
	M = 1 << 0,       /* a ModRM byte (then SIB and displacement as it says) */
	I8 = 1 << 1,      /* ib */
	I16 = 1 << 2,     /* iw */
	IZ = 1 << 3,      /* iw with a 66 prefix (unless REX.W), else id */
	IV = 1 << 4,      /* B8+r: iw, id, or io with REX.W */
	MOFFS = 1 << 5,   /* A0-A3: an address, 8 bytes (4 with 67) */
	REL32 = 1 << 6,   /* near branch rel32; with 66 the CPUs disagree */
	REG = 1 << 7,     /* 0F 20-23: ModRM mod is ignored, always registers */
	SPECIAL = 1 << 8, /* decided by code: escapes, VEX, EVEX, groups */
	BAD = 1 << 9,     /* invalid in 64-bit mode, or not known here */
};

/* The one-byte map in 64-bit mode.  Prefixes never reach the table. */
static const uint16_t one_byte[256] = {
	[0x00 ... 0x03] = M, [0x04] = I8, [0x05] = IZ, [0x06 ... 0x07] = BAD,
	[0x08 ... 0x0b] = M, [0x0c] = I8, [0x0d] = IZ, [0x0e] = BAD, [0x0f] = SPECIAL,
	[0x10 ... 0x13] = M, [0x14] = I8, [0x15] = IZ, [0x16 ... 0x17] = BAD,
	[0x18 ... 0x1b] = M, [0x1c] = I8, [0x1d] = IZ, [0x1e ... 0x1f] = BAD,
	[0x20 ... 0x23] = M, [0x24] = I8, [0x25] = IZ, [0x27] = BAD,
	[0x28 ... 0x2b] = M, [0x2c] = I8, [0x2d] = IZ, [0x2f] = BAD,
	[0x30 ... 0x33] = M, [0x34] = I8, [0x35] = IZ, [0x37] = BAD,
	[0x38 ... 0x3b] = M, [0x3c] = I8, [0x3d] = IZ, [0x3f] = BAD,
	[0x60 ... 0x61] = BAD, [0x62] = SPECIAL, [0x63] = M,
	[0x68] = IZ, [0x69] = M | IZ, [0x6a] = I8, [0x6b] = M | I8,
	[0x70 ... 0x7f] = I8,
	[0x80] = M | I8, [0x81] = M | IZ, [0x82] = BAD, [0x83] = M | I8,
	[0x84 ... 0x8e] = M, [0x8f] = SPECIAL,
	[0x9a] = BAD,
	[0xa0 ... 0xa3] = MOFFS, [0xa8] = I8, [0xa9] = IZ,
	[0xb0 ... 0xb7] = I8, [0xb8 ... 0xbf] = IV,
	[0xc0 ... 0xc1] = M | I8, [0xc2] = I16, [0xc4 ... 0xc5] = SPECIAL,
	[0xc6] = M | I8, [0xc7] = M | IZ, [0xc8] = I16 | I8, [0xca] = I16,
	[0xcd] = I8, [0xce] = BAD,
	[0xd0 ... 0xd3] = M, [0xd4 ... 0xd6] = BAD, [0xd8 ... 0xdf] = M,
	[0xe0 ... 0xe7] = I8, [0xe8 ... 0xe9] = REL32, [0xea] = BAD, [0xeb] = I8,
	[0xf6 ... 0xf7] = SPECIAL, [0xfe ... 0xff] = M,
};

/* The two-byte map (after 0F); 38 and 3A escape to three-byte maps. */
static const uint16_t two_byte[256] = {
	[0x00 ... 0x03] = M, [0x04] = BAD, [0x0a] = BAD, [0x0c] = BAD,
	[0x0d] = M, [0x0f] = BAD, /* 3DNow! */
	[0x10 ... 0x1f] = M, [0x20 ... 0x23] = M | REG, [0x24 ... 0x27] = BAD,
	[0x28 ... 0x2f] = M, [0x36] = BAD, [0x38] = SPECIAL, [0x39] = BAD,
	[0x3a] = SPECIAL, [0x3b ... 0x3f] = BAD,
	[0x40 ... 0x6f] = M, [0x70 ... 0x73] = M | I8, [0x74 ... 0x76] = M,
	[0x78] = SPECIAL, [0x79] = M, [0x7a ... 0x7b] = BAD, [0x7c ... 0x7f] = M,
	[0x80 ... 0x8f] = REL32, [0x90 ... 0x9f] = M,
	[0xa3] = M, [0xa4] = M | I8, [0xa5] = M, [0xa6 ... 0xa7] = BAD,
	[0xab] = M, [0xac] = M | I8, [0xad ... 0xaf] = M,
	[0xb0 ... 0xb7] = M, [0xb8] = SPECIAL, [0xb9] = M, [0xba] = M | I8,
	[0xbb ... 0xbf] = M,
	[0xc0 ... 0xc1] = M, [0xc2] = M | I8, [0xc3] = M, [0xc4 ... 0xc6] = M | I8,
	[0xc7] = M, [0xd0 ... 0xff] = M,
};

/* The bytes of one instruction as they are read. */
struct cursor {
	const uint8_t *p;
	size_t avail, pos;
	bool opsize, adsize, rexw, rep, repne, lock;
	uint8_t rex;
};

static int peek(const struct cursor *c, size_t ahead)
{
	if (c->pos + ahead >= c->avail)
		return -ENODATA;
	if (c->pos + ahead >= X86_INSN_MAX_LEN)
		return -EILSEQ;
	return c->p[c->pos + ahead];
}

static int next(struct cursor *c)
{
	int b = peek(c, 0);

	if (b >= 0)
		c->pos++;
	return b;
}

/* Legacy prefixes in any order, then REX.  A REX that a legacy prefix
 * follows is ignored by the CPU (SDM vol. 2, 2.2.1), so only the last
 * REX before the opcode counts.  Returns the opcode byte. */
static int read_prefixes(struct cursor *c)
{
	for (;;) {
		int b = next(c);

		if (b < 0)
			return b;
		if ((b & 0xf0) == 0x40) {
			c->rex = (uint8_t)b;
			c->rexw = b & 0x08;
			continue;
		}
		switch (b) {
		case 0x66: c->opsize = true; break;
		case 0x67: c->adsize = true; break;
		case 0xf0: c->lock = true; break;
		case 0xf2: c->repne = true; break;
		case 0xf3: c->rep = true; break;
		case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65: break;
		default:
			return b;
		}
		c->rex = 0;
		c->rexw = false;
	}
}

/* ModRM, then SIB and displacement (SDM vol. 2, tables 2-2 and 2-3; with
 * a 67 prefix 64-bit mode still uses the 32-bit forms, same lengths). */
static int read_modrm(struct cursor *c, bool registers_only)
{
	int modrm = next(c), mod, rm, sib;

	if (modrm < 0)
		return modrm;
	if (registers_only)
		return modrm;
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod == 3)
		return modrm;
	if (rm == 4) {
		sib = next(c);
		if (sib < 0)
			return sib;
		if (mod == 0 && (sib & 7) == 5)
			c->pos += 4; /* no base: disp32 */
	} else if (mod == 0 && rm == 5) {
		c->pos += 4; /* RIP-relative disp32 */
	}
	if (mod == 1)
		c->pos += 1;
	else if (mod == 2)
		c->pos += 4;
	return modrm;
}

static size_t imm_size(const struct cursor *c, unsigned flags)
{
	size_t z = c->opsize && !c->rexw ? 2 : 4;

	if (flags & IZ)
		return z;
	if (flags & IV)
		return c->rexw ? 8 : z;
	if (flags & MOFFS)
		return c->adsize ? 4 : 8;
	if (flags & REL32)
		return 4;
	return (flags & I16 ? 2 : 0) + (flags & I8 ? 1 : 0);
}

/* ModRM and immediate of an opcode whose shape is `flags`. */
static int finish(struct cursor *c, unsigned flags)
{
	if (flags & BAD)
		return -EILSEQ;
	/* Intel keeps rel32 under 66, AMD takes rel16: not ours to guess. */
	if ((flags & REL32) && c->opsize && !c->rexw)
		return -EILSEQ;
	if (flags & M) {
		int modrm = read_modrm(c, flags & REG);

		if (modrm < 0)
			return modrm;
	}
	c->pos += imm_size(c, flags);
	if (c->pos > X86_INSN_MAX_LEN)
		return -EILSEQ;
	return c->pos > c->avail ? -ENODATA : (int)c->pos;
}

/* VEX and EVEX opcodes: ModRM always (but VZEROUPPER/VZEROALL, 0F 77),
 * an imm8 for the whole 0F3A map and a few of the 0F map. */
static int finish_vex(struct cursor *c, int map, int opcode)
{
	unsigned flags = M;

	if (map == 1 && opcode == 0x77)
		flags = 0;
	else if (map == 3 || (map == 1 && ((opcode >= 0x70 && opcode <= 0x73) ||
					    opcode == 0xc2 ||
					    (opcode >= 0xc4 && opcode <= 0xc6))))
		flags = M | I8;
	else if (map != 1 && map != 2)
		flags = BAD;
	return finish(c, flags);
}

/* C4 (three-byte VEX), C5 (two-byte VEX) or 62 (EVEX), each of which is
 * only valid without 66, F2, F3, LOCK or REX in front (#UD otherwise). */
static int decode_vex(struct cursor *c, int escape)
{
	int p0, opcode, map;
	size_t payload = escape == 0xc5 ? 1 : escape == 0xc4 ? 2 : 3;

	if (c->opsize || c->rep || c->repne || c->lock || c->rex)
		return -EILSEQ;
	p0 = next(c);
	if (p0 < 0)
		return p0;
	if (escape == 0xc5)
		map = 1;
	else if (escape == 0xc4)
		map = p0 & 0x1f;
	else if ((p0 & 0x08) || (peek(c, 0) >= 0 && !(peek(c, 0) & 0x04)))
		return -EILSEQ; /* EVEX's fixed bits (P0[3] = 0, P1[2] = 1) */
	else
		map = p0 & 0x07;
	c->pos += payload - 1;
	opcode = next(c);
	if (opcode < 0)
		return opcode;
	return finish_vex(c, map, opcode);
}

/* The 0F map, with its three-byte escapes and mandatory-prefix cases. */
static int decode_0f(struct cursor *c)
{
	int opcode = next(c);

	if (opcode < 0)
		return opcode;
	if (opcode == 0x38 || opcode == 0x3a) {
		/* Every opcode of both maps has ModRM; all of 0F3A an imm8. */
		int third = next(c);

		if (third < 0)
			return third;
		return finish(c, opcode == 0x3a ? M | I8 : M);
	}
	if (opcode == 0xb8) /* POPCNT needs F3; bare 0F B8 is IA-64's JMPE */
		return finish(c, c->rep ? M : BAD);
	if (opcode == 0x78) /* 66/F2: SSE4a EXTRQ/INSERTQ with ib, ib */
		return finish(c, c->opsize || c->repne ? M | I16 : M);
	return finish(c, two_byte[opcode]);
}

/* F6/F7 group 3: only TEST (/0, and its alias /1) takes an immediate. */
static int decode_group3(struct cursor *c, int opcode)
{
	int modrm = peek(c, 0);
	unsigned imm = opcode == 0xf6 ? I8 : IZ;

	if (modrm < 0)
		return modrm;
	return finish(c, ((modrm >> 3) & 7) < 2 ? M | imm : M);
}

static int decode(struct cursor *c, int *opcode_out)
{
	int opcode = read_prefixes(c), reg;

	if (opcode < 0)
		return opcode;
	*opcode_out = opcode;
	if (!(one_byte[opcode] & SPECIAL))
		return finish(c, one_byte[opcode]);
	switch (opcode) {
	case 0x0f:
		*opcode_out = -1;
		return decode_0f(c);
	case 0x62: case 0xc4: case 0xc5:
		*opcode_out = -1;
		return decode_vex(c, opcode);
	case 0x8f:
		/* POP Ev is /0; any other reg field is AMD's XOP escape. */
		reg = peek(c, 0);
		if (reg < 0)
			return reg;
		return finish(c, ((reg >> 3) & 7) ? BAD : M);
	default:
		return decode_group3(c, opcode);
	}
}

int x86_insn_len(const uint8_t *p, size_t avail)
{
	struct cursor c = { .p = p, .avail = avail };
	int opcode;

	return decode(&c, &opcode);
}

int x86_insn_is_ret(const uint8_t *p, size_t len)
{
	struct cursor c = { .p = p, .avail = len };
	int opcode;

	return decode(&c, &opcode) > 0 && (opcode == 0xc3 || opcode == 0xc2);
}

int x86_find_returns(const uint8_t *code, size_t len, uint64_t *offsets,
		     size_t max, size_t *n, size_t *stop)
{
	size_t off = 0;
	int err = 0;

	*n = 0;
	while (off < len) {
		struct cursor c = { .p = code + off, .avail = len - off };
		int opcode, ilen = decode(&c, &opcode);

		if (ilen < 0) {
			err = ilen;
			break;
		}
		if (opcode == 0xc3 || opcode == 0xc2) {
			if (*n == max) {
				err = -ENOSPC;
				break;
			}
			offsets[(*n)++] = off;
		}
		off += (size_t)ilen;
	}
	if (stop)
		*stop = off;
	return err;
}
