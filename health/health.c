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
 * It also writes the learned-session table (shm/session.c): every
 * SESSION_MS it applies what the workers pushed into their rings and frees
 * a slice of the expired entries, the whole table every SWEEP_ROUNDS.
 */
#include "config.h"

#include <signal.h>
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
#include "shm/session.h"

#define HEARTBEAT_MS	250	/* the master expects one at least every 500 ms */
#define SESSION_MS	100	/* rings drained: a learned session's delay */
#define SWEEP_ROUNDS	50	/* the expiry sweep covers the table in 5 s */
#define SWEEP_MIN	4096	/* entries looked at per pass, at least */

/* A checked server: its probe, its schedule, and what rise/fall needs. */
struct hc_server {
	struct probe probe;		/* first: the probe's callbacks cast back */
	struct fc_ev_timer next;	/* starts the next probe */
	const struct fc_listener *l;
	const struct fc_server *srv;
	struct fc_shm_server *sv;
	char *req;			/* the HTTP request; NULL: TCP check */
	uint64_t started;		/* ev time the last probe started */
	uint32_t state;			/* enum fc_srv_state, as published */
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
	bool stopping;
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

static void publish_state(struct hc_server *hs, uint32_t state)
{
	hs->state = state;
	shm_store(&hs->sv->last_change_us, clock_wall_us());
	/* Release: a worker that sees the new state sees the result behind it. */
	shm_store_rel(&hs->sv->state, state);
}

/* ------------------------------------------------------------- checking */

/*
 * rise/fall: an UP server goes DOWN after `fall` failures in a row, a DOWN
 * one comes back after `rise` successes in a row.  Returns the new state,
 * or the current one when nothing changes.  MAINT is the operator's.
 */
static uint32_t next_state(const struct hc_server *hs, bool ok)
{
	const struct fc_check *c = &hs->l->check;

	if (hs->state == FC_SRV_UP && !ok && hs->count >= (uint32_t)c->fall)
		return FC_SRV_DOWN;
	if (hs->state == FC_SRV_DOWN && ok && hs->count >= (uint32_t)c->rise)
		return FC_SRV_UP;
	return hs->state;
}

static void log_change(const struct hc_server *hs, const struct probe_result *r)
{
	const struct fc_check *c = &hs->l->check;
	bool up = hs->state == FC_SRV_UP;
	uint32_t need = (uint32_t)(up ? c->rise : c->fall);

	/* A respawn or a reload can leave count past the threshold. */
	log_notice("server %s/%s is %s: %s, %u/%u %s", hs->l->name, hs->srv->name,
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
	uint64_t due = hs->started + (uint64_t)hs->l->check.interval;
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

static void launch(struct fc_ev *ev, struct fc_ev_timer *t)
{
	struct hc_server *hs = SERVER_OF_TIMER(t);

	hs->started = ev_now(ev);
	probe_start(ev, &hs->probe);
}

/* ------------------------------------------------------------- set-up */

/* Takes over the server's state as the previous checker left it. */
static void server_init(struct hc_server *hs, const struct fc_listener *l,
    int s, struct fc_shm_server *sv)
{
	hs->l = l;
	hs->srv = &l->servers[s];
	hs->sv = sv;
	hs->state = shm_load(&sv->state);
	hs->last_ok = shm_load(&sv->check_result) >= FC_CHK_PASSED;
	hs->count = shm_load(&sv->check_result) == FC_CHK_NONE ? 0 :
	    shm_load(&sv->check_count);
	hs->req = probe_request(&l->check, hs->srv->addr_text, &hs->probe.reqlen);
	hs->probe.io.fd = -1;
	hs->probe.check = &l->check;
	hs->probe.addr = &hs->srv->addr;
	hs->probe.tls = &hs->srv->tls;
	hs->probe.req = hs->req;
	hs->probe.done = check_done;
	hs->next.cb = launch;
}

static int count_checked(const struct fc_conf *conf)
{
	int n = 0;

	for (int l = 0; l < conf->nlisteners; l++)
		for (int s = 0; s < conf->listeners[l].nservers; s++)
			n += conf->listeners[l].servers[s].check;
	return n;
}

/*
 * Checked server k of n (over every listener) first starts at k / n of its
 * interval, so that the probes never all fire at once.
 */
static void servers_init(const struct fc_conf *conf)
{
	uint64_t n = (uint64_t)count_checked(conf);

	hc.servers = xcalloc(n > 0 ? n : 1, sizeof(*hc.servers));
	for (int l = 0; l < conf->nlisteners; l++) {
		const struct fc_listener *ls = &conf->listeners[l];

		for (int s = 0; s < ls->nservers; s++) {
			struct hc_server *hs = &hc.servers[hc.nservers];
			uint64_t k = (uint64_t)hc.nservers;

			if (!ls->servers[s].check)
				continue;
			server_init(hs, ls, s,
			    shm_server(hc.shm, shm_server_index(conf, l, s)));
			schedule(hs, ev_now(hc.ev) + k * (uint64_t)ls->check.interval / n);
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

int health_main(const struct fc_conf *conf, struct fc_shm *shm)
{
	log_set_ident("checker");
	hc.shm = shm;
	if ((hc.ev = ev_new()) == NULL)
		fatal("epoll_create");
	if (ev_signals_open(hc.ev, &hc.sigs, on_signal) < 0)
		fatal("signalfd");
	shm_store(&shm->hdr->checker_pid, (int32_t)getpid());
	hc.heartbeat.cb = heartbeat_cb;
	heartbeat_cb(hc.ev, &hc.heartbeat);
	servers_init(conf);
	sessions_init();
	log_info("checking %d server%s", hc.nservers, hc.nservers == 1 ? "" : "s");
	while (!hc.stopping)
		if (ev_run_once(hc.ev, -1) < 0)
			fatal("epoll_wait");
	servers_free();
	ev_timer_stop(hc.ev, &hc.heartbeat);
	ev_timer_stop(hc.ev, &hc.sessions);
	close(hc.sigs.io.fd);
	ev_free(hc.ev);
	log_flush();
	return 0;
}
