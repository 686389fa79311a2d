/*
 * What a reload carries from the old generation's segment to the new one
 * (carry.h; shm.c's shm_create_next() calls shm_carry()).  Servers are matched by
 * listener and server name, never by index: a reload may add, remove or
 * reorder them.
 *
 *  - Health: a server with the same name, address and `check` keeps its
 *    state, its last result and its count towards rise/fall, so the new
 *    checker carries on instead of flapping it (checked servers start UP).
 *  - Sessions: every live learned session whose server still exists.
 *  - HA state: as the ha process last wrote it, until it writes here.
 *  - Counters: the old segment's retired block plus its workers' blocks
 *    become the new segment's retired block.  Gauges (current
 *    connections) are not carried: they belong to processes still running
 *    in the old segment.
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

		if (strcmp(sv->listener, old->listener) == 0 && strcmp(sv->name, old->name) == 0)
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

static void carry_health(struct fc_shm_server *to, const struct fc_shm_server *from)
{
	if (strcmp(to->address, from->address) != 0 || !to->checked || !from->checked)
		return;			/* another server under the same name */
	to->state = shm_load_acq(&from->state);
	to->check_result = shm_load(&from->check_result);
	to->check_code = shm_load(&from->check_code);
	to->check_duration_ms = shm_load(&from->check_duration_ms);
	to->check_count = shm_load(&from->check_count);
	to->last_check_us = shm_load(&from->last_check_us);
	to->last_change_us = shm_load(&from->last_change_us);
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

/* to += the totals of block from, whose servers are mapped through map. */
static void add_block(struct fc_shm_worker *to, const struct fc_shm_worker *from,
    const uint32_t *map, uint32_t nservers)
{
	FC_SHM_WORKER_COUNTERS(ADD_TOTAL)
	for (int k = 0; k < FC_ERR_MAX; k++)
		to->errors[k] += shm_load(&from->errors[k]);
	for (uint32_t i = 0; i < nservers; i++)
		if (map[i] != UINT32_MAX)
			add_srv(&to->srv[map[i]], &from->srv[i]);
}

static void store_srv(struct fc_shm_srv_counters *to, const struct fc_shm_srv_counters *from)
{
	FC_SHM_SRV_COUNTERS(STORE_TOTAL)
}

/*
 * Built aside and stored field by field with relaxed atomics: a reader
 * of the new segment may sum it at any moment and must never see a total
 * lower than the previous one.
 */
static void publish_retired(struct fc_shm *next, const struct fc_shm_worker *from)
{
	struct fc_shm_worker *to = shm_retired(next);

	FC_SHM_WORKER_COUNTERS(STORE_TOTAL)
	for (int k = 0; k < FC_ERR_MAX; k++)
		shm_store(&to->errors[k], from->errors[k]);
	for (uint32_t j = 0; j < next->hdr->nservers; j++)
		store_srv(&to->srv[j], &from->srv[j]);
}

void shm_fold_retired(struct fc_shm *next, const struct fc_shm *prev)
{
	uint32_t *map = server_map(next, prev);
	struct fc_shm_worker *sum = xcalloc(1, next->hdr->worker_stride);

	add_block(sum, shm_retired(prev), map, prev->hdr->nservers);
	for (uint32_t k = 0; k < prev->hdr->nworkers; k++)
		add_block(sum, shm_worker(prev, k), map, prev->hdr->nservers);
	publish_retired(next, sum);
	free(sum);
	free(map);
}

void shm_carry(struct fc_shm *next, const struct fc_shm *prev, uint64_t now_ms)
{
	uint32_t *map = server_map(next, prev);

	for (uint32_t i = 0; i < prev->hdr->nservers; i++)
		if (map[i] != UINT32_MAX)
			carry_health(shm_server(next, map[i]), shm_server(prev, i));
	session_import(next, prev, map, now_ms);
	free(map);
	shm_fold_retired(next, prev);
	/* Until the ha process writes the new segment itself. */
	memcpy(&next->hdr->ha, &prev->hdr->ha, sizeof(next->hdr->ha));
	/* A client resumes across the reload with the same keys. */
	memcpy(&next->hdr->tickets, &prev->hdr->tickets, sizeof(next->hdr->tickets));
}
