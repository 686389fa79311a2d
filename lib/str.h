/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Byte-string helpers for protocol text.  Case-insensitive means ASCII
 * only, whatever the locale: header names, cookie attributes and tokens
 * are ASCII by their RFCs, and strncasecmp() follows LC_CTYPE.
 */
#ifndef FC_LIB_STR_H
#define FC_LIB_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline int str_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Are a (alen bytes) and b (blen bytes) equal, ASCII case ignored? */
static inline bool str_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (str_lower((unsigned char)a[i]) != str_lower((unsigned char)b[i]))
			return false;
	return true;
}

/* The same against a NUL-terminated literal. */
static inline bool str_ieq_lit(const char *a, size_t alen, const char *lit)
{
	return str_ieq(a, alen, lit, strlen(lit));
}

/* Does a (alen bytes) start with lit, ASCII case ignored? */
static inline bool str_iprefix(const char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	return alen >= n && str_ieq(a, n, lit, n);
}

/*
 * v in decimal at buf (room for 20 bytes), no NUL; returns the length.
 * The request path's numbers (Content-Length, address bytes) without
 * printf's format interpreter.
 */
static inline size_t str_u64(char *buf, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

#endif
