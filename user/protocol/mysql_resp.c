// SPDX-License-Identifier: MIT
/*
 * The MySQL protocol's responses, packet by packet, for the command that
 * waits first: OK, ERR, EOF, a prepare's answer, result sets (column
 * count, definitions, rows counted up to their end), several results of a
 * procedure.  Rows are walked by their lengths, never read.
 */
#include "protocol/mysql_internal.h"

static bool deprecate_eof(const struct mysql_conn *m)
{
	return m->caps & CLIENT_DEPRECATE_EOF;
}

/*
 * Rows end at an EOF packet (5 bytes), or with CLIENT_DEPRECATE_EOF at an
 * OK packet with the 0xfe header (7 bytes or more; a row starting with
 * 0xfe is 16 MiB or more).  A connection met mid-stream, whose
 * capabilities are unknown, tells them apart by their length.
 */
static bool rows_end(const struct mysql_conn *m, const uint8_t *p, size_t n,
		     uint32_t len, uint16_t *status)
{
	bool ok_form = m->midstream ? len > 5 : deprecate_eof(m);

	if (!n || p[0] != 0xfe || len >= (ok_form ? 0xffffffu : 9u))
		return false;
	if (ok_form)
		*status = mysql_ok_status(p, n);
	else
		*status = n >= 5 ? (uint16_t)mysql_le(p + 3, 2) : 0;
	return true;
}

/* A prepare's answer: its statement id, to remember with its text. */
static enum mysql_step prepare_ok(struct mysql_conn *m, const struct mysql_cmd *k,
				  const uint8_t *p, size_t n)
{
	uint32_t id, cols, params;

	if (n < 9 || p[0] != 0x00)
		return MYSQL_STEP_DONE;
	id = mysql_le(p + 1, 4);
	cols = mysql_le(p + 5, 2);
	params = mysql_le(p + 7, 2);
	if (k->has_text)
		mysql_stmt_put(m, id, k->text, k->text_len);
	m->last_stmt = id;
	if ((m->caps & CLIENT_OPTIONAL_METADATA) && n >= 13 && p[12] == 0)
		return MYSQL_STEP_DONE; /* no definitions follow */
	m->prep_cols = cols;
	m->cols_left = params ? params : cols;
	m->rstate = params ? RS_PARAMS : RS_PCOLS;
	return params || cols ? MYSQL_STEP_MORE : MYSQL_STEP_DONE;
}

/* A column count: a result set follows. */
static enum mysql_step result_set(struct mysql_conn *m, const struct mysql_cmd *k,
				  const uint8_t *p, size_t n)
{
	size_t off = 0;
	uint64_t count;
	bool binary = k->cmd == COM_STMT_EXECUTE || k->cmd == COM_STMT_BULK_EXECUTE;
	bool meta = true;

	if (!mysql_lenenc(p, n, &off, &count) || !count)
		return MYSQL_STEP_LOST;
	/* The column definitions may be left out, a flag says. */
	if (((m->caps & MARIADB_CACHE_METADATA) && binary) ||
	    (m->caps & CLIENT_OPTIONAL_METADATA))
		meta = off >= n || p[off] != 0;
	m->had_rows = 1;
	m->cols_left = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
	/*
	 * Without the definitions, the EOF that ends them still comes unless
	 * CLIENT_DEPRECATE_EOF: taken for the rows' end, it would end the
	 * call before its rows (and leave them and their EOF to no command).
	 */
	if (meta)
		m->rstate = RS_COLS;
	else
		m->rstate = deprecate_eof(m) ? RS_ROWS : RS_COLS_EOF;
	return MYSQL_STEP_MORE;
}

/* The first packet of a response. */
static enum mysql_step first_packet(struct mysql_conn *m, const struct mysql_cmd *k,
				    const uint8_t *p, size_t n, uint32_t len)
{
	if (!n)
		return len ? MYSQL_STEP_LOST : MYSQL_STEP_DONE;
	switch (k->cmd) {
	case COM_STMT_PREPARE:
		return prepare_ok(m, k, p, n);
	case COM_STATISTICS:
		return MYSQL_STEP_DONE; /* a line of text */
	case COM_FIELD_LIST:
	case COM_CHANGE_USER:
		/* Definitions up to an EOF; authentication up to an OK. */
		m->rstate = RS_MORE;
		return MYSQL_STEP_MORE;
	}
	if (p[0] == 0x00 && len >= 7)
		return mysql_ok_status(p, n) & SERVER_MORE_RESULTS_EXISTS ? MYSQL_STEP_MORE
									    : MYSQL_STEP_DONE;
	if (p[0] == 0xfe && len < 9)
		return MYSQL_STEP_DONE; /* EOF: COM_SET_OPTION's answer */
	if (p[0] == 0xfb)
		return MYSQL_STEP_MORE; /* LOCAL INFILE: the OK comes after the file */
	return result_set(m, k, p, n);
}

/* One packet after the first. */
static enum mysql_step next_packet(struct mysql_conn *m, const struct mysql_cmd *k,
				   const uint8_t *p, size_t n, uint32_t len)
{
	uint16_t status;
	bool dep = deprecate_eof(m);

	switch (m->rstate) {
	case RS_COLS:
		if (--m->cols_left == 0)
			m->rstate = dep && !m->midstream ? RS_ROWS : RS_COLS_EOF;
		return MYSQL_STEP_MORE;
	case RS_COLS_EOF:
		m->rstate = RS_ROWS;
		/* Mid-stream: no EOF of 5 bytes here, CLIENT_DEPRECATE_EOF. */
		if (m->midstream && !(n && p[0] == 0xfe && len == 5))
			return next_packet(m, k, p, n, len);
		return MYSQL_STEP_MORE;
	case RS_ROWS:
		if (!rows_end(m, p, n, len, &status)) {
			m->rows++;
			return MYSQL_STEP_MORE;
		}
		m->rstate = RS_FIRST;
		return status & SERVER_MORE_RESULTS_EXISTS ? MYSQL_STEP_MORE : MYSQL_STEP_DONE;
	case RS_PARAMS:
		if (--m->cols_left)
			return MYSQL_STEP_MORE;
		m->rstate = dep ? RS_PCOLS : RS_PARAMS_EOF;
		m->cols_left = m->prep_cols;
		return dep && !m->prep_cols ? MYSQL_STEP_DONE : MYSQL_STEP_MORE;
	case RS_PARAMS_EOF:
		m->rstate = RS_PCOLS;
		return m->prep_cols ? MYSQL_STEP_MORE : MYSQL_STEP_DONE;
	case RS_PCOLS:
		if (--m->cols_left)
			return MYSQL_STEP_MORE;
		m->rstate = RS_PCOLS_EOF;
		return dep ? MYSQL_STEP_DONE : MYSQL_STEP_MORE;
	case RS_PCOLS_EOF:
		return MYSQL_STEP_DONE;
	default: /* RS_MORE */
		if (k->cmd == COM_CHANGE_USER)
			return n && p[0] == 0x00 ? MYSQL_STEP_DONE : MYSQL_STEP_MORE;
		return n && p[0] == 0xfe && len < 9 ? MYSQL_STEP_DONE : MYSQL_STEP_MORE;
	}
}

enum mysql_step mysql_response_step(struct mysql_conn *m, const struct mysql_cmd *k,
				    const uint8_t *p, size_t n, uint32_t len)
{
	return m->rstate == RS_FIRST ? first_packet(m, k, p, n, len)
				     : next_packet(m, k, p, n, len);
}
