/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The control page: how fulcrumctl asks the checker -- the single writer
 * of server state -- to drain, put in maintenance, make ready or reweight a
 * server.  A one-page shared-memory file beside the segment ("NAME.ctl"),
 * created by the master, readable and writable by root and the group of
 * `global.group` only: that mode is fulcrumctl's permission check.
 *
 * One request at a time: fulcrumctl claims the page (compare-and-swap of
 * `state` from FREE, a dead claimer's page is taken over), fills it in,
 * posts it; the checker of the running generation applies it within
 * CTL_POLL_MS and answers (DONE, result, msg); fulcrumctl reads the answer
 * and frees the page.
 */
#ifndef FC_SHM_CTL_H
#define FC_SHM_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/access.h"

#define FC_CTL_MAGIC	UINT64_C(0x314c5443435546)	/* "FUCCTL1" */
#define FC_CTL_VERSION	1
#define FC_CTL_POLL_MS	50		/* the checker looks this often */

enum fc_ctl_op {
	FC_CTL_READY = 1,
	FC_CTL_DRAIN = 2,
	FC_CTL_MAINT = 3,
	FC_CTL_WEIGHT = 4,
};

enum fc_ctl_state {
	FC_CTL_FREE = 0,
	FC_CTL_CLAIMED = 1,		/* fulcrumctl fills it in */
	FC_CTL_POSTED = 2,		/* for the checker */
	FC_CTL_DONE = 3,		/* answered: result, msg */
};

struct fc_ctl_page {
	uint64_t magic;
	uint32_t version;
	uint32_t state;			/* enum fc_ctl_state, atomic */
	int32_t owner;			/* pid of the fulcrumctl that claimed it */
	uint32_t generation;		/* the segment's generation it is for */
	uint32_t op;			/* enum fc_ctl_op */
	int32_t value;			/* FC_CTL_WEIGHT: the weight */
	int32_t result;			/* 0, or an errno value */
	uint32_t pad;
	char backend[FC_SHM_NAME_LEN];
	char server[FC_SHM_NAME_LEN];
	char msg[256];			/* the checker's answer, for the operator */
	uint8_t reserved[3672];
};

_Static_assert(sizeof(struct fc_ctl_page) == FC_SHM_PAGE, "the control page is a page");

struct fc_ctl {
	struct fc_ctl_page *page;
	int fd;
};

/* "/fulcrum-HEX.ctl" for segment name. */
void ctl_name_for(const char *shm_name, char *name, size_t len);

/* Master: creates (replacing a stale one) the page of segment name, group gid
 * (-1: root's only).  0, or -1 with err set. */
int ctl_create(struct fc_ctl *ctl, const char *shm_name, gid_t gid, char *err,
    size_t errlen);
/* Master, at a clean stop. */
void ctl_destroy(struct fc_ctl *ctl, const char *shm_name);

/* fulcrumctl: maps the page read-write.  0, or -1 with err set (errno kept). */
int ctl_attach(struct fc_ctl *ctl, const char *shm_name, char *err, size_t errlen);
void ctl_detach(struct fc_ctl *ctl);
/*
 * fulcrumctl: posts op and waits up to timeout_ms for the answer.  Returns
 * the checker's result (0 or an errno value, msg its words), or ETIMEDOUT,
 * or EBUSY when another fulcrumctl holds the page that long.
 */
int ctl_request(struct fc_ctl *ctl, uint32_t generation, enum fc_ctl_op op,
    const char *backend, const char *server, int value, int timeout_ms,
    char *msg, size_t msglen);

/* Checker: the request waiting for generation gen, or NULL. */
struct fc_ctl_page *ctl_pending(const struct fc_ctl *ctl, uint32_t gen);
/* Checker: answers it. */
void ctl_answer(struct fc_ctl_page *p, int result, const char *msg);

#endif
