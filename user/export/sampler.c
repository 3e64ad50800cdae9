// SPDX-License-Identifier: MIT
/*
 * The ratio rule follows the OpenTelemetry specification's
 * TraceIdRatioBased sampler with consistent probability: the randomness R
 * is the 56 least significant bits of the trace ID (big-endian bytes
 * 9..15), the rejection threshold T = (1 - ratio) * 2^56, and a trace is
 * kept when R >= T.  Any agent using the same rule on the same trace ID
 * decides the same, and a higher ratio keeps a superset.
 */
#include "export/sampler.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/env.h"

extern char **environ;

#define RANDOM_BITS 56
#define RANDOM_SPAN (1ULL << RANDOM_BITS)

static uint64_t ratio_threshold(double ratio)
{
	double t = (1.0 - ratio) * (double)RANDOM_SPAN;

	if (t <= 0)
		return 0;
	if (t >= (double)RANDOM_SPAN)
		return RANDOM_SPAN;
	return (uint64_t)llround(t);
}

void sampler_defaults(struct sp_sampler *s)
{
	s->root = SP_SAMPLE_ALWAYS_ON;
	s->parent_based = true;
	s->ratio = 1.0;
	s->threshold = 0;
}

/*
 * s without the spaces and tabs around it (a value quoted with a blank in
 * a manifest or a unit file), in buf; NULL stays NULL, and one too long
 * for buf stays as it is, to be refused.
 */
static const char *trim(const char *s, char *buf, size_t size)
{
	size_t n;

	if (!s)
		return NULL;
	s += strspn(s, " \t");
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= size)
		return s;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

static int parse_ratio(const char *arg, double *out)
{
	char *end;
	double v;

	if (!arg || !*arg) {
		*out = 1.0;
		return 0;
	}
	v = strtod(arg, &end);
	if (*end || !(v >= 0.0 && v <= 1.0))
		return -EINVAL;
	*out = v;
	return 0;
}

int sampler_parse(struct sp_sampler *s, const char *name_in, const char *arg_in)
{
	char name_buf[64], arg_buf[64];
	const char *name = trim(name_in, name_buf, sizeof(name_buf));
	const char *arg = trim(arg_in, arg_buf, sizeof(arg_buf));
	const char *root = name;
	int ret = 0;

	sampler_defaults(s);
	if (!name || !*name)
		return 0;
	s->parent_based = strncmp(name, "parentbased_", 12) == 0;
	if (s->parent_based)
		root = name + 12;
	if (strcmp(root, "always_on") == 0) {
		s->root = SP_SAMPLE_ALWAYS_ON;
	} else if (strcmp(root, "always_off") == 0) {
		s->root = SP_SAMPLE_ALWAYS_OFF;
	} else if (strcmp(root, "traceidratio") == 0) {
		s->root = SP_SAMPLE_RATIO;
		if (parse_ratio(arg, &s->ratio)) {
			sp_warn("export: OTEL_TRACES_SAMPLER_ARG=\"%s\" is not a ratio"
				" in [0, 1]; using 1.0", arg_in);
			s->ratio = 1.0;
			ret = -EINVAL;
		}
		s->threshold = ratio_threshold(s->ratio);
	} else {
		sp_warn("export: OTEL_TRACES_SAMPLER=\"%s\" is not supported;"
			" using parentbased_always_on", name_in);
		sampler_defaults(s);
		ret = -EINVAL;
	}
	return ret;
}

int sampler_from_env(struct sp_sampler *s, char *const *envp)
{
	return sampler_parse(s, env_get(envp, "OTEL_TRACES_SAMPLER"),
			     env_get(envp, "OTEL_TRACES_SAMPLER_ARG"));
}

bool sampler_keep(const struct sp_sampler *s, const uint8_t trace_id[16],
		  bool parent_sampled, bool has_parent)
{
	uint64_t r = 0;

	if (has_parent && s->parent_based)
		return parent_sampled;
	switch (s->root) {
	case SP_SAMPLE_ALWAYS_ON:
		return true;
	case SP_SAMPLE_ALWAYS_OFF:
		return false;
	case SP_SAMPLE_RATIO:
		for (int i = 9; i < 16; i++)
			r = r << 8 | trace_id[i];
		return r >= s->threshold;
	}
	return true;
}
