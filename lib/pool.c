/* SPDX-License-Identifier: BSD-2-Clause */
/* Free lists of fixed-size blocks (pool.h). */
#include "config.h"

#include <stdlib.h>

#include "lib/pool.h"

void *pool_get(struct fc_pool *p)
{
	void *o = p->free;

	if (o == NULL)
		return malloc(p->size);
	p->free = *(void **)o;
	p->nfree--;
	return o;
}

void pool_put(struct fc_pool *p, void *o)
{
	if (o == NULL)
		return;
	if (p->nfree >= POOL_MAX_FREE) {
		free(o);
		return;
	}
	*(void **)o = p->free;
	p->free = o;
	p->nfree++;
}
