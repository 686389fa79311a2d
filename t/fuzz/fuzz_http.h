/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Checks shared by the request and response harnesses: what every parsed
 * head must look like, whichever parser produced it.  They restate the
 * contract of worker/http.h from the caller's side (pointers, character
 * classes, Connection flags, framing) without reusing worker/http.c's own
 * helpers, so that a bug there cannot hide itself.
 */
#ifndef FC_T_FUZZ_HTTP_H
#define FC_T_FUZZ_HTTP_H

#include "t/fuzz/fuzz.h"
#include "worker/http.h"

/* A field value: no CTL but HTAB, no blank at either end (RFC 9110 5.5). */
static inline bool fuzz_valid_value(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return n == 0 || (v[0] != ' ' && v[0] != '\t' && v[n - 1] != ' ' && v[n - 1] != '\t');
}

/* Any field called name whose value lists token, as the parser must see it. */
static inline bool fuzz_any_token(const struct fc_http_msg *m, const char *name,
    const char *token)
{
	for (size_t i = 0; i < m->nheaders; i++)
		if (fuzz_ci_eq(m->headers[i].name, m->headers[i].name_len, name) &&
		    fuzz_has_token(m->headers[i].value, m->headers[i].value_len, token))
			return true;
	return false;
}

/* The last field called name, or -1. */
static inline int fuzz_last_header(const struct fc_http_msg *m, const char *name)
{
	int last = -1;

	for (size_t i = 0; i < m->nheaders; i++)
		if (fuzz_ci_eq(m->headers[i].name, m->headers[i].name_len, name))
			last = (int)i;
	return last;
}

/*
 * The head buf[0..len) was accepted: every field lies inside it, in order,
 * ends where the bytes say, and the summary flags agree with the fields.
 */
static inline void fuzz_check_fields(const char *buf, size_t len, const struct fc_http_msg *m)
{
	static const char *const tokens[] = { "close", "keep-alive", "upgrade",
	    "chunked", "100-continue" };
	const char *prev = m->first_line + m->first_line_len;
	int host;

	FUZZ_CHECK(len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0);
	FUZZ_CHECK(fuzz_inside(m->first_line, m->first_line_len + 2, buf, len));
	FUZZ_CHECK(memcmp(m->first_line + m->first_line_len, "\r\n", 2) == 0);
	FUZZ_CHECK(m->version_minor == 0 || m->version_minor == 1);
	FUZZ_CHECK(m->nheaders <= FC_HTTP_MAX_HEADERS);
	for (size_t i = 0; i < m->nheaders; i++) {
		const struct fc_http_header *h = &m->headers[i];

		FUZZ_CHECK(fuzz_inside(h->name, h->name_len + 1, buf, len));
		FUZZ_CHECK(fuzz_inside(h->value, h->value_len + 2, buf, len));
		/* Each field starts the line right after the previous one. */
		FUZZ_CHECK(h->name == prev + 2);
		FUZZ_CHECK(h->name_len > 0 && h->name[h->name_len] == ':');
		for (size_t j = 0; j < h->name_len; j++)
			FUZZ_CHECK(fuzz_is_tchar((unsigned char)h->name[j]));
		/* Only blanks between the colon and the value. */
		FUZZ_CHECK(h->value >= h->name + h->name_len + 1);
		for (const char *q = h->name + h->name_len + 1; q < h->value; q++)
			FUZZ_CHECK(*q == ' ' || *q == '\t');
		FUZZ_CHECK(fuzz_valid_value(h->value, h->value_len));
		/* Only blanks between the value and its line's CRLF. */
		for (prev = h->value + h->value_len; *prev == ' ' || *prev == '\t'; prev++)
			;
		FUZZ_CHECK(memcmp(prev, "\r\n", 2) == 0);
		for (size_t t = 0; t < sizeof(tokens) / sizeof(tokens[0]); t++)
			FUZZ_CHECK(http_value_has_token(h->value, h->value_len, tokens[t]) ==
			    fuzz_has_token(h->value, h->value_len, tokens[t]));
	}
	/* After the last field (or the first line) comes the empty line. */
	FUZZ_CHECK(prev + 4 == buf + len);
	host = http_find_header(m, "host", 0);
	FUZZ_CHECK(m->host == host);
	FUZZ_CHECK(host == -1 || fuzz_ci_eq(m->headers[host].name, 4, "host"));
	FUZZ_CHECK(m->conn_keepalive == fuzz_any_token(m, "connection", "keep-alive"));
	FUZZ_CHECK(m->upgrade == fuzz_any_token(m, "connection", "upgrade"));
	/* RFC 9112 section 9.3: HTTP/1.0 persists only when asked to. */
	FUZZ_CHECK(m->conn_close == (fuzz_any_token(m, "connection", "close") ||
	    (m->version_minor == 0 && !m->conn_keepalive)));
	FUZZ_CHECK(m->content_length <= (UINT64_C(1) << 62));
}

/*
 * Transfer-Encoding and Content-Length never both (RFC 9112 section 6.3
 * rule 3, which fulcrum enforces both ways), and chunked framing only when
 * the last field ends in the chunked coding.
 */
static inline void fuzz_check_framing(const struct fc_http_msg *m)
{
	int te = fuzz_last_header(m, "transfer-encoding");
	int cl = fuzz_last_header(m, "content-length");

	FUZZ_CHECK(te < 0 || cl < 0);
	FUZZ_CHECK(te < 0 || m->version_minor == 1);
	if (m->body == FC_BODY_CHUNKED) {
		const char *v;
		size_t n;

		FUZZ_CHECK(te >= 0);
		v = m->headers[te].value;
		n = m->headers[te].value_len;
		FUZZ_CHECK(n >= 7 && fuzz_ci_eq(v + n - 7, 7, "chunked"));
		FUZZ_CHECK(n == 7 || v[n - 8] == ',' || v[n - 8] == ' ' || v[n - 8] == '\t');
		FUZZ_CHECK(m->content_length == 0);
	}
	if (m->body == FC_BODY_LENGTH)
		FUZZ_CHECK(cl >= 0 && m->content_length > 0);
	if (cl < 0)
		FUZZ_CHECK(m->content_length == 0);
}

/* Offset of p in buf, or -1 for NULL: to compare messages across copies. */
static inline ptrdiff_t fuzz_off(const char *p, const char *buf)
{
	return p == NULL ? -1 : p - buf;
}

/* Two parses of the same bytes (possibly at different addresses) agree. */
static inline void fuzz_check_same(const struct fc_http_msg *a, const char *abuf,
    const struct fc_http_msg *b, const char *bbuf)
{
	FUZZ_CHECK(fuzz_off(a->method, abuf) == fuzz_off(b->method, bbuf));
	FUZZ_CHECK(a->method_len == b->method_len);
	FUZZ_CHECK(fuzz_off(a->target, abuf) == fuzz_off(b->target, bbuf));
	FUZZ_CHECK(a->target_len == b->target_len);
	FUZZ_CHECK(a->status == b->status);
	FUZZ_CHECK(fuzz_off(a->reason, abuf) == fuzz_off(b->reason, bbuf));
	FUZZ_CHECK(a->reason_len == b->reason_len);
	FUZZ_CHECK(a->version_minor == b->version_minor);
	FUZZ_CHECK(fuzz_off(a->first_line, abuf) == fuzz_off(b->first_line, bbuf));
	FUZZ_CHECK(a->first_line_len == b->first_line_len);
	FUZZ_CHECK(a->nheaders == b->nheaders);
	for (size_t i = 0; i < a->nheaders && i < b->nheaders; i++) {
		const struct fc_http_header *x = &a->headers[i], *y = &b->headers[i];

		FUZZ_CHECK(fuzz_off(x->name, abuf) == fuzz_off(y->name, bbuf));
		FUZZ_CHECK(x->name_len == y->name_len);
		FUZZ_CHECK(fuzz_off(x->value, abuf) == fuzz_off(y->value, bbuf));
		FUZZ_CHECK(x->value_len == y->value_len);
	}
	FUZZ_CHECK(a->body == b->body);
	FUZZ_CHECK(a->content_length == b->content_length);
	FUZZ_CHECK(a->conn_close == b->conn_close);
	FUZZ_CHECK(a->conn_keepalive == b->conn_keepalive);
	FUZZ_CHECK(a->expect_continue == b->expect_continue);
	FUZZ_CHECK(a->upgrade == b->upgrade);
	FUZZ_CHECK(a->host == b->host);
}

#endif
