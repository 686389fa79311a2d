/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer harness for the cookie persistence functions (worker/cookie.c):
 * they read Cookie values written by any client and Set-Cookie values
 * written by the servers, and write what goes on.
 *
 * Input: byte 0 picks the mode and options, byte 1 which servers are DOWN,
 * byte 2 the clock; the rest is a Cookie value and, after its first '\n',
 * a Set-Cookie value (each copied to an exact-size buffer, so that a read
 * past its end is caught).  The answers are checked against a cookie-pair
 * splitter written here, apart from cookie.c: see t/fuzz/README.md.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "t/fuzz/fuzz.h"
#include "worker/cookie.h"

#define NSERVERS	4
#define MAXPAIRS	4096

/* A cookie-pair as the reference sees it: name and value, blanks trimmed. */
struct rpair {
	const char *name, *val;
	size_t nlen, vlen;
};

static struct fc_server servers[NSERVERS];
static struct fc_backend lst;
static struct rpair in_pairs[MAXPAIRS], out_pairs[MAXPAIRS];

static void fixture(uint8_t opts)
{
	static const enum fc_cookie_mode modes[] = { FC_COOKIE_PREFIX, FC_COOKIE_INSERT,
	    FC_COOKIE_REWRITE, FC_COOKIE_PREFIX };
	static char domain[] = "example.com";

	memset(servers, 0, sizeof(servers));
	strcpy(servers[0].cookie, "A");
	strcpy(servers[1].cookie, "B");
	strcpy(servers[2].cookie, "webC");
	memset(servers[3].cookie, 'L', FC_NAME_MAX - 1);
	memset(&lst, 0, sizeof(lst));
	lst.servers = servers;
	lst.nservers = NSERVERS;
	strcpy(lst.cookie.name, opts & 0x80 ? "SERVERID" : "JSESSIONID");
	lst.cookie.mode = modes[opts & 3];
	lst.cookie.indirect = opts & 0x04;
	lst.cookie.maxidle = opts & 0x08 ? 60 : 0;
	lst.cookie.maxlife = opts & 0x10 ? 600 : 0;
	lst.cookie.httponly = lst.cookie.secure = opts & 0x20;
	lst.cookie.domain = opts & 0x40 ? domain : NULL;
}

/* --------------------------------------------------------- reference */

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static void rtrim(const char **p, size_t *n)
{
	while (*n > 0 && blank(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && blank((*p)[*n - 1]))
		(*n)--;
}

/* Splits a Cookie value on ';'; empty pieces are no pairs.  Returns how many. */
static size_t ref_pairs(const char *v, size_t len, struct rpair *out)
{
	size_t n = 0, i = 0;

	while (i <= len && n < MAXPAIRS) {
		size_t e = i;
		const char *p = v + i, *eq;
		size_t plen;

		while (e < len && v[e] != ';')
			e++;
		plen = e - i;
		i = e + 1;
		rtrim(&p, &plen);
		if (plen == 0)
			continue;
		eq = plen > 0 ? memchr(p, '=', plen) : NULL;
		out[n].name = p;
		out[n].nlen = eq != NULL ? (size_t)(eq - p) : plen;
		out[n].val = eq != NULL ? eq + 1 : p + plen;
		out[n].vlen = eq != NULL ? plen - (size_t)(eq + 1 - p) : 0;
		rtrim(&out[n].name, &out[n].nlen);
		rtrim(&out[n].val, &out[n].vlen);
		n++;
	}
	return n;
}

static bool ref_is(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

static void ref_unquote(const char **p, size_t *n)
{
	if (*n >= 2 && (*p)[0] == '"' && (*p)[*n - 1] == '"') {
		(*p)++;
		*n -= 2;
	}
}

static int ref_server(const char *p, size_t n)
{
	for (int i = 0; i < NSERVERS; i++)
		if (ref_is(p, n, servers[i].cookie))
			return i;
	return -1;
}

/* The server a prefix or rewrite value names. */
static int ref_value_server(const char *v, size_t n)
{
	const char *d;

	ref_unquote(&v, &n);
	if (lst.cookie.mode == FC_COOKIE_REWRITE)
		return ref_server(v, n);
	d = n > 0 ? memchr(v, '~', n) : NULL;
	return d != NULL ? ref_server(v, (size_t)(d - v)) : -1;
}

/* 1..12 digits. */
static bool ref_date(const char *p, size_t n, uint64_t *out)
{
	*out = 0;
	if (n == 0 || n > 12)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		*out = *out * 10 + (uint64_t)(p[i] - '0');
	}
	return true;
}

/* Insert: SERVER[|last[|first]], refused once idle or lived too long. */
static int ref_insert_server(const char *v, size_t n, uint64_t now)
{
	const char *f[3];
	size_t fl[3], k = 0, start = 0;
	uint64_t last, first;

	ref_unquote(&v, &n);
	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != '|')
			continue;
		if (k == 3)
			return -1;
		f[k] = v + start;
		fl[k++] = i - start;
		start = i + 1;
	}
	if ((k >= 2 && !ref_date(f[1], fl[1], &last)) || (k == 3 && !ref_date(f[2], fl[2], &first)))
		return -1;
	if (k >= 2 && lst.cookie.maxidle > 0 && now > last &&
	    now - last > (uint64_t)lst.cookie.maxidle)
		return -1;
	if (k == 3 && lst.cookie.maxlife > 0 && now > first &&
	    now - first > (uint64_t)lst.cookie.maxlife)
		return -1;
	return ref_server(f[0], fl[0]);
}

static bool cookie_octet(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

/* ----------------------------------------------------------- request */

static void check_scan(const char *v, size_t len, const bool *down, uint64_t now,
    size_t np)
{
	struct fc_ck_req r;
	bool any = false;
	int first = -1;

	cookie_req_init(&r);
	cookie_req_scan(&lst, v, len, down, now, &r);
	FUZZ_CHECK(r.server >= -1 && r.server < NSERVERS);
	FUZZ_CHECK(r.server < 0 || (r.present && !down[r.server]));
	FUZZ_CHECK(r.app_len <= FC_CK_APP_MAX && (!r.app_ok || r.app_len > 0));
	for (size_t i = 0; r.app_ok && i < r.app_len; i++)
		FUZZ_CHECK(cookie_octet((unsigned char)r.app[i]));
	for (size_t i = 0; i < np; i++) {
		int s;

		if (!ref_is(in_pairs[i].name, in_pairs[i].nlen, lst.cookie.name))
			continue;
		any = true;
		s = lst.cookie.mode == FC_COOKIE_INSERT ?
		    ref_insert_server(in_pairs[i].val, in_pairs[i].vlen, now) :
		    ref_value_server(in_pairs[i].val, in_pairs[i].vlen);
		if (first < 0 && s >= 0 && !down[s])
			first = s;
	}
	FUZZ_CHECK(r.present == any);
	FUZZ_CHECK(r.server == first);
}

static bool pair_eq(const struct rpair *a, const struct rpair *b)
{
	return a->nlen == b->nlen && memcmp(a->name, b->name, a->nlen) == 0 &&
	    a->vlen == b->vlen && memcmp(a->val, b->val, a->vlen) == 0;
}

/* Prefix: a persistence value loses everything up to its first '~'. */
static bool stripped_eq(const struct rpair *in, const struct rpair *out)
{
	const char *v = in->val, *d;
	size_t n = in->vlen, q = n >= 2 && v[0] == '"' && v[n - 1] == '"';
	struct rpair want = *in;

	ref_unquote(&v, &n);
	if ((d = n > 0 ? memchr(v, '~', n) : NULL) != NULL) {
		char *buf = malloc(in->vlen + 1);
		bool eq;

		FUZZ_CHECK(buf != NULL);
		want.vlen = 0;
		if (q)
			buf[want.vlen++] = '"';
		memcpy(buf + want.vlen, d + 1, (size_t)(v + n - (d + 1)));
		want.vlen += (size_t)(v + n - (d + 1));
		if (q)
			buf[want.vlen++] = '"';
		want.val = buf;
		rtrim(&want.val, &want.vlen);
		eq = pair_eq(&want, out);
		free(buf);
		return eq;
	}
	return pair_eq(in, out);
}

static void check_strip_pairs(size_t np, const char *o, size_t olen)
{
	size_t no = ref_pairs(o, olen, out_pairs), k = 0;

	if (lst.cookie.mode == FC_COOKIE_INSERT) {
		for (size_t i = 0; i < np; i++)
			if (!ref_is(in_pairs[i].name, in_pairs[i].nlen, lst.cookie.name)) {
				FUZZ_CHECK(k < no && pair_eq(&in_pairs[i], &out_pairs[k]));
				k++;
			}
		FUZZ_CHECK(k == no);
		return;
	}
	FUZZ_CHECK(no == np);
	for (size_t i = 0; i < np; i++) {
		if (ref_is(in_pairs[i].name, in_pairs[i].nlen, lst.cookie.name))
			FUZZ_CHECK(stripped_eq(&in_pairs[i], &out_pairs[i]));
		else
			FUZZ_CHECK(pair_eq(&in_pairs[i], &out_pairs[i]));
	}
}

static void check_strip(const char *v, size_t len, size_t np, uint64_t seed)
{
	bool acts = lst.cookie.mode == FC_COOKIE_PREFIX ||
	    (lst.cookie.mode == FC_COOKIE_INSERT && lst.cookie.indirect);
	char *o = malloc(len > 0 ? len : 1), *o2;
	ssize_t n = cookie_req_strip(&lst.cookie, v, len, o, len), n2;
	size_t cap;

	/* Stripping never grows a value. */
	FUZZ_CHECK(o != NULL && n >= 0 && (size_t)n <= len);
	if (!acts)
		FUZZ_CHECK((size_t)n == len && memcmp(o, v, len) == 0);
	else if (np < MAXPAIRS)
		check_strip_pairs(np, o, (size_t)n);
	/* Any smaller room: refused, never cut; any larger: the same bytes. */
	cap = (size_t)(fuzz_next(&seed) % (len + 1));
	o2 = malloc(cap > 0 ? cap : 1);
	FUZZ_CHECK(o2 != NULL);
	n2 = cookie_req_strip(&lst.cookie, v, len, o2, cap);
	if (cap < (size_t)n)
		FUZZ_CHECK(n2 == -1);
	else
		FUZZ_CHECK(n2 == n && memcmp(o2, o, (size_t)n) == 0);
	free(o);
	free(o2);
}

static void check_find(const char *v, size_t len, size_t np)
{
	struct fc_ck_span s;
	bool found = cookie_find(v, len, "PHPSESSID", &s);
	size_t i;

	for (i = 0; i < np && !ref_is(in_pairs[i].name, in_pairs[i].nlen, "PHPSESSID"); i++)
		;
	if (np >= MAXPAIRS)
		return;
	FUZZ_CHECK(found == (i < np));
	/* The very bytes of the input (where an empty value sits does not matter). */
	if (found)
		FUZZ_CHECK(s.len == in_pairs[i].vlen && (s.len == 0 || s.p == in_pairs[i].val));
}

/* ---------------------------------------------------------- response */

/* The reference's answer: is it the persistence cookie, where is its value? */
static bool ref_set_match(const char *v, size_t len, const char **val, size_t *vlen)
{
	const char *semi = len > 0 ? memchr(v, ';', len) : NULL;
	size_t nv = semi != NULL ? (size_t)(semi - v) : len;
	const char *eq = nv > 0 ? memchr(v, '=', nv) : NULL;
	const char *name = v;
	size_t nlen;

	if (eq == NULL)
		return false;
	nlen = (size_t)(eq - v);
	rtrim(&name, &nlen);
	*val = eq + 1;
	*vlen = nv - (size_t)(eq + 1 - v);
	rtrim(val, vlen);
	return ref_is(name, nlen, lst.cookie.name);
}

static void check_set_written(const char *v, size_t len, const char *srv, const char *val,
    size_t vlen, const char *o, size_t n)
{
	size_t at, sl = strlen(srv), tail;

	ref_unquote(&val, &vlen);
	at = (size_t)(val - v);
	FUZZ_CHECK(memcmp(o, v, at) == 0 && memcmp(o + at, srv, sl) == 0);
	if (lst.cookie.mode == FC_COOKIE_PREFIX) {
		FUZZ_CHECK(n == len + sl + 1 && o[at + sl] == '~');
		FUZZ_CHECK(memcmp(o + at + sl + 1, v + at, len - at) == 0);
		return;
	}
	tail = len - at - vlen;
	FUZZ_CHECK(n == at + sl + tail && memcmp(o + at + sl, v + at + vlen, tail) == 0);
}

static void check_set(const char *v, size_t len, int server)
{
	const char *srv = servers[server].cookie, *val = NULL;
	size_t vlen = 0, n = 0, cap = len + FC_NAME_MAX + 1;
	bool ours = ref_set_match(v, len, &val, &vlen);
	struct fc_ck_span s;
	char *o = malloc(cap);
	enum fc_ck_set r;

	FUZZ_CHECK(o != NULL);
	FUZZ_CHECK(cookie_set_match(v, len, lst.cookie.name, &s) == ours);
	if (ours)
		FUZZ_CHECK(s.len == vlen && (vlen == 0 || s.p == val));
	r = cookie_set_rewrite(&lst.cookie, srv, v, len, o, cap, &n);
	if (!ours)
		FUZZ_CHECK(r == FC_CK_OTHER);
	else if (lst.cookie.mode == FC_COOKIE_INSERT)
		FUZZ_CHECK(r == FC_CK_DROP);
	else {
		FUZZ_CHECK(r == FC_CK_WRITTEN && n <= cap);
		check_set_written(v, len, srv, val, vlen, o, n);
		/* One byte short: refused. */
		FUZZ_CHECK(cookie_set_rewrite(&lst.cookie, srv, v, len, o, n - 1, &n) ==
		    FC_CK_NOROOM);
	}
	free(o);
}

/* What fulcrum writes itself: NAME=value of cookie-octets, then attributes. */
static void check_rsp_set(const char *v, size_t len, const bool *down, uint64_t now,
    int server)
{
	char big[1024], *exact;
	struct fc_ck_req r;
	size_t nl = strlen(lst.cookie.name), i;
	ssize_t n;

	cookie_req_init(&r);
	cookie_req_scan(&lst, v, len, down, now, &r);
	(void)cookie_rsp_needs_set(&lst.cookie, &r, server, false);
	if (lst.cookie.mode == FC_COOKIE_INSERT)
		FUZZ_CHECK(cookie_rsp_needs_set(&lst.cookie, &r, server, true) ==
		    (r.server != server || r.refresh));
	n = cookie_rsp_set(&lst.cookie, servers[server].cookie, &r, now, big, sizeof(big));
	FUZZ_CHECK(n > (ssize_t)nl && memcmp(big, lst.cookie.name, nl) == 0 && big[nl] == '=');
	for (i = nl + 1; i < (size_t)n && big[i] != ';'; i++)
		FUZZ_CHECK(cookie_octet((unsigned char)big[i]));
	FUZZ_CHECK(i + 8 <= (size_t)n && memcmp(big + i, "; Path=/", 8) == 0);
	exact = malloc((size_t)n);
	FUZZ_CHECK(exact != NULL);
	FUZZ_CHECK(cookie_rsp_set(&lst.cookie, servers[server].cookie, &r, now, exact,
	    (size_t)n) == n && memcmp(exact, big, (size_t)n) == 0);
	FUZZ_CHECK(cookie_rsp_set(&lst.cookie, servers[server].cookie, &r, now, exact,
	    (size_t)n - 1) == -1);
	free(exact);
}

/* Reference: a comma-separated directive, before any '=', names it. */
static void check_cc(const char *v, size_t len)
{
	static const char *const tok[] = { "no-cache", "no-store", "private" };
	bool want = false;
	size_t i = 0;

	while (i <= len && !want) {
		size_t e = i, n;
		const char *p = v + i, *eq;

		while (e < len && v[e] != ',')
			e++;
		n = e - i;
		i = e + 1;
		if ((eq = n > 0 ? memchr(p, '=', n) : NULL) != NULL)
			n = (size_t)(eq - p);
		rtrim(&p, &n);
		for (size_t k = 0; k < 3; k++)
			want |= n == strlen(tok[k]) && strncasecmp(p, tok[k], n) == 0;
	}
	FUZZ_CHECK(cookie_cc_private(v, len) == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 3, *nl;
	size_t len, clen, np;
	bool down[NSERVERS];
	uint64_t seed = fuzz_seed(data, size), now;
	char *ck, *sc;

	if (size < 3)
		return 0;
	fixture(data[0]);
	for (int i = 0; i < NSERVERS; i++)
		down[i] = data[1] >> i & 1;
	now = (uint64_t)data[2] * 100;
	len = size - 3;
	nl = len > 0 ? memchr(in, '\n', len) : NULL;
	clen = nl != NULL ? (size_t)(nl - in) : len;
	ck = fuzz_dup(in, clen);
	sc = nl != NULL ? fuzz_dup(nl + 1, len - clen - 1) : fuzz_dup(in, 0);
	np = ref_pairs(ck, clen, in_pairs);
	check_scan(ck, clen, down, now, np);
	check_strip(ck, clen, np, seed);
	check_find(ck, clen, np);
	check_rsp_set(ck, clen, down, now, (int)(data[1] >> 4) % NSERVERS);
	if (nl != NULL) {
		size_t slen = len - clen - 1;

		check_set(sc, slen, (int)(data[1] >> 6) % NSERVERS);
		check_cc(sc, slen);
		(void)cookie_set_deletes(sc, slen);
	}
	free(ck);
	free(sc);
	return 0;
}
