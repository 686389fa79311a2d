/* SPDX-License-Identifier: BSD-2-Clause */
/* Server selection (see balance.h). */
#include "config.h"

#include <stdlib.h>

#include "lib/alloc.h"
#include "worker/balance.h"

void lb_init(struct fc_lb *lb, enum fc_balance algo, const struct fc_server *servers, int n)
{
	lb->algo = algo;
	lb->n = n;
	lb->next = 0;
	lb->srv = xcalloc((size_t)n, sizeof(*lb->srv));
	for (int i = 0; i < n; i++)
		lb->srv[i].weight = servers[i].weight;
}

void lb_free(struct fc_lb *lb)
{
	free(lb->srv);
	lb->srv = NULL;
}

static bool usable(const struct fc_lb *lb, const bool *excluded, int i)
{
	return lb->srv[i].weight > 0 && (excluded == NULL || !excluded[i]);
}

/*
 * Smooth weighted roundrobin: every pick adds each server's weight to its
 * current value, takes the largest and subtracts the total from it.  Weights
 * 5,1,1 give a a b a c a a rather than a a a a a b c.
 */
static int pick_roundrobin(struct fc_lb *lb, const bool *excluded)
{
	int best = -1, total = 0;

	for (int i = 0; i < lb->n; i++) {
		struct fc_lb_server *s = &lb->srv[i];

		if (!usable(lb, excluded, i))
			continue;
		s->current += s->weight;
		total += s->weight;
		if (best < 0 || s->current > lb->srv[best].current)
			best = i;
	}
	if (best >= 0)
		lb->srv[best].current -= total;
	return best;
}

/* Fewest connections per unit of weight; ties rotate. */
static int pick_leastconn(struct fc_lb *lb, const bool *excluded)
{
	int best = -1;

	for (int k = 0; k < lb->n; k++) {
		int i = (int)((lb->next + (unsigned int)k) % (unsigned int)lb->n);
		const struct fc_lb_server *s = &lb->srv[i], *b;

		if (!usable(lb, excluded, i))
			continue;
		if (best < 0) {
			best = i;
			continue;
		}
		b = &lb->srv[best];
		if ((long)s->conns * b->weight < (long)b->conns * s->weight)
			best = i;
	}
	lb->next++;
	return best;
}

/* The same client address lands on the same server while the set is unchanged. */
static int pick_source(struct fc_lb *lb, const bool *excluded, uint32_t hash)
{
	long total = 0, point;

	for (int i = 0; i < lb->n; i++)
		if (usable(lb, excluded, i))
			total += lb->srv[i].weight;
	if (total == 0)
		return -1;
	point = (long)(hash % (uint32_t)total);
	for (int i = 0; i < lb->n; i++) {
		if (!usable(lb, excluded, i))
			continue;
		point -= lb->srv[i].weight;
		if (point < 0)
			return i;
	}
	return -1;
}

int lb_pick(struct fc_lb *lb, const bool *excluded, uint32_t hash)
{
	switch (lb->algo) {
	case FC_BALANCE_LEASTCONN:
		return pick_leastconn(lb, excluded);
	case FC_BALANCE_SOURCE:
		return pick_source(lb, excluded, hash);
	case FC_BALANCE_ROUNDROBIN:
	default:
		return pick_roundrobin(lb, excluded);
	}
}

void lb_conn_add(struct fc_lb *lb, int server, int delta)
{
	if (server >= 0 && server < lb->n)
		lb->srv[server].conns += delta;
}
