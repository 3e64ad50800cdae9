// SPDX-License-Identifier: MIT
#include "capture/stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/*
 * Dotted decimal, as inet_ntop() writes it, without its sprintf: every
 * HTTP span formats its peer's address.  `buf` holds INET_ADDRSTRLEN.
 */
static const char *ipv4_str(const uint8_t *a, char *buf)
{
	char *p = buf;

	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
	return buf;
}

const char *stream_addr_str(const struct stream_addr *a, char *buf, size_t size)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	bool mapped = a->family == AF_INET6 && !memcmp(a->addr, v4mapped, 12);

	if ((a->family == AF_INET || mapped) && size >= INET_ADDRSTRLEN)
		return ipv4_str(mapped ? a->addr + 12 : a->addr, buf);
	if (mapped)
		return inet_ntop(AF_INET, a->addr + 12, buf, size) ? buf : "";
	if (!inet_ntop(a->family == AF_INET6 ? AF_INET6 : AF_INET, a->addr, buf,
		       size))
		buf[0] = '\0';
	return buf;
}

void stream_addr_v6(const struct stream_addr *a, uint8_t out[16])
{
	if (a->family == AF_INET) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, a->addr, 4);
	} else {
		memcpy(out, a->addr, 16);
	}
}

bool stream_addr_same(const struct stream_addr *x, const struct stream_addr *y)
{
	uint8_t a[16], b[16];

	stream_addr_v6(x, a);
	stream_addr_v6(y, b);
	return x->port == y->port && !memcmp(a, b, 16);
}

int stream_addr_from_sockaddr(const struct sockaddr *sa, struct stream_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		out->family = AF_INET;
		memcpy(out->addr, &in->sin_addr, 4);
		out->port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		out->family = AF_INET6;
		memcpy(out->addr, &in6->sin6_addr, 16);
		out->port = ntohs(in6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}
