/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * HTTP/1.1 head parser and chunked body walker (see http.h).
 *
 * Wherever RFC 9112 leaves room for leniency that could make two parsers on
 * a path disagree about where a message ends (request smuggling, response
 * splitting), we take the strict reading; each such choice cites the RFC.
 * Nothing here allocates, copies or reads past buf + len.
 */
#include "config.h"

#include <string.h>

#include "lib/str.h"
#include "worker/http.h"

#define FC_HTTP_MAX_EMPTY_LINES	4	/* CRLFs skipped before a request-line */
#define FC_HTTP_MAX_LENGTH	(UINT64_C(1) << 62)	/* Content-Length, chunk-size */
#define FC_CHUNK_MAX_DIGITS	16
#define FC_CHUNK_MAX_LINE	4096	/* chunk-size line, extensions and CRLF */
#define FC_CHUNK_MAX_TRAILER	4096	/* one trailer line and its CRLF */
#define FC_CHUNK_MAX_TRAILERS	16384	/* all trailer lines and the final CRLF */

#define C_TCHAR	0x01	/* tchar (RFC 9110 section 5.6.2) */
#define C_HOST	0x02	/* may appear in uri-host [":" port] (RFC 3986 3.2) */

/* Character classes of US-ASCII; bytes 0x80-0xff belong to none. */
static const unsigned char ctab[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x10 */
	0, 3, 0, 1, 3, 3, 3, 3, 2, 2, 3, 3, 2, 3, 3, 0,	/* 0x20  !"#$%&'()*+,-./ */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 0, 2, 0, 0,	/* 0x30 0-9:;<=>? */
	0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* 0x40 @A-O */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 0, 2, 1, 3,	/* 0x50 P-Z[\]^_ */
	1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* 0x60 `a-o */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 1, 0, 3, 0,	/* 0x70 p-z{|}~DEL */
};

static bool is_tchar(unsigned char c)
{
	return (ctab[c] & C_TCHAR) != 0;
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* HTAB, SP, VCHAR and obs-text: all a line may hold (RFC 9110 section 5.5). */
static bool is_line_byte(unsigned char c)
{
	return c >= 0x20 ? c != 0x7f : c == '\t';
}

/*
 * Steps through a comma-separated list (RFC 9110 section 5.6.1).  Each call
 * gives the next element, OWS trimmed and possibly empty; *it becomes NULL
 * after the last one.
 */
static bool list_next(const char **it, const char *end, const char **elem, size_t *elen)
{
	const char *s = *it, *e, *comma;

	if (s == NULL)
		return false;
	comma = s < end ? memchr(s, ',', (size_t)(end - s)) : NULL;
	e = comma != NULL ? comma : end;
	*it = comma != NULL ? comma + 1 : NULL;
	while (s < e && is_ows((unsigned char)*s))
		s++;
	while (e > s && is_ows((unsigned char)e[-1]))
		e--;
	*elem = s;
	*elen = (size_t)(e - s);
	return true;
}

bool http_list_has(const char *value, size_t len, const char *token, size_t toklen)
{
	const char *it = value, *e;
	size_t n;

	if (len == 0)			/* value may then be NULL */
		return false;
	while (list_next(&it, value + len, &e, &n))
		if (str_ieq(e, n, token, toklen))
			return true;
	return false;
}

bool http_value_has_token(const char *value, size_t len, const char *token)
{
	return http_list_has(value, len, token, strlen(token));
}

int http_find_header(const struct fc_http_msg *msg, const char *name, size_t from)
{
	size_t len = strlen(name);

	for (size_t i = from; i < msg->nheaders; i++)
		if (str_ieq(msg->headers[i].name, msg->headers[i].name_len, name, len))
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------ lines */

/*
 * True when one of the 8 bytes at p is below 0x20 or is DEL: the usual
 * "has less than" and "has zero" word tricks, exact as booleans.
 */
static bool word_has_ctl(const char *p)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t highs = UINT64_C(0x8080808080808080);
	uint64_t x, d;

	memcpy(&x, p, sizeof(x));
	d = x ^ (ones * 0x7f);
	return ((((x - ones * 0x20) & ~x) | ((d - ones) & ~d)) & highs) != 0;
}

/* The first byte in [p, end) that may not appear inside a line, or end. */
static const char *line_stop(const char *p, const char *end)
{
	const char *w;

	for (;;) {
		while (end - p >= 8 && !word_has_ctl(p))
			p += 8;
		w = end - p >= 8 ? p + 8 : end;
		for (; p < w; p++)
			if (!is_line_byte((unsigned char)*p))
				return p;
		if (p == end)
			return end;
	}
}

enum line_res { LINE_OK, LINE_INCOMPLETE, LINE_BAD, LINE_LONG };

/*
 * Finds the CRLF ending the line at p (*eol then points to its CR).  A line
 * holding more than max bytes before its CRLF is LINE_LONG as soon as
 * max + 1 bytes are there.
 *
 * RFC 9112 section 2.2 lets a recipient accept a bare LF as a line
 * terminator.  We do not: a peer that does not would read a different
 * message from the same bytes, which is what smuggling feeds on.  A bare CR,
 * NUL or other control byte (HTAB aside) is an error anywhere in a head, as
 * that section and RFC 9110 section 5.5 allow.
 */
static enum line_res find_eol(const char *p, const char *end, size_t max, const char **eol)
{
	size_t avail = (size_t)(end - p);
	const char *lim = avail > max ? p + max + 1 : end;
	const char *q = line_stop(p, lim);

	if (q == lim)
		return avail > max ? LINE_LONG : LINE_INCOMPLETE;
	if (*q != '\r')
		return LINE_BAD;
	if (q + 1 == end)
		return LINE_INCOMPLETE;
	if (q[1] != '\n')
		return LINE_BAD;
	*eol = q;
	return LINE_OK;
}

/* ------------------------------------------------------------ parser */

struct parser {
	struct fc_http_msg *msg;
	bool response;
	int status;			/* answer to a failure */
	int hosts;			/* Host fields seen */
	bool cl;			/* Content-Length seen */
	bool te;			/* Transfer-Encoding seen */
	bool te_chunked;		/* the last transfer coding so far is chunked */
	bool te_other;			/* a coding other than chunked is listed */
	const char *authority;		/* of an absolute-form target */
	size_t authority_len;
	unsigned int default_port;	/* of its scheme */
};

static void msg_init(struct fc_http_msg *msg)
{
	msg->method = NULL;
	msg->method_len = 0;
	msg->target = NULL;
	msg->target_len = 0;
	msg->status = 0;
	msg->reason = NULL;
	msg->reason_len = 0;
	msg->version_minor = 0;
	msg->first_line = NULL;
	msg->first_line_len = 0;
	msg->nheaders = 0;		/* headers[] past nheaders stay undefined */
	msg->body = FC_BODY_NONE;
	msg->content_length = 0;
	msg->conn_close = false;
	msg->conn_keepalive = false;
	msg->expect_continue = false;
	msg->upgrade = false;
	msg->upgrade_websocket = false;
	msg->host = -1;
	msg->conn_names = -1;
}

static void parser_init(struct parser *ps, struct fc_http_msg *msg, bool response)
{
	memset(ps, 0, sizeof(*ps));
	ps->msg = msg;
	ps->response = response;
	msg_init(msg);
}

static int fail(struct parser *ps, int status)
{
	/* A bad response reaches the client as a 502 (RFC 9110 section 15.6.3). */
	ps->status = ps->response ? 502 : status;
	return FC_HTTP_ERROR;
}

/* More bytes are needed, unless the head can no longer fit in max_head. */
static int incomplete(struct parser *ps, size_t len, size_t max_head)
{
	return len >= max_head ? fail(ps, 431) : FC_HTTP_INCOMPLETE;
}

/* "HTTP/1.0" or "HTTP/1.1", case-sensitive (RFC 9112 section 2.3). */
static int parse_version(const char *p, int *minor)
{
	if (memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
		return -1;
	*minor = p[7] - '0';
	return 0;
}

/* 1*DIGIT, at most FC_HTTP_MAX_LENGTH (RFC 9110 section 8.6). */
static int parse_length(const char *p, size_t n, uint64_t *v)
{
	*v = 0;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned int d = (unsigned char)p[i] - '0';

		if (d > 9 || *v > (FC_HTTP_MAX_LENGTH - d) / 10)
			return -1;
		*v = *v * 10 + d;
	}
	return 0;
}

/*
 * Splits uri-host [":" port] (RFC 3986 section 3.2.2); *port is -1 when
 * absent or empty (the scheme's default).  A reg-name cannot hold ":", an
 * IP-literal sits in brackets.
 */
int http_split_authority(const char *a, size_t len, size_t *hostlen, long *port)
{
	const char *sep;
	size_t i;

	for (i = 0; i < len; i++)
		if (!(ctab[(unsigned char)a[i]] & C_HOST))
			return -1;
	if (len > 0 && a[0] == '[') {
		if ((sep = memchr(a, ']', len)) == NULL)
			return -1;
		sep++;
	} else
		sep = memchr(a, ':', len);
	*hostlen = sep != NULL ? (size_t)(sep - a) : len;
	*port = -1;
	if (*hostlen == len)
		return 0;
	if (a[*hostlen] != ':')
		return -1;
	for (i = *hostlen + 1; i < len; i++) {
		unsigned int d = (unsigned char)a[i] - '0';

		if (d > 9)
			return -1;
		*port = (*port < 0 ? 0 : *port) * 10 + d;
		if (*port > 65535)
			return -1;
	}
	return 0;
}

bool http_host_name(const struct fc_http_msg *m, const char **h, size_t *n)
{
	const struct fc_http_header *f;
	long port;

	if (m->host < 0)
		return false;
	f = &m->headers[m->host];
	*h = f->value;
	return http_split_authority(f->value, f->value_len, n, &port) == 0 && *n > 0;
}

/* Same host (case-insensitive) and same port, an absent port being the default. */
static bool authority_eq(const char *a, size_t alen, const char *b, size_t blen,
    unsigned int defport)
{
	size_t ahost, bhost;
	long aport, bport;

	if (http_split_authority(a, alen, &ahost, &aport) == -1 ||
	    http_split_authority(b, blen, &bhost, &bport) == -1)
		return false;
	if (aport < 0)
		aport = defport;
	if (bport < 0)
		bport = defport;
	return aport == bport && str_ieq(a, ahost, b, bhost);
}

/*
 * RFC 9112 section 3.2.2: absolute-form.  Only http and https make sense
 * to a gateway.  The authority must be there (RFC 9110 section 4.2.1) and
 * without userinfo (section 4.2.4 says to treat it as an error).
 */
static int check_absolute_form(struct parser *ps, const char *t, size_t n)
{
	const char *a, *e;
	size_t hostlen, skip;
	long port;

	if (n >= 7 && str_ieq(t, 7, "http://", 7)) {
		skip = 7;
		ps->default_port = 80;
	} else if (n >= 8 && str_ieq(t, 8, "https://", 8)) {
		skip = 8;
		ps->default_port = 443;
	} else
		return -1;
	a = t + skip;
	for (e = a; e < t + n && *e != '/' && *e != '?'; e++)
		;
	if (http_split_authority(a, (size_t)(e - a), &hostlen, &port) == -1 || hostlen == 0)
		return -1;
	ps->authority = a;
	ps->authority_len = (size_t)(e - a);
	return 0;
}

/* True for a method spelled like lit in another case: "head", "Connect". */
static bool case_variant(const struct fc_http_msg *m, const char *lit)
{
	return str_ieq_lit(m->method, m->method_len, lit) &&
	    memcmp(m->method, lit, m->method_len) != 0;
}

/*
 * Which request-target forms fit which method (RFC 9112 section 3.2):
 * authority-form for CONNECT and only there, with a port (RFC 9110 section
 * 9.3.6); asterisk-form for OPTIONS only; origin-form or absolute-form for
 * everything else.  Method names are case-sensitive (RFC 9110 section 9.1),
 * so "get" is a method of its own, passed on.  But HEAD and CONNECT decide
 * how the response is framed (RFC 9112 section 6.3, rules 1 and 2): a
 * server that took "head" for HEAD would send no body where we wait for
 * one, and the next response would be read as this one's.  Their case
 * variants are refused.
 */
static int check_target(struct parser *ps)
{
	const struct fc_http_msg *m = ps->msg;
	bool connect = m->method_len == 7 && memcmp(m->method, "CONNECT", 7) == 0;
	size_t hostlen;
	long port;

	if (case_variant(m, "HEAD") || case_variant(m, "CONNECT"))
		return -1;
	if (connect)
		return http_split_authority(m->target, m->target_len, &hostlen, &port) == 0 &&
		    hostlen > 0 && port >= 0 ? 0 : -1;
	if (m->target[0] == '/')
		return 0;
	if (m->target_len == 1 && m->target[0] == '*')
		return m->method_len == 7 && memcmp(m->method, "OPTIONS", 7) == 0 ? 0 : -1;
	return check_absolute_form(ps, m->target, m->target_len);
}

/*
 * A request-target is visible ASCII (RFC 3986 has no room for controls,
 * spaces or obs-text); "#" starts a fragment, which a request must not
 * carry (RFC 9112 section 3.2; HAProxy CVE-2023-45539).
 */
static bool is_target_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '#';
}

/*
 * request-line = method SP request-target SP HTTP-version, with single
 * spaces only: RFC 9112 section 3 allows a server to split on any run of
 * whitespace, which we refuse for the same reason as bare LF.
 */
static int parse_request_line(struct parser *ps, const char *p, const char *eol)
{
	struct fc_http_msg *m = ps->msg;
	const char *q = p, *t;

	while (q < eol && is_tchar((unsigned char)*q))
		q++;
	if (q == p || q == eol || *q != ' ')
		return -1;
	m->method = p;
	m->method_len = (size_t)(q - p);
	for (t = ++q; q < eol && is_target_byte((unsigned char)*q); q++)
		;
	if (q == t || q == eol || *q != ' ')
		return -1;
	m->target = t;
	m->target_len = (size_t)(q - t);
	q++;
	if (eol - q != 8 || parse_version(q, &m->version_minor) == -1)
		return -1;
	return check_target(ps);
}

/*
 * status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ]
 * (RFC 9112 section 4).  "HTTP/1.1 200" without the second SP is common
 * enough to accept: nothing can be smuggled through it.
 */
static int parse_status_line(struct parser *ps, const char *p, const char *eol)
{
	struct fc_http_msg *m = ps->msg;
	size_t n = (size_t)(eol - p);
	int code = 0;

	if (n < 12 || parse_version(p, &m->version_minor) == -1 || p[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		code = code * 10 + (p[i] - '0');
	}
	if (code < 100 || code > 599)
		return -1;
	if (n > 12 && p[12] != ' ')
		return -1;
	m->status = code;
	m->reason = n > 12 ? p + 13 : eol;
	m->reason_len = n > 12 ? n - 13 : 0;
	return 0;
}

/*
 * RFC 9112 section 3.2: a request with several Host fields, or one with an
 * invalid value, gets a 400.  An empty Host is valid (RFC 9110 section 7.2).
 */
static int on_host(struct parser *ps, const struct fc_http_header *h, int idx)
{
	size_t hostlen;
	long port;

	if (ps->msg->host < 0)
		ps->msg->host = idx;
	if (ps->response)
		return 0;
	if (++ps->hosts > 1)
		return -1;
	return http_split_authority(h->value, h->value_len, &hostlen, &port);
}

/*
 * RFC 9110 section 8.6: several Content-Length values (fields or list
 * members) are acceptable only when identical; anything else, a sign or a
 * value above 2^62 is invalid.  Empty list members are refused too.
 */
static int on_content_length(struct parser *ps, const struct fc_http_header *h)
{
	const char *it = h->value, *e;
	size_t n;
	uint64_t v;

	while (list_next(&it, h->value + h->value_len, &e, &n)) {
		if (parse_length(e, n, &v) == -1)
			return -1;
		if (ps->cl && v != ps->msg->content_length)
			return -1;
		ps->cl = true;
		ps->msg->content_length = v;
	}
	return 0;
}

/*
 * Transfer-Encoding, possibly repeated: the codings of all fields in order
 * (RFC 9110 section 5.3).  chunked must come last and once (RFC 9112
 * section 6.1) and takes no parameters (section 7).  Empty list members,
 * which RFC 9110 section 5.6.1 would have us skip, are refused: this field
 * decides framing.  Other codings are noted: finish_request() refuses them.
 */
static int on_transfer_encoding(struct parser *ps, const struct fc_http_header *h)
{
	const char *it = h->value, *e, *q;
	size_t n, tok;
	bool chunked;

	ps->te = true;
	while (list_next(&it, h->value + h->value_len, &e, &n)) {
		for (tok = 0; tok < n && is_tchar((unsigned char)e[tok]); tok++)
			;
		if (tok == 0 || ps->te_chunked)
			return -1;
		if (tok < n) {		/* transfer-parameters */
			for (q = e + tok; q < e + n && is_ows((unsigned char)*q); q++)
				;
			if (q == e + n || *q != ';')
				return -1;
		}
		chunked = str_ieq_lit(e, tok, "chunked");
		if (chunked && tok < n)
			return -1;
		if (!chunked)
			ps->te_other = true;
		ps->te_chunked = chunked;
	}
	return 0;
}

/*
 * The connection options, in one pass.  keep-alive and upgrade are also
 * the names of fields dropped anyway as hop-by-hop; any other option
 * (close included: a "Close" field goes too) names a field to drop.
 */
static void on_connection(struct parser *ps, const struct fc_http_header *h, int idx)
{
	struct fc_http_msg *m = ps->msg;
	const char *it = h->value, *e;
	size_t n;

	if (h->value_len == 0)
		return;
	while (list_next(&it, h->value + h->value_len, &e, &n)) {
		if (str_ieq(e, n, "keep-alive", 10)) {
			m->conn_keepalive = true;
			continue;
		}
		if (str_ieq(e, n, "upgrade", 7)) {
			m->upgrade = true;
			continue;
		}
		if (str_ieq(e, n, "close", 5))
			m->conn_close = true;
		if (n > 0 && m->conn_names < 0)
			m->conn_names = idx;
	}
}

/* Records what a field means for framing and the connection. */
static int on_field(struct parser *ps, const struct fc_http_header *h, int idx)
{
	switch (h->name_len) {
	case 4:
		if (str_ieq_lit(h->name, 4, "host"))
			return on_host(ps, h, idx);
		break;
	case 6:
		if (!ps->response && str_ieq_lit(h->name, 6, "expect") &&
		    http_value_has_token(h->value, h->value_len, "100-continue"))
			ps->msg->expect_continue = true;
		break;
	case 7:
		/* RFC 9110 section 7.8; the protocol names are case-insensitive
		 * (RFC 6455 section 4.2.1 for "websocket"). */
		if (str_ieq_lit(h->name, 7, "upgrade") &&
		    http_value_has_token(h->value, h->value_len, "websocket"))
			ps->msg->upgrade_websocket = true;
		break;
	case 10:
		if (str_ieq_lit(h->name, 10, "connection"))
			on_connection(ps, h, idx);
		break;
	case 14:
		if (str_ieq_lit(h->name, 14, "content-length"))
			return on_content_length(ps, h);
		break;
	case 17:
		if (str_ieq_lit(h->name, 17, "transfer-encoding"))
			return on_transfer_encoding(ps, h);
		break;
	}
	return 0;
}

/*
 * field-line = field-name ":" OWS field-value OWS (RFC 9112 section 5).
 * A line starting with SP or HTAB is obs-fold, and whitespace before the
 * colon is forbidden: both are rejected (sections 5.1 and 5.2), since they
 * are classic smuggling vectors.
 */
static int parse_field(struct parser *ps, const char *p, const char *eol)
{
	struct fc_http_msg *m = ps->msg;
	struct fc_http_header *h = &m->headers[m->nheaders];
	const char *q = p, *e = eol;

	while (q < eol && is_tchar((unsigned char)*q))
		q++;
	if (q == p || q == eol || *q != ':')
		return -1;
	h->name = p;
	h->name_len = (size_t)(q - p);
	for (q++; q < e && is_ows((unsigned char)*q); q++)
		;
	while (e > q && is_ows((unsigned char)e[-1]))
		e--;
	h->value = q;
	h->value_len = (size_t)(e - q);
	return on_field(ps, h, (int)m->nheaders++);
}

/* Field lines from p up to the empty line; the head's length, or an error. */
static int parse_fields(struct parser *ps, const char *buf, const char *p, size_t len,
    size_t max_head)
{
	const char *end = buf + (len < max_head ? len : max_head), *eol = NULL;

	for (;;) {
		switch (find_eol(p, end, SIZE_MAX, &eol)) {
		case LINE_OK:
			break;
		case LINE_INCOMPLETE:
			return incomplete(ps, len, max_head);
		default:
			return fail(ps, 400);
		}
		if (eol == p)
			return (int)(eol + 2 - buf);
		if (ps->msg->nheaders == FC_HTTP_MAX_HEADERS)
			return fail(ps, 431);
		if (parse_field(ps, p, eol) == -1)
			return fail(ps, 400);
		p = eol + 2;
	}
}

static void set_connection(struct fc_http_msg *m)
{
	/* RFC 9112 section 9.3: HTTP/1.0 persists only when asked to. */
	if (m->version_minor == 0 && !m->conn_keepalive)
		m->conn_close = true;
}

/*
 * Whole-head rules for a request (RFC 9112 sections 3.2 and 6): 0, or the
 * status to answer with.
 */
static int finish_request(struct parser *ps)
{
	struct fc_http_msg *m = ps->msg;
	const struct fc_http_header *h;

	if (m->version_minor == 1 && ps->hosts == 0)
		return 400;
	/*
	 * RFC 9112 section 3.2.2 has the target's authority override Host;
	 * we rather refuse a request whose two names for the server differ.
	 */
	if (ps->authority != NULL && m->host >= 0) {
		h = &m->headers[m->host];
		if (!authority_eq(ps->authority, ps->authority_len, h->value, h->value_len,
		    ps->default_port))
			return 400;
	}
	if (ps->te) {
		/*
		 * Section 6.1: an HTTP/1.0 message with Transfer-Encoding has
		 * faulty framing.  Section 6.3 (rule 3): with Content-Length
		 * as well, a server may reject it, and we do.  Rule 4: a
		 * request whose last coding is not chunked gets a 400.
		 */
		if (m->version_minor == 0 || ps->cl || !ps->te_chunked)
			return 400;
		/*
		 * Section 6.1: a coding the server does not understand gets a
		 * 501.  We pass bodies on without decoding them, and a server
		 * that knows fewer codings than the client thinks would end
		 * the body somewhere else: only plain "chunked" goes through.
		 */
		if (ps->te_other)
			return 501;
		m->body = FC_BODY_CHUNKED;
	} else if (m->content_length > 0)
		m->body = FC_BODY_LENGTH;
	/*
	 * CONNECT asks for a tunnel (RFC 9110 section 9.3.6), which a gateway
	 * to web servers does not open: "not implemented", section 15.6.2.
	 */
	if (m->method_len == 7 && memcmp(m->method, "CONNECT", 7) == 0)
		return 501;
	set_connection(m);
	return 0;
}

int http_parse_request(const char *buf, size_t len, struct fc_http_msg *msg,
    size_t max_line, size_t max_head, int *status)
{
	struct parser ps;
	const char *p = buf, *end = buf + len, *eol = NULL;
	int r, n, code;

	parser_init(&ps, msg, false);
	*status = 0;
	/* RFC 9112 section 2.2: ignore at least one empty line before a request. */
	for (n = 0; n < FC_HTTP_MAX_EMPTY_LINES && p < end && *p == '\r'; n++) {
		if (end - p < 2) {
			r = incomplete(&ps, len, max_head);
			goto out;
		}
		if (p[1] != '\n') {
			r = fail(&ps, 400);
			goto out;
		}
		p += 2;
	}
	switch (find_eol(p, end, max_line, &eol)) {
	case LINE_OK:
		break;
	case LINE_INCOMPLETE:
		r = incomplete(&ps, len, max_head);
		goto out;
	case LINE_LONG:
		r = fail(&ps, 414);
		goto out;
	default:
		r = fail(&ps, 400);
		goto out;
	}
	msg->first_line = p;
	msg->first_line_len = (size_t)(eol - p);
	if (parse_request_line(&ps, p, eol) == -1) {
		r = fail(&ps, 400);
		goto out;
	}
	p = eol + 2;
	if ((size_t)(p - buf) > max_head) {
		r = fail(&ps, 431);
		goto out;
	}
	r = parse_fields(&ps, buf, p, len, max_head);
	if (r > 0 && (code = finish_request(&ps)) != 0)
		r = fail(&ps, code);
out:
	if (r == FC_HTTP_ERROR)
		*status = ps.status;
	return r;
}

/*
 * Whole-head rules for a response: Transfer-Encoding in HTTP/1.0, or with
 * Content-Length, is refused (RFC 9112 section 6.1 calls the first faulty
 * framing; section 6.3 rule 3 calls the second smuggling material).  Then
 * the body length follows section 6.3.
 */
static int finish_response(struct parser *ps, bool is_head_request)
{
	struct fc_http_msg *m = ps->msg;

	if (ps->te && (m->version_minor == 0 || ps->cl))
		return -1;
	if (is_head_request || m->status < 200 || m->status == 204 || m->status == 304)
		m->body = FC_BODY_NONE;
	else if (ps->te)
		m->body = ps->te_chunked ? FC_BODY_CHUNKED : FC_BODY_EOF;
	else if (ps->cl)
		m->body = m->content_length > 0 ? FC_BODY_LENGTH : FC_BODY_NONE;
	else
		m->body = FC_BODY_EOF;
	set_connection(m);
	return 0;
}

int http_parse_response(const char *buf, size_t len, struct fc_http_msg *msg,
    bool is_head_request, size_t max_head, int *status)
{
	struct parser ps;
	const char *end = buf + (len < max_head ? len : max_head), *eol = NULL;
	int r;

	parser_init(&ps, msg, true);
	*status = 0;
	/* No empty lines skipped here: section 2.2 grants that to servers only. */
	switch (find_eol(buf, end, SIZE_MAX, &eol)) {
	case LINE_OK:
		break;
	case LINE_INCOMPLETE:
		r = incomplete(&ps, len, max_head);
		goto out;
	default:
		r = fail(&ps, 502);
		goto out;
	}
	msg->first_line = buf;
	msg->first_line_len = (size_t)(eol - buf);
	if (parse_status_line(&ps, buf, eol) == -1) {
		r = fail(&ps, 502);
		goto out;
	}
	r = parse_fields(&ps, buf, eol + 2, len, max_head);
	if (r > 0 && finish_response(&ps, is_head_request) == -1)
		r = fail(&ps, 502);
out:
	if (r == FC_HTTP_ERROR)
		*status = ps.status;
	return r;
}

/* ------------------------------------------------------------ chunked */

/*
 * chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 section
 * 7.1), one byte at a time except for chunk data.  The states from CS_SIZE
 * to CS_SIZE_LF make up a size line, those from CS_TRAILER on the trailer
 * section; the order matters.
 */
enum {
	CS_SIZE,		/* chunk-size digits */
	CS_EXT_WS,		/* BWS, ";" must follow */
	CS_EXT_NAME0,		/* after ";" */
	CS_EXT_NAME,
	CS_EXT_NAME_WS,		/* BWS after a name, "=" or ";" must follow */
	CS_EXT_VAL0,		/* after "=" */
	CS_EXT_VAL,		/* token */
	CS_EXT_QUOTED,		/* quoted-string */
	CS_EXT_QPAIR,		/* after a backslash in it */
	CS_EXT_QEND,		/* after its closing quote */
	CS_SIZE_LF,
	CS_DATA,
	CS_DATA_CR,
	CS_DATA_LF,
	CS_TRAILER,		/* start of a trailer line or of the final CRLF */
	CS_TR_NAME,
	CS_TR_VALUE,
	CS_TR_LF,
	CS_FINAL_LF,
	CS_DONE,
	CS_ERROR,
};

void http_chunked_init(struct fc_chunked *c)
{
	c->state = CS_SIZE;
	c->left = 0;
	c->line = 0;
	c->tr_match = 0;
	c->done = false;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)str_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* After a size, an extension name or value: ";", BWS then ";", or CRLF. */
static int ext_next(struct fc_chunked *c, unsigned char ch)
{
	if (ch == ';')
		c->state = CS_EXT_NAME0;
	else if (is_ows(ch))
		c->state = CS_EXT_WS;
	else if (ch == '\r')
		c->state = CS_SIZE_LF;
	else
		return -1;
	return 0;
}

/*
 * chunk-size [ chunk-ext ] CRLF, with
 * chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 * (RFC 9112 section 7.1.1).  Extensions are checked, never interpreted.
 */
static int chunk_size_byte(struct fc_chunked *c, unsigned char ch)
{
	int d;

	switch (c->state) {
	case CS_SIZE:
		if ((d = hexval(ch)) >= 0) {
			/* c->line already counts this digit. */
			if (c->line > FC_CHUNK_MAX_DIGITS || c->left > FC_HTTP_MAX_LENGTH >> 4)
				return -1;
			c->left = c->left << 4 | (unsigned int)d;
			return c->left > FC_HTTP_MAX_LENGTH ? -1 : 0;
		}
		return c->line == 1 ? -1 : ext_next(c, ch);
	case CS_EXT_WS:
		if (ch == ';')
			c->state = CS_EXT_NAME0;
		return ch == ';' || is_ows(ch) ? 0 : -1;
	case CS_EXT_NAME0:
		if (is_tchar(ch))
			c->state = CS_EXT_NAME;
		return is_tchar(ch) || is_ows(ch) ? 0 : -1;
	case CS_EXT_NAME:
		if (is_tchar(ch))
			return 0;
		if (ch == '=')
			c->state = CS_EXT_VAL0;
		else if (is_ows(ch))
			c->state = CS_EXT_NAME_WS;
		else
			return ext_next(c, ch);
		return 0;
	case CS_EXT_NAME_WS:
		if (ch == '=')
			c->state = CS_EXT_VAL0;
		else if (ch == ';')
			c->state = CS_EXT_NAME0;
		else if (!is_ows(ch))
			return -1;
		return 0;
	case CS_EXT_VAL0:
		if (ch == '"')
			c->state = CS_EXT_QUOTED;
		else if (is_tchar(ch))
			c->state = CS_EXT_VAL;
		else if (!is_ows(ch))
			return -1;
		return 0;
	case CS_EXT_VAL:
		return is_tchar(ch) ? 0 : ext_next(c, ch);
	case CS_EXT_QUOTED:
		if (ch == '"')
			c->state = CS_EXT_QEND;
		else if (ch == '\\')
			c->state = CS_EXT_QPAIR;
		return is_line_byte(ch) ? 0 : -1;
	case CS_EXT_QPAIR:
		c->state = CS_EXT_QUOTED;
		return is_line_byte(ch) ? 0 : -1;
	case CS_EXT_QEND:
		return ext_next(c, ch);
	case CS_SIZE_LF:
		if (ch != '\n')
			return -1;
		/* After the last chunk, c->left counts trailer bytes. */
		c->state = c->left > 0 ? CS_DATA : CS_TRAILER;
		c->line = 0;
		return 0;
	}
	return -1;
}

/*
 * RFC 9110 section 6.5.1: fields needed before the content (framing,
 * routing, connection management) cannot be sent as trailers.  These are
 * the ones we act on in a head: a trailer holding one is refused rather
 * than passed on for a server that might merge it into the head, and
 * hop-by-hop fields would have to be removed, which we cannot do in a body
 * that streams through.  Other trailers go through as they are.
 */
static const char *const bad_trailers[] = {
	"content-length", "transfer-encoding", "host", "connection", "keep-alive",
	"proxy-connection", "te", "trailer", "upgrade",
};
#define NBAD_TRAILERS	(sizeof(bad_trailers) / sizeof(bad_trailers[0]))
_Static_assert(NBAD_TRAILERS <= 32, "tr_match holds one bit per name");

/*
 * Narrows c->tr_match to the names whose byte pos is ch.  A name still in
 * it matched every byte before pos, so it is at least pos bytes long.
 */
static void trailer_name_byte(struct fc_chunked *c, unsigned char ch, size_t pos)
{
	for (unsigned int i = 0; i < NBAD_TRAILERS; i++)
		if ((c->tr_match & (1u << i)) && bad_trailers[i][pos] != str_lower(ch))
			c->tr_match &= ~(1u << i);
}

/* Is the trailer name, len bytes long and fully fed, a forbidden one? */
static bool trailer_name_bad(const struct fc_chunked *c, size_t len)
{
	for (unsigned int i = 0; i < NBAD_TRAILERS; i++)
		if ((c->tr_match & (1u << i)) && strlen(bad_trailers[i]) == len)
			return true;
	return false;
}

/*
 * trailer-section = *( field-line CRLF ) (RFC 9112 section 7.1.2): checked
 * like head fields (no obs-fold, no space before the colon, no controls),
 * passed on as they are, but for the names above.  c->line is the byte's
 * position in the line, plus one.
 */
static int chunk_trailer_byte(struct fc_chunked *c, unsigned char ch)
{
	switch (c->state) {
	case CS_TRAILER:
		if (ch == '\r') {
			c->state = CS_FINAL_LF;
		} else if (is_tchar(ch)) {
			c->state = CS_TR_NAME;
			c->tr_match = (1u << NBAD_TRAILERS) - 1;
			trailer_name_byte(c, ch, 0);
		} else {
			return -1;
		}
		return 0;
	case CS_TR_NAME:
		if (ch == ':') {
			c->state = CS_TR_VALUE;
			return trailer_name_bad(c, c->line - 1) ? -1 : 0;
		}
		if (!is_tchar(ch))
			return -1;
		if (c->tr_match != 0)
			trailer_name_byte(c, ch, c->line - 1);
		return 0;
	case CS_TR_VALUE:
		if (ch == '\r')
			c->state = CS_TR_LF;
		return ch == '\r' || is_line_byte(ch) ? 0 : -1;
	case CS_TR_LF:
		c->state = CS_TRAILER;
		c->line = 0;
		return ch == '\n' ? 0 : -1;
	case CS_FINAL_LF:
		if (ch != '\n')
			return -1;
		c->state = CS_DONE;
		c->done = true;		/* only a complete body is done */
		return 0;
	}
	return -1;
}

/* One byte outside chunk data, line length limits applied. */
static int chunk_byte(struct fc_chunked *c, unsigned char ch)
{
	if (c->state <= CS_SIZE_LF) {
		if (++c->line > FC_CHUNK_MAX_LINE)
			return -1;
		return chunk_size_byte(c, ch);
	}
	if (c->state >= CS_TRAILER) {
		if (++c->line > FC_CHUNK_MAX_TRAILER || ++c->left > FC_CHUNK_MAX_TRAILERS)
			return -1;
		return chunk_trailer_byte(c, ch);
	}
	/* Chunk data must be followed by exactly CRLF. */
	if (c->state == CS_DATA_CR && ch == '\r') {
		c->state = CS_DATA_LF;
		return 0;
	}
	if (c->state == CS_DATA_LF && ch == '\n') {
		c->state = CS_SIZE;
		c->left = 0;
		c->line = 0;
		return 0;
	}
	return -1;
}

ssize_t http_chunked_feed(struct fc_chunked *c, const char *buf, size_t len,
    void (*data)(void *arg, const char *p, size_t n), void *arg)
{
	const char *p = buf, *end = buf + len;
	size_t n;

	if (c->state == CS_ERROR)
		return FC_HTTP_ERROR;
	while (p < end && !c->done) {
		if (c->state == CS_DATA) {
			n = (size_t)(end - p);
			if (n > c->left)
				n = (size_t)c->left;
			if (data != NULL)
				data(arg, p, n);
			p += n;
			c->left -= n;
			if (c->left == 0)
				c->state = CS_DATA_CR;
			continue;
		}
		if (chunk_byte(c, (unsigned char)*p++) == -1) {
			c->state = CS_ERROR;
			return FC_HTTP_ERROR;
		}
	}
	return p - buf;
}

/* See http.h. */
void http_target_path(const struct fc_http_msg *m, const char **p, size_t *n)
{
	const char *t = m->target, *end = t + m->target_len, *q;

	*p = t;
	*n = m->target_len;
	if (m->target_len == 0 || t[0] == '/')
		return;
	if ((q = memchr(t, ':', m->target_len)) == NULL || end - q < 3 ||
	    memcmp(q, "://", 3) != 0)
		return;
	for (q += 3; q < end && *q != '/' && *q != '?'; q++)
		;
	*p = q;
	*n = (size_t)(end - q);
}
