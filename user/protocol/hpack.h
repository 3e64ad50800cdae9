/* SPDX-License-Identifier: MIT */
/*
 * An HPACK decoder (RFC 7541) for a direction whose dynamic table was
 * lost: a connection picked up after its first header blocks (spanprobe
 * started later), or bytes that went by uncaptured.  nghttp2's inflater
 * must see every block from the first, and stops at the first index it
 * does not know; encoders go on naming the entries they made long ago
 * (:authority, content-type, a gRPC :path), so a direction that lost its
 * table once would decode nothing again.
 *
 * This one knows the entries inserted since it lost the table, newest
 * first, which is all an index needs: index 62 + j is the encoder's j-th
 * newest entry whatever came before it, and eviction only ever takes the
 * oldest.  A field that names an entry from before is left out and
 * counted; the block's other fields are kept, and entries the block adds
 * are learned (one whose name is such an older entry's is kept with its
 * name unknown).  Strings (Huffman-coded or not) and the static table go
 * through a private nghttp2 inflater that is only ever given fields
 * without indexing, so its own table stays empty.
 */
#ifndef SPANPROBE_HPACK_H
#define SPANPROBE_HPACK_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

struct hpack_entry;

struct hpack_dec {
	struct hpack_entry *ring; /* `count` entries from `head`, newest first */
	uint32_t cap, head, count;
	uint32_t size;  /* RFC 7541 4.1, a name not known counted as empty */
	uint32_t max;   /* the encoder's bound as last said, at most `limit` */
	uint32_t limit; /* what SETTINGS allow */
	struct nghttp2_hd_inflater *lit;
	uint8_t *mini; /* one field rewritten for `lit` */
	size_t mini_cap;
};

/* Returns 0 or -ENOMEM; `limit` as for hpack_dec_set_limit(). */
int hpack_dec_init(struct hpack_dec *d, uint32_t limit);
void hpack_dec_free(struct hpack_dec *d);

/* The table was lost again: every entry is unknown from here. */
void hpack_dec_forget(struct hpack_dec *d);

/*
 * Take over the table of `from`, an nghttp2 inflater that decoded the
 * direction so far and whose table still is the encoder's, every entry
 * known (blocks can no longer go through it: one was cut).  Returns 0, or
 * -ENOMEM with the table forgotten.
 */
int hpack_dec_take(struct hpack_dec *d, struct nghttp2_hd_inflater *from);

/* SETTINGS_HEADER_TABLE_SIZE as the peer sent it (the encoder's bound). */
void hpack_dec_set_limit(struct hpack_dec *d, uint32_t limit);

/*
 * Decode one whole header block: `emit` gets each field it can name.
 * Returns how many fields it could not (they named entries from before
 * the table was lost), or -EPROTO when the block does not parse or
 * -ENOMEM (the table is then forgotten either way).
 */
int hpack_dec_block(struct hpack_dec *d, const uint8_t *p, size_t n,
		    void (*emit)(void *arg, const nghttp2_nv *nv), void *arg);

#endif /* SPANPROBE_HPACK_H */
