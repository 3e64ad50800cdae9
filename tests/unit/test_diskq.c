// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "export/diskq.h"

#define PAYLOAD 100 /* record i: PAYLOAD bytes of value i, i + 1 spans */
#define RECORD (DISKQ_HEADER + PAYLOAD)

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/diskq-test-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static struct diskq *open_q(uint64_t max_bytes, uint64_t segment_bytes)
{
	struct diskq_opts o = { .dir = dir, .max_bytes = max_bytes,
				.segment_bytes = segment_bytes };
	struct diskq *q = diskq_open(&o);

	assert_non_null(q);
	return q;
}

static void append(struct diskq *q, int i)
{
	uint8_t data[PAYLOAD];

	memset(data, i, sizeof(data));
	assert_int_equal(diskq_append(q, data, sizeof(data), (uint32_t)i + 1, 7), 0);
}

/* The next record is number i: its bytes, spans and flags. */
static void expect_next(struct diskq *q, int i)
{
	struct diskq_record r;
	uint8_t data[PAYLOAD];

	memset(data, i, sizeof(data));
	assert_int_equal(diskq_peek(q, &r), 0);
	assert_int_equal(r.len, PAYLOAD);
	assert_int_equal(r.spans, i + 1);
	assert_int_equal(r.flags, 7);
	assert_memory_equal(r.data, data, PAYLOAD);
	assert_int_equal(diskq_pop(q), 0);
}

static void expect_empty(struct diskq *q)
{
	struct diskq_record r;

	assert_true(diskq_empty(q));
	assert_int_equal(diskq_peek(q, &r), -ENOENT);
	assert_int_equal(diskq_pop(q), -ENOENT);
}

/* The queue holds records ids[0..3) and nothing else; one corruption seen. */
static void expect_three_then_empty(struct diskq *q, const int ids[3])
{
	struct diskq_stats st;

	for (int i = 0; i < 3; i++)
		expect_next(q, ids[i]);
	expect_empty(q);
	diskq_get_stats(q, &st);
	assert_int_equal(st.corrupt, 1);
	diskq_close(q);
}

/* The path of the only (or the first) segment file. */
static void first_segment(char *path, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char best[sizeof(e->d_name)] = "";

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".spq") && (!best[0] || strcmp(e->d_name, best) < 0))
			snprintf(best, sizeof(best), "%s", e->d_name);
	closedir(d);
	assert_true(best[0]);
	snprintf(path, size, "%s/%s", dir, best);
}

/* A closed queue of records 0, 1, 2 in one segment, whose path is given. */
static void three_records_closed(char *path, size_t size)
{
	struct diskq *q = open_q(1 << 20, 0);

	for (int i = 0; i < 3; i++)
		append(q, i);
	diskq_close(q);
	first_segment(path, size);
}

static int count_segments(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n += strstr(e->d_name, ".spq") != NULL;
	closedir(d);
	return n;
}

static void test_order_and_counts(void **state)
{
	struct diskq *q = open_q(1 << 20, 0);
	struct diskq_stats st;

	expect_empty(q);
	for (int i = 0; i < 5; i++)
		append(q, i);
	diskq_get_stats(q, &st);
	assert_int_equal(st.pending, 5);
	assert_int_equal(st.pending_spans, 15);
	assert_int_equal(st.pending_bytes, 5 * RECORD);
	for (int i = 0; i < 5; i++)
		expect_next(q, i);
	expect_empty(q);
	diskq_get_stats(q, &st);
	assert_int_equal(st.appended, 5);
	assert_int_equal(st.sent, 5);
	assert_int_equal(st.sent_spans, 15);
	assert_int_equal(st.pending_bytes, 0);
	assert_int_equal(st.dropped + st.corrupt, 0);
	diskq_close(q);
}

/* A restart resumes after the last record sent, without closing first
 * (as after kill -9: only what was written counts). */
static void test_restart_resumes(void **state)
{
	struct diskq *q = open_q(1 << 20, 0), *q2;
	struct diskq_stats st;

	for (int i = 0; i < 6; i++)
		append(q, i);
	expect_next(q, 0);
	expect_next(q, 1);
	q2 = open_q(1 << 20, 0); /* q is left open, unsynced */
	diskq_get_stats(q2, &st);
	assert_int_equal(st.pending, 4);
	assert_int_equal(st.pending_spans, 3 + 4 + 5 + 6);
	expect_next(q2, 2);
	append(q2, 6);
	diskq_close(q2);
	diskq_close(q);
	q = open_q(1 << 20, 0);
	for (int i = 3; i <= 6; i++)
		expect_next(q, i);
	expect_empty(q);
	diskq_close(q);
}

/* Stopped while sending: the next run sends that record again and counts
 * it as a possible duplicate; a record peeked but not being sent is not. */
static void test_stopped_while_sending(void **state)
{
	struct diskq *q = open_q(1 << 20, 0), *q2;
	struct diskq_record r;
	struct diskq_stats st;

	for (int i = 0; i < 3; i++)
		append(q, i);
	expect_next(q, 0);
	assert_int_equal(diskq_peek(q, &r), 0);
	q2 = open_q(1 << 20, 0);
	diskq_get_stats(q2, &st);
	assert_int_equal(st.maybe_resent, 0);
	diskq_close(q2);
	assert_int_equal(diskq_mark_sending(q, true), 0);
	assert_int_equal(diskq_mark_sending(q, false), 0); /* the send failed */
	q2 = open_q(1 << 20, 0);
	diskq_get_stats(q2, &st);
	assert_int_equal(st.maybe_resent, 0);
	diskq_close(q2);
	assert_int_equal(diskq_mark_sending(q, true), 0);
	q2 = open_q(1 << 20, 0);
	diskq_get_stats(q2, &st);
	assert_int_equal(st.maybe_resent, 1);
	assert_int_equal(st.maybe_resent_spans, 2);
	expect_next(q2, 1);
	expect_next(q2, 2);
	diskq_close(q2);
	diskq_close(q);
}

/* A record cut short by a crash: cut off at open, counted, appends go on. */
static void test_truncated_tail(void **state)
{
	struct diskq *q;
	struct diskq_stats st;
	char path[128];
	struct stat sb;

	three_records_closed(path, sizeof(path));
	assert_int_equal(truncate(path, 3 * RECORD - 7), 0);
	q = open_q(1 << 20, 0);
	diskq_get_stats(q, &st);
	assert_int_equal(st.pending, 2);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 2 * RECORD);
	append(q, 9);
	expect_three_then_empty(q, (const int[]){ 0, 1, 9 });
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* One flipped byte, in a payload or in a length: that record is skipped
 * (counted once), the next valid one is found. */
static void test_flipped_byte(void **state)
{
	static const off_t where[] = { RECORD + DISKQ_HEADER + 50, /* payload */
				       RECORD + 5 };               /* length */

	for (size_t k = 0; k < sizeof(where) / sizeof(where[0]); k++) {
		struct diskq *q = open_q(1 << 20, 0);
		struct diskq_stats st;
		char path[128];

		for (int i = 0; i < 4; i++)
			append(q, i);
		diskq_close(q);
		first_segment(path, sizeof(path));
		flip_byte(path, where[k]);
		q = open_q(1 << 20, 0);
		diskq_get_stats(q, &st);
		assert_int_equal(st.pending, 3);
		expect_three_then_empty(q, (const int[]){ 0, 2, 3 });
		teardown(state);
		setup(state);
	}
}

/* A full budget drops the oldest records, counted with their spans; a
 * record larger than the budget is refused and counted. */
static void test_budget_drops_oldest(void **state)
{
	struct diskq *q = open_q(3 * RECORD, 0);
	struct diskq_stats st;
	uint8_t big[3 * RECORD];

	for (int i = 0; i < 5; i++)
		append(q, i);
	diskq_get_stats(q, &st);
	assert_int_equal(st.pending, 3);
	assert_int_equal(st.pending_bytes, 3 * RECORD);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.dropped_spans, 1 + 2);
	memset(big, 0, sizeof(big));
	assert_int_equal(diskq_append(q, big, sizeof(big), 40, 0), -E2BIG);
	diskq_get_stats(q, &st);
	assert_int_equal(st.dropped, 3);
	assert_int_equal(st.dropped_spans, 1 + 2 + 40);
	diskq_close(q);
	q = open_q(3 * RECORD, 0); /* the drops were persisted */
	for (int i = 2; i < 5; i++)
		expect_next(q, i);
	expect_empty(q);
	diskq_close(q);
}

/* A write that fails (here: past the file size limit, as a full disk
 * fails it) is refused and costs no queued record. */
static void test_failed_write_drops_nothing(void **state)
{
	struct diskq *q = open_q(3 * RECORD, 0);
	struct diskq_stats st;
	struct rlimit old, lim;
	uint8_t data[PAYLOAD];

	for (int i = 0; i < 3; i++)
		append(q, i); /* the budget is full */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 3 * RECORD;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	memset(data, 3, sizeof(data));
	assert_int_equal(diskq_append(q, data, sizeof(data), 4, 7), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	diskq_get_stats(q, &st);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.pending, 3);
	append(q, 4); /* with room to write: the oldest goes */
	diskq_get_stats(q, &st);
	assert_int_equal(st.dropped, 1);
	for (int i = 1; i < 3; i++)
		expect_next(q, i);
	expect_next(q, 4);
	expect_empty(q);
	diskq_close(q);
}

/* Segments roll at their size and go once read; the cursor survives it. */
static void test_segments_roll_and_go(void **state)
{
	struct diskq *q = open_q(1 << 20, 2 * RECORD);

	for (int i = 0; i < 10; i++)
		append(q, i);
	assert_int_equal(count_segments(), 5);
	for (int i = 0; i < 5; i++)
		expect_next(q, i);
	assert_int_equal(count_segments(), 3);
	diskq_close(q);
	q = open_q(1 << 20, 2 * RECORD);
	for (int i = 5; i < 10; i++)
		expect_next(q, i);
	expect_empty(q);
	assert_int_equal(count_segments(), 1);
	diskq_close(q);
}

/* The path of the segment file numbered `seq`. */
static void segment_path(char *path, size_t size, unsigned seq)
{
	snprintf(path, size, "%s/%016x.spq", dir, seq);
}

/*
 * A segment removed under the queue (by hand, or lost to an I/O error):
 * its records are counted dropped and the queue goes on with the next; the
 * only segment removed, new records go to a new one, after the cursor.
 */
static void test_segment_removed(void **state)
{
	struct diskq *q = open_q(1 << 20, 2 * RECORD);
	struct diskq_stats st;
	struct diskq_record r;
	char path[128];

	for (int i = 0; i < 6; i++)
		append(q, i); /* segments 1: {0, 1}, 2: {2, 3}, 3: {4, 5} */
	segment_path(path, sizeof(path), 2);
	assert_int_equal(unlink(path), 0);
	expect_next(q, 0);
	expect_next(q, 1);
	expect_next(q, 4);
	diskq_get_stats(q, &st);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.dropped_spans, 3 + 4);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(st.pending, 1);
	assert_int_equal(st.pending_bytes, RECORD);
	diskq_close(q);

	q = open_q(1 << 20, 2 * RECORD); /* segment 3 only, {5} left */
	segment_path(path, sizeof(path), 3);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(diskq_peek(q, &r), -ENOENT); /* found gone when read */
	expect_empty(q);
	diskq_get_stats(q, &st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.pending, 0);
	append(q, 9);
	append(q, 10);
	expect_next(q, 9);
	diskq_close(q);
	q = open_q(1 << 20, 2 * RECORD); /* the cursor did not pass them */
	expect_next(q, 10);
	expect_empty(q);
	diskq_close(q);
}

/* A cursor emptied beside segments: the oldest is sent again, and that
 * is said and counted. */
static void test_empty_cursor(void **state)
{
	struct diskq *q = open_q(1 << 20, 0);
	struct diskq_stats st;
	char path[128];

	for (int i = 0; i < 3; i++)
		append(q, i);
	expect_next(q, 0);
	diskq_close(q);
	snprintf(path, sizeof(path), "%s/cursor", dir);
	assert_int_equal(truncate(path, 0), 0);
	q = open_q(1 << 20, 0);
	diskq_get_stats(q, &st);
	assert_int_equal(st.corrupt, 1);
	for (int i = 0; i < 3; i++)
		expect_next(q, i);
	expect_empty(q);
	diskq_close(q);
}

/* Only the names the queue makes are its segments. */
static void test_other_names_ignored(void **state)
{
	static const char *const others[] = { "0x00000000000001.spq",
					      "000000000000000A.spq",
					      "-000000000000001.spq",
					      " 00000000000001.spq" };
	struct diskq *q;
	char path[128], other[128];

	three_records_closed(path, sizeof(path));
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		snprintf(other, sizeof(other), "%s/%s", dir, others[i]);
		assert_int_equal(link(path, other), 0);
	}
	q = open_q(1 << 20, 0);
	for (int i = 0; i < 3; i++)
		expect_next(q, i);
	expect_empty(q);
	diskq_close(q);
}

/* Records of another format (here: another magic number) in the newest
 * segment are not a torn tail: left on disk, skipped and counted when read. */
static void test_other_format_kept(void **state)
{
	struct diskq *q;
	struct diskq_stats st;
	char path[128];
	struct stat sb;

	three_records_closed(path, sizeof(path));
	for (int i = 0; i < 3; i++)
		flip_byte(path, (off_t)i * RECORD); /* the magic's first byte */
	q = open_q(1 << 20, 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 3 * RECORD);
	append(q, 9);
	expect_next(q, 9);
	expect_empty(q);
	diskq_get_stats(q, &st);
	assert_int_equal(st.corrupt, 1);
	diskq_close(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_and_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopped_while_sending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_drops_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segments_roll_and_go, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_drops_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_names_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_format_kept, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
