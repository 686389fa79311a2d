/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A mapping of the segment and the way every shm file reads and writes it:
 * the atomics and the offsets of its regions (layout in shm-t.h).  The
 * bottom of shm/: it includes nothing of shm/ but shm-t.h, so that
 *
 *   shm.c (create, attach, protect) -> carry.c (reload) -> session.c
 *
 * all stand on it and none of them calls back up.  Outside shm/, take it
 * through shm.h, session.h or report.h.
 */
#ifndef FC_SHM_ACCESS_H
#define FC_SHM_ACCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/shm-t.h"

/*
 * A mapping of the segment.  The master holds an exclusive flock() on the
 * segment's file for the instance's whole life (its children inherit it):
 * "the instance is alive" means "the lock is held", never "a pid exists",
 * which a reused pid, a zombie or a pid namespace would get wrong.
 */
struct fc_shm {
	struct fc_shm_header *hdr;
	size_t size;
	char name[FC_SHM_NAME_LEN];	/* "/fulcrum-0123456789abcdef" */
	int fd;				/* kept open: the lock, or the liveness probe */
	dev_t dev;
	ino_t ino;
};

/* Single-writer counters: never torn for a reader in another process. */
#define shm_load(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define shm_store(p, v)		__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define shm_add(p, v)		shm_store((p), shm_load(p) + (v))
#define shm_load_acq(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define shm_store_rel(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

/*
 * The state a server shows (and the workers follow): its health under what
 * the operator set.  The checker publishes it; a reload's new segment
 * starts from it (carry.c), before the new checker runs.
 */
static inline uint32_t shm_shown_state(uint32_t health, uint32_t admin)
{
	if (admin == FC_ADMIN_MAINT)
		return FC_SRV_MAINT;
	if (health == FC_SRV_DOWN)
		return FC_SRV_DOWN;
	return admin == FC_ADMIN_DRAIN ? FC_SRV_DRAIN : FC_SRV_UP;
}

static inline struct fc_shm_server *shm_server(const struct fc_shm *shm, uint32_t i)
{
	return (struct fc_shm_server *)((char *)shm->hdr + shm->hdr->off_servers) + i;
}

/* Counters of past generations, summed with the live workers' by readers. */
static inline struct fc_shm_worker *shm_retired(const struct fc_shm *shm)
{
	return (struct fc_shm_worker *)((char *)shm->hdr + shm->hdr->off_retired);
}

static inline struct fc_shm_worker *shm_worker(const struct fc_shm *shm, uint32_t slot)
{
	return (struct fc_shm_worker *)((char *)shm->hdr + shm->hdr->off_workers +
	    (size_t)slot * shm->hdr->worker_stride);
}

static inline struct fc_shm_listener *shm_listener(const struct fc_shm *shm, uint32_t i)
{
	return (struct fc_shm_listener *)((char *)shm->hdr + shm->hdr->off_listeners) + i;
}

static inline struct fc_shm_backend *shm_backend(const struct fc_shm *shm, uint32_t i)
{
	return (struct fc_shm_backend *)((char *)shm->hdr + shm->hdr->off_backends) + i;
}

/* Backend b's roundrobin position: every worker's to advance. */
static inline struct fc_shm_rr *shm_rr(const struct fc_shm *shm, uint32_t b)
{
	return (struct fc_shm_rr *)((char *)shm->hdr + shm->hdr->off_shared) + b;
}

/* The rate-limit table, nrate entries after the rr positions. */
static inline struct fc_shm_rate *shm_rate_table(const struct fc_shm *shm)
{
	return (struct fc_shm_rate *)(shm_rr(shm, shm->hdr->nbackends));
}

/*
 * Listener l's TLS counters in block blk of shm: a worker's, the retired
 * one, or a copy laid out like them.  They follow the block's srv[].
 */
static inline struct fc_shm_tls_counters *shm_block_tls(const struct fc_shm *shm,
    struct fc_shm_worker *blk, uint32_t l)
{
	return (struct fc_shm_tls_counters *)&blk->srv[shm->hdr->nservers] + l;
}

/* Worker slot's TLS counters of listener l (config order): its own to write. */
static inline struct fc_shm_tls_counters *shm_worker_tls(const struct fc_shm *shm,
    int worker, int listener)
{
	return shm_block_tls(shm, shm_worker(shm, (uint32_t)worker), (uint32_t)listener);
}

#endif
