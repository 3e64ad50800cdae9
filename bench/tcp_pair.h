/* SPDX-License-Identifier: MIT */
/* A connected loopback TCP pair for the benchmarks that need one. */
#ifndef SPANPROBE_BENCH_TCP_PAIR_H
#define SPANPROBE_BENCH_TCP_PAIR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Two ends of one loopback TCP connection, Nagle off on both: *conn the
 * end that connected, *acc the one accepted.  Returns 0, or -1 with errno
 * set.
 */
static int tcp_pair(int *conn, int *acc)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int one = 1, lsn, err = -1;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lsn = socket(AF_INET, SOCK_STREAM, 0);
	if (lsn < 0)
		return -1;
	if (bind(lsn, (struct sockaddr *)&addr, len) || listen(lsn, 1) ||
	    getsockname(lsn, (struct sockaddr *)&addr, &len))
		goto out;
	*conn = socket(AF_INET, SOCK_STREAM, 0);
	if (*conn < 0 || connect(*conn, (struct sockaddr *)&addr, len))
		goto out;
	*acc = accept(lsn, NULL, NULL);
	if (*acc < 0)
		goto out;
	setsockopt(*conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*acc, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	err = 0;
out:
	close(lsn);
	return err;
}

#endif /* SPANPROBE_BENCH_TCP_PAIR_H */
