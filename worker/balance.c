/* SPDX-License-Identifier: BSD-2-Clause */
/* Server selection (see balance.h). */
#include "config.h"

#include <stdlib.h>

#include "lib/alloc.h"
#include "worker/balance.h"

#define SCHED_MAX	4096	/* one round's length, at most: weights scaled down */

void lb_init(struct fc_lb *lb, enum fc_balance algo, const struct fc_server *servers, int n)
{
	lb->algo = algo;
	lb->n = n;
	lb->next = 0;
	lb->srv = xcalloc((size_t)n, sizeof(*lb->srv));
	for (int i = 0; i < n; i++)
		lb->srv[i].weight = servers[i].weight;
	lb->sched = xcalloc(SCHED_MAX, sizeof(*lb->sched));
	lb->scratch = xcalloc(2 * (size_t)n + 1, sizeof(*lb->scratch));
	lb->nsched = 0;
	lb->dirty = true;
	lb->own_ticket = 0;
	lb->ticket = &lb->own_ticket;
}

void lb_free(struct fc_lb *lb)
{
	free(lb->srv);
	free(lb->sched);
	free(lb->scratch);
	lb->srv = NULL;
	lb->sched = NULL;
}

void lb_share(struct fc_lb *lb, uint64_t *ticket)
{
	lb->ticket = ticket;
}

void lb_set_weight(struct fc_lb *lb, int i, int weight)
{
	if (lb->srv[i].weight != weight) {
		lb->srv[i].weight = weight;
		lb->dirty = true;
	}
}

static bool usable(const struct fc_lb *lb, const bool *excluded, int i)
{
	return lb->srv[i].weight > 0 && (excluded == NULL || !excluded[i]);
}

/* The weights, scaled so that one round fits SCHED_MAX (none drops to 0). */
static long scaled_weight(const struct fc_lb *lb, int i, long total)
{
	long w = lb->srv[i].weight;

	if (total <= SCHED_MAX || w == 0)
		return w;
	w = w * (SCHED_MAX - lb->n) / total;
	return w > 0 ? w : 1;
}

/*
 * One round of smooth weighted roundrobin: every step adds each server's
 * weight to its current value, takes the largest and subtracts the total
 * from it.  Weights 5,1,1 give a a b a c a a rather than a a a a a b c.
 */
static void build_schedule(struct fc_lb *lb)
{
	long total = 0, sum = 0, *cur = lb->scratch, *w = lb->scratch + lb->n;

	for (int i = 0; i < lb->n; i++)
		total += lb->srv[i].weight;
	for (int i = 0; i < lb->n; i++) {
		w[i] = scaled_weight(lb, i, total);
		cur[i] = 0;
		sum += w[i];
	}
	lb->nsched = (int)sum;
	for (int k = 0; k < lb->nsched; k++) {
		int best = -1;

		for (int i = 0; i < lb->n; i++) {
			cur[i] += w[i];
			if (w[i] > 0 && (best < 0 || cur[i] > cur[best]))
				best = i;
		}
		cur[best] -= sum;
		lb->sched[k] = best;
	}
	lb->dirty = false;
}

/* The schedule at the next ticket; an excluded server passes its turn on. */
static int pick_roundrobin(struct fc_lb *lb, const bool *excluded)
{
	uint64_t t;

	if (lb->dirty)
		build_schedule(lb);
	if (lb->nsched == 0)
		return -1;
	t = __atomic_fetch_add(lb->ticket, 1, __ATOMIC_RELAXED);
	for (int k = 0; k < lb->nsched; k++) {
		int i = lb->sched[(t + (uint64_t)k) % (uint64_t)lb->nsched];

		if (excluded == NULL || !excluded[i])
			return i;
	}
	return -1;
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
