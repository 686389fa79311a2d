/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer harness for http_parse_request() (worker/http.c), the first
 * code to read an attacker's bytes.
 *
 * Not crashing is the least of it.  The input is parsed with the limits
 * the worker uses and then again in ways whose answers are known in
 * advance: twice (same answer), on strict prefixes of an accepted head
 * (incomplete: the worker waits for more and never acts on half a head),
 * on the head alone (same head), and with tighter limits (a limit may only
 * turn an answer into an error, and exactly at the head's size it must
 * not).  See t/fuzz/README.md for the list.
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

/* What stream.c passes: the limits every request really meets. */
#define MAX_LINE	((size_t)FC_MAX_LINE)
#define MAX_HEAD	((size_t)(FC_BUFSZ - FC_REWRITE))
#define NPREFIX		8	/* prefixes tried per accepted head */

/* Parses and checks what holds for any answer. */
static int parse(const char *buf, size_t len, struct fc_http_msg *m, size_t max_line,
    size_t max_head, int *status)
{
	int r = http_parse_request(buf, len, m, max_line, max_head, status);

	FUZZ_CHECK(r == FC_HTTP_INCOMPLETE || r == FC_HTTP_ERROR ||
	    (r > 0 && (size_t)r <= len && (size_t)r <= max_head));
	/* 501: CONNECT, or a coding before chunked (not implemented). */
	if (r == FC_HTTP_ERROR)
		FUZZ_CHECK(*status == 400 || *status == 414 || *status == 431 ||
		    *status == 501);
	/*
	 * A full buffer cannot take the bytes a head still needs: waiting
	 * for them would stall the connection until a timeout.
	 */
	if (r == FC_HTTP_INCOMPLETE)
		FUZZ_CHECK(len < max_head);
	return r;
}

/* An accepted request head buf[0..len). */
static void check_request(const char *buf, size_t len, const struct fc_http_msg *m,
    size_t max_line)
{
	const char *line = m->first_line;

	fuzz_check_fields(buf, len, m);
	fuzz_check_framing(m);
	/* At most 4 empty lines before the request line, nothing else. */
	FUZZ_CHECK(line >= buf && (size_t)(line - buf) <= 8 && (line - buf) % 2 == 0);
	for (const char *p = buf; p < line; p += 2)
		FUZZ_CHECK(p[0] == '\r' && p[1] == '\n');
	FUZZ_CHECK(m->first_line_len <= max_line);
	/* method SP request-target SP HTTP-version, single spaces. */
	FUZZ_CHECK(m->method == line && m->method_len > 0);
	for (size_t i = 0; i < m->method_len; i++)
		FUZZ_CHECK(fuzz_is_tchar((unsigned char)m->method[i]));
	FUZZ_CHECK(m->target == line + m->method_len + 1 && m->target[-1] == ' ');
	FUZZ_CHECK(m->target_len > 0);
	for (size_t i = 0; i < m->target_len; i++) {
		unsigned char c = (unsigned char)m->target[i];

		FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '#');
	}
	FUZZ_CHECK(m->method_len + m->target_len + 10 == m->first_line_len);
	FUZZ_CHECK(memcmp(m->target + m->target_len, " HTTP/1.", 8) == 0);
	FUZZ_CHECK(m->target[m->target_len + 8] == '0' + m->version_minor);
	FUZZ_CHECK(m->status == 0 && m->reason == NULL);
	/* RFC 9112 section 3.2: HTTP/1.1 needs exactly one Host. */
	if (m->version_minor == 1)
		FUZZ_CHECK(m->host >= 0);
	if (m->host >= 0)
		FUZZ_CHECK(http_find_header(m, "host", (size_t)m->host + 1) == -1);
	/* A request's only transfer coding is chunked, so it is framed so. */
	FUZZ_CHECK((m->body == FC_BODY_CHUNKED) ==
	    (fuzz_last_header(m, "transfer-encoding") >= 0));
	FUZZ_CHECK(m->body != FC_BODY_EOF);
	FUZZ_CHECK((m->body == FC_BODY_LENGTH) == (m->content_length > 0));
	FUZZ_CHECK(m->expect_continue == fuzz_any_token(m, "expect", "100-continue"));
}

/* Parses an exact-size copy of buf[0..n), so over-reads are caught. */
static int parse_copy(const char *buf, size_t n, struct fc_http_msg *m, size_t max_line,
    size_t max_head, int *status, char **copy)
{
	*copy = fuzz_dup(buf, n);
	return parse(*copy, n, m, max_line, max_head, status);
}

static void check_prefixes(const char *buf, size_t head, uint64_t seed)
{
	size_t cut[NPREFIX] = { 0, 1, head / 2, head - 2, head - 1 };
	struct fc_http_msg m;
	int st;
	char *copy;

	for (size_t i = 5; i < NPREFIX; i++)
		cut[i] = (size_t)(fuzz_next(&seed) % head);
	for (size_t i = 0; i < NPREFIX; i++) {
		FUZZ_CHECK(parse_copy(buf, cut[i], &m, MAX_LINE, MAX_HEAD, &st, &copy) ==
		    FC_HTTP_INCOMPLETE);
		free(copy);
	}
}

/* Limits decide only whether to refuse, and exactly at the head's size they don't. */
static void check_limits(const char *buf, size_t len, int r, const struct fc_http_msg *m,
    uint64_t seed)
{
	struct fc_http_msg t;
	size_t line, head;
	int st, rt;

	if (r > 0) {
		line = m->first_line_len;
		head = (size_t)r;
		FUZZ_CHECK(parse(buf, len, &t, line, MAX_HEAD, &st) == r);
		FUZZ_CHECK(parse(buf, len, &t, line - 1, MAX_HEAD, &st) == FC_HTTP_ERROR &&
		    st == 414);
		FUZZ_CHECK(parse(buf, len, &t, MAX_LINE, head, &st) == r);
		FUZZ_CHECK(parse(buf, len, &t, MAX_LINE, head - 1, &st) == FC_HTTP_ERROR &&
		    st == 431);
	}
	/* Any smaller limits: success only as before, incomplete only as before. */
	line = 1 + (size_t)(fuzz_next(&seed) % (len < MAX_LINE ? len + 1 : MAX_LINE));
	head = 1 + (size_t)(fuzz_next(&seed) % (len < MAX_HEAD ? len + 1 : MAX_HEAD));
	rt = parse(buf, len, &t, line, head, &st);
	if (rt > 0)
		FUZZ_CHECK(rt == r);
	if (rt == FC_HTTP_INCOMPLETE)
		FUZZ_CHECK(r == FC_HTTP_INCOMPLETE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	uint64_t seed = fuzz_seed(data, size);
	struct fc_http_msg m, again, exact;
	int r, st, st2;
	char *copy;

	memset(&m, 0, sizeof(m));
	r = parse(buf, size, &m, MAX_LINE, MAX_HEAD, &st);
	/* Deterministic, and blind to what the message held before. */
	memset(&again, 0xa5, sizeof(again));
	FUZZ_CHECK(parse(buf, size, &again, MAX_LINE, MAX_HEAD, &st2) == r);
	if (r == FC_HTTP_ERROR)
		FUZZ_CHECK(st2 == st);
	fuzz_check_same(&m, buf, &again, buf);
	if (r > 0) {
		check_request(buf, (size_t)r, &m, MAX_LINE);
		/* The head alone is the same head: what follows never counts. */
		FUZZ_CHECK(parse_copy(buf, (size_t)r, &exact, MAX_LINE, MAX_HEAD, &st, &copy) ==
		    r);
		fuzz_check_same(&m, buf, &exact, copy);
		free(copy);
		check_prefixes(buf, (size_t)r, seed);
	}
	check_limits(buf, size, r, &m, seed);
	return 0;
}
