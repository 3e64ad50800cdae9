// SPDX-License-Identifier: MIT
/*
 * The disk queue (diskq.h): segment files of checksummed records, a
 * cursor file, group fsync, a byte budget that drops the oldest.
 */
#include "export/diskq.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/counter.h"
#include "util/clock.h"
#include "util/log.h"

#define RECORD_MAGIC 0x51505331u /* "1SPQ" on disk */
#define CURSOR_MAGIC 0x43505331u /* "1SPC" */
#define CURSOR_SIZE 28u          /* magic, seq, offset, sending, crc */
#define SEGMENT_MIN (64u << 10)
#define SEGMENT_MAX (64u << 20)
#define SCAN_CHUNK (64u << 10)

struct segment {
	uint64_t seq;
	uint64_t size;
	uint64_t records, spans, bytes; /* the valid ones not yet taken */
};

struct diskq {
	struct diskq_opts opts;
	char *dir;
	int dirfd, rfd, wfd, cursor_fd;
	struct segment *segs; /* oldest (the cursor's) first, tail last */
	size_t n_segs, cap_segs;
	uint64_t roff;        /* the cursor: offset in segs[0] */
	uint64_t rfd_seq;     /* which segment rfd has open */
	uint8_t *buf;         /* the record read last */
	size_t buf_cap;
	bool peeked, dir_dirty;
	bool was_sending;     /* the last run stopped while sending the head */
	uint32_t peek_spans;
	uint64_t peek_bytes;
	uint32_t unsynced;
	int64_t last_sync_ms;
	struct diskq_stats st;
};

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static uint32_t record_crc(const uint8_t *hdr, const uint8_t *data, size_t len)
{
	uLong crc = crc32(0L, hdr, 16);

	return (uint32_t)crc32(crc, data, (uInt)len);
}

static int full_pread(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		done += (size_t)n;
	}
	return 0;
}

static int full_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

static int buf_reserve(struct diskq *q, size_t len)
{
	uint8_t *grown;

	if (len <= q->buf_cap)
		return 0;
	grown = realloc(q->buf, len);
	if (!grown)
		return -ENOMEM;
	q->buf = grown;
	q->buf_cap = len;
	return 0;
}

/*
 * The record at `off` of a file of `size` bytes, read into q->buf (header
 * then payload).  Returns 0, -EBADMSG when it is not a whole valid record,
 * or another -errno.
 */
static int record_read(struct diskq *q, int fd, uint64_t size, uint64_t off)
{
	uint8_t hdr[DISKQ_HEADER];
	uint32_t len;
	int ret;

	if (size - off < DISKQ_HEADER)
		return -EBADMSG;
	ret = full_pread(fd, hdr, sizeof(hdr), off);
	if (ret)
		return ret == -ENODATA ? -EBADMSG : ret;
	len = get32(hdr + 4);
	if (get32(hdr) != RECORD_MAGIC || len > DISKQ_MAX_RECORD ||
	    size - off - DISKQ_HEADER < len)
		return -EBADMSG;
	ret = buf_reserve(q, DISKQ_HEADER + (size_t)len);
	if (ret)
		return ret;
	memcpy(q->buf, hdr, sizeof(hdr));
	ret = full_pread(fd, q->buf + DISKQ_HEADER, len, off + DISKQ_HEADER);
	if (ret)
		return ret == -ENODATA ? -EBADMSG : ret;
	if (record_crc(hdr, q->buf + DISKQ_HEADER, len) != get32(hdr + 16))
		return -EBADMSG;
	return 0;
}

/*
 * After a bad record at `off`: the offset of the next valid record (a
 * magic number whose record checks out), or `size` when there is none.
 */
static int record_resync(struct diskq *q, int fd, uint64_t size, uint64_t off,
			 uint64_t *next)
{
	uint8_t chunk[SCAN_CHUNK];
	uint8_t magic[4];
	int ret;

	put32(magic, RECORD_MAGIC);
	for (uint64_t base = off + 1; base + DISKQ_HEADER <= size;
	     base += SCAN_CHUNK - 3) {
		size_t n = size - base < SCAN_CHUNK ? (size_t)(size - base) : SCAN_CHUNK;

		ret = full_pread(fd, chunk, n, base);
		if (ret)
			return ret;
		for (const uint8_t *p = chunk; (p = memmem(p, n - (size_t)(p - chunk),
							    magic, 4)); p++) {
			ret = record_read(q, fd, size, base + (uint64_t)(p - chunk));
			if (ret == 0) {
				*next = base + (uint64_t)(p - chunk);
				return 0;
			}
			if (ret != -EBADMSG)
				return ret;
		}
	}
	*next = size;
	return 0;
}

#define SEGMENT_NAME 24 /* 16 hex digits, ".spq", NUL */

static void segment_name(uint64_t seq, char name[SEGMENT_NAME])
{
	snprintf(name, SEGMENT_NAME, "%016llx.spq", (unsigned long long)seq);
}

static int segment_open(struct diskq *q, uint64_t seq, int flags)
{
	char name[SEGMENT_NAME];
	int fd;

	segment_name(seq, name);
	fd = openat(q->dirfd, name, flags | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

/* The read descriptor of the oldest segment, opened when it changed. */
static int head_fd(struct diskq *q)
{
	int fd;

	if (q->rfd >= 0 && q->rfd_seq == q->segs[0].seq)
		return q->rfd;
	fd = segment_open(q, q->segs[0].seq, O_RDONLY);
	if (fd < 0)
		return fd;
	if (q->rfd >= 0)
		close(q->rfd);
	q->rfd = fd;
	q->rfd_seq = q->segs[0].seq;
	return fd;
}

int diskq_sync(struct diskq *q)
{
	int ret = 0;

	if (!q->unsynced && !q->dir_dirty)
		return 0;
	if (q->wfd >= 0 && fsync(q->wfd))
		ret = -errno;
	if (q->cursor_fd >= 0 && fsync(q->cursor_fd))
		ret = -errno;
	if (q->dir_dirty && fsync(q->dirfd))
		ret = -errno;
	q->dir_dirty = false;
	q->unsynced = 0;
	q->last_sync_ms = clock_mono_ms();
	return ret;
}

/* Group fsync: one for every sync_every writes or sync_ms, not each. */
static void maybe_sync(struct diskq *q)
{
	q->unsynced++;
	if (q->unsynced >= q->opts.sync_every ||
	    clock_mono_ms() - q->last_sync_ms >= q->opts.sync_ms) {
		int ret = diskq_sync(q);

		if (ret)
			sp_warn_once("diskq: fsync in %s failed: %s", q->dir,
				     strerror(-ret));
	}
}

/* `sending`: the record at the cursor may be at the collector already. */
static int cursor_write_as(struct diskq *q, uint32_t sending)
{
	uint8_t c[CURSOR_SIZE];

	put32(c, CURSOR_MAGIC);
	put64(c + 4, q->n_segs ? q->segs[0].seq : 0);
	put64(c + 12, q->roff);
	put32(c + 20, sending);
	put32(c + 24, (uint32_t)crc32(0L, c, 24));
	return full_pwrite(q->cursor_fd, c, sizeof(c), 0);
}

static int cursor_write(struct diskq *q)
{
	return cursor_write_as(q, 0);
}

int diskq_mark_sending(struct diskq *q, bool sending)
{
	return q->peeked ? cursor_write_as(q, sending) : -ENOENT;
}

/* Forget the oldest segment: every record of it was sent or dropped. */
static void head_remove(struct diskq *q)
{
	char name[SEGMENT_NAME];

	segment_name(q->segs[0].seq, name);
	if (unlinkat(q->dirfd, name, 0) && errno != ENOENT)
		sp_warn_once("diskq: cannot remove %s/%s: %s", q->dir, name,
			     strerror(errno));
	memmove(q->segs, q->segs + 1, (q->n_segs - 1) * sizeof(*q->segs));
	q->n_segs--;
	q->roff = 0;
	q->dir_dirty = true;
}

static int segment_add(struct diskq *q);

/* The records of `s` not yet taken leave the queue, counted dropped, and
 * the segment as broken. */
static void segment_dropped(struct diskq *q, const struct segment *s)
{
	counter_add(&q->st.corrupt, 1);
	counter_add(&q->st.dropped, s->records);
	counter_add(&q->st.dropped_spans, s->spans);
	counter_sub(&q->st.pending, s->records);
	counter_sub(&q->st.pending_spans, s->spans);
	counter_sub(&q->st.pending_bytes, s->bytes);
}

/* An error that says the file is gone or broken, not that we lack a resource. */
static bool segment_broken(int err)
{
	return err == -ENOENT || err == -EIO || err == -ESTALE || err == -EISDIR;
}

/*
 * The oldest segment cannot be read (removed under us, an I/O error): its
 * records are counted dropped, and it is forgotten, so that the queue goes
 * on.  The only segment is first followed by a new one, so that sequence
 * numbers (and the cursor) keep going up.
 */
static int head_lost(struct diskq *q, int err)
{
	struct segment s = q->segs[0];
	char name[SEGMENT_NAME];
	int ret;

	segment_name(s.seq, name);
	sp_warn("diskq: cannot read %s/%s (%s); its %llu batches (%llu spans) are"
		" dropped", q->dir, name, strerror(-err),
		(unsigned long long)s.records, (unsigned long long)s.spans);
	segment_dropped(q, &s);
	if (q->n_segs == 1) {
		ret = segment_add(q);
		if (ret)
			return ret;
	}
	head_remove(q);
	return cursor_write(q);
}

int diskq_peek(struct diskq *q, struct diskq_record *rec)
{
	uint64_t next;
	int fd, ret;

	for (;;) {
		if (!q->n_segs || (q->n_segs == 1 && q->roff >= q->segs[0].size))
			return -ENOENT;
		if (q->roff >= q->segs[0].size) {
			head_remove(q);
			cursor_write(q);
			continue;
		}
		fd = head_fd(q);
		ret = fd < 0 ? fd : record_read(q, fd, q->segs[0].size, q->roff);
		if (ret == 0)
			break;
		if (segment_broken(ret)) {
			ret = head_lost(q, ret);
			if (ret)
				return ret;
			continue;
		}
		if (ret != -EBADMSG)
			return ret;
		ret = record_resync(q, fd, q->segs[0].size, q->roff, &next);
		if (ret)
			return ret;
		counter_add(&q->st.corrupt, 1);
		sp_warn("diskq: corrupt record in segment %016llx at %llu; skipped %llu bytes",
			(unsigned long long)q->segs[0].seq,
			(unsigned long long)q->roff,
			(unsigned long long)(next - q->roff));
		q->roff = next;
		cursor_write(q);
	}
	q->peeked = true;
	q->peek_spans = get32(q->buf + 8);
	q->peek_bytes = DISKQ_HEADER + (uint64_t)get32(q->buf + 4);
	*rec = (struct diskq_record){ .data = q->buf + DISKQ_HEADER,
				      .len = get32(q->buf + 4),
				      .spans = q->peek_spans,
				      .flags = get32(q->buf + 12) };
	return 0;
}

/* Take the peeked record off, as sent or as dropped for the budget. */
static int take(struct diskq *q, bool sent)
{
	if (!q->peeked)
		return -ENOENT;
	q->peeked = false;
	q->roff += q->peek_bytes;
	if (q->segs[0].records) {
		q->segs[0].records--;
		q->segs[0].spans -= q->peek_spans;
		q->segs[0].bytes -= q->peek_bytes;
	}
	if (q->st.pending) {
		counter_sub(&q->st.pending, 1);
		counter_sub(&q->st.pending_spans, q->peek_spans);
		counter_sub(&q->st.pending_bytes, q->peek_bytes);
	}
	if (sent) {
		counter_add(&q->st.sent, 1);
		counter_add(&q->st.sent_spans, q->peek_spans);
	} else {
		counter_add(&q->st.dropped, 1);
		counter_add(&q->st.dropped_spans, q->peek_spans);
	}
	if (q->roff >= q->segs[0].size && q->n_segs > 1)
		head_remove(q);
	return cursor_write(q);
}

int diskq_pop(struct diskq *q)
{
	int ret = take(q, true);

	if (ret != -ENOENT)
		maybe_sync(q);
	return ret;
}

static int segment_grow(struct diskq *q)
{
	size_t cap = q->cap_segs ? q->cap_segs * 2 : 16;
	struct segment *grown = realloc(q->segs, cap * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	q->segs = grown;
	q->cap_segs = cap;
	return 0;
}

/* A new tail segment: the next sequence number, empty. */
static int segment_add(struct diskq *q)
{
	uint64_t seq = q->n_segs ? q->segs[q->n_segs - 1].seq + 1 : 1;
	int fd;

	if (q->n_segs == q->cap_segs && segment_grow(q))
		return -ENOMEM;
	fd = segment_open(q, seq, O_WRONLY | O_CREAT | O_TRUNC);
	if (fd < 0)
		return fd;
	if (q->wfd >= 0) {
		fsync(q->wfd); /* the older tail is complete: make it durable */
		close(q->wfd);
	}
	q->wfd = fd;
	q->segs[q->n_segs++] = (struct segment){ .seq = seq, .size = 0 };
	q->dir_dirty = true;
	return 0;
}

/* Back within the budget: drop the oldest records. */
static void budget_keep(struct diskq *q)
{
	struct diskq_record rec;

	while (q->st.pending && q->st.pending_bytes > q->opts.max_bytes) {
		if (diskq_peek(q, &rec) || take(q, false))
			break;
	}
}

static int record_write(struct diskq *q, const void *data, size_t len,
			uint32_t spans, uint32_t flags)
{
	struct segment *tail;
	uint8_t hdr[DISKQ_HEADER];
	int ret;

	if (!q->n_segs || q->wfd < 0 ||
	    (q->segs[q->n_segs - 1].size &&
	     q->segs[q->n_segs - 1].size + DISKQ_HEADER + len > q->opts.segment_bytes)) {
		ret = segment_add(q);
		if (ret)
			return ret;
	}
	tail = &q->segs[q->n_segs - 1];
	put32(hdr, RECORD_MAGIC);
	put32(hdr + 4, (uint32_t)len);
	put32(hdr + 8, spans);
	put32(hdr + 12, flags);
	put32(hdr + 16, record_crc(hdr, data, len));
	ret = full_pwrite(q->wfd, hdr, sizeof(hdr), tail->size);
	if (!ret)
		ret = full_pwrite(q->wfd, data, len, tail->size + DISKQ_HEADER);
	if (ret) {
		/* Leave no partial record behind for the next append. */
		if (ftruncate(q->wfd, (off_t)tail->size))
			sp_warn_once("diskq: cannot cut a failed write: %s",
				     strerror(errno));
		return ret;
	}
	tail->size += DISKQ_HEADER + len;
	return 0;
}

int diskq_append(struct diskq *q, const void *data, size_t len,
		 uint32_t spans, uint32_t flags)
{
	uint64_t need = DISKQ_HEADER + (uint64_t)len;
	int ret;

	if (need > q->opts.max_bytes || len > DISKQ_MAX_RECORD) {
		counter_add(&q->st.dropped, 1);
		counter_add(&q->st.dropped_spans, spans);
		return -E2BIG;
	}
	/* Written first, the oldest dropped after: a write that fails (a
	 * full disk) costs no queued record. */
	ret = record_write(q, data, len, spans, flags);
	if (ret)
		return ret;
	q->segs[q->n_segs - 1].records++;
	q->segs[q->n_segs - 1].spans += spans;
	q->segs[q->n_segs - 1].bytes += need;
	counter_add(&q->st.appended, 1);
	counter_add(&q->st.appended_spans, spans);
	counter_add(&q->st.pending, 1);
	counter_add(&q->st.pending_spans, spans);
	counter_add(&q->st.pending_bytes, need);
	budget_keep(q);
	maybe_sync(q);
	return 0;
}

bool diskq_empty(const struct diskq *q)
{
	return counter_get(&q->st.pending) == 0;
}

/* Relaxed loads: one thread writes, a report needs no snapshot. */
void diskq_get_stats(const struct diskq *q, struct diskq_stats *out)
{
	const uint64_t *src = (const uint64_t *)&q->st;
	uint64_t *dst = (uint64_t *)out;

	_Static_assert(sizeof(*out) % sizeof(uint64_t) == 0, "counters only");
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = counter_get(&src[i]);
}

void diskq_close(struct diskq *q)
{
	if (!q)
		return;
	if (q->dirfd >= 0)
		diskq_sync(q);
	if (q->wfd >= 0)
		close(q->wfd);
	if (q->rfd >= 0)
		close(q->rfd);
	if (q->cursor_fd >= 0)
		close(q->cursor_fd);
	if (q->dirfd >= 0)
		close(q->dirfd);
	free(q->segs);
	free(q->buf);
	free(q->dir);
	free(q);
}

static int seq_cmp(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every "<16 hex digits>.spq" of the directory, oldest first. */
static int segments_list(struct diskq *q)
{
	int fd = dup(q->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	struct stat sb;
	int ret = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (!ret && (e = readdir(d))) {
		uint64_t seq;

		/* Exactly the names segment_name() makes: strtoull() alone
		 * takes "0x", signs, spaces and capitals too. */
		if (strlen(e->d_name) != 20 || strcmp(e->d_name + 16, ".spq") ||
		    strspn(e->d_name, "0123456789abcdef") != 16 ||
		    fstatat(q->dirfd, e->d_name, &sb, 0) || !S_ISREG(sb.st_mode))
			continue;
		seq = strtoull(e->d_name, NULL, 16);
		if (q->n_segs == q->cap_segs)
			ret = segment_grow(q);
		if (!ret)
			q->segs[q->n_segs++] = (struct segment){
				.seq = seq, .size = (uint64_t)sb.st_size };
	}
	closedir(d);
	if (q->n_segs) /* segs is NULL while none was found */
		qsort(q->segs, q->n_segs, sizeof(*q->segs), seq_cmp);
	return ret;
}

/* Where the last run stopped: segments before the cursor's are done. */
static void cursor_read(struct diskq *q)
{
	uint8_t c[CURSOR_SIZE];
	ssize_t n = pread(q->cursor_fd, c, sizeof(c), 0);
	uint64_t seq, off;

	if (n == 0 && !q->n_segs)
		return; /* a new queue */
	if (n == 0) {
		/* Segments and no cursor: made and never written, or emptied. */
		counter_add(&q->st.corrupt, 1);
		sp_warn("diskq: empty cursor in %s beside segments; resending from"
			" the oldest segment", q->dir);
		return;
	}
	if (n != (ssize_t)sizeof(c) || get32(c) != CURSOR_MAGIC ||
	    get32(c + 24) != (uint32_t)crc32(0L, c, 24)) {
		counter_add(&q->st.corrupt, 1);
		sp_warn("diskq: unreadable cursor in %s; resending from the oldest segment",
			q->dir);
		return;
	}
	seq = get64(c + 4);
	off = get64(c + 12);
	while (q->n_segs && q->segs[0].seq < seq)
		head_remove(q);
	if (q->n_segs && q->segs[0].seq == seq)
		q->roff = off < q->segs[0].size ? off : q->segs[0].size;
	q->was_sending = get32(c + 20) && q->n_segs && q->segs[0].seq == seq;
}

/*
 * Is the bad end of the newest segment, from `off`, what an append cut
 * short leaves: less than a header, or a header whose record runs past
 * the end?  Anything else (another format's records, garbage) is left in
 * place, skipped and counted when read, never cut off.
 */
static bool torn_at(int fd, uint64_t size, uint64_t off)
{
	uint8_t hdr[DISKQ_HEADER];

	if (size - off < DISKQ_HEADER)
		return true;
	if (full_pread(fd, hdr, sizeof(hdr), off))
		return false;
	return get32(hdr) == RECORD_MAGIC &&
	       size - off - DISKQ_HEADER < get32(hdr + 4);
}

/* Count the valid records of segment i from `off`; cut a torn tail. */
static int segment_scan(struct diskq *q, size_t i, uint64_t off)
{
	struct segment *s = &q->segs[i];
	uint64_t next;
	int fd = segment_open(q, s->seq, O_RDWR), ret = 0;

	if (fd < 0)
		return fd;
	while (off < s->size) {
		ret = record_read(q, fd, s->size, off);
		if (ret == 0) {
			s->records++;
			s->spans += get32(q->buf + 8);
			s->bytes += DISKQ_HEADER + (uint64_t)get32(q->buf + 4);
			counter_add(&q->st.pending, 1);
			counter_add(&q->st.pending_spans, get32(q->buf + 8));
			counter_add(&q->st.pending_bytes, DISKQ_HEADER + (uint64_t)get32(q->buf + 4));
			off += DISKQ_HEADER + (uint64_t)get32(q->buf + 4);
			continue;
		}
		if (ret != -EBADMSG || (ret = record_resync(q, fd, s->size, off, &next)))
			break;
		if (next < s->size || i + 1 < q->n_segs || !torn_at(fd, s->size, off)) {
			off = next; /* skipped, and counted, when read */
			continue;
		}
		/* Nothing valid follows in the newest segment: a torn tail. */
		counter_add(&q->st.corrupt, 1);
		sp_warn("diskq: torn tail of %llu bytes in segment %016llx cut off",
			(unsigned long long)(s->size - off), (unsigned long long)s->seq);
		if (ftruncate(fd, (off_t)off))
			ret = -errno;
		s->size = off;
	}
	close(fd);
	return ret;
}

/*
 * Segment i cannot be read at start: renamed NAME.bad (left for a look,
 * and out of the way of the names to come) and left out, said and counted.
 */
static int segment_set_aside(struct diskq *q, size_t i, int err)
{
	char name[SEGMENT_NAME], bad[SEGMENT_NAME + 4];

	segment_name(q->segs[i].seq, name);
	snprintf(bad, sizeof(bad), "%s.bad", name);
	sp_warn("diskq: cannot read %s/%s (%s); set aside as %s", q->dir, name,
		strerror(-err), bad);
	if (renameat(q->dirfd, name, q->dirfd, bad))
		sp_warn("diskq: cannot rename %s/%s: %s", q->dir, name, strerror(errno));
	/* What the scan counted before it failed is not in the queue now. */
	segment_dropped(q, &q->segs[i]);
	memmove(q->segs + i, q->segs + i + 1, (q->n_segs - i - 1) * sizeof(*q->segs));
	q->n_segs--;
	if (i == 0) {
		q->roff = 0;
		q->was_sending = false; /* that batch went with the segment */
	}
	q->dir_dirty = true;
	return 0;
}

static int diskq_load(struct diskq *q)
{
	int ret;

	if (mkdir(q->dir, 0700) && errno != EEXIST)
		return -errno;
	q->dirfd = open(q->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->dirfd < 0)
		return -errno;
	q->cursor_fd = openat(q->dirfd, "cursor", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (q->cursor_fd < 0)
		return -errno;
	ret = segments_list(q);
	if (ret)
		return ret;
	cursor_read(q);
	for (size_t i = 0; !ret && i < q->n_segs; i++) {
		ret = segment_scan(q, i, i ? 0 : q->roff);
		if (segment_broken(ret) || ret == -EACCES || ret == -EPERM)
			ret = segment_set_aside(q, i--, ret);
	}
	if (ret)
		return ret;
	if (q->was_sending && record_read(q, head_fd(q), q->segs[0].size, q->roff) == 0) {
		counter_add(&q->st.maybe_resent, 1);
		counter_add(&q->st.maybe_resent_spans, get32(q->buf + 8));
	}
	if (q->n_segs) {
		q->wfd = segment_open(q, q->segs[q->n_segs - 1].seq, O_WRONLY);
		if (q->wfd < 0)
			return q->wfd;
	}
	return cursor_write(q);
}

struct diskq *diskq_open(const struct diskq_opts *o)
{
	struct diskq *q;
	int ret;

	if (!o->dir || !*o->dir || !o->max_bytes) {
		errno = EINVAL;
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (!q || !(q->dir = strdup(o->dir))) {
		free(q);
		errno = ENOMEM;
		return NULL;
	}
	q->opts = *o;
	if (!q->opts.segment_bytes)
		q->opts.segment_bytes = o->max_bytes / 8 < SEGMENT_MIN ? SEGMENT_MIN :
					o->max_bytes / 8 > SEGMENT_MAX ? SEGMENT_MAX :
					o->max_bytes / 8;
	q->opts.sync_every = o->sync_every ? o->sync_every : 16;
	q->opts.sync_ms = o->sync_ms ? o->sync_ms : 1000;
	q->dirfd = q->rfd = q->wfd = q->cursor_fd = -1;
	q->last_sync_ms = clock_mono_ms();
	ret = diskq_load(q);
	if (ret) {
		sp_err("diskq: cannot open the queue in %s: %s", o->dir, strerror(-ret));
		diskq_close(q);
		errno = -ret;
		return NULL;
	}
	return q;
}
