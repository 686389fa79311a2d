/* SPDX-License-Identifier: BSD-2-Clause */
/* Growable strings (sbuf.h).  Out of memory is fatal: see alloc.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/sbuf.h"

static void reserve(struct fc_sbuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	while (b->len + more + 1 > b->cap)
		b->cap = b->cap ? b->cap * 2 : 1024;
	b->p = xrealloc(b->p, b->cap);
}

void sbuf_put(struct fc_sbuf *b, const char *s, size_t n)
{
	reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sbuf_printf(struct fc_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sbuf_put_html(struct fc_sbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': sbuf_put(b, "&amp;", 5); break;
		case '<': sbuf_put(b, "&lt;", 4); break;
		case '>': sbuf_put(b, "&gt;", 4); break;
		case '"': sbuf_put(b, "&quot;", 6); break;
		case '\'': sbuf_put(b, "&#39;", 5); break;
		default: sbuf_put(b, s, 1);
		}
	}
}

void sbuf_put_json(struct fc_sbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sbuf_printf(b, "\\%c", c);
		else if (c < 0x20)
			sbuf_printf(b, "\\u%04x", c);
		else
			sbuf_put(b, s, 1);
	}
}

void sbuf_free(struct fc_sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
