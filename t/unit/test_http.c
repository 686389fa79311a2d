/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for the HTTP/1.1 head parser and the chunked walker
 * (worker/http.c).  Every input is copied so that it ends right before a
 * PROT_NONE page, as in picohttpparser's test.c: reading one byte too far
 * crashes the test.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>

#include "lib/net.h"
#include "lib/str.h"
#include "worker/http.h"
#include "t/unit/guard.h"

#define MAX_LINE	8192
#define MAX_HEAD	16384
#define LIT(s)		s, sizeof(s) - 1

static int req_lim(const char *s, size_t len, struct fc_http_msg *m, size_t max_line,
    size_t max_head, int *status)
{
	return http_parse_request(guarded(s, len), len, m, max_line, max_head, status);
}

static int reqn(const char *s, size_t len, struct fc_http_msg *m, int *status)
{
	return req_lim(s, len, m, MAX_LINE, MAX_HEAD, status);
}

static int req(const char *s, struct fc_http_msg *m, int *status)
{
	return reqn(s, strlen(s), m, status);
}

static int rspn(const char *s, size_t len, bool head, struct fc_http_msg *m, int *status)
{
	return http_parse_response(guarded(s, len), len, m, head, MAX_HEAD, status);
}

static int rsp(const char *s, bool head, struct fc_http_msg *m, int *status)
{
	return rspn(s, strlen(s), head, m, status);
}

static bool span_is(const char *p, size_t n, const char *want)
{
	return p != NULL && n == strlen(want) && memcmp(p, want, n) == 0;
}

static struct fc_http_msg msg;	/* large: keep it off the stack */

/* ------------------------------------------------------------ valid requests */

Test(http, simple_get_is_parsed)
{
	const char *s = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n";
	int st = -7;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_eq(st, 0);
	cr_assert(span_is(msg.method, msg.method_len, "GET"));
	cr_assert(span_is(msg.target, msg.target_len, "/index.html?q=1"));
	cr_assert(span_is(msg.first_line, msg.first_line_len, "GET /index.html?q=1 HTTP/1.1"));
	cr_assert_eq(msg.version_minor, 1);
	cr_assert_eq(msg.nheaders, 1);
	cr_assert(span_is(msg.headers[0].name, msg.headers[0].name_len, "Host"));
	cr_assert(span_is(msg.headers[0].value, msg.headers[0].value_len, "example.com"));
	cr_assert_eq(msg.host, 0);
	cr_assert_eq(msg.body, FC_BODY_NONE);
	cr_assert_eq(msg.content_length, 0);
	cr_assert_not(msg.conn_close);
	cr_assert_not(msg.conn_keepalive);
	cr_assert_not(msg.expect_continue);
	cr_assert_not(msg.upgrade);
}

Test(http, post_with_content_length_returns_head_only)
{
	const char *head = "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
	char s[256];
	int st;

	snprintf(s, sizeof(s), "%shello world", head);
	cr_assert_eq(req(s, &msg, &st), (int)strlen(head));
	cr_assert_eq(msg.body, FC_BODY_LENGTH);
	cr_assert_eq(msg.content_length, 11);
}

Test(http, chunked_post_is_chunked)
{
	const char *s = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_eq(msg.body, FC_BODY_CHUNKED);
}

Test(http, transfer_coding_name_is_case_insensitive)
{
	const char *s = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  ChUnKeD \r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_eq(msg.body, FC_BODY_CHUNKED);
}

Test(http, content_length_zero_means_no_body)
{
	const char *s = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_eq(msg.body, FC_BODY_NONE);
	cr_assert_eq(msg.content_length, 0);
}

Test(http, identical_content_lengths_are_accepted)
{
	const char *s = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42, 42\r\n"
	    "Content-Length: 042\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_eq(msg.body, FC_BODY_LENGTH);
	cr_assert_eq(msg.content_length, 42);
}

Test(http, largest_content_length_is_accepted)
{
	/* 2^62 */
	const char *s = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387904\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_eq(msg.content_length, UINT64_C(1) << 62);
}

Test(http, pipelined_requests_return_the_first_only)
{
	const char *one = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
	const char *two = "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
	char s[256];
	int st;

	snprintf(s, sizeof(s), "%s%s", one, two);
	cr_assert_eq(req(s, &msg, &st), (int)strlen(one));
	cr_assert(span_is(msg.target, msg.target_len, "/1"));
	cr_assert_eq(msg.nheaders, 1);
}

Test(http, http10_closes_without_keepalive)
{
	const char *s = "GET / HTTP/1.0\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_eq(msg.version_minor, 0);
	cr_assert_eq(msg.host, -1);
	cr_assert(msg.conn_close);
	cr_assert_not(msg.conn_keepalive);
}

Test(http, no_connection_field_is_minus_one)
{
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX-Connection: close\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_eq(msg.conn_names, -1);
	cr_assert_eq(msg.host, 0);
}

Test(http, connection_options_that_name_no_other_field)
{
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
	    "Connection: close\r\nConnection: x-hop\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert(msg.conn_keepalive && msg.upgrade && msg.conn_close);
	cr_assert_eq(msg.conn_names, 2, "close names a field, keep-alive and upgrade do not");
}

Test(http, u64_is_written_in_decimal)
{
	char b[21];

	cr_assert_eq(str_u64(b, 0), 1);
	cr_assert_eq(memcmp(b, "0", 1), 0);
	b[str_u64(b, 1048576)] = '\0';
	cr_assert_str_eq(b, "1048576");
	b[str_u64(b, UINT64_MAX)] = '\0';
	cr_assert_str_eq(b, "18446744073709551615");
}

Test(http, ipv4_host_text_is_dotted_quad)
{
	static const char *const addrs[] = { "0.0.0.0", "127.0.0.1", "10.0.100.9",
	    "255.255.255.255", "192.168.1.10" };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char buf[FC_ADDRSTRLEN];

	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		cr_assert_eq(inet_pton(AF_INET, addrs[i], &sin.sin_addr), 1);
		cr_assert_str_eq(net_host_str((struct sockaddr *)&sin, buf, sizeof(buf)),
		    addrs[i]);
	}
}

Test(http, http10_keepalive_stays_open)
{
	const char *s = "GET / HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_not(msg.conn_close);
	cr_assert(msg.conn_keepalive);
}

Test(http, connection_tokens_from_lists_and_repeated_fields)
{
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo ,Upgrade\r\n"
	    "Connection: ,  CLOSE\t\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert(msg.upgrade);
	cr_assert(msg.conn_close);
	cr_assert_not(msg.conn_keepalive);
	cr_assert_eq(msg.conn_names, 1, "foo is a field name");
}

Test(http, connection_token_must_match_exactly)
{
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\n"
	    "Connection: closed, keep-alive2, xupgrade\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_not(msg.conn_close);
	cr_assert_not(msg.conn_keepalive);
	cr_assert_not(msg.upgrade);
}

Test(http, websocket_is_seen_in_upgrade_lists_in_any_case)
{
	const char *s = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n"
	    "Upgrade: foo/2, WebSocket\r\nConnection: Upgrade\r\n\r\n";
	const char *h2c = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c, websockets\r\n"
	    "Connection: Upgrade, HTTP2-Settings\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert(msg.upgrade);
	cr_assert(msg.upgrade_websocket);
	cr_assert_eq(req(h2c, &msg, &st), (int)strlen(h2c));
	cr_assert(msg.upgrade);
	cr_assert_not(msg.upgrade_websocket);
}

Test(http, expect_100_continue_is_seen)
{
	const char *s = "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	    "Expect: 100-Continue\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert(msg.expect_continue);
}

Test(http, header_values_have_ows_trimmed)
{
	const char *s = "GET / HTTP/1.1\r\nHost:a\r\nX-A: \t value  with \tinner \t \r\n"
	    "X-B:v\r\nX-Empty: \t \r\nX-Obs: caf\xc3\xa9\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_eq(msg.nheaders, 5);
	cr_assert(span_is(msg.headers[0].value, msg.headers[0].value_len, "a"));
	cr_assert(span_is(msg.headers[1].value, msg.headers[1].value_len, "value  with \tinner"));
	cr_assert(span_is(msg.headers[2].value, msg.headers[2].value_len, "v"));
	cr_assert_eq(msg.headers[3].value_len, 0);
	cr_assert(span_is(msg.headers[4].value, msg.headers[4].value_len, "caf\xc3\xa9"));
}

Test(http, hundred_headers_are_accepted)
{
	char s[8192];
	size_t n;
	int st;

	n = (size_t)snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 1; i < FC_HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "X-H%d: v%d\r\n", i, i);
	n += (size_t)snprintf(s + n, sizeof(s) - n, "\r\n");
	cr_assert_eq(reqn(s, n, &msg, &st), (int)n);
	cr_assert_eq(msg.nheaders, FC_HTTP_MAX_HEADERS);
	cr_assert(span_is(msg.headers[99].name, msg.headers[99].name_len, "X-H99"));
	cr_assert(span_is(msg.headers[99].value, msg.headers[99].value_len, "v99"));
}

Test(http, absolute_form_matching_host_is_accepted)
{
	static const char *ok[] = {
		"GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"GET HTTP://Example.COM:8080/x?y HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
		"GET http://example.com HTTP/1.1\r\nHost: example.com:80\r\n\r\n",
		"GET https://example.com:443/ HTTP/1.1\r\nHost: EXAMPLE.com\r\n\r\n",
		"GET http://[::1]:81/ HTTP/1.1\r\nHost: [::1]:81\r\n\r\n",
		"GET http://example.com/ HTTP/1.0\r\n\r\n",
	};
	int st;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_expect_eq(req(ok[i], &msg, &st), (int)strlen(ok[i]), "case %zu", i);
}

Test(http, options_asterisk_is_accepted)
{
	const char *s = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert(span_is(msg.target, msg.target_len, "*"));
}

/* A well-formed CONNECT is understood, then refused: no tunnels here. */
Test(http, connect_authority_form_is_parsed_then_501)
{
	const char *s = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), FC_HTTP_ERROR);
	cr_assert_eq(st, 501);
	cr_assert(span_is(msg.target, msg.target_len, "example.com:443"));
}

/*
 * Methods are case-sensitive: "get" is another method and passes; case
 * variants of HEAD and CONNECT, which frame responses, are refused.
 */
Test(http, method_case_variants)
{
	static const char *pass[] = { "get", "Get", "post", "HEAD", "heads", "HEADX",
	    "options", "CONNECTED", "hea" };
	static const char *refuse[] = { "head", "Head", "hEAD", "HeAd", "connect", "Connect",
	    "CONNECt" };
	char s[128];
	int st;

	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		snprintf(s, sizeof(s), "%s / HTTP/1.1\r\nHost: a\r\n\r\n", pass[i]);
		cr_expect_eq(req(s, &msg, &st), (int)strlen(s), "%s refused", pass[i]);
	}
	for (size_t i = 0; i < sizeof(refuse) / sizeof(refuse[0]); i++) {
		snprintf(s, sizeof(s), "%s a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n", refuse[i]);
		cr_expect_eq(req(s, &msg, &st), FC_HTTP_ERROR, "%s a:1 accepted", refuse[i]);
		cr_expect_eq(st, 400, "%s a:1: status %d", refuse[i], st);
		snprintf(s, sizeof(s), "%s / HTTP/1.1\r\nHost: a\r\n\r\n", refuse[i]);
		cr_expect_eq(req(s, &msg, &st), FC_HTTP_ERROR, "%s / accepted", refuse[i]);
		cr_expect_eq(st, 400, "%s /: status %d", refuse[i], st);
	}
}

Test(http, empty_host_is_accepted)
{
	const char *s = "GET / HTTP/1.1\r\nHost:\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_eq(msg.host, 0);
	cr_assert_eq(msg.headers[0].value_len, 0);
}

Test(http, leading_empty_lines_are_skipped)
{
	const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), (int)strlen(s));
	cr_assert_eq(msg.first_line, msg.method);
	cr_assert(span_is(msg.first_line, msg.first_line_len, "GET / HTTP/1.1"));
}

Test(http, too_many_leading_empty_lines_are_refused)
{
	const char *s = "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
	int st;

	cr_assert_eq(req(s, &msg, &st), FC_HTTP_ERROR);
	cr_assert_eq(st, 400);
}

Test(http, every_token_char_is_a_method_and_no_other)
{
	const char *tchars = "!#$%&'*+-.^_`|~0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char s[64];
	int st, r;

	for (int c = 1; c < 256; c++) {
		bool tchar = strchr(tchars, c) != NULL;

		if (c == ' ')
			continue;
		snprintf(s, sizeof(s), "G%cT / HTTP/1.1\r\nHost: a\r\n\r\n", c);
		r = req(s, &msg, &st);
		if (tchar)
			cr_expect_eq(r, (int)strlen(s), "byte 0x%02x refused", c);
		else
			cr_expect_eq(r, FC_HTTP_ERROR, "byte 0x%02x accepted", c);
	}
}

/* Every proper prefix of a valid head is incomplete; the whole is complete. */
static void check_prefixes(const char *s, bool response)
{
	size_t len = strlen(s);
	int st, r;

	for (size_t i = 0; i < len; i++) {
		r = response ? rspn(s, i, false, &msg, &st) : reqn(s, i, &msg, &st);
		cr_assert_eq(r, FC_HTTP_INCOMPLETE, "prefix %zu of \"%s\" gives %d", i, s, r);
	}
	r = response ? rspn(s, len, false, &msg, &st) : reqn(s, len, &msg, &st);
	cr_assert_eq(r, (int)len, "\"%s\" gives %d", s, r);
}

Test(http, every_prefix_of_a_request_is_incomplete)
{
	check_prefixes("GET / HTTP/1.1\r\nHost: a\r\n\r\n", false);
	check_prefixes("\r\n\r\nPOST /p?q=%20 HTTP/1.1\r\nHost: example.com:8080\r\n"
	    "User-Agent: t\t/1\r\nContent-Length: 5\r\nX-Empty:\r\n\r\n", false);
	check_prefixes("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", false);
	check_prefixes("OPTIONS * HTTP/1.0\r\n\r\n", false);
}

Test(http, every_prefix_of_a_response_is_incomplete)
{
	check_prefixes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true);
	check_prefixes("HTTP/1.1 204\r\n\r\n", true);
	check_prefixes("HTTP/1.0 404 Not  Found\r\nServer: x\r\n\r\n", true);
}

/* ------------------------------------------------------------ refused requests */

struct bad_case {
	const char *name;
	const char *s;
	size_t len;
	int status;
};

#define BAD(name, s, status)	{ name, s, sizeof(s) - 1, status }

static const struct bad_case bad_requests[] = {
	BAD("bad method char", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("double space before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
	BAD("missing version", "GET /\r\nHost: a\r\n\r\n", 400),
	BAD("missing target and version", "GET\r\nHost: a\r\n\r\n", 400),
	BAD("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 400),
	BAD("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 400),
	BAD("HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 400),
	BAD("lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("long version", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400),
	BAD("bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
	BAD("bare LF after field", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400),
	BAD("bare LF ends head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
	BAD("leading bare LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("bare CR in value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400),
	BAD("bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("CR CR LF", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400),
	BAD("leading bare CR", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400),
	BAD("NUL in name", "GET / HTTP/1.1\r\nHost: a\r\nX\0: a\r\n\r\n", 400),
	BAD("control byte in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01" "b\r\n\r\n", 400),
	BAD("DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400),
	BAD("escape in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[0m\r\n\r\n", 400),
	BAD("control byte in target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("obs-text in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("fragment in target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
	BAD("tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400),
	BAD("no colon", "GET / HTTP/1.1\r\nHost: a\r\nX-No-Colon\r\n\r\n", 400),
	BAD("empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400),
	BAD("bad field name char", "GET / HTTP/1.1\r\nHost: a\r\nX(y): v\r\n\r\n", 400),
	BAD("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
	BAD("obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400),
	BAD("space before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
	BAD("CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400),
	BAD("TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 0\r\n\r\n", 400),
	BAD("two different CLs", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\n", 400),
	BAD("CL list differs", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400),
	BAD("CL +5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400),
	BAD("CL -1", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
	BAD("CL 1_0", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0\r\n\r\n", 400),
	BAD("CL 1 0", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n", 400),
	BAD("CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
	BAD("CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
	BAD("CL empty member", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400),
	BAD("CL above 2^62", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 4611686018427387905\r\n\r\n", 400),
	BAD("CL overflow", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 18446744073709551617\r\n\r\n", 400),
	BAD("TE chunked, identity", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked, identity\r\n\r\n", 400),
	BAD("TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
	BAD("TE gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
	BAD("TE identity, chunked", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: identity, chunked\r\n\r\n", 501),
	BAD("TE gzip then TE chunked", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
	BAD("TE gzip;q=1, chunked", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: gzip;q=1, chunked\r\n\r\n", 501),
	BAD("TE chunked then TE gzip", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
	BAD("TE identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400),
	BAD("TE gzip, chunked with CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n", 400),
	BAD("TE gzip, chunked in HTTP/1.0", "POST / HTTP/1.0\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n", 400),
	BAD("TE xchunked", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: xchunked\r\n\r\n", 400),
	BAD("TE chunkedx", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunkedx\r\n\r\n", 400),
	BAD("TE chunked;x=1", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked;x=1\r\n\r\n", 400),
	BAD("TE \"chunked\"", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: \"chunked\"\r\n\r\n", 400),
	BAD("TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	BAD("TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400),
	BAD("TE empty member", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: , chunked\r\n\r\n", 400),
	BAD("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	BAD("no Host in 1.1", "GET / HTTP/1.1\r\nX: a\r\n\r\n", 400),
	BAD("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
	BAD("two Hosts in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400),
	BAD("space in Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
	BAD("userinfo in Host", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
	BAD("path in Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
	BAD("bad port in Host", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400),
	BAD("absolute-form with another Host", "GET http://a.example/ HTTP/1.1\r\n"
	    "Host: b.example\r\n\r\n", 400),
	BAD("absolute-form with another port", "GET http://a.example:8080/ HTTP/1.1\r\n"
	    "Host: a.example\r\n\r\n", 400),
	BAD("absolute-form with userinfo", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("absolute-form without authority", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("absolute-form with odd scheme", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("asterisk-form with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("authority-form with GET", "GET a:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("origin-form with CONNECT", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("CONNECT without port", "CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	BAD("empty line as request", "\r\n\r\n\r\n\r\n\r\n", 400),
};

Test(http, malformed_requests_are_refused)
{
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		const struct bad_case *b = &bad_requests[i];
		int st = 0, r;

		r = reqn(b->s, b->len, &msg, &st);
		cr_expect_eq(r, FC_HTTP_ERROR, "%s: returned %d", b->name, r);
		cr_expect_eq(st, b->status, "%s: status %d", b->name, st);
	}
}

/*
 * Every control byte but HTAB is refused wherever it sits in a value (the
 * scan works on 8-byte words, so every offset matters); HTAB and obs-text
 * are not.
 */
Test(http, control_bytes_are_refused_at_every_offset)
{
	char s[128];
	int st, r;

	for (int c = 0; c < 256; c++) {
		bool ok = c == '\t' || (c >= 0x20 && c != 0x7f);

		if (c == '\r')
			continue;	/* "X: ..\r\r\n" is a bare CR: tested above */
		for (size_t off = 0; off < 24; off++) {
			int n = snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: a\r\nX: "
			    "0123456789abcdefghijklmn\r\n\r\n");

			s[28 + off] = (char)c;
			r = reqn(s, (size_t)n, &msg, &st);
			if (ok)
				cr_expect_eq(r, n, "byte 0x%02x at %zu refused", c, off);
			else
				cr_expect(r == FC_HTTP_ERROR && st == 400,
				    "byte 0x%02x at %zu: %d", c, off, r);
		}
	}
}

/* A malformed head is refused as soon as the bad line is complete. */
Test(http, malformed_line_is_refused_before_the_head_ends)
{
	int st;

	cr_assert_eq(req("GET / HTTP/1.1\r\nHost : a\r\n", &msg, &st), FC_HTTP_ERROR);
	cr_assert_eq(req("GET / HTTP/1.1\r\nX: \x01", &msg, &st), FC_HTTP_ERROR);
	cr_assert_eq(req("GET / HTTP/1.1\r", &msg, &st), FC_HTTP_INCOMPLETE);
	cr_assert_eq(req("GET / HTTP/1.1\rX", &msg, &st), FC_HTTP_ERROR);
	cr_assert_eq(st, 400);
}

Test(http, bad_request_line_is_kept_for_the_log)
{
	int st;

	cr_assert_eq(req("GET / HTTP/2.0\r\nHost: a\r\n\r\n", &msg, &st), FC_HTTP_ERROR);
	cr_assert(span_is(msg.first_line, msg.first_line_len, "GET / HTTP/2.0"));
}

Test(http, long_request_line_is_414)
{
	const char *s = "GET /0123456789 HTTP/1.1\r\nHost: a\r\n\r\n";	/* line: 24 */
	int st;

	cr_assert_eq(req_lim(s, strlen(s), &msg, 24, MAX_HEAD, &st), (int)strlen(s));
	cr_assert_eq(req_lim(s, strlen(s), &msg, 23, MAX_HEAD, &st), FC_HTTP_ERROR);
	cr_assert_eq(st, 414);
}

Test(http, long_request_line_is_414_before_it_ends)
{
	const char *s = "GET /0123456789";
	int st;

	cr_assert_eq(req_lim(s, 10, &msg, 10, MAX_HEAD, &st), FC_HTTP_INCOMPLETE);
	cr_assert_eq(req_lim(s, 11, &msg, 10, MAX_HEAD, &st), FC_HTTP_ERROR);
	cr_assert_eq(st, 414);
	cr_assert_eq(req_lim(s, strlen(s), &msg, 10, MAX_HEAD, &st), FC_HTTP_ERROR);
	cr_assert_eq(st, 414);
}

Test(http, too_many_headers_is_431)
{
	char s[8192];
	size_t n;
	int st;

	n = (size_t)snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < FC_HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "X-H%d: v\r\n", i);
	n += (size_t)snprintf(s + n, sizeof(s) - n, "\r\n");
	cr_assert_eq(reqn(s, n, &msg, &st), FC_HTTP_ERROR);
	cr_assert_eq(st, 431);
}

Test(http, head_of_exactly_max_head_is_accepted)
{
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\r\n\r\n";
	size_t len = strlen(s);
	int st;

	cr_assert_eq(req_lim(s, len, &msg, MAX_LINE, len, &st), (int)len);
	cr_assert_eq(req_lim(s, len, &msg, MAX_LINE, len - 1, &st), FC_HTTP_ERROR);
	cr_assert_eq(st, 431);
}

Test(http, big_head_is_431_before_it_ends)
{
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789012345678901234567890123456789";
	int st;

	cr_assert_eq(req_lim(s, 39, &msg, MAX_LINE, 40, &st), FC_HTTP_INCOMPLETE);
	cr_assert_eq(req_lim(s, 40, &msg, MAX_LINE, 40, &st), FC_HTTP_ERROR);
	cr_assert_eq(st, 431);
	cr_assert_eq(req_lim(s, strlen(s), &msg, MAX_LINE, 40, &st), FC_HTTP_ERROR);
	cr_assert_eq(st, 431);
}

Test(http, status_is_reset_on_success)
{
	int st = 400;

	cr_assert_gt(req("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &msg, &st), 0);
	cr_assert_eq(st, 0);
}

/* ------------------------------------------------------------ responses */

Test(http, response_with_content_length)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world!";
	int st;

	cr_assert_eq(rsp(s, false, &msg, &st), (int)strlen(s) - 12);
	cr_assert_eq(msg.status, 200);
	cr_assert(span_is(msg.reason, msg.reason_len, "OK"));
	cr_assert_eq(msg.version_minor, 1);
	cr_assert(span_is(msg.first_line, msg.first_line_len, "HTTP/1.1 200 OK"));
	cr_assert_eq(msg.body, FC_BODY_LENGTH);
	cr_assert_eq(msg.content_length, 12);
	cr_assert_not(msg.conn_close);
}

Test(http, chunked_response)
{
	const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
	int st;

	cr_assert_eq(rsp(s, false, &msg, &st), (int)strlen(s));
	cr_assert_eq(msg.body, FC_BODY_CHUNKED);
}

Test(http, response_without_length_ends_at_eof)
{
	const char *s = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n";
	const char *gz = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n";
	int st;

	cr_assert_eq(rsp(s, false, &msg, &st), (int)strlen(s));
	cr_assert_eq(msg.body, FC_BODY_EOF);
	/* RFC 9112 section 6.3 rule 4 */
	cr_assert_eq(rsp(gz, false, &msg, &st), (int)strlen(gz));
	cr_assert_eq(msg.body, FC_BODY_EOF);
}

Test(http, bodiless_responses_have_no_body)
{
	const char *cl = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
	const char *te = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	const char *nc = "HTTP/1.1 204 No Content\r\n\r\n";
	const char *nm = "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
	const char *eof = "HTTP/1.1 200 OK\r\n\r\n";
	int st;

	cr_assert_eq(rsp(cl, true, &msg, &st), (int)strlen(cl));
	cr_assert_eq(msg.body, FC_BODY_NONE);
	cr_assert_eq(rsp(te, true, &msg, &st), (int)strlen(te));
	cr_assert_eq(msg.body, FC_BODY_NONE);
	cr_assert_eq(rsp(eof, true, &msg, &st), (int)strlen(eof));
	cr_assert_eq(msg.body, FC_BODY_NONE);
	cr_assert_eq(rsp(nc, false, &msg, &st), (int)strlen(nc));
	cr_assert_eq(msg.body, FC_BODY_NONE);
	cr_assert_eq(msg.status, 204);
	cr_assert_eq(rsp(nm, false, &msg, &st), (int)strlen(nm));
	cr_assert_eq(msg.body, FC_BODY_NONE);
}

Test(http, interim_100_continue_comes_first)
{
	const char *one = "HTTP/1.1 100 Continue\r\n\r\n";
	char s[256];
	int st;

	snprintf(s, sizeof(s), "%sHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", one);
	cr_assert_eq(rsp(s, false, &msg, &st), (int)strlen(one));
	cr_assert_eq(msg.status, 100);
	cr_assert_eq(msg.body, FC_BODY_NONE);
	cr_assert_eq(rsp(s + strlen(one), false, &msg, &st), (int)(strlen(s) - strlen(one)));
	cr_assert_eq(msg.status, 200);
	cr_assert_eq(msg.body, FC_BODY_NONE);
}

Test(http, status_line_without_reason)
{
	const char *bare = "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n";
	const char *empty = "HTTP/1.1 503 \r\n\r\n";
	int st;

	cr_assert_eq(rsp(bare, false, &msg, &st), (int)strlen(bare));
	cr_assert_eq(msg.status, 200);
	cr_assert_eq(msg.reason_len, 0);
	cr_assert_eq(rsp(empty, false, &msg, &st), (int)strlen(empty));
	cr_assert_eq(msg.status, 503);
	cr_assert_eq(msg.reason_len, 0);
}

Test(http, http10_response_closes_unless_keepalive)
{
	const char *s = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n";
	const char *ka = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n";
	const char *cl = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n";
	int st;

	cr_assert_eq(rsp(s, false, &msg, &st), (int)strlen(s));
	cr_assert(msg.conn_close);
	cr_assert_eq(rsp(ka, false, &msg, &st), (int)strlen(ka));
	cr_assert_not(msg.conn_close);
	cr_assert(msg.conn_keepalive);
	cr_assert_eq(rsp(cl, false, &msg, &st), (int)strlen(cl));
	cr_assert(msg.conn_close);
}

static const struct bad_case bad_responses[] = {
	BAD("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 502),
	BAD("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", 502),
	BAD("status 099", "HTTP/1.1 099 X\r\n\r\n", 502),
	BAD("status 600", "HTTP/1.1 600 X\r\n\r\n", 502),
	BAD("letter in status", "HTTP/1.1 2x0 OK\r\n\r\n", 502),
	BAD("no SP before reason", "HTTP/1.1 200OK\r\n\r\n", 502),
	BAD("double SP", "HTTP/1.1  200 OK\r\n\r\n", 502),
	BAD("tab separator", "HTTP/1.1\t200 OK\r\n\r\n", 502),
	BAD("lowercase version", "http/1.1 200 OK\r\n\r\n", 502),
	BAD("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", 502),
	BAD("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", 502),
	BAD("no status", "HTTP/1.1\r\n\r\n", 502),
	BAD("not HTTP", "ICY 200 OK\r\n\r\n", 502),
	BAD("leading empty line", "\r\nHTTP/1.1 200 OK\r\n\r\n", 502),
	BAD("bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", 502),
	BAD("bare CR", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", 502),
	BAD("NUL in reason", "HTTP/1.1 200 O\0K\r\n\r\n", 502),
	BAD("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", 502),
	BAD("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 502),
	BAD("CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 502),
	BAD("TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 502),
	BAD("two different CLs", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	    "Content-Length: 4\r\n\r\n", 502),
	BAD("CL +3", "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n", 502),
	BAD("TE chunked, gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 502),
	BAD("TE chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 502),
	BAD("TE empty member", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,,chunked\r\n\r\n", 502),
	BAD("TE chunked with parameter", "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked;q=1\r\n\r\n", 502),
};

Test(http, malformed_responses_are_502)
{
	for (size_t i = 0; i < sizeof(bad_responses) / sizeof(bad_responses[0]); i++) {
		const struct bad_case *b = &bad_responses[i];
		int st = 0, r;

		r = rspn(b->s, b->len, false, &msg, &st);
		cr_expect_eq(r, FC_HTTP_ERROR, "%s: returned %d", b->name, r);
		cr_expect_eq(st, b->status, "%s: status %d", b->name, st);
	}
}

Test(http, oversized_responses_are_502)
{
	char s[8192];
	size_t n;
	int st;

	n = (size_t)snprintf(s, sizeof(s), "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= FC_HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "X-H%d: v\r\n", i);
	n += (size_t)snprintf(s + n, sizeof(s) - n, "\r\n");
	cr_assert_eq(rspn(s, n, false, &msg, &st), FC_HTTP_ERROR);
	cr_assert_eq(st, 502);
	cr_assert_eq(http_parse_response(guarded(s, 64), 64, &msg, false, 64, &st),
	    FC_HTTP_ERROR);
	cr_assert_eq(st, 502);
	cr_assert_eq(http_parse_response(guarded(s, 63), 63, &msg, false, 64, &st),
	    FC_HTTP_INCOMPLETE);
}

/* ------------------------------------------------------------ lookups */

Test(http, find_header_is_case_insensitive_and_resumes)
{
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1\r\nx-forwarded-for: 2\r\n"
	    "X-Forwarded-Fo: 3\r\n\r\n";
	int st, i;

	cr_assert_gt(req(s, &msg, &st), 0);
	i = http_find_header(&msg, "x-FORWARDED-for", 0);
	cr_assert_eq(i, 1);
	i = http_find_header(&msg, "x-forwarded-for", (size_t)i + 1);
	cr_assert_eq(i, 2);
	cr_assert_eq(http_find_header(&msg, "x-forwarded-for", (size_t)i + 1), -1);
	cr_assert_eq(http_find_header(&msg, "x-forwarded", 0), -1);
	cr_assert_eq(http_find_header(&msg, "host", 5), -1);
}

Test(http, value_has_token_matches_whole_list_members)
{
	cr_assert(http_value_has_token(LIT("close"), "close"));
	cr_assert(http_value_has_token(LIT("a, Close"), "close"));
	cr_assert(http_value_has_token(LIT(" \tkeep-alive\t ,x"), "keep-alive"));
	cr_assert(http_value_has_token(LIT(",,upgrade,"), "upgrade"));
	cr_assert_not(http_value_has_token(LIT("closed"), "close"));
	cr_assert_not(http_value_has_token(LIT("xclose"), "close"));
	cr_assert_not(http_value_has_token(LIT("clo se"), "close"));
	cr_assert_not(http_value_has_token(LIT(""), "close"));
	cr_assert_not(http_value_has_token(NULL, 0, "close"));
	/* the length bounds the value */
	cr_assert_not(http_value_has_token("closed", 4, "close"));
	cr_assert(http_value_has_token(guarded(LIT("a,close")), 7, "close"));
}

Test(http, list_has_takes_a_counted_token)
{
	static char name[200];
	char value[256];

	memset(name, 'n', sizeof(name));
	memcpy(name, "X-", 2);
	snprintf(value, sizeof(value), "close, %.*s", (int)sizeof(name), name);
	cr_assert(http_list_has(guarded(value, strlen(value)), strlen(value), name, sizeof(name)));
	cr_assert_not(http_list_has(guarded(value, strlen(value)), strlen(value), name,
	    sizeof(name) - 1));
	cr_assert(http_list_has(guarded(LIT("a, Close")), 8, "close-and-more", 5));
	cr_assert_not(http_list_has(guarded(LIT("a, Close")), 8, "clos", 4));
	cr_assert_not(http_list_has(NULL, 0, "a", 1));
}

/* ------------------------------------------------------------ chunked */

struct sink {
	char data[65536];
	size_t n;
};

static void sink_data(void *arg, const char *p, size_t n)
{
	struct sink *k = arg;

	cr_assert_leq(k->n + n, sizeof(k->data));
	memcpy(k->data + k->n, p, n);
	k->n += n;
}

/* Feeds s whole; returns what the walker did. */
static ssize_t feed_whole(const char *s, size_t len, struct fc_chunked *c, struct sink *k)
{
	http_chunked_init(c);
	k->n = 0;
	return http_chunked_feed(c, guarded(s, len), len, sink_data, k);
}

/*
 * Feeds s one guarded byte at a time, stopping at an error or at the end
 * of the body; returns the bytes consumed or the error.
 */
static ssize_t feed_bytes(const char *s, size_t len, struct fc_chunked *c, struct sink *k)
{
	size_t used = 0;
	ssize_t r;

	http_chunked_init(c);
	k->n = 0;
	for (size_t i = 0; i < len; i++) {
		r = http_chunked_feed(c, guarded(s + i, 1), 1, sink_data, k);
		if (r < 0)
			return r;
		used += (size_t)r;
		if (c->done)
			break;
		cr_assert_eq(r, 1, "byte %zu not consumed", i);
	}
	return (ssize_t)used;
}

/* Feeds s in two parts split at cut. */
static ssize_t feed_split(const char *s, size_t len, size_t cut, struct fc_chunked *c,
    struct sink *k)
{
	ssize_t a, b;

	http_chunked_init(c);
	k->n = 0;
	a = http_chunked_feed(c, guarded(s, cut), cut, sink_data, k);
	if (a < 0 || c->done)
		return a;
	cr_assert_eq((size_t)a, cut);
	b = http_chunked_feed(c, guarded(s + cut, len - cut), len - cut, sink_data, k);
	return b < 0 ? b : a + b;
}

#define CHUNKED(body, payload)	{ body, sizeof(body) - 1, payload, sizeof(payload) - 1 }

static const struct {
	const char *body;
	size_t len;
	const char *payload;
	size_t plen;
} good_chunked[] = {
	CHUNKED("0\r\n\r\n", ""),
	CHUNKED("5\r\nhello\r\n0\r\n\r\n", "hello"),
	CHUNKED("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"),
	CHUNKED("A\r\n0123456789\r\na\r\nabcdefghij\r\n000\r\n\r\n", "0123456789abcdefghij"),
	CHUNKED("0000000000000003\r\nabc\r\n0\r\n\r\n", "abc"),	/* 16 digits */
	CHUNKED("3;ext\r\nabc\r\n0;last=\"x\\\"y\"\r\n\r\n", "abc"),
	CHUNKED("3 ; a = b ;c\t;d=\"q;\\\\\" \t;e\r\nabc\r\n0\r\n\r\n", "abc"),
	CHUNKED("3;a=b;c=d\r\nabc\r\n0\r\nExpires: never\r\nX-Sum:\t abc \r\n\r\n", "abc"),
	CHUNKED("2\r\n\r\n\r\n0\r\nA:\r\n\r\n", "\r\n"),
	CHUNKED("1\r\n\0\r\n1\r\n\xff\r\n0\r\n\r\n", "\0\xff"),
	/* names close to the forbidden ones */
	CHUNKED("0\r\nContent-Lengths: 1\r\nContent-Length-X: 1\r\nContent-Type: a\r\n"
	    "Hosts: a\r\nX-Host: a\r\nHos: a\r\nT: a\r\nTE-X: a\r\nTEs: a\r\n"
	    "Trailers: a\r\nUpgraded: a\r\nConnections: a\r\nKeep: a\r\n\r\n", ""),
};

static bool payload_is(const struct sink *k, const char *p, size_t n)
{
	return k->n == n && memcmp(k->data, p, n) == 0;
}

Test(http, chunked_whole_bytewise_and_split_agree)
{
	struct fc_chunked c;
	static struct sink k;

	for (size_t i = 0; i < sizeof(good_chunked) / sizeof(good_chunked[0]); i++) {
		const char *body = good_chunked[i].body, *pl = good_chunked[i].payload;
		size_t len = good_chunked[i].len, plen = good_chunked[i].plen;
		ssize_t r;

		r = feed_whole(body, len, &c, &k);
		cr_expect_eq(r, (ssize_t)len, "case %zu whole: %zd", i, r);
		cr_expect(c.done, "case %zu whole: not done", i);
		cr_expect(payload_is(&k, pl, plen), "case %zu whole: payload", i);

		r = feed_bytes(body, len, &c, &k);
		cr_expect_eq(r, (ssize_t)len, "case %zu bytewise: %zd", i, r);
		cr_expect(c.done, "case %zu bytewise: not done", i);
		cr_expect(payload_is(&k, pl, plen), "case %zu bytewise: payload", i);

		for (size_t cut = 0; cut <= len; cut++) {
			r = feed_split(body, len, cut, &c, &k);
			cr_expect_eq(r, (ssize_t)len, "case %zu cut %zu: %zd", i, cut, r);
			cr_expect(c.done, "case %zu cut %zu: not done", i, cut);
			cr_expect(payload_is(&k, pl, plen), "case %zu cut %zu: payload", i, cut);
		}
	}
}

Test(http, chunked_stops_exactly_at_the_end)
{
	const char *body = "4\r\nwiki\r\n0\r\nT: v\r\n\r\n";
	const char *next = "GET / HTTP/1.1\r\n";
	char s[256];
	struct fc_chunked c;
	static struct sink k;
	const char *g;
	ssize_t r;

	snprintf(s, sizeof(s), "%s%s", body, next);
	g = guarded(s, strlen(s));
	http_chunked_init(&c);
	k.n = 0;
	r = http_chunked_feed(&c, g, strlen(s), sink_data, &k);
	cr_assert_eq(r, (ssize_t)strlen(body));
	cr_assert(c.done);
	cr_assert(k.n == 4 && memcmp(k.data, "wiki", 4) == 0);
	/* nothing more belongs to the body */
	cr_assert_eq(http_chunked_feed(&c, g + r, strlen(next), sink_data, &k), 0);
	cr_assert_eq(k.n, 4);

	/* the same, one byte at a time */
	r = feed_bytes(s, strlen(s), &c, &k);
	cr_assert_eq(r, (ssize_t)strlen(body));
	cr_assert(c.done);
}

Test(http, chunked_without_callback)
{
	const char *s = "3\r\nabc\r\n0\r\n\r\n";
	struct fc_chunked c;

	http_chunked_init(&c);
	cr_assert_eq(http_chunked_feed(&c, guarded(s, strlen(s)), strlen(s), NULL, NULL),
	    (ssize_t)strlen(s));
	cr_assert(c.done);
}

Test(http, chunked_is_incomplete_until_the_final_crlf)
{
	const char *s = "3\r\nabc\r\n0\r\nX: y\r\n\r\n";
	size_t len = strlen(s);
	struct fc_chunked c;
	static struct sink k;

	for (size_t i = 0; i < len; i++) {
		cr_assert_eq(feed_whole(s, i, &c, &k), (ssize_t)i);
		cr_assert_not(c.done, "done after %zu bytes", i);
	}
}

Test(http, chunked_large_size_is_accepted)
{
	const char *s = "4000000000000000\r\nabc";	/* 2^62 */
	struct fc_chunked c;
	static struct sink k;

	cr_assert_eq(feed_whole(s, strlen(s), &c, &k), (ssize_t)strlen(s));
	cr_assert_eq(c.left, (UINT64_C(1) << 62) - 3);
	cr_assert_eq(k.n, 3);
}

/* Size lines, trailer lines and the trailer section have limits. */
Test(http, chunked_limits)
{
	static char s[32768];
	struct fc_chunked c;
	static struct sink k;
	size_t n;

	/* a size line of 4096 bytes, CRLF included, then one more */
	n = (size_t)sprintf(s, "1;a=");
	memset(s + n, 'x', 4090);
	n += 4090;
	n += (size_t)sprintf(s + n, "\r\nA\r\n0\r\n\r\n");
	cr_assert_eq(feed_whole(s, n, &c, &k), (ssize_t)n);
	cr_assert(c.done);
	memmove(s + 5, s + 4, n - 4);
	cr_assert_eq(feed_whole(s, n + 1, &c, &k), FC_HTTP_ERROR);
	cr_assert_eq(feed_bytes(s, n + 1, &c, &k), FC_HTTP_ERROR);

	/* a trailer line of 4096 bytes, CRLF included, then one more */
	n = (size_t)sprintf(s, "0\r\nX: ");
	memset(s + n, 'y', 4091);
	n += 4091;
	n += (size_t)sprintf(s + n, "\r\n\r\n");
	cr_assert_eq(feed_whole(s, n, &c, &k), (ssize_t)n);
	cr_assert(c.done);
	memmove(s + 7, s + 6, n - 6);
	cr_assert_eq(feed_whole(s, n + 1, &c, &k), FC_HTTP_ERROR);
	cr_assert_eq(feed_bytes(s, n + 1, &c, &k), FC_HTTP_ERROR);

	/* 16384 bytes of trailer section, final CRLF included, then one more */
	n = (size_t)sprintf(s, "0\r\n");
	for (int i = 0; i < 862; i++)			/* 862 * 19 = 16378 */
		n += (size_t)sprintf(s + n, "X-Trailer-%04d: v\r\n", i);
	n += (size_t)sprintf(s + n, "Y: \r\n\r\n");	/* + 5 + 2 = 16385 */
	cr_assert_eq(feed_whole(s, n, &c, &k), FC_HTTP_ERROR);
	cr_assert_eq(feed_bytes(s, n, &c, &k), FC_HTTP_ERROR);
	memmove(s + n - 5, s + n - 4, 4);		/* "Y:\r\n\r\n" */
	cr_assert_eq(feed_whole(s, n - 1, &c, &k), (ssize_t)(n - 1));
	cr_assert(c.done);
}

#define BADCHUNK(s, why)	{ s, sizeof(s) - 1, why }

static const struct {
	const char *s;
	size_t len;
	const char *why;
} bad_chunked[] = {
	BADCHUNK("g\r\n", "bad hex"),
	BADCHUNK("-5\r\nhello\r\n0\r\n\r\n", "sign"),
	BADCHUNK("0x5\r\nhello\r\n0\r\n\r\n", "0x prefix"),
	BADCHUNK("\r\n", "empty size"),
	BADCHUNK(" 5\r\n", "space before size"),
	BADCHUNK(";a\r\n", "extension without size"),
	BADCHUNK("5\r\nhelloX\r\n0\r\n\r\n", "data too long"),
	BADCHUNK("5\r\nhello0\r\n\r\n", "no CRLF after data"),
	BADCHUNK("5\r\nhello\n0\r\n\r\n", "bare LF after data"),
	BADCHUNK("5\r\nhello\r\r\n0\r\n\r\n", "bare CR after data"),
	BADCHUNK("5\r\nhelloX\n0\r\n\r\n", "junk instead of CR after data"),
	BADCHUNK("5\r\nhello\rX0\r\n\r\n", "junk instead of LF after data"),
	BADCHUNK("5\r\r\nhello\r\n0\r\n\r\n", "CR CR LF after size"),
	BADCHUNK("5\r\rhello\r\n0\r\n\r\n", "CR CR after size"),
	BADCHUNK("5\nhello\r\n0\r\n\r\n", "bare LF after size"),
	BADCHUNK("5\rhello\r\n0\r\n\r\n", "bare CR after size"),
	BADCHUNK("0\r\n\n", "bare LF at the end"),
	BADCHUNK("0\r\n\r\r", "bare CR at the end"),
	BADCHUNK("5 \r\nhello\r\n0\r\n\r\n", "BWS without extension"),
	BADCHUNK("5;\r\nhello\r\n0\r\n\r\n", "empty extension name"),
	BADCHUNK("5;a=\r\nhello\r\n0\r\n\r\n", "empty extension value"),
	BADCHUNK("5;a \r\n", "BWS at the end of the line"),
	BADCHUNK("5;a b\r\n", "two names"),
	BADCHUNK("5;a=b c\r\n", "junk after value"),
	BADCHUNK("5;a=\"b\r\n", "unterminated quote"),
	BADCHUNK("5;a=\"b\"c\r\n", "junk after quote"),
	BADCHUNK("5;a=\"\x01\"\r\n", "control in quote"),
	BADCHUNK("5;a=b\x7f\r\n", "DEL in extension"),
	BADCHUNK("5;a\0\r\n", "NUL in extension"),
	BADCHUNK("10000000000000000\r\n", "17 digits"),
	BADCHUNK("00000000000000001\r\n", "17 digits, small value"),
	BADCHUNK("4000000000000001\r\n", "above 2^62"),
	BADCHUNK("FFFFFFFFFFFFFFFF\r\n", "2^64 - 1"),
	BADCHUNK("0\r\n X: y\r\n\r\n", "obs-fold in trailers"),
	BADCHUNK("0\r\nX : y\r\n\r\n", "space before colon"),
	BADCHUNK("0\r\nX\r\n\r\n", "no colon"),
	BADCHUNK("0\r\n: y\r\n\r\n", "empty trailer name"),
	BADCHUNK("0\r\nX: \x01\r\n\r\n", "control in trailer"),
	BADCHUNK("0\r\nX: y\ny\r\n\r\n", "bare LF in trailer"),
	BADCHUNK("0\r\nX: y\rZ: y\r\n\r\n", "bare CR in trailer"),
	BADCHUNK("0\r\nContent-Length: 5\r\n\r\n", "Content-Length trailer"),
	BADCHUNK("0\r\ncontent-length:5\r\n\r\n", "content-length trailer"),
	BADCHUNK("0\r\nX: y\r\nTRANSFER-ENCODING: chunked\r\n\r\n", "Transfer-Encoding trailer"),
	BADCHUNK("0\r\nHost: a\r\n\r\n", "Host trailer"),
	BADCHUNK("0\r\nConnection: close\r\n\r\n", "Connection trailer"),
	BADCHUNK("0\r\nKeep-Alive: 1\r\n\r\n", "Keep-Alive trailer"),
	BADCHUNK("0\r\nProxy-Connection: 1\r\n\r\n", "Proxy-Connection trailer"),
	BADCHUNK("0\r\nTE: trailers\r\n\r\n", "TE trailer"),
	BADCHUNK("0\r\nTrailer: x\r\n\r\n", "Trailer trailer"),
	BADCHUNK("0\r\nUpgrade: h2c\r\n\r\n", "Upgrade trailer"),
};

Test(http, malformed_chunked_bodies_are_refused)
{
	struct fc_chunked c;
	static struct sink k;

	for (size_t i = 0; i < sizeof(bad_chunked) / sizeof(bad_chunked[0]); i++) {
		const char *s = bad_chunked[i].s, *why = bad_chunked[i].why;
		size_t len = bad_chunked[i].len;

		cr_expect_eq(feed_whole(s, len, &c, &k), FC_HTTP_ERROR,
		    "%s: accepted whole", why);
		cr_expect_eq(feed_bytes(s, len, &c, &k), FC_HTTP_ERROR,
		    "%s: accepted bytewise", why);
		/* an error sticks */
		cr_expect_eq(http_chunked_feed(&c, guarded("0\r\n\r\n", 5), 5, NULL, NULL),
		    FC_HTTP_ERROR, "%s: recovered", why);
	}
}
