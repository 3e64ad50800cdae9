/* SPDX-License-Identifier: MIT */
/* The bounded buffer: its limit, formatting, and JSON string escaping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/strbuf.h"

static void assert_buf(const struct sp_strbuf *b, const char *want, size_t len)
{
	assert_int_equal(b->len, len);
	assert_memory_equal(b->data, want, len);
}

static void test_limit_latches(void **state)
{
	struct sp_strbuf b;

	(void)state;
	strbuf_init(&b, 10);
	assert_int_equal(strbuf_adds(&b, "0123456"), 0);
	assert_int_equal(strbuf_add(&b, "789", 3), 0); /* exactly the limit */
	assert_buf(&b, "0123456789", 10);
	assert_int_equal(strbuf_addc(&b, 'x'), -E2BIG);
	assert_int_equal(b.err, -E2BIG);
	/* Latched: later appends fail too, even empty ones, and add nothing. */
	assert_int_equal(strbuf_add(&b, "", 0), -E2BIG);
	assert_int_equal(strbuf_add_u64(&b, 1), -E2BIG);
	assert_int_equal(strbuf_addf(&b, "%d", 1), -E2BIG);
	assert_int_equal(strbuf_add_json_str(&b, "a", 1), -E2BIG);
	assert_null(strbuf_reserve(&b, 0));
	assert_buf(&b, "0123456789", 10);
	strbuf_reset(&b);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(strbuf_adds(&b, "abc"), 0);
	assert_buf(&b, "abc", 3);
	strbuf_free(&b);
	assert_null(b.data);
}

static void test_limit_one_big_append(void **state)
{
	struct sp_strbuf b;
	char big[100];

	(void)state;
	memset(big, 'z', sizeof(big));
	strbuf_init(&b, 64);
	assert_int_equal(strbuf_adds(&b, "ab"), 0);
	/* Too long as a whole: nothing of it is appended. */
	assert_int_equal(strbuf_add(&b, big, 63), -E2BIG);
	assert_buf(&b, "ab", 2);
	strbuf_free(&b);
	/* A length that would overflow size_t arithmetic is refused too. */
	strbuf_init(&b, 64);
	assert_int_equal(strbuf_adds(&b, "ab"), 0);
	assert_null(strbuf_reserve(&b, SIZE_MAX));
	assert_int_equal(b.err, -E2BIG);
	strbuf_free(&b);
}

static void test_growth(void **state)
{
	struct sp_strbuf b;
	char want[20000];

	(void)state;
	strbuf_init(&b, 1 << 20);
	for (size_t i = 0; i < sizeof(want); i++) {
		want[i] = (char)('a' + i % 26);
		assert_int_equal(strbuf_addc(&b, want[i]), 0);
	}
	assert_buf(&b, want, sizeof(want));
	assert_true(b.cap >= sizeof(want));
	assert_true(b.cap <= b.limit);
	strbuf_free(&b);
}

static void test_format(void **state)
{
	struct sp_strbuf b;

	(void)state;
	strbuf_init(&b, 4096);
	strbuf_add_u64(&b, 0);
	strbuf_addc(&b, ' ');
	strbuf_add_u64(&b, 1700000000123456789ULL);
	strbuf_addc(&b, ' ');
	strbuf_add_u64(&b, UINT64_MAX);
	strbuf_addf(&b, " %s=%lld", "k", -42LL);
	assert_int_equal(b.err, 0);
	assert_buf(&b, "0 1700000000123456789 18446744073709551615 k=-42", 48);
	strbuf_free(&b);
}

typedef int (*escape_fn)(struct sp_strbuf *b, const char *s, size_t len);

static void expect_escaped(escape_fn add, const char *in, size_t len, const char *want)
{
	struct sp_strbuf b;

	strbuf_init(&b, 4096);
	assert_int_equal(add(&b, in, len), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	strbuf_free(&b);
}

#define JSON(lit, want) expect_escaped(strbuf_add_json_str, lit, sizeof(lit) - 1, want)
#define TEXT(lit, want) expect_escaped(strbuf_add_text_str, lit, sizeof(lit) - 1, want)
#define FFFD "\xef\xbf\xbd"

static void test_json_escapes(void **state)
{
	(void)state;
	JSON("", "");
	JSON("plain text 123", "plain text 123");
	JSON("say \"hi\"", "say \\\"hi\\\"");
	JSON("C:\\dir\\", "C:\\\\dir\\\\");
	JSON("/", "/");
	JSON("a\nb\tc\rd", "a\\u000ab\\u0009c\\u000dd");
	JSON("\x01\x1f", "\\u0001\\u001f");
	JSON("nul\0in", "nul\\u0000in");
	JSON("\x7f", "\x7f"); /* DEL needs no escape in JSON */
}

static void test_json_utf8(void **state)
{
	(void)state;
	/* Valid sequences of 2, 3 and 4 bytes pass through. */
	JSON("caf\xc3\xa9", "caf\xc3\xa9");
	JSON("\xe2\x82\xac 5", "\xe2\x82\xac 5");
	JSON("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
	JSON("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
	/* Invalid bytes become U+FFFD, one per byte that starts nothing valid. */
	JSON("a\x80z", "a" FFFD "z");
	JSON("\xff\xfe", FFFD FFFD);
	JSON("\xc3" "A", FFFD "A");              /* missing continuation */
	JSON("\xc0\xaf", FFFD FFFD);             /* overlong '/' */
	JSON("\xed\xa0\x80", FFFD FFFD FFFD);    /* surrogate U+D800 */
	JSON("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* past U+10FFFF */
	JSON("end\xc3", "end" FFFD);             /* cut at the end */
	JSON("\"\xff\"", "\\\"" FFFD "\\\"");
}

static void test_json_limit(void **state)
{
	struct sp_strbuf b;

	(void)state;
	/* Escaping grows the text: the limit applies to the escaped form. */
	strbuf_init(&b, 5);
	assert_int_equal(strbuf_add_json_str(&b, "\x01", 1), -E2BIG);
	assert_int_equal(b.len, 0);
	strbuf_free(&b);
	strbuf_init(&b, 6);
	assert_int_equal(strbuf_add_json_str(&b, "\x01", 1), 0);
	assert_buf(&b, "\\u0001", 6);
	strbuf_free(&b);
}

/* strbuf_addf appends the whole formatted text, however long. */
/* What a terminal acts on is escaped; other characters stay as they are. */
static void test_text_terminal_controls(void **state)
{
	(void)state;
	TEXT("curl/8 \x1b[2J", "curl/8 \\u001b[2J");
	TEXT("a\x7f", "a\\u007f");
	TEXT("\xc2\x80\xc2\x9b" "31m\xc2\x9f", "\\u0080\\u009b31m\\u009f");
	TEXT("\xc2\xa0", "\xc2\xa0"); /* U+00A0 is printable */
	TEXT("x\xe2\x80\xaagpj.exe", "x\\u202agpj.exe");
	TEXT("\xe2\x80\xae\xe2\x81\xa6\xe2\x81\xa9", "\\u202e\\u2066\\u2069");
	TEXT("\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xaa", "\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xaa");
	TEXT("caf\xc3\xa9 \"q\"", "caf\xc3\xa9 \\\"q\\\"");
	TEXT("\xc2", FFFD);
	/* JSON keeps them as they are: a JSON reader is no terminal. */
	JSON("\xc2\x9b\xe2\x80\xae\x7f", "\xc2\x9b\xe2\x80\xae\x7f");
}

/*
 * Plain bytes are found sixteen at a time: every byte that needs care, at
 * every position of strings up to 50 bytes long, before, inside and after
 * each block of sixteen, with each escape function.
 */
static void test_escape_every_position(void **state)
{
	static const struct {
		const char *in, *json, *text;
	} cases[] = {
		{ "\"", "\\\"", "\\\"" },
		{ "\\", "\\\\", "\\\\" },
		{ "\x1f", "\\u001f", "\\u001f" },
		{ "\x7f", "\x7f", "\\u007f" },
		{ "\x80", FFFD, FFFD },
		{ "\xff", FFFD, FFFD },
		{ "\xc3\xa9", "\xc3\xa9", "\xc3\xa9" },
		{ "\xc2\x9b", "\xc2\x9b", "\\u009b" },
		{ "\xe2\x80\xae", "\xe2\x80\xae", "\\u202e" },
		{ " ", " ", " " },
		{ "~", "~", "~" },
	};
	char in[64], json[64], text[64], plain[64];

	(void)state;
	memset(plain, 'a', sizeof(plain));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = strlen(cases[c].in);

		for (size_t len = n; len <= 50; len++)
			for (size_t at = 0; at + n <= len; at++) {
				size_t after = len - at - n;

				memset(in, 'a', len);
				memcpy(in + at, cases[c].in, n);
				snprintf(json, sizeof(json), "%.*s%s%.*s", (int)at,
					 plain, cases[c].json, (int)after, plain);
				snprintf(text, sizeof(text), "%.*s%s%.*s", (int)at,
					 plain, cases[c].text, (int)after, plain);
				expect_escaped(strbuf_add_json_str, in, len, json);
				expect_escaped(strbuf_add_text_str, in, len, text);
			}
	}
}

/* Decimal digits two at a time: every length, and the edges of each. */
static void test_u64_every_length(void **state)
{
	uint64_t v = 1;

	(void)state;
	for (int digits = 1; digits <= 20; digits++, v *= 10) {
		uint64_t vals[] = { v, v + 1, v * 10 - 1, v * 3 + 7 };

		for (size_t i = 0; i < 4 && (digits < 20 || i == 0); i++) {
			struct sp_strbuf b;
			char want[24];

			if (digits == 20 && i == 0)
				vals[i] = UINT64_MAX;
			snprintf(want, sizeof(want), "%llu", (unsigned long long)vals[i]);
			strbuf_init(&b, 64);
			assert_int_equal(strbuf_add_u64(&b, vals[i]), 0);
			assert_buf(&b, want, strlen(want));
			strbuf_free(&b);
		}
	}
}

static void test_addf_long(void **state)
{
	struct sp_strbuf b;
	char s[600];

	(void)state;
	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = 0;
	strbuf_init(&b, 4096);
	assert_int_equal(strbuf_addf(&b, "(%s)", s), 0);
	assert_int_equal(b.len, 601);
	assert_int_equal(b.data[600], ')');
	strbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit_latches),
		cmocka_unit_test(test_limit_one_big_append),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_json_utf8),
		cmocka_unit_test(test_json_limit),
		cmocka_unit_test(test_addf_long),
		cmocka_unit_test(test_text_terminal_controls),
		cmocka_unit_test(test_escape_every_position),
		cmocka_unit_test(test_u64_every_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
