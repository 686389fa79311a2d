/* SPDX-License-Identifier: BSD-2-Clause */
/* The sync channel's frames and handshake (syncwire.h): pure functions. */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "ha/syncwire.h"

#define LABEL		"fulcrum sync auth"
#define LABEL_LEN	(sizeof(LABEL) - 1)

/* The longest body each type may have; bodies are never shorter-checked here. */
static const uint32_t body_max[SYNC_TYPE_MAX] = {
	[SYNC_HELLO] = SYNC_NONCE_LEN,
	[SYNC_AUTH] = SYNC_TAG_LEN,
	[SYNC_PING] = 0,
	[SYNC_STATE] = 2,
	[SYNC_RESIGN] = 0,
	[SYNC_BYE] = 0,
	[SYNC_SESSION] = SYNC_BODY_MAX,
};

size_t sync_encode(uint8_t type, const void *body, size_t len, uint8_t *out)
{
	out[0] = 'F';
	out[1] = 'S';
	out[2] = SYNC_VERSION;
	out[3] = type;
	out[4] = (uint8_t)(len >> 24);
	out[5] = (uint8_t)(len >> 16);
	out[6] = (uint8_t)(len >> 8);
	out[7] = (uint8_t)len;
	if (len > 0)
		memcpy(out + SYNC_HDR_LEN, body, len);
	return SYNC_HDR_LEN + len;
}

int sync_decode(const uint8_t *buf, size_t len, struct sync_frame *f, int *err)
{
	if (len >= 2 && (buf[0] != 'F' || buf[1] != 'S')) {
		*err = SYNC_EMAGIC;
		return -1;
	}
	if (len < SYNC_HDR_LEN)
		return -2;
	f->version = buf[2];
	f->type = buf[3];
	f->len = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 |
	    (uint32_t)buf[6] << 8 | buf[7];
	/* The version first: a newer peer may have types we do not know. */
	*err = f->version != SYNC_VERSION ? SYNC_EVERSION :
	    f->type == 0 || f->type >= SYNC_TYPE_MAX ? SYNC_ETYPE :
	    f->len > body_max[f->type] ? SYNC_ELENGTH : 0;
	if (*err != 0)
		return -1;
	if (len < SYNC_HDR_LEN + (size_t)f->len)
		return -2;
	f->body = buf + SYNC_HDR_LEN;
	return (int)(SYNC_HDR_LEN + f->len);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t sync_session_encode(const struct sync_session *s, uint8_t *body)
{
	uint8_t *p = body + SYNC_SESSION_FIXED;

	if (s->backend_len > SYNC_NAME_MAX || s->server_len > SYNC_NAME_MAX ||
	    s->keylen == 0 || s->keylen > SYNC_KEY_MAX)
		return 0;
	body[0] = s->kind;
	body[1] = (uint8_t)s->backend_len;
	body[2] = (uint8_t)s->server_len;
	body[3] = 0;
	put32(body + 4, s->ttl_s);
	put32(body + 8, s->age_ms);
	body[12] = (uint8_t)(s->keylen >> 8);
	body[13] = (uint8_t)s->keylen;
	memcpy(p, s->backend, s->backend_len);
	memcpy(p += s->backend_len, s->server, s->server_len);
	memcpy(p += s->server_len, s->key, s->keylen);
	return (size_t)(p - body) + s->keylen;
}

int sync_session_decode(const uint8_t *body, size_t len, struct sync_session *s)
{
	if (len < SYNC_SESSION_FIXED)
		return -1;
	s->kind = body[0];
	s->backend_len = body[1];
	s->server_len = body[2];
	s->ttl_s = get32(body + 4);
	s->age_ms = get32(body + 8);
	s->keylen = (size_t)body[12] << 8 | body[13];
	if (s->backend_len > SYNC_NAME_MAX || s->server_len > SYNC_NAME_MAX ||
	    s->keylen == 0 || s->keylen > SYNC_KEY_MAX ||
	    len != SYNC_SESSION_FIXED + s->backend_len + s->server_len + s->keylen)
		return -1;
	s->backend = (const char *)body + SYNC_SESSION_FIXED;
	s->server = s->backend + s->backend_len;
	s->key = (const uint8_t *)s->server + s->server_len;
	return 0;
}

const char *sync_strerror(int err)
{
	switch (err) {
	case SYNC_EMAGIC:
		return "not the fulcrum sync protocol";
	case SYNC_EVERSION:
		return "another version of the sync protocol";
	case SYNC_ETYPE:
		return "unknown frame type";
	case SYNC_ELENGTH:
		return "frame too long for its type";
	default:
		return "no error";
	}
}

void sync_auth_tag(const uint8_t *key, size_t keylen, uint32_t sender,
    const uint8_t peer_nonce[SYNC_NONCE_LEN], const uint8_t own_nonce[SYNC_NONCE_LEN],
    uint8_t tag[SYNC_TAG_LEN])
{
	uint8_t buf[LABEL_LEN + 4 + 2 * SYNC_NONCE_LEN];
	unsigned int outlen = SYNC_TAG_LEN;

	memcpy(buf, LABEL, LABEL_LEN);
	memcpy(buf + LABEL_LEN, &sender, 4);
	memcpy(buf + LABEL_LEN + 4, peer_nonce, SYNC_NONCE_LEN);
	memcpy(buf + LABEL_LEN + 4 + SYNC_NONCE_LEN, own_nonce, SYNC_NONCE_LEN);
	HMAC(EVP_sha256(), key, (int)keylen, buf, sizeof(buf), tag, &outlen);
}

bool sync_auth_check(const uint8_t *key, size_t keylen, uint32_t sender,
    const uint8_t our_nonce[SYNC_NONCE_LEN], const uint8_t peer_nonce[SYNC_NONCE_LEN],
    const uint8_t tag[SYNC_TAG_LEN])
{
	uint8_t want[SYNC_TAG_LEN];

	sync_auth_tag(key, keylen, sender, our_nonce, peer_nonce, want);
	return CRYPTO_memcmp(want, tag, SYNC_TAG_LEN) == 0;
}
