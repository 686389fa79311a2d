/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The PROXY protocol codec (proxyproto.h).  Version 1 is one text line:
 *
 *   "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"   (TCP6 alike)
 *   "PROXY UNKNOWN ...\r\n"       anything up to the CRLF is ignored
 *
 * at most 107 bytes.  Version 2 is binary:
 *
 *   12-byte signature \r\n\r\n\0\r\nQUIT\n
 *   1 byte  version 2 (high nibble), command LOCAL 0 / PROXY 1 (low)
 *   1 byte  family UNSPEC 0 / INET 1 / INET6 2 (high), STREAM 1 (low)
 *   2 bytes length of what follows, network order
 *   INET:  src 4, dst 4, sport 2, dport 2    INET6: 16, 16, 2, 2
 *   then TLVs up to the length, skipped here.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "lib/proxyproto.h"

static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define V2_VERSION	0x20
#define V2_LOCAL	0x00
#define V2_PROXY	0x01
#define V2_UNSPEC	0x00
#define V2_TCP4		0x11
#define V2_TCP6		0x21
#define V2_ADDR4_LEN	12
#define V2_ADDR6_LEN	36

static int fail(const char **why, const char *reason)
{
	*why = reason;
	return FC_PROXY_ERROR;
}

/* ------------------------------------------------------------ v1 */

/* A v1 token (between spaces) copied NUL-terminated into out (outlen). */
static bool v1_token(const char **p, const char *end, char *out, size_t outlen)
{
	const char *sp = memchr(*p, ' ', (size_t)(end - *p));
	size_t n = (size_t)((sp != NULL ? sp : end) - *p);

	if (n == 0 || n >= outlen)
		return false;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n;
	return true;
}

/* Consumes the single space that separates two fields. */
static bool v1_space(const char **p, const char *end)
{
	if (*p >= end || **p != ' ')
		return false;
	(*p)++;
	return true;
}

/* A decimal port, 0..65535, without leading zeros. */
static bool v1_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool v1_addr(const char *s, int family, union fc_sockaddr *a)
{
	memset(a, 0, sizeof(*a));
	a->sa.sa_family = (sa_family_t)family;
	if (family == AF_INET)
		return inet_pton(AF_INET, s, &a->in.sin_addr) == 1;
	return inet_pton(AF_INET6, s, &a->in6.sin6_addr) == 1;
}

static void set_port(union fc_sockaddr *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET)
		a->in.sin_port = htons(port);
	else
		a->in6.sin6_port = htons(port);
}

/* "TCP4 SRC DST SPORT DPORT" or "TCP6 ...", the CRLF cut off (p..end). */
static int v1_addresses(const char *p, const char *end, struct fc_proxy_hdr *h,
    const char **why)
{
	int family = p[3] == '4' ? AF_INET : AF_INET6;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], sport[8], dport[8];
	uint16_t sp, dp;

	p += 4;
	if (!v1_space(&p, end) || !v1_token(&p, end, src, sizeof(src)) ||
	    !v1_space(&p, end) || !v1_token(&p, end, dst, sizeof(dst)) ||
	    !v1_space(&p, end) || !v1_token(&p, end, sport, sizeof(sport)) ||
	    !v1_space(&p, end) || !v1_token(&p, end, dport, sizeof(dport)) || p != end)
		return fail(why, "v1: not \"PROXY TCPx SRC DST SPORT DPORT\"");
	if (!v1_addr(src, family, &h->src) || !v1_addr(dst, family, &h->dst))
		return fail(why, "v1: bad address for its protocol");
	if (!v1_port(sport, &sp) || !v1_port(dport, &dp))
		return fail(why, "v1: bad port");
	set_port(&h->src, sp);
	set_port(&h->dst, dp);
	return 0;
}

/*
 * Where the line's CR is, or NULL when it is not in buf yet; *bad set on
 * a byte no v1 line holds (controls, 8-bit, a CR not followed by LF).
 */
static const char *v1_find_cr(const char *buf, size_t len, bool *bad)
{
	size_t max = len < FC_PROXY_V1_MAX ? len : FC_PROXY_V1_MAX;

	*bad = false;
	for (size_t i = 0; i < max; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\r') {
			if (i + 1 < len && buf[i + 1] != '\n')
				*bad = true;
			return *bad || i + 1 >= len ? NULL : buf + i;
		}
		if (c < 0x20 || c > 0x7e) {
			*bad = true;
			return NULL;
		}
	}
	return NULL;
}

static int v1_parse(const char *buf, size_t len, struct fc_proxy_hdr *h,
    const char **why)
{
	static const char prefix[] = "PROXY ";
	size_t plen = sizeof(prefix) - 1;
	const char *cr, *p;
	bool bad;

	if (memcmp(buf, prefix, len < plen ? len : plen) != 0)
		return fail(why, "not a PROXY header");
	cr = v1_find_cr(buf, len, &bad);
	if (bad)
		return fail(why, "v1: a byte outside printable ASCII before CRLF");
	if (cr == NULL) {
		if (len >= FC_PROXY_V1_MAX)
			return fail(why, "v1: no CRLF within 107 bytes");
		return FC_PROXY_INCOMPLETE;
	}
	if ((size_t)(cr - buf) + 2 > FC_PROXY_V1_MAX)
		return fail(why, "v1: no CRLF within 107 bytes");
	if ((size_t)(cr - buf) < plen)
		return fail(why, "v1: line ends inside \"PROXY \"");
	p = buf + plen;
	memset(h, 0, sizeof(*h));
	h->version = FC_PROXY_V1;
	if (cr - p >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (cr - p == 7 || p[7] == ' ')) {
		h->local = true;	/* the rest of the line says nothing */
		return (int)(cr - buf) + 2;
	}
	if (cr - p < 4 || (memcmp(p, "TCP4", 4) != 0 && memcmp(p, "TCP6", 4) != 0))
		return fail(why, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
	if (v1_addresses(p, cr, h, why) < 0)
		return FC_PROXY_ERROR;
	return (int)(cr - buf) + 2;
}

/* ------------------------------------------------------------ v2 */

static void v2_addresses(const unsigned char *a, int family, struct fc_proxy_hdr *h)
{
	size_t alen = family == AF_INET ? 4 : 16;
	uint16_t sp = (uint16_t)(a[2 * alen] << 8 | a[2 * alen + 1]);
	uint16_t dp = (uint16_t)(a[2 * alen + 2] << 8 | a[2 * alen + 3]);

	h->src.sa.sa_family = h->dst.sa.sa_family = (sa_family_t)family;
	if (family == AF_INET) {
		memcpy(&h->src.in.sin_addr, a, 4);
		memcpy(&h->dst.in.sin_addr, a + 4, 4);
	} else {
		memcpy(&h->src.in6.sin6_addr, a, 16);
		memcpy(&h->dst.in6.sin6_addr, a + 16, 16);
	}
	set_port(&h->src, sp);
	set_port(&h->dst, dp);
}

static int v2_parse(const unsigned char *buf, size_t len, struct fc_proxy_hdr *h,
    const char **why)
{
	size_t total;

	if (memcmp(buf, v2_sig, len < sizeof(v2_sig) ? len : sizeof(v2_sig)) != 0)
		return fail(why, "not a PROXY header");
	if (len > 12 && (buf[12] & 0xf0) != V2_VERSION)
		return fail(why, "v2: version is not 2");
	if (len > 12 && (buf[12] & 0x0f) > V2_PROXY)
		return fail(why, "v2: command is neither LOCAL nor PROXY");
	if (len < FC_PROXY_V2_HEAD)
		return FC_PROXY_INCOMPLETE;
	total = FC_PROXY_V2_HEAD + ((size_t)buf[14] << 8 | buf[15]);
	if (total > FC_PROXY_MAX)
		return fail(why, "v2: header longer than fulcrum takes (2048 bytes)");
	if (len < total)
		return FC_PROXY_INCOMPLETE;
	memset(h, 0, sizeof(*h));
	h->version = FC_PROXY_V2;
	/* LOCAL: the balancer's own connection (a health check); whatever
	 * the family says, the socket's endpoints stand. */
	if ((buf[12] & 0x0f) == V2_LOCAL || buf[13] == V2_UNSPEC) {
		h->local = true;
		return (int)total;
	}
	if (buf[13] == V2_TCP4 && total - FC_PROXY_V2_HEAD >= V2_ADDR4_LEN)
		v2_addresses(buf + FC_PROXY_V2_HEAD, AF_INET, h);
	else if (buf[13] == V2_TCP6 && total - FC_PROXY_V2_HEAD >= V2_ADDR6_LEN)
		v2_addresses(buf + FC_PROXY_V2_HEAD, AF_INET6, h);
	else if (buf[13] == V2_TCP4 || buf[13] == V2_TCP6)
		return fail(why, "v2: length too short for its addresses");
	else
		return fail(why, "v2: family is not TCP over IPv4, IPv6 or UNSPEC");
	return (int)total;
}

int proxyproto_parse(const void *buf, size_t len, struct fc_proxy_hdr *h,
    const char **why)
{
	const unsigned char *b = buf;

	*why = NULL;
	if (len == 0)
		return FC_PROXY_INCOMPLETE;
	if (b[0] == 'P')
		return v1_parse(buf, len, h, why);
	if (b[0] == v2_sig[0])
		return v2_parse(b, len, h, why);
	return fail(why, "not a PROXY header");
}

/* ------------------------------------------------------------ writer */

/* a as IPv6 into out: itself, or IPv4-mapped (::ffff:a.b.c.d). */
static void as_v6(const struct sockaddr *a, struct sockaddr_in6 *out)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)a;

	if (a->sa_family == AF_INET6) {
		memcpy(out, a, sizeof(*out));
		return;
	}
	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	out->sin6_port = in->sin_port;
	out->sin6_addr.s6_addr[10] = out->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&out->sin6_addr.s6_addr[12], &in->sin_addr, 4);
}

static bool inet(const struct sockaddr *a)
{
	return a->sa_family == AF_INET || a->sa_family == AF_INET6;
}

static int write_v1(const struct sockaddr *src, const struct sockaddr *dst,
    char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	struct sockaddr_in6 s6, d6;
	int n;

	if (src == NULL) {
		n = snprintf(buf, len, "PROXY UNKNOWN\r\n");
	} else if (src->sa_family == AF_INET && dst->sa_family == AF_INET) {
		const struct sockaddr_in *si = (const void *)src, *di = (const void *)dst;

		inet_ntop(AF_INET, &si->sin_addr, s, sizeof(s));
		inet_ntop(AF_INET, &di->sin_addr, d, sizeof(d));
		n = snprintf(buf, len, "PROXY TCP4 %s %s %u %u\r\n", s, d,
		    ntohs(si->sin_port), ntohs(di->sin_port));
	} else {
		as_v6(src, &s6);
		as_v6(dst, &d6);
		inet_ntop(AF_INET6, &s6.sin6_addr, s, sizeof(s));
		inet_ntop(AF_INET6, &d6.sin6_addr, d, sizeof(d));
		n = snprintf(buf, len, "PROXY TCP6 %s %s %u %u\r\n", s, d,
		    ntohs(s6.sin6_port), ntohs(d6.sin6_port));
	}
	return n < 0 || (size_t)n >= len ? -1 : n;
}

static int write_v2(const struct sockaddr *src, const struct sockaddr *dst,
    unsigned char *buf, size_t len)
{
	bool four = src != NULL && src->sa_family == AF_INET && dst->sa_family == AF_INET;
	size_t alen = src == NULL ? 0 : four ? V2_ADDR4_LEN : V2_ADDR6_LEN;
	unsigned char *a = buf + FC_PROXY_V2_HEAD;

	if (len < FC_PROXY_V2_HEAD + alen)
		return -1;
	memcpy(buf, v2_sig, sizeof(v2_sig));
	buf[12] = V2_VERSION | (src == NULL ? V2_LOCAL : V2_PROXY);
	buf[13] = src == NULL ? V2_UNSPEC : four ? V2_TCP4 : V2_TCP6;
	buf[14] = 0;
	buf[15] = (unsigned char)alen;
	if (four) {
		const struct sockaddr_in *si = (const void *)src, *di = (const void *)dst;

		memcpy(a, &si->sin_addr, 4);
		memcpy(a + 4, &di->sin_addr, 4);
		memcpy(a + 8, &si->sin_port, 2);
		memcpy(a + 10, &di->sin_port, 2);
	} else if (src != NULL) {
		struct sockaddr_in6 s6, d6;

		as_v6(src, &s6);
		as_v6(dst, &d6);
		memcpy(a, &s6.sin6_addr, 16);
		memcpy(a + 16, &d6.sin6_addr, 16);
		memcpy(a + 32, &s6.sin6_port, 2);
		memcpy(a + 34, &d6.sin6_port, 2);
	}
	return (int)(FC_PROXY_V2_HEAD + alen);
}

int proxyproto_write(int version, const struct sockaddr *src,
    const struct sockaddr *dst, void *buf, size_t len)
{
	if (src != NULL && (dst == NULL || !inet(src) || !inet(dst)))
		return -1;
	if (version == FC_PROXY_V1)
		return write_v1(src, dst, buf, len);
	if (version == FC_PROXY_V2)
		return write_v2(src, dst, buf, len);
	return -1;
}
