/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Server selection for one backend, in one worker: weighted roundrobin
 * (smooth, as nginx does it: no bursts to the heaviest server), leastconn and
 * source (weighted rendezvous hashing: every node with the same servers
 * sends a client to the same one).  The balancer knows weights, connection
 * counts and server names only: the
 * caller sets the weights servers have now (0 for a DOWN one, the ramp of
 * slow start, backup servers only when every other is DOWN) and says which
 * servers may not be picked for this request (full, already tried).
 *
 * Roundrobin follows a schedule: the smooth sequence of one round of the
 * weights, built again when they change, read at position ticket % length.
 * The ticket is a counter every worker of the backend advances (lb_share():
 * in the shared segment), so that the workers together give the sequence
 * one process would: web1 web2 web1 web2, never web1 web1 web2 web2.
 */
#ifndef FC_WORKER_BALANCE_H
#define FC_WORKER_BALANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"

struct fc_lb_server {
	int weight;
	int conns;		/* active connections, for leastconn */
	uint64_t key;		/* hash of its name, for source */
};

struct fc_lb {
	enum fc_balance algo;
	int n;
	unsigned int next;	/* leastconn tie breaker */
	struct fc_lb_server *srv;
	int *sched;		/* roundrobin: one round, server indices */
	int nsched;
	long *scratch;		/* 2 * n, for building it */
	bool dirty;		/* weights changed since sched was built */
	uint64_t own_ticket;
	uint64_t *ticket;	/* &own_ticket, or the shared one */
};

void lb_init(struct fc_lb *lb, enum fc_balance algo, const struct fc_server *servers, int n);
void lb_free(struct fc_lb *lb);
/* Roundrobin positions come from *ticket, advanced atomically by all users. */
void lb_share(struct fc_lb *lb, uint64_t *ticket);
/* Server i's weight now (0: no new traffic). */
void lb_set_weight(struct fc_lb *lb, int i, int weight);
/*
 * Returns the index of the server to use, or -1 when every server is
 * excluded or has weight 0.  excluded may be NULL; hash (the client's
 * address) feeds "source".
 */
int lb_pick(struct fc_lb *lb, const bool *excluded, uint64_t hash);
void lb_conn_add(struct fc_lb *lb, int server, int delta);

#endif
