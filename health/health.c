/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The health checker process (health.h), after relayd's hce.c: one timer
 * per checked server launches a non-blocking probe (probe.c) every
 * `interval` ms, the first ones spread over the interval so that they do
 * not all fire at once.  Every result, good or bad, funnels through
 * check_done(), which publishes it in the shared segment, applies rise and
 * fall, and logs only state changes.
 *
 * This process is the single writer of the server table.  A checker
 * respawned after a crash starts from the state and consecutive-result
 * count it finds there, so its restart never makes a server flap.
 *
 * A server with `slowstart` that comes UP gets its weight back step by
 * step: the effective weight (eweight, what workers balance with) grows
 * from 1 to its weight over slowstart ms, raised every SLOWSTART_MS.
 *
 * The operator's requests (fulcrumctl, through the control page, shm/ctl.h)
 * are applied here too, so that server state keeps one writer: a server's
 * published state is its health (UP, DOWN) unless the operator put it in
 * MAINT (checks paused) or DRAIN (UP for persistent clients only).
 *
 * After a reload, the new generation's checker alone probes: this one,
 * finding the segment's name taken by a newer generation before a probe,
 * stops probing and copies that generation's verdicts into its own
 * segment (shm_follow_health()) for the old workers while they drain.
 *
 * It also writes the learned-session table (shm/session.c): every
 * SESSION_MS it applies what the workers pushed into their rings and frees
 * a slice of the expired entries, the whole table every SWEEP_ROUNDS.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/ev.h"
#include "lib/log.h"
#include "health/health.h"
#include "health/probe.h"
#include "shm/ctl.h"
#include "shm/session.h"

#define HEARTBEAT_MS	250	/* the master expects one at least every 500 ms */
#define SESSION_MS	100	/* rings drained: a learned session's delay */
#define SWEEP_ROUNDS	50	/* the expiry sweep covers the table in 5 s */
#define SWEEP_MIN	4096	/* entries looked at per pass, at least */
#define SLOWSTART_MS	100	/* eweight steps of a server in slow start */
#define FOLLOW_MS	50	/* a retired checker copies the new verdicts */

/* A checked server: its probe, its schedule, and what rise/fall needs. */
struct hc_server {
	struct probe probe;		/* first: the probe's callbacks cast back */
	struct fc_ev_timer next;	/* starts the next probe */
	const struct fc_backend *b;
	const struct fc_server *srv;
	struct fc_shm_server *sv;
	char *req;			/* the HTTP request; NULL: TCP check */
	uint64_t started;		/* ev time the last probe started */
	uint32_t state;			/* its health: FC_SRV_UP or FC_SRV_DOWN */
	uint32_t count;			/* consecutive results like the last */
	bool last_ok;			/* the last result (when count > 0) */
};

#define SERVER_OF_TIMER(t) \
	((struct hc_server *)((char *)(t) - offsetof(struct hc_server, next)))

static struct {
	struct fc_shm *shm;
	struct fc_ev *ev;
	struct hc_server *servers;
	int nservers;
	struct fc_ev_signals sigs;
	struct fc_ev_timer heartbeat;
	struct fc_ev_timer sessions;
	struct fc_ev_timer slowstart;
	struct fc_ev_timer ctl_timer;
	const struct fc_ctl *ctl;
	bool stopping;
	struct fc_shm cur;		/* retired: the newer generation's segment */
	uint32_t *follow_map;		/* retired: our servers' indexes in cur */
	struct fc_ev_timer follow;
} hc;

/* ------------------------------------------------------------ publishing */

/*
 * Copies s into the shared check_desc byte by byte, with relaxed atomic
 * stores, padding with NULs: a reader racing us may see a mix of the old
 * and new text, but always NUL-terminated (the last byte is never written).
 */
static void publish_desc(struct fc_shm_server *sv, const char *s)
{
	size_t i, n = strnlen(s, sizeof(sv->check_desc) - 1);

	for (i = 0; i < sizeof(sv->check_desc) - 1; i++)
		shm_store(&sv->check_desc[i], i < n ? s[i] : '\0');
}

/* The text first, then the figures: a reader sees the figures last. */
static void publish_result(struct hc_server *hs, const struct probe_result *r,
    bool ok)
{
	struct fc_shm_server *sv = hs->sv;

	publish_desc(sv, r->desc);
	shm_store(&sv->check_result, (uint32_t)r->result);
	shm_store(&sv->check_code, (int32_t)r->code);
	shm_store(&sv->check_duration_ms, r->duration_ms);
	shm_store(&sv->check_count, hs->count);
	shm_store(&sv->last_check_us, clock_wall_us());
	shm_add(&sv->checks, 1);
	if (!ok)
		shm_add(&sv->check_failures, 1);
}

/* The weight a server in slow start has now, at least 1 (0: weight 0). */
static uint32_t ramp_weight(const struct fc_shm_server *sv, uint64_t now_ms)
{
	uint64_t elapsed = now_ms - shm_load(&sv->up_since_ms), w = sv->weight;

	if (sv->slowstart_ms == 0 || elapsed >= sv->slowstart_ms)
		return sv->weight;
	w = w * elapsed / sv->slowstart_ms;
	return w > 0 ? (uint32_t)w : sv->weight > 0;
}

/*
 * Publishes a server's health: the verdict itself, and what workers see,
 * which is the verdict unless the operator says otherwise.
 */
static void store_state(struct fc_shm_server *sv, uint32_t health)
{
	uint32_t state = shm_shown_state(health, shm_load(&sv->admin));

	if (health == FC_SRV_UP || health == FC_SRV_DOWN)
		shm_store(&sv->health, health);

	if (state == shm_load(&sv->state))
		return;
	shm_store(&sv->last_change_us, clock_wall_us());
	/* Release: a worker that sees the new state sees the result behind it. */
	shm_store_rel(&sv->state, state);
}

static void publish_state(struct hc_server *hs, uint32_t state)
{
	uint64_t now = clock_mono_ms();

	hs->state = state;
	if (state == FC_SRV_UP) {
		shm_store(&hs->sv->up_since_ms, now);
		shm_store(&hs->sv->eweight, ramp_weight(hs->sv, now));
	}
	store_state(hs->sv, state);
}

/* ------------------------------------------------------------- checking */

/*
 * rise/fall: an UP server goes DOWN after `fall` failures in a row, a DOWN
 * one comes back after `rise` successes in a row.  Returns the new state,
 * or the current one when nothing changes.  MAINT is the operator's.
 */
static uint32_t next_state(const struct hc_server *hs, bool ok)
{
	const struct fc_check *c = &hs->b->check;

	if (hs->state == FC_SRV_UP && !ok && hs->count >= (uint32_t)c->fall)
		return FC_SRV_DOWN;
	if (hs->state == FC_SRV_DOWN && ok && hs->count >= (uint32_t)c->rise)
		return FC_SRV_UP;
	return hs->state;
}

static void log_change(const struct hc_server *hs, const struct probe_result *r)
{
	const struct fc_check *c = &hs->b->check;
	bool up = hs->state == FC_SRV_UP;
	uint32_t need = (uint32_t)(up ? c->rise : c->fall);

	/* A respawn or a reload can leave count past the threshold. */
	log_notice("server %s/%s is %s: %s, %u/%u %s", hs->b->name, hs->srv->name,
	    up ? "UP" : "DOWN", r->desc, hs->count < need ? hs->count : need, need,
	    up ? "succeeded" : "failed");
}

static void schedule(struct hc_server *hs, uint64_t when)
{
	ev_timer_arm(hc.ev, &hs->next, when);
}

/* Every probe ends here, exactly once. */
static void check_done(struct probe *p, const struct probe_result *r)
{
	struct hc_server *hs = (struct hc_server *)p;
	bool ok = r->result >= FC_CHK_PASSED;
	uint64_t due = hs->started + (uint64_t)hs->b->check.interval;
	uint32_t state;

	if (hs->count == 0 || ok != hs->last_ok)
		hs->count = 1;
	else if (hs->count < UINT32_MAX)
		hs->count++;
	hs->last_ok = ok;
	publish_result(hs, r, ok);
	if ((state = next_state(hs, ok)) != hs->state) {
		publish_state(hs, state);
		log_change(hs, r);
	}
	/* Every interval; at once after a check that outlasted it. */
	schedule(hs, due > ev_now(hc.ev) ? due : ev_now(hc.ev));
}

static void follow_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	shm_follow_health(hc.shm, &hc.cur, hc.follow_map);
	ev_timer_arm(ev, t, ev_now(ev) + FOLLOW_MS);
}

/* Probes and slow start are the new checker's now. */
static void follow_start(void)
{
	for (int i = 0; i < hc.nservers; i++) {
		ev_timer_stop(hc.ev, &hc.servers[i].next);
		probe_cancel(hc.ev, &hc.servers[i].probe);
	}
	ev_timer_stop(hc.ev, &hc.slowstart);
	hc.follow_map = shm_server_map(&hc.cur, hc.shm);
	hc.follow.cb = follow_cb;
	follow_cb(hc.ev, &hc.follow);
	log_info("generation %u checks the servers now: following its verdicts",
	    (unsigned int)shm_load(&hc.cur.hdr->generation));
}

/*
 * Has a newer generation of this instance taken the segment's name?  Asked
 * before each probe, so that the two checkers never both probe.
 */
static bool retired(void)
{
	char err[256];

	if (hc.follow_map != NULL)
		return true;
	if (shm_name_is_ours(hc.shm))
		return false;
	if (shm_attach_ro(&hc.cur, hc.shm->name, err, sizeof(err)) < 0)
		return false;		/* no segment there: keep checking */
	if (shm_load(&hc.cur.hdr->master_pid) != shm_load(&hc.shm->hdr->master_pid) ||
	    shm_load(&hc.cur.hdr->generation) <= shm_load(&hc.shm->hdr->generation)) {
		shm_detach(&hc.cur);
		return false;
	}
	follow_start();
	return true;
}

static void launch(struct fc_ev *ev, struct fc_ev_timer *t)
{
	struct hc_server *hs = SERVER_OF_TIMER(t);

	if (retired())
		return;
	if (shm_load(&hs->sv->admin) == FC_ADMIN_MAINT) {	/* checks paused */
		schedule(hs, ev_now(ev) + (uint64_t)hs->b->check.interval);
		return;
	}
	hs->started = ev_now(ev);
	probe_start(ev, &hs->probe);
}

/* ------------------------------------------------------------- set-up */

/* Takes over the server's state as the previous checker left it. */
static void server_init(struct hc_server *hs, const struct fc_backend *b,
    int s, struct fc_shm_server *sv)
{
	hs->b = b;
	hs->srv = &b->servers[s];
	hs->sv = sv;
	/* Its health, under what the operator may have put over it: the
	 * verdict as published, else (a segment that has none) the state. */
	hs->state = shm_load(&sv->health);
	if (hs->state != FC_SRV_UP && hs->state != FC_SRV_DOWN)
		hs->state = shm_load(&sv->state) == FC_SRV_DOWN ? FC_SRV_DOWN : FC_SRV_UP;
	hs->last_ok = shm_load(&sv->check_result) >= FC_CHK_PASSED;
	hs->count = shm_load(&sv->check_result) == FC_CHK_NONE ? 0 :
	    shm_load(&sv->check_count);
	hs->req = probe_request(&b->check, hs->srv->addr_text, &hs->probe.reqlen);
	hs->probe.io.fd = -1;
	hs->probe.check = &b->check;
	hs->probe.addr = &hs->srv->addr;
	hs->probe.tls = &hs->srv->tls;
	hs->probe.send_proxy = hs->srv->send_proxy;
	hs->probe.req = hs->req;
	hs->probe.done = check_done;
	hs->next.cb = launch;
}

static int count_checked(const struct fc_conf *conf)
{
	int n = 0;

	for (int b = 0; b < conf->nbackends; b++)
		for (int s = 0; s < conf->backends[b].nservers; s++)
			n += conf->backends[b].servers[s].check;
	return n;
}

/*
 * Checked server k of n (over every backend) first starts at k / n of its
 * interval, so that the probes never all fire at once.
 */
static void servers_init(const struct fc_conf *conf)
{
	uint64_t n = (uint64_t)count_checked(conf);

	hc.servers = xcalloc(n > 0 ? n : 1, sizeof(*hc.servers));
	for (int b = 0; b < conf->nbackends; b++) {
		const struct fc_backend *be = &conf->backends[b];

		for (int s = 0; s < be->nservers; s++) {
			struct hc_server *hs = &hc.servers[hc.nservers];
			uint64_t k = (uint64_t)hc.nservers;

			if (!be->servers[s].check)
				continue;
			server_init(hs, be, s,
			    shm_server(hc.shm, shm_server_index(conf, b, s)));
			schedule(hs, ev_now(hc.ev) + k * (uint64_t)be->check.interval / n);
			hc.nservers++;
		}
	}
}

static void servers_free(void)
{
	for (int i = 0; i < hc.nservers; i++) {
		ev_timer_stop(hc.ev, &hc.servers[i].next);
		probe_cancel(hc.ev, &hc.servers[i].probe);
		free(hc.servers[i].req);
	}
	free(hc.servers);
	hc.servers = NULL;
	hc.nservers = 0;
}

static void heartbeat_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	shm_store(&hc.shm->hdr->checker_heartbeat_ms, clock_mono_ms());
	ev_timer_arm(ev, t, ev_now(ev) + HEARTBEAT_MS);
}

static void sessions_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	uint32_t budget = hc.shm->hdr->nsessions / SWEEP_ROUNDS;

	session_drain(hc.shm, ev_now(ev));
	session_expire(hc.shm, ev_now(ev), budget > SWEEP_MIN ? budget : SWEEP_MIN);
	ev_timer_arm(ev, t, ev_now(ev) + SESSION_MS);
}

/* Raises the eweight of the servers in slow start (checked ones only:
 * only a check brings a server UP). */
static void slowstart_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	uint64_t now = clock_mono_ms();

	for (int i = 0; i < hc.nservers; i++) {
		struct fc_shm_server *sv = hc.servers[i].sv;

		if (hc.servers[i].state == FC_SRV_UP && sv->slowstart_ms > 0 &&
		    shm_load(&sv->eweight) != sv->weight)
			shm_store(&sv->eweight, ramp_weight(sv, now));
	}
	ev_timer_arm(ev, t, ev_now(ev) + SLOWSTART_MS);
}

/* ------------------------------------------------------------ fulcrumctl */

static const char *const admin_names[] = { "ready", "drain", "maint" };

static struct hc_server *checked_server(const struct fc_shm_server *sv)
{
	for (int i = 0; i < hc.nservers; i++)
		if (hc.servers[i].sv == sv)
			return &hc.servers[i];
	return NULL;
}

static struct fc_shm_server *find_server(const char *backend, const char *server)
{
	for (uint32_t i = 0; i < hc.shm->hdr->nservers; i++) {
		struct fc_shm_server *sv = shm_server(hc.shm, i);

		if (strcmp(sv->backend, backend) == 0 && strcmp(sv->name, server) == 0)
			return sv;
	}
	return NULL;
}

static void set_admin(struct fc_shm_server *sv, uint32_t admin)
{
	const struct hc_server *hs = checked_server(sv);

	shm_store(&sv->admin, admin);
	store_state(sv, hs != NULL ? hs->state : FC_SRV_UP);
}

static void set_weight(struct fc_shm_server *sv, int weight)
{
	shm_store(&sv->weight, (uint32_t)weight);
	shm_store(&sv->weight_set, 1);
	shm_store(&sv->eweight, ramp_weight(sv, clock_mono_ms()));
}

/* One request of fulcrumctl: applied, answered and logged. */
static void ctl_apply(struct fc_ctl_page *p)
{
	struct fc_shm_server *sv = find_server(p->backend, p->server);
	char msg[200];
	uint32_t was;

	if (sv == NULL) {
		snprintf(msg, sizeof(msg), "no server %s/%s", p->backend, p->server);
		ctl_answer(p, ENOENT, msg);
		return;
	}
	was = shm_load(&sv->admin);
	if (p->op == FC_CTL_WEIGHT && p->value >= 0 && p->value <= 256) {
		snprintf(msg, sizeof(msg), "server %s/%s: weight %d (was %u)", p->backend,
		    p->server, p->value, shm_load(&sv->weight));
		set_weight(sv, p->value);
	} else if (p->op >= FC_CTL_READY && p->op <= FC_CTL_MAINT) {
		snprintf(msg, sizeof(msg), "server %s/%s: %s (was %s)", p->backend, p->server,
		    admin_names[p->op - FC_CTL_READY], admin_names[was < 3 ? was : 0]);
		set_admin(sv, p->op - FC_CTL_READY);
	} else {
		ctl_answer(p, EINVAL, "unknown request");
		return;
	}
	log_notice("%s, by fulcrumctl", msg);
	ctl_answer(p, 0, msg);
}

static void ctl_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	struct fc_ctl_page *p = ctl_pending(hc.ctl, shm_load(&hc.shm->hdr->generation));

	if (p != NULL)
		ctl_apply(p);
	ev_timer_arm(ev, t, ev_now(ev) + FC_CTL_POLL_MS);
}

/* A new generation's segment: what the operator set shows at once. */
static void publish_admin(void)
{
	for (uint32_t i = 0; i < hc.shm->hdr->nservers; i++) {
		struct fc_shm_server *sv = shm_server(hc.shm, i);
		const struct hc_server *hs = checked_server(sv);

		store_state(sv, hs != NULL ? hs->state : FC_SRV_UP);
	}
}

/* The table outlives us: repair what a crash may have left, then keep it. */
static void sessions_init(void)
{
	if (hc.shm->hdr->nsessions == 0)
		return;
	session_recover(hc.shm);
	hc.sessions.cb = sessions_cb;
	sessions_cb(hc.ev, &hc.sessions);
}

/* TERM, INT and QUIT all end the checker at once: it has nothing to drain. */
static void on_signal(int signo)
{
	(void)signo;
	hc.stopping = true;
}

int health_main(const struct fc_conf *conf, struct fc_shm *shm, const struct fc_ctl *ctl)
{
	log_set_ident("checker");
	hc.shm = shm;
	hc.ctl = ctl;
	if ((hc.ev = ev_new()) == NULL)
		fatal("epoll_create");
	if (ev_signals_open(hc.ev, &hc.sigs, on_signal) < 0)
		fatal("signalfd");
	shm_store(&shm->hdr->checker_pid, (int32_t)getpid());
	hc.heartbeat.cb = heartbeat_cb;
	heartbeat_cb(hc.ev, &hc.heartbeat);
	servers_init(conf);
	sessions_init();
	hc.slowstart.cb = slowstart_cb;
	slowstart_cb(hc.ev, &hc.slowstart);
	publish_admin();
	if (ctl != NULL && ctl->page != NULL) {
		hc.ctl_timer.cb = ctl_cb;
		ctl_cb(hc.ev, &hc.ctl_timer);
	}
	log_info("checking %d server%s", hc.nservers, hc.nservers == 1 ? "" : "s");
	while (!hc.stopping)
		if (ev_run_once(hc.ev, -1) < 0)
			fatal("epoll_wait");
	servers_free();
	ev_timer_stop(hc.ev, &hc.heartbeat);
	ev_timer_stop(hc.ev, &hc.sessions);
	ev_timer_stop(hc.ev, &hc.slowstart);
	ev_timer_stop(hc.ev, &hc.ctl_timer);
	ev_timer_stop(hc.ev, &hc.follow);
	free(hc.follow_map);
	if (hc.cur.hdr != NULL)
		shm_detach(&hc.cur);
	close(hc.sigs.io.fd);
	ev_free(hc.ev);
	log_flush();
	return 0;
}
