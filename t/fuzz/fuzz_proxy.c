/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer harness for the PROXY protocol codec (lib/proxyproto.c): the
 * input is whatever a client sends first on an accept_proxy listener.
 *
 * Besides "no crash, no over-read" (every parse is of an exact-size copy):
 * - the answer is -2, -1 or 1..len, never above the header's bound (107
 *   for v1, FC_PROXY_MAX for v2), and an error says why;
 * - never -2 once the input reaches that bound: the worker peeks at most
 *   FC_PROXY_MAX bytes, so waiting for more would stall the connection;
 * - reads split anywhere agree: every prefix is incomplete, an error, or
 *   the whole input's answer with the same addresses;
 * - the header alone parses the same, its strict prefixes are incomplete;
 * - a header naming a client, written back by proxyproto_write() in its
 *   version, parses back to the same addresses.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/proxyproto.h"
#include "t/fuzz/fuzz.h"

static int parse_copy(const uint8_t *data, size_t n, struct fc_proxy_hdr *h)
{
	char *copy = fuzz_dup(data, n);
	const char *why = NULL;
	int r;

	memset(h, 0xa5, sizeof(*h));	/* garbage before: nothing may leak */
	r = proxyproto_parse(copy, n, h, &why);
	free(copy);
	FUZZ_CHECK(r == FC_PROXY_INCOMPLETE || r == FC_PROXY_ERROR || (r > 0 && (size_t)r <= n));
	FUZZ_CHECK(r != FC_PROXY_ERROR || why != NULL);
	return r;
}

static bool same_hdr(const struct fc_proxy_hdr *a, const struct fc_proxy_hdr *b)
{
	if (a->version != b->version || a->local != b->local)
		return false;
	return a->local || (memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	    memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0);
}

static size_t bound_of(const uint8_t *data, size_t size)
{
	return size > 0 && data[0] == 'P' ? FC_PROXY_V1_MAX : FC_PROXY_MAX;
}

/* Prefixes as a reader sees them, one read after another. */
static void check_prefixes(const uint8_t *data, size_t size, int whole,
    const struct fc_proxy_hdr *h)
{
	struct fc_proxy_hdr p;
	uint64_t seed = fuzz_seed(data, size);

	for (int i = 0; i < 24 && size > 0; i++) {
		size_t n = i < 16 ? (size_t)i : (size_t)(fuzz_next(&seed) % size);
		int r;

		if (n > size)
			break;
		r = parse_copy(data, n, &p);
		if (whole > 0 && n >= (size_t)whole)
			FUZZ_CHECK(r == whole && same_hdr(&p, h));
		else if (whole > 0)
			FUZZ_CHECK(r == FC_PROXY_INCOMPLETE);
		else
			FUZZ_CHECK(r < 0);
	}
}

static void check_round_trip(const struct fc_proxy_hdr *h)
{
	char buf[FC_PROXY_WRITE_MAX];
	struct fc_proxy_hdr back;
	const char *why;
	int n;

	if (h->local)
		return;
	n = proxyproto_write(h->version, &h->src.sa, &h->dst.sa, buf, sizeof(buf));
	FUZZ_CHECK(n > 0 && n <= FC_PROXY_WRITE_MAX);
	FUZZ_CHECK(proxyproto_parse(buf, (size_t)n, &back, &why) == n);
	FUZZ_CHECK(same_hdr(&back, h));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_proxy_hdr h, alone;
	int r = parse_copy(data, size, &h);

	if (size >= bound_of(data, size))
		FUZZ_CHECK(r != FC_PROXY_INCOMPLETE);
	if (r > 0) {
		FUZZ_CHECK(h.version == (data[0] == 'P' ? 1 : 2));
		FUZZ_CHECK((size_t)r <= (h.version == 1 ? FC_PROXY_V1_MAX : FC_PROXY_MAX));
		FUZZ_CHECK(h.version == 2 || (data[r - 2] == '\r' && data[r - 1] == '\n'));
		FUZZ_CHECK(parse_copy(data, (size_t)r, &alone) == r && same_hdr(&alone, &h));
		if (r > 1)
			FUZZ_CHECK(parse_copy(data, (size_t)r - 1, &alone) == FC_PROXY_INCOMPLETE);
		check_round_trip(&h);
	}
	check_prefixes(data, size, r, &h);
	return 0;
}
