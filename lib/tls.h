/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS pieces every process shares, on top of OpenSSL: the names a
 * certificate answers to (SNI), the session-ticket keys that live in the
 * shared segment, and OpenSSL's errors in words.  The contexts themselves
 * are built by conf/tls.c; the connections run in worker/xprt_tls.c and
 * health/probe.c.
 *
 * No OpenSSL header here, so that shm-t.h can hold the ticket keys: the
 * functions take OpenSSL's objects by their struct tags.
 */
#ifndef FC_LIB_TLS_H
#define FC_LIB_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ssl_ctx_st;
struct ssl_st;

/* ------------------------------------------------------------- names */

#define FC_TLS_NAME_MAX	253		/* a DNS name, without the final dot */

/*
 * Does the certificate name pattern (a DNS name, or "*.example.com": the
 * star is the whole leftmost label and stands for exactly one label) match
 * the name a client asked for?  ASCII case-insensitive, a final dot of the
 * name ignored; an empty or malformed name matches nothing.  name is len
 * bytes, not necessarily NUL-terminated (it comes off the wire).
 */
bool tls_name_match(const char *pattern, const char *name, size_t len);

/* Is the pattern a wildcard ("*.")? */
static inline bool tls_name_is_wildcard(const char *pattern)
{
	return pattern[0] == '*' && pattern[1] == '.';
}

/* ----------------------------------------------------- session tickets */

/*
 * Session-ticket keys, in the shared segment (struct fc_shm_header): the
 * master makes them at the first start, carries them over every reload and
 * rotates them; the workers of every generation encrypt with the current
 * one and still accept the one before it, so a client resumes on any
 * worker, across a reload, and for up to two rotation periods.
 */
#define FC_TLS_TICKET_KEYS	3
#define FC_TLS_TICKET_ROTATE_S	3600	/* a key encrypts this long */

struct fc_tls_ticket_key {
	uint8_t name[16];		/* random: which key a ticket names */
	uint8_t aes[32];		/* AES-256-CBC */
	uint8_t hmac[32];		/* HMAC-SHA256 */
};

struct fc_tls_tickets {
	uint32_t current;		/* the key that encrypts (atomic) */
	uint32_t made;			/* 1 once keys exist */
	uint64_t rotated_us;		/* wall clock of the last rotation */
	struct fc_tls_ticket_key key[FC_TLS_TICKET_KEYS];
};

/* New keys (the first start): 0, or -1 when no randomness. */
int tls_tickets_make(struct fc_tls_tickets *t, uint64_t now_us);
/* Makes the next key current, the current one the previous: 0 or -1. */
int tls_tickets_rotate(struct fc_tls_tickets *t, uint64_t now_us);
/* Installs the ticket callback on ctx (a server context). */
void tls_tickets_attach(struct ssl_ctx_st *ctx);
/* The keys this process's callback reads (a worker's own segment);
 * NULL: no tickets are issued or accepted. */
void tls_tickets_use(const struct fc_tls_tickets *t);

/* ------------------------------------------------------ client side */

/*
 * Prepares ssl, made from a server's context, to connect over fd (-1: the
 * caller set its BIO already): the name
 * sent (sni, NULL: none) and, with verify, the name the certificate must
 * carry (sni, else the address ip).  Returns 0, or -1.
 */
int tls_client_setup(struct ssl_st *ssl, int fd, const char *sni, const char *ip,
    bool verify);

/* ---------------------------------------------------------- errors */

/* The oldest error in OpenSSL's queue as words (its reason string), or
 * fallback; the queue is cleared. */
const char *tls_error_text(const char *fallback);

#endif
