/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The PROXY protocol codec (lib/proxyproto.c): every shape of
 * doc/proxy-protocol.txt that is valid parses to its addresses, every
 * malformed one is refused, every strict prefix of a valid header asks for
 * more, and what the writer makes parses back.  Inputs end right before a
 * PROT_NONE page: a read one byte too far crashes the test.
 */
#include "config.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/proxyproto.h"
#include "t/unit/guard.h"

#define LIT(s)	s, sizeof(s) - 1

static int parse(const void *s, size_t len, struct fc_proxy_hdr *h)
{
	const char *why = NULL;
	int r = proxyproto_parse(guarded(s, len), len, h, &why);

	cr_assert(r != FC_PROXY_ERROR || why != NULL, "an error says why");
	return r;
}

/* Every strict prefix of a valid header asks for more. */
static void prefixes_incomplete(const void *s, size_t len)
{
	struct fc_proxy_hdr h;

	for (size_t n = 0; n < len; n++)
		cr_assert_eq(parse(s, n, &h), FC_PROXY_INCOMPLETE,
		    "prefix of %zu of %zu bytes", n, len);
}

static void assert_addr(const union fc_sockaddr *a, const char *want)
{
	char buf[FC_ADDRSTRLEN];

	cr_assert_str_eq(net_addr_str(&a->sa, buf, sizeof(buf)), want);
}

/* ------------------------------------------------------------ v1 */

Test(proxyproto, v1_tcp4_gives_both_addresses)
{
	static const char in[] = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /";
	struct fc_proxy_hdr h;

	cr_assert_eq(parse(LIT(in), &h), (int)sizeof(in) - 1 - 5);
	cr_assert_eq(h.version, 1);
	cr_assert_not(h.local);
	assert_addr(&h.src, "192.0.2.1:56324");
	assert_addr(&h.dst, "198.51.100.2:443");
	prefixes_incomplete(in, sizeof(in) - 1 - 5);
}

Test(proxyproto, v1_tcp6_gives_both_addresses)
{
	static const char in[] = "PROXY TCP6 2001:db8::1 ::ffff:192.0.2.9 0 65535\r\n";
	struct fc_proxy_hdr h;

	cr_assert_eq(parse(LIT(in), &h), (int)sizeof(in) - 1);
	cr_assert_not(h.local);
	assert_addr(&h.src, "[2001:db8::1]:0");
	assert_addr(&h.dst, "[::ffff:192.0.2.9]:65535");
	prefixes_incomplete(in, sizeof(in) - 1);
}

Test(proxyproto, v1_unknown_keeps_the_socket_addresses)
{
	static const char bare[] = "PROXY UNKNOWN\r\n";
	static const char rest[] = "PROXY UNKNOWN ffff::1 whatever goes 1 2\r\n";
	struct fc_proxy_hdr h;

	cr_assert_eq(parse(LIT(bare), &h), (int)sizeof(bare) - 1);
	cr_assert(h.local);
	cr_assert_eq(parse(LIT(rest), &h), (int)sizeof(rest) - 1);
	cr_assert(h.local);
}

Test(proxyproto, v1_longest_line_107_bytes_is_taken)
{
	char in[FC_PROXY_V1_MAX + 1];
	struct fc_proxy_hdr h;

	memset(in, 'x', sizeof(in));
	memcpy(in, "PROXY UNKNOWN ", 14);
	memcpy(in + FC_PROXY_V1_MAX - 2, "\r\n", 2);
	cr_assert_eq(parse(in, FC_PROXY_V1_MAX, &h), FC_PROXY_V1_MAX);
	/* one byte longer: no CRLF within 107 bytes */
	memcpy(in + FC_PROXY_V1_MAX - 2, "x\r\n", 3);
	cr_assert_eq(parse(in, FC_PROXY_V1_MAX + 1, &h), FC_PROXY_ERROR);
	cr_assert_eq(parse(in, FC_PROXY_V1_MAX, &h), FC_PROXY_ERROR);
	cr_assert_eq(parse(in, FC_PROXY_V1_MAX - 1, &h), FC_PROXY_INCOMPLETE);
}

Test(proxyproto, v1_malformed_lines_are_refused)
{
	static const char *bad[] = {
		"GET / HTTP/1.1\r\n",
		"PROXY\r\n",
		"PROXY \r\n",
		"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY UNKNOWNX\r\n",
		"PROXY TCP4\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
		"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1a 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 123456 2\r\n",
		"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
		"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
		"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
		"PROXY TCP6 ::1 ::g 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
		"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\x80\r\n",
		"PROXY TCP4 1.2.3.4\r\n5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2",	/* then 80 more bytes, no CRLF */
	};
	char longline[200];
	struct fc_proxy_hdr h;

	for (size_t i = 0; i + 1 < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i], strlen(bad[i]), &h), FC_PROXY_ERROR,
		    "refused: %s", bad[i]);
	snprintf(longline, sizeof(longline), "%s%080d", bad[sizeof(bad) / sizeof(bad[0]) - 1], 0);
	cr_assert_eq(parse(longline, strlen(longline), &h), FC_PROXY_ERROR);
}

Test(proxyproto, v1_wrong_start_is_refused_at_once)
{
	struct fc_proxy_hdr h;

	cr_assert_eq(parse(LIT("PRX"), &h), FC_PROXY_ERROR);
	cr_assert_eq(parse(LIT("G"), &h), FC_PROXY_ERROR);
	cr_assert_eq(parse(LIT("\x16\x03\x01"), &h), FC_PROXY_ERROR);	/* a TLS hello */
	cr_assert_eq(parse(LIT("PROXY TCP4 1.2.3.4\n"), &h), FC_PROXY_ERROR);
}

/* ------------------------------------------------------------ v2 */

#define SIG "\r\n\r\n\0\r\nQUIT\n"

Test(proxyproto, v2_inet_gives_both_addresses)
{
	static const char in[] = SIG "\x21\x11\x00\x0c"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04" "\x01\xbb" "GET";
	struct fc_proxy_hdr h;

	cr_assert_eq(parse(in, sizeof(in) - 1, &h), 28);
	cr_assert_eq(h.version, 2);
	cr_assert_not(h.local);
	assert_addr(&h.src, "192.0.2.1:56324");
	assert_addr(&h.dst, "198.51.100.2:443");
	prefixes_incomplete(in, 28);
}

Test(proxyproto, v2_inet6_with_tlvs_skips_them)
{
	char in[16 + 36 + 9];
	struct fc_proxy_hdr h;

	memcpy(in, SIG "\x21\x21\x00\x2d", 16);
	memset(in + 16, 0, 36);
	in[16 + 15] = 1;				/* ::1 */
	in[32 + 15] = 2;				/* ::2 */
	in[48] = 0x30; in[49] = 0x39;			/* 12345 */
	in[50] = 0x00; in[51] = 0x50;			/* 80 */
	memcpy(in + 52, "\x04\x00\x06" "abcdef", 9);	/* a TLV, NOOP */
	cr_assert_eq(parse(in, sizeof(in), &h), (int)sizeof(in));
	assert_addr(&h.src, "[::1]:12345");
	assert_addr(&h.dst, "[::2]:80");
	prefixes_incomplete(in, sizeof(in));
}

Test(proxyproto, v2_local_and_unspec_keep_the_socket_addresses)
{
	static const char local[] = SIG "\x20\x00\x00\x00";
	static const char local_inet[] = SIG "\x20\x11\x00\x0c" "123456789012";
	static const char unspec[] = SIG "\x21\x00\x00\x03" "abc";
	struct fc_proxy_hdr h;

	cr_assert_eq(parse(local, 16, &h), 16);
	cr_assert(h.local);
	cr_assert_eq(parse(local_inet, 28, &h), 28);
	cr_assert(h.local);
	cr_assert_eq(parse(unspec, 19, &h), 19);
	cr_assert(h.local);
}

Test(proxyproto, v2_malformed_headers_are_refused)
{
	static const struct { const char *in; size_t len; } bad[] = {
		{ SIG "\x11\x11\x00\x0c" "123456789012", 28 },	/* version 1 */
		{ SIG "\x31\x11\x00\x0c" "123456789012", 28 },	/* version 3 */
		{ SIG "\x22\x11\x00\x0c" "123456789012", 28 },	/* command 2 */
		{ SIG "\x2f\x11\x00\x0c" "123456789012", 28 },	/* command 15 */
		{ SIG "\x21\x11\x00\x0b" "12345678901", 27 },	/* INET, 11 bytes */
		{ SIG "\x21\x21\x00\x0c" "123456789012", 28 },	/* INET6, 12 bytes */
		{ SIG "\x21\x12\x00\x0c" "123456789012", 28 },	/* INET over DGRAM */
		{ SIG "\x21\x10\x00\x0c" "123456789012", 28 },	/* INET, UNSPEC proto */
		{ SIG "\x21\x31\x00\x0c" "123456789012", 28 },	/* UNIX */
		{ SIG "\x21\x41\x00\x0c" "123456789012", 28 },	/* family 4 */
		{ "\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c" "123456789012", 28 },
		{ "\r\n\r\n\0\r\nQUIT\r", 13 },
		{ "\r\n\r\n\x01", 5 },
		{ "\r\r", 2 },
	};
	struct fc_proxy_hdr h;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i].in, bad[i].len, &h), FC_PROXY_ERROR, "case %zu", i);
}

Test(proxyproto, v2_length_is_bounded)
{
	static char in[FC_PROXY_MAX + 1];
	struct fc_proxy_hdr h;
	size_t tlv = FC_PROXY_MAX - 16;

	memcpy(in, SIG "\x21\x11", 14);
	in[14] = (char)(tlv >> 8);
	in[15] = (char)tlv;
	/* the longest taken: incomplete until the last byte, then whole */
	cr_assert_eq(parse(in, FC_PROXY_MAX - 1, &h), FC_PROXY_INCOMPLETE);
	cr_assert_eq(parse(in, FC_PROXY_MAX, &h), FC_PROXY_MAX);
	/* one more is refused as soon as the length is read */
	tlv++;
	in[14] = (char)(tlv >> 8);
	in[15] = (char)tlv;
	cr_assert_eq(parse(in, 16, &h), FC_PROXY_ERROR);
	memcpy(in + 14, "\xff\xff", 2);
	cr_assert_eq(parse(in, 16, &h), FC_PROXY_ERROR);
}

/* ------------------------------------------------------------ split reads */

Test(proxyproto, split_reads_agree_with_whole)
{
	static const char v1[] = "PROXY TCP4 10.0.0.1 10.0.0.2 1000 2000\r\nGET / HTTP/1.0\r\n\r\n";
	static const char v2[] = SIG "\x21\x11\x00\x0c"
	    "\x0a\x00\x00\x01" "\x0a\x00\x00\x02" "\x03\xe8" "\x07\xd0" "GET /";
	struct fc_proxy_hdr whole, part;

	/* a reader feeds what it has so far: each growing prefix is either
	 * incomplete or the same complete answer */
	for (int k = 0; k < 2; k++) {
		const char *in = k == 0 ? v1 : v2;
		size_t len = k == 0 ? sizeof(v1) - 1 : sizeof(v2) - 1;
		int r = parse(in, len, &whole), got = FC_PROXY_INCOMPLETE;

		cr_assert_gt(r, 0);
		for (size_t n = 1; n <= len && got == FC_PROXY_INCOMPLETE; n++)
			got = parse(in, n, &part);
		cr_assert_eq(got, r);
		cr_assert_eq(memcmp(&part.src, &whole.src, sizeof(whole.src)), 0);
		assert_addr(&part.src, "10.0.0.1:1000");
		assert_addr(&part.dst, "10.0.0.2:2000");
	}
}

/* ------------------------------------------------------------ writer */

static union fc_sockaddr sa(const char *ip, int port)
{
	union fc_sockaddr a;

	memset(&a, 0, sizeof(a));
	if (strchr(ip, ':') != NULL) {
		a.in6.sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &a.in6.sin6_addr);
		a.in6.sin6_port = htons((uint16_t)port);
	} else {
		a.in.sin_family = AF_INET;
		inet_pton(AF_INET, ip, &a.in.sin_addr);
		a.in.sin_port = htons((uint16_t)port);
	}
	return a;
}

Test(proxyproto, writer_v1_text_is_the_spec_line)
{
	union fc_sockaddr s = sa("192.0.2.1", 56324), d = sa("198.51.100.2", 443);
	char buf[FC_PROXY_WRITE_MAX];
	int n = proxyproto_write(1, &s.sa, &d.sa, buf, sizeof(buf));

	cr_assert_eq(n, 45);
	cr_assert_eq(memcmp(buf, "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n", 45), 0);
	n = proxyproto_write(1, NULL, NULL, buf, sizeof(buf));
	cr_assert_eq(n, 15);
	cr_assert_eq(memcmp(buf, "PROXY UNKNOWN\r\n", 15), 0);
	cr_assert_eq(proxyproto_write(1, &s.sa, &d.sa, buf, 45), -1, "no room for the NUL");
}

Test(proxyproto, writer_v2_local_is_16_bytes)
{
	unsigned char buf[FC_PROXY_WRITE_MAX];

	cr_assert_eq(proxyproto_write(2, NULL, NULL, buf, sizeof(buf)), 16);
	cr_assert_eq(memcmp(buf, SIG "\x20\x00\x00\x00", 16), 0);
	cr_assert_eq(proxyproto_write(2, NULL, NULL, buf, 15), -1);
	cr_assert_eq(proxyproto_write(3, NULL, NULL, buf, sizeof(buf)), -1);
}

Test(proxyproto, written_headers_parse_back)
{
	static const struct { const char *src; int sport; const char *dst; int dport;
	    const char *want_src, *want_dst; } cases[] = {
		{ "192.0.2.1", 1, "192.0.2.2", 2, "192.0.2.1:1", "192.0.2.2:2" },
		{ "2001:db8::7", 65535, "::1", 0, "[2001:db8::7]:65535", "[::1]:0" },
		/* mixed families: the IPv4 one is written IPv4-mapped */
		{ "192.0.2.1", 5, "::1", 6, "[::ffff:192.0.2.1]:5", "[::1]:6" },
		{ "::1", 5, "192.0.2.1", 6, "[::1]:5", "[::ffff:192.0.2.1]:6" },
	};
	char buf[FC_PROXY_WRITE_MAX];
	struct fc_proxy_hdr h;

	for (int v = 1; v <= 2; v++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			union fc_sockaddr s = sa(cases[i].src, cases[i].sport);
			union fc_sockaddr d = sa(cases[i].dst, cases[i].dport);
			int n = proxyproto_write(v, &s.sa, &d.sa, buf, sizeof(buf));

			cr_assert_gt(n, 0);
			cr_assert_eq(parse(buf, (size_t)n, &h), n);
			cr_assert_eq(h.version, v);
			assert_addr(&h.src, cases[i].want_src);
			assert_addr(&h.dst, cases[i].want_dst);
		}
		cr_assert_eq(parse(buf, (size_t)proxyproto_write(v, NULL, NULL, buf,
		    sizeof(buf)), &h), v == 1 ? 15 : 16);
		cr_assert(h.local);
	}
}

Test(proxyproto, writer_refuses_other_families)
{
	struct sockaddr_un_like { sa_family_t f; char path[30]; } u = { AF_UNIX, "x" };
	union fc_sockaddr d = sa("::1", 1);
	char buf[FC_PROXY_WRITE_MAX];

	cr_assert_eq(proxyproto_write(1, (struct sockaddr *)&u, &d.sa, buf, sizeof(buf)), -1);
	cr_assert_eq(proxyproto_write(2, &d.sa, (struct sockaddr *)&u, buf, sizeof(buf)), -1);
	cr_assert_eq(proxyproto_write(2, &d.sa, NULL, buf, sizeof(buf)), -1);
}
