/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Session replication over the sync channel (repl.h, issue 18.2).
 *
 * Out: the checker passes every session record it applies from a worker
 * to the ha "out" ring (shm/session.c); a timer every sync.interval_ms
 * sends them to the peer as SESSION frames.  When the channel comes up,
 * the whole table follows, a slice per tick.  In: a SESSION frame from
 * the peer becomes a record in the ha "in" ring, which the checker, the
 * table's single writer, applies like a worker's.
 *
 * The peer's checker drains its rings every 100 ms into a ring of
 * FC_SESSION_RING_SLOTS records: the full copy is paced below that
 * (COPY_PER_MS), or the far end would drop what it cannot hold.
 * Servers are named, not numbered: the nodes' configs may list them in
 * another order.  Times travel as ages: the two hosts' monotonic clocks do
 * not compare.
 */
#include "config.h"

#include <string.h>

#include "lib/log.h"
#include "ha/repl.h"
#include "ha/sync.h"
#include "ha/syncwire.h"
#include "shm/session.h"

#define COPY_PER_MS	5	/* full copy: records per ms, ~half the peer's drain rate */

static struct {
	struct fc_shm *shm;
	struct fc_ev *ev;
	struct fc_ev_timer pump;
	uint64_t period_ms;
	bool up, copying;
	uint32_t cursor;		/* full copy: next table entry */
	struct fc_shm_ring_rec pending;	/* did not fit in the channel yet */
	bool has_pending;
	uint64_t copied, unknown;
} rp;

/* Sends rec to the peer; -1: no room now. */
static int send_rec(const struct fc_shm_ring_rec *rec, uint64_t now_ms)
{
	const struct fc_shm_server *srv;
	struct sync_session s = { .kind = (uint8_t)rec->kind, .ttl_s = rec->ttl_s,
	    .key = (const uint8_t *)rec->key, .keylen = rec->keylen };
	uint8_t body[SYNC_BODY_MAX];
	size_t len;

	if (rec->server >= rp.shm->hdr->nservers)
		return 0;
	srv = shm_server(rp.shm, rec->server);
	s.backend = srv->backend;
	s.backend_len = strnlen(srv->backend, sizeof(srv->backend));
	s.server = srv->name;
	s.server_len = strnlen(srv->name, sizeof(srv->name));
	s.age_ms = now_ms > rec->when_ms ? (uint32_t)(now_ms - rec->when_ms) : 0;
	if ((len = sync_session_encode(&s, body)) == 0)
		return 0;		/* names too long for the wire: not replicated */
	return sync_send(SYNC_SESSION, body, len);
}

/* The deltas first: each is newer than what the copy may carry of it. */
static bool pump_deltas(uint64_t now_ms)
{
	while (rp.has_pending || session_ha_next(rp.shm, &rp.pending) == 1) {
		rp.has_pending = true;
		if (send_rec(&rp.pending, now_ms) < 0)
			return false;
		rp.has_pending = false;
	}
	return true;
}

static void pump_copy(uint64_t now_ms)
{
	uint64_t budget = COPY_PER_MS * rp.period_ms;
	struct fc_shm_ring_rec rec;

	while (rp.copying && budget > 0) {
		if (rp.cursor >= rp.shm->hdr->nsessions) {
			rp.copying = false;
			log_info("sync: full session table sent (%llu sessions)",
			    (unsigned long long)rp.copied);
			return;
		}
		if (session_scan(rp.shm, &rp.cursor, &rec, 1, now_ms) == 0)
			continue;
		if (send_rec(&rec, now_ms) < 0) {
			rp.pending = rec;	/* sent before any later delta */
			rp.has_pending = true;
			return;
		}
		rp.copied++;
		budget--;
	}
}

static void pump_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	uint64_t now = ev_now(ev);

	if (!rp.up)
		session_ha_skip(rp.shm);	/* the copy at the next connection has them */
	else if (pump_deltas(now))
		pump_copy(now);
	ev_timer_arm(ev, t, now + rp.period_ms);
}

void repl_open(struct fc_ev *ev, struct fc_shm *shm, int interval_ms)
{
	rp.ev = ev;
	rp.shm = shm;
	rp.period_ms = interval_ms > 0 ? (uint64_t)interval_ms : 1;
	rp.pump.cb = pump_cb;
	if (shm->hdr->nsessions > 0)
		ev_timer_arm(ev, &rp.pump, ev_now(ev) + rp.period_ms);
}

void repl_set_shm(struct fc_shm *shm)
{
	rp.shm = shm;
	rp.has_pending = false;
	if (rp.up)
		repl_up();
}

void repl_up(void)
{
	rp.up = true;
	/* What the ring holds is in the table too: the copy carries it. */
	session_ha_skip(rp.shm);
	rp.has_pending = false;
	rp.copying = rp.shm->hdr->nsessions > 0;
	rp.cursor = 0;
	rp.copied = 0;
}

void repl_down(void)
{
	rp.up = false;
	rp.copying = false;
	rp.has_pending = false;
}

/* The local index of the peer's backend/server, or -1. */
static int find_server(const struct sync_session *s)
{
	for (uint32_t i = 0; i < rp.shm->hdr->nservers; i++) {
		const struct fc_shm_server *srv = shm_server(rp.shm, i);

		if (strnlen(srv->backend, sizeof(srv->backend)) == s->backend_len &&
		    strnlen(srv->name, sizeof(srv->name)) == s->server_len &&
		    memcmp(srv->backend, s->backend, s->backend_len) == 0 &&
		    memcmp(srv->name, s->server, s->server_len) == 0)
			return (int)i;
	}
	return -1;
}

void repl_got(const uint8_t *body, size_t len)
{
	struct fc_shm_ring_rec rec = { 0 };
	struct sync_session s;
	uint64_t now = ev_now(rp.ev);
	int srv;

	if (sync_session_decode(body, len, &s) < 0 ||
	    (s.kind != FC_SESS_LEARN && s.kind != FC_SESS_TOUCH)) {
		log_warnx("sync: malformed session record from the peer");
		return;
	}
	if ((srv = find_server(&s)) < 0) {
		/* Once per life: the configs differ, every record would say it. */
		if (rp.unknown++ == 0)
			log_warnx("sync: the peer's server %.*s/%.*s is not in this config:"
			    " its sessions are not learned here", (int)s.backend_len,
			    s.backend, (int)s.server_len, s.server);
		return;
	}
	rec.kind = s.kind;
	rec.server = (uint32_t)srv;
	rec.ttl_s = s.ttl_s;
	rec.keylen = (uint32_t)s.keylen;
	rec.when_ms = now > s.age_ms ? now - s.age_ms : 0;
	memcpy(rec.key, s.key, s.keylen);
	(void)session_ha_push(rp.shm, &rec);	/* full: counted in the ring's dropped */
}
