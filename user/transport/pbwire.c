// SPDX-License-Identifier: MIT
#include "transport/pbwire.h"

#include <errno.h>
#include <string.h>

static int read_varint(struct pb_reader *r, uint64_t *v)
{
	uint64_t x = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -EBADMSG;
		x |= (uint64_t)(*r->p & 0x7f) << shift;
		if (!(*r->p++ & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -EBADMSG;
}

static int read_fixed(struct pb_reader *r, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if ((size_t)(r->end - r->p) < n)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		x |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	*v = x;
	return 0;
}

int pb_next(struct pb_reader *r, struct pb_field *f)
{
	uint64_t key, len;

	if (r->p >= r->end)
		return 0;
	memset(f, 0, sizeof(*f));
	if (read_varint(r, &key) || key >> 3 == 0 || key >> 3 > UINT32_MAX)
		return -EBADMSG;
	f->number = (uint32_t)(key >> 3);
	f->wire_type = key & 7;
	switch (f->wire_type) {
	case 0:
		return read_varint(r, &f->varint) ? -EBADMSG : 1;
	case 1:
		return read_fixed(r, 8, &f->varint) ? -EBADMSG : 1;
	case 5:
		return read_fixed(r, 4, &f->varint) ? -EBADMSG : 1;
	case 2:
		if (read_varint(r, &len) || len > (uint64_t)(r->end - r->p))
			return -EBADMSG;
		f->bytes = r->p;
		f->len = (size_t)len;
		r->p += len;
		return 1;
	default:
		return -EBADMSG; /* groups are not used by these messages */
	}
}
