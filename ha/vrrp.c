/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The VRRPv3 wire format (vrrp.h).  Layout of the message (RFC 5798 5.1):
 *
 *   0       4       8              16              24             32
 *   | ver 3 | type 1 | Virtual Rtr ID | Priority     | Count IPvX Addr |
 *   | rsvd  | Max Adver Int (12 bits, cs) | Checksum                   |
 *   | IPv4 address 1 ... count                                         |
 *   | [fulcrum auth: sequence (64 bits), HMAC-SHA256 (256 bits)]        |
 *
 * The checksum covers an IPv4 pseudo-header (source, destination, zero,
 * protocol 112, VRRP length) and the message, as keepalived computes it for
 * VRRPv3 over IPv4.
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

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len == 1)
		sum += (uint32_t)(p[0] << 8);
	return sum;
}

uint16_t vrrp_checksum(uint32_t src, uint32_t dst, const uint8_t *msg, size_t len)
{
	uint8_t ph[12];
	uint32_t sum;

	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = VRRP_PROTO;
	ph[10] = (uint8_t)(len >> 8);
	ph[11] = (uint8_t)len;
	sum = sum16(sum16(0, ph, sizeof(ph)), msg, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* HMAC-SHA256 over src, dst and msg[0..len) whose checksum field is zero. */
static void auth_tag(const struct vrrp_key *key, uint32_t src, uint32_t dst,
    const uint8_t *msg, size_t len, uint8_t out[HMAC_LEN])
{
	uint8_t buf[8 + VRRP_MSG_MAX];
	unsigned int outlen = HMAC_LEN;

	memcpy(buf, &src, 4);
	memcpy(buf + 4, &dst, 4);
	memcpy(buf + 8, msg, len);
	buf[8 + 6] = buf[8 + 7] = 0;
	HMAC(EVP_sha256(), key->data, (int)key->len, buf, 8 + len, out, &outlen);
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

size_t vrrp_encode(const struct vrrp_advert *a, uint32_t src, uint32_t dst,
    const struct vrrp_key *key, uint8_t *buf)
{
	unsigned n = a->naddrs > VRRP_MAX_ADDRS ? VRRP_MAX_ADDRS : a->naddrs;
	size_t len = VRRP_HDR_LEN + 4 * n;
	uint16_t sum;

	buf[0] = VRRP_VERSION << 4 | VRRP_TYPE_ADVERT;
	buf[1] = a->vrid;
	buf[2] = a->priority;
	buf[3] = (uint8_t)n;
	buf[4] = (uint8_t)(a->interval_cs >> 8 & 0x0f);
	buf[5] = (uint8_t)a->interval_cs;
	buf[6] = buf[7] = 0;
	memcpy(buf + VRRP_HDR_LEN, a->addrs, 4 * n);
	if (key != NULL && key->len > 0) {
		put64(buf + len, a->seq);
		auth_tag(key, src, dst, buf, len + SEQ_LEN, buf + len + SEQ_LEN);
		len += VRRP_AUTH_LEN;
	}
	sum = vrrp_checksum(src, dst, buf, len);
	buf[6] = (uint8_t)(sum >> 8);
	buf[7] = (uint8_t)sum;
	return len;
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

static int check_auth(const struct vrrp_key *key, uint32_t src, uint32_t dst,
    const uint8_t *msg, size_t body, struct vrrp_advert *a)
{
	uint8_t tag[HMAC_LEN];

	auth_tag(key, src, dst, msg, body + SEQ_LEN, tag);
	if (CRYPTO_memcmp(tag, msg + body + SEQ_LEN, HMAC_LEN) != 0)
		return VRRP_EAUTH;
	a->seq = get64(msg + body);
	return VRRP_OK;
}

int vrrp_decode(const uint8_t *pkt, size_t len, const struct vrrp_key *key,
    struct vrrp_advert *a, uint32_t *src, uint32_t *dst)
{
	bool authed = key != NULL && key->len > 0;
	const uint8_t *msg;
	size_t mlen, body;
	int off = check_ip(pkt, &len, src, dst);

	if (off < 0)
		return -off;
	msg = pkt + off;
	mlen = len - (size_t)off;
	if (mlen < VRRP_HDR_LEN)
		return VRRP_ETRUNC;
	if (msg[0] >> 4 != VRRP_VERSION)
		return VRRP_EVERSION;
	if ((msg[0] & 0x0f) != VRRP_TYPE_ADVERT)
		return VRRP_ETYPE;
	body = VRRP_HDR_LEN + 4 * (size_t)msg[3];
	if (msg[3] > VRRP_MAX_ADDRS || mlen != body + (authed ? VRRP_AUTH_LEN : 0))
		return VRRP_ELENGTH;
	if (vrrp_checksum(*src, *dst, msg, mlen) != 0)
		return VRRP_ECHECKSUM;
	memset(a, 0, sizeof(*a));
	if (authed && check_auth(key, *src, *dst, msg, body, a) != VRRP_OK)
		return VRRP_EAUTH;
	a->vrid = msg[1];
	a->priority = msg[2];
	a->naddrs = msg[3];
	a->interval_cs = (uint16_t)((msg[4] & 0x0f) << 8 | msg[5]);
	memcpy(a->addrs, msg + VRRP_HDR_LEN, 4 * (size_t)a->naddrs);
	return VRRP_OK;
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
