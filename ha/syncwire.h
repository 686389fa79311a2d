/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sync channel's wire format (ha/sync.c does the I/O): frames and the
 * HMAC challenge-response, with no I/O, so that both are unit-tested.
 *
 * Every frame is an 8-byte header and a body of `length` bytes:
 *
 *   0        1        2         3        4                             8
 *   +--------+--------+---------+--------+-----------------------------+
 *   |  'F'   |  'S'   | version |  type  | length (32 bits, big-endian) |
 *   +--------+--------+---------+--------+-----------------------------+
 *
 * The version is in every frame, so a peer of another version is refused
 * at its first frame, whatever it is.  The handshake, both ways at once:
 *
 *   HELLO  body: a 32-byte random challenge
 *   AUTH   body: HMAC-SHA256(auth_key, label | sender address | the
 *          peer's challenge | the sender's own challenge)
 *
 * The sender's address inside the MAC is what makes a reflected AUTH (our
 * own answer sent back to us) fail.  Nothing but HELLO and AUTH is
 * accepted before both sides are authenticated.
 */
#ifndef FC_HA_SYNCWIRE_H
#define FC_HA_SYNCWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYNC_VERSION		1
#define SYNC_HDR_LEN		8
#define SYNC_BODY_MAX		4096	/* larger: a broken or hostile peer */
#define SYNC_NONCE_LEN		32
#define SYNC_TAG_LEN		32

enum sync_type {
	SYNC_HELLO = 1,		/* challenge */
	SYNC_AUTH = 2,		/* answer to the peer's challenge */
	SYNC_PING = 3,		/* liveness, every interval_ms; empty */
	SYNC_STATE = 4,		/* VRRP state (1 byte), priority (1 byte) */
	SYNC_RESIGN = 5,	/* a clean stop or a dead proxy: take over now */
	SYNC_BYE = 6,		/* closing on purpose, alive: the close is no death */
	SYNC_SESSION = 7,	/* a learned session (issue 18.2) */
	SYNC_TYPE_MAX
};

enum sync_err {
	SYNC_EMAGIC = 1,	/* not "FS": not our protocol */
	SYNC_EVERSION,		/* another version of it */
	SYNC_ETYPE,		/* unknown type */
	SYNC_ELENGTH,		/* body too long for its type */
};

struct sync_frame {
	uint8_t version;
	uint8_t type;
	uint32_t len;
	const uint8_t *body;	/* into the caller's buffer */
};

/*
 * A SESSION body: a session id learned (or used: a touch) on the sender,
 * named by backend and server names (the two nodes' server indices may
 * differ), with its ttl and how long ago it was last seen (the nodes'
 * monotonic clocks do not compare):
 *
 *   kind (1) | backend length (1) | server length (1) | 0 (1) |
 *   ttl_s (4) | age_ms (4) | id length (2) | backend | server | id
 */
#define SYNC_NAME_MAX		63
#define SYNC_KEY_MAX		128
#define SYNC_SESSION_FIXED	14

struct sync_session {
	uint8_t kind;		/* enum fc_sess_kind */
	uint32_t ttl_s, age_ms;
	const char *backend, *server;	/* not terminated */
	size_t backend_len, server_len;
	const uint8_t *key;
	size_t keylen;
};

/* Writes s into body (SYNC_BODY_MAX bytes); returns its length, 0 if a field is too long. */
size_t sync_session_encode(const struct sync_session *s, uint8_t *body);

/* Reads body[0..len) into s (pointers into body); 0, or -1 if malformed. */
int sync_session_decode(const uint8_t *body, size_t len, struct sync_session *s);

/*
 * Writes a frame of `type` with body[0..len) into out (SYNC_HDR_LEN + len
 * bytes, len <= SYNC_BODY_MAX).  Returns its length.
 */
size_t sync_encode(uint8_t type, const void *body, size_t len, uint8_t *out);

/*
 * The frame at the start of buf[0..len).  Returns the bytes it takes, -2
 * when buf holds only part of it, -1 when it is refused (*err says why;
 * f->version is filled as soon as the header is there, for the log line).
 */
int sync_decode(const uint8_t *buf, size_t len, struct sync_frame *f, int *err);

const char *sync_strerror(int err);

/*
 * The answer to peer_nonce that `sender` (IPv4, network order) sends, its
 * own challenge being own_nonce.
 */
void sync_auth_tag(const uint8_t *key, size_t keylen, uint32_t sender,
    const uint8_t peer_nonce[SYNC_NONCE_LEN], const uint8_t own_nonce[SYNC_NONCE_LEN],
    uint8_t tag[SYNC_TAG_LEN]);

/* Is tag `sender`'s answer to our challenge?  Compared in constant time. */
bool sync_auth_check(const uint8_t *key, size_t keylen, uint32_t sender,
    const uint8_t our_nonce[SYNC_NONCE_LEN], const uint8_t peer_nonce[SYNC_NONCE_LEN],
    const uint8_t tag[SYNC_TAG_LEN]);

#endif
