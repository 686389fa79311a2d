/* SPDX-License-Identifier: BSD-2-Clause */
/* A growable string, for reports and pages built once and sent whole. */
#ifndef FC_LIB_SBUF_H
#define FC_LIB_SBUF_H

#include <stddef.h>

struct fc_sbuf {
	char *p;		/* NUL-terminated; the owner frees it with sbuf_free() */
	size_t len, cap;
};

void sbuf_printf(struct fc_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_put(struct fc_sbuf *b, const char *s, size_t n);
/* Appends s with HTML (&<>"') or JSON ("\ and controls) escaping. */
void sbuf_put_html(struct fc_sbuf *b, const char *s);
void sbuf_put_json(struct fc_sbuf *b, const char *s);
void sbuf_free(struct fc_sbuf *b);

#endif
