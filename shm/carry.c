/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a reload carries from the old generation's segment to the new one
 * (carry.h; shm.c's shm_create_next() calls shm_carry()).  Servers are matched by
 * listener and server name, listeners by name, never by index: a reload may
 * add, remove or reorder them.
 *
 *  - Health: a server with the same name, address and `check` keeps its
 *    state, its last result and its count towards rise/fall, so the new
 *    checker carries on instead of flapping it (checked servers start UP).
 *  - Sessions: every live learned session whose server still exists.
 *  - HA state: as the ha process last wrote it, until it writes here.
 *  - Counters: the old segment's retired block plus its workers' blocks
 *    become the new segment's retired block.  Gauges (current
 *    connections) are not carried: they belong to processes still running
 *    in the old segment.  A listener's TLS counters follow its name, even
 *    while TLS is off in one generation, so that they never go back if it
 *    is turned on again; a renamed listener starts afresh, as a renamed
 *    server does.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "shm/carry.h"
#include "shm/session.h"

/* Index in next of prev's server i, or UINT32_MAX when it is gone. */
static uint32_t find_server(const struct fc_shm *next, const struct fc_shm_server *old)
{
	for (uint32_t j = 0; j < next->hdr->nservers; j++) {
		const struct fc_shm_server *sv = shm_server(next, j);

		if (strcmp(sv->backend, old->backend) == 0 && strcmp(sv->name, old->name) == 0)
			return j;
	}
	return UINT32_MAX;
}

static uint32_t *server_map(const struct fc_shm *next, const struct fc_shm *prev)
{
	uint32_t n = prev->hdr->nservers;
	uint32_t *map = xcalloc(n + 1, sizeof(*map));

	for (uint32_t i = 0; i < n; i++)
		map[i] = find_server(next, shm_server(prev, i));
	return map;
}

/* Index in next of the listener named like old, or UINT32_MAX when it is gone. */
static uint32_t find_listener(const struct fc_shm *next, const struct fc_shm_listener *old)
{
	for (uint32_t j = 0; j < next->hdr->nlisteners; j++)
		if (strcmp(shm_listener(next, j)->name, old->name) == 0)
			return j;
	return UINT32_MAX;
}

/* Where prev's servers and listeners are in next (freed by map_free()). */
struct carry_map {
	uint32_t *srv;
	uint32_t *lst;
};

static void map_build(struct carry_map *m, const struct fc_shm *next,
    const struct fc_shm *prev)
{
	uint32_t n = prev->hdr->nlisteners;

	m->srv = server_map(next, prev);
	m->lst = xcalloc(n + 1, sizeof(*m->lst));
	for (uint32_t i = 0; i < n; i++)
		m->lst[i] = find_listener(next, shm_listener(prev, i));
}

static void map_free(struct carry_map *m)
{
	free(m->srv);
	free(m->lst);
}

/*
 * What the operator set (fulcrumctl) stays over a reload, checked or not,
 * and shows from the start: the new workers serve before the new checker
 * publishes anything (a checked server's state comes in carry_health).
 */
static void carry_admin(struct fc_shm_server *to, const struct fc_shm_server *from)
{
	to->admin = shm_load(&from->admin);
	to->state = shm_shown_state(to->state, to->admin);
	if (shm_load(&from->weight_set)) {
		to->weight = to->eweight = shm_load(&from->weight);
		to->weight_set = 1;
	}
}

static void carry_health(struct fc_shm_server *to, const struct fc_shm_server *from)
{
	if (strcmp(to->address, from->address) != 0 || !to->checked || !from->checked)
		return;			/* another server under the same name */
	to->state = shm_load_acq(&from->state);
	to->health = shm_load(&from->health);
	to->check_result = shm_load(&from->check_result);
	to->check_code = shm_load(&from->check_code);
	to->check_duration_ms = shm_load(&from->check_duration_ms);
	to->check_count = shm_load(&from->check_count);
	to->last_check_us = shm_load(&from->last_check_us);
	to->last_change_us = shm_load(&from->last_change_us);
	to->up_since_ms = shm_load(&from->up_since_ms);
	if (to->slowstart_ms > 0 && to->slowstart_ms == from->slowstart_ms)
		to->eweight = shm_load(&from->eweight);	/* the ramp goes on */
	to->checks = shm_load(&from->checks);
	to->check_failures = shm_load(&from->check_failures);
	memcpy(to->check_desc, from->check_desc, sizeof(to->check_desc));
	to->check_desc[sizeof(to->check_desc) - 1] = '\0';
}

/* to->f += from->f, gauges left out: they stay with the old processes. */
#define ADD_TOTAL(f, kind, ...) \
	if (!FC_SHM_IS_GAUGE(kind)) \
		to->f += shm_load(&from->f);
/* to->f := from->f, stored atomically, gauges left out. */
#define STORE_TOTAL(f, kind, ...) \
	if (!FC_SHM_IS_GAUGE(kind)) \
		shm_store(&to->f, from->f);

static void add_srv(struct fc_shm_srv_counters *to, const struct fc_shm_srv_counters *from)
{
	FC_SHM_SRV_COUNTERS(ADD_TOTAL)
}

static void add_tls(struct fc_shm_tls_counters *to, const struct fc_shm_tls_counters *from)
{
	FC_SHM_TLS_COUNTERS(ADD_TOTAL)
	for (int k = 0; k < FC_TLS_FAIL_MAX; k++)
		to->failures[k] += shm_load(&from->failures[k]);
}

/*
 * to (a block laid out as next's) += the totals of prev's block from,
 * servers and listeners mapped through m.
 */
static void add_block(const struct fc_shm *next, struct fc_shm_worker *to,
    const struct fc_shm *prev, struct fc_shm_worker *from, const struct carry_map *m)
{
	FC_SHM_WORKER_COUNTERS(ADD_TOTAL)
	for (int k = 0; k < FC_ERR_MAX; k++)
		to->errors[k] += shm_load(&from->errors[k]);
	for (uint32_t i = 0; i < prev->hdr->nservers; i++)
		if (m->srv[i] != UINT32_MAX)
			add_srv(&to->srv[m->srv[i]], &from->srv[i]);
	for (uint32_t i = 0; i < prev->hdr->nlisteners; i++)
		if (m->lst[i] != UINT32_MAX)
			add_tls(shm_block_tls(next, to, m->lst[i]), shm_block_tls(prev, from, i));
}

static void store_srv(struct fc_shm_srv_counters *to, const struct fc_shm_srv_counters *from)
{
	FC_SHM_SRV_COUNTERS(STORE_TOTAL)
}

static void store_tls(struct fc_shm_tls_counters *to, const struct fc_shm_tls_counters *from)
{
	FC_SHM_TLS_COUNTERS(STORE_TOTAL)
	for (int k = 0; k < FC_TLS_FAIL_MAX; k++)
		shm_store(&to->failures[k], from->failures[k]);
}

/*
 * Built aside and stored field by field with relaxed atomics: a reader
 * of the new segment may sum it at any moment and must never see a total
 * lower than the previous one.
 */
static void publish_retired(struct fc_shm *next, struct fc_shm_worker *from)
{
	struct fc_shm_worker *to = shm_retired(next);

	FC_SHM_WORKER_COUNTERS(STORE_TOTAL)
	for (int k = 0; k < FC_ERR_MAX; k++)
		shm_store(&to->errors[k], from->errors[k]);
	for (uint32_t j = 0; j < next->hdr->nservers; j++)
		store_srv(&to->srv[j], &from->srv[j]);
	for (uint32_t j = 0; j < next->hdr->nlisteners; j++)
		store_tls(shm_block_tls(next, to, j), shm_block_tls(next, from, j));
}

void shm_fold_retired(struct fc_shm *next, const struct fc_shm *prev)
{
	struct fc_shm_worker *sum = xcalloc(1, next->hdr->worker_stride);
	struct carry_map m;

	map_build(&m, next, prev);
	add_block(next, sum, prev, shm_retired(prev), &m);
	for (uint32_t k = 0; k < prev->hdr->nworkers; k++)
		add_block(next, sum, prev, shm_worker(prev, k), &m);
	publish_retired(next, sum);
	free(sum);
	map_free(&m);
}

void shm_carry(struct fc_shm *next, const struct fc_shm *prev, uint64_t now_ms)
{
	uint32_t *map = server_map(next, prev);

	for (uint32_t i = 0; i < prev->hdr->nservers; i++)
		if (map[i] != UINT32_MAX) {
			carry_admin(shm_server(next, map[i]), shm_server(prev, i));
			carry_health(shm_server(next, map[i]), shm_server(prev, i));
		}
	session_import(next, prev, map, now_ms);
	free(map);
	shm_fold_retired(next, prev);
	/* Until the ha process writes the new segment itself. */
	memcpy(&next->hdr->ha, &prev->hdr->ha, sizeof(next->hdr->ha));
	/* A client resumes across the reload with the same keys. */
	memcpy(&next->hdr->tickets, &prev->hdr->tickets, sizeof(next->hdr->tickets));
}

uint32_t *shm_server_map(const struct fc_shm *cur, const struct fc_shm *old)
{
	return server_map(cur, old);
}

/* Byte by byte, as the checker publishes it: always NUL-terminated. */
static void follow_desc(struct fc_shm_server *to, const struct fc_shm_server *from)
{
	for (size_t i = 0; i + 1 < sizeof(to->check_desc); i++)
		shm_store(&to->check_desc[i], shm_load(&from->check_desc[i]));
}

/*
 * The old segment's workers are still reading: every field is stored
 * atomically, the state last and with release, as the checker does.
 */
static void follow_server(struct fc_shm_server *to, const struct fc_shm_server *from)
{
	shm_store(&to->admin, shm_load(&from->admin));
	shm_store(&to->eweight, shm_load(&from->eweight));
	if (strcmp(to->address, from->address) == 0 && to->checked && from->checked) {
		shm_store(&to->check_result, shm_load(&from->check_result));
		shm_store(&to->check_code, shm_load(&from->check_code));
		shm_store(&to->check_duration_ms, shm_load(&from->check_duration_ms));
		shm_store(&to->check_count, shm_load(&from->check_count));
		shm_store(&to->last_check_us, shm_load(&from->last_check_us));
		shm_store(&to->last_change_us, shm_load(&from->last_change_us));
		shm_store(&to->up_since_ms, shm_load(&from->up_since_ms));
		shm_store(&to->checks, shm_load(&from->checks));
		shm_store(&to->check_failures, shm_load(&from->check_failures));
		follow_desc(to, from);
	}
	shm_store_rel(&to->state, shm_load_acq(&from->state));
}

void shm_follow_health(struct fc_shm *old, const struct fc_shm *cur, const uint32_t *map)
{
	for (uint32_t i = 0; i < old->hdr->nservers; i++)
		if (map[i] != UINT32_MAX)
			follow_server(shm_server(old, i), shm_server(cur, map[i]));
}
