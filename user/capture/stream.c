// SPDX-License-Identifier: MIT
#include "capture/stream.h"

#include <arpa/inet.h>
#include <string.h>

const char *stream_addr_str(const struct stream_addr *a, char *buf, size_t size)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (a->family == AF_INET6 && !memcmp(a->addr, v4mapped, 12))
		return inet_ntop(AF_INET, a->addr + 12, buf, size) ? buf : "";
	if (!inet_ntop(a->family == AF_INET6 ? AF_INET6 : AF_INET, a->addr, buf,
		       size))
		buf[0] = '\0';
	return buf;
}
