/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The rate-limit table (rate.h).  Entries sit in buckets of RATE_WAYS; a
 * client's entry is found in its bucket by key, or takes the bucket's free
 * or least recently seen entry, claimed by a compare-and-swap of the key.
 * Its state is one word, GCRA's theoretical arrival time (TAT): a request
 * at `now` passes when TAT - now <= burst * interval, and then pushes TAT
 * one interval further -- also a compare-and-swap, retried on a race.
 *
 * A race may cost accuracy, never safety: two workers claiming one entry
 * for two clients leave one of them an entry reset to "fresh"; a client
 * evicted from a full table starts afresh (the table holds FC_RATE_ENTRIES
 * clients seen most recently).
 */
#include "config.h"

#include "lib/hash.h"
#include "shm/rate.h"

#define RATE_WAYS	8
#define CAS_TRIES	8

#define ld(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define cas(p, o, n)	__atomic_compare_exchange_n((p), (o), (n), false, \
			    __ATOMIC_RELAXED, __ATOMIC_RELAXED)

uint64_t rate_key(uint32_t listener, const union fc_sockaddr *addr)
{
	uint64_t h = hash_fnv1a(HASH_FNV1A_INIT, &listener, sizeof(listener));

	if (addr->sa.sa_family == AF_INET6)
		h = hash_fnv1a(h, &addr->in6.sin6_addr, sizeof(addr->in6.sin6_addr));
	else
		h = hash_fnv1a(h, &addr->in.sin_addr, sizeof(addr->in.sin_addr));
	return h != 0 ? h : 1;
}

/* key's entry in its bucket, claimed if need be; NULL: lost every race. */
static struct fc_shm_rate *entry(struct fc_shm *shm, uint64_t key, uint64_t now_ms)
{
	uint32_t nb = shm->hdr->nrate / RATE_WAYS;
	struct fc_shm_rate *b = shm_rate_table(shm) + (key % nb) * RATE_WAYS;

	for (int tries = 0; tries < CAS_TRIES; tries++) {
		struct fc_shm_rate *victim = &b[0];
		uint64_t old;

		for (int i = 0; i < RATE_WAYS; i++) {
			if (ld(&b[i].key) == key)
				return &b[i];
			if (ld(&b[i].key) == 0 || ld(&b[i].seen_ms) < ld(&victim->seen_ms))
				victim = &b[i];
		}
		old = ld(&victim->key);
		if (cas(&victim->key, &old, key)) {
			__atomic_store_n(&victim->tat_us, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&victim->seen_ms, now_ms, __ATOMIC_RELAXED);
			return victim;
		}
	}
	return NULL;
}

uint32_t rate_take(struct fc_shm *shm, uint64_t key, const struct fc_rate_limit *rl,
    uint64_t now_us)
{
	uint64_t interval = (uint64_t)rl->per_ms * 1000 / (uint64_t)rl->requests;
	uint64_t tolerance = interval * (uint64_t)rl->burst, tat, old, wait;
	struct fc_shm_rate *e;

	if (shm->hdr->nrate < RATE_WAYS || (e = entry(shm, key, now_us / 1000)) == NULL)
		return 0;
	__atomic_store_n(&e->seen_ms, now_us / 1000, __ATOMIC_RELAXED);
	old = ld(&e->tat_us);
	for (int tries = 0; tries < CAS_TRIES; tries++) {
		tat = old > now_us ? old : now_us;
		if (tat - now_us > tolerance) {
			wait = tat - tolerance - now_us;
			return (uint32_t)((wait + 999999) / 1000000);
		}
		if (cas(&e->tat_us, &old, tat + (interval > 0 ? interval : 1)))
			return 0;
	}
	return 0;
}
