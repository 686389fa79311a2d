/* SPDX-License-Identifier: BSD-2-Clause */
/* Server selection (see balance.h). */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/hash.h"
#include "worker/balance.h"

#define SCHED_MAX	4096	/* one round's length, at most: weights scaled down */

void lb_init(struct fc_lb *lb, enum fc_balance algo, const struct fc_server *servers, int n)
{
	lb->algo = algo;
	lb->n = n;
	lb->next = 0;
	lb->srv = xcalloc((size_t)n, sizeof(*lb->srv));
	for (int i = 0; i < n; i++) {
		lb->srv[i].weight = servers[i].weight;
		lb->srv[i].key = hash_fnv1a(HASH_FNV1A_INIT, servers[i].name,
		    strlen(servers[i].name));
	}
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

/* SplitMix64's finaliser: each input bit flips about half the output bits. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/*
 * Weighted rendezvous hashing (Thaler and Ravishankar, in Schindelhauer's
 * weighted form -w / ln(u)): every usable server scores the client, the
 * highest wins, and a server wins a share of clients proportional to its
 * weight.  The score depends on the client, the server's name and its
 * weight only: nodes that list the same servers in any order send a client
 * to the same one, and a server that leaves (DOWN, weight 0) takes only its
 * own clients away; nobody else moves.
 */
static int pick_source(struct fc_lb *lb, const bool *excluded, uint64_t hash)
{
	double best_score = 0;
	int best = -1;

	for (int i = 0; i < lb->n; i++) {
		/* 53 bits, centred: u in (0, 1), so ln(u) < 0. */
		double u = ((double)(mix64(hash ^ lb->srv[i].key) >> 11) + 0.5) * 0x1p-53;
		double score;

		if (!usable(lb, excluded, i))
			continue;
		score = -(double)lb->srv[i].weight / log(u);
		if (best < 0 || score > best_score) {
			best = i;
			best_score = score;
		}
	}
	return best;
}

int lb_pick(struct fc_lb *lb, const bool *excluded, uint64_t hash)
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
