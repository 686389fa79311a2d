/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The VRRPv3 wire format: a packet captured from keepalived 2.2.7 decodes,
 * ours encode to the same bytes, and every receiver check refuses what it
 * must (TTL, version, type, length, checksum, HMAC, replay); the same over
 * IPv6, against a message whose checksum was computed independently.
 */
#include "config.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "ha/vrrp.h"

/*
 * keepalived 2.2.7, vrrp_version 3, VRID 51, priority 150, advert_int 0.1,
 * VIP 192.0.2.50, sent by 192.0.2.12 to 224.0.0.18 (whole IPv4 datagram).
 */
static const uint8_t keepalived_pkt[] = {
	0x45, 0xc0, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x18, 0x8e,
	0xc0, 0x00, 0x02, 0x0c, 0xe0, 0x00, 0x00, 0x12,
	0x31, 0x33, 0x96, 0x01, 0x00, 0x0a, 0xd3, 0xf2, 0xc0, 0x00, 0x02, 0x32,
};

#define IP_HDR 20

static uint8_t pkt[IP_HDR + VRRP_MSG_MAX];

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

/* A datagram like keepalived's around a message of ours; returns its length. */
static size_t wrap(const uint8_t *msg, size_t len, uint32_t src, uint32_t dst)
{
	memcpy(pkt, keepalived_pkt, IP_HDR);
	pkt[2] = (uint8_t)((IP_HDR + len) >> 8);
	pkt[3] = (uint8_t)(IP_HDR + len);
	memcpy(pkt + 12, &src, 4);
	memcpy(pkt + 16, &dst, 4);
	memcpy(pkt + IP_HDR, msg, len);
	return IP_HDR + len;
}

static struct vrrp_advert sample(void)
{
	struct vrrp_advert a = { .vrid = 51, .priority = 150, .interval_cs = 10, .naddrs = 1 };

	a.addrs[0] = ip4("192.0.2.50");
	return a;
}

static const uint8_t secret[] = "0123456789abcdef-shared-key";
static const struct vrrp_key key = { secret, sizeof(secret) - 1 };

Test(vrrp, decodes_a_keepalived_advert)
{
	struct vrrp_advert a;
	uint32_t src, dst;

	cr_assert_eq(vrrp_decode(keepalived_pkt, sizeof(keepalived_pkt), NULL, &a, &src, &dst),
	    VRRP_OK);
	cr_expect_eq(a.vrid, 51);
	cr_expect_eq(a.priority, 150);
	cr_expect_eq(a.interval_cs, 10);
	cr_expect_eq(a.naddrs, 1);
	cr_expect_eq(a.addrs[0], ip4("192.0.2.50"));
	cr_expect_eq(src, ip4("192.0.2.12"));
	cr_expect_eq(dst, ip4("224.0.0.18"));
}

Test(vrrp, encodes_the_same_bytes_as_keepalived)
{
	struct vrrp_advert a = sample();
	uint8_t buf[VRRP_MSG_MAX];
	size_t n = vrrp_encode(&a, ip4("192.0.2.12"), ip4("224.0.0.18"), NULL, buf);

	cr_assert_eq(n, sizeof(keepalived_pkt) - IP_HDR);
	cr_expect_arr_eq(buf, keepalived_pkt + IP_HDR, n);
}

Test(vrrp, checksum_covers_the_pseudo_header)
{
	const uint8_t *msg = keepalived_pkt + IP_HDR;
	size_t n = sizeof(keepalived_pkt) - IP_HDR;

	cr_expect_eq(vrrp_checksum(ip4("192.0.2.12"), ip4("224.0.0.18"), msg, n), 0);
	cr_expect_neq(vrrp_checksum(ip4("192.0.2.13"), ip4("224.0.0.18"), msg, n), 0);
}

/* Decodes pkt after one byte at off is set to v. */
static int decode_with(size_t off, uint8_t v)
{
	uint8_t copy[sizeof(keepalived_pkt)];
	struct vrrp_advert a;
	uint32_t src, dst;

	memcpy(copy, keepalived_pkt, sizeof(copy));
	copy[off] = v;
	return vrrp_decode(copy, sizeof(copy), NULL, &a, &src, &dst);
}

Test(vrrp, refuses_a_ttl_below_255)
{
	cr_expect_eq(decode_with(8, 254), VRRP_ETTL);
	cr_expect_eq(decode_with(8, 1), VRRP_ETTL);
}

Test(vrrp, refuses_another_ip_protocol)
{
	cr_expect_eq(decode_with(9, 17), VRRP_EPROTO);
}

Test(vrrp, refuses_version_2_and_other_types)
{
	cr_expect_eq(decode_with(IP_HDR, 0x21), VRRP_EVERSION);
	cr_expect_eq(decode_with(IP_HDR, 0x32), VRRP_ETYPE);
}

Test(vrrp, refuses_a_bad_checksum)
{
	cr_expect_eq(decode_with(IP_HDR + 2, 151), VRRP_ECHECKSUM);	/* priority */
	cr_expect_eq(decode_with(IP_HDR + 7, 0xf3), VRRP_ECHECKSUM);
}

Test(vrrp, refuses_an_address_count_that_does_not_match)
{
	cr_expect_eq(decode_with(IP_HDR + 3, 2), VRRP_ELENGTH);
	cr_expect_eq(decode_with(IP_HDR + 3, 0), VRRP_ELENGTH);
}

Test(vrrp, refuses_truncated_datagrams)
{
	struct vrrp_advert a;
	uint32_t src, dst;

	cr_expect_eq(vrrp_decode(keepalived_pkt, 10, NULL, &a, &src, &dst), VRRP_ETRUNC);
	cr_expect_eq(vrrp_decode(keepalived_pkt, sizeof(keepalived_pkt) - 1, NULL, &a,
	    &src, &dst), VRRP_ETRUNC);
	cr_expect_eq(decode_with(0, 0x44), VRRP_EIP);	/* IHL 4 */
}

Test(vrrp, interval_is_12_bits_of_centiseconds)
{
	struct vrrp_advert a = sample(), b;
	uint8_t buf[VRRP_MSG_MAX];
	uint32_t src, dst;
	size_t n;

	a.interval_cs = VRRP_INTERVAL_MAX;
	n = vrrp_encode(&a, ip4("192.0.2.11"), ip4("224.0.0.18"), NULL, buf);
	cr_expect_eq(buf[4], 0x0f);	/* the 4 reserved bits stay zero */
	cr_expect_eq(buf[5], 0xff);
	cr_assert_eq(vrrp_decode(pkt, wrap(buf, n, ip4("192.0.2.11"), ip4("224.0.0.18")),
	    NULL, &b, &src, &dst), VRRP_OK);
	cr_expect_eq(b.interval_cs, 4095);
}

Test(vrrp, carries_several_ipv4_addresses)
{
	struct vrrp_advert a = sample(), b;
	uint8_t buf[VRRP_MSG_MAX];
	uint32_t src, dst;
	size_t n;

	a.naddrs = 3;
	a.addrs[1] = ip4("192.0.2.51");
	a.addrs[2] = ip4("198.51.100.7");
	n = vrrp_encode(&a, ip4("192.0.2.11"), ip4("192.0.2.12"), NULL, buf);
	cr_expect_eq(n, 8 + 3 * 4);
	cr_assert_eq(vrrp_decode(pkt, wrap(buf, n, ip4("192.0.2.11"), ip4("192.0.2.12")),
	    NULL, &b, &src, &dst), VRRP_OK);
	cr_expect_eq(b.naddrs, 3);
	cr_expect_arr_eq(b.addrs, a.addrs, 3 * sizeof(a.addrs[0]));
}

Test(vrrp, authenticated_advert_round_trips)
{
	struct vrrp_advert a = sample(), b;
	uint8_t buf[VRRP_MSG_MAX];
	uint32_t src, dst;
	size_t n;

	a.seq = UINT64_C(0x0102030405060708);
	n = vrrp_encode(&a, ip4("192.0.2.11"), ip4("224.0.0.18"), &key, buf);
	cr_expect_eq(n, 8 + 4 + VRRP_AUTH_LEN);
	cr_assert_eq(vrrp_decode(pkt, wrap(buf, n, ip4("192.0.2.11"), ip4("224.0.0.18")),
	    &key, &b, &src, &dst), VRRP_OK);
	cr_expect_eq(b.seq, a.seq);
	cr_expect_eq(b.priority, 150);
}

Test(vrrp, authenticated_mode_refuses_forgeries)
{
	static const uint8_t other[] = "another-key-of-sixteen-bytes";
	struct vrrp_key wrong = { other, sizeof(other) - 1 };
	struct vrrp_advert a = sample(), b;
	uint8_t buf[VRRP_MSG_MAX];
	uint32_t src, dst, me = ip4("192.0.2.11"), grp = ip4("224.0.0.18");
	size_t n;

	/* A plain VRRPv3 advert (keepalived's) has no tag. */
	cr_expect_eq(vrrp_decode(keepalived_pkt, sizeof(keepalived_pkt), &key, &b, &src, &dst),
	    VRRP_ELENGTH);
	/* Signed with another key. */
	n = vrrp_encode(&a, me, grp, &wrong, buf);
	cr_expect_eq(vrrp_decode(pkt, wrap(buf, n, me, grp), &key, &b, &src, &dst), VRRP_EAUTH);
	/* Signed right, then its priority raised and the checksum fixed up. */
	n = vrrp_encode(&a, me, grp, &key, buf);
	buf[2] = 254;
	buf[6] = buf[7] = 0;
	{
		uint16_t sum = vrrp_checksum(me, grp, buf, n);

		buf[6] = (uint8_t)(sum >> 8);
		buf[7] = (uint8_t)sum;
	}
	cr_expect_eq(vrrp_decode(pkt, wrap(buf, n, me, grp), &key, &b, &src, &dst), VRRP_EAUTH);
	/* Signed right, replayed from another source address. */
	n = vrrp_encode(&a, me, grp, &key, buf);
	cr_expect_eq(vrrp_decode(pkt, wrap(buf, n, ip4("192.0.2.66"), grp), &key, &b, &src,
	    &dst), VRRP_ECHECKSUM);
}

Test(vrrp, replay_needs_a_higher_sequence_per_source)
{
	struct vrrp_replay r = { 0 };
	uint32_t a = ip4("192.0.2.11"), b = ip4("192.0.2.12");

	cr_expect(vrrp_replay_accept(&r, a, 100));
	cr_expect_not(vrrp_replay_accept(&r, a, 100));
	cr_expect_not(vrrp_replay_accept(&r, a, 99));
	cr_expect(vrrp_replay_accept(&r, b, 5));
	cr_expect(vrrp_replay_accept(&r, a, 101));
	cr_expect_not(vrrp_replay_accept(&r, b, 5));
	for (uint32_t i = 1; i <= VRRP_REPLAY_SLOTS; i++)
		cr_expect(vrrp_replay_accept(&r, htonl(0x0a000000 + i), 1));
	cr_expect_eq(r.n, VRRP_REPLAY_SLOTS);
}

/* ------------------------------------------------------------- IPv6 */

/*
 * VRID 51, priority 150, 10 cs, VIP 2001:db8::50, from fe80::12 to
 * ff02::12: the VRRP message (a raw IPv6 socket returns no header).  The
 * checksum 0x0c88 was computed apart from ha/vrrp.c (Python, RFC 8200 8.1
 * pseudo-header: src, dst, 32-bit length 24, zeros, next header 112).
 */
static const uint8_t v6_msg[] = {
	0x31, 0x33, 0x96, 0x01, 0x00, 0x0a, 0x0c, 0x88,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50,
};

static struct in6_addr ip6(const char *s)
{
	struct in6_addr a;

	inet_pton(AF_INET6, s, &a);
	return a;
}

Test(vrrp, decodes_an_ipv6_advert)
{
	struct in6_addr src = ip6("fe80::12"), dst = ip6("ff02::12");
	struct vrrp_advert a;

	cr_assert_eq(vrrp6_decode(v6_msg, sizeof(v6_msg), 255, &src, &dst, NULL, &a), VRRP_OK);
	cr_expect_eq(a.vrid, 51);
	cr_expect_eq(a.priority, 150);
	cr_expect_eq(a.interval_cs, 10);
	cr_expect_eq(a.naddrs, 1);
	cr_expect_arr_eq(&a.addrs6[0], v6_msg + 8, 16);
}

Test(vrrp, encodes_ipv6_with_the_ipv6_pseudo_header)
{
	struct vrrp_advert a = { .vrid = 51, .priority = 150, .interval_cs = 10, .naddrs = 1 };
	struct in6_addr src = ip6("fe80::12"), dst = ip6("ff02::12");
	uint8_t buf[VRRP6_MSG_MAX];
	size_t n;

	a.addrs6[0] = ip6("2001:db8::50");
	n = vrrp6_encode(&a, &src, &dst, NULL, buf);
	cr_assert_eq(n, sizeof(v6_msg));
	cr_expect_arr_eq(buf, v6_msg, n);
	cr_expect_eq(vrrp6_checksum(&src, &dst, v6_msg, n), 0);
	/* The IPv4 pseudo-header of the same message does not fit. */
	cr_expect_neq(vrrp_checksum(ip4("192.0.2.12"), ip4("224.0.0.18"), v6_msg, n), 0);
}

Test(vrrp, ipv6_checks_hop_limit_source_and_length)
{
	struct in6_addr src = ip6("fe80::12"), dst = ip6("ff02::12"), other = ip6("fe80::13");
	uint8_t copy[sizeof(v6_msg)];
	struct vrrp_advert a;

	cr_expect_eq(vrrp6_decode(v6_msg, sizeof(v6_msg), 254, &src, &dst, NULL, &a), VRRP_ETTL);
	cr_expect_eq(vrrp6_decode(v6_msg, sizeof(v6_msg), -1, &src, &dst, NULL, &a), VRRP_ETTL);
	cr_expect_eq(vrrp6_decode(v6_msg, sizeof(v6_msg), 255, &other, &dst, NULL, &a),
	    VRRP_ECHECKSUM);
	cr_expect_eq(vrrp6_decode(v6_msg, sizeof(v6_msg) - 1, 255, &src, &dst, NULL, &a),
	    VRRP_ELENGTH);
	cr_expect_eq(vrrp6_decode(v6_msg, 6, 255, &src, &dst, NULL, &a), VRRP_ETRUNC);
	memcpy(copy, v6_msg, sizeof(copy));
	copy[2] = 151;
	cr_expect_eq(vrrp6_decode(copy, sizeof(copy), 255, &src, &dst, NULL, &a),
	    VRRP_ECHECKSUM);
}

Test(vrrp, ipv6_authenticated_round_trip_and_forgery)
{
	struct vrrp_advert a = { .vrid = 51, .priority = 150, .interval_cs = 10, .naddrs = 2 }, b;
	struct in6_addr src = ip6("fe80::11"), dst = ip6("ff02::12"), other = ip6("fe80::66");
	uint8_t buf[VRRP6_MSG_MAX];
	size_t n;

	a.addrs6[0] = ip6("2001:db8::50");
	a.addrs6[1] = ip6("2001:db8::51");
	a.seq = 42;
	n = vrrp6_encode(&a, &src, &dst, &key, buf);
	cr_assert_eq(n, 8 + 2 * 16 + VRRP_AUTH_LEN);
	cr_assert_eq(vrrp6_decode(buf, n, 255, &src, &dst, &key, &b), VRRP_OK);
	cr_expect_eq(b.seq, 42);
	cr_expect_arr_eq(b.addrs6, a.addrs6, 2 * sizeof(a.addrs6[0]));
	/* Re-sent from another address with a fixed-up checksum: the HMAC covers the source. */
	buf[6] = buf[7] = 0;
	{
		uint16_t sum = vrrp6_checksum(&other, &dst, buf, n);

		buf[6] = (uint8_t)(sum >> 8);
		buf[7] = (uint8_t)sum;
	}
	cr_expect_eq(vrrp6_decode(buf, n, 255, &other, &dst, &key, &b), VRRP_EAUTH);
}
