/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Free lists of fixed-size blocks: a worker's 16 KiB buffers and what a
 * transaction holds only while it runs, so that an idle connection holds
 * none and the allocator is not asked for them on every request.  A free
 * block's first word links the next; at most POOL_MAX_FREE are kept.
 */
#ifndef FC_LIB_POOL_H
#define FC_LIB_POOL_H

#include <stddef.h>

#define POOL_MAX_FREE	256

struct fc_pool {
	void *free;
	int nfree;
	size_t size;			/* of a block, at least a pointer's */
};

#define POOL_INIT(sz)	{ NULL, 0, (sz) }

/* A block of p->size bytes, uninitialised; NULL when out of memory.
 * The caller gives it back with pool_put(). */
void *pool_get(struct fc_pool *p);
/* Takes o back (NULL is ignored). */
void pool_put(struct fc_pool *p, void *o);

#endif
