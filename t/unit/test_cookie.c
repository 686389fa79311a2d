/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the cookie persistence functions (worker/cookie.c).  Every
 * input is copied to end right before a PROT_NONE page, so reading one byte
 * too far crashes the test; every output buffer is followed by canary bytes
 * that must survive, so writing one byte too far fails it.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "worker/cookie.h"
#include "t/unit/guard.h"

#define CANARY		0x5a
#define OUT_MAX		(64 * 1024)

/* ------------------------------------------------------------ helpers */

static char out[OUT_MAX + 64];

/* out[cap..cap+64) must still hold the canary after a writer ran. */
static void out_arm(size_t cap)
{
	memset(out, CANARY, sizeof(out));
	(void)cap;
}

static void out_check(size_t cap)
{
	for (size_t i = cap; i < cap + 64; i++)
		cr_assert_eq((unsigned char)out[i], CANARY, "written past cap at %zu", i);
}

static struct fc_server servers[3];
static struct fc_backend lst;

/* Servers webA, webB (cookies "A", "B") and webC (cookie "webC", its name). */
static void setup(void)
{
	memset(servers, 0, sizeof(servers));
	strcpy(servers[0].name, "webA");
	strcpy(servers[0].cookie, "A");
	strcpy(servers[1].name, "webB");
	strcpy(servers[1].cookie, "B");
	strcpy(servers[2].name, "webC");
	strcpy(servers[2].cookie, "webC");
	memset(&lst, 0, sizeof(lst));
	strcpy(lst.name, "web");
	lst.servers = servers;
	lst.nservers = 3;
	strcpy(lst.cookie.name, "JSESSIONID");
	lst.cookie.mode = FC_COOKIE_PREFIX;
}

static void mode(enum fc_cookie_mode m, const char *name)
{
	lst.cookie.mode = m;
	strcpy(lst.cookie.name, name);
}

/* Scans each of n Cookie values (guarded) into a fresh result. */
static struct fc_ck_req scan_n(const char *const *v, int n, const bool *unusable,
    uint64_t now)
{
	struct fc_ck_req r;

	cookie_req_init(&r);
	for (int i = 0; i < n; i++)
		cookie_req_scan(&lst, guarded(v[i], strlen(v[i])), strlen(v[i]), unusable, now, &r);
	return r;
}

static struct fc_ck_req scan(const char *v)
{
	return scan_n(&v, 1, NULL, 1000000);
}

/* cookie_req_strip into out with cap bytes; the result as a string, NULL for -1. */
static const char *strip_cap(const char *v, size_t cap)
{
	ssize_t n;

	out_arm(cap);
	n = cookie_req_strip(&lst.cookie, guarded(v, strlen(v)), strlen(v), out, cap);
	out_check(cap);
	if (n < 0)
		return NULL;
	cr_assert_leq((size_t)n, cap);
	out[n] = '\0';
	return out;
}

static const char *strip(const char *v)
{
	return strip_cap(v, OUT_MAX);
}

/* cookie_set_rewrite of a Set-Cookie value for server cookie srv. */
static enum fc_ck_set set_cap(const char *srv, const char *v, size_t cap)
{
	size_t n = 12345;
	enum fc_ck_set r;

	out_arm(cap);
	r = cookie_set_rewrite(&lst.cookie, srv, guarded(v, strlen(v)), strlen(v), out, cap, &n);
	out_check(cap);
	if (r == FC_CK_WRITTEN) {
		cr_assert_leq(n, cap);
		out[n] = '\0';
	}
	return r;
}

static enum fc_ck_set set(const char *srv, const char *v)
{
	return set_cap(srv, v, OUT_MAX);
}

static const char *rsp_set(const char *srv, const struct fc_ck_req *r, uint64_t now, size_t cap)
{
	ssize_t n;

	out_arm(cap);
	n = cookie_rsp_set(&lst.cookie, srv, r, now, out, cap);
	out_check(cap);
	if (n < 0)
		return NULL;
	out[n] = '\0';
	return out;
}

/* A Cookie value of n "cK=vK" pairs with extra in the middle. */
static char *many(int n, const char *extra)
{
	size_t cap = (size_t)n * 24 + strlen(extra) + 16, len = 0;
	char *s = malloc(cap);

	cr_assert_not_null(s);
	for (int i = 0; i < n; i++) {
		len += (size_t)snprintf(s + len, cap - len, "%sc%d=v%d", i ? "; " : "", i, i);
		if (i == n / 2)
			len += (size_t)snprintf(s + len, cap - len, "; %s", extra);
	}
	return s;
}

TestSuite(cookie, .init = setup);

/* ------------------------------------------------------ prefix: request */

Test(cookie, prefix_names_the_server_and_keeps_the_app_value)
{
	struct fc_ck_req r = scan("JSESSIONID=A~abc");

	cr_expect_eq(r.server, 0);
	cr_expect(r.present);
	cr_expect(r.app_ok && r.app_len == 3 && memcmp(r.app, "abc", 3) == 0);
	cr_expect_str_eq(strip("JSESSIONID=A~abc"), "JSESSIONID=abc");
	cr_expect_eq(scan("JSESSIONID=webC~x").server, 2);
}

Test(cookie, prefix_is_found_and_stripped_at_any_position)
{
	cr_expect_eq(scan("a=1; JSESSIONID=B~abc; b=2").server, 1);
	cr_expect_str_eq(strip("a=1; JSESSIONID=B~abc; b=2"), "a=1; JSESSIONID=abc; b=2");
	cr_expect_str_eq(strip("JSESSIONID=B~abc; b=2"), "JSESSIONID=abc; b=2");
	cr_expect_str_eq(strip("a=1; JSESSIONID=B~abc"), "a=1; JSESSIONID=abc");
	/* Odd spacing: the other cookies keep every byte. */
	cr_expect_str_eq(strip("a=1;JSESSIONID=A~x;b=2"), "a=1;JSESSIONID=x;b=2");
	cr_expect_str_eq(strip("a = 1 ;\tJSESSIONID = A~x ;  b=\"q w\""),
	    "a = 1 ;\tJSESSIONID = x ;  b=\"q w\"");
	cr_expect_eq(scan("a = 1 ;\tJSESSIONID = A~x ;  b=2").server, 0);
	cr_expect_str_eq(strip(";;JSESSIONID=A~x;;"), ";;JSESSIONID=x;;");
}

Test(cookie, prefix_inside_quotes)
{
	struct fc_ck_req r = scan("JSESSIONID=\"A~abc\"");

	cr_expect_eq(r.server, 0);
	cr_expect(r.app_len == 3 && memcmp(r.app, "abc", 3) == 0);
	cr_expect_str_eq(strip("x=\"1\"; JSESSIONID=\"A~abc\""), "x=\"1\"; JSESSIONID=\"abc\"");
	/* A lone quote is a value like any other. */
	cr_expect_str_eq(strip("JSESSIONID=\"A~abc"), "JSESSIONID=abc");
}

Test(cookie, other_names_are_not_the_persistence_cookie)
{
	const char *v[] = { "jsessionid=A~x", "XJSESSIONID=A~x", "JSESSIONIDX=A~x",
	    "JSESSIONID", "a=JSESSIONID=A~x" };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct fc_ck_req r = scan(v[i]);

		cr_expect_eq(r.server, -1, "%s", v[i]);
		cr_expect_str_eq(strip(v[i]), v[i]);
	}
	cr_expect_not(scan("jsessionid=A~x").present);
	/* A name alone is the cookie, without a value: no server. */
	cr_expect(scan("JSESSIONID").present);
}

Test(cookie, prefix_empty_value_has_no_server)
{
	struct fc_ck_req r = scan("JSESSIONID=");

	cr_expect_eq(r.server, -1);
	cr_expect(r.present);
	cr_expect_not(r.app_ok);
	cr_expect_str_eq(strip("JSESSIONID="), "JSESSIONID=");
	cr_expect_str_eq(strip("JSESSIONID=\"\""), "JSESSIONID=\"\"");
	cr_expect_eq(scan("JSESSIONID=\"\"").server, -1);
}

Test(cookie, prefix_of_an_unknown_server_is_stripped_anyway)
{
	struct fc_ck_req r = scan("JSESSIONID=Z~x");

	cr_expect_eq(r.server, -1);
	cr_expect(r.present);
	cr_expect(r.app_ok && r.app_len == 1 && r.app[0] == 'x');
	cr_expect_str_eq(strip("JSESSIONID=Z~x"), "JSESSIONID=x");
	cr_expect_str_eq(strip("JSESSIONID=~x"), "JSESSIONID=x");
	cr_expect_eq(scan("JSESSIONID=~x").server, -1);
	/* Only the first level: the application's own '~' stays. */
	cr_expect_str_eq(strip("JSESSIONID=A~b~c"), "JSESSIONID=b~c");
	cr_expect_eq(scan("JSESSIONID=a~x").server, -1);	/* exact case */
}

Test(cookie, only_cookie_octets_are_kept_to_be_written_back)
{
	const char *bad[] = { "JSESSIONID=A~a b", "JSESSIONID=A~a,b", "JSESSIONID=A~a\\b",
	    "JSESSIONID=A~a\"b", "JSESSIONID=A~a\tb", "JSESSIONID=A~\xe9" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fc_ck_req r = scan(bad[i]);

		cr_expect_eq(r.server, 0, "%s", bad[i]);
		cr_expect_not(r.app_ok, "%s", bad[i]);
	}
	cr_expect(scan("JSESSIONID=A~!#$%&'()*+-./09:<=>?@AZ[]^_`az{|}~").app_ok);
}

Test(cookie, prefix_truncated_after_the_delimiter)
{
	struct fc_ck_req r = scan("JSESSIONID=A~");

	cr_expect_eq(r.server, 0);
	cr_expect_not(r.app_ok);
	cr_expect_str_eq(strip("JSESSIONID=A~"), "JSESSIONID=");
	cr_expect_str_eq(strip("JSESSIONID=A~; b=2"), "JSESSIONID=; b=2");
}

Test(cookie, prefix_without_delimiter_has_no_server_and_passes)
{
	struct fc_ck_req r = scan("JSESSIONID=abc");

	cr_expect_eq(r.server, -1);
	cr_expect(r.app_ok && r.app_len == 3);
	cr_expect_str_eq(strip("JSESSIONID=abc"), "JSESSIONID=abc");
	cr_expect_eq(scan("JSESSIONID=A").server, -1);
}

Test(cookie, first_usable_cookie_wins_and_every_one_is_stripped)
{
	const char *v = "JSESSIONID=Z~1; JSESSIONID=B~2; JSESSIONID=A~3";
	bool down[3] = { false, true, false };
	struct fc_ck_req r = scan(v);

	cr_expect_eq(r.server, 1);
	/* The value kept to re-set a moved session is the first one's. */
	cr_expect(r.app_len == 1 && r.app[0] == '1');
	cr_expect_str_eq(strip(v), "JSESSIONID=1; JSESSIONID=2; JSESSIONID=3");
	r = scan_n(&v, 1, down, 1000000);
	cr_expect_eq(r.server, 0, "B is down: A, the next one");
}

Test(cookie, a_cookie_naming_only_down_servers_gives_none)
{
	const char *v = "JSESSIONID=A~1";
	bool down[3] = { true, false, false };
	struct fc_ck_req r = scan_n(&v, 1, down, 1000000);

	cr_expect_eq(r.server, -1);
	cr_expect(r.present);
	cr_expect(r.app_ok);
}

Test(cookie, several_cookie_headers_add_up_first_wins)
{
	const char *v[] = { "a=1", "JSESSIONID=B~x", "JSESSIONID=A~y" };
	struct fc_ck_req r = scan_n(v, 3, NULL, 1000000);

	cr_expect_eq(r.server, 1);
	cr_expect(r.app_len == 1 && r.app[0] == 'x');
	r = scan_n(v, 1, NULL, 1000000);
	cr_expect_not(r.present);
	cr_expect_eq(r.server, -1);
}

Test(cookie, fifty_cookie_headers_of_forged_values)
{
	const char *v[50];
	struct fc_ck_req r;

	for (int i = 0; i < 50; i++)
		v[i] = i == 37 ? "JSESSIONID=webC~last" : i % 3 ? "JSESSIONID=Z~x" : "JSESSIONID=A~";
	v[0] = "JSESSIONID=Q~x";
	r = scan_n(v, 50, NULL, 1000000);
	cr_expect_eq(r.server, 0, "the first with a known server: A~ (header 3)");
	cr_expect(r.app_ok && r.app[0] == 'x');
}

Test(cookie, eight_kib_values)
{
	size_t n = 8192;
	char *big = malloc(n + 32);
	char *want = malloc(n + 32);
	struct fc_ck_req r;

	cr_assert(big != NULL && want != NULL);
	memcpy(big, "JSESSIONID=A~", 13);
	memset(big + 13, 'v', n);
	big[13 + n] = '\0';
	r = scan(big);
	cr_expect_eq(r.server, 0);
	cr_expect_not(r.app_ok, "longer than FC_CK_APP_MAX: not kept");
	memcpy(want, "JSESSIONID=", 11);
	memset(want + 11, 'v', n);
	want[11 + n] = '\0';
	cr_expect_str_eq(strip(big), want);
	/* One byte short of the result: refused, nothing written past cap. */
	cr_expect_null(strip_cap(big, strlen(want) - 1));
	cr_expect_not_null(strip_cap(big, strlen(want)));
	/* 8 KiB of server part: no server, value stripped of it. */
	memset(big + 11, 'A', n);
	big[11 + n] = '~';
	big[12 + n] = 'x';
	big[13 + n] = '\0';
	cr_expect_eq(scan(big).server, -1);
	cr_expect_str_eq(strip(big), "JSESSIONID=x");
	free(big);
	free(want);
}

Test(cookie, many_cookies_around_the_persistence_one)
{
	char *v = many(400, "JSESSIONID=B~s");
	char *want = many(400, "JSESSIONID=s");

	cr_expect_eq(scan(v).server, 1);
	cr_expect_str_eq(strip(v), want);
	free(v);
	free(want);
}

/* ------------------------------------------------------ insert: request */

Test(cookie, insert_names_the_server)
{
	mode(FC_COOKIE_INSERT, "SERVERID");
	cr_expect_eq(scan("SERVERID=A").server, 0);
	cr_expect_eq(scan("a=b; SERVERID=webC").server, 2);
	cr_expect_eq(scan("SERVERID=\"B\"").server, 1);
	cr_expect_eq(scan("SERVERID=Z").server, -1);
	cr_expect_eq(scan("SERVERID=").server, -1);
	cr_expect_eq(scan("SERVERID=A~x").server, -1);
	cr_expect_not(scan("SERVERID=A").refresh);
}

Test(cookie, insert_without_indirect_passes_the_cookie)
{
	mode(FC_COOKIE_INSERT, "SERVERID");
	cr_expect_str_eq(strip("a=1; SERVERID=A; b=2"), "a=1; SERVERID=A; b=2");
}

Test(cookie, insert_indirect_removes_the_cookie_at_any_position)
{
	mode(FC_COOKIE_INSERT, "SERVERID");
	lst.cookie.indirect = true;
	cr_expect_str_eq(strip("a=1; SERVERID=A; b=2"), "a=1; b=2");
	cr_expect_str_eq(strip("SERVERID=A; b=2"), "b=2");
	cr_expect_str_eq(strip("a=1; SERVERID=A"), "a=1");
	cr_expect_str_eq(strip("a=1;SERVERID=A;"), "a=1");
	cr_expect_str_eq(strip("SERVERID=A"), "");
	cr_expect_str_eq(strip("SERVERID=A; SERVERID=Z; x=\"y z\"; SERVERID="), "x=\"y z\"");
	cr_expect_str_eq(strip("a=1;  SERVERID=A;\tb=2"), "a=1;  b=2");
	cr_expect_str_eq(strip("SERVERIDX=A; xSERVERID=A"), "SERVERIDX=A; xSERVERID=A");
	cr_expect_null(strip_cap("a=1; SERVERID=A; b=2", 7));
	cr_expect_str_eq(strip_cap("a=1; SERVERID=A; b=2", 8), "a=1; b=2");
	/* The room needed is the result's length, not the input's. */
	cr_expect_str_eq(strip_cap("a=1; SERVERID=A", 3), "a=1");
	cr_expect_null(strip_cap("a=1; SERVERID=A", 2));
	cr_expect_str_eq(strip_cap("a=1; SERVERID=A; SERVERID=B", 3), "a=1");
	cr_expect_str_eq(strip_cap("a=1; SERVERID=A; SERVERID=B; b=2", 8), "a=1; b=2");
}

Test(cookie, insert_maxidle_expires_and_refreshes)
{
	const char *v;

	mode(FC_COOKIE_INSERT, "SERVERID");
	lst.cookie.maxidle = 60;
	v = "SERVERID=A|1000|900";
	cr_expect_eq(scan_n(&v, 1, NULL, 1000).server, 0);
	cr_expect_not(scan_n(&v, 1, NULL, 1000).refresh, "dated this second");
	cr_expect(scan_n(&v, 1, NULL, 1001).refresh);
	cr_expect_eq(scan_n(&v, 1, NULL, 1001).first, 900);
	cr_expect_eq(scan_n(&v, 1, NULL, 1060).server, 0);
	cr_expect_eq(scan_n(&v, 1, NULL, 1061).server, -1, "idle for 61 s");
	cr_expect_eq(scan_n(&v, 1, NULL, 500).server, 0, "a date ahead of us is clock skew");
	v = "SERVERID=A";
	cr_expect_eq(scan_n(&v, 1, NULL, 1000).server, 0, "undated: accepted");
	cr_expect(scan_n(&v, 1, NULL, 1000).refresh, "undated: set again");
	v = "SERVERID=A|1000";
	cr_expect(scan_n(&v, 1, NULL, 1000).refresh, "no first date: set again");
}

Test(cookie, insert_maxlife_expires)
{
	const char *v = "SERVERID=B|1000|900";

	mode(FC_COOKIE_INSERT, "SERVERID");
	lst.cookie.maxlife = 100;
	cr_expect_eq(scan_n(&v, 1, NULL, 1000).server, 1);
	cr_expect_not(scan_n(&v, 1, NULL, 1000).refresh);
	cr_expect_not(scan_n(&v, 1, NULL, 1000).refresh, "no maxidle: no refresh");
	cr_expect_eq(scan_n(&v, 1, NULL, 1000).first, 900);
	cr_expect_eq(scan_n(&v, 1, NULL, 1001).server, -1, "lived 101 s");
}

Test(cookie, insert_malformed_dates_have_no_server)
{
	const char *bad[] = { "SERVERID=A|", "SERVERID=A||", "SERVERID=A|x", "SERVERID=A|1|",
	    "SERVERID=A|1|2|3", "SERVERID=A|-1", "SERVERID=A|1234567890123",
	    "SERVERID=A| 1", "SERVERID=|1|2" };

	mode(FC_COOKIE_INSERT, "SERVERID");
	lst.cookie.maxidle = 60;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fc_ck_req r = scan(bad[i]);

		cr_expect_eq(r.server, -1, "%s", bad[i]);
		cr_expect(r.present, "%s", bad[i]);
	}
}

Test(cookie, insert_dates_no_longer_wanted_are_dropped)
{
	struct fc_ck_req r;

	mode(FC_COOKIE_INSERT, "SERVERID");
	r = scan("SERVERID=A|1000|900");
	cr_expect_eq(r.server, 0);
	cr_expect(r.refresh);
}

/* ----------------------------------------------------- rewrite: request */

Test(cookie, rewrite_names_the_server_and_passes_the_value)
{
	mode(FC_COOKIE_REWRITE, "JSESSIONID");
	cr_expect_eq(scan("JSESSIONID=B").server, 1);
	cr_expect_eq(scan("JSESSIONID=B~x").server, -1);
	cr_expect_eq(scan("JSESSIONID=").server, -1);
	cr_expect_str_eq(strip("a=1; JSESSIONID=B; b=2"), "a=1; JSESSIONID=B; b=2");
}

/* ------------------------------------------------------------ find */

Test(cookie, find_gives_the_first_raw_value)
{
	struct fc_ck_span v;
	const char *s = "a=1; PHPSESSID=\"q1\"; PHPSESSID=q2";

	cr_assert(cookie_find(guarded(s, strlen(s)), strlen(s), "PHPSESSID", &v));
	cr_expect(v.len == 4 && memcmp(v.p, "\"q1\"", 4) == 0);
	cr_expect_not(cookie_find(guarded("a=1", 3), 3, "PHPSESSID", &v));
	cr_expect_not(cookie_find(guarded("", 0), 0, "PHPSESSID", &v));
	cr_assert(cookie_find(guarded("PHPSESSID=", 10), 10, "PHPSESSID", &v));
	cr_expect_eq(v.len, 0);
}

/* --------------------------------------------------------- Set-Cookie */

Test(cookie, set_cookie_prefix_keeps_the_attributes)
{
	cr_assert_eq(set("A", "JSESSIONID=abc; Path=/; HttpOnly"), FC_CK_WRITTEN);
	cr_expect_str_eq(out, "JSESSIONID=A~abc; Path=/; HttpOnly");
	cr_assert_eq(set("webC", "JSESSIONID=\"abc\";Secure"), FC_CK_WRITTEN);
	cr_expect_str_eq(out, "JSESSIONID=\"webC~abc\";Secure");
	cr_assert_eq(set("B", " JSESSIONID = abc ; Max-Age=60"), FC_CK_WRITTEN);
	cr_expect_str_eq(out, " JSESSIONID = B~abc ; Max-Age=60");
	cr_assert_eq(set("B", "JSESSIONID="), FC_CK_WRITTEN);
	cr_expect_str_eq(out, "JSESSIONID=B~");
}

Test(cookie, set_cookie_of_another_name_passes)
{
	const char *v[] = { "OTHER=abc; Path=/", "JSESSIONIDX=1", "jsessionid=1",
	    "JSESSIONID; Path=/", "Path=/; JSESSIONID=1", "" };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		cr_expect_eq(set("A", v[i]), FC_CK_OTHER, "%s", v[i]);
}

Test(cookie, set_cookie_rewrite_replaces_the_value)
{
	mode(FC_COOKIE_REWRITE, "JSESSIONID");
	cr_assert_eq(set("A", "JSESSIONID=abc; Path=/app; Expires=Wed, 21 Oct 2015 07:28:00 GMT"),
	    FC_CK_WRITTEN);
	cr_expect_str_eq(out, "JSESSIONID=A; Path=/app; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
	cr_assert_eq(set("B", "JSESSIONID=\"abc\""), FC_CK_WRITTEN);
	cr_expect_str_eq(out, "JSESSIONID=\"B\"");
	cr_assert_eq(set("B", "JSESSIONID=; Max-Age=0"), FC_CK_WRITTEN);
	cr_expect_str_eq(out, "JSESSIONID=B; Max-Age=0");
}

Test(cookie, set_cookie_insert_drops_the_servers_own)
{
	mode(FC_COOKIE_INSERT, "SERVERID");
	cr_expect_eq(set("A", "SERVERID=x; Path=/"), FC_CK_DROP);
	cr_expect_eq(set("A", "JSESSIONID=x; Path=/"), FC_CK_OTHER);
}

Test(cookie, set_cookie_that_does_not_fit_is_refused)
{
	const char *v = "JSESSIONID=abc; Path=/";

	cr_expect_eq(set_cap("webC", v, strlen(v) + 4), FC_CK_NOROOM);
	cr_expect_eq(set_cap("webC", v, strlen(v) + 5), FC_CK_WRITTEN);
	cr_expect_eq(set_cap("webC", v, 0), FC_CK_NOROOM);
}

Test(cookie, set_cookie_eight_kib_value)
{
	size_t n = 8192;
	char *v = malloc(n + 32);

	cr_assert_not_null(v);
	memcpy(v, "JSESSIONID=", 11);
	memset(v + 11, 'z', n);
	strcpy(v + 11 + n, "; Path=/");
	cr_assert_eq(set("A", v), FC_CK_WRITTEN);
	cr_expect_eq(strlen(out), strlen(v) + 2);
	cr_expect(memcmp(out, "JSESSIONID=A~zzz", 16) == 0);
	cr_expect_str_eq(out + strlen(out) - 8, "; Path=/");
	free(v);
}

Test(cookie, set_cookie_deletion_is_recognised)
{
	const char *yes[] = { "S=1; Max-Age=0", "S=1; path=/; max-age=-1", "S=1;MAX-AGE = 00 ",
	    "S=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT; Max-Age=0" };
	const char *no[] = { "S=1", "S=1; Max-Age=60", "Max-Age=0", "S=1; Max-Age=",
	    "S=1; Max-Age=-", "S=1; Max-Agee=0", "S=1; Max-Age=0x" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		cr_expect(cookie_set_deletes(guarded(yes[i], strlen(yes[i])), strlen(yes[i])),
		    "%s", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		cr_expect_not(cookie_set_deletes(guarded(no[i], strlen(no[i])), strlen(no[i])),
		    "%s", no[i]);
}

Test(cookie, set_match_gives_the_raw_value)
{
	struct fc_ck_span v;
	const char *s = "PHPSESSID = \"abc\" ; Path=/";

	cr_assert(cookie_set_match(guarded(s, strlen(s)), strlen(s), "PHPSESSID", &v));
	cr_expect(v.len == 5 && memcmp(v.p, "\"abc\"", 5) == 0);
	cr_expect_not(cookie_set_match(guarded("PHPSESSID", 9), 9, "PHPSESSID", &v));
}

/* --------------------------------------------- response: fulcrum's own */

Test(cookie, insert_sets_unless_the_client_holds_a_fresh_one)
{
	struct fc_ck_req r;

	mode(FC_COOKIE_INSERT, "SERVERID");
	cookie_req_init(&r);
	cr_expect(cookie_rsp_needs_set(&lst.cookie, &r, 0, false), "no cookie");
	r = scan("SERVERID=A");
	cr_expect_not(cookie_rsp_needs_set(&lst.cookie, &r, 0, false), "the right one");
	cr_expect(cookie_rsp_needs_set(&lst.cookie, &r, 1, false), "redispatched to B");
	r = scan("SERVERID=Z");
	cr_expect(cookie_rsp_needs_set(&lst.cookie, &r, 0, false), "forged");
	lst.cookie.maxidle = 10;
	r = scan("SERVERID=A");
	cr_expect(cookie_rsp_needs_set(&lst.cookie, &r, 0, false), "undated");
}

Test(cookie, prefix_and_rewrite_set_when_the_session_moved)
{
	struct fc_ck_req r;

	cookie_req_init(&r);
	cr_expect_not(cookie_rsp_needs_set(&lst.cookie, &r, 0, false), "no session");
	r = scan("JSESSIONID=A~abc");
	cr_expect_not(cookie_rsp_needs_set(&lst.cookie, &r, 0, false), "stayed");
	cr_expect(cookie_rsp_needs_set(&lst.cookie, &r, 1, false), "moved to B");
	cr_expect_not(cookie_rsp_needs_set(&lst.cookie, &r, 1, true), "B set its own");
	r = scan("JSESSIONID=Z~");
	cr_expect_not(cookie_rsp_needs_set(&lst.cookie, &r, 1, false), "nothing to carry");
	mode(FC_COOKIE_REWRITE, "JSESSIONID");
	r = scan("JSESSIONID=A");
	cr_expect_not(cookie_rsp_needs_set(&lst.cookie, &r, 0, false));
	cr_expect(cookie_rsp_needs_set(&lst.cookie, &r, 2, false));
	r = scan("JSESSIONID=");
	cr_expect(cookie_rsp_needs_set(&lst.cookie, &r, 2, false));
	cr_expect_not(cookie_rsp_needs_set(&lst.cookie, &r, 2, true));
}

Test(cookie, inserted_cookie_plain)
{
	struct fc_ck_req r;

	mode(FC_COOKIE_INSERT, "SERVERID");
	cookie_req_init(&r);
	cr_expect_str_eq(rsp_set("A", &r, 1000, OUT_MAX), "SERVERID=A; Path=/");
}

Test(cookie, inserted_cookie_with_every_option)
{
	struct fc_ck_req r = { 0 };
	char dom[] = "example.com";

	mode(FC_COOKIE_INSERT, "SERVERID");
	lst.cookie.domain = dom;
	lst.cookie.httponly = lst.cookie.secure = true;
	lst.cookie.maxidle = 600;
	lst.cookie.maxlife = 3600;
	cookie_req_init(&r);
	cr_expect_str_eq(rsp_set("webC", &r, 1700000000, OUT_MAX),
	    "SERVERID=webC|1700000000|1700000000; Path=/; Domain=example.com; Max-Age=600;"
	    " HttpOnly; Secure");
	r.first = 1700000000 - 3500;	/* 100 s of life left: less than maxidle */
	cr_expect_str_eq(rsp_set("A", &r, 1700000000, OUT_MAX),
	    "SERVERID=A|1700000000|1699996500; Path=/; Domain=example.com; Max-Age=100;"
	    " HttpOnly; Secure");
	cr_expect_null(rsp_set("A", &r, 1700000000, 20));
	lst.cookie.domain = NULL;
}

Test(cookie, moved_session_cookie_of_prefix_and_rewrite)
{
	struct fc_ck_req r = scan("JSESSIONID=A~abc");

	cr_expect_str_eq(rsp_set("B", &r, 1000, OUT_MAX), "JSESSIONID=B~abc; Path=/");
	cr_expect_null(rsp_set("B", &r, 1000, 23));
	cr_expect_not_null(rsp_set("B", &r, 1000, 24));
	mode(FC_COOKIE_REWRITE, "JSESSIONID");
	r = scan("JSESSIONID=A");
	cr_expect_str_eq(rsp_set("webC", &r, 1000, OUT_MAX), "JSESSIONID=webC; Path=/");
}

/* ------------------------------------------------------ Cache-Control */

Test(cookie, cache_control_private_forms)
{
	const char *yes[] = { "no-cache", "max-age=0, private", "Private", "no-store",
	    "no-cache=\"Set-Cookie\"", " public ,  NO-CACHE " };
	const char *no[] = { "", "public, max-age=60", "private-ish", "max-age=60", ",,,",
	    "x=no-cache" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		cr_expect(cookie_cc_private(guarded(yes[i], strlen(yes[i])), strlen(yes[i])),
		    "%s", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		cr_expect_not(cookie_cc_private(guarded(no[i], strlen(no[i])), strlen(no[i])),
		    "%s", no[i]);
}
