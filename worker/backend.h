/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Choosing the server of a request, in one worker: persistence (the
 * persistence cookie, then the learned session), else the balancer; the
 * per-server maxconn and the server queue of requests waiting for a slot;
 * the idle pool of keep-alive server connections.  Below the stream state
 * machine: these functions answer and the stream acts (a freed slot names
 * the stream to wake; the stream wakes it).
 */
#ifndef FC_WORKER_BACKEND_H
#define FC_WORKER_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/worker-t.h"

/* ---- persistence */

/* The transaction's cookie state; none reads as "no persistence cookie came". */
const struct fc_ck_req *backend_ck(const struct fc_stream *s);

/* Seconds of wall clock for cookie dates: the transaction's start is enough. */
static inline uint64_t backend_wall_s(const struct fc_stream *s)
{
	return s->accept_wall_us / 1000000u;
}

/*
 * Reads the request's cookies before the head is rewritten: the server its
 * persistence cookie names (if UP), and the one its learned session has.
 */
void backend_persist_scan(struct fc_stream *s, const struct fc_http_msg *m);
/* The server set the stick cookie: learn "id -> server" (checker applies it). */
void backend_persist_learn(const struct fc_stream *s, const struct fc_http_msg *m);
/* Forgets the transaction's persistence state (between transactions). */
void backend_persist_reset(struct fc_stream *s);

/* ---- picking a server */

enum fc_pick {
	PICK_SERVER,			/* connect to *server */
	PICK_QUEUE,			/* wait in the server queue for *server (-1: any) */
	PICK_NONE,			/* no server can take it: 503 */
};

/*
 * Persistence first, unless its server is DOWN or was tried (then: the
 * balancer, skipping DOWN and full servers and those tried).  A full
 * persistent server is waited for, as HAProxy does: moving the session
 * would cost it.  Every usable server tried: they are tried again.
 */
enum fc_pick backend_pick(struct fc_stream *s, int *server);

/* The stream now uses c (counts it against c's server). */
void backend_attach(struct fc_stream *s, struct fc_conn *c);
/*
 * The stream stops using c: the counts drop (c itself is the caller's).
 * Returns the stream that may take the slot this freed, out of the server
 * queue now, for the caller to wake; NULL: none waits for it.
 */
struct fc_stream *backend_release(struct fc_stream *s, const struct fc_conn *c);

/* ---- the server queue */

/* Queues s for server want (-1: any); front: it keeps its place (woken, lost). */
void backend_queue_add(struct fc_stream *s, int want, bool front);
/* Takes s out of the queue, if it is in. */
void backend_queue_del(struct fc_stream *s);

/* ---- idle server connections */

/* Is c still open and silent, fit to be reused? */
bool backend_idle_fit(struct fc_conn *c);
/* Keeps c for reuse, or closes it when the pool is full or draining. */
void backend_idle_put(struct fc_conn *c);
/* An idle connection to `server`, most recent first; NULL: none. */
struct fc_conn *backend_idle_take(struct fc_be *be, int server);
/* Before a new server connection: closes the coldest idle ones while the
 * worker's server connections are at its maxconn (descriptor budget). */
void backend_idle_make_room(void);
/* An event on an idle connection: anything but "writable" closes it. */
void backend_idle_event(struct fc_conn *c, uint32_t events);
/* Closes idle connections unused for too long (all of them when draining). */
void backend_idle_purge(uint64_t now_ms);

#endif
