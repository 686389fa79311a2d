/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The instance's shared-memory segment (layout in shm-t.h): created by the
 * master, inherited by every child through fork, opened read-only by
 * fulcrum-stat.  Its name derives from the config file's real path, so
 * instances with different files never collide.
 */
#ifndef FC_SHM_H
#define FC_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "shm/access.h"
#include "shm/carry.h"

/*
 * With this header come access.h (struct fc_shm, shm_load() and the other
 * atomics, shm_server(), shm_listener(), shm_worker(), shm_worker_tls(),
 * shm_retired()) and carry.h
 * (shm_fold_retired()): the segment's whole API in one include.
 */

/* "/fulcrum-" and 16 hex digits of the SHA-256 of the real path. */
void shm_name_for(const char *real_path, char *name, size_t len);

/*
 * Master: creates and initialises the segment for conf.  A segment of the
 * same name whose master is dead is replaced; one whose master is alive is
 * an error (the same config already runs).  Returns 0, or -1 with err set.
 */
int shm_create(struct fc_shm *shm, const struct fc_conf *conf, int nworkers,
    char *err, size_t errlen);
/*
 * Master, on reload: creates the segment of the next generation of the
 * same instance (same name) for conf, carries over from prev what matches
 * by name -- server health, learned sessions, counters (carry.h) -- and
 * renames it over prev's name.  prev stays mapped for the old generation.
 * Returns 0, or -1 with err set and nothing changed.
 */
int shm_create_next(struct fc_shm *next, const struct fc_shm *prev,
    const struct fc_conf *conf, int nworkers, char *err, size_t errlen);
/*
 * Master to the ha process, which lives across reloads: the new segment's
 * descriptor (SCM_RIGHTS) and name over a unix socket.  shm_recv() maps
 * what came, read-write, after checking its header.  0, or -1.
 */
int shm_send(int sock, const struct fc_shm *shm);
int shm_recv(int sock, struct fc_shm *shm, char *err, size_t errlen);

/* Unmaps and removes the segment (clean stop). */
void shm_destroy(struct fc_shm *shm);

/* Tools: maps name read-only after checking magic, version and size. */
int shm_attach_ro(struct fc_shm *shm, const char *name, char *err, size_t errlen);
void shm_detach(struct fc_shm *shm);
/* Is the instance that created this segment still running (its lock held)? */
bool shm_instance_alive(const struct fc_shm *shm);
/*
 * Is this mapping still the segment under its name?  Not once a reload has
 * renamed the next generation's segment over it (a tool that watches
 * attaches again), nor once the instance has stopped and removed it.
 */
bool shm_name_is_ours(const struct fc_shm *shm);

/*
 * Lists the names of live instances (segments whose master is alive), at
 * most max, into names; returns how many there are.
 */
int shm_list_live(char names[][FC_SHM_NAME_LEN], int max);

/* Leaves only the worker's own block and session ring writable in its mapping. */
int shm_protect_worker(struct fc_shm *shm, int slot);
/*
 * Leaves the header, the server table, the session table and the rings'
 * read indices writable; the worker blocks and the rings not, but for
 * the ha "out" ring, which the checker fills.
 */
int shm_protect_checker(struct fc_shm *shm);

/* The ha process writes its block in the header page and its "in" ring. */
int shm_protect_ha(struct fc_shm *shm);

/*
 * Index of server s of backend b (conf->backends) in the server table:
 * the order in which shm_create() lays the config's servers out.
 */
uint32_t shm_server_index(const struct fc_conf *conf, int b, int s);

/* Entries of the rate-limit table when some listener has "rate_limit". */
#define FC_RATE_ENTRIES		65536

#endif
