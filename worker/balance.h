/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Server selection for one listener, in one worker: weighted roundrobin
 * (smooth, as nginx does it: no bursts to the heaviest server), leastconn and
 * source.  The balancer knows weights and connection counts only; the caller
 * says which servers may not be picked (already tried for this request, DOWN).
 */
#ifndef FC_WORKER_BALANCE_H
#define FC_WORKER_BALANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"

struct fc_lb_server {
	int weight;
	int current;		/* smooth roundrobin state */
	int conns;		/* active connections, for leastconn */
};

struct fc_lb {
	enum fc_balance algo;
	int n;
	unsigned int next;	/* leastconn tie breaker */
	struct fc_lb_server *srv;
};

void lb_init(struct fc_lb *lb, enum fc_balance algo, const struct fc_server *servers, int n);
void lb_free(struct fc_lb *lb);
/*
 * Returns the index of the server to use, or -1 when every server is
 * excluded or has weight 0.  excluded may be NULL; hash feeds "source".
 */
int lb_pick(struct fc_lb *lb, const bool *excluded, uint32_t hash);
void lb_conn_add(struct fc_lb *lb, int server, int delta);

#endif
