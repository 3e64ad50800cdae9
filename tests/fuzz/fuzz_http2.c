/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the HTTP/2 frame walker, the decoder (HPACK by
 * nghttp2's inflater) and what makes spans of its streams (HTTP and gRPC
 * attributes), through the decoder's protocol interface.  The input is a
 * script of chunks (fuzz_decoder.h); bit 0 of its first byte is
 * --with-query.  Exchanges are checked for the invariants the assembly
 * stage relies on, and, without gaps or lost steps, must not depend on
 * where reads begin and end (a connection picked up mid-stream is
 * recognised by its first read's boundaries: it counts as lost).
 *
 *   make fuzz && build/fuzz/fuzz_http2 -dict=tests/fuzz/http2.dict \
 *     tests/fuzz/corpus_http2
 */
#include "protocol/http2.h"
#include "fuzz/fuzz_decoder.h"

extern const struct proto_ops proto_http2;

static void opts(uint8_t first, struct proto_opts *o)
{
	o->with_query = first & 1;
}

static void fed(struct fuzz_dec *d, uint32_t started)
{
	CHECK(d->c.st.http2.n_streams <= HTTP2_STREAMS_MAX);
}

static uint32_t closing(struct fuzz_dec *d)
{
	return d->c.st.http2.stats.losses + d->c.st.http2.stats.midstream;
}

static void closed(struct fuzz_dec *d)
{
	CHECK(d->c.st.http2.n_streams == 0);
}

static const struct fuzz_target target = {
	.proto = &proto_http2,
	.local_port = 8443, .peer_port = 50000,
	.unordered = true,
	.traceparent_max = HTTP2_TRACEPARENT_MAX,
	.whole = FUZZ_WHOLE_NONE,
	.same = FUZZ_SAME_ANNOUNCED | FUZZ_SAME_TIMES | FUZZ_SAME_NAME,
	.opts = opts, .fed = fed, .closing = closing, .closed = closed,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_dec whole, bytes;

	return fuzz_dec_run(&target, &whole, &bytes, data, size);
}
