/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Session persistence by cookie (a listener's `cookie` group) and the
 * cookie of learned sessions (`stick`): pure functions over byte ranges of
 * Cookie and Set-Cookie values, without I/O or allocation, so that they can
 * be unit-tested and fuzzed alone.  stream.c calls them while it rewrites
 * heads; the cookie formats are documented in contrib/fulcrum.conf.
 *
 *   prefix   the server's Set-Cookie NAME=v reaches the client as
 *            NAME=A~v; a request's NAME=A~v goes to A, which gets NAME=v.
 *   insert   fulcrum sets its own NAME=A (NAME=A|last|first with maxidle or
 *            maxlife); the server's own Set-Cookie of NAME is dropped.
 *   rewrite  the server's Set-Cookie NAME=v reaches the client as NAME=A.
 *
 * Values are parsed as RFC 6265 section 5 asks of a user agent: pairs split
 * on ';', blanks around names and values ignored, a value in DQUOTEs is
 * looked at inside them (and the quotes are kept).  Names compare exactly.
 *
 * Every writer gets dst and cap, writes at most cap bytes, and returns the
 * length written or -1 when the result would not fit (dst is then garbage).
 */
#ifndef FC_WORKER_COOKIE_H
#define FC_WORKER_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf/conf.h"

#define FC_CK_DELIM	'~'	/* prefix: SERVER~value */
#define FC_CK_DATE	'|'	/* insert: SERVER|last|first */
#define FC_CK_APP_MAX	256	/* prefix: longest value kept to re-set a moved session */

struct fc_ck_span {
	const char *p;
	size_t len;
};

/* What a request's persistence cookies say, over all its Cookie headers. */
struct fc_ck_req {
	int server;		/* first cookie naming a usable server; -1: none */
	bool present;		/* a persistence cookie came, valid or not */
	bool refresh;		/* insert: server's cookie lacks or has stale dates */
	uint64_t first;		/* insert: its session's first date (s), 0: none */
	size_t app_len;		/* prefix: the first cookie's value, prefix removed */
	bool app_ok;		/* app holds it: 1..FC_CK_APP_MAX cookie-octets */
	char app[FC_CK_APP_MAX];
};

void cookie_req_init(struct fc_ck_req *r);

/*
 * Reads one Cookie header value v[0..len) into r (call it for every Cookie
 * header, in order).  l->cookie.mode must not be FC_COOKIE_NONE.  A server
 * is usable when unusable is NULL or unusable[i] is false; now_s (Unix
 * seconds) checks maxidle and maxlife of insert cookies.
 */
void cookie_req_scan(const struct fc_backend *l, const char *v, size_t len,
    const bool *unusable, uint64_t now_s, struct fc_ck_req *r);

/*
 * The Cookie value the server gets, into dst: in prefix mode every
 * persistence cookie loses everything up to its first '~'; in insert mode
 * with indirect every persistence cookie is removed; otherwise a copy.
 * The other cookies keep their bytes.  Returns the length (0: nothing is
 * left, drop the header) or -1.
 */
ssize_t cookie_req_strip(const struct fc_cookie *ck, const char *v, size_t len,
    char *dst, size_t cap);

/* The raw value (quotes kept) of the first cookie named name in a Cookie value. */
bool cookie_find(const char *v, size_t len, const char *name, struct fc_ck_span *value);

/*
 * Does the Set-Cookie value v set cookie name?  Then *value is its raw
 * value (quotes kept).  A value without '=' before the first ';' sets
 * nothing (RFC 6265 section 5.2).
 */
bool cookie_set_match(const char *v, size_t len, const char *name, struct fc_ck_span *value);

/* Does a Set-Cookie value delete its cookie ("Max-Age" of 0 or less)? */
bool cookie_set_deletes(const char *v, size_t len);

enum fc_ck_set {
	FC_CK_OTHER,		/* not the persistence cookie: pass it on */
	FC_CK_DROP,		/* insert mode: fulcrum sets its own instead */
	FC_CK_WRITTEN,		/* the value the client gets is in dst */
	FC_CK_NOROOM,		/* it did not fit in cap */
};

/*
 * One Set-Cookie value v of a response from the server whose cookie value
 * is srv.  In prefix mode the cookie value becomes srv~value, in rewrite
 * mode srv; its attributes keep their bytes.  *outlen: bytes in dst.
 */
enum fc_ck_set cookie_set_rewrite(const struct fc_cookie *ck, const char *srv,
    const char *v, size_t len, char *dst, size_t cap, size_t *outlen);

/*
 * Must fulcrum add a Set-Cookie of its own to a response from server
 * (an index), given what the request carried and whether the server set
 * the persistence cookie itself?  insert: unless the client already holds
 * a fresh cookie for that server.  prefix, rewrite: when the request's
 * cookie did not lead to that server and the server did not set one (the
 * session moved: the client must learn where it lives now).
 */
bool cookie_rsp_needs_set(const struct fc_cookie *ck, const struct fc_ck_req *r, int server,
    bool server_set);

/*
 * The Set-Cookie value fulcrum adds (without "Set-Cookie: ") for the server
 * whose cookie value is srv: NAME=srv (insert, with dates under maxidle or
 * maxlife), NAME=srv~app (prefix), then "; Path=/" and Domain, Max-Age,
 * HttpOnly, Secure as configured.  Returns its length or -1.
 */
ssize_t cookie_rsp_set(const struct fc_cookie *ck, const char *srv, const struct fc_ck_req *r,
    uint64_t now_s, char *dst, size_t cap);

/* Does a Cache-Control value already keep shared caches from storing it? */
bool cookie_cc_private(const char *v, size_t len);

#endif
