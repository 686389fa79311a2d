/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sync channel's wire format: frames round-trip, a frame cut anywhere
 * is incomplete (never over-read: bodies end at a PROT_NONE guard page),
 * another version or a foreign protocol is refused, and the HMAC handshake
 * accepts only the right key, the right sender and the right challenge.
 */
#include "config.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ha/syncwire.h"

static const uint8_t key[] = "0123456789abcdef-shared";
#define KEYLEN (sizeof(key) - 1)

/* len bytes right before a PROT_NONE page: reading past them faults. */
static uint8_t *guarded(const uint8_t *data, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *p = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert(p != MAP_FAILED);
	cr_assert(mprotect(p + page, (size_t)page, PROT_NONE) == 0);
	memcpy(p + page - len, data, len);
	return p + page - len;
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

Test(sync, frame_round_trips)
{
	uint8_t buf[SYNC_HDR_LEN + 2], body[2] = { 2, 150 };
	struct sync_frame f;
	int err = 0;
	size_t n = sync_encode(SYNC_STATE, body, sizeof(body), buf);

	cr_assert_eq(n, SYNC_HDR_LEN + 2);
	cr_assert_eq(sync_decode(guarded(buf, n), n, &f, &err), (int)n);
	cr_assert_eq(f.version, SYNC_VERSION);
	cr_assert_eq(f.type, SYNC_STATE);
	cr_assert_eq(f.len, 2);
	cr_assert_eq(f.body[0], 2);
	cr_assert_eq(f.body[1], 150);
}

Test(sync, a_cut_frame_is_incomplete_at_every_length)
{
	uint8_t buf[SYNC_HDR_LEN + SYNC_NONCE_LEN], nonce[SYNC_NONCE_LEN];
	struct sync_frame f;
	int err;
	size_t n;

	memset(nonce, 0xa5, sizeof(nonce));
	n = sync_encode(SYNC_HELLO, nonce, sizeof(nonce), buf);
	for (size_t cut = 0; cut < n; cut++) {
		err = 0;
		cr_assert_eq(sync_decode(guarded(buf, cut), cut, &f, &err), -2, "cut at %zu", cut);
	}
}

Test(sync, two_frames_in_one_buffer_decode_one_at_a_time)
{
	uint8_t buf[2 * SYNC_HDR_LEN];
	struct sync_frame f;
	int err;
	size_t n = sync_encode(SYNC_PING, NULL, 0, buf);

	n += sync_encode(SYNC_RESIGN, NULL, 0, buf + n);
	cr_assert_eq(sync_decode(buf, n, &f, &err), SYNC_HDR_LEN);
	cr_assert_eq(f.type, SYNC_PING);
	cr_assert_eq(sync_decode(buf + SYNC_HDR_LEN, n - SYNC_HDR_LEN, &f, &err), SYNC_HDR_LEN);
	cr_assert_eq(f.type, SYNC_RESIGN);
}

Test(sync, another_version_is_refused_and_named)
{
	uint8_t buf[SYNC_HDR_LEN];
	struct sync_frame f;
	int err = 0;

	sync_encode(SYNC_PING, NULL, 0, buf);
	buf[2] = SYNC_VERSION + 1;
	cr_assert_eq(sync_decode(buf, sizeof(buf), &f, &err), -1);
	cr_assert_eq(err, SYNC_EVERSION);
	cr_assert_eq(f.version, SYNC_VERSION + 1);
}

Test(sync, foreign_bytes_are_refused_at_once)
{
	struct sync_frame f;
	int err = 0;

	cr_assert_eq(sync_decode((const uint8_t *)"GE", 2, &f, &err), -1);
	cr_assert_eq(err, SYNC_EMAGIC);
}

Test(sync, unknown_types_and_long_bodies_are_refused)
{
	uint8_t buf[SYNC_HDR_LEN + 3] = { 0 };
	struct sync_frame f;
	int err = 0;

	sync_encode(SYNC_TYPE_MAX, NULL, 0, buf);
	cr_assert_eq(sync_decode(buf, SYNC_HDR_LEN, &f, &err), -1);
	cr_assert_eq(err, SYNC_ETYPE);
	sync_encode(SYNC_STATE, buf + SYNC_HDR_LEN, 3, buf);
	cr_assert_eq(sync_decode(buf, sizeof(buf), &f, &err), -1);
	cr_assert_eq(err, SYNC_ELENGTH);
	/* A huge length is refused from the header alone, before any body. */
	sync_encode(SYNC_SESSION, NULL, 0, buf);
	buf[4] = 0x7f;
	cr_assert_eq(sync_decode(buf, SYNC_HDR_LEN, &f, &err), -1);
	cr_assert_eq(err, SYNC_ELENGTH);
}

/* Both sides of one handshake: A 192.0.2.11, B 192.0.2.12. */
struct pair {
	uint8_t na[SYNC_NONCE_LEN], nb[SYNC_NONCE_LEN];
	uint32_t a, b;
};

static struct pair pair(void)
{
	struct pair p = { .a = ip4("192.0.2.11"), .b = ip4("192.0.2.12") };

	memset(p.na, 1, sizeof(p.na));
	memset(p.nb, 2, sizeof(p.nb));
	return p;
}

Test(sync, the_handshake_succeeds_both_ways_with_the_same_key)
{
	struct pair p = pair();
	uint8_t ta[SYNC_TAG_LEN], tb[SYNC_TAG_LEN];

	sync_auth_tag(key, KEYLEN, p.a, p.nb, p.na, ta);	/* A answers B */
	sync_auth_tag(key, KEYLEN, p.b, p.na, p.nb, tb);	/* B answers A */
	cr_assert(sync_auth_check(key, KEYLEN, p.a, p.nb, p.na, ta), "B accepts A");
	cr_assert(sync_auth_check(key, KEYLEN, p.b, p.na, p.nb, tb), "A accepts B");
}

Test(sync, another_key_fails)
{
	struct pair p = pair();
	uint8_t ta[SYNC_TAG_LEN];
	static const uint8_t other[] = "0123456789abcdef-SHARED";

	sync_auth_tag(other, sizeof(other) - 1, p.a, p.nb, p.na, ta);
	cr_assert_not(sync_auth_check(key, KEYLEN, p.a, p.nb, p.na, ta));
}

Test(sync, a_reflected_answer_fails)
{
	struct pair p = pair();
	uint8_t t[SYNC_TAG_LEN];

	/*
	 * An attacker posing as B sends A's own challenge back as its own, and
	 * A's answer to it back as B's answer: the sender address differs.
	 */
	sync_auth_tag(key, KEYLEN, p.a, p.na, p.na, t);
	cr_assert_not(sync_auth_check(key, KEYLEN, p.b, p.na, p.na, t));
}

Test(sync, an_answer_to_an_old_challenge_fails)
{
	struct pair p = pair();
	uint8_t t[SYNC_TAG_LEN], fresh[SYNC_NONCE_LEN];

	sync_auth_tag(key, KEYLEN, p.b, p.na, p.nb, t);
	memset(fresh, 3, sizeof(fresh));
	cr_assert_not(sync_auth_check(key, KEYLEN, p.b, fresh, p.nb, t));
}

Test(sync, one_flipped_bit_fails)
{
	struct pair p = pair();
	uint8_t t[SYNC_TAG_LEN];

	sync_auth_tag(key, KEYLEN, p.b, p.na, p.nb, t);
	t[SYNC_TAG_LEN - 1] ^= 1;
	cr_assert_not(sync_auth_check(key, KEYLEN, p.b, p.na, p.nb, t));
}

Test(sync, a_session_record_round_trips)
{
	static const uint8_t id[] = "0123456789abcdef0123456789";
	struct sync_session in = { .kind = 1, .ttl_s = 1800, .age_ms = 42,
	    .backend = "webfarm", .backend_len = 7, .server = "web2", .server_len = 4,
	    .key = id, .keylen = 26 }, out;
	uint8_t body[SYNC_BODY_MAX];
	size_t n = sync_session_encode(&in, body);

	cr_assert_eq(n, SYNC_SESSION_FIXED + 7 + 4 + 26);
	cr_assert_eq(sync_session_decode(guarded(body, n), n, &out), 0);
	cr_assert_eq(out.kind, 1);
	cr_assert_eq(out.ttl_s, 1800);
	cr_assert_eq(out.age_ms, 42);
	cr_assert_eq(out.backend_len, 7);
	cr_assert(memcmp(out.backend, "webfarm", 7) == 0);
	cr_assert_eq(out.server_len, 4);
	cr_assert(memcmp(out.server, "web2", 4) == 0);
	cr_assert_eq(out.keylen, 26);
	cr_assert(memcmp(out.key, id, 26) == 0);
}

Test(sync, a_session_record_with_wrong_lengths_is_refused)
{
	static const uint8_t id[] = "abc";
	struct sync_session in = { .kind = 1, .ttl_s = 1, .backend = "b", .backend_len = 1,
	    .server = "s", .server_len = 1, .key = id, .keylen = 3 }, out;
	uint8_t body[SYNC_BODY_MAX];
	size_t n = sync_session_encode(&in, body);

	for (size_t cut = 0; cut < n; cut++)
		cr_assert_eq(sync_session_decode(guarded(body, cut), cut, &out), -1,
		    "cut at %zu", cut);
	body[13] = 0;		/* empty id */
	cr_assert_eq(sync_session_decode(body, n - 3, &out), -1);
	in.keylen = SYNC_KEY_MAX + 1;
	cr_assert_eq(sync_session_encode(&in, body), 0);
}
