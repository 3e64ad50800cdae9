// SPDX-License-Identifier: MIT
/*
 * Test tool: writes a copy of a kernel's BTF in which one enumerator is
 * renamed, so that CO-RE's bpf_core_enum_value_exists() says the kernel
 * lacks it.  Loaded with `spanprobe --btf OUT`, the BPF programs take the
 * branches they take on a kernel without that value, on this kernel:
 *
 *   btf_hide_enum ENUM NAME OUT [IN]
 *   btf_hide_enum bpf_func_id BPF_FUNC_loop /tmp/no-loop.btf
 *
 * IN defaults to /sys/kernel/btf/vmlinux.  The new name is NAME with its
 * first letter changed to 'x'; the value stays.  Exits 1 when ENUM or NAME
 * is not there.
 */
#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The enumerator `name` of enum `enum_name`, or NULL. */
static struct btf_enum *find_value(struct btf *btf, const char *enum_name,
				   const char *name)
{
	__u32 n = btf__type_cnt(btf);

	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		struct btf_enum *e;

		if (!btf_is_enum(t) || strcmp(btf__name_by_offset(btf, t->name_off), enum_name))
			continue;
		e = btf_enum(t);
		for (__u16 i = 0; i < btf_vlen(t); i++)
			if (strcmp(btf__name_by_offset(btf, e[i].name_off), name) == 0)
				return &e[i];
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *in = argc > 4 ? argv[4] : "/sys/kernel/btf/vmlinux";
	char hidden[128];
	struct btf_enum *e;
	const void *raw;
	struct btf *btf;
	__u32 size;
	FILE *out;
	int off;

	if (argc < 4 || argc > 5 || !argv[2][0] || strlen(argv[2]) >= sizeof(hidden)) {
		fprintf(stderr, "usage: btf_hide_enum ENUM NAME OUT [IN]\n");
		return 2;
	}
	btf = btf__parse(in, NULL);
	if (!btf) {
		fprintf(stderr, "btf_hide_enum: cannot read %s: %s\n", in, strerror(errno));
		return 1;
	}
	snprintf(hidden, sizeof(hidden), "x%s", argv[2] + 1);
	/* Adding the string first: btf__add_str() makes the types writable. */
	off = btf__add_str(btf, hidden);
	e = off < 0 ? NULL : find_value(btf, argv[1], argv[2]);
	if (!e) {
		fprintf(stderr, "btf_hide_enum: no %s in enum %s of %s\n", argv[2], argv[1], in);
		btf__free(btf);
		return 1;
	}
	e->name_off = (__u32)off;
	raw = btf__raw_data(btf, &size);
	out = fopen(argv[3], "wb");
	if (!raw || !out || fwrite(raw, 1, size, out) != size || fclose(out)) {
		fprintf(stderr, "btf_hide_enum: cannot write %s\n", argv[3]);
		btf__free(btf);
		return 1;
	}
	btf__free(btf);
	return 0;
}
