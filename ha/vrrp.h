/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * VRRPv3 advertisements for IPv4 and IPv6 (RFC 5798 section 5): encoding,
 * decoding and every check a receiver must make, with no I/O, so that the
 * whole wire format is unit-tested.  The message is the same for both
 * families; what differs is the size of the addresses it carries, the
 * pseudo-header its checksum covers (5.2.8), and where the receiver reads
 * the source, destination and hop limit: from the IPv4 header a raw IPv4
 * socket returns, from the ancillary data of an IPv6 one.
 *
 * The authenticated mode is a fulcrum extension that plain VRRPv3 peers
 * (keepalived) do not speak: the advert carries a 40-byte trailer after the
 * addresses, a 64-bit sequence number and an HMAC-SHA256 over the source
 * and destination addresses, the message (checksum zeroed) and the sequence
 * number.  The receiver keeps the highest sequence number seen per source
 * (struct vrrp_replay) and refuses anything not above it.
 */
#ifndef FC_HA_VRRP_H
#define FC_HA_VRRP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VRRP_PROTO		112
#define VRRP_VERSION		3
#define VRRP_TYPE_ADVERT	1
#define VRRP_TTL		255
#define VRRP_MCAST_GROUP	0xe0000012u	/* 224.0.0.18, host order */
#define VRRP_HDR_LEN		8
#define VRRP_MAX_ADDRS		16
#define VRRP_AUTH_LEN		40		/* sequence (8) + HMAC-SHA256 (32) */
#define VRRP_INTERVAL_MAX	4095		/* centiseconds: 12 bits */
#define VRRP_MSG_MAX		(VRRP_HDR_LEN + 4 * VRRP_MAX_ADDRS + VRRP_AUTH_LEN)
#define VRRP6_MSG_MAX		(VRRP_HDR_LEN + 16 * VRRP_MAX_ADDRS + VRRP_AUTH_LEN)
/* ff02::12, the IPv6 group (RFC 5798 5.1.2.2) */
#define VRRP6_MCAST_GROUP	{ { { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12 } } }

/* Why a datagram was refused; 0 means accepted. */
enum vrrp_err {
	VRRP_OK = 0,
	VRRP_ETRUNC,		/* shorter than its headers say */
	VRRP_EIP,		/* not an IPv4 header we can read */
	VRRP_EPROTO,		/* IP protocol is not 112 */
	VRRP_ETTL,		/* TTL (hop limit) is not 255: it crossed a router */
	VRRP_EVERSION,		/* not version 3 */
	VRRP_ETYPE,		/* not an advertisement */
	VRRP_ELENGTH,		/* length does not match the address count */
	VRRP_ECHECKSUM,
	VRRP_EAUTH,		/* HMAC missing or wrong */
	VRRP_EMAX
};

struct vrrp_advert {
	uint8_t vrid;
	uint8_t priority;		/* 0: the master resigns */
	uint16_t interval_cs;		/* Max Adver Int, 12 bits */
	uint8_t naddrs;
	/* The advert's family says which: both start at the same offset. */
	union {
		uint32_t addrs[VRRP_MAX_ADDRS];		/* IPv4, network order */
		struct in6_addr addrs6[VRRP_MAX_ADDRS];	/* IPv6 */
	};
	uint64_t seq;			/* authenticated mode only */
};

/* An HMAC key; len 0: plain VRRPv3. */
struct vrrp_key {
	const uint8_t *data;
	size_t len;
};

/* The highest sequence number accepted from each recent source. */
#define VRRP_REPLAY_SLOTS 8
struct vrrp_replay {
	uint32_t src[VRRP_REPLAY_SLOTS];
	uint64_t seq[VRRP_REPLAY_SLOTS];
	int n;
};

const char *vrrp_strerror(int err);

/* Internet checksum of an IPv4 pseudo-header (src, dst: network order) and msg. */
uint16_t vrrp_checksum(uint32_t src, uint32_t dst, const uint8_t *msg, size_t len);

/*
 * Writes the VRRP message of a (no IP header: the kernel adds it) into buf,
 * which holds VRRP_MSG_MAX bytes; src and dst (network order) are the IP
 * addresses it will travel with, which the checksum and the HMAC cover.
 * Returns its length.
 */
size_t vrrp_encode(const struct vrrp_advert *a, uint32_t src, uint32_t dst,
    const struct vrrp_key *key, uint8_t *buf);

/*
 * Checks and parses a whole IPv4 datagram as a raw socket returns it.
 * Fills a, *src and *dst (network order).  Returns VRRP_OK or why not.
 * The VRID, the sender and the replay are the caller's to judge.
 */
int vrrp_decode(const uint8_t *pkt, size_t len, const struct vrrp_key *key,
    struct vrrp_advert *a, uint32_t *src, uint32_t *dst);

/* IPv6 checksum: the pseudo-header of RFC 8200 8.1 (src, dst, length, 112), then msg. */
uint16_t vrrp6_checksum(const struct in6_addr *src, const struct in6_addr *dst,
    const uint8_t *msg, size_t len);

/*
 * vrrp_encode() for IPv6: a->addrs6 go on the wire; buf holds VRRP6_MSG_MAX
 * bytes; src is the link-local address the advert leaves from.
 */
size_t vrrp6_encode(const struct vrrp_advert *a, const struct in6_addr *src,
    const struct in6_addr *dst, const struct vrrp_key *key, uint8_t *buf);

/*
 * Checks and parses the VRRP message msg[0..len) of an IPv6 datagram: a
 * raw IPv6 socket gives the payload alone, and the caller the hop limit,
 * source and destination (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO).  Fills a
 * (a->addrs6).  Returns VRRP_OK or why not.
 */
int vrrp6_decode(const uint8_t *msg, size_t len, int hoplimit, const struct in6_addr *src,
    const struct in6_addr *dst, const struct vrrp_key *key, struct vrrp_advert *a);

/* True, and remembered, when seq is above every one seen from src. */
bool vrrp_replay_accept(struct vrrp_replay *r, uint32_t src, uint64_t seq);

#endif
