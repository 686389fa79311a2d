/* SPDX-License-Identifier: BSD-2-Clause */
/* The balancer: weighted roundrobin, leastconn, source, exclusions. */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "worker/balance.h"

static struct fc_server servers[4];

static void setup(const int *weights, int n)
{
	memset(servers, 0, sizeof(servers));
	for (int i = 0; i < n; i++) {
		servers[i].weight = weights[i];
		snprintf(servers[i].name, sizeof(servers[i].name), "s%d", i);
	}
}

static void count_picks(struct fc_lb *lb, int rounds, const bool *excl, int *counts)
{
	for (int i = 0; i < rounds; i++) {
		int k = lb_pick(lb, excl, 0);

		cr_assert(k >= 0 && k < lb->n, "pick %d out of range", k);
		counts[k]++;
	}
}

Test(balance, roundrobin_alternates_equal_weights)
{
	struct fc_lb lb;
	int w[] = { 1, 1 };

	setup(w, 2);
	lb_init(&lb, FC_BALANCE_ROUNDROBIN, servers, 2);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(lb_pick(&lb, NULL, 0), i % 2);
	lb_free(&lb);
}

Test(balance, roundrobin_honours_weights_without_bursts)
{
	struct fc_lb lb;
	int w[] = { 5, 1, 1 }, counts[3] = { 0 }, seq[7];

	setup(w, 3);
	lb_init(&lb, FC_BALANCE_ROUNDROBIN, servers, 3);
	for (int i = 0; i < 7; i++)
		seq[i] = lb_pick(&lb, NULL, 0);
	/* smooth: the heavy server never gets more than 3 in a row */
	for (int i = 0; i + 3 < 7; i++)
		cr_assert(!(seq[i] == 0 && seq[i + 1] == 0 && seq[i + 2] == 0 && seq[i + 3] == 0));
	count_picks(&lb, 700, NULL, counts);
	cr_assert_eq(counts[0], 500);
	cr_assert_eq(counts[1], 100);
	cr_assert_eq(counts[2], 100);
	lb_free(&lb);
}

Test(balance, weight_zero_gets_nothing)
{
	struct fc_lb lb;
	int w[] = { 0, 3 }, counts[2] = { 0 };

	setup(w, 2);
	lb_init(&lb, FC_BALANCE_ROUNDROBIN, servers, 2);
	count_picks(&lb, 50, NULL, counts);
	cr_assert_eq(counts[0], 0);
	cr_assert_eq(counts[1], 50);
	lb_free(&lb);
}

Test(balance, excluded_servers_are_skipped)
{
	struct fc_lb lb;
	int w[] = { 1, 1, 1 }, counts[3] = { 0 };
	bool excl[3] = { false, true, false };

	setup(w, 3);
	lb_init(&lb, FC_BALANCE_ROUNDROBIN, servers, 3);
	count_picks(&lb, 30, excl, counts);
	/* An excluded (full, tried) server passes its turn to the next one. */
	cr_assert_eq(counts[1], 0);
	cr_assert_eq(counts[0] + counts[2], 30);
	cr_assert(counts[0] >= 10 && counts[2] >= 10);
	lb_free(&lb);
}

Test(balance, weight_set_to_zero_shares_evenly)
{
	struct fc_lb lb;
	int w[] = { 1, 1, 1 }, counts[3] = { 0 };

	setup(w, 3);
	lb_init(&lb, FC_BALANCE_ROUNDROBIN, servers, 3);
	lb_set_weight(&lb, 1, 0);		/* DOWN: the schedule is rebuilt */
	count_picks(&lb, 30, NULL, counts);
	cr_assert_eq(counts[1], 0);
	cr_assert_eq(counts[0], 15);
	cr_assert_eq(counts[2], 15);
	lb_set_weight(&lb, 1, 1);		/* back */
	count_picks(&lb, 30, NULL, counts);
	cr_assert_eq(counts[1], 10);
	lb_free(&lb);
}

/* Two workers' balancers on one shared ticket give one process's sequence. */
Test(balance, shared_ticket_interleaves_workers)
{
	struct fc_lb a, b;
	uint64_t ticket = 0;
	int w[] = { 1, 1 }, seq[8];

	setup(w, 2);
	lb_init(&a, FC_BALANCE_ROUNDROBIN, servers, 2);
	lb_init(&b, FC_BALANCE_ROUNDROBIN, servers, 2);
	lb_share(&a, &ticket);
	lb_share(&b, &ticket);
	/* a a b a b b a b: whoever asks, the answers alternate */
	seq[0] = lb_pick(&a, NULL, 0);
	seq[1] = lb_pick(&a, NULL, 0);
	seq[2] = lb_pick(&b, NULL, 0);
	seq[3] = lb_pick(&a, NULL, 0);
	seq[4] = lb_pick(&b, NULL, 0);
	seq[5] = lb_pick(&b, NULL, 0);
	seq[6] = lb_pick(&a, NULL, 0);
	seq[7] = lb_pick(&b, NULL, 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(seq[i], i % 2, "pick %d went to %d", i, seq[i]);
	lb_free(&a);
	lb_free(&b);
}

Test(balance, all_excluded_returns_minus_one)
{
	struct fc_lb lb;
	int w[] = { 1, 1 };
	bool excl[2] = { true, true };

	setup(w, 2);
	for (enum fc_balance a = FC_BALANCE_ROUNDROBIN; a <= FC_BALANCE_SOURCE; a++) {
		lb_init(&lb, a, servers, 2);
		cr_assert_eq(lb_pick(&lb, excl, 7), -1, "algorithm %d", a);
		lb_free(&lb);
	}
}

Test(balance, leastconn_prefers_fewest_connections_per_weight)
{
	struct fc_lb lb;
	int w[] = { 1, 2 };

	setup(w, 2);
	lb_init(&lb, FC_BALANCE_LEASTCONN, servers, 2);
	lb_conn_add(&lb, 0, 1);
	lb_conn_add(&lb, 1, 1);
	cr_assert_eq(lb_pick(&lb, NULL, 0), 1);	/* 1/2 < 1/1 */
	lb_conn_add(&lb, 1, 2);
	cr_assert_eq(lb_pick(&lb, NULL, 0), 0);	/* 1/1 < 3/2 */
	lb_free(&lb);
}

Test(balance, leastconn_rotates_ties)
{
	struct fc_lb lb;
	int w[] = { 1, 1, 1 }, counts[3] = { 0 };

	setup(w, 3);
	lb_init(&lb, FC_BALANCE_LEASTCONN, servers, 3);
	count_picks(&lb, 30, NULL, counts);
	cr_assert_eq(counts[0], 10);
	cr_assert_eq(counts[1], 10);
	cr_assert_eq(counts[2], 10);
	lb_free(&lb);
}

Test(balance, source_is_stable_and_spreads)
{
	struct fc_lb lb;
	int w[] = { 1, 1 }, seen[2] = { 0 };

	setup(w, 2);
	lb_init(&lb, FC_BALANCE_SOURCE, servers, 2);
	for (uint32_t h = 0; h < 100; h++) {
		int k = lb_pick(&lb, NULL, h * 2654435761u);

		cr_assert_eq(lb_pick(&lb, NULL, h * 2654435761u), k);
		seen[k]++;
	}
	cr_assert(seen[0] > 20 && seen[1] > 20);
	lb_free(&lb);
}

/* ---------------------------------------- source: rendezvous hashing */

#define CLIENTS	20000

static uint64_t client(uint32_t k)
{
	return hash_fnv1a(HASH_FNV1A_INIT, &k, sizeof(k));
}

static void source_lb(struct fc_lb *lb, const char *const *names, const int *w, int n)
{
	struct fc_server s[8];

	memset(s, 0, sizeof(s));
	for (int i = 0; i < n; i++) {
		snprintf(s[i].name, sizeof(s[i].name), "%s", names[i]);
		s[i].weight = w[i];
	}
	lb_init(lb, FC_BALANCE_SOURCE, s, n);
}

Test(balance, source_spreads_by_weight)
{
	static const char *const names[] = { "webA", "webB", "webC" };
	int w[] = { 1, 1, 2 }, seen[3] = { 0 };
	struct fc_lb lb;

	source_lb(&lb, names, w, 3);
	for (uint32_t k = 0; k < CLIENTS; k++)
		seen[lb_pick(&lb, NULL, client(k))]++;
	/* 25 %, 25 %, 50 %, within 2 points */
	cr_expect(abs(seen[0] - CLIENTS / 4) < CLIENTS / 50, "%d", seen[0]);
	cr_expect(abs(seen[1] - CLIENTS / 4) < CLIENTS / 50, "%d", seen[1]);
	cr_expect(abs(seen[2] - CLIENTS / 2) < CLIENTS / 50, "%d", seen[2]);
	lb_free(&lb);
}

Test(balance, source_a_leaving_server_moves_only_its_clients)
{
	static const char *const names[] = { "a", "b", "c", "d", "e" };
	int w[] = { 1, 2, 1, 3, 1 }, moved = 0, had = 0;
	bool excl[5] = { false, false, true, false, false };
	struct fc_lb lb;

	source_lb(&lb, names, w, 5);
	for (uint32_t k = 0; k < CLIENTS; k++) {
		int before = lb_pick(&lb, NULL, client(k));
		int after = lb_pick(&lb, excl, client(k));

		had += before == 2;
		if (before != 2)
			moved += after != before;
		cr_assert_neq(after, 2);
	}
	cr_expect_eq(moved, 0, "%d clients of other servers moved", moved);
	cr_expect(had > CLIENTS / 15, "c had its share: %d", had);
	lb_free(&lb);
}

Test(balance, source_ignores_the_order_of_the_servers)
{
	static const char *const one[] = { "webA", "webB", "webC", "webD" };
	static const char *const two[] = { "webC", "webA", "webD", "webB" };
	int w1[] = { 1, 2, 3, 1 }, w2[] = { 3, 1, 1, 2 };
	struct fc_lb a, b;

	source_lb(&a, one, w1, 4);
	source_lb(&b, two, w2, 4);
	for (uint32_t k = 0; k < CLIENTS; k++)
		cr_assert_str_eq(one[lb_pick(&a, NULL, client(k))],
		    two[lb_pick(&b, NULL, client(k))], "client %u", k);
	lb_free(&a);
	lb_free(&b);
}
