/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The learned-session table (session.h) and the rings that feed it.
 *
 * Table.  nsessions entries of struct fc_shm_session, cut into buckets of
 * FC_SESSION_WAYS (the last one may be shorter).  A key -- the backend's
 * index and the session id -- hashes to two buckets and lives in one of
 * their 16 ways ("two choices": a new key goes to the emptier bucket);
 * nothing ever moves, so a lookup reads at most those 16 entries.  The
 * entry keeps the whole id (up to FC_SESSION_KEY_MAX bytes) and a lookup
 * compares it, so two ids with the same hash never share a server.  Longer
 * ids are refused, not truncated or hashed: two sessions with a common
 * prefix must not land on one server.
 *
 * Eviction: a new session goes to a free way, else to an expired one,
 * else replaces the way seen least recently among its 16 candidates.  That
 * is LRU over a window, not over the whole table: exact LRU needs a list
 * linked through shared memory and rewritten on every touch.  The price is
 * that the candidates can be full before the table is: with 100000 PHP-like
 * ids, the first eviction comes at about 75% of `size`, and learning
 * `size` new ids leaves about 96% of the table in use (the unit test
 * "buckets_fill_before_the_table"; one choice instead of two: 24%, 86%).
 *
 * Single writer.  Only the checker writes the table (session_drain,
 * session_expire, session_recover).  Readers run lock-free on versioned
 * entries: the writer makes seq odd, fences, writes the fields with
 * relaxed atomic stores, and publishes seq + 2 with release; a reader loads
 * seq with acquire, the fields relaxed, fences with acquire and reloads
 * seq.  Odd or changed: the read was torn and is retried a few times, then
 * counts as a miss -- never as another session's server.
 *
 * Rings.  Each worker owns one single-producer ring: it writes a record,
 * then publishes head with release; the checker reads head with acquire,
 * applies the records and publishes its tail with release, which the
 * worker reads with acquire before reusing a slot.  tail lives in a page
 * of its own that only the checker may write (shm_protect_*), head in the
 * ring that only its worker may write.  Both are in the segment, so a
 * crashed worker's pending records are still drained, and a respawned
 * worker continues at its head.  A full ring drops the record (counted):
 * a worker never waits for the checker.
 *
 * Last seen.  Workers cannot write the table, so a lookup hit does not
 * refresh it.  session_use() pushes a "touch" record instead, when the
 * entry's last-seen time is older than ttl / 8 (clamped to 0.1..60 s), and
 * at most once per such interval per session and worker.  An entry thus
 * expires between ttl - interval and ttl after its last use.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "lib/hash.h"
#include "shm/session.h"

#define READ_TRIES	4	/* torn reads retried before a miss */
#define TOUCH_MIN_MS	100
#define TOUCH_MAX_MS	60000
#define TOUCH_CACHE	64	/* per process: recently touched sessions */
#define CANDIDATES	(2 * FC_SESSION_WAYS)

/* A session id as stored: length and zero-padded words. */
struct skey {
	uint32_t len;
	uint64_t w[FC_SESSION_KEY_MAX / 8];
};

/* What a reader got out of an entry. */
struct hit {
	uint32_t server;
	uint32_t ttl_s;
	uint64_t last_seen_ms;
};

/* This process's last touches: only for rate-limiting them. */
static struct {
	uint64_t hash;
	uint64_t until_ms;
} touched[TOUCH_CACHE];

/* ------------------------------------------------------------ helpers */

static int skey_make(struct skey *k, const char *key, size_t keylen)
{
	if (key == NULL || keylen == 0 || keylen > FC_SESSION_KEY_MAX)
		return -1;
	memset(k, 0, sizeof(*k));
	k->len = (uint32_t)keylen;
	memcpy(k->w, key, keylen);
	return 0;
}

/*
 * FNV-1a over backend (4 bytes, least significant first, whatever the
 * host's byte order) and id, then a 64-bit finalizer to spread buckets.
 */
static uint64_t skey_hash(uint32_t backend, const struct skey *k)
{
	const unsigned char l[4] = { (unsigned char)backend, (unsigned char)(backend >> 8),
	    (unsigned char)(backend >> 16), (unsigned char)(backend >> 24) };
	uint64_t h = hash_fnv1a(HASH_FNV1A_INIT, l, sizeof(l));

	h = hash_fnv1a(h, k->w, k->len);
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h != 0 ? h : 1;		/* 0 marks a free entry */
}

static struct fc_shm_session *table(const struct fc_shm *shm)
{
	return (struct fc_shm_session *)((char *)shm->hdr + shm->hdr->off_sessions);
}

/*
 * The entries a key may live in, into idx: the ways of its first bucket,
 * then (from idx[*split] on) those of its second, unless the table has a
 * single bucket or both choices agree.  Returns how many.
 */
static uint32_t candidates(const struct fc_shm *shm, uint64_t h, uint32_t idx[CANDIDATES],
    uint32_t *split)
{
	uint32_t n = shm->hdr->nsessions, nb = (n + FC_SESSION_WAYS - 1) / FC_SESSION_WAYS;
	uint32_t b[2] = { (uint32_t)(h % nb), (uint32_t)((h >> 32) * 0x9e3779b1u % nb) };
	uint32_t c = 0;

	for (int k = 0; k < (b[1] != b[0] ? 2 : 1); k++) {
		if (k == 1)
			*split = c;
		for (uint32_t i = b[k] * FC_SESSION_WAYS;
		    i < n && i < (b[k] + 1) * FC_SESSION_WAYS; i++)
			idx[c++] = i;
	}
	if (b[1] == b[0])
		*split = c;
	return c;
}

static struct fc_shm_ring *ring(const struct fc_shm *shm, int slot)
{
	return (struct fc_shm_ring *)((char *)shm->hdr + shm->hdr->sessions.off_rings +
	    (size_t)slot * shm->hdr->sessions.ring_stride);
}

static struct fc_shm_ring_cons *cons(const struct fc_shm *shm, int slot)
{
	return (struct fc_shm_ring_cons *)((char *)shm->hdr +
	    shm->hdr->sessions.off_cons) + slot;
}

/* The ha process's rings (shm-t.h): "in" (peer -> checker), "out". */
enum { HA_IN, HA_OUT };

static struct fc_shm_ring *ha_ring(const struct fc_shm *shm, int which)
{
	return (struct fc_shm_ring *)((char *)shm->hdr + shm->hdr->ha_rings.off +
	    (size_t)which * shm->hdr->sessions.ring_stride);
}

static bool has_ha_rings(const struct fc_shm *shm)
{
	return shm->hdr->nsessions > 0 && shm->hdr->ha_rings.off != 0;
}

static bool has_ring(const struct fc_shm *shm, int slot)
{
	return shm->hdr->nsessions > 0 && slot >= 0 &&
	    (uint32_t)slot < shm->hdr->nworkers;
}

uint32_t session_capacity(const struct fc_conf *conf)
{
	uint64_t n = 0;

	for (int b = 0; b < conf->nbackends; b++)
		if (conf->backends[b].stick.cookie[0] != '\0')
			n += (uint64_t)conf->backends[b].stick.size;
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* ------------------------------------------------------------ readers */

/*
 * Reads entry e as one consistent version.  Returns true when it holds
 * (hash, k) alive at now, with *out filled; false for another key, an
 * expired entry, or a read torn READ_TRIES times.
 */
static bool entry_read(const struct fc_shm_session *e, uint64_t h, const struct skey *k,
    uint64_t now_ms, struct hit *out)
{
	uint64_t w[FC_SESSION_KEY_MAX / 8], expires;
	uint32_t s1, len;

	for (int t = 0; t < READ_TRIES; t++) {
		if ((s1 = shm_load_acq(&e->seq)) & 1)
			continue;
		if (shm_load(&e->hash) != h)
			return false;	/* another key, or being replaced */
		len = shm_load(&e->keylen);
		for (size_t i = 0; i < FC_SESSION_KEY_MAX / 8; i++)
			w[i] = shm_load(&e->key[i]);
		out->server = shm_load(&e->server);
		out->ttl_s = shm_load(&e->ttl_s);
		out->last_seen_ms = shm_load(&e->last_seen_ms);
		expires = shm_load(&e->expires_ms);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (shm_load(&e->seq) != s1)
			continue;
		return len == k->len && memcmp(w, k->w, sizeof(w)) == 0 &&
		    now_ms < expires;
	}
	return false;
}

static bool find(const struct fc_shm *shm, uint32_t backend, const struct skey *k,
    uint64_t now_ms, struct hit *out, uint64_t *hash)
{
	const struct fc_shm_session *t;
	uint32_t idx[CANDIDATES], n, split;

	if (shm->hdr->nsessions == 0)
		return false;
	*hash = skey_hash(backend, k);
	n = candidates(shm, *hash, idx, &split);
	t = table(shm);
	for (uint32_t i = 0; i < n; i++)
		if (entry_read(&t[idx[i]], *hash, k, now_ms, out))
			return true;
	return false;
}

int session_lookup(const struct fc_shm *shm, uint32_t backend, const char *key,
    size_t keylen, uint64_t now_ms)
{
	struct skey k;
	struct hit hit;
	uint64_t h;

	if (skey_make(&k, key, keylen) < 0 ||
	    !find(shm, backend, &k, now_ms, &hit, &h))
		return -1;
	return (int)hit.server;
}

/* ------------------------------------------------------------ producers */

/* Any producer: appends src to ring r whose consumer's index is *tail. */
static int ring_write(const struct fc_shm *shm, struct fc_shm_ring *r, const uint64_t *tail,
    const struct fc_shm_ring_rec *src)
{
	uint32_t slots = shm->hdr->sessions.ring_slots;
	uint64_t head = shm_load(&r->head);

	/* Acquire: the consumer is done with the slot we are about to reuse. */
	if (head - shm_load_acq(tail) >= slots) {
		shm_add(&r->dropped, 1);
		return -1;
	}
	memcpy(&r->rec[head & (slots - 1)], src, sizeof(*src));
	shm_store_rel(&r->head, head + 1);
	shm_add(&r->pushed, 1);
	return 0;
}

static int ring_put(struct fc_shm *shm, int slot, uint32_t kind, const struct skey *k,
    uint32_t server, uint32_t ttl_s, uint64_t now_ms)
{
	struct fc_shm_ring_rec rec = { .kind = kind, .server = server, .ttl_s = ttl_s,
	    .keylen = k->len, .when_ms = now_ms };

	memcpy(rec.key, k->w, sizeof(rec.key));
	return ring_write(shm, ring(shm, slot), &cons(shm, slot)->tail, &rec);
}

int session_push(struct fc_shm *shm, int slot, const char *key, size_t keylen,
    uint32_t server, uint32_t ttl_s, uint64_t now_ms)
{
	struct skey k;

	if (!has_ring(shm, slot))
		return -1;
	if (skey_make(&k, key, keylen) < 0) {
		shm_add(&ring(shm, slot)->rejected, 1);
		return -1;
	}
	return ring_put(shm, slot, FC_SESS_LEARN, &k, server, ttl_s, now_ms);
}

static uint64_t touch_interval(uint32_t ttl_s)
{
	uint64_t ms = (uint64_t)ttl_s * 1000 / 8;

	return ms < TOUCH_MIN_MS ? TOUCH_MIN_MS : ms > TOUCH_MAX_MS ? TOUCH_MAX_MS : ms;
}

/* Has this process touched session h within the interval?  Notes it if not. */
static bool touched_recently(uint64_t h, uint64_t now_ms, uint64_t interval)
{
	size_t i = (size_t)(h % TOUCH_CACHE);

	if (touched[i].hash == h && now_ms < touched[i].until_ms)
		return true;
	touched[i].hash = h;
	touched[i].until_ms = now_ms + interval;
	return false;
}

int session_use(struct fc_shm *shm, int slot, uint32_t backend, const char *key,
    size_t keylen, uint64_t now_ms)
{
	struct skey k;
	struct hit hit;
	uint64_t h, interval;

	if (skey_make(&k, key, keylen) < 0 ||
	    !find(shm, backend, &k, now_ms, &hit, &h))
		return -1;
	interval = touch_interval(hit.ttl_s);
	if (has_ring(shm, slot) && now_ms > hit.last_seen_ms &&
	    now_ms - hit.last_seen_ms >= interval &&
	    !touched_recently(h, now_ms, interval))
		ring_put(shm, slot, FC_SESS_TOUCH, &k, hit.server, hit.ttl_s, now_ms);
	return (int)hit.server;
}

/* ------------------------------------------------------------ the writer */

static void write_begin(struct fc_shm_session *e)
{
	shm_store(&e->seq, e->seq + 1);
	/* Readers that see any field below also see seq odd. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(struct fc_shm_session *e)
{
	shm_store_rel(&e->seq, e->seq + 1);
}

static void entry_set(struct fc_shm_session *e, uint64_t h, uint32_t backend,
    const struct fc_shm_ring_rec *r, uint64_t last_seen_ms)
{
	write_begin(e);
	shm_store(&e->hash, h);
	shm_store(&e->backend, backend);
	shm_store(&e->keylen, r->keylen);
	for (size_t i = 0; i < FC_SESSION_KEY_MAX / 8; i++)
		shm_store(&e->key[i], r->key[i]);
	shm_store(&e->server, r->server);
	shm_store(&e->ttl_s, r->ttl_s);
	shm_store(&e->last_seen_ms, last_seen_ms);
	shm_store(&e->expires_ms, last_seen_ms + (uint64_t)r->ttl_s * 1000);
	write_end(e);
}

static void entry_clear(struct fc_shm_session *e)
{
	write_begin(e);
	shm_store(&e->hash, 0);
	shm_store(&e->keylen, 0);
	shm_store(&e->expires_ms, 0);
	write_end(e);
}

/* The entry holding the record's key among the candidates, or NULL. */
static struct fc_shm_session *match(struct fc_shm *shm, uint64_t h,
    const struct fc_shm_ring_rec *r, const uint32_t *idx, uint32_t n)
{
	struct fc_shm_session *t = table(shm);

	for (uint32_t i = 0; i < n; i++) {
		struct fc_shm_session *e = &t[idx[i]];

		if (e->hash == h && e->keylen == r->keylen &&
		    memcmp(e->key, r->key, sizeof(r->key)) == 0)
			return e;
	}
	return NULL;
}

/* A free way of the emptier bucket (the first when equal), or NULL. */
static struct fc_shm_session *free_way(struct fc_shm *shm, const uint32_t *idx,
    uint32_t n, uint32_t split)
{
	struct fc_shm_session *t = table(shm), *first[2] = { NULL, NULL };
	uint32_t nfree[2] = { 0, 0 };

	for (uint32_t i = 0; i < n; i++) {
		int k = i >= split;

		if (t[idx[i]].hash == 0 && nfree[k]++ == 0)
			first[k] = &t[idx[i]];
	}
	return nfree[1] > nfree[0] ? first[1] : first[0];
}

/*
 * Where a new session goes: a free way (in the emptier bucket), else an
 * expired one, else the one seen least recently among the candidates.
 */
static struct fc_shm_session *victim(struct fc_shm *shm, const uint32_t *idx,
    uint32_t n, uint32_t split, uint64_t now_ms)
{
	struct fc_shm_session *t = table(shm), *v;
	struct fc_shm_sessions *st = &shm->hdr->sessions;

	if ((v = free_way(shm, idx, n, split)) != NULL) {
		shm_store(&st->used, st->used + 1);
		return v;
	}
	for (uint32_t i = 0; i < n; i++)
		if (t[idx[i]].expires_ms <= now_ms)
			return &t[idx[i]];
	v = &t[idx[0]];
	for (uint32_t i = 1; i < n; i++)
		if (t[idx[i]].last_seen_ms < v->last_seen_ms)
			v = &t[idx[i]];
	shm_add(&st->evicted, 1);
	return v;
}

static bool rec_valid(const struct fc_shm *shm, const struct fc_shm_ring_rec *r)
{
	return (r->kind == FC_SESS_LEARN || r->kind == FC_SESS_TOUCH) &&
	    r->keylen > 0 && r->keylen <= FC_SESSION_KEY_MAX &&
	    r->server < shm->hdr->nservers && r->ttl_s > 0;
}

/*
 * Learn: the record's server, unless the entry was learned later than the
 * record (rings are drained one after the other, not in time order).
 * Touch: a later last-seen, if the entry still names the same server.
 */
static void apply(struct fc_shm *shm, const struct fc_shm_ring_rec *r, uint64_t now_ms)
{
	uint32_t backend, idx[CANDIDATES], n, split;
	struct fc_shm_session *e;
	struct skey k;
	uint64_t h;

	if (!rec_valid(shm, r)) {
		shm_add(&shm->hdr->sessions.bad, 1);
		return;
	}
	backend = shm_server(shm, r->server)->backend_index;
	k.len = r->keylen;
	memcpy(k.w, r->key, sizeof(k.w));
	h = skey_hash(backend, &k);
	n = candidates(shm, h, idx, &split);
	if ((e = match(shm, h, r, idx, n)) != NULL) {
		if (r->when_ms < e->last_seen_ms && r->server != e->server)
			return;
		if (r->kind == FC_SESS_TOUCH && r->server != e->server)
			return;
		entry_set(e, h, backend, r, r->when_ms > e->last_seen_ms ?
		    r->when_ms : e->last_seen_ms);
	} else if (r->kind == FC_SESS_LEARN) {
		entry_set(victim(shm, idx, n, split, now_ms), h, backend, r, r->when_ms);
	} else {
		return;			/* a touch of a session gone meanwhile */
	}
	shm_add(&shm->hdr->sessions.learned, 1);
}

/*
 * Applies ring r's pending records; with forward, also passes each valid
 * one to the ha "out" ring, for the peer node (what came from the peer is
 * never sent back to it).
 */
static void drain_ring(struct fc_shm *shm, struct fc_shm_ring *r, uint64_t *tailp,
    bool forward, uint64_t now_ms)
{
	uint32_t slots = shm->hdr->sessions.ring_slots;
	uint64_t head = shm_load_acq(&r->head), tail = *tailp;
	struct fc_shm_ring_rec rec;

	if (head - tail > slots) {
		/* Only a scribbled head does that: skip to it. */
		shm_add(&shm->hdr->sessions.bad, head - tail);
		shm_store_rel(tailp, head);
		return;
	}
	for (; tail != head; tail++) {
		memcpy(&rec, &r->rec[tail & (slots - 1)], sizeof(rec));
		apply(shm, &rec, now_ms);
		if (forward && rec_valid(shm, &rec))
			(void)ring_write(shm, ha_ring(shm, HA_OUT),
			    &shm->hdr->ha_rings.out_tail, &rec);
	}
	/* Release: our reads of the records are done before the slots are reused. */
	shm_store_rel(tailp, tail);
}

void session_drain(struct fc_shm *shm, uint64_t now_ms)
{
	bool ha = has_ha_rings(shm);

	if (shm->hdr->nsessions == 0)
		return;
	for (uint32_t k = 0; k < shm->hdr->nworkers; k++)
		drain_ring(shm, ring(shm, (int)k), &cons(shm, (int)k)->tail, ha, now_ms);
	if (ha)
		drain_ring(shm, ha_ring(shm, HA_IN), &shm->hdr->ha_rings.in_tail, false,
		    now_ms);
}

uint32_t session_expire(struct fc_shm *shm, uint64_t now_ms, uint32_t budget)
{
	struct fc_shm_sessions *st = &shm->hdr->sessions;
	struct fc_shm_session *t = table(shm);
	uint32_t n = shm->hdr->nsessions, i = st->sweep, freed = 0;

	if (n == 0)
		return 0;
	if (budget == 0 || budget > n)
		budget = n;
	for (; budget > 0; budget--, i++) {
		if (i >= n)
			i = 0;
		if (t[i].hash != 0 && t[i].expires_ms <= now_ms) {
			entry_clear(&t[i]);
			freed++;
		}
	}
	shm_store(&st->sweep, i);
	shm_store(&st->used, st->used - freed);
	shm_add(&st->expired, freed);
	return freed;
}

void session_recover(struct fc_shm *shm)
{
	struct fc_shm_session *t = table(shm);
	uint32_t used = 0;

	for (uint32_t i = 0; i < shm->hdr->nsessions; i++) {
		if (t[i].seq & 1) {
			/* Half-written by a checker that died: drop it. */
			shm_store(&t[i].hash, 0);
			shm_store(&t[i].keylen, 0);
			shm_store_rel(&t[i].seq, t[i].seq + 1);
		}
		used += t[i].hash != 0;
	}
	shm_store(&shm->hdr->sessions.used, used);
}

/* A copy of entry e as a "learn" record, or false if it is not live. */
static bool entry_to_rec(const struct fc_shm_session *e, uint64_t now_ms,
    struct fc_shm_ring_rec *r)
{
	uint32_t seq = shm_load_acq(&e->seq);

	if ((seq & 1) || e->hash == 0 || e->expires_ms <= now_ms ||
	    e->keylen == 0 || e->keylen > FC_SESSION_KEY_MAX)
		return false;
	memset(r, 0, sizeof(*r));
	r->kind = FC_SESS_LEARN;
	r->server = e->server;
	r->ttl_s = e->ttl_s;
	r->keylen = e->keylen;
	r->when_ms = e->last_seen_ms;
	memcpy(r->key, e->key, sizeof(r->key));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return shm_load(&e->seq) == seq;
}

void session_import(struct fc_shm *dst, const struct fc_shm *src, const uint32_t *map,
    uint64_t now_ms)
{
	const struct fc_shm_session *t;
	struct fc_shm_ring_rec r;

	if (dst->hdr->nsessions == 0 || src->hdr->nsessions == 0)
		return;
	t = table(src);
	for (uint32_t i = 0; i < src->hdr->nsessions; i++) {
		if (!entry_to_rec(&t[i], now_ms, &r) || r.server >= src->hdr->nservers ||
		    map[r.server] == UINT32_MAX)
			continue;
		r.server = map[r.server];
		apply(dst, &r, now_ms);
	}
}

uint32_t session_count(const struct fc_shm *shm)
{
	return shm_load(&shm->hdr->sessions.used);
}

uint64_t session_dropped(const struct fc_shm *shm)
{
	uint64_t n = 0;

	if (shm->hdr->nsessions == 0)
		return 0;
	for (uint32_t k = 0; k < shm->hdr->nworkers; k++)
		n += shm_load(&ring(shm, (int)k)->dropped);
	return n;
}

/* ------------------------------------------------ the ha process's rings */

int session_ha_push(struct fc_shm *shm, const struct fc_shm_ring_rec *rec)
{
	if (!has_ha_rings(shm))
		return -1;
	return ring_write(shm, ha_ring(shm, HA_IN), &shm->hdr->ha_rings.in_tail, rec);
}

int session_ha_next(struct fc_shm *shm, struct fc_shm_ring_rec *rec)
{
	struct fc_shm_ring *r;
	uint64_t head, tail;

	if (!has_ha_rings(shm))
		return 0;
	r = ha_ring(shm, HA_OUT);
	head = shm_load_acq(&r->head);
	tail = shm->hdr->ha_rings.out_tail;
	if (tail == head)
		return 0;
	memcpy(rec, &r->rec[tail & (shm->hdr->sessions.ring_slots - 1)], sizeof(*rec));
	shm_store_rel(&shm->hdr->ha_rings.out_tail, tail + 1);
	return 1;
}

void session_ha_skip(struct fc_shm *shm)
{
	if (has_ha_rings(shm))
		shm_store_rel(&shm->hdr->ha_rings.out_tail,
		    shm_load_acq(&ha_ring(shm, HA_OUT)->head));
}

uint32_t session_scan(const struct fc_shm *shm, uint32_t *cursor,
    struct fc_shm_ring_rec *rec, uint32_t n, uint64_t now_ms)
{
	const struct fc_shm_session *t = table(shm);
	uint32_t got = 0;

	while (got < n && *cursor < shm->hdr->nsessions) {
		/* A torn read is retried once, then skipped: the entry is being
		 * rewritten, and the ring will carry its new content. */
		if (entry_to_rec(&t[*cursor], now_ms, &rec[got]) ||
		    entry_to_rec(&t[*cursor], now_ms, &rec[got]))
			got++;
		(*cursor)++;
	}
	return got;
}
