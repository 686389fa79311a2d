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
#include <sys/types.h>

#include "conf/conf.h"
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
 * by name -- server health, learned sessions, counters (shm_carry) -- and
 * renames it over prev's name.  prev stays mapped for the old generation.
 * Returns 0, or -1 with err set and nothing changed.
 */
int shm_create_next(struct fc_shm *next, const struct fc_shm *prev,
    const struct fc_conf *conf, int nworkers, char *err, size_t errlen);
/* The carrying itself (shm/carry.c), before next has any process. */
void shm_carry(struct fc_shm *next, const struct fc_shm *prev, uint64_t now_ms);
/*
 * Master: next's retired counters := prev's retired counters + what prev's
 * workers counted, servers matched by name.  Called again while prev's
 * workers finish, so what they count before exiting is not lost.
 */
void shm_fold_retired(struct fc_shm *next, const struct fc_shm *prev);

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
 * read indices writable; the worker blocks and the rings not.
 */
int shm_protect_checker(struct fc_shm *shm);

/* The ha process writes its block in the header page, nothing else. */
int shm_protect_ha(struct fc_shm *shm);

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

/* Index of server s of listener l in the server table. */
uint32_t shm_server_index(const struct fc_conf *conf, int l, int s);

#endif
