/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer harness for http_parse_response() (worker/http.c): what a
 * backend, or whoever got hold of one, sends back.
 *
 * The same checks as fuzz_request.c, as they apply to a status line and
 * a 502, plus: HEAD or not changes the framing only, and the framing
 * follows RFC 9112 section 6.3 as http.h describes it.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t/fuzz/fuzz.h"
#include "t/fuzz/fuzz_http.h"
#include "worker/http.h"
#include "worker/worker-t.h"

/* What stream.c passes. */
#define MAX_HEAD	((size_t)(FC_BUFSZ - FC_REWRITE))
#define NPREFIX		8

static int parse(const char *buf, size_t len, struct fc_http_msg *m, bool head_req,
    size_t max_head, int *status)
{
	int r = http_parse_response(buf, len, m, head_req, max_head, status);

	FUZZ_CHECK(r == FC_HTTP_INCOMPLETE || r == FC_HTTP_ERROR ||
	    (r > 0 && (size_t)r <= len && (size_t)r <= max_head));
	if (r == FC_HTTP_ERROR)
		FUZZ_CHECK(*status == 502);
	/*
	 * A full buffer cannot take the bytes a head still needs: waiting
	 * for them would stall the connection until a timeout.
	 */
	if (r == FC_HTTP_INCOMPLETE)
		FUZZ_CHECK(len < max_head);
	return r;
}

/* An accepted response head buf[0..len), to a HEAD request or not. */
static void check_response(const char *buf, size_t len, const struct fc_http_msg *m,
    bool head_req)
{
	int te = fuzz_last_header(m, "transfer-encoding");
	int cl = fuzz_last_header(m, "content-length");

	fuzz_check_fields(buf, len, m);
	fuzz_check_framing(m);
	/* HTTP-version SP 3DIGIT [SP reason-phrase], from the first byte. */
	FUZZ_CHECK(m->first_line == buf && m->first_line_len >= 12);
	FUZZ_CHECK(memcmp(buf, "HTTP/1.", 7) == 0 && buf[7] == '0' + m->version_minor);
	FUZZ_CHECK(buf[8] == ' ' && m->status >= 100 && m->status <= 599);
	FUZZ_CHECK((buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0') ==
	    m->status);
	FUZZ_CHECK(fuzz_inside(m->reason, m->reason_len, m->first_line, m->first_line_len));
	FUZZ_CHECK(m->reason + m->reason_len == m->first_line + m->first_line_len);
	for (size_t i = 0; i < m->reason_len; i++) {
		unsigned char c = (unsigned char)m->reason[i];

		FUZZ_CHECK(c >= 0x20 ? c != 0x7f : c == '\t');
	}
	FUZZ_CHECK(m->method == NULL && m->target == NULL);
	/* RFC 9112 section 6.3, rules 1 to 7 as far as a head can tell. */
	if (head_req || m->status < 200 || m->status == 204 || m->status == 304)
		FUZZ_CHECK(m->body == FC_BODY_NONE);
	else if (te >= 0)
		FUZZ_CHECK(m->body == FC_BODY_CHUNKED || m->body == FC_BODY_EOF);
	else if (cl >= 0)
		FUZZ_CHECK(m->body == (m->content_length > 0 ? FC_BODY_LENGTH : FC_BODY_NONE));
	else
		FUZZ_CHECK(m->body == FC_BODY_EOF);
}

static void check_prefixes(const char *buf, size_t head, bool head_req, uint64_t seed)
{
	size_t cut[NPREFIX] = { 0, 1, head / 2, head - 2, head - 1 };
	struct fc_http_msg m;
	char *copy;
	int st;

	for (size_t i = 5; i < NPREFIX; i++)
		cut[i] = (size_t)(fuzz_next(&seed) % head);
	for (size_t i = 0; i < NPREFIX; i++) {
		copy = fuzz_dup(buf, cut[i]);
		FUZZ_CHECK(parse(copy, cut[i], &m, head_req, MAX_HEAD, &st) ==
		    FC_HTTP_INCOMPLETE);
		free(copy);
	}
}

static void check_limits(const char *buf, size_t len, int r, bool head_req, uint64_t seed)
{
	struct fc_http_msg t;
	size_t head;
	int st, rt;

	if (r > 0) {
		FUZZ_CHECK(parse(buf, len, &t, head_req, (size_t)r, &st) == r);
		FUZZ_CHECK(parse(buf, len, &t, head_req, (size_t)r - 1, &st) ==
		    FC_HTTP_ERROR);
	}
	head = 1 + (size_t)(fuzz_next(&seed) % (len < MAX_HEAD ? len + 1 : MAX_HEAD));
	rt = parse(buf, len, &t, head_req, head, &st);
	if (rt > 0)
		FUZZ_CHECK(rt == r);
	if (rt == FC_HTTP_INCOMPLETE)
		FUZZ_CHECK(r == FC_HTTP_INCOMPLETE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	uint64_t seed = fuzz_seed(data, size);
	/* The length's parity, not a byte that the version or status would bias. */
	bool head_req = (size & 1) != 0;
	struct fc_http_msg m, again, other, exact;
	int r, st, st2;
	char *copy;

	memset(&m, 0, sizeof(m));
	r = parse(buf, size, &m, head_req, MAX_HEAD, &st);
	memset(&again, 0xa5, sizeof(again));
	FUZZ_CHECK(parse(buf, size, &again, head_req, MAX_HEAD, &st2) == r);
	fuzz_check_same(&m, buf, &again, buf);
	/* Whether the request was a HEAD changes the framing, nothing else. */
	FUZZ_CHECK(parse(buf, size, &other, !head_req, MAX_HEAD, &st2) == r);
	if (r <= 0)
		fuzz_check_same(&m, buf, &other, buf);
	if (r > 0) {
		check_response(buf, (size_t)r, &m, head_req);
		check_response(buf, (size_t)r, &other, !head_req);
		/* The answer to a HEAD has no body, whatever its fields say. */
		if (other.body != m.body)
			FUZZ_CHECK((head_req ? m.body : other.body) == FC_BODY_NONE);
		other.body = m.body;
		fuzz_check_same(&m, buf, &other, buf);
		copy = fuzz_dup(buf, (size_t)r);
		FUZZ_CHECK(parse(copy, (size_t)r, &exact, head_req, MAX_HEAD, &st) == r);
		fuzz_check_same(&m, buf, &exact, copy);
		free(copy);
		check_prefixes(buf, (size_t)r, head_req, seed);
	}
	check_limits(buf, size, r, head_req, seed);
	return 0;
}
