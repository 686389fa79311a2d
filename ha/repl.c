/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Session replication over the sync channels (repl.h, issues 18.2, 21.2).
 *
 * Out: the checker passes every session record it applies from a worker
 * to the ha "out" ring (shm/session.c); a timer every sync.interval_ms
 * sends each to every up peer as SESSION frames.  When a peer's channel
 * comes up, the whole table follows to it, a slice per tick.  In: a
 * SESSION frame from a peer becomes a record in the ha "in" ring, which
 * the checker, the table's single writer, applies like a worker's -- but
 * never passes to "out": in a full mesh each node sends what its own
 * workers learned, so nothing goes round in circles.
 *
 * A full copy is the whole table, the entries learned from other peers
 * included: a node that comes back while another is down still gets that
 * one's sessions, and the copies cannot loop (they are sent on connection
 * only, and what arrives is not forwarded).  Records carry their age and
 * the checker keeps the newer of two records for one session, so a copy
 * never takes a session back to an older server.
 *
 * A delta leaves the ring once every up peer has taken it.  A peer whose
 * channel has had no room for STUCK_MS holds the others back no longer:
 * it misses the deltas meanwhile and gets a full copy again instead.
 *
 * A peer's checker drains its rings every 100 ms into a ring of
 * FC_SESSION_RING_SLOTS records, and in a mesh every other node may be
 * copying to it at once: each channel's copy is paced at COPY_PER_MS
 * shared by the peers, or the far end would drop what it cannot hold.
 * Servers are named, not numbered: the nodes' configs may list them in
 * another order.  Times travel as ages: the hosts' monotonic clocks do
 * not compare.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "lib/log.h"
#include "ha/repl.h"
#include "ha/sync.h"
#include "ha/syncwire.h"
#include "shm/session.h"

#define COPY_PER_MS	5	/* full copies into one node: records per ms, ~half its drain rate */
#define STUCK_MS	1000	/* a peer with no room for this long gets a new copy instead */

struct peer_rp {
	bool up, copying;
	uint32_t cursor;		/* full copy: next table entry */
	struct fc_shm_ring_rec copy_rec;	/* the copy's record that did not fit yet */
	bool has_copy_rec;
	uint64_t copied;
};

static struct {
	struct fc_shm *shm;
	struct fc_ev *ev;
	struct fc_ev_timer pump;
	uint64_t period_ms;
	int n;
	struct peer_rp peer[FC_SYNC_MAX_PEERS];
	struct fc_shm_ring_rec pending;	/* a delta not every up peer took yet */
	uint32_t pending_mask;		/* the peers that still need it */
	uint64_t pending_ms;		/* when it was taken from the ring */
	bool has_pending;
	uint64_t unknown;
} rp;

/* Sends rec to peer; -1: no room now. */
static int send_rec(int peer, const struct fc_shm_ring_rec *rec, uint64_t now_ms)
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
	return sync_send(peer, SYNC_SESSION, body, len);
}

/* A delta to peer, after the copy's record it holds back: -1, no room. */
static int send_delta(int peer, const struct fc_shm_ring_rec *rec, uint64_t now_ms)
{
	struct peer_rp *p = &rp.peer[peer];

	if (p->has_copy_rec) {
		if (send_rec(peer, &p->copy_rec, now_ms) < 0)
			return -1;
		p->has_copy_rec = false;
		p->copied++;
	}
	return send_rec(peer, rec, now_ms);
}

static uint32_t up_mask(void)
{
	uint32_t m = 0;

	for (int i = 0; i < rp.n; i++)
		if (rp.peer[i].up)
			m |= 1u << i;
	return m;
}

static void copy_start(int peer)
{
	struct peer_rp *p = &rp.peer[peer];

	p->copying = rp.shm->hdr->nsessions > 0;
	p->has_copy_rec = false;
	p->cursor = 0;
	p->copied = 0;
}

/* The peers of mask have had no room for STUCK_MS: a new copy each. */
static void unstick(uint32_t mask)
{
	struct sync_peer_info info;
	char addr[INET_ADDRSTRLEN];

	for (int i = 0; i < rp.n; i++) {
		if (!(mask & (1u << i)))
			continue;
		sync_peer_info(i, &info);
		inet_ntop(AF_INET, &info.addr, addr, sizeof(addr));
		log_warnx("sync: %s takes no sessions for %d ms: a full copy follows instead",
		    addr, STUCK_MS);
		copy_start(i);
	}
}

/* The deltas first: each is newer than what the copy may carry of it. */
static bool pump_deltas(uint64_t now_ms)
{
	for (;;) {
		if (!rp.has_pending) {
			if (session_ha_next(rp.shm, &rp.pending) != 1)
				return true;
			rp.has_pending = true;
			rp.pending_mask = up_mask();
			rp.pending_ms = now_ms;
		}
		for (int i = 0; i < rp.n; i++)
			if ((rp.pending_mask & (1u << i)) &&
			    send_delta(i, &rp.pending, now_ms) == 0)
				rp.pending_mask &= ~(1u << i);
		rp.pending_mask &= up_mask();
		if (rp.pending_mask != 0 && now_ms - rp.pending_ms < STUCK_MS)
			return false;
		unstick(rp.pending_mask);
		rp.has_pending = false;
	}
}

static void copy_done(int peer)
{
	struct sync_peer_info info;
	char addr[INET_ADDRSTRLEN];

	rp.peer[peer].copying = false;
	sync_peer_info(peer, &info);
	inet_ntop(AF_INET, &info.addr, addr, sizeof(addr));
	log_info("sync: full session table sent (%llu sessions) to %s",
	    (unsigned long long)rp.peer[peer].copied, addr);
}

static void pump_copy(int peer, uint64_t now_ms)
{
	struct peer_rp *p = &rp.peer[peer];
	uint64_t budget = COPY_PER_MS * rp.period_ms / (uint64_t)rp.n;
	struct fc_shm_ring_rec rec;

	if (p->has_copy_rec) {
		if (send_rec(peer, &p->copy_rec, now_ms) < 0)
			return;
		p->has_copy_rec = false;
		p->copied++;
	}
	for (budget = budget > 0 ? budget : 1; p->copying && budget > 0;) {
		if (p->cursor >= rp.shm->hdr->nsessions) {
			copy_done(peer);
			return;
		}
		if (session_scan(rp.shm, &p->cursor, &rec, 1, now_ms) == 0)
			continue;
		if (send_rec(peer, &rec, now_ms) < 0) {
			p->copy_rec = rec;	/* sent before any later delta */
			p->has_copy_rec = true;
			return;
		}
		p->copied++;
		budget--;
	}
}

static void pump_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	uint64_t now = ev_now(ev);

	if (up_mask() == 0) {
		session_ha_skip(rp.shm);	/* the copy at the next connection has them */
		rp.has_pending = false;
	} else if (pump_deltas(now)) {
		for (int i = 0; i < rp.n; i++)
			if (rp.peer[i].up && rp.peer[i].copying)
				pump_copy(i, now);
	}
	ev_timer_arm(ev, t, now + rp.period_ms);
}

void repl_open(struct fc_ev *ev, struct fc_shm *shm, int interval_ms, int npeers)
{
	rp.ev = ev;
	rp.shm = shm;
	rp.n = npeers < FC_SYNC_MAX_PEERS ? npeers : FC_SYNC_MAX_PEERS;
	rp.period_ms = interval_ms > 0 ? (uint64_t)interval_ms : 1;
	rp.pump.cb = pump_cb;
	if (shm->hdr->nsessions > 0 && rp.n > 0)
		ev_timer_arm(ev, &rp.pump, ev_now(ev) + rp.period_ms);
}

void repl_set_shm(struct fc_shm *shm)
{
	rp.shm = shm;
	rp.has_pending = false;
	for (int i = 0; i < rp.n; i++)
		if (rp.peer[i].up)
			copy_start(i);
}

void repl_up(int peer)
{
	/* What the ring holds is in the table too: with no other peer to
	 * serve, the copy alone carries it. */
	if (up_mask() == 0) {
		session_ha_skip(rp.shm);
		rp.has_pending = false;
	}
	rp.peer[peer].up = true;
	copy_start(peer);
}

void repl_down(int peer)
{
	rp.peer[peer].up = false;
	rp.peer[peer].copying = false;
	rp.peer[peer].has_copy_rec = false;
	rp.pending_mask &= ~(1u << peer);
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

void repl_got(int peer, const uint8_t *body, size_t len)
{
	struct fc_shm_ring_rec rec = { 0 };
	struct sync_session s;
	uint64_t now = ev_now(rp.ev);
	int srv;

	(void)peer;
	if (sync_session_decode(body, len, &s) < 0 ||
	    (s.kind != FC_SESS_LEARN && s.kind != FC_SESS_TOUCH)) {
		log_warnx("sync: malformed session record from a peer");
		return;
	}
	if ((srv = find_server(&s)) < 0) {
		/* Once per life: the configs differ, every record would say it. */
		if (rp.unknown++ == 0)
			log_warnx("sync: a peer's server %.*s/%.*s is not in this config:"
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
