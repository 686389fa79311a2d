/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Choosing the server of a request (backend.h): persistence, balancing,
 * the per-server maxconn with its queue, and the idle connection pool.
 *
 * A server at its maxconn takes no new request; when every usable server
 * is full, the request waits in its listener's server queue (FIFO) until
 * a slot frees or timeout.queue passes (503).  Each worker applies its
 * share of a server's maxconn (worker_share()), so the sum over workers
 * is the configured figure.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "lib/hash.h"
#include "lib/pool.h"
#include "shm/session.h"
#include "worker/accesslog.h"
#include "worker/backend.h"
#include "worker/conn.h"

#define IDLE_MAX_MS	30000		/* closed after this long unused */

static struct fc_pool ck_pool = POOL_INIT(sizeof(struct fc_ck_req));

/* ------------------------------------------------------------ servers */

static bool server_full(const struct fc_be *be, int i)
{
	return be->srv[i].maxconn > 0 && be->srv[i].cur >= be->srv[i].maxconn;
}

static bool server_down(const struct fc_be *be, int i)
{
	return shm_load_acq(&shm_server(fc_w->shm, be->srv_base + (uint32_t)i)->state) <
	    FC_SRV_UP;
}

static bool server_tried(const struct fc_stream *s, int i)
{
	return s->tx->tried != NULL && s->tx->tried[i];
}

/* Servers persistence may not send to: the DOWN ones. */
static const bool *down_mask(const struct fc_stream *s)
{
	struct fc_be *be = s->tx->be;

	for (int i = 0; i < be->b->nservers; i++)
		be->excluded[i] = server_down(be, i);
	return be->excluded;
}

/* Servers not to pick: DOWN or full ones, and those tried already if asked. */
static const bool *pick_mask(const struct fc_stream *s, bool skip_tried)
{
	struct fc_be *be = s->tx->be;

	for (int i = 0; i < be->b->nservers; i++)
		be->excluded[i] = server_down(be, i) || server_full(be, i) ||
		    (skip_tried && server_tried(s, i));
	return be->excluded;
}

/* ---------------------------------------------------------- persistence */

const struct fc_ck_req *backend_ck(const struct fc_stream *s)
{
	static const struct fc_ck_req none = { .server = -1 };

	return s->tx->ck != NULL ? s->tx->ck : &none;
}

void backend_persist_reset(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;

	pool_put(&ck_pool, t->ck);
	t->ck = NULL;
	t->stick_server = -1;
	t->stick_hash = 0;
}

static uint64_t id_hash(struct fc_ck_span id)
{
	return hash_fnv1a(HASH_FNV1A_INIT, id.p, id.len);
}

/* The learned session's server, if the table knows the id (and extends it). */
static void stick_lookup(struct fc_stream *s, struct fc_ck_span id)
{
	struct fc_txn *t = s->tx;
	struct fc_be *be = t->be;
	int g = session_use(fc_w->shm, fc_w->slot, (uint32_t)be->index, id.p, id.len,
	    ev_now(fc_w->ev));

	t->stick_hash = id_hash(id);
	if (g >= (int)be->srv_base && g - (int)be->srv_base < be->b->nservers)
		t->stick_server = g - (int)be->srv_base;
}

void backend_persist_scan(struct fc_stream *s, const struct fc_http_msg *m)
{
	struct fc_txn *t = s->tx;
	const struct fc_backend *l = t->be->b;
	bool ck = l->cookie.mode != FC_COOKIE_NONE, stick = l->stick.cookie[0] != '\0';
	const bool *down;
	struct fc_ck_span id;

	if (ck && t->ck == NULL && (t->ck = pool_get(&ck_pool)) != NULL)
		cookie_req_init(t->ck);
	ck = ck && t->ck != NULL;	/* out of memory: balanced as if none came */
	down = ck ? down_mask(s) : NULL;

	for (int i = http_find_header(m, "cookie", 0); i >= 0 && (ck || stick);
	    i = http_find_header(m, "cookie", (size_t)i + 1)) {
		const struct fc_http_header *h = &m->headers[i];

		if (ck)
			cookie_req_scan(l, h->value, h->value_len, down, backend_wall_s(s), t->ck);
		if (stick && cookie_find(h->value, h->value_len, l->stick.cookie, &id)) {
			stick_lookup(s, id);
			stick = false;		/* the first one only */
		}
	}
}

/*
 * Pushes "id -> server" into this worker's ring, for the checker to apply.
 * Not for a deletion, nor for the id the request already had on this very
 * server.
 */
void backend_persist_learn(const struct fc_stream *s, const struct fc_http_msg *m)
{
	const struct fc_txn *t = s->tx;
	const struct fc_backend *l = t->be->b;
	struct fc_ck_span id;

	for (int i = http_find_header(m, "set-cookie", 0); i >= 0;
	    i = http_find_header(m, "set-cookie", (size_t)i + 1)) {
		const struct fc_http_header *h = &m->headers[i];

		if (!cookie_set_match(h->value, h->value_len, l->stick.cookie, &id) ||
		    id.len == 0 || cookie_set_deletes(h->value, h->value_len))
			continue;
		if (t->stick_server == t->server && t->stick_hash == id_hash(id))
			continue;
		session_push(fc_w->shm, fc_w->slot, id.p, id.len,
		    t->be->srv_base + (uint32_t)t->server, (uint32_t)l->stick.expire,
		    ev_now(fc_w->ev));
	}
}

/*
 * The server the request's cookie names, else its learned session's,
 * unless it is DOWN or was tried: PICK_NONE then (the balancer decides).
 */
static enum fc_pick persist_pick(const struct fc_stream *s, const bool *excluded,
    int *server)
{
	int target[2] = { backend_ck(s)->server, s->tx->stick_server };

	for (int k = 0; k < 2; k++) {
		int t = target[k];

		if (t < 0)
			continue;
		if (!excluded[t]) {
			*server = t;
			return PICK_SERVER;
		}
		if (server_full(s->tx->be, t) && !server_down(s->tx->be, t) && !server_tried(s, t))
			return PICK_QUEUE;
	}
	return PICK_NONE;
}

/* The server a waiting request is tied to, or -1. */
static int persist_want(const struct fc_stream *s)
{
	const struct fc_txn *t = s->tx;
	int ck = backend_ck(s)->server;

	if (ck >= 0 && !server_down(t->be, ck))
		return ck;
	if (t->stick_server >= 0 && !server_down(t->be, t->stick_server))
		return t->stick_server;
	return -1;
}

/* ------------------------------------------------------------ balancing */

/* balance = "source": the client's address, not its port. */
static uint64_t source_hash(const union fc_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET6)
		return hash_fnv1a(HASH_FNV1A_INIT, &a->in6.sin6_addr, sizeof(a->in6.sin6_addr));
	return hash_fnv1a(HASH_FNV1A_INIT, &a->in.sin_addr, sizeof(a->in.sin_addr));
}

/*
 * The weights the balancer uses now: the checker's eweight (slow start,
 * fulcrumctl's weight) of the UP servers; backup servers only while no
 * other one is UP.
 */
static void refresh_weights(struct fc_be *be)
{
	const struct fc_shm_server *sv = shm_server(fc_w->shm, be->srv_base);
	bool active_up = false;

	for (int i = 0; i < be->b->nservers; i++)
		if (!sv[i].backup && shm_load_acq(&sv[i].state) == FC_SRV_UP) {
			active_up = true;
			break;
		}
	/* DRAIN: UP for its persistent clients, no new ones. */
	for (int i = 0; i < be->b->nservers; i++) {
		bool up = shm_load_acq(&sv[i].state) == FC_SRV_UP &&
		    (sv[i].backup != 0) != active_up;

		lb_set_weight(&be->lb, i, up ? (int)shm_load(&sv[i].eweight) : 0);
	}
}

/* The balancer's pick among the usable servers not tried; -1: none. */
static int balance_pick(struct fc_stream *s, const bool *excluded)
{
	struct fc_txn *t = s->tx;
	struct fc_be *be = t->be;
	uint64_t hash = 0;
	int idx;

	refresh_weights(be);
	if (be->b->balance == FC_BALANCE_SOURCE)
		hash = source_hash(&s->peer);
	idx = lb_pick(&be->lb, excluded, hash);
	if (idx < 0 && t->tried != NULL) {
		/* Every usable server was tried once: start over (redispatch). */
		memset(t->tried, 0, (size_t)be->b->nservers * sizeof(*t->tried));
		idx = lb_pick(&be->lb, pick_mask(s, false), hash);
	}
	return idx;
}

/* Would some server take the request if it were not full? */
static bool worth_queueing(const struct fc_be *be)
{
	for (int i = 0; i < be->b->nservers; i++)
		if (server_full(be, i) && be->b->servers[i].weight > 0 && !server_down(be, i))
			return true;
	return false;
}

enum fc_pick backend_pick(struct fc_stream *s, int *server)
{
	const bool *excluded = pick_mask(s, true);

	switch (persist_pick(s, excluded, server)) {
	case PICK_SERVER:
		return PICK_SERVER;
	case PICK_QUEUE:
		*server = persist_want(s);
		return PICK_QUEUE;
	case PICK_NONE:
		break;
	}
	if ((*server = balance_pick(s, excluded)) >= 0)
		return PICK_SERVER;
	return worth_queueing(s->tx->be) ? PICK_QUEUE : PICK_NONE;
}

void backend_attach(struct fc_stream *s, struct fc_conn *c)
{
	struct fc_txn *t = s->tx;

	t->srv = c;
	c->s = s;
	t->be->srv[c->server].cur++;
	shm_add(&accesslog_srv(t->be, c->server)->cur_conns, 1);
	lb_conn_add(&t->be->lb, c->server, 1);
}

/* ---------------------------------------------------------- server queue */

void backend_queue_add(struct fc_stream *s, int want, bool front)
{
	struct fc_txn *t = s->tx;
	struct fc_be *be = t->be;

	t->in_srvq = true;
	t->srvq_want = want;
	if (front && be->srvq_head != NULL) {
		t->srvq_prev = NULL;
		t->srvq_next = be->srvq_head;
		be->srvq_head->tx->srvq_prev = s;
		be->srvq_head = s;
	} else {
		t->srvq_next = NULL;
		t->srvq_prev = be->srvq_tail;
		if (be->srvq_tail != NULL)
			be->srvq_tail->tx->srvq_next = s;
		else
			be->srvq_head = s;
		be->srvq_tail = s;
	}
	be->srvq_len++;
}

void backend_queue_del(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;
	struct fc_be *be = t->be;

	if (!t->in_srvq)
		return;
	if (t->srvq_prev != NULL)
		t->srvq_prev->tx->srvq_next = t->srvq_next;
	else
		be->srvq_head = t->srvq_next;
	if (t->srvq_next != NULL)
		t->srvq_next->tx->srvq_prev = t->srvq_prev;
	else
		be->srvq_tail = t->srvq_prev;
	t->srvq_next = t->srvq_prev = NULL;
	t->in_srvq = false;
	be->srvq_len--;
}

/* The stream waiting longest that may use a slot of server, taken out. */
static struct fc_stream *queue_next(struct fc_be *be, int server)
{
	struct fc_stream *s = be->srvq_head;

	while (s != NULL && s->tx->srvq_want >= 0 && s->tx->srvq_want != server)
		s = s->tx->srvq_next;
	if (s != NULL)
		backend_queue_del(s);
	return s;
}

struct fc_stream *backend_release(struct fc_stream *s, const struct fc_conn *c)
{
	struct fc_be *be = s->tx->be;

	be->srv[c->server].cur--;
	shm_add(&accesslog_srv(be, c->server)->cur_conns, -1);
	lb_conn_add(&be->lb, c->server, -1);
	return be->srv[c->server].maxconn > 0 ? queue_next(be, c->server) : NULL;
}

/* ------------------------------------------------------------ idle pool */

bool backend_idle_fit(struct fc_conn *c)
{
	char byte;

	if (c->eof)
		return false;
	if (!c->rd)
		return true;
	/* Below the transport on purpose: any byte on a connection between
	 * requests, whatever it would decode to, means it is not reusable. */
	if (recv(c->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN) {
		c->rd = false;
		return true;
	}
	return false;
}

static void idle_unlink(struct fc_conn *c)
{
	struct fc_srv_rt *rt = &c->be->srv[c->server];

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		rt->idle = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		rt->idle_tail = c->prev;
	c->prev = c->next = NULL;
	rt->nidle--;
	fc_w->nidle--;
}

void backend_idle_put(struct fc_conn *c)
{
	struct fc_srv_rt *rt = &c->be->srv[c->server];

	/*
	 * No cap per server: a closed-loop load of N clients needs N server
	 * connections, and one closed on its way back to the pool is a
	 * connect (and a SYN, an accept, a close on the server) on the next
	 * request; the age purge shrinks the LIFO pool from its cold end, and
	 * backend_idle_make_room() keeps all server connections, idle ones
	 * included, within the worker's maxconn.  send_proxy: the connection
	 * named its client; no other may use it.
	 */
	if (fc_w->draining || c->be->b->servers[c->server].send_proxy != 0) {
		conn_close_server(c);
		return;
	}
	c->s = NULL;
	c->idle_since = ev_now(fc_w->ev);
	c->prev = NULL;
	c->next = rt->idle;
	if (rt->idle != NULL)
		rt->idle->prev = c;
	else
		rt->idle_tail = c;
	rt->idle = c;
	rt->nidle++;
	fc_w->nidle++;
}

struct fc_conn *backend_idle_take(struct fc_be *be, int server)
{
	struct fc_conn *c = be->srv[server].idle;

	if (c != NULL)
		idle_unlink(c);
	return c;
}

/*
 * The master's open-files limit counts one server connection per client
 * (2 x maxconn, and room for listeners and pipes): with maxconn clients
 * each on a busy server connection, an idle pool of its own size would
 * need a third descriptor per client, and new connections failed with
 * EMFILE (503) beside hundreds of idle ones.  Before a new connection,
 * the coldest idle one, whichever its server, is closed to make room.
 */
void backend_idle_make_room(void)
{
	while (fc_w->nsrv >= fc_w->maxconn && fc_w->nidle > 0) {
		struct fc_conn *cold = NULL;

		for (int p = 0; p < fc_w->nbackends; p++) {
			struct fc_be *be = &fc_w->backends[p];

			for (int i = 0; i < be->b->nservers; i++) {
				struct fc_conn *c = be->srv[i].idle_tail;

				if (c != NULL && (cold == NULL || c->idle_since < cold->idle_since))
					cold = c;
			}
		}
		idle_unlink(cold);
		conn_close_server(cold);
	}
}

void backend_idle_event(struct fc_conn *c, uint32_t events)
{
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	idle_unlink(c);
	conn_close_server(c);
}

void backend_idle_purge(uint64_t now)
{
	for (int p = 0; p < fc_w->nbackends; p++) {
		struct fc_be *be = &fc_w->backends[p];

		for (int i = 0; i < be->b->nservers; i++) {
			struct fc_conn *c = be->srv[i].idle, *next;

			for (; c != NULL; c = next) {
				next = c->next;
				if (now - c->idle_since >= IDLE_MAX_MS || fc_w->draining) {
					idle_unlink(c);
					conn_close_server(c);
				}
			}
		}
	}
}
