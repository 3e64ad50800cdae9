/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 length decoder on hand-assembled instructions whose lengths
 * are known (each checked against the SDM's encoding tables and objdump),
 * and the return finder on small bodies where a C3 byte hides inside
 * another instruction.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capture/x86insn.h"

struct insn_case {
	const char *what;
	const char *hex; /* the bytes, space-separated */
	int len;         /* what x86_insn_len says given exactly those bytes */
};

static const struct insn_case cases[] = {
	{ "nop", "90", 1 },
	{ "ret", "c3", 1 },
	{ "ret imm16", "c2 08 00", 3 },
	{ "rep ret", "f3 c3", 2 },
	{ "push rbp", "55", 1 },
	{ "mov rbp,rsp", "48 89 e5", 3 },
	{ "add eax,imm32", "05 78 56 34 12", 5 },
	{ "66: add ax,imm16", "66 05 34 12", 4 },
	{ "REX.W add rax,imm32", "48 05 78 56 34 12", 6 },
	{ "REX.W wins over 66", "66 48 05 78 56 34 12", 7 },
	{ "REX then 66: REX dropped (objdump shows it alone)", "48 66 b8 34 12", 5 },
	{ "mov eax,imm32", "b8 01 00 00 00", 5 },
	{ "66: mov ax,imm16", "66 b8 01 00", 4 },
	{ "REX.B mov r8d,imm32", "41 b8 01 00 00 00", 6 },
	{ "REX.W mov rax,imm64", "48 b8 01 02 03 04 05 06 07 08", 10 },
	{ "REX.WB mov r15,imm64", "49 bf 01 02 03 04 05 06 07 08", 10 },
	{ "mov eax,[disp32] (SIB, no base)", "8b 04 25 10 20 30 40", 7 },
	{ "mov eax,[rax*1+disp32]", "8b 04 05 10 20 30 40", 7 },
	{ "mov rax,[rip+disp32]", "48 8b 05 10 20 30 40", 7 },
	{ "lea rdi,[rip+disp32]", "48 8d 3d 00 00 00 00", 7 },
	{ "67: mov eax,[eip+disp32]", "67 8b 05 10 20 30 40", 7 },
	{ "mov eax,[rsp]", "8b 04 24", 3 },
	{ "mov eax,[rsp+8]", "8b 44 24 08", 4 },
	{ "mov eax,[rsp+disp32]", "8b 84 24 00 01 00 00", 7 },
	{ "mov eax,[rbp+0]", "8b 45 00", 3 },
	{ "mov eax,[r13+0]", "41 8b 45 00", 4 },
	{ "mov dword [rsp],imm32", "c7 04 24 01 00 00 00", 7 },
	{ "66: mov word [rsp],imm16", "66 c7 04 24 01 00", 6 },
	{ "mov qword [rip+d],imm32", "48 c7 05 00 00 00 00 01 00 00 00", 11 },
	{ "imul eax,eax,imm32", "69 c0 00 01 00 00", 6 },
	{ "imul eax,eax,imm8", "6b c0 07", 3 },
	{ "cmp byte [rax],imm8", "80 38 2f", 3 },
	{ "bt eax,3", "0f ba e0 03", 4 },
	{ "shld eax,ecx,4", "0f a4 c8 04", 4 },
	{ "nopl (rax)", "0f 1f 00", 3 },
	{ "nopl 0(rax)", "0f 1f 40 00", 4 },
	{ "nopl 0(rax,rax)", "0f 1f 44 00 00", 5 },
	{ "nopw 0(rax,rax)", "66 0f 1f 44 00 00", 6 },
	{ "nopl d32(rax)", "0f 1f 80 00 00 00 00", 7 },
	{ "nopl d32(rax,rax)", "0f 1f 84 00 00 00 00 00", 8 },
	{ "nopw d32(rax,rax)", "66 0f 1f 84 00 00 00 00 00", 9 },
	{ "cs nopw d32(rax,rax)", "66 2e 0f 1f 84 00 00 00 00 00", 10 },
	{ "data16 x5 cs nopw", "66 66 66 66 66 2e 0f 1f 84 00 00 00 00 00", 14 },
	{ "endbr64", "f3 0f 1e fa", 4 },
	{ "popcnt eax,ecx", "f3 0f b8 c1", 4 },
	{ "popcnt rax,rcx", "f3 48 0f b8 c1", 5 },
	{ "tzcnt rax,rdi", "f3 48 0f bc c7", 5 },
	{ "lock xadd [rcx],rax", "f0 48 0f c1 01", 5 },
	{ "fs mov rax,[0xfffffffffffffff8]", "64 48 8b 04 25 f8 ff ff ff", 9 },
	{ "call rel32", "e8 00 00 00 00", 5 },
	{ "jmp rel32", "e9 10 00 00 00", 5 },
	{ "jmp rel8", "eb 05", 2 },
	{ "je rel8", "74 fe", 2 },
	{ "je rel32", "0f 84 00 01 00 00", 6 },
	{ "call [rax]", "ff 10", 2 },
	{ "jmp [rip+d32]", "ff 25 00 00 00 00", 6 },
	{ "test cl,imm8", "f6 c1 01", 3 },
	{ "neg cl", "f6 d9", 2 },
	{ "test ecx,imm32", "f7 c1 00 00 01 00", 6 },
	{ "66: test cx,imm16", "66 f7 c1 00 01", 5 },
	{ "neg eax", "f7 d8", 2 },
	{ "mov al,[moffs64]", "a0 01 02 03 04 05 06 07 08", 9 },
	{ "67: mov al,[moffs32]", "67 a0 01 02 03 04", 6 },
	{ "enter 16,0", "c8 10 00 00", 4 },
	{ "int3", "cc", 1 },
	{ "int 0x80", "cd 80", 2 },
	{ "syscall", "0f 05", 2 },
	{ "ud2", "0f 0b", 2 },
	{ "cpuid", "0f a2", 2 },
	{ "mov rax,cr0 (mod ignored)", "0f 20 00", 3 },
	{ "pop rax (8F /0)", "8f c0", 2 },
	{ "fldz", "d9 ee", 2 },
	{ "fld qword [rsp+8]", "dd 44 24 08", 4 },
	{ "movdqu xmm0,[rsi]", "f3 0f 6f 06", 4 },
	{ "pshufd xmm0,xmm1,0x1b", "66 0f 70 c1 1b", 5 },
	{ "movbe eax,[rsi]", "0f 38 f0 06", 4 },
	{ "pshufb xmm0,xmm1", "66 0f 38 00 c1", 5 },
	{ "palignr xmm0,xmm1,8", "66 0f 3a 0f c1 08", 6 },
	{ "pcmpistri xmm0,[rdi+16],0x1a", "66 0f 3a 63 47 10 1a", 7 },
	{ "extrq xmm0,4,8 (SSE4a)", "66 0f 78 c0 04 08", 6 },
	{ "vzeroupper", "c5 f8 77", 3 },
	{ "vmovdqa ymm0,[rcx]", "c5 fd 6f 01", 4 },
	{ "vmovdqu ymm1,[rsi+rdx-32]", "c5 fe 6f 4c 16 e0", 6 },
	{ "vpshufd ymm0,ymm0,0x1b", "c5 fd 70 c0 1b", 5 },
	{ "vpbroadcastd ymm0,xmm0", "c4 e2 7d 58 c0", 5 },
	{ "vextracti128 xmm1,ymm0,1", "c4 e3 7d 39 c1 01", 6 },
	{ "vpcmpeqb ymm1,ymm0,[rdi+d32]", "c5 fd 74 8f 00 01 00 00", 8 },
	{ "vmovups zmm0,[rcx]", "62 f1 7c 48 10 01", 6 },
	{ "vmovdqu64 zmm0,[rcx+0x40] (disp8*N)", "62 f1 fe 48 6f 41 01", 7 },
	{ "vpcmpb k1,zmm0,[rdi],0 (EVEX 0F3A)", "62 f3 7d 48 3f 0f 00", 7 },
	{ "vpternlogd zmm0,zmm1,zmm2,0x96", "62 f3 75 48 25 c2 96", 7 },
	{ "vpminub ymm17,ymm16,[rsi+d32]", "62 a1 7d 20 da 8e 00 01 00 00", 10 },
	/* Not known, or invalid in 64-bit mode. */
	{ "push es (invalid)", "06", -EILSEQ },
	{ "jmpe (0F B8 without F3)", "0f b8 c1", -EILSEQ },
	{ "66 call rel16/rel32: vendors differ", "66 e8 00 00", -EILSEQ },
	{ "XOP escape", "8f e8 78 c0 c1 01", -EILSEQ },
	{ "3DNow!", "0f 0f c1 b4", -EILSEQ },
	{ "REX before VEX", "48 c5 f8 77", -EILSEQ },
	{ "66 before VEX", "66 c5 f8 77", -EILSEQ },
	{ "VEX map 0", "c4 e0 7d 58 c0", -EILSEQ },
	{ "EVEX map 4", "62 f4 7c 48 10 01", -EILSEQ },
	{ "EVEX with P0[3] set", "62 f9 7c 48 10 01", -EILSEQ },
	{ "16 bytes", "66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90", -EILSEQ },
	{ "15 bytes, 14 prefixes (objdump stops earlier)", "66 66 66 66 66 66 66 66 66 66 66 66 66 66 90", 15 },
	/* Cut short. */
	{ "imm64 cut", "48 b8 01 02", -ENODATA },
	{ "escape alone", "0f", -ENODATA },
	{ "ModRM missing", "8b", -ENODATA },
	{ "SIB missing", "8b 04", -ENODATA },
	{ "disp32 cut", "8b 05 00 00", -ENODATA },
	{ "prefixes only", "66 f3", -ENODATA },
	{ "VEX cut", "c4 e2", -ENODATA },
};

/* Parse "48 b8 01" into bytes; returns the count. */
static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;
	char *end;

	while (*hex && n < max) {
		out[n++] = (uint8_t)strtoul(hex, &end, 16);
		hex = end;
	}
	return n;
}

static void test_lengths(void **state)
{
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[32];
		size_t n = unhex(cases[i].hex, buf, sizeof(buf));
		int got = x86_insn_len(buf, n);

		if (got != cases[i].len) {
			print_error("%s (%s): got %d, want %d\n", cases[i].what,
				    cases[i].hex, got, cases[i].len);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* Bytes after an instruction do not change its length. */
static void test_trailing_bytes_ignored(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[32];
		size_t n = unhex(cases[i].hex, buf, sizeof(buf));

		if (cases[i].len <= 0)
			continue;
		memset(buf + n, 0xc3, sizeof(buf) - n);
		assert_int_equal(x86_insn_len(buf, sizeof(buf)), cases[i].len);
	}
}

static void test_is_ret(void **state)
{
	static const uint8_t ret[] = { 0xc3 }, ret_imm[] = { 0xc2, 0x08, 0x00 },
			     rep_ret[] = { 0xf3, 0xc3 }, bnd_ret[] = { 0xf2, 0xc3 },
			     far_ret[] = { 0xcb }, mov_c3[] = { 0xb0, 0xc3 };

	(void)state;
	assert_true(x86_insn_is_ret(ret, 1));
	assert_true(x86_insn_is_ret(ret_imm, 3));
	assert_true(x86_insn_is_ret(rep_ret, 2));
	assert_true(x86_insn_is_ret(bnd_ret, 2));
	assert_false(x86_insn_is_ret(far_ret, 1));
	assert_false(x86_insn_is_ret(mov_c3, 2));
}

/* A Go-like body: returns at 13, 21 and 24; C3 bytes inside the mov
 * immediate (offset 5) and the disp32 (offset 17) are not returns. */
static const char body[] =
	"55 48 89 e5 b8 c3 00 00 00 74 03 5d 90 c3 "
	"48 8b 05 c3 00 00 00 f3 c3 cc c2 10 00";

static void test_find_returns(void **state)
{
	uint8_t code[64];
	uint64_t offs[8];
	size_t len = unhex(body, code, sizeof(code)), n = 99, stop = 0;

	(void)state;
	assert_int_equal(len, 27);
	assert_int_equal(x86_find_returns(code, len, offs, 8, &n, &stop), 0);
	assert_int_equal(n, 3);
	assert_int_equal(offs[0], 13);
	assert_int_equal(offs[1], 21);
	assert_int_equal(offs[2], 24);
	assert_int_equal(stop, 27);
}

static void test_find_returns_errors(void **state)
{
	uint8_t code[64];
	uint64_t offs[8];
	size_t len = unhex(body, code, sizeof(code)), n, stop;

	(void)state;
	/* More returns than room: the first ones, then -ENOSPC at the third. */
	assert_int_equal(x86_find_returns(code, len, offs, 2, &n, &stop), -ENOSPC);
	assert_int_equal(n, 2);
	assert_int_equal(stop, 24);
	/* Cut inside the last instruction. */
	assert_int_equal(x86_find_returns(code, len - 1, offs, 8, &n, &stop), -ENODATA);
	assert_int_equal(n, 2);
	assert_int_equal(stop, 24);
	/* An unknown byte (06, push es) at offset 12 stops the walk there. */
	code[12] = 0x06;
	assert_int_equal(x86_find_returns(code, len, offs, 8, &n, NULL), -EILSEQ);
	assert_int_equal(x86_find_returns(code, len, offs, 8, &n, &stop), -EILSEQ);
	assert_int_equal(n, 0);
	assert_int_equal(stop, 12);
	/* Nothing to walk: no returns, no error. */
	assert_int_equal(x86_find_returns(code, 0, offs, 8, &n, &stop), 0);
	assert_int_equal(n, 0);
	assert_int_equal(stop, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_trailing_bytes_ignored),
		cmocka_unit_test(test_is_ret),
		cmocka_unit_test(test_find_returns),
		cmocka_unit_test(test_find_returns_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
