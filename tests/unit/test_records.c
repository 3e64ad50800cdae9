/* SPDX-License-Identifier: MIT */
/*
 * The check of ring-buffer records (capture/records.c): a good record of
 * every type passes, and each kind of bad record is refused with its own
 * reason and counted once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capture/records.h"
#include "spanprobe/events.h"

/* Room for the largest record: a data record with a full capture. */
union record_buf {
	struct sp_event_header hdr;
	struct sp_func_event func;
	struct sp_task_event task;
	struct sp_exec_event exec;
	struct sp_sock_data_event data;
	struct sp_sock_close_event close;
	uint8_t bytes[sizeof(struct sp_sock_data_event) + SP_SOCK_FRAMES_MAX + 8];
};

static size_t make(union record_buf *b, uint16_t type, size_t size)
{
	memset(b, 0, sizeof(*b));
	b->hdr.type = type;
	b->hdr.size = (uint16_t)size;
	b->hdr.version = SP_EVENT_VERSION;
	b->hdr.pid = b->hdr.tid = 100;
	return size;
}

/* A data record of `captured` payload bytes out of `total`. */
static size_t make_data(union record_buf *b, uint16_t captured, uint32_t total)
{
	size_t size = make(b, SP_EV_SOCK_DATA, sizeof(b->data) + captured);

	b->data.captured = captured;
	b->data.total_len = total;
	b->data.direction = SP_SOCK_RECV;
	b->data.family = 2;
	memset(b->bytes + sizeof(b->data), 'x', captured);
	return size;
}

static void good_record_of_every_type(void **state)
{
	static const struct {
		uint16_t type;
		size_t size;
	} fixed[] = {
		{ SP_EV_FUNC_ENTRY, sizeof(struct sp_func_event) },
		{ SP_EV_FUNC_RETURN, sizeof(struct sp_func_event) },
		{ SP_EV_THREAD_EXIT, sizeof(struct sp_task_event) },
		{ SP_EV_PROC_EXEC, sizeof(struct sp_exec_event) },
		{ SP_EV_SOCK_CLOSE, sizeof(struct sp_sock_close_event) },
		{ SP_EV_PROC_FORK, sizeof(struct sp_fork_event) },
	};
	union record_buf b;
	size_t size;

	(void)state;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		size = make(&b, fixed[i].type, fixed[i].size);
		assert_int_equal(records_check(&b, size), RECORDS_OK);
	}
	/* Data: no payload, some, a full capture, end of stream, a send. */
	assert_int_equal(records_check(&b, make_data(&b, 0, 5000)), RECORDS_OK);
	assert_int_equal(records_check(&b, make_data(&b, 17, 17)), RECORDS_OK);
	size = make_data(&b, SP_SOCK_CAPTURE_MAX, 1u << 20);
	assert_int_equal(records_check(&b, size), RECORDS_OK);
	assert_int_equal(records_check(&b, make_data(&b, 0, 0)), RECORDS_OK);
	size = make_data(&b, 3, 3);
	b.data.direction = SP_SOCK_SEND;
	assert_int_equal(records_check(&b, size), RECORDS_OK);
}

static void bad_header(void **state)
{
	union record_buf b;
	size_t size = make(&b, SP_EV_FUNC_ENTRY, sizeof(struct sp_func_event));

	(void)state;
	/* Shorter than a header. */
	assert_int_equal(records_check(&b, sizeof(b.hdr) - 1), RECORDS_BAD_HEADER);
	assert_int_equal(records_check(&b, 0), RECORDS_BAD_HEADER);
	/* The header's size is not the size delivered, either way. */
	assert_int_equal(records_check(&b, size + 8), RECORDS_BAD_HEADER);
	b.hdr.size = (uint16_t)(size + 8);
	assert_int_equal(records_check(&b, size), RECORDS_BAD_HEADER);
}

static void bad_type(void **state)
{
	union record_buf b;
	size_t size = make(&b, 0, sizeof(struct sp_func_event));

	(void)state;
	assert_int_equal(records_check(&b, size), RECORDS_BAD_TYPE);
	b.hdr.type = SP_EV_TYPE_MAX;
	assert_int_equal(records_check(&b, size), RECORDS_BAD_TYPE);
	b.hdr.type = 0xffff;
	assert_int_equal(records_check(&b, size), RECORDS_BAD_TYPE);
}

static void bad_version(void **state)
{
	union record_buf b;
	size_t size = make(&b, SP_EV_THREAD_EXIT, sizeof(struct sp_task_event));

	(void)state;
	b.hdr.version = SP_EVENT_VERSION - 1;
	assert_int_equal(records_check(&b, size), RECORDS_BAD_VERSION);
	b.hdr.version = SP_EVENT_VERSION + 1;
	assert_int_equal(records_check(&b, size), RECORDS_BAD_VERSION);
}

static void bad_size(void **state)
{
	union record_buf b;
	size_t size;

	(void)state;
	/* A fixed record shorter or longer than its struct. */
	size = make(&b, SP_EV_FUNC_RETURN, sizeof(struct sp_func_event) - 8);
	assert_int_equal(records_check(&b, size), RECORDS_BAD_SIZE);
	size = make(&b, SP_EV_SOCK_CLOSE, sizeof(struct sp_sock_close_event) + 8);
	assert_int_equal(records_check(&b, size), RECORDS_BAD_SIZE);
	/* An exec record the size of a thread exit. */
	size = make(&b, SP_EV_PROC_EXEC, sizeof(struct sp_task_event));
	assert_int_equal(records_check(&b, size), RECORDS_BAD_SIZE);
	/* A data record shorter than its fixed part. */
	size = make(&b, SP_EV_SOCK_DATA, sizeof(struct sp_sock_data_event) - 1);
	assert_int_equal(records_check(&b, size), RECORDS_BAD_SIZE);
}

static void bad_tail(void **state)
{
	union record_buf b;
	size_t size;

	(void)state;
	/* Claims more payload than the record holds, or less. */
	size = make_data(&b, 10, 10);
	b.data.captured = 11;
	assert_int_equal(records_check(&b, size), RECORDS_BAD_TAIL);
	b.data.captured = 9;
	assert_int_equal(records_check(&b, size), RECORDS_BAD_TAIL);
	/* More captured than the call moved. */
	size = make_data(&b, 10, 9);
	assert_int_equal(records_check(&b, size), RECORDS_BAD_TAIL);
	/* More than the BPF side ever captures. */
	size = make_data(&b, SP_SOCK_CAPTURE_MAX + 1, 1u << 20);
	assert_int_equal(records_check(&b, size), RECORDS_BAD_TAIL);
}

/* Append a piece (kept bytes 'k', then `skip`) at `*at` of b's payload. */
static void add_piece(union record_buf *b, size_t *at, uint16_t kept, uint32_t skip)
{
	struct sp_sock_piece p = { .kept = kept, .skip_lo = skip & 0xffff,
				   .skip_hi = skip >> 16 };
	uint8_t *d = b->bytes + sizeof(b->data);

	memcpy(d + *at, &p, sizeof(p));
	memset(d + *at + sizeof(p), 'k', kept);
	*at += sizeof(p) + kept;
}

/* A frame-walked record of `n` pieces {kept, skip}; returns its size. */
static size_t make_frames(union record_buf *b, const uint32_t (*pc)[2], size_t n,
			  uint32_t total)
{
	size_t at = 0;

	make_data(b, 0, total);
	for (size_t i = 0; i < n; i++)
		add_piece(b, &at, (uint16_t)pc[i][0], pc[i][1]);
	b->data.captured = (uint16_t)at;
	b->data.sock_flags = SP_SOCK_F_FRAMES;
	b->hdr.size = (uint16_t)(sizeof(b->data) + at);
	return b->hdr.size;
}

static void frame_pieces(void **state)
{
	/* A HEADERS frame and a DATA header kept, 70000 bytes of DATA
	 * skipped (past 16 bits), a trailer block kept, nothing skipped. */
	const uint32_t good[][2] = { { 40, 70000 }, { 30, 0 } };
	const uint32_t tiny[][2] = { { 9, 0 } };
	union record_buf b;
	struct records_piece pc;
	size_t size, off = 0;

	(void)state;
	size = make_frames(&b, good, 2, 70070);
	assert_int_equal(records_check(&b, size), RECORDS_OK);
	assert_int_equal(records_piece_next((uint8_t *)(&b.data + 1), b.data.captured, &off, &pc), 1);
	assert_int_equal(pc.n_kept, 40);
	assert_int_equal(pc.skip, 70000);
	assert_int_equal(pc.kept[0], 'k');
	assert_int_equal(records_piece_next((uint8_t *)(&b.data + 1), b.data.captured, &off, &pc), 1);
	assert_int_equal(pc.n_kept, 30);
	assert_int_equal(pc.skip, 0);
	assert_int_equal(records_piece_next((uint8_t *)(&b.data + 1), b.data.captured, &off, &pc), 0);
	/* Pieces may hold more than the call (their headers): 15 > 9. */
	size = make_frames(&b, tiny, 1, 9);
	assert_int_equal(records_check(&b, size), RECORDS_OK);
	/* The pieces must add up to the call. */
	size = make_frames(&b, good, 2, 70071);
	assert_int_equal(records_check(&b, size), RECORDS_BAD_TAIL);
	size = make_frames(&b, good, 2, 70069);
	assert_int_equal(records_check(&b, size), RECORDS_BAD_TAIL);
	/* A piece that claims more kept bytes than the record holds. */
	size = make_frames(&b, good, 2, 70070);
	b.bytes[sizeof(b.data) + 6 + 40] = 31;
	assert_int_equal(records_check(&b, size), RECORDS_BAD_TAIL);
	/* A piece header cut short. */
	size = make_frames(&b, good, 2, 70070);
	b.data.captured -= 30 + 2;
	b.hdr.size -= 30 + 2;
	assert_int_equal(records_check(&b, size - 32), RECORDS_BAD_TAIL);
	/* Past SP_SOCK_FRAMES_MAX. */
	{
		const uint32_t big[][2] = { { SP_SOCK_FRAMES_MAX, 0 } };

		size = make_frames(&b, big, 1, SP_SOCK_FRAMES_MAX);
		assert_int_equal(records_check(&b, size), RECORDS_BAD_TAIL);
	}
}

static void bad_field(void **state)
{
	union record_buf b;
	size_t size = make_data(&b, 4, 4);

	(void)state;
	b.data.direction = 0;
	assert_int_equal(records_check(&b, size), RECORDS_BAD_FIELD);
	b.data.direction = SP_SOCK_RECV + 1;
	assert_int_equal(records_check(&b, size), RECORDS_BAD_FIELD);
}

/* records_validate() counts each refusal once, under its reason. */
static void refusals_counted_per_reason(void **state)
{
	struct records_stats st = { 0 };
	union record_buf b;
	size_t size;

	(void)state;
	size = make(&b, SP_EV_FUNC_ENTRY, sizeof(struct sp_func_event));
	assert_int_equal(records_validate(&st, &b, size), 0);
	assert_int_equal(records_validate(&st, &b, 3), -EINVAL);
	b.hdr.type = 0;
	assert_int_equal(records_validate(&st, &b, size), -EINVAL);
	assert_int_equal(records_validate(&st, &b, size), -EINVAL);
	size = make_data(&b, 4, 4);
	b.data.direction = 9;
	assert_int_equal(records_validate(&st, &b, size), -EINVAL);
	assert_int_equal(st.refused[RECORDS_OK], 0);
	assert_int_equal(st.refused[RECORDS_BAD_HEADER], 1);
	assert_int_equal(st.refused[RECORDS_BAD_TYPE], 2);
	assert_int_equal(st.refused[RECORDS_BAD_FIELD], 1);
	assert_int_equal(st.refused[RECORDS_BAD_TAIL], 0);
	assert_int_equal(records_refused(&st), 4);
	assert_string_equal(records_verdict_name(RECORDS_BAD_TAIL), "tail");
	assert_string_equal(records_verdict_name(RECORDS_VERDICT_MAX), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_record_of_every_type),
		cmocka_unit_test(bad_header),
		cmocka_unit_test(bad_type),
		cmocka_unit_test(bad_version),
		cmocka_unit_test(bad_size),
		cmocka_unit_test(bad_tail),
		cmocka_unit_test(frame_pieces),
		cmocka_unit_test(bad_field),
		cmocka_unit_test(refusals_counted_per_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
