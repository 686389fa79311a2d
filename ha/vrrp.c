/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The VRRPv3 wire format (vrrp.h).  Layout of the message (RFC 5798 5.1):
 *
 *   0       4       8              16              24             32
 *   | ver 3 | type 1 | Virtual Rtr ID | Priority     | Count IPvX Addr |
 *   | rsvd  | Max Adver Int (12 bits, cs) | Checksum                   |
 *   | IPv4 (4 bytes) or IPv6 (16 bytes) address 1 ... count            |
 *   | [fulcrum auth: sequence (64 bits), HMAC-SHA256 (256 bits)]        |
 *
 * The checksum covers a pseudo-header of the family (ends_checksum) and
 * the message, as keepalived computes it for VRRPv3.  One code path for
 * both families: only the address length and the pseudo-header differ.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/ip.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "ha/vrrp.h"

#define HMAC_LEN	32
#define SEQ_LEN		8

const char *vrrp_strerror(int err)
{
	static const char *const names[VRRP_EMAX] = {
		[VRRP_OK] = "ok",
		[VRRP_ETRUNC] = "truncated",
		[VRRP_EIP] = "bad IPv4 header",
		[VRRP_EPROTO] = "not VRRP (IP protocol)",
		[VRRP_ETTL] = "TTL is not 255",
		[VRRP_EVERSION] = "not VRRP version 3",
		[VRRP_ETYPE] = "not an advertisement",
		[VRRP_ELENGTH] = "length does not match the address count",
		[VRRP_ECHECKSUM] = "bad checksum",
		[VRRP_EAUTH] = "authentication failed",
	};

	return err >= 0 && err < VRRP_EMAX ? names[err] : "unknown";
}

/*
 * The addresses an advert travels with, as the checksum and the HMAC see
 * them: 4 bytes each over IPv4, 16 over IPv6.
 */
struct ends {
	const void *src, *dst;
	size_t alen;
};

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len == 1)
		sum += (uint32_t)(p[0] << 8);
	return sum;
}

/*
 * RFC 5798 5.2.8: over IPv4 the pseudo-header is source, destination, a
 * zero byte, the protocol and a 16-bit length (RFC 768 style); over IPv6
 * it is source, destination, a 32-bit length, three zero bytes and the
 * next header (RFC 8200 8.1).
 */
static uint16_t ends_checksum(const struct ends *e, const uint8_t *msg, size_t len)
{
	uint8_t ph[40];
	size_t n = 2 * e->alen;
	uint32_t sum;

	memcpy(ph, e->src, e->alen);
	memcpy(ph + e->alen, e->dst, e->alen);
	if (e->alen == 4) {
		ph[n++] = 0;
		ph[n++] = VRRP_PROTO;
	} else {
		ph[n++] = 0;
		ph[n++] = 0;
	}
	ph[n++] = (uint8_t)(len >> 8);
	ph[n++] = (uint8_t)len;
	if (e->alen == 16) {
		ph[n++] = 0;
		ph[n++] = 0;
		ph[n++] = 0;
		ph[n++] = VRRP_PROTO;
	}
	sum = sum16(sum16(0, ph, n), msg, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t vrrp_checksum(uint32_t src, uint32_t dst, const uint8_t *msg, size_t len)
{
	struct ends e = { &src, &dst, 4 };

	return ends_checksum(&e, msg, len);
}

uint16_t vrrp6_checksum(const struct in6_addr *src, const struct in6_addr *dst,
    const uint8_t *msg, size_t len)
{
	struct ends e = { src, dst, 16 };

	return ends_checksum(&e, msg, len);
}

/* HMAC-SHA256 over src, dst and msg[0..len) whose checksum field is zero. */
static void auth_tag(const struct vrrp_key *key, const struct ends *e,
    const uint8_t *msg, size_t len, uint8_t out[HMAC_LEN])
{
	uint8_t buf[32 + VRRP6_MSG_MAX];
	size_t pre = 2 * e->alen;
	unsigned int outlen = HMAC_LEN;

	memcpy(buf, e->src, e->alen);
	memcpy(buf + e->alen, e->dst, e->alen);
	memcpy(buf + pre, msg, len);
	buf[pre + 6] = buf[pre + 7] = 0;
	HMAC(EVP_sha256(), key->data, (int)key->len, buf, pre + len, out, &outlen);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* a's addresses (a->addrs or a->addrs6: the same offset) are e->alen bytes each. */
static size_t encode(const struct vrrp_advert *a, const struct ends *e,
    const struct vrrp_key *key, uint8_t *buf)
{
	unsigned n = a->naddrs > VRRP_MAX_ADDRS ? VRRP_MAX_ADDRS : a->naddrs;
	size_t len = VRRP_HDR_LEN + e->alen * n;
	uint16_t sum;

	buf[0] = VRRP_VERSION << 4 | VRRP_TYPE_ADVERT;
	buf[1] = a->vrid;
	buf[2] = a->priority;
	buf[3] = (uint8_t)n;
	buf[4] = (uint8_t)(a->interval_cs >> 8 & 0x0f);
	buf[5] = (uint8_t)a->interval_cs;
	buf[6] = buf[7] = 0;
	memcpy(buf + VRRP_HDR_LEN, a->addrs, e->alen * n);
	if (key != NULL && key->len > 0) {
		put64(buf + len, a->seq);
		auth_tag(key, e, buf, len + SEQ_LEN, buf + len + SEQ_LEN);
		len += VRRP_AUTH_LEN;
	}
	sum = ends_checksum(e, buf, len);
	buf[6] = (uint8_t)(sum >> 8);
	buf[7] = (uint8_t)sum;
	return len;
}

size_t vrrp_encode(const struct vrrp_advert *a, uint32_t src, uint32_t dst,
    const struct vrrp_key *key, uint8_t *buf)
{
	struct ends e = { &src, &dst, 4 };

	return encode(a, &e, key, buf);
}

size_t vrrp6_encode(const struct vrrp_advert *a, const struct in6_addr *src,
    const struct in6_addr *dst, const struct vrrp_key *key, uint8_t *buf)
{
	struct ends e = { src, dst, 16 };

	return encode(a, &e, key, buf);
}

/* The IPv4 header: returns the offset of the payload, or -err. */
static int check_ip(const uint8_t *pkt, size_t *len, uint32_t *src, uint32_t *dst)
{
	const struct iphdr *ip = (const struct iphdr *)pkt;
	size_t hl, tot;

	if (*len < sizeof(*ip))
		return -VRRP_ETRUNC;
	hl = (size_t)ip->ihl * 4;
	tot = ntohs(ip->tot_len);
	if (ip->version != 4 || hl < sizeof(*ip) || tot < hl)
		return -VRRP_EIP;
	if (tot > *len)
		return -VRRP_ETRUNC;
	if (ip->protocol != VRRP_PROTO)
		return -VRRP_EPROTO;
	/* RFC 5798 7.1: an advert that crossed a router is not from our LAN. */
	if (ip->ttl != VRRP_TTL)
		return -VRRP_ETTL;
	*src = ip->saddr;
	*dst = ip->daddr;
	*len = tot;
	return (int)hl;
}

static int check_auth(const struct vrrp_key *key, const struct ends *e,
    const uint8_t *msg, size_t body, struct vrrp_advert *a)
{
	uint8_t tag[HMAC_LEN];

	auth_tag(key, e, msg, body + SEQ_LEN, tag);
	if (CRYPTO_memcmp(tag, msg + body + SEQ_LEN, HMAC_LEN) != 0)
		return VRRP_EAUTH;
	a->seq = get64(msg + body);
	return VRRP_OK;
}

/* The VRRP message itself, whichever family carried it. */
static int decode_msg(const uint8_t *msg, size_t mlen, const struct ends *e,
    const struct vrrp_key *key, struct vrrp_advert *a)
{
	bool authed = key != NULL && key->len > 0;
	size_t body;

	if (mlen < VRRP_HDR_LEN)
		return VRRP_ETRUNC;
	if (msg[0] >> 4 != VRRP_VERSION)
		return VRRP_EVERSION;
	if ((msg[0] & 0x0f) != VRRP_TYPE_ADVERT)
		return VRRP_ETYPE;
	body = VRRP_HDR_LEN + e->alen * (size_t)msg[3];
	if (msg[3] > VRRP_MAX_ADDRS || mlen != body + (authed ? VRRP_AUTH_LEN : 0))
		return VRRP_ELENGTH;
	if (ends_checksum(e, msg, mlen) != 0)
		return VRRP_ECHECKSUM;
	memset(a, 0, sizeof(*a));
	if (authed && check_auth(key, e, msg, body, a) != VRRP_OK)
		return VRRP_EAUTH;
	a->vrid = msg[1];
	a->priority = msg[2];
	a->naddrs = msg[3];
	a->interval_cs = (uint16_t)((msg[4] & 0x0f) << 8 | msg[5]);
	memcpy(a->addrs, msg + VRRP_HDR_LEN, e->alen * (size_t)a->naddrs);
	return VRRP_OK;
}

int vrrp_decode(const uint8_t *pkt, size_t len, const struct vrrp_key *key,
    struct vrrp_advert *a, uint32_t *src, uint32_t *dst)
{
	int off = check_ip(pkt, &len, src, dst);
	struct ends e = { src, dst, 4 };

	if (off < 0)
		return -off;
	return decode_msg(pkt + off, len - (size_t)off, &e, key, a);
}

int vrrp6_decode(const uint8_t *msg, size_t len, int hoplimit, const struct in6_addr *src,
    const struct in6_addr *dst, const struct vrrp_key *key, struct vrrp_advert *a)
{
	struct ends e = { src, dst, 16 };

	/* RFC 5798 7.1, as for the IPv4 TTL. */
	if (hoplimit != VRRP_TTL)
		return VRRP_ETTL;
	return decode_msg(msg, len, &e, key, a);
}

bool vrrp_replay_accept(struct vrrp_replay *r, uint32_t src, uint64_t seq)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (r->src[i] == src)
			break;
	if (i < r->n && seq <= r->seq[i])
		return false;
	if (i == r->n) {
		/* Full: forget the oldest source, move the others down. */
		if (r->n == VRRP_REPLAY_SLOTS) {
			memmove(r->src, r->src + 1, sizeof(r->src[0]) * (VRRP_REPLAY_SLOTS - 1));
			memmove(r->seq, r->seq + 1, sizeof(r->seq[0]) * (VRRP_REPLAY_SLOTS - 1));
			i = --r->n;
		}
		r->n++;
		r->src[i] = src;
	}
	r->seq[i] = seq;
	return true;
}
