/*
 * Cost of a system call as seen by a process spanprobe does not trace:
 * `getppid` (a call no socket hook should see) and a TCP write + read over
 * loopback (what every socket hook sees).  Prints nanoseconds per
 * operation, best of five rounds, so runs with and without BPF programs
 * attached can be compared.
 *
 * Usage: syscall_cost [iterations]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double time_getppid(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return (now_ns() - t0) / n;
}

/* A connected loopback TCP pair: fds[0] writes, fds[1] reads. */
static int tcp_pair(int fds[2])
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int one = 1, lsn;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lsn = socket(AF_INET, SOCK_STREAM, 0);
	if (lsn < 0 || bind(lsn, (struct sockaddr *)&addr, len) ||
	    listen(lsn, 1) || getsockname(lsn, (struct sockaddr *)&addr, &len))
		return -1;
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&addr, len))
		return -1;
	fds[1] = accept(lsn, NULL, NULL);
	close(lsn);
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fds[1] < 0 ? -1 : 0;
}

static double time_tcp(const int fds[2], long n)
{
	/* Not HTTP: starts with a lower-case word, like most binary protocols. */
	char buf[64] = "ping 0123456789abcdef0123456789abcdef0123456789abcdef";
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		if (write(fds[0], buf, sizeof(buf)) != sizeof(buf) ||
		    read(fds[1], buf, sizeof(buf)) != sizeof(buf))
			return -1;
	}
	return (now_ns() - t0) / n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	double best_ppid = 1e18, best_tcp = 1e18, t;
	int fds[2];

	if (n <= 0 || tcp_pair(fds)) {
		perror("syscall_cost");
		return 1;
	}
	for (int round = 0; round < 5; round++) {
		t = time_getppid(n);
		best_ppid = t < best_ppid ? t : best_ppid;
		t = time_tcp(fds, n / 10);
		if (t < 0) {
			perror("syscall_cost: tcp");
			return 1;
		}
		best_tcp = t < best_tcp ? t : best_tcp;
	}
	printf("getppid_ns %.1f\ntcp_write_read_ns %.1f\n", best_ppid, best_tcp);
	return 0;
}
