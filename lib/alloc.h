/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Allocation wrappers.  fulcrum links jemalloc (unless --without-jemalloc),
 * which replaces malloc for the whole process; these wrappers add the one
 * policy every caller wants: running out of memory at start-up is fatal,
 * on the request path the caller handles NULL from the plain functions.
 */
#ifndef FC_LIB_ALLOC_H
#define FC_LIB_ALLOC_H

#include <stddef.h>

/* Never return NULL: they abort with a message when memory is exhausted.
 * The caller frees the result with free(). */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
