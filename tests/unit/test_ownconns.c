/* SPDX-License-Identifier: MIT */
/*
 * The set of spanprobe's own connections: a pair matches at either end
 * (IPv4 against IPv4-mapped IPv6 too), a closed pair only for I/O before
 * the close, and a full set refuses and counts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "protocol/ownconns.h"
#include "util/clock.h"

static struct sockaddr_in sin_of(const char *ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static struct stream_addr v4(const char *ip, uint16_t port)
{
	struct stream_addr a = { .family = AF_INET, .port = port };

	inet_pton(AF_INET, ip, a.addr);
	return a;
}

static struct stream_addr mapped(const char *ip, uint16_t port)
{
	struct stream_addr a = { .family = AF_INET6, .port = port };

	a.addr[10] = a.addr[11] = 0xff;
	inet_pton(AF_INET, ip, a.addr + 12);
	return a;
}

static void test_both_ends(void **state)
{
	struct ownconns *o = ownconns_create(4);
	struct sockaddr_in l = sin_of("127.0.0.1", 40000), p = sin_of("127.0.0.1", 4318);
	struct stream_addr cl = v4("127.0.0.1", 40000), sv = mapped("127.0.0.1", 4318);
	struct stream_addr other = v4("127.0.0.1", 40001);
	struct ownconns_stats st;
	uint64_t now = clock_mono_ns();

	assert_non_null(o);
	assert_false(ownconns_match(o, &cl, &sv, now));
	assert_int_equal(ownconns_add(o, (struct sockaddr *)&l, (struct sockaddr *)&p), 0);
	assert_true(ownconns_match(o, &cl, &sv, now));  /* our end */
	assert_true(ownconns_match(o, &sv, &cl, now));  /* the collector's */
	assert_false(ownconns_match(o, &other, &sv, now));
	assert_false(ownconns_match(o, &sv, &sv, now));
	ownconns_stats(o, &st);
	assert_int_equal(st.left_out, 2);
	ownconns_destroy(o);
}

static void test_closed(void **state)
{
	struct ownconns *o = ownconns_create(1);
	struct sockaddr_in l = sin_of("10.0.0.1", 50000), p = sin_of("10.0.0.2", 4317);
	struct sockaddr_in l2 = sin_of("10.0.0.1", 50001);
	struct stream_addr cl = v4("10.0.0.1", 50000), sv = v4("10.0.0.2", 4317);
	uint64_t before = clock_mono_ns();
	struct ownconns_stats st;

	assert_int_equal(ownconns_add(o, (struct sockaddr *)&l, (struct sockaddr *)&p), 0);
	ownconns_remove(o, (struct sockaddr *)&l, (struct sockaddr *)&p);
	/* I/O the reader sees late, from before the close, is still ours. */
	assert_true(ownconns_match(o, &sv, &cl, before));
	assert_false(ownconns_match(o, &sv, &cl, clock_mono_ns() + 1000000000ULL));
	/* The closed pair is kept a while: a second one finds the set full. */
	assert_int_equal(ownconns_add(o, (struct sockaddr *)&l2, (struct sockaddr *)&p),
			 -ENOSPC);
	ownconns_stats(o, &st);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.left_out, 1);
	ownconns_destroy(o);
}

static void test_not_ip(void **state)
{
	struct ownconns *o = ownconns_create(2);
	struct sockaddr un = { .sa_family = AF_UNIX };

	assert_int_equal(ownconns_add(o, &un, &un), -EAFNOSUPPORT);
	assert_null(ownconns_create(0));
	ownconns_destroy(o);
	ownconns_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_ends),
		cmocka_unit_test(test_closed),
		cmocka_unit_test(test_not_ip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
