/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Head rewriting (rewrite.h).  A new head is written into a scratch buffer
 * as a list of fields, then laid over the old one (head_replace), so a
 * field added or dropped never shifts bytes more than once.  A listener's
 * header rules (del, set) are steps of the same walk.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lib/net.h"
#include "lib/str.h"
#include "worker/backend.h"
#include "worker/rewrite.h"
#include "worker/xprt.h"

static char scratch[FC_BUFSZ];		/* where heads are rewritten */

#define UPGRADE_WS	"Upgrade: websocket\r\nConnection: upgrade\r\n"

struct out {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

/* Is h named lit (a string literal: its length is known at compile time)? */
#define name_is(h, lit) str_ieq((h)->name, (h)->name_len, lit, sizeof(lit) - 1)

/*
 * Hop-by-hop fields (RFC 9110 section 7.6.1) are for this connection only:
 * the fixed ones and every field the Connection header names.
 * Transfer-Encoding stays: chunked bodies are forwarded as they are.
 * Every field of every message comes here: the name's length picks the
 * one or two candidates.
 */
static bool is_hop_by_hop(const struct fc_http_msg *m, const struct fc_http_header *h)
{
	int i;

	switch (h->name_len) {
	case 2:
		return name_is(h, "te");
	case 7:
		return name_is(h, "upgrade");
	case 10:
		if (name_is(h, "connection") || name_is(h, "keep-alive"))
			return true;
		break;
	case 16:
		if (name_is(h, "proxy-connection"))
			return true;
		break;
	case 18:
		if (name_is(h, "proxy-authenticate"))
			return true;
		break;
	case 19:
		if (name_is(h, "proxy-authorization"))
			return true;
		break;
	}
	/* Framing stays whatever Connection says: dropping Content-Length or
	 * Transfer-Encoding would let the body pass as the next request. */
	if (m->conn_names < 0 || name_is(h, "content-length") ||
	    name_is(h, "transfer-encoding") || name_is(h, "host"))
		return false;
	for (i = m->conn_names; i >= 0; i = http_find_header(m, "connection", (size_t)i + 1))
		if (http_list_has(m->headers[i].value, m->headers[i].value_len, h->name,
		    h->name_len))
			return true;
	return false;
}

static void out_header(struct out *o, const struct fc_http_header *h)
{
	out_put(o, h->name, h->name_len);
	out_put(o, ": ", 2);
	out_put(o, h->value, h->value_len);
	out_put(o, "\r\n", 2);
}

/* ------------------------------------------------------- header rules */

/* Does a rule of r name this field (del, or set: which replaces it)? */
static bool rule_drops(const struct fc_hdr_rules *r, const struct fc_http_header *h)
{
	for (int i = 0; i < r->ndel; i++)
		if (str_ieq(h->name, h->name_len, r->del[i], strlen(r->del[i])))
			return true;
	for (int i = 0; i < r->nset; i++)
		if (str_ieq(h->name, h->name_len, r->set[i].name, strlen(r->set[i].name)))
			return true;
	return false;
}

static void out_rule_sets(struct out *o, const struct fc_hdr_rules *r)
{
	for (int i = 0; i < r->nset; i++) {
		out_str(o, r->set[i].name);
		out_put(o, ": ", 2);
		out_str(o, r->set[i].value);
		out_put(o, "\r\n", 2);
	}
}

/* Takes what a worker/cookie.h writer put in o's free room: n bytes, -1 if full. */
static void out_wrote(struct out *o, ssize_t n)
{
	if (n < 0)
		o->overflow = true;
	else
		o->len += (size_t)n;
}

/* A Cookie header as the server gets it: persistence prefix or cookie removed. */
static void out_cookie(struct out *o, const struct fc_cookie *ck, const struct fc_http_header *h)
{
	size_t mark = o->len;
	ssize_t n;

	out_put(o, h->name, h->name_len);
	out_put(o, ": ", 2);
	if (o->overflow)
		return;
	n = cookie_req_strip(ck, h->value, h->value_len, o->p + o->len, o->cap - o->len);
	if (n == 0) {
		o->len = mark;		/* nothing left in it: no header */
		return;
	}
	out_wrote(o, n);
	out_put(o, "\r\n", 2);
}

/*
 * The fields that say where a message ends go out in one form only (RFC
 * 9112 section 6): the Content-Length the parser settled on, once, however
 * many identical values, fields or leading zeros came (RFC 9110 section 8.6
 * lets a recipient do so); a request's Transfer-Encoding, which can only
 * be chunked, as "chunked".  A server reading "5, 5", "005" or "Chunked"
 * otherwise than we do cannot then end the body elsewhere.  1xx and 204
 * responses have no content and must not carry these fields (RFC 9110
 * sections 8.6 and 15.3.5): they are dropped.  *cl_done: a Content-Length
 * went out already.
 */
static void out_field(struct out *o, const struct fc_http_msg *m,
    const struct fc_http_header *h, bool *cl_done)
{
	bool bodiless = m->status != 0 && (m->status < 200 || m->status == 204);
	char cl[20];

	if (name_is(h, "content-length")) {
		if (*cl_done || bodiless)
			return;
		*cl_done = true;
		out_str(o, "Content-Length: ");
		out_put(o, cl, str_u64(cl, m->content_length));
		out_put(o, "\r\n", 2);
	} else if (name_is(h, "transfer-encoding")) {
		if (m->status == 0)
			out_str(o, "Transfer-Encoding: chunked\r\n");
		else if (!bodiless)
			out_header(o, h);
	} else {
		out_header(o, h);
	}
}

static void out_forwarded_for(struct out *o, const struct fc_stream *s,
    const struct fc_http_msg *m)
{
	char host[FC_ADDRSTRLEN];
	int i;

	out_str(o, "X-Forwarded-For: ");
	/* forwardfor_replace: what the client claims is dropped. */
	i = s->px->l->forwardfor_replace ? -1 : http_find_header(m, "x-forwarded-for", 0);
	for (; i >= 0; i = http_find_header(m, "x-forwarded-for", (size_t)i + 1)) {
		if (m->headers[i].value_len == 0)
			continue;
		out_put(o, m->headers[i].value, m->headers[i].value_len);
		out_put(o, ", ", 2);
	}
	out_str(o, net_host_str(&s->peer.sa, host, sizeof(host)));
	out_put(o, "\r\n", 2);
}

/*
 * Replaces the head at fwd (hlen bytes) by the rewritten one in place.
 * A head that got shorter -- a response losing its Connection field, the
 * common case -- is laid down right-aligned where the old one ended, and
 * the few bytes before it (usually none) move instead of the body behind
 * it: a 10 KiB body that came with its head is not copied.  Otherwise the
 * bytes behind it (body, pipelined requests) move.  Returns the new
 * length, or 0 when it does not fit.
 */
static size_t head_replace(struct fc_chan *ch, struct out *o, size_t hlen)
{
	struct fc_buf *b = ch->buf;
	size_t at = b->start + ch->fwd, rest = b->end - (at + hlen), gap;

	if (o->overflow)
		return 0;
	if (o->len <= hlen && ch->fwd <= rest) {
		gap = hlen - o->len;
		memmove(b->data + b->start + gap, b->data + b->start, ch->fwd);
		b->start += gap;
		memcpy(b->data + at + gap, o->p, o->len);
		return o->len;
	}
	if (at + o->len + rest > FC_BUFSZ)
		return 0;
	memmove(b->data + at + o->len, b->data + at + hlen, rest);
	memcpy(b->data + at, o->p, o->len);
	b->end = at + o->len + rest;
	return o->len;
}

size_t rewrite_request(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen)
{
	struct fc_txn *t = s->tx;
	struct out o = { scratch, 0, sizeof(scratch), false };
	const struct fc_cookie *ck = &t->be->b->cookie;
	const struct fc_hdr_rules *rules = &s->px->l->req_headers;
	bool xff = s->px->l->forwardfor, cl_done = false;
	/* The client certificate's verdict, when the listener asks for one. */
	const char *verify = s->px->l->tls.verify_client != FC_VERIFY_NONE ?
	    xprt_tls_client_verify(&s->cli) : NULL;
	bool strip = ck->mode == FC_COOKIE_PREFIX || (ck->mode == FC_COOKIE_INSERT && ck->indirect);

	out_put(&o, m->first_line, m->first_line_len);
	out_put(&o, "\r\n", 2);
	for (size_t i = 0; i < m->nheaders; i++) {
		const struct fc_http_header *h = &m->headers[i];

		/* What fulcrum states itself, a client must not claim. */
		if (is_hop_by_hop(m, h) || (xff && (name_is(h, "x-forwarded-for") ||
		    name_is(h, "x-forwarded-proto"))) ||
		    (verify != NULL && name_is(h, "x-client-verify")) ||
		    rule_drops(rules, h))
			continue;
		if (strip && name_is(h, "cookie"))
			out_cookie(&o, ck, h);
		else
			out_field(&o, m, h, &cl_done);
	}
	out_rule_sets(&o, rules);
	if (xff) {
		out_forwarded_for(&o, s, m);
		out_str(&o, s->px->l->tls.enabled ? "X-Forwarded-Proto: https\r\n" :
		    "X-Forwarded-Proto: http\r\n");
	}
	if (verify != NULL) {
		out_str(&o, "X-Client-Verify: ");
		out_str(&o, verify);
		out_put(&o, "\r\n", 2);
	}
	/* The client's Upgrade went with the other hop-by-hop fields: a
	 * WebSocket upgrade (worker/tunnel.h) is asked for again, alone. */
	if (t->ws_asked)
		out_str(&o, UPGRADE_WS);
	else if (!t->srv_keepalive)
		out_str(&o, "Connection: close\r\n");
	else if (m->version_minor == 0)
		out_str(&o, "Connection: keep-alive\r\n");
	out_put(&o, "\r\n", 2);
	return head_replace(&t->req, &o, hlen);
}

/*
 * A Set-Cookie of the persistence cookie, as the client must see it (or
 * dropped).  Returns false for any other cookie, which the caller copies.
 */
static bool out_set_cookie(struct out *o, const struct fc_stream *s,
    const struct fc_http_header *h)
{
	const struct fc_backend *l = s->tx->be->b;
	size_t mark = o->len, n = 0;

	out_put(o, h->name, h->name_len);
	out_put(o, ": ", 2);
	if (o->overflow)
		return true;
	switch (cookie_set_rewrite(&l->cookie, l->servers[s->tx->server].cookie, h->value,
	    h->value_len, o->p + o->len, o->cap - o->len, &n)) {
	case FC_CK_OTHER:
		o->len = mark;
		return false;
	case FC_CK_DROP:
		o->len = mark;
		return true;
	case FC_CK_NOROOM:
		o->overflow = true;
		return true;
	default:
		o->len += n;
		out_put(o, "\r\n", 2);
		return true;
	}
}

/*
 * The Set-Cookie fulcrum adds itself: insert mode's cookie, or where a
 * moved session lives now.  A cache must not hand it to someone else.
 */
static void out_persist(struct out *o, const struct fc_stream *s, bool server_set,
    bool cc_private)
{
	const struct fc_txn *t = s->tx;
	const struct fc_backend *l = t->be->b;

	if (!cookie_rsp_needs_set(&l->cookie, backend_ck(s), t->server, server_set))
		return;
	out_str(o, "Set-Cookie: ");
	if (o->overflow)
		return;
	out_wrote(o, cookie_rsp_set(&l->cookie, l->servers[t->server].cookie, backend_ck(s),
	    backend_wall_s(s), o->p + o->len, o->cap - o->len));
	out_put(o, "\r\n", 2);
	if (l->cookie.nocache && !cc_private)
		out_str(o, "Cache-Control: private\r\n");
}

size_t rewrite_response(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen)
{
	struct fc_txn *t = s->tx;
	struct out o = { scratch, 0, sizeof(scratch), false };
	const struct fc_hdr_rules *rules = &s->px->l->rsp_headers;
	/* A 101 here grants a WebSocket tunnel (stream.c refuses others):
	 * the last head of the stream, which persistence must not miss. */
	bool persist = t->be != NULL && t->be->b->cookie.mode != FC_COOKIE_NONE &&
	    (m->status >= 200 || m->status == 101) && t->server >= 0;
	bool server_set = false, cc_private = false, cl_done = false;

	out_put(&o, m->first_line, m->first_line_len);
	out_put(&o, "\r\n", 2);
	for (size_t i = 0; i < m->nheaders; i++) {
		const struct fc_http_header *h = &m->headers[i];

		if (is_hop_by_hop(m, h) || (m->status >= 200 && rule_drops(rules, h)))
			continue;
		if (persist && name_is(h, "set-cookie") && out_set_cookie(&o, s, h)) {
			server_set = true;
			continue;
		}
		if (persist && name_is(h, "cache-control"))
			cc_private |= cookie_cc_private(h->value, h->value_len);
		out_field(&o, m, h, &cl_done);
	}
	if (persist)
		out_persist(&o, s, server_set, cc_private);
	if (m->status >= 200)
		out_rule_sets(&o, rules);
	if (m->status == 101) {
		out_str(&o, UPGRADE_WS);
	} else if (m->status >= 200) {
		if (!t->cli_keepalive)
			out_str(&o, "Connection: close\r\n");
		else if (t->req_http10)
			out_str(&o, "Connection: keep-alive\r\n");
	}
	out_put(&o, "\r\n", 2);
	return head_replace(&t->rsp, &o, hlen);
}

void rewrite_drop_head(struct fc_chan *ch, size_t hlen)
{
	struct fc_buf *b = ch->buf;
	char *head = b->data + b->start + ch->fwd;

	memmove(head, head + hlen, b->end - (b->start + ch->fwd + hlen));
	b->end -= hlen;
}

/* ----------------------------------------------------------- redirect */

/*
 * A redirect route: its target, then the path after the route's
 * path_prefix (the whole path without one), the query kept.  A relative
 * target stays relative: the client resolves it against the very URL it
 * asked for, Host included.
 */
int rewrite_redirect(const struct fc_http_msg *m, const struct fc_route *rt,
    bool keepalive, struct fc_sbuf *out)
{
	static const struct { int code; const char *reason; } reasons[] = {
		{ 301, "Moved Permanently" }, { 302, "Found" }, { 303, "See Other" },
		{ 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
	};
	const char *path, *reason = "Found";
	size_t pn, skip = rt->path_prefix != NULL ? strlen(rt->path_prefix) : 0;
	size_t tn = strlen(rt->redirect);

	http_target_path(m, &path, &pn);
	if (skip > pn)
		skip = pn;
	path += skip;
	pn -= skip;
	/* "/new/" + "/x" would double the slash: one of them goes. */
	if (tn > 0 && rt->redirect[tn - 1] == '/' && pn > 0 && path[0] == '/') {
		path++;
		pn--;
	}
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == rt->code)
			reason = reasons[i].reason;
	sbuf_printf(out, "HTTP/1.1 %d %s\r\nLocation: %s%.*s\r\n"
	    "Content-Length: 0\r\nConnection: %s\r\n\r\n", rt->code, reason,
	    rt->redirect, (int)pn, path, keepalive ? "keep-alive" : "close");
	return rt->code;
}

int rewrite_redirect_https(const struct fc_http_msg *m, bool keepalive,
    struct fc_sbuf *out)
{
	const char *host, *path;
	size_t hn, pn;

	if (!http_host_name(m, &host, &hn)) {
		sbuf_printf(out, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
		    "Content-Length: 34\r\nConnection: close\r\n\r\n"
		    "A Host is needed to go to https.\r\n");
		return 400;
	}
	http_target_path(m, &path, &pn);
	sbuf_printf(out, "HTTP/1.1 301 Moved Permanently\r\nLocation: https://%.*s%s%.*s\r\n"
	    "Content-Length: 0\r\nConnection: %s\r\n\r\n", (int)hn, host,
	    pn > 0 && path[0] == '/' ? "" : "/", (int)pn, path,
	    keepalive ? "keep-alive" : "close");
	return 301;
}
