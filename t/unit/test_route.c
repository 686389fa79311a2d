/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Routes (worker/route.c), redirect answers (worker/rewrite.c) and the
 * shared rate-limit table (shm/rate.c).
 */
#include "config.h"

#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sbuf.h"
#include "shm/rate.h"
#include "worker/rewrite.h"
#include "worker/route.h"

/* ------------------------------------------------------------- hosts */

Test(route, host_exact_is_case_insensitive)
{
	cr_expect(route_host_match("api.example.com", "API.Example.COM", 15));
	cr_expect(route_host_match("api.example.com", "api.example.com.", 16),
	    "a fully qualified name is the same name");
	cr_expect_not(route_host_match("api.example.com", "api.example.co", 14));
	cr_expect_not(route_host_match("api.example.com", "xapi.example.com", 16));
}

Test(route, wildcard_needs_a_label_before_it)
{
	cr_expect(route_host_match("*.example.org", "www.example.org", 15));
	cr_expect(route_host_match("*.example.org", "a.b.EXAMPLE.org", 15));
	cr_expect_not(route_host_match("*.example.org", "example.org", 11));
	cr_expect_not(route_host_match("*.example.org", ".example.org", 12));
	cr_expect_not(route_host_match("*.example.org", "wwwexample.org", 14));
}

/* ------------------------------------------------------------ routes */

static struct fc_http_msg msg;

static void parse(const char *req)
{
	int status = 0;

	cr_assert_gt(http_parse_request(req, strlen(req), &msg, 8192, 16384, &status), 0,
	    "parses: %s", req);
}

static struct fc_route routes[3] = {
	{ .host = "api.example.com", .path_prefix = "/v1/", .backend = 1 },
	{ .path_prefix = "/old/", .backend = -1, .redirect = "/new/", .code = 301 },
	{ .host = "*.example.org", .backend = 0 },
};
static struct fc_listener lst = { .routes = routes, .nroutes = 3, .backend = 0 };

Test(route, first_match_wins_host_port_ignored)
{
	parse("GET /v1/x HTTP/1.1\r\nHost: api.example.com:8443\r\n\r\n");
	cr_expect_eq(route_match(&lst, &msg), &routes[0]);
	parse("GET /old/v1/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n");
	cr_expect_eq(route_match(&lst, &msg), &routes[1], "path before the next host");
	parse("GET /v2/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n");
	cr_expect_null(route_match(&lst, &msg), "prefix fails: no route");
	parse("GET http://www.example.org/v1/ HTTP/1.1\r\nHost: www.example.org\r\n\r\n");
	cr_expect_eq(route_match(&lst, &msg), &routes[2], "absolute-form");
	parse("GET /v1/x HTTP/1.0\r\n\r\n");
	cr_expect_null(route_match(&lst, &msg), "no Host: only host-less routes");
}

static char *redirect(const char *req, const struct fc_route *rt)
{
	struct fc_sbuf out = { 0 };

	parse(req);
	rewrite_redirect(&msg, rt, true, &out);
	sbuf_put(&out, "", 1);
	return out.p;
}

Test(route, redirect_keeps_the_rest_of_the_path_and_the_query)
{
	struct fc_route abs = { .redirect = "https://new.example", .code = 308 };
	char *r = redirect("GET /old/a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", &routes[1]);

	cr_expect(strstr(r, "HTTP/1.1 301 Moved Permanently\r\n") == r, "%s", r);
	cr_expect_not_null(strstr(r, "\r\nLocation: /new/a/b?x=1\r\n"), "%s", r);
	free(r);
	r = redirect("GET /p?q HTTP/1.1\r\nHost: h\r\n\r\n", &abs);
	cr_expect(strstr(r, "HTTP/1.1 308 Permanent Redirect\r\n") == r, "%s", r);
	cr_expect_not_null(strstr(r, "\r\nLocation: https://new.example/p?q\r\n"), "%s", r);
	free(r);
}

/* -------------------------------------------------------- rate limits */

static struct fc_shm shm;

static void table(uint32_t entries)
{
	size_t size = FC_SHM_PAGE + entries * sizeof(struct fc_shm_rate);

	shm.hdr = calloc(1, size);
	cr_assert_not_null(shm.hdr);
	shm.size = size;
	shm.hdr->off_shared = FC_SHM_PAGE;
	shm.hdr->nbackends = 0;
	shm.hdr->nrate = entries;
}

Test(rate, burst_then_the_rate)
{
	struct fc_rate_limit rl = { true, 5, 1000, 2 };	/* 5/s, burst 2 */
	uint64_t t0 = 1000000000;

	table(64);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(rate_take(&shm, 7, &rl, t0), 0, "request %d: 1 + burst pass", i);
	cr_expect_eq(rate_take(&shm, 7, &rl, t0), 1, "the 4th: Retry-After 1");
	cr_expect_eq(rate_take(&shm, 8, &rl, t0), 0, "another client is not limited");
	cr_expect_eq(rate_take(&shm, 7, &rl, t0 + 199000), 1, "199 ms later: not yet");
	cr_expect_eq(rate_take(&shm, 7, &rl, t0 + 200000), 0, "200 ms later: one more");
	cr_expect_eq(rate_take(&shm, 7, &rl, t0 + 200000), 1);
	cr_expect_eq(rate_take(&shm, 7, &rl, t0 + 10000000), 0, "idle: afresh");
	free(shm.hdr);
}

Test(rate, retry_after_is_the_wait_in_seconds)
{
	struct fc_rate_limit rl = { true, 1, 10000, 0 };	/* 1 per 10 s */
	uint64_t t0 = 1000000000;

	table(64);
	cr_expect_eq(rate_take(&shm, 1, &rl, t0), 0);
	cr_expect_eq(rate_take(&shm, 1, &rl, t0), 10);
	cr_expect_eq(rate_take(&shm, 1, &rl, t0 + 9500000), 1, "half a second: 1");
	free(shm.hdr);
}

Test(rate, a_full_bucket_evicts_the_least_recently_seen)
{
	struct fc_rate_limit rl = { true, 1, 10000, 0 };
	uint64_t t0 = 1000000000;

	table(8);			/* one bucket of 8 */
	for (uint64_t k = 1; k <= 8; k++)
		cr_expect_eq(rate_take(&shm, k, &rl, t0 + k * 1000), 0);
	cr_expect_gt(rate_take(&shm, 2, &rl, t0 + 9000), 0, "2 is still known");
	cr_expect_eq(rate_take(&shm, 9, &rl, t0 + 10000), 0, "9 takes 1's entry");
	cr_expect_eq(rate_take(&shm, 1, &rl, t0 + 11000), 0, "1 was forgotten");
	free(shm.hdr);
}

Test(rate, keys_differ_by_listener_and_address)
{
	union fc_sockaddr a, b;

	memset(&a, 0, sizeof(a));
	a.in.sin_family = AF_INET;
	a.in.sin_addr.s_addr = htonl(0x7f000001);
	b = a;
	b.in.sin_port = htons(1234);		/* the port does not count */
	cr_expect_eq(rate_key(0, &a), rate_key(0, &b));
	cr_expect_neq(rate_key(0, &a), rate_key(1, &a));
	b.in.sin_addr.s_addr = htonl(0x7f000002);
	cr_expect_neq(rate_key(0, &a), rate_key(0, &b));
	cr_expect_neq(rate_key(0, &a), 0);
}
