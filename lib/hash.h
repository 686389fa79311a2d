/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * FNV-1a, the one hash of the tree: session ids, balance = "source", the
 * learned-session table.  Not for anything an attacker may aim at a table
 * with (the session table mixes in a finalizer and bounds its probes).
 * Feed it in pieces: h = hash_fnv1a(h, p, n) from HASH_FNV1A_INIT.
 */
#ifndef FC_LIB_HASH_H
#define FC_LIB_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV1A_INIT	UINT64_C(0xcbf29ce484222325)

static inline uint64_t hash_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	return h;
}

#endif
