/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Cookie persistence (cookie.h): parsing and rewriting Cookie and
 * Set-Cookie values.  Nothing here trusts its input: a value may be empty,
 * forged, truncated, 8 KiB long or repeated, and the worst it can get is
 * "no server", never a read outside [v, v + len) or a write past cap.
 */
#include "config.h"

#include <string.h>

#include "lib/str.h"
#include "worker/cookie.h"

#define DATE_DIGITS_MAX	12	/* Unix seconds: enough until year 33658 */

/* One cookie-pair of a Cookie value (RFC 6265 section 5.4). */
struct pair {
	size_t start;			/* first byte of the pair */
	size_t next;			/* first byte of the next pair, or len */
	struct fc_ck_span name;
	struct fc_ck_span value;	/* raw, blanks trimmed; empty without '=' */
};

/* Where a writer is: dst[0..len) written, cap at most. */
struct wr {
	char *dst;
	size_t len, cap;
	bool full;
};

/* ------------------------------------------------------------ helpers */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static struct fc_ck_span trim(const char *p, size_t n)
{
	struct fc_ck_span s = { p, n };

	while (s.len > 0 && is_blank(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len > 0 && is_blank(s.p[s.len - 1]))
		s.len--;
	return s;
}

static bool span_is(struct fc_ck_span s, const char *str)
{
	return s.len == strlen(str) && memcmp(s.p, str, s.len) == 0;
}

/* A value in DQUOTEs is looked at inside them; the quotes stay in place. */
static struct fc_ck_span unquote(struct fc_ck_span v)
{
	if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"') {
		v.p++;
		v.len -= 2;
	}
	return v;
}

static const char *find(const char *p, size_t n, char c)
{
	return n > 0 ? memchr(p, c, n) : NULL;
}

/* Next non-empty pair of v from *pos; false when there is none. */
static bool pair_next(const char *v, size_t len, size_t *pos, struct pair *p)
{
	size_t i = *pos, semi;
	const char *eq;

	while (i < len && (is_blank(v[i]) || v[i] == ';'))
		i++;
	if (i >= len)
		return false;
	p->start = i;
	for (semi = i; semi < len && v[semi] != ';'; semi++)
		;
	eq = find(v + i, semi - i, '=');
	if (eq != NULL) {
		p->name = trim(v + i, (size_t)(eq - (v + i)));
		p->value = trim(eq + 1, (size_t)(v + semi - (eq + 1)));
	} else {
		p->name = trim(v + i, semi - i);
		p->value = (struct fc_ck_span){ v + semi, 0 };
	}
	for (i = semi; i < len && (is_blank(v[i]) || v[i] == ';'); i++)
		;
	p->next = i;
	*pos = i;
	return true;
}

static void put(struct wr *w, const char *s, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->dst + w->len, s, n);
	w->len += n;
}

static void put_str(struct wr *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_u64(struct wr *w, uint64_t v)
{
	char buf[24];
	size_t i = sizeof(buf);

	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	put(w, buf + i, sizeof(buf) - i);
}

static ssize_t wr_result(const struct wr *w)
{
	return w->full ? -1 : (ssize_t)w->len;
}

/* Index of the server whose cookie value is s, or -1. */
static int server_by_cookie(const struct fc_backend *l, struct fc_ck_span s)
{
	for (int i = 0; i < l->nservers; i++)
		if (span_is(s, l->servers[i].cookie))
			return i;
	return -1;
}

/* 1..DATE_DIGITS_MAX decimal digits, nothing else. */
static bool parse_date(struct fc_ck_span s, uint64_t *out)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > DATE_DIGITS_MAX)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	*out = v;
	return true;
}

/* ---------------------------------------------------- request: scan */

void cookie_req_init(struct fc_ck_req *r)
{
	r->server = -1;
	r->present = false;
	r->refresh = false;
	r->first = 0;
	r->app_len = 0;
	r->app_ok = false;
}

/* An insert cookie: SERVER, SERVER|last or SERVER|last|first. */
struct dated {
	struct fc_ck_span srv;
	int ndates;
	uint64_t last, first;
};

static bool parse_dated(struct fc_ck_span v, struct dated *d)
{
	const char *bar = find(v.p, v.len, FC_CK_DATE), *end = v.p + v.len, *bar2;

	d->ndates = 0;
	d->srv = (struct fc_ck_span){ v.p, bar != NULL ? (size_t)(bar - v.p) : v.len };
	if (bar == NULL)
		return true;
	bar2 = find(bar + 1, (size_t)(end - (bar + 1)), FC_CK_DATE);
	if (!parse_date((struct fc_ck_span){ bar + 1,
	    (size_t)((bar2 != NULL ? bar2 : end) - (bar + 1)) }, &d->last))
		return false;
	d->ndates = 1;
	if (bar2 == NULL)
		return true;
	d->ndates = 2;
	return parse_date((struct fc_ck_span){ bar2 + 1, (size_t)(end - (bar2 + 1)) },
	    &d->first);
}

static bool older_than(uint64_t date, uint64_t now_s, int limit)
{
	return now_s > date && now_s - date > (uint64_t)limit;
}

/*
 * The server an insert cookie names, -1 when unknown, malformed or expired
 * (maxidle since its last date, maxlife since its first).  A cookie without
 * dates is accepted, then set again with them, as HAProxy does.
 */
static int insert_server(const struct fc_backend *l, struct fc_ck_span v, uint64_t now_s,
    bool *refresh, uint64_t *first)
{
	const struct fc_cookie *ck = &l->cookie;
	bool dated = ck->maxidle > 0 || ck->maxlife > 0;
	struct dated d;

	if (!parse_dated(v, &d))
		return -1;
	if (ck->maxidle > 0 && d.ndates >= 1 && older_than(d.last, now_s, ck->maxidle))
		return -1;
	if (ck->maxlife > 0 && d.ndates == 2 && older_than(d.first, now_s, ck->maxlife))
		return -1;
	*first = d.ndates == 2 && d.first <= now_s ? d.first : 0;
	if (dated)
		*refresh = d.ndates < 2 || (ck->maxidle > 0 && d.last < now_s);
	else
		*refresh = d.ndates > 0;	/* dates no longer wanted */
	return server_by_cookie(l, d.srv);
}

/* RFC 6265 cookie-octet: what fulcrum may write back in a Set-Cookie value. */
static bool all_cookie_octets(struct fc_ck_span s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\')
			return false;
	}
	return true;
}

/*
 * Prefix: SERVER~app.  The app part of the first cookie is kept to re-set
 * a moved session, if it is something a Set-Cookie may carry.
 */
static int prefix_server(const struct fc_backend *l, struct fc_ck_span v,
    struct fc_ck_req *r)
{
	const char *d = find(v.p, v.len, FC_CK_DELIM);
	struct fc_ck_span app = v;
	int idx = -1;

	if (d != NULL) {
		idx = server_by_cookie(l, (struct fc_ck_span){ v.p, (size_t)(d - v.p) });
		app = (struct fc_ck_span){ d + 1, (size_t)(v.p + v.len - (d + 1)) };
	}
	if (!r->present && app.len > 0 && app.len <= sizeof(r->app) && all_cookie_octets(app)) {
		memcpy(r->app, app.p, app.len);
		r->app_len = app.len;
		r->app_ok = true;
	}
	return idx;
}

void cookie_req_scan(const struct fc_backend *l, const char *v, size_t len,
    const bool *unusable, uint64_t now_s, struct fc_ck_req *r)
{
	size_t pos = 0;
	struct pair p;

	while (pair_next(v, len, &pos, &p)) {
		struct fc_ck_span val = unquote(p.value);
		bool refresh = false;
		uint64_t first = 0;
		int idx;

		if (!span_is(p.name, l->cookie.name))
			continue;
		if (l->cookie.mode == FC_COOKIE_PREFIX)
			idx = prefix_server(l, val, r);
		else if (l->cookie.mode == FC_COOKIE_INSERT)
			idx = insert_server(l, val, now_s, &refresh, &first);
		else
			idx = server_by_cookie(l, val);
		r->present = true;
		if (idx < 0 || r->server >= 0 || (unusable != NULL && unusable[idx]))
			continue;
		r->server = idx;
		r->refresh = refresh;
		r->first = first;
	}
}

/* --------------------------------------------------- request: strip */

static bool is_separator(char c)
{
	return is_blank(c) || c == ';';
}

/*
 * Everything is written once and only what is kept, so that the room
 * needed is exactly the result's length.  A removed pair takes the
 * separator after it; the separator before it waits (sep) until more is
 * kept after it, so that "a=1; S=A" gives "a=1", not "a=1; ".
 */
ssize_t cookie_req_strip(const struct fc_cookie *ck, const char *v, size_t len,
    char *dst, size_t cap)
{
	bool remove = ck->mode == FC_COOKIE_INSERT && ck->indirect;
	bool prefix = ck->mode == FC_COOKIE_PREFIX;
	struct wr w = { dst, 0, cap, false };
	size_t pos = 0, done = 0, sep = 0, nsep = 0;
	struct pair p;

	while ((remove || prefix) && pair_next(v, len, &pos, &p)) {
		struct fc_ck_span val = unquote(p.value);
		const char *d;
		size_t e;

		if (!span_is(p.name, ck->name))
			continue;
		if (prefix) {
			if ((d = find(val.p, val.len, FC_CK_DELIM)) != NULL) {
				put(&w, v + done, (size_t)(val.p - v) - done);
				done = (size_t)(d + 1 - v);
			}
			continue;
		}
		for (e = p.start; e > done && is_separator(v[e - 1]); e--)
			;
		if (e > done) {
			put(&w, v + sep, nsep);
			put(&w, v + done, e - done);
			sep = e;
			nsep = p.start - e;
		}
		done = p.next;
	}
	if (done < len) {
		put(&w, v + sep, nsep);
		put(&w, v + done, len - done);
	}
	return wr_result(&w);
}

bool cookie_find(const char *v, size_t len, const char *name, struct fc_ck_span *value)
{
	size_t pos = 0;
	struct pair p;

	while (pair_next(v, len, &pos, &p))
		if (span_is(p.name, name)) {
			*value = p.value;
			return true;
		}
	return false;
}

/* ------------------------------------------------------- Set-Cookie */

bool cookie_set_match(const char *v, size_t len, const char *name, struct fc_ck_span *value)
{
	const char *semi = find(v, len, ';'), *end = semi != NULL ? semi : v + len;
	const char *eq = find(v, (size_t)(end - v), '=');

	if (eq == NULL || !span_is(trim(v, (size_t)(eq - v)), name))
		return false;
	*value = trim(eq + 1, (size_t)(end - (eq + 1)));
	return true;
}

/* "Max-Age" whose value is 0 or negative (RFC 6265 section 5.2.2). */
static bool max_age_expires(struct fc_ck_span av)
{
	const char *eq = find(av.p, av.len, '=');
	struct fc_ck_span name, val;

	if (eq == NULL)
		return false;
	name = trim(av.p, (size_t)(eq - av.p));
	val = trim(eq + 1, (size_t)(av.p + av.len - (eq + 1)));
	if (!str_ieq_lit(name.p, name.len, "max-age") || val.len == 0)
		return false;
	if (val.p[0] == '-')
		return val.len > 1 && val.p[1] >= '0' && val.p[1] <= '9';
	for (size_t i = 0; i < val.len; i++)
		if (val.p[i] != '0')
			return false;
	return true;
}

bool cookie_set_deletes(const char *v, size_t len)
{
	const char *p = find(v, len, ';'), *end = v + len;

	while (p != NULL) {
		const char *next = find(p + 1, (size_t)(end - (p + 1)), ';');
		const char *stop = next != NULL ? next : end;

		if (max_age_expires((struct fc_ck_span){ p + 1, (size_t)(stop - (p + 1)) }))
			return true;
		p = next;
	}
	return false;
}

enum fc_ck_set cookie_set_rewrite(const struct fc_cookie *ck, const char *srv,
    const char *v, size_t len, char *dst, size_t cap, size_t *outlen)
{
	struct wr w = { dst, 0, cap, false };
	struct fc_ck_span val;
	size_t at;

	if (!cookie_set_match(v, len, ck->name, &val))
		return FC_CK_OTHER;
	if (ck->mode == FC_COOKIE_INSERT)
		return FC_CK_DROP;
	val = unquote(val);
	at = (size_t)(val.p - v);
	put(&w, v, at);
	put_str(&w, srv);
	if (ck->mode == FC_COOKIE_PREFIX) {
		put(&w, (const char[]){ FC_CK_DELIM }, 1);
		put(&w, v + at, len - at);
	} else {
		put(&w, v + at + val.len, len - at - val.len);
	}
	*outlen = w.len;
	return w.full ? FC_CK_NOROOM : FC_CK_WRITTEN;
}

/* ---------------------------------------------------- response: set */

bool cookie_rsp_needs_set(const struct fc_cookie *ck, const struct fc_ck_req *r, int server,
    bool server_set)
{
	bool moved = r->server != server;

	switch (ck->mode) {
	case FC_COOKIE_INSERT:
		return moved || r->refresh;
	case FC_COOKIE_PREFIX:
		return moved && r->present && !server_set && r->app_ok;
	case FC_COOKIE_REWRITE:
		return moved && r->present && !server_set;
	default:
		return false;
	}
}

/* Insert with maxidle or maxlife: the browser drops it when the server would. */
static uint64_t max_age(const struct fc_cookie *ck, uint64_t first, uint64_t now_s)
{
	uint64_t age = ck->maxidle > 0 ? (uint64_t)ck->maxidle : UINT64_MAX;

	if (ck->maxlife > 0) {
		uint64_t lived = now_s - first, left;

		left = lived < (uint64_t)ck->maxlife ? (uint64_t)ck->maxlife - lived : 1;
		if (left < age)
			age = left;
	}
	return age;
}

ssize_t cookie_rsp_set(const struct fc_cookie *ck, const char *srv, const struct fc_ck_req *r,
    uint64_t now_s, char *dst, size_t cap)
{
	bool dated = ck->mode == FC_COOKIE_INSERT && (ck->maxidle > 0 || ck->maxlife > 0);
	uint64_t first = r->first != 0 && r->first <= now_s ? r->first : now_s;
	struct wr w = { dst, 0, cap, false };

	put_str(&w, ck->name);
	put(&w, "=", 1);
	put_str(&w, srv);
	if (ck->mode == FC_COOKIE_PREFIX) {
		put(&w, (const char[]){ FC_CK_DELIM }, 1);
		put(&w, r->app, r->app_ok ? r->app_len : 0);
	} else if (dated) {
		put(&w, (const char[]){ FC_CK_DATE }, 1);
		put_u64(&w, now_s);
		put(&w, (const char[]){ FC_CK_DATE }, 1);
		put_u64(&w, first);
	}
	put_str(&w, "; Path=/");
	if (ck->domain != NULL) {
		put_str(&w, "; Domain=");
		put_str(&w, ck->domain);
	}
	if (dated) {
		put_str(&w, "; Max-Age=");
		put_u64(&w, max_age(ck, first, now_s));
	}
	if (ck->httponly)
		put_str(&w, "; HttpOnly");
	if (ck->secure)
		put_str(&w, "; Secure");
	return wr_result(&w);
}

bool cookie_cc_private(const char *v, size_t len)
{
	static const char *const tokens[] = { "no-cache", "no-store", "private" };
	const char *p = v, *end = v + len, *comma;

	do {
		const char *stop = (comma = find(p, (size_t)(end - p), ',')) != NULL ? comma : end;
		const char *eq = find(p, (size_t)(stop - p), '=');
		struct fc_ck_span t = trim(p, (size_t)((eq != NULL ? eq : stop) - p));

		for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
			if (str_ieq_lit(t.p, t.len, tokens[i]))
				return true;
		p = stop + 1;
	} while (comma != NULL);
	return false;
}
