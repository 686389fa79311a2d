/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the fuzz harnesses share: the libFuzzer entry point's prototype, a
 * check that aborts with the broken invariant spelled out (libFuzzer then
 * saves the input), and small reference helpers written independently of
 * worker/http.c so that the harnesses check it rather than repeat it.
 */
#ifndef FC_T_FUZZ_H
#define FC_T_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * abort(), not assert(): it must hold in every build, -DNDEBUG included,
 * and both libFuzzer and the replay program report an abort as a crash.
 */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/*
 * An exact-size heap copy: AddressSanitizer then flags any read past its
 * end, which the fuzzer's own buffer only does for the whole input, not
 * for the prefixes the harnesses also parse.  The caller frees it.
 */
static inline char *fuzz_dup(const void *p, size_t n)
{
	char *q = malloc(n > 0 ? n : 1);

	if (q == NULL)
		abort();
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

/* The input's first 8 bytes (fewer if shorter): seeds for derived choices. */
static inline uint64_t fuzz_seed(const uint8_t *data, size_t size)
{
	uint64_t s = 0;

	for (size_t i = 0; i < size && i < 8; i++)
		s = s << 8 | data[i];
	return s;
}

/* xorshift64: cheap, deterministic, never stuck at 0 once seeded non-zero. */
static inline uint64_t fuzz_next(uint64_t *s)
{
	uint64_t x = *s != 0 ? *s : UINT64_C(0x9e3779b97f4a7c15);

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* tchar of RFC 9110 section 5.6.2. */
static inline bool fuzz_is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static inline int fuzz_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static inline bool fuzz_ci_eq(const char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	if (alen != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (fuzz_lower((unsigned char)a[i]) != fuzz_lower((unsigned char)lit[i]))
			return false;
	return true;
}

/*
 * Reference for http_value_has_token(): split on commas, trim SP and HTAB,
 * compare case-insensitively (RFC 9110 section 5.6.1).
 */
static inline bool fuzz_has_token(const char *v, size_t len, const char *token)
{
	size_t i = 0, s, e;

	while (i <= len && len > 0) {
		for (e = i; e < len && v[e] != ','; e++)
			;
		s = i;
		i = e + 1;
		while (s < e && (v[s] == ' ' || v[s] == '\t'))
			s++;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (fuzz_ci_eq(v + s, e - s, token))
			return true;
	}
	return false;
}

/* True when [p, p + n) lies inside [buf, buf + len). */
static inline bool fuzz_inside(const char *p, size_t n, const char *buf, size_t len)
{
	return p != NULL && p >= buf && p <= buf + len && n <= (size_t)(buf + len - p);
}

#endif
