/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker process: its event loop, accepting on its own SO_REUSEPORT
 * sockets, maxconn, and its signals.  TERM and INT end it at once; QUIT
 * stops accepting and lets in-flight requests finish (bounded by
 * global.drain_timeout), closing idle keep-alive connections between
 * requests, never in the middle of a response.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/ev.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "worker/backend.h"
#include "worker/stream.h"
#include "worker/worker.h"

#define ACCEPT_BATCH	64
#define HOUSEKEEPING_MS	1000
#define HEARTBEAT_MS	100		/* the loop wakes at least this often */
#define HEARTBEAT_MIN_MS 5

static struct fc_worker worker;
static int beat_ms = HEARTBEAT_MS;
static struct fc_ev_signals sigs;
static struct fc_ev_timer housekeeping, drain_timer;
static bool stopping;
static bool out_of_fds;			/* accept paused until housekeeping */
static uint64_t fd_warned_ms;

/* Per-worker share of a total shared by nworkers (at least 1). */
static int worker_share(int total, int nworkers)
{
	int n = (total + nworkers - 1) / nworkers;

	return n > 0 ? n : 1;
}

static void proxy_pause(struct fc_proxy *px, bool pause)
{
	if (px->paused == pause || px->lio == NULL)
		return;
	px->paused = pause;
	for (int i = 0; i < px->nfds; i++)
		if (px->lio[i].io.fd >= 0)
			ev_io_mod(worker.ev, &px->lio[i].io, pause ? 0 : EPOLLIN);
}

static bool proxy_full(const struct fc_proxy *px)
{
	return px->nconn >= px->maxconn || worker.nconn >= worker.maxconn;
}

/*
 * Connections closed (the streams count them in worker.released): a
 * listener paused at its maxconn, or for want of descriptors, accepts
 * again.  Once per loop pass, after the streams have run.
 */
static void conns_released(void)
{
	worker.released = 0;
	if (worker.draining)
		return;
	out_of_fds = false;
	for (int i = 0; i < worker.nproxies; i++)
		if (worker.proxies[i].paused && !proxy_full(&worker.proxies[i]))
			proxy_pause(&worker.proxies[i], false);
}

/*
 * Out of file descriptors: the listening socket stays readable, so a
 * level-triggered loop would spin.  Stop accepting until housekeeping
 * (or a closed connection) tries again; warn once a minute at most.
 */
static void fds_exhausted(struct fc_proxy *px)
{
	uint64_t now = ev_now(worker.ev);

	if (fd_warned_ms == 0 || now - fd_warned_ms >= 60000) {
		log_warn("listener %s: cannot accept (%d connections open)",
		    px->l->name, worker.nconn);
		fd_warned_ms = now;
	}
	out_of_fds = true;
	for (int i = 0; i < worker.nproxies; i++)
		proxy_pause(&worker.proxies[i], true);
}

/* Accepts up to ACCEPT_BATCH connections; returns how many. */
static int accept_batch(struct fc_proxy *px, int lfd)
{
	int k;

	for (k = 0; k < ACCEPT_BATCH; k++) {
		union fc_sockaddr peer;
		socklen_t len = sizeof(peer);
		int fd;

		if (proxy_full(px)) {
			proxy_pause(px, true);
			break;
		}
		fd = accept4(lfd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				fds_exhausted(px);
			break;
		}
		stream_accept(px, fd, &peer);
	}
	return k;
}

static void accept_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	(void)ev;
	(void)events;
	accept_batch(((struct fc_listen_io *)io)->px, io->fd);
}

static void backends_init(const struct fc_conf *conf, int nworkers)
{
	worker.nbackends = conf->nbackends;
	worker.backends = xcalloc((size_t)(conf->nbackends > 0 ? conf->nbackends : 1),
	    sizeof(*worker.backends));
	for (int i = 0; i < conf->nbackends; i++) {
		struct fc_be *be = &worker.backends[i];
		const struct fc_backend *b = &conf->backends[i];

		be->b = b;
		be->index = i;
		be->srv_base = shm_server_index(conf, i, 0);
		be->excluded = xcalloc((size_t)b->nservers, sizeof(*be->excluded));
		be->srv = xcalloc((size_t)b->nservers, sizeof(*be->srv));
		for (int k = 0; k < b->nservers; k++)
			if (b->servers[k].maxconn > 0)
				be->srv[k].maxconn = worker_share(b->servers[k].maxconn, nworkers);
		lb_init(&be->lb, b->balance, b->servers, b->nservers);
		lb_share(&be->lb, &shm_rr(worker.shm, (uint32_t)i)->next);
		if (b->nservers > worker.max_servers)
			worker.max_servers = b->nservers;
	}
}

/* What a listener's stats page shows: the backends its requests may reach. */
static bool *reachable_backends(const struct fc_conf *conf, const struct fc_listener *l)
{
	bool *show = xcalloc((size_t)(conf->nbackends > 0 ? conf->nbackends : 1),
	    sizeof(*show));

	if (l->backend >= 0)
		show[l->backend] = true;
	for (int r = 0; r < l->nroutes; r++)
		if (l->routes[r].backend >= 0)
			show[l->routes[r].backend] = true;
	return show;
}

static void proxies_init(const struct fc_conf *conf, int nworkers,
    const struct fc_worker_socket *socks, int nsocks)
{
	worker.nproxies = conf->nlisteners;
	worker.proxies = xcalloc((size_t)conf->nlisteners, sizeof(*worker.proxies));
	for (int i = 0; i < conf->nlisteners; i++) {
		struct fc_proxy *px = &worker.proxies[i];
		const struct fc_listener *l = &conf->listeners[i];

		px->l = l;
		px->index = i;
		px->tls_ctr = shm_worker_tls(worker.shm, worker.slot, i);
		px->maxconn = worker_share(l->maxconn, nworkers);
		px->show_backend = reachable_backends(conf, l);
		px->lio = xcalloc((size_t)nsocks, sizeof(*px->lio));
		for (int k = 0; k < nsocks; k++) {
			int one = 1;

			if (socks[k].listener != i)
				continue;
			/* Accepted sockets inherit TCP_NODELAY from the listening
			 * one: set once here, not once per connection. */
			(void)setsockopt(socks[k].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			px->lio[px->nfds].io.fd = socks[k].fd;
			px->lio[px->nfds].io.cb = accept_cb;
			px->lio[px->nfds].px = px;
			if (ev_io_add(worker.ev, &px->lio[px->nfds].io, EPOLLIN) < 0)
				fatal("epoll_ctl on listener %s", l->name);
			px->nfds++;
		}
	}
}

static void stop_accepting(void)
{
	for (int i = 0; i < worker.nproxies; i++) {
		struct fc_proxy *px = &worker.proxies[i];

		for (int k = 0; k < px->nfds; k++) {
			if (px->lio[k].io.fd < 0)
				continue;
			/* What is queued now is ours to answer: if this was the
			 * socket's last holder (a listener removed by a reload),
			 * closing it would reset those connections. */
			while (accept_batch(px, px->lio[k].io.fd) == ACCEPT_BATCH)
				;
			ev_io_del(worker.ev, &px->lio[k].io);
			close(px->lio[k].io.fd);
			px->lio[k].io.fd = -1;
		}
	}
}

static void drain_expired(struct fc_ev *ev, struct fc_ev_timer *t)
{
	(void)ev;
	(void)t;
	log_notice("drain timeout: %d connections cut", worker.nconn);
	stopping = true;
}

static void start_drain(void)
{
	if (worker.draining)
		return;
	worker.draining = true;
	stop_accepting();
	stream_drain_all();
	drain_timer.cb = drain_expired;
	ev_timer_arm(worker.ev, &drain_timer,
	    ev_now(worker.ev) + (uint64_t)worker.conf->drain_timeout);
}

static void on_signal(int signo)
{
	if (signo == SIGQUIT)
		start_drain();
	else
		stopping = true;
}

static void housekeeping_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	backend_idle_purge(ev_now(ev));
	if (out_of_fds)
		conns_released();
	ev_timer_arm(ev, t, ev_now(ev) + HOUSEKEEPING_MS);
}

/* This slot's counters: totals carry on across a respawn, gauges restart. */
static void block_init(struct fc_shm *shm, int slot)
{
	struct fc_shm_worker *b = shm_worker(shm, (uint32_t)slot);

	worker.shm = shm;
	worker.slot = slot;
	worker.blk = b;
	shm_store(&b->cur_conns, 0);
	shm_store(&b->cur_tunnels, 0);
	for (uint32_t i = 0; i < shm->hdr->nservers; i++)
		shm_store(&b->srv[i].cur_conns, 0);
	shm_store(&b->generation, shm->hdr->generation);
	shm_store(&b->started_us, clock_wall_us());
	shm_store(&b->heartbeat_ms, clock_mono_ms());
	shm_store(&b->pid, (int32_t)getpid());
	/* This generation's segment: the master carried the keys into it. */
	tls_tickets_use(&shm->hdr->tickets);
}

/*
 * One pass of the event loop.  With global.busy_poll_us, a worker that had
 * an event less than that long ago polls without sleeping: every sleep in
 * epoll_wait costs the process that wakes it a cross-CPU wake-up (on a
 * hypervisor, an exit), and a worker that is faster than its load sleeps
 * after nearly every request.  Polling trades this worker's CPU for that;
 * a worker with nothing to do sleeps as usual once the window is over.
 */
static int wait_events(bool pending)
{
	uint64_t spin = (uint64_t)worker.conf->busy_poll_us;
	int n = 0;

	if (pending) {
		n = ev_run_once(worker.ev, 0);
	} else {
		while (n == 0 && spin > 0 && ev_now_us(worker.ev) < worker.last_event_us + spin)
			n = ev_run_once(worker.ev, 0);
		if (n == 0)
			n = ev_run_once(worker.ev, beat_ms);
	}
	if (n > 0)
		worker.last_event_us = ev_now_us(worker.ev);
	return n;
}

/*
 * How long an idle loop sleeps at most: the master reads the heartbeat to
 * steer new connections away from a stalled worker (global.stall_ms) and
 * to kill one (global.watchdog_ms), so an idle worker beats four times per
 * limit -- one wake-up, one clock read and one store, nothing more.
 */
static int worker_beat_ms(const struct fc_conf *conf)
{
	int ms = HEARTBEAT_MS;

	if (conf->stall_ms > 0 && conf->stall_ms / 4 < ms)
		ms = conf->stall_ms / 4;
	if (conf->watchdog_ms > 0 && conf->watchdog_ms / 4 < ms)
		ms = conf->watchdog_ms / 4;
	return ms < HEARTBEAT_MIN_MS ? HEARTBEAT_MIN_MS : ms;
}

int worker_main(const struct fc_conf *conf, struct fc_shm *shm, int slot, int nworkers,
    const struct fc_worker_socket *socks, int nsocks)
{
	char ident[32];
	bool pending = false;

	snprintf(ident, sizeof(ident), "worker %d", slot);
	log_set_ident(ident);
	fc_w = &worker;
	worker.conf = conf;
	block_init(shm, slot);
	beat_ms = worker_beat_ms(conf);
	worker.maxconn = worker_share(conf->maxconn, nworkers);
	if ((worker.ev = ev_new()) == NULL)
		fatal("epoll_create");
	ev_set_beat(worker.ev, &worker.blk->heartbeat_ms);
	if (ev_signals_open(worker.ev, &sigs, on_signal) < 0)
		fatal("signalfd");
	backends_init(conf, nworkers);
	proxies_init(conf, nworkers, socks, nsocks);
	housekeeping.cb = housekeeping_cb;
	ev_timer_arm(worker.ev, &housekeeping, ev_now(worker.ev) + HOUSEKEEPING_MS);
	while (!stopping) {
		if (wait_events(pending) < 0)
			fatal("epoll_wait");
		pending = stream_run_deferred();
		stream_reap();
		if (worker.released > 0)
			conns_released();
		log_flush();
		if (worker.draining && worker.nconn == 0)
			break;
	}
	log_flush();
	return 0;
}
