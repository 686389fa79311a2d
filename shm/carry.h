/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a reload carries from the old generation's segment to the new one
 * (carry.c says what and why).  The master reaches it through shm.h:
 * shm_create_next() calls shm_carry(), the master calls shm_fold_retired()
 * while the old workers finish.
 */
#ifndef FC_SHM_CARRY_H
#define FC_SHM_CARRY_H

#include <stdint.h>

#include "shm/access.h"

/* Health, sessions, counters and HA state, before next has any process. */
void shm_carry(struct fc_shm *next, const struct fc_shm *prev, uint64_t now_ms);
/*
 * Master: next's retired counters := prev's retired counters + what prev's
 * workers counted, servers matched by name.  Called again while prev's
 * workers finish, so what they count before exiting is not lost.
 */
void shm_fold_retired(struct fc_shm *next, const struct fc_shm *prev);

/*
 * A retired generation's checker stops probing and follows the current
 * generation's: for each of old's servers, its index in cur (UINT32_MAX:
 * gone), then the copy, done again and again while old's workers drain.
 */
uint32_t *shm_server_map(const struct fc_shm *cur, const struct fc_shm *old);
void shm_follow_health(struct fc_shm *old, const struct fc_shm *cur, const uint32_t *map);

#endif
