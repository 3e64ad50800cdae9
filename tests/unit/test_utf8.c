/* SPDX-License-Identifier: MIT */
/* UTF-8 mending: valid text kept byte for byte, each bad byte '?', a
 * character cut by the end cut off; and the span and resource copies
 * that use it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "span/resource.h"
#include "span/span.h"
#include "util/utf8.h"

/* Mend `in` (n bytes) and compare with `want`. */
static void mends_to(const char *in, size_t n, const char *want)
{
	char buf[256];
	size_t len;

	assert_true(n < sizeof(buf));
	memcpy(buf, in, n);
	len = utf8_mend(buf, n);
	buf[len] = '\0';
	if (len != strlen(want) || memcmp(buf, want, len) != 0) {
		print_error("mended to \"%s\" (%zu), want \"%s\"\n", buf, len, want);
		fail();
	}
}

#define MENDS(in, want) mends_to(in, sizeof(in) - 1, want)

static void test_valid_kept(void **state)
{
	(void)state;
	MENDS("", "");
	MENDS("plain ASCII, longer than a word", "plain ASCII, longer than a word");
	MENDS("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* The edges of each range. */
	MENDS("\xc2\x80\xdf\xbf", "\xc2\x80\xdf\xbf");
	MENDS("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf",
	      "\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf");
	MENDS("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
	/* A NUL is valid UTF-8 (the encoders cut at it). */
	{
		char nul[] = { 'a', 0, 'b' };

		assert_int_equal(utf8_mend(nul, 3), 3);
		assert_memory_equal(nul, "a\0b", 3);
	}
}

static void test_bad_bytes_replaced(void **state)
{
	(void)state;
	MENDS("\x80", "?");                   /* a continuation alone */
	MENDS("Latin-1 caf\xe9!", "Latin-1 caf?!");
	MENDS("\xc0\x80\xc1\xbf", "????");      /* overlong two-byte forms */
	MENDS("\xe0\x80\x80", "???");           /* overlong three-byte form */
	MENDS("\xed\xa0\x80", "???");           /* a surrogate */
	MENDS("\xf4\x90\x80\x80", "????");      /* above U+10FFFF */
	MENDS("\xf5\xff\xfe", "???");
	MENDS("a\xe2\x28\xa1z", "a?(?z");       /* a lead byte, then ASCII */
	/* Past the first eight bytes, which are all ASCII. */
	MENDS("12345678\xff" "9", "12345678?9");
}

static void test_cut_character_dropped(void **state)
{
	(void)state;
	MENDS("ab\xc3", "ab");
	MENDS("ab\xe2\x82", "ab");
	MENDS("ab\xf0\x9f\x98", "ab");
	/* Cut, but already bad before the end: replaced, not dropped. */
	MENDS("ab\xe2\x28", "ab?(");
}

/* The copy that tests as it goes: every byte copied, none past `n`
 * written, and the answer true exactly when no byte is above 0x7f. */
static void test_copy_ascii(void **state)
{
	char src[48], dst[48];

	(void)state;
	for (size_t n = 0; n <= 40; n++) {
		for (size_t at = 0; at <= n; at++) {
			for (size_t i = 0; i < sizeof(src); i++)
				src[i] = (char)('a' + i % 26);
			if (at < n)
				src[at] = (char)0xc3;
			memset(dst, 0x5a, sizeof(dst));
			assert_int_equal(utf8_copy_ascii(dst, src, n), at == n);
			assert_memory_equal(dst, src, n);
			for (size_t i = n; i < sizeof(dst); i++)
				assert_int_equal((unsigned char)dst[i], 0x5a);
		}
	}
}

static void test_span_copies_mended(void **state)
{
	struct sp_span *span = calloc(1, sizeof(*span));
	char big[SP_SPAN_ARENA + 8];
	size_t len;

	(void)state;
	assert_non_null(span);
	span_reset(span);
	assert_int_equal(span_set_name(span, "GET /caf\xe9s", 10), 0);
	assert_int_equal(span_add_str(span, "user_agent.original", "x\xff" "y", 3), 0);
	assert_memory_equal(span_name(span, &len), "GET /caf?s", 10);
	assert_int_equal(len, 10);
	assert_int_equal(span->attrs[0].v.str.len, 3);
	assert_memory_equal(span_str(span, span->attrs[0].v.str.off), "x?y", 3);
	/* A value cut by the arena's room inside a character loses it. */
	memset(big, 'a', sizeof(big));
	len = SP_SPAN_ARENA - span->arena_used - 1;
	big[len - 1] = '\xe2';
	big[len] = '\x82';
	big[len + 1] = '\xac';
	assert_int_equal(span_add_str(span, "url.path", big, len + 2), -ENOSPC);
	assert_int_equal(span->attrs[1].v.str.len, len - 1);
	free(span);
}

static void test_resource_mended(void **state)
{
	struct sp_process_info info = { .pid = 7, .exe_path = "/opt/app/caf\xe9s" };
	struct sp_resource_defaults defs = { 0 };
	struct sp_resource *res = resource_build(&info, &defs);
	const struct sp_resattr *a;

	(void)state;
	assert_non_null(res);
	a = resource_find(res, "process.executable.path");
	assert_non_null(a);
	assert_string_equal(a->str, "/opt/app/caf?s");
	a = resource_find(res, "service.name");
	assert_string_equal(a->str, "unknown_service:caf?s");
	resource_put(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_kept),
		cmocka_unit_test(test_bad_bytes_replaced),
		cmocka_unit_test(test_cut_character_dropped),
		cmocka_unit_test(test_copy_ascii),
		cmocka_unit_test(test_span_copies_mended),
		cmocka_unit_test(test_resource_mended),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
