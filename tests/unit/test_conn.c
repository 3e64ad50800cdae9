/* SPDX-License-Identifier: MIT */
/*
 * The exporter's and the Kubernetes client's TCP connections tell a peer
 * that is gone from one that is slow: keep-alive probes on an idle one,
 * and a bound on data left unacknowledged (transport/conn.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/conn.h"
#include "transport/url.h"

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

static void test_liveness_options(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct net_conn c;
	struct net_url u;
	char url[64];

	(void)state;
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", ntohs(a.sin_port));
	assert_int_equal(url_parse(url, &u), 0);
	assert_int_equal(conn_open(&c, &u, NULL, NULL, 0, 2000), 0);
	assert_int_equal(opt(c.fd, SOL_SOCKET, SO_KEEPALIVE), 1);
	assert_int_equal(opt(c.fd, IPPROTO_TCP, TCP_KEEPIDLE), 30);
	assert_int_equal(opt(c.fd, IPPROTO_TCP, TCP_KEEPINTVL), 10);
	assert_int_equal(opt(c.fd, IPPROTO_TCP, TCP_KEEPCNT), 3);
	assert_int_equal(opt(c.fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 20000);
	assert_int_equal(opt(c.fd, IPPROTO_TCP, TCP_NODELAY), 1);
	conn_close(&c);
	close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_liveness_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
