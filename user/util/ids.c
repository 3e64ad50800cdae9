// SPDX-License-Identifier: MIT
#include "util/ids.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void idgen_seed(struct sp_idgen *g, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix64(&seed);
}

int idgen_init(struct sp_idgen *g)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		return -errno;
	idgen_seed(g, seed);
	return 0;
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t idgen_next(struct sp_idgen *g)
{
	uint64_t *s = g->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

void idgen_trace_id(struct sp_idgen *g, uint8_t out[16])
{
	uint64_t hi, lo;

	do {
		hi = idgen_next(g);
		lo = idgen_next(g);
	} while (hi == 0 && lo == 0); /* all-zero is the W3C "invalid" ID */
	memcpy(out, &hi, 8);
	memcpy(out + 8, &lo, 8);
}

void idgen_span_id(struct sp_idgen *g, uint8_t out[8])
{
	uint64_t v;

	do
		v = idgen_next(g);
	while (v == 0);
	memcpy(out, &v, 8);
}
