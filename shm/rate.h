/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Per-client rate limits, shared by all workers (layout in shm-t.h): a
 * fixed table of client entries, looked up and updated with atomics only,
 * never a lock.  The limit is nginx's limit_req with nodelay, as GCRA: a
 * client may send `requests` per `per_ms`, evenly, plus `burst` more at
 * once; what goes beyond is refused.
 */
#ifndef FC_SHM_RATE_H
#define FC_SHM_RATE_H

#include <stdint.h>

#include "conf/conf.h"
#include "lib/net.h"
#include "shm/access.h"

/* The table key of a client address on listener l (never 0). */
uint64_t rate_key(uint32_t listener, const union fc_sockaddr *addr);

/*
 * Counts a request of key now (CLOCK_MONOTONIC, us).  Returns 0 when it
 * may pass, else the seconds after which it would (Retry-After, >= 1).
 * A table too busy to give the client an entry lets the request pass.
 */
uint32_t rate_take(struct fc_shm *shm, uint64_t key, const struct fc_rate_limit *rl,
    uint64_t now_us);

#endif
