/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Learned sessions: session id -> server, in the shared segment (layout in
 * shm-t.h, design in session.c).  A worker that sees a backend set the
 * `stick` cookie pushes what it learned into its own ring; the checker, the
 * table's single writer, drains the rings and expires old entries; every
 * worker looks sessions up lock-free.
 *
 * Times are CLOCK_MONOTONIC milliseconds (clock_mono_ms(), ev_now()): the
 * same clock in every process of the host.  Keys are the cookie's value,
 * 1 to FC_SESSION_KEY_MAX bytes; any other length is never learned and
 * never found.
 */
#ifndef FC_SHM_SESSION_H
#define FC_SHM_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "shm/access.h"

/* Table entries the config asks for: the sum of its backends' stick.size. */
uint32_t session_capacity(const struct fc_conf *conf);

/*
 * Worker `slot`: queues "key now belongs to server" (a global server index,
 * shm_server_index()), to live ttl_s seconds after its last use.  Never
 * blocks: returns 0, or -1 when the ring is full (counted in the ring's
 * `dropped`) or the key's length is out of range (counted in `rejected`).
 */
int session_push(struct fc_shm *shm, int slot, const char *key, size_t keylen,
    uint32_t server, uint32_t ttl_s, uint64_t now_ms);

/*
 * Any process: the server of backend's session key, or -1 when it is
 * unknown, expired, or was being rewritten during every try (a torn read
 * is a miss, never another session's server).
 */
int session_lookup(const struct fc_shm *shm, uint32_t backend, const char *key,
    size_t keylen, uint64_t now_ms);

/*
 * Worker `slot`, on each request carrying a session: session_lookup(), and
 * on a hit whose last-seen time is older than an eighth of its ttl (clamped
 * to 0.1..60 s), a "touch" pushed into the ring so the checker extends it.
 * At most one touch per session and worker per that interval.
 */
int session_use(struct fc_shm *shm, int slot, uint32_t backend, const char *key,
    size_t keylen, uint64_t now_ms);

/* Checker: applies every pending ring record to the table. */
void session_drain(struct fc_shm *shm, uint64_t now_ms);

/*
 * Checker: frees expired entries among the next `budget` of the table
 * (0: the whole table), resuming where the previous call stopped.
 * Returns how many it freed.  Lookups already ignore expired entries:
 * this only makes room and keeps the count right.
 */
uint32_t session_expire(struct fc_shm *shm, uint64_t now_ms, uint32_t budget);

/*
 * Checker, at start: repairs an entry a crashed checker left half-written
 * (seq odd: the entry is freed) and recounts the live entries.
 */
void session_recover(struct fc_shm *shm);

/*
 * Master, on reload, before dst has any process: copies src's live
 * sessions into dst, server i of src becoming server map[i] of dst
 * (UINT32_MAX: gone, the session is dropped).  A smaller dst keeps what
 * fits, evicting as session_drain() does.
 */
void session_import(struct fc_shm *dst, const struct fc_shm *src, const uint32_t *map,
    uint64_t now_ms);

/*
 * The sync channel (issue 18.2), in the ha process; all do nothing without
 * the ha rings (stick and ha.sync).  session_ha_push() hands a session the
 * peer node learned to the checker (0, or -1 when the ring is full);
 * session_ha_next() takes the next record the checker applied from a
 * worker, to send to the peer (1, or 0 when there is none);
 * session_ha_skip() forgets those not taken (no channel: a full copy
 * follows when it is back).
 */
int session_ha_push(struct fc_shm *shm, const struct fc_shm_ring_rec *rec);
int session_ha_next(struct fc_shm *shm, struct fc_shm_ring_rec *rec);
void session_ha_skip(struct fc_shm *shm);

/*
 * Any process: the live entries among the next ones from *cursor on, as
 * "learn" records (when_ms: last seen), at most n, *cursor moved past the
 * entries looked at.  Returns how many; done when *cursor reaches the
 * table's capacity (header nsessions).
 */
uint32_t session_scan(const struct fc_shm *shm, uint32_t *cursor,
    struct fc_shm_ring_rec *rec, uint32_t n, uint64_t now_ms);

/* Live entries (header sessions.used), and records dropped by every ring. */
uint32_t session_count(const struct fc_shm *shm);
uint64_t session_dropped(const struct fc_shm *shm);

#endif
