/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Guard pages for the parsers' unit tests: guarded() copies an input so
 * that it ends right before a PROT_NONE page, as in picohttpparser's
 * test.c, so that reading one byte too far crashes the test.
 */
#ifndef FC_T_GUARD_H
#define FC_T_GUARD_H

#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * Copies stay mapped while the test looks at what was parsed (names and
 * values point into them); a small ring recycles the oldest.
 */
#define GUARD_RING	32
static struct { char *map; size_t size; } guards[GUARD_RING];
static unsigned int guard_next;

/* A copy of s[0..len) whose last byte is followed by a PROT_NONE page. */
static inline const char *guarded(const void *s, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t data = (len + pg - 1) / pg * pg;
	unsigned int slot = guard_next++ % GUARD_RING;
	char *map;

	if (guards[slot].map != NULL)
		munmap(guards[slot].map, guards[slot].size);
	map = mmap(NULL, data + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mprotect(map + data, pg, PROT_NONE), 0);
	guards[slot].map = map;
	guards[slot].size = data + pg;
	if (len > 0)
		memcpy(map + data - len, s, len);
	return map + data - len;
}

#endif
