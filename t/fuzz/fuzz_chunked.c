/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer harness for the chunked body walker (http_chunked_init and
 * http_chunked_feed in worker/http.c).
 *
 * A body reaches the walker in whatever pieces the network cuts it into,
 * so the one property that matters beyond memory safety is that the cuts
 * do not matter: the input is fed whole, one byte at a time, and in pieces
 * whose sizes come from its first bytes, and all three must agree on how
 * much belongs to the body, whether it ended, whether it was malformed and
 * what the decoded payload is.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "t/fuzz/fuzz.h"
#include "worker/http.h"

#define NPREFIX		4

/* Where decoded payload goes, and the piece being fed, to check spans against. */
struct sink {
	char *out;
	size_t len, cap;
	const char *piece;
	size_t piece_len;
};

struct walk {
	bool error;
	bool done;
	size_t consumed;		/* bytes that belong to the body */
	struct sink sink;
};

static void on_data(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;

	/* A span points into what was fed: the payload is never copied. */
	FUZZ_CHECK(fuzz_inside(p, n, s->piece, s->piece_len));
	FUZZ_CHECK(n <= s->cap - s->len);
	memcpy(s->out + s->len, p, n);
	s->len += n;
}

/* Feeds one piece from an exact-size copy; false once the body ended or failed. */
static bool feed(struct fc_chunked *c, struct walk *w, const char *p, size_t n)
{
	char *copy = fuzz_dup(p, n);
	ssize_t r;

	w->sink.piece = copy;
	w->sink.piece_len = n;
	r = http_chunked_feed(c, copy, n, on_data, &w->sink);
	free(copy);
	FUZZ_CHECK(r == FC_HTTP_ERROR || (r >= 0 && (size_t)r <= n));
	if (r == FC_HTTP_ERROR) {
		/* http.h: done means the last chunk and the trailers were seen. */
		FUZZ_CHECK(!c->done);
		w->error = true;
		return false;
	}
	w->consumed += (size_t)r;
	/* Only the end of the body stops short of the piece. */
	if ((size_t)r < n)
		FUZZ_CHECK(c->done);
	w->done = c->done;
	return !c->done;
}

/*
 * Walks buf[0..len) in pieces of 1 + next() % max bytes (max 0: all at
 * once), with an empty feed now and then, which must change nothing.
 */
static void walk(struct walk *w, const char *buf, size_t len, size_t max, uint64_t seed)
{
	struct fc_chunked c;
	size_t off = 0, n;

	memset(w, 0, sizeof(*w));
	w->sink.cap = len;
	w->sink.out = malloc(len > 0 ? len : 1);
	FUZZ_CHECK(w->sink.out != NULL);
	http_chunked_init(&c);
	FUZZ_CHECK(!c.done);
	do {
		n = max == 0 ? len - off : 1 + (size_t)(fuzz_next(&seed) % max);
		if (n > len - off)
			n = len - off;
		if ((seed & 7) == 0) {
			w->sink.piece = buf + off;
			w->sink.piece_len = 0;
			FUZZ_CHECK(http_chunked_feed(&c, buf + off, 0, on_data, &w->sink) == 0);
			FUZZ_CHECK(c.done == w->done);
		}
		if (!feed(&c, w, buf + off, n))
			break;
		off += n;
	} while (off < len);
	/* After the end, or an error, the walker takes nothing more. */
	w->sink.piece = buf;
	w->sink.piece_len = len;
	if (w->error)
		FUZZ_CHECK(http_chunked_feed(&c, buf, len, on_data, &w->sink) == FC_HTTP_ERROR);
	else if (w->done)
		FUZZ_CHECK(http_chunked_feed(&c, buf, len, on_data, &w->sink) == 0 && c.done);
}

static void check_same(const struct walk *a, const struct walk *b)
{
	FUZZ_CHECK(a->error == b->error);
	if (!a->error) {
		FUZZ_CHECK(a->consumed == b->consumed);
		FUZZ_CHECK(a->done == b->done);
	}
	/* Even before an error, the same payload was handed over. */
	FUZZ_CHECK(a->sink.len == b->sink.len);
	FUZZ_CHECK(memcmp(a->sink.out, b->sink.out, a->sink.len) == 0);
}

/* A complete body's strict prefixes are incomplete bodies, nothing else. */
static void check_prefixes(const char *buf, size_t body, const struct walk *whole,
    uint64_t seed)
{
	size_t cut[NPREFIX] = { body - 1, body / 2 };
	struct walk w;

	walk(&w, buf, body, 0, seed);
	FUZZ_CHECK(!w.error && w.done && w.consumed == body);
	check_same(whole, &w);
	free(w.sink.out);
	for (size_t i = 2; i < NPREFIX; i++)
		cut[i] = (size_t)(fuzz_next(&seed) % body);
	for (size_t i = 0; i < NPREFIX; i++) {
		walk(&w, buf, cut[i], 0, seed);
		FUZZ_CHECK(!w.error && !w.done && w.consumed == cut[i]);
		free(w.sink.out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t piece_max[] = { 2, 7, 64, 4096 };
	const char *buf = (const char *)data;
	uint64_t seed = fuzz_seed(data, size);
	struct walk whole, bytes, pieces;

	walk(&whole, buf, size, 0, seed);
	FUZZ_CHECK(whole.consumed <= size);
	if (!whole.error)
		FUZZ_CHECK(whole.sink.len <= whole.consumed);
	walk(&bytes, buf, size, 1, seed);
	check_same(&whole, &bytes);
	walk(&pieces, buf, size, piece_max[seed % 4], seed);
	check_same(&whole, &pieces);
	if (whole.done) {
		/* At least "0" CRLF CRLF, ending in the final CRLF. */
		FUZZ_CHECK(whole.consumed >= 5 && whole.sink.len <= whole.consumed - 5);
		FUZZ_CHECK(memcmp(buf + whole.consumed - 2, "\r\n", 2) == 0);
		check_prefixes(buf, whole.consumed, &whole, seed);
	}
	free(whole.sink.out);
	free(bytes.sink.out);
	free(pieces.sink.out);
	return 0;
}
