/*
 * The proxy state machine of a worker: reads a request head from the client,
 * picks a server, connects (or reuses an idle connection), rewrites the head
 * in place, streams the body, then does the same for the response.
 *
 * Every socket is registered once, edge-triggered, and the connection keeps
 * its own "readable"/"writable" flags; stream_run() pumps both directions
 * until nothing moves.  Objects closed during a loop pass are freed after it
 * (stream_reap), because later events of the same pass may still name them.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/net.h"
#include "shm/session.h"
#include "worker/cookie.h"
#include "worker/stats.h"
#include "worker/stream.h"

#define MAX_FREE_BUFS	256
#define MAX_IDLE	64		/* idle connections kept per server */
#define IDLE_MAX_MS	30000		/* closed after this long unused */
#define LINGER_MS	1000
#define DRAIN_IDLE_MS	1000		/* draining: an idle client's last chance */
#define RUN_PASSES	32		/* pump rounds per stream per loop pass */
#define EV_CONN		(EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

struct fc_worker *fc_w;
static struct fc_conn *dead_conns;
static struct fc_stream *runq;		/* streams with work left over */
static char scratch[FC_BUFSZ];		/* where heads are rewritten */

static void stream_run(struct fc_stream *s);
static void stream_defer(struct fc_stream *s);
static void stream_close(struct fc_stream *s);
static void stream_connect(struct fc_stream *s);
static void queue_kick(struct fc_proxy *px, int server);
static const bool *down_mask(struct fc_stream *s);
static void conn_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events);

/* ------------------------------------------------------------- buffers */

/*
 * Fixed-size blocks come from free lists: the 16 KiB buffers, and what a
 * transaction holds only while it runs -- the request line for the log,
 * the cookie persistence state -- so that an idle keep-alive connection
 * carries none of them.  A free block's first word links the next.
 */
struct pool {
	void *free;
	int nfree;
	size_t size;
};

static struct pool buf_pool = { NULL, 0, sizeof(struct fc_buf) };
static struct pool line_pool = { NULL, 0, FC_LOGLINE };
static struct pool ck_pool = { NULL, 0, sizeof(struct fc_ck_req) };

static void *pool_get(struct pool *p)
{
	void *o = p->free;

	if (o == NULL)
		return malloc(p->size);
	p->free = *(void **)o;
	p->nfree--;
	return o;
}

static void pool_put(struct pool *p, void *o)
{
	if (o == NULL)
		return;
	if (p->nfree >= MAX_FREE_BUFS) {
		free(o);
		return;
	}
	*(void **)o = p->free;
	p->free = o;
	p->nfree++;
}

static char *reqline_get(struct fc_stream *s)
{
	if (s->reqline == NULL && (s->reqline = pool_get(&line_pool)) != NULL)
		s->reqline[0] = '\0';
	return s->reqline;
}

static void reqline_put(struct fc_stream *s)
{
	pool_put(&line_pool, s->reqline);
	s->reqline = NULL;
}

/* The transaction's cookie state; none reads as "no persistence cookie came". */
static const struct fc_ck_req *txn_ck(const struct fc_stream *s)
{
	static const struct fc_ck_req none = { .server = -1 };

	return s->ck != NULL ? s->ck : &none;
}

static void ck_put(struct fc_stream *s)
{
	pool_put(&ck_pool, s->ck);
	s->ck = NULL;
}

static struct fc_buf *buf_get(void)
{
	struct fc_buf *b = pool_get(&buf_pool);

	if (b != NULL)
		b->start = b->end = 0;
	return b;
}

static void buf_put(struct fc_buf *b)
{
	pool_put(&buf_pool, b);
}

static size_t buf_len(const struct fc_buf *b)
{
	return b ? b->end - b->start : 0;
}

static void buf_compact(struct fc_buf *b)
{
	if (b->start == 0)
		return;
	memmove(b->data, b->data + b->start, b->end - b->start);
	b->end -= b->start;
	b->start = 0;
}

/* Returns the buffer to the pool when nothing in it is waiting. */
static void chan_trim(struct fc_chan *ch)
{
	if (ch->buf != NULL && buf_len(ch->buf) == 0) {
		buf_put(ch->buf);
		ch->buf = NULL;
	}
}

static void chan_reset(struct fc_chan *ch)
{
	ch->fwd = ch->sent = 0;
	ch->keep = false;
	ch->state = CH_HEAD;
	ch->body = FC_BODY_NONE;
	ch->left = 0;
	ch->bytes = 0;
}

/* Drops bytes that were sent but kept for a retry. */
static void chan_release(struct fc_chan *ch)
{
	if (ch->buf != NULL) {
		ch->buf->start += ch->sent;
		ch->fwd -= ch->sent;
	}
	ch->sent = 0;
	ch->keep = false;
}

/* ------------------------------------------------------------- sockets */

/*
 * Reads what fits; returns bytes read, 0 when nothing came, -1 on error.
 * A read shorter than asked has emptied the socket: with edge-triggered
 * events the next byte raises a new event, so the connection is marked
 * not readable without the read that would only return EAGAIN -- unless
 * the peer's FIN or an error was announced, which a read must still see.
 * recv(), not read(): a socket needs none of the VFS layer's work.
 * A buffer taken for a read that brought nothing goes back to the pool,
 * so an idle keep-alive connection holds none.
 */
static ssize_t chan_recv(struct fc_conn *c, struct fc_chan *ch, size_t limit)
{
	struct fc_buf *b;
	bool fresh = ch->buf == NULL;
	size_t want;
	ssize_t n;

	if (fresh && (ch->buf = buf_get()) == NULL)
		return -1;
	b = ch->buf;
	if (b->start > 0 && (ch->state == CH_HEAD || b->end == FC_BUFSZ))
		buf_compact(b);
	if (b->end >= limit)
		return 0;
	want = limit - b->end;
	n = recv(c->io.fd, b->data + b->end, want, 0);
	if (n > 0) {
		b->end += (size_t)n;
		if ((size_t)n < want && !c->hup)
			c->rd = false;
		return n;
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		c->eof = true;
		return -1;
	}
	if (n == 0)
		c->eof = true;
	else
		c->rd = false;
	if (fresh) {
		buf_put(b);
		ch->buf = NULL;
	}
	return 0;
}

/* Sends the cleared bytes not sent yet; -1 when the peer is gone. */
static ssize_t chan_send(struct fc_conn *c, struct fc_chan *ch)
{
	struct fc_buf *b = ch->buf;
	size_t n = ch->fwd - ch->sent;
	ssize_t w;

	if (n == 0 || !c->wr)
		return 0;
	w = send(c->io.fd, b->data + b->start + ch->sent, n, MSG_NOSIGNAL);
	if (w < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			c->wr = false;
			return 0;
		}
		return -1;
	}
	if ((size_t)w < n)
		c->wr = false;
	ch->bytes += (uint64_t)w;
	if (ch->keep) {
		ch->sent += (size_t)w;
	} else {
		b->start += (size_t)w;
		ch->fwd -= (size_t)w;
		if (b->start == b->end)
			b->start = b->end = 0;
	}
	return w;
}

static bool chan_pending(const struct fc_chan *ch)
{
	return ch->fwd > ch->sent;
}

static void count_data(void *arg, const char *p, size_t n)
{
	(void)p;
	*(uint64_t *)arg += n;
}

/*
 * Advances fwd over the body bytes that arrived; -1 on a malformed body,
 * -2 when a chunked body grows past max_body.
 */
static int chan_frame(struct fc_chan *ch)
{
	size_t avail = buf_len(ch->buf) - ch->fwd;
	ssize_t n;

	if (ch->state != CH_BODY || avail == 0)
		return 0;
	switch (ch->body) {
	case FC_BODY_LENGTH:
		n = (ssize_t)(avail < ch->left ? avail : ch->left);
		ch->left -= (uint64_t)n;
		if (ch->left == 0)
			ch->state = CH_DONE;
		break;
	case FC_BODY_CHUNKED:
		n = http_chunked_feed(&ch->ck, ch->buf->data + ch->buf->start + ch->fwd,
		    avail, ch->max_body ? count_data : NULL, &ch->decoded);
		if (n < 0)
			return -1;
		if (ch->max_body && ch->decoded > ch->max_body)
			return -2;
		if (ch->ck.done)
			ch->state = CH_DONE;
		break;
	case FC_BODY_EOF:
		n = (ssize_t)avail;
		break;
	default:
		n = 0;
		ch->state = CH_DONE;
	}
	ch->fwd += (size_t)n;
	return n > 0;
}

static void conn_free_later(struct fc_conn *c)
{
	c->next = dead_conns;
	dead_conns = c;
}

static void server_close(struct fc_conn *c)
{
	if (c->io.fd >= 0)
		close(c->io.fd);
	c->io.fd = -1;
	c->s = NULL;
	conn_free_later(c);
}

/* --------------------------------------------------- idle server pool */

static void idle_unlink(struct fc_conn *c)
{
	struct fc_srv_rt *rt = &c->px->srv[c->server];

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		rt->idle = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	rt->nidle--;
}

static void idle_put(struct fc_conn *c)
{
	struct fc_srv_rt *rt = &c->px->srv[c->server];

	if (rt->nidle >= MAX_IDLE || fc_w->draining) {
		server_close(c);
		return;
	}
	c->s = NULL;
	c->idle_since = ev_now(fc_w->ev);
	c->prev = NULL;
	c->next = rt->idle;
	if (rt->idle != NULL)
		rt->idle->prev = c;
	rt->idle = c;
	rt->nidle++;
}

static struct fc_conn *idle_take(struct fc_proxy *px, int server)
{
	struct fc_conn *c = px->srv[server].idle;

	if (c != NULL)
		idle_unlink(c);
	return c;
}

/* Anything but "writable" on an idle connection means it is finished. */
static void idle_event(struct fc_conn *c, uint32_t events)
{
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	idle_unlink(c);
	server_close(c);
}

void stream_purge_idle(uint64_t now)
{
	for (int p = 0; p < fc_w->nproxies; p++) {
		struct fc_proxy *px = &fc_w->proxies[p];

		for (int i = 0; i < px->l->nservers; i++) {
			struct fc_conn *c = px->srv[i].idle, *next;

			for (; c != NULL; c = next) {
				next = c->next;
				if (now - c->idle_since >= IDLE_MAX_MS || fc_w->draining) {
					idle_unlink(c);
					server_close(c);
				}
			}
		}
	}
}

/* ------------------------------------------------------ error replies */

static const char *error_reply(int status, size_t *len)
{
	static const struct { int status; const char *text; } replies[] = {
#define R(code, reason, why) { code, "HTTP/1.1 " #code " " reason "\r\n" \
	"Content-Type: text/html\r\nCache-Control: no-cache\r\nConnection: close\r\n" \
	"Content-Length: " }, { -code, "<html><body><h1>" #code " " reason "</h1>\n" why "\n</body></html>\n" }
		R(400, "Bad Request", "Your browser sent an invalid request."),
		R(408, "Request Time-out", "Your browser didn't send a complete request in time."),
		R(413, "Payload Too Large", "The request body is too large."),
		R(414, "URI Too Long", "The request line is too long."),
		R(431, "Request Header Fields Too Large", "The request header section is too large."),
		R(500, "Internal Server Error", "An internal server error occurred."),
		R(501, "Not Implemented", "The request method or transfer coding is not supported."),
		R(502, "Bad Gateway", "The server returned an invalid or incomplete response."),
		R(503, "Service Unavailable", "No server is available to handle this request."),
		R(504, "Gateway Time-out", "The server didn't respond in time."),
#undef R
	};
	static char out[512];
	const char *head = NULL, *body = NULL;
	int n;

	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		if (replies[i].status == status)
			head = replies[i].text;
		if (replies[i].status == -status)
			body = replies[i].text;
	}
	if (head == NULL)
		return error_reply(500, len);
	n = snprintf(out, sizeof(out), "%s%zu\r\n\r\n%s", head, strlen(body), body);
	*len = (size_t)n;
	return out;
}

/* ----------------------------------------------------------- counters */

static struct fc_shm_srv_counters *srv_counters(const struct fc_stream *s, int server)
{
	return &fc_w->blk->srv[s->px->srv_base + (uint32_t)server];
}

static void count_error(enum fc_err_kind kind)
{
	shm_add(&fc_w->blk->errors[kind], 1);
}

static enum fc_err_kind error_kind(int status)
{
	switch (status) {
	case 408: return FC_ERR_REQ_TIMEOUT;
	case 500: return FC_ERR_INTERNAL;
	case 502: return FC_ERR_BADRESP;
	case 503: return FC_ERR_NOSRV;
	case 504: return FC_ERR_SRV_TIMEOUT;
	default: return FC_ERR_BADREQ;
	}
}

/* Counts and logs the transaction, once. */
static void txn_log(struct fc_stream *s)
{
	struct fc_shm_worker *w = fc_w->blk;

	if (s->logged)
		return;
	s->logged = true;
	shm_add(&w->requests, 1);
	shm_add(&w->bytes_in, s->cli_in);
	shm_add(&w->bytes_out, s->rsp.bytes);
	if (s->term[0] == 'C')
		count_error(FC_ERR_CLI_ABORT);
	else if (s->term[0] == 'S' && s->term[1] == 'D')
		count_error(FC_ERR_SRV_ABORT);
	if (s->server >= 0 && s->t_rsp != 0) {
		struct fc_shm_srv_counters *c = srv_counters(s, s->server);

		shm_add(&c->requests, 1);
		shm_add(&c->bytes_out, s->req.bytes);
		shm_add(&c->bytes_in, s->rsp.bytes);
	}
	accesslog_emit(s);
}

static void set_term(struct fc_stream *s, char who, char when)
{
	if (s->term[0] != '-')
		return;
	s->term[0] = who;
	s->term[1] = when;
}

static void detach_server(struct fc_stream *s, bool reuse)
{
	struct fc_conn *c = s->srv;

	if (c == NULL)
		return;
	s->srv = NULL;
	s->px->srv[c->server].cur--;
	if (s->px->srv[c->server].maxconn > 0)
		queue_kick(s->px, c->server);
	shm_add(&srv_counters(s, c->server)->cur_conns, -1);
	lb_conn_add(&s->px->lb, c->server, -1);
	if (reuse)
		idle_put(c);
	else
		server_close(c);
}

/*
 * Answers the client with an error and closes afterwards.  Once a response
 * head went out, a status can no longer be sent: the connection is cut.
 */
static void respond_error(struct fc_stream *s, int status, char who, char when)
{
	const char *text;
	size_t len;

	set_term(s, who, when);
	count_error(error_kind(status));
	if ((status == 502 || status == 504) && s->server >= 0 && s->t_connected != 0)
		shm_add(&srv_counters(s, s->server)->resp_errors, 1);
	detach_server(s, false);
	if (s->reqline == NULL && reqline_get(s) != NULL)
		snprintf(s->reqline, FC_LOGLINE, "<BADREQ>");
	if (s->rsp_started) {
		stream_close(s);
		return;
	}
	if (s->rsp.buf == NULL && (s->rsp.buf = buf_get()) == NULL) {
		stream_close(s);
		return;
	}
	text = error_reply(status, &len);
	s->rsp.buf->start = s->rsp.buf->end = 0;
	memcpy(s->rsp.buf->data, text, len);
	s->rsp.buf->end = len;
	chan_reset(&s->rsp);
	s->rsp.fwd = len;
	s->rsp.state = CH_DONE;
	s->req.state = CH_DONE;
	s->req.keep = false;
	s->status = status;
	s->cli_keepalive = false;
	s->close_after = true;
	s->rsp_started = true;
}

/* ------------------------------------------------------ head rewriting */

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

static bool name_is(const struct fc_http_header *h, const char *name)
{
	return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

/*
 * Hop-by-hop fields (RFC 9110 section 7.6.1) are for this connection only:
 * the fixed ones and every field the Connection header names.
 * Transfer-Encoding stays: chunked bodies are forwarded as they are.
 */
static bool is_hop_by_hop(const struct fc_http_msg *m, const struct fc_http_header *h)
{
	static const char *fixed[] = { "connection", "keep-alive", "proxy-connection",
	    "te", "upgrade", "proxy-authenticate", "proxy-authorization" };
	int i;

	for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
		if (name_is(h, fixed[k]))
			return true;
	/* Framing stays whatever Connection says: dropping Content-Length or
	 * Transfer-Encoding would let the body pass as the next request. */
	if (name_is(h, "content-length") || name_is(h, "transfer-encoding") ||
	    name_is(h, "host"))
		return false;
	for (i = http_find_header(m, "connection", 0); i >= 0;
	    i = http_find_header(m, "connection", (size_t)i + 1))
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

/* Takes what a worker/cookie.h writer put in o's free room: n bytes, -1 if full. */
static void out_wrote(struct out *o, ssize_t n)
{
	if (n < 0)
		o->overflow = true;
	else
		o->len += (size_t)n;
}

/* Seconds of wall clock for cookie dates: the transaction's start is enough. */
static uint64_t txn_wall_s(const struct fc_stream *s)
{
	return s->accept_wall_us / 1000000u;
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
	char cl[48];

	if (name_is(h, "content-length")) {
		if (*cl_done || bodiless)
			return;
		*cl_done = true;
		snprintf(cl, sizeof(cl), "Content-Length: %llu\r\n",
		    (unsigned long long)m->content_length);
		out_str(o, cl);
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

static size_t rewrite_request(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen)
{
	struct out o = { scratch, 0, sizeof(scratch), false };
	const struct fc_cookie *ck = &s->px->l->cookie;
	bool xff = s->px->l->forwardfor, cl_done = false;
	bool strip = ck->mode == FC_COOKIE_PREFIX || (ck->mode == FC_COOKIE_INSERT && ck->indirect);

	out_put(&o, m->first_line, m->first_line_len);
	out_put(&o, "\r\n", 2);
	for (size_t i = 0; i < m->nheaders; i++) {
		const struct fc_http_header *h = &m->headers[i];

		if (is_hop_by_hop(m, h) || (xff && name_is(h, "x-forwarded-for")))
			continue;
		if (strip && name_is(h, "cookie"))
			out_cookie(&o, ck, h);
		else
			out_field(&o, m, h, &cl_done);
	}
	if (xff)
		out_forwarded_for(&o, s, m);
	if (!s->srv_keepalive)
		out_str(&o, "Connection: close\r\n");
	else if (m->version_minor == 0)
		out_str(&o, "Connection: keep-alive\r\n");
	out_put(&o, "\r\n", 2);
	return head_replace(&s->req, &o, hlen);
}

/*
 * A Set-Cookie of the persistence cookie, as the client must see it (or
 * dropped).  Returns false for any other cookie, which the caller copies.
 */
static bool out_set_cookie(struct out *o, const struct fc_stream *s,
    const struct fc_http_header *h)
{
	const struct fc_listener *l = s->px->l;
	size_t mark = o->len, n = 0;

	out_put(o, h->name, h->name_len);
	out_put(o, ": ", 2);
	if (o->overflow)
		return true;
	switch (cookie_set_rewrite(&l->cookie, l->servers[s->server].cookie, h->value,
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
	const struct fc_listener *l = s->px->l;

	if (!cookie_rsp_needs_set(&l->cookie, txn_ck(s), s->server, server_set))
		return;
	out_str(o, "Set-Cookie: ");
	if (o->overflow)
		return;
	out_wrote(o, cookie_rsp_set(&l->cookie, l->servers[s->server].cookie, txn_ck(s),
	    txn_wall_s(s), o->p + o->len, o->cap - o->len));
	out_put(o, "\r\n", 2);
	if (l->cookie.nocache && !cc_private)
		out_str(o, "Cache-Control: private\r\n");
}

static size_t rewrite_response(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen)
{
	struct out o = { scratch, 0, sizeof(scratch), false };
	bool persist = s->px->l->cookie.mode != FC_COOKIE_NONE && m->status >= 200 &&
	    s->server >= 0;
	bool server_set = false, cc_private = false, cl_done = false;

	out_put(&o, m->first_line, m->first_line_len);
	out_put(&o, "\r\n", 2);
	for (size_t i = 0; i < m->nheaders; i++) {
		const struct fc_http_header *h = &m->headers[i];

		if (is_hop_by_hop(m, h))
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
	if (m->status >= 200) {
		if (!s->cli_keepalive)
			out_str(&o, "Connection: close\r\n");
		else if (s->req_http10)
			out_str(&o, "Connection: keep-alive\r\n");
	}
	out_put(&o, "\r\n", 2);
	return head_replace(&s->rsp, &o, hlen);
}

/* ------------------------------------------------------------ request */

static void txn_begin(struct fc_stream *s)
{
	struct fc_proxy *px = s->px;

	s->server = -1;
	s->retries = 0;
	ck_put(s);
	s->stick_server = -1;
	s->stick_hash = 0;
	if (s->tried != NULL)
		memset(s->tried, 0, (size_t)px->l->nservers * sizeof(*s->tried));
	s->is_head = s->rsp_started = s->close_after = false;
	s->srv_reused = s->reuse_retried = s->logged = false;
	s->sent_1xx = false;
	s->local = NULL;
	s->cli_in = 0;
	s->status = 0;
	memcpy(s->term, "--", 3);
	s->t_start = ev_now_us(fc_w->ev);
	s->t_head = s->t_connect = s->t_connected = s->t_rsp = 0;
	s->accept_wall_us = ev_wall_us(fc_w->ev);
	reqline_put(s);
	s->deadline = ev_now(fc_w->ev) + (uint64_t)px->l->timeout.http_request;
	chan_reset(&s->req);
	chan_reset(&s->rsp);
}

static void keep_reqline(struct fc_stream *s, const struct fc_http_msg *m)
{
	size_t n;

	if (reqline_get(s) == NULL)
		return;
	if (m->first_line == NULL || m->first_line_len == 0) {
		snprintf(s->reqline, FC_LOGLINE, "<BADREQ>");
		return;
	}
	n = m->first_line_len < FC_LOGLINE - 1 ? m->first_line_len : FC_LOGLINE - 1;

	memcpy(s->reqline, m->first_line, n);
	s->reqline[n] = '\0';
}

/* RFC 9110 section 9.2.2: these may be sent again if a connection dies. */
static bool method_idempotent(const struct fc_http_msg *m)
{
	static const char *methods[] = { "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE" };

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (m->method_len == strlen(methods[i]) &&
		    memcmp(m->method, methods[i], m->method_len) == 0)
			return true;
	return false;
}

/* The listener's stats page: answered here, never forwarded. */
static bool serve_stats(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen)
{
	const struct fc_listener *l = s->px->l;
	enum fc_stats_kind kind = stats_match(l, m->target, m->target_len);
	bool keepalive = s->cli_keepalive && m->body == FC_BODY_NONE;

	if (kind == FC_STATS_NONE)
		return false;
	s->status = stats_respond(l, s->px->index, fc_w->shm, kind, m, keepalive, &s->payload);
	s->local = "<STATS>";
	s->req.buf->start += hlen;	/* the request is consumed, not forwarded */
	s->req.state = CH_DONE;
	s->rsp.state = CH_DONE;
	s->rsp_started = true;
	s->t_rsp = ev_now_us(fc_w->ev);
	if (!keepalive) {
		/* An unread body stays in the socket: linger, then close. */
		s->cli_keepalive = false;
		s->close_after = true;
	}
	return true;
}

/* FNV-1a: tells a session id seen in the request from another one. */
static uint64_t id_hash(struct fc_ck_span v)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < v.len; i++)
		h = (h ^ (unsigned char)v.p[i]) * UINT64_C(0x100000001b3);
	return h;
}

/* The learned session's server, if the table knows the id (and extends it). */
static void stick_lookup(struct fc_stream *s, struct fc_ck_span id)
{
	struct fc_proxy *px = s->px;
	int g = session_use(fc_w->shm, fc_w->slot, (uint32_t)px->index, id.p, id.len,
	    ev_now(fc_w->ev));

	s->stick_hash = id_hash(id);
	if (g >= (int)px->srv_base && g - (int)px->srv_base < px->l->nservers)
		s->stick_server = g - (int)px->srv_base;
}

/*
 * Reads the request's cookies before the head is rewritten: the server its
 * persistence cookie names (if UP), and the one its learned session has.
 */
static void persist_scan(struct fc_stream *s, const struct fc_http_msg *m)
{
	const struct fc_listener *l = s->px->l;
	bool ck = l->cookie.mode != FC_COOKIE_NONE, stick = l->stick.cookie[0] != '\0';
	const bool *down;
	struct fc_ck_span id;

	if (ck && s->ck == NULL && (s->ck = pool_get(&ck_pool)) != NULL)
		cookie_req_init(s->ck);
	ck = ck && s->ck != NULL;	/* out of memory: balanced as if none came */
	down = ck ? down_mask(s) : NULL;

	for (int i = http_find_header(m, "cookie", 0); i >= 0 && (ck || stick);
	    i = http_find_header(m, "cookie", (size_t)i + 1)) {
		const struct fc_http_header *h = &m->headers[i];

		if (ck)
			cookie_req_scan(l, h->value, h->value_len, down, txn_wall_s(s), s->ck);
		if (stick && cookie_find(h->value, h->value_len, l->stick.cookie, &id)) {
			stick_lookup(s, id);
			stick = false;		/* the first one only */
		}
	}
}

/* A complete request head is in the buffer: decide, rewrite, connect. */
static void request_ready(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen)
{
	const struct fc_listener *l = s->px->l;
	size_t newlen;

	s->t_head = ev_now_us(fc_w->ev);
	keep_reqline(s, m);
	s->is_head = m->method_len == 4 && memcmp(m->method, "HEAD", 4) == 0;
	s->idempotent = method_idempotent(m);
	s->req_http10 = m->version_minor == 0;
	s->cli_keepalive = !l->httpclose && !m->conn_close && !fc_w->draining;
	s->srv_keepalive = !l->httpclose;
	if (l->stats.uri != NULL && serve_stats(s, m, hlen))
		return;
	if (l->limits.body > 0 && m->body == FC_BODY_LENGTH &&
	    m->content_length > (uint64_t)l->limits.body) {
		respond_error(s, 413, 'P', 'R');
		return;
	}
	persist_scan(s, m);
	if ((newlen = rewrite_request(s, m, hlen)) == 0) {
		respond_error(s, 431, 'P', 'R');
		return;
	}
	s->req.fwd = newlen;
	s->req.body = m->body;
	s->req.left = m->content_length;
	http_chunked_init(&s->req.ck);
	s->req.max_body = (uint64_t)l->limits.body;
	s->req.decoded = 0;
	s->req.state = m->body == FC_BODY_NONE ? CH_DONE : CH_BODY;
	/* A request without a body can be sent again if a reused server
	 * connection turns out to be closed: keep it until answered. */
	s->req.keep = m->body == FC_BODY_NONE;
	stream_connect(s);
}

static void request_parse(struct fc_stream *s)
{
	const struct fc_limits *lim = &s->px->l->limits;
	struct fc_http_msg m;
	struct fc_buf *b = s->req.buf;
	int status = 400, r;

	m.first_line = NULL;
	m.first_line_len = 0;
	if (b == NULL || buf_len(b) == 0) {
		if (s->cli.eof)
			stream_close(s);	/* idle keep-alive client left */
		return;
	}
	r = http_parse_request(b->data + b->start, buf_len(b), &m,
	    (size_t)lim->request_line, (size_t)lim->header_size, &status);
	if (r >= 0 && m.nheaders > (size_t)lim->headers) {
		r = FC_HTTP_ERROR;
		status = 431;
	}
	if (r == FC_HTTP_INCOMPLETE) {
		if (s->cli.eof) {
			set_term(s, 'C', 'R');
			s->status = 400;
			stream_close(s);
		}
		return;
	}
	if (r < 0) {
		keep_reqline(s, &m);
		respond_error(s, status, 'P', 'R');
		return;
	}
	request_ready(s, &m, (size_t)r);
}

/* ------------------------------------------------------------- queue */

/*
 * A server at its maxconn takes no new request; when every usable server
 * is full, the request waits in its listener's queue (FIFO) until a slot
 * frees or timeout.queue passes (503).  Each worker applies its share of
 * a server's maxconn (worker_share()), so the sum over workers is the
 * configured figure.
 */
static bool server_full(const struct fc_proxy *px, int i)
{
	return px->srv[i].maxconn > 0 && px->srv[i].cur >= px->srv[i].maxconn;
}

static bool server_down(const struct fc_proxy *px, int i)
{
	return shm_load_acq(&shm_server(fc_w->shm, px->srv_base + (uint32_t)i)->state) <
	    FC_SRV_UP;
}

/* Would some server take the request if it were not full? */
static bool worth_queueing(const struct fc_proxy *px)
{
	for (int i = 0; i < px->l->nservers; i++)
		if (server_full(px, i) && px->l->servers[i].weight > 0 && !server_down(px, i))
			return true;
	return false;
}

/*
 * want: the server persistence ties the request to (-1: any).  front: a
 * stream that was woken but lost its slot keeps its place and deadline.
 */
static void queue_add(struct fc_stream *s, int want, bool front)
{
	struct fc_proxy *px = s->px;

	s->in_queue = true;
	s->qwant = want;
	if (front && px->qhead != NULL) {
		s->qprev = NULL;
		s->qnext = px->qhead;
		px->qhead->qprev = s;
		px->qhead = s;
	} else {
		s->qnext = NULL;
		s->qprev = px->qtail;
		if (px->qtail != NULL)
			px->qtail->qnext = s;
		else
			px->qhead = s;
		px->qtail = s;
	}
	px->queued++;
	if (!front) {
		s->deadline = ev_now(fc_w->ev) + (uint64_t)px->l->timeout.queue;
		ev_timer_arm(fc_w->ev, &s->timer, s->deadline);
	}
}

static void queue_del(struct fc_stream *s)
{
	struct fc_proxy *px = s->px;

	if (!s->in_queue)
		return;
	if (s->qprev != NULL)
		s->qprev->qnext = s->qnext;
	else
		px->qhead = s->qnext;
	if (s->qnext != NULL)
		s->qnext->qprev = s->qprev;
	else
		px->qtail = s->qprev;
	s->qnext = s->qprev = NULL;
	s->in_queue = false;
	px->queued--;
}

/*
 * A slot of server freed: the stream waiting longest that may use it tries
 * again, soon.  One tied to another server by persistence keeps waiting.
 */
static void queue_kick(struct fc_proxy *px, int server)
{
	struct fc_stream *s = px->qhead;

	while (s != NULL && s->qwant >= 0 && s->qwant != server)
		s = s->qnext;
	if (s == NULL)
		return;
	queue_del(s);
	s->dequeued = true;
	stream_defer(s);
}

/* Servers persistence may not send to: the DOWN ones. */
static const bool *down_mask(struct fc_stream *s)
{
	struct fc_proxy *px = s->px;

	for (int i = 0; i < px->l->nservers; i++)
		px->excluded[i] = server_down(px, i);
	return px->excluded;
}

/* Servers not to pick: DOWN or full ones, and those tried already if asked. */
static const bool *pick_mask(struct fc_stream *s, bool skip_tried)
{
	struct fc_proxy *px = s->px;

	for (int i = 0; i < px->l->nservers; i++)
		px->excluded[i] = server_down(px, i) || server_full(px, i) ||
		    (skip_tried && s->tried != NULL && s->tried[i]);
	return px->excluded;
}

#define PICK_WAIT	(-2)		/* the persistent server is full: queue */

/* balance = "source": the client's address, not its port (FNV-1a). */
static uint32_t source_hash(const union fc_sockaddr *a)
{
	bool v6 = a->sa.sa_family == AF_INET6;
	const unsigned char *p = v6 ? (const unsigned char *)&a->in6.sin6_addr :
	    (const unsigned char *)&a->in.sin_addr;
	size_t n = v6 ? sizeof(a->in6.sin6_addr) : sizeof(a->in.sin_addr);
	uint32_t hash = 2166136261u;

	for (size_t i = 0; i < n; i++)
		hash = (hash ^ p[i]) * 16777619u;
	return hash;
}

/*
 * Persistence first: the server the request's cookie names, else its
 * learned session's, unless it is DOWN or was tried (then: redispatch).
 * A persistent server at its maxconn is waited for (PICK_WAIT), as HAProxy
 * does: moving the session would cost it.
 */
static int persist_pick(const struct fc_stream *s, const bool *excluded)
{
	int target[2] = { txn_ck(s)->server, s->stick_server };

	for (int k = 0; k < 2; k++) {
		int t = target[k];

		if (t < 0)
			continue;
		if (!excluded[t])
			return t;
		if (server_full(s->px, t) && !server_down(s->px, t) &&
		    !(s->tried != NULL && s->tried[t]))
			return PICK_WAIT;
	}
	return -1;
}

/* The server a waiting request is tied to, or -1. */
static int persist_want(const struct fc_stream *s)
{
	int ck = txn_ck(s)->server;

	if (ck >= 0 && !server_down(s->px, ck))
		return ck;
	if (s->stick_server >= 0 && !server_down(s->px, s->stick_server))
		return s->stick_server;
	return -1;
}

static int pick_server(struct fc_stream *s)
{
	struct fc_proxy *px = s->px;
	int n = px->l->nservers, idx;
	uint32_t hash = 0;
	const bool *excluded = pick_mask(s, true);

	if ((idx = persist_pick(s, excluded)) != -1)
		return idx;

	if (px->l->balance == FC_BALANCE_SOURCE)
		hash = source_hash(&s->peer);
	idx = lb_pick(&px->lb, excluded, hash);
	if (idx < 0 && s->tried != NULL) {
		/* Every usable server was tried once: start over (redispatch). */
		memset(s->tried, 0, (size_t)n * sizeof(*s->tried));
		idx = lb_pick(&px->lb, pick_mask(s, false), hash);
	}
	return idx;
}

static void attach_server(struct fc_stream *s, struct fc_conn *c)
{
	s->srv = c;
	c->s = s;
	s->px->srv[c->server].cur++;
	shm_add(&srv_counters(s, c->server)->cur_conns, 1);
	lb_conn_add(&s->px->lb, c->server, 1);
}

static struct fc_conn *server_open(struct fc_proxy *px, int server)
{
	struct fc_conn *c;
	int fd = net_connect_nb(&px->l->servers[server].addr);

	if (fd < 0)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return NULL;
	}
	c->io.fd = fd;
	c->io.cb = conn_cb;
	c->px = px;
	c->server = server;
	c->connecting = true;
	if (ev_io_add(fc_w->ev, &c->io, EV_CONN) < 0) {
		close(fd);
		free(c);
		return NULL;
	}
	return c;
}

static void connect_failed(struct fc_stream *s, bool timeout)
{
	const struct fc_listener *l = s->px->l;

	count_error(timeout ? FC_ERR_CONN_TIMEOUT : FC_ERR_CONN_REFUSED);
	if (s->server >= 0)
		shm_add(&srv_counters(s, s->server)->conn_errors, 1);
	if (s->tried == NULL)
		s->tried = calloc((size_t)l->nservers, sizeof(*s->tried));
	if (s->tried != NULL && s->server >= 0)
		s->tried[s->server] = true;
	detach_server(s, false);
	if (s->retries >= l->retries) {
		respond_error(s, 503, 'S', 'C');
		return;
	}
	s->retries++;
	shm_add(&srv_counters(s, s->server)->retries, 1);
	stream_connect(s);
}

/* Starts a new connection to server idx; a failure is handled (retry or 503). */
static void connect_new(struct fc_stream *s, int idx)
{
	struct fc_conn *c = server_open(s->px, idx);

	if (c == NULL) {
		connect_failed(s, false);
		return;
	}
	shm_add(&srv_counters(s, idx)->total_conns, 1);
	attach_server(s, c);
	s->t_connect = ev_now_us(fc_w->ev);
	s->t_connected = 0;
	s->deadline = ev_now(fc_w->ev) + (uint64_t)s->px->l->timeout.connect;
}

/* Connects to a server, reusing an idle connection when there is one. */
static void stream_connect(struct fc_stream *s)
{
	struct fc_proxy *px = s->px;
	struct fc_conn *c;
	int idx = pick_server(s);

	if (idx == PICK_WAIT || (idx < 0 && worth_queueing(px))) {
		queue_add(s, idx == PICK_WAIT ? persist_want(s) : -1, s->dequeued);
		s->dequeued = false;
		return;
	}
	s->dequeued = false;
	if (idx < 0) {
		respond_error(s, 503, 'S', 'C');
		return;
	}
	s->server = idx;
	s->t_connect = ev_now_us(fc_w->ev);
	s->srv_reused = false;
	if (s->srv_keepalive && (c = idle_take(px, idx)) != NULL) {
		attach_server(s, c);
		s->srv_reused = true;
		s->t_connected = s->t_connect;
		return;
	}
	connect_new(s, idx);
}

/*
 * Before epoll has said anything about a new connection, the request is
 * sent at once: on a nearby server (loopback, the same LAN) the handshake
 * is usually over by then, and the request leaves one loop pass earlier.
 * A connect still in progress answers EAGAIN (the writable event comes
 * later); a refused one answers its error, which is the connect's failure.
 * Once per connection: the next passes wait for epoll.
 */
static void connect_try_send(struct fc_stream *s)
{
	struct fc_conn *c = s->srv;
	ssize_t n;

	if (c->early_tried || !chan_pending(&s->req))
		return;
	c->early_tried = true;
	c->wr = true;
	if ((n = chan_send(c, &s->req)) < 0) {
		connect_failed(s, false);
		return;
	}
	if (n == 0)
		return;			/* EAGAIN: chan_send cleared wr */
	c->connecting = false;
	s->t_connected = ev_now_us(fc_w->ev);
}

/* Was the connect in progress successful? */
static void connect_check(struct fc_stream *s)
{
	struct fc_conn *c = s->srv;

	if (!c->wr && !c->rd) {
		connect_try_send(s);
		return;
	}
	/* Writable with no error or hang-up announced: connected.  Only a
	 * connect that may have failed needs its SO_ERROR read. */
	if (c->hup && net_socket_error(c->io.fd) != 0) {
		connect_failed(s, false);
		return;
	}
	c->connecting = false;
	c->wr = true;
	s->t_connected = ev_now_us(fc_w->ev);
}

/*
 * A reused connection that the server had closed is noticed by an EOF or a
 * reset before any response byte: send the kept request again on a new one.
 */
static bool retry_reused(struct fc_stream *s)
{
	if (!s->srv_reused || s->reuse_retried || !s->req.keep || !s->idempotent ||
	    s->sent_1xx || buf_len(s->rsp.buf) > s->rsp.fwd)
		return false;
	detach_server(s, false);
	s->reuse_retried = true;
	s->srv_reused = false;
	s->req.sent = 0;
	connect_new(s, s->server);
	return true;
}

static bool request_step(struct fc_stream *s)
{
	struct fc_chan *ch = &s->req;
	bool progress = false;
	ssize_t n;

	if (ch->state != CH_DONE && s->cli.rd && !s->cli.eof) {
		size_t limit = ch->state == CH_HEAD ? FC_BUFSZ - FC_REWRITE : FC_BUFSZ;

		if ((n = chan_recv(&s->cli, ch, limit)) < 0 && ch->buf == NULL) {
			respond_error(s, 500, 'R', 'R');
			return true;
		}
		progress = n > 0;
		if (n > 0)
			s->cli_in += (uint64_t)n;
	}
	if (ch->state == CH_HEAD) {
		request_parse(s);
		return !s->dead && (progress || ch->state != CH_HEAD);
	}
	if ((n = chan_frame(ch)) < 0) {
		respond_error(s, n == -2 ? 413 : 400, 'P', 'D');
		return true;
	}
	if (ch->state == CH_BODY && s->cli.eof && buf_len(ch->buf) == ch->fwd) {
		set_term(s, 'C', 'D');
		stream_close(s);
		return false;
	}
	if (s->srv == NULL)
		return progress;
	if (s->srv->connecting) {
		struct fc_conn *before = s->srv;

		connect_check(s);
		if (s->dead || s->srv != before)
			return true;		/* failed: retried or answered */
		if (s->srv->connecting)
			return progress;
		progress = true;
	}
	if ((n = chan_send(s->srv, ch)) < 0) {
		if (!retry_reused(s))
			respond_error(s, 502, 'S', 'D');
		return true;
	}
	return progress || n > 0;
}

/* ----------------------------------------------------------- response */

/*
 * The server set the stick cookie: push "id -> server" into this worker's
 * ring, for the checker to apply.  Not for a deletion, nor for the id the
 * request already had on this very server.
 */
static void stick_learn(struct fc_stream *s, const struct fc_http_msg *m)
{
	const struct fc_listener *l = s->px->l;
	struct fc_ck_span id;

	for (int i = http_find_header(m, "set-cookie", 0); i >= 0;
	    i = http_find_header(m, "set-cookie", (size_t)i + 1)) {
		const struct fc_http_header *h = &m->headers[i];

		if (!cookie_set_match(h->value, h->value_len, l->stick.cookie, &id) ||
		    id.len == 0 || cookie_set_deletes(h->value, h->value_len))
			continue;
		if (s->stick_server == s->server && s->stick_hash == id_hash(id))
			continue;
		session_push(fc_w->shm, fc_w->slot, id.p, id.len,
		    s->px->srv_base + (uint32_t)s->server, (uint32_t)l->stick.expire,
		    ev_now(fc_w->ev));
	}
}

static void response_ready(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen)
{
	struct fc_chan *ch = &s->rsp;
	size_t newlen;

	if (s->t_rsp == 0)
		s->t_rsp = ev_now_us(fc_w->ev);
	if (m->status == 101) {		/* Upgrade is removed from requests */
		respond_error(s, 502, 'P', 'H');
		return;
	}
	if (m->status >= 200) {
		s->status = m->status;
		if (s->px->l->stick.cookie[0] != '\0' && s->server >= 0)
			stick_learn(s, m);
		s->cli_keepalive = s->cli_keepalive && m->body != FC_BODY_EOF &&
		    !fc_w->draining;
		s->srv_keepalive = s->srv_keepalive && !m->conn_close &&
		    m->body != FC_BODY_EOF && (m->version_minor == 1 || m->conn_keepalive);
	}
	if (m->status < 200 && s->req_http10) {
		/* HTTP/1.0 clients do not expect interim responses: drop it. */
		struct fc_buf *b = ch->buf;
		char *head = b->data + b->start + ch->fwd;

		memmove(head, head + hlen, b->end - (b->start + ch->fwd + hlen));
		b->end -= hlen;
		return;
	}
	if ((newlen = rewrite_response(s, m, hlen)) == 0) {
		respond_error(s, 502, 'P', 'H');
		return;
	}
	ch->fwd += newlen;
	if (m->status < 200) {
		s->sent_1xx = true;
		return;			/* 1xx: a final response follows */
	}
	s->rsp_started = true;
	if (s->req.keep)
		chan_release(&s->req);
	ch->body = m->body;
	ch->left = m->content_length;
	http_chunked_init(&ch->ck);
	ch->state = m->body == FC_BODY_NONE ? CH_DONE : CH_BODY;
}

static void response_parse(struct fc_stream *s)
{
	struct fc_chan *ch = &s->rsp;
	struct fc_buf *b = ch->buf;
	struct fc_http_msg m;
	int status = 502, r = FC_HTTP_INCOMPLETE;

	if (b != NULL && buf_len(b) > ch->fwd)
		r = http_parse_response(b->data + b->start + ch->fwd, buf_len(b) - ch->fwd,
		    &m, s->is_head, FC_BUFSZ - FC_REWRITE, &status);
	if (r == FC_HTTP_INCOMPLETE) {
		if (s->srv->eof && !retry_reused(s))
			respond_error(s, 502, 'S', 'H');
		return;
	}
	if (r < 0) {
		respond_error(s, 502, 'P', 'H');
		return;
	}
	response_ready(s, &m, (size_t)r);
}

static bool response_read(struct fc_stream *s)
{
	struct fc_chan *ch = &s->rsp;
	struct fc_conn *c = s->srv;
	bool progress = false;
	ssize_t n;

	if (c == NULL || c->connecting)
		return false;
	if (ch->state != CH_DONE && c->rd && !c->eof) {
		size_t limit = ch->state == CH_HEAD ? FC_BUFSZ - FC_REWRITE : FC_BUFSZ;

		if ((n = chan_recv(c, ch, limit)) < 0 && ch->buf == NULL) {
			respond_error(s, 500, 'R', 'H');
			return true;
		}
		progress = n > 0;
	}
	if (ch->state == CH_HEAD) {
		response_parse(s);
		if (s->dead || ch->state == CH_HEAD)
			return progress || s->dead;
		/* The body bytes that came with the head leave with it, in
		 * one send. */
		progress = true;
	}
	if (chan_frame(ch) < 0) {
		respond_error(s, 502, 'S', 'D');
		return true;
	}
	if (ch->state == CH_BODY && c->eof && buf_len(ch->buf) == ch->fwd) {
		if (ch->body == FC_BODY_EOF) {
			ch->state = CH_DONE;
		} else {
			set_term(s, 'S', 'D');
			s->close_after = true;
			s->cli_keepalive = false;
			ch->state = CH_DONE;
		}
		return true;
	}
	return progress;
}

/* ------------------------------------------------------ transactions */

/*
 * Closing a socket with unread input makes the kernel send a reset, which
 * can destroy the response still in flight to the client.  When the client
 * may have sent more (pipelined requests, an unread body, an error), shut
 * our side down and read until the client closes, for a bounded time.
 */
static void client_close_or_linger(struct fc_stream *s)
{
	if (buf_len(s->req.buf) == 0 && s->status < 400) {
		stream_close(s);
		return;
	}
	shutdown(s->cli.io.fd, SHUT_WR);
	s->lingering = true;
	s->deadline = ev_now(fc_w->ev) + LINGER_MS;
	ev_timer_arm(fc_w->ev, &s->timer, s->deadline);
}

static void linger_step(struct fc_stream *s)
{
	char sink[4096];
	ssize_t n;

	while ((n = read(s->cli.io.fd, sink, sizeof(sink))) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		stream_close(s);
}

/* Is a server connection still open and silent, fit to be reused? */
static bool server_quiet(struct fc_conn *c)
{
	char byte;

	if (c->eof)
		return false;
	if (!c->rd)
		return true;
	if (recv(c->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN) {
		c->rd = false;
		return true;
	}
	return false;
}

/* An idle client of a draining worker: one last request, or closed soon. */
static void drain_grace(struct fc_stream *s, uint64_t now)
{
	uint64_t grace = (uint64_t)fc_w->conf->drain_timeout;

	if (grace > DRAIN_IDLE_MS)
		grace = DRAIN_IDLE_MS;
	if (s->deadline > now + grace) {
		s->deadline = now + grace;
		ev_timer_arm(fc_w->ev, &s->timer, s->deadline);
	}
	stream_defer(s);		/* reads what may already be there */
}

/* The response is out: log, then keep both connections alive or close. */
static void txn_end(struct fc_stream *s)
{
	bool reuse = s->srv_keepalive && s->req.state == CH_DONE && s->srv != NULL &&
	    buf_len(s->rsp.buf) == 0 && !chan_pending(&s->req) && server_quiet(s->srv);

	txn_log(s);
	s->ntxn++;
	detach_server(s, reuse);
	if (s->rsp.buf != NULL)		/* whatever a closed server sent extra */
		s->rsp.buf->start = s->rsp.buf->end = 0;
	/* Request bytes not sent (the server answered early) must never be
	 * parsed as the next request: the connection ends here. */
	if (!s->cli_keepalive || s->close_after || s->req.state != CH_DONE ||
	    chan_pending(&s->req)) {
		client_close_or_linger(s);
		return;
	}
	if (s->req.keep)
		chan_release(&s->req);
	chan_trim(&s->req);
	chan_trim(&s->rsp);
	sbuf_free(&s->payload);
	s->payload_off = 0;
	txn_begin(s);
	/* Draining, after a response that promised keep-alive: the client
	 * may be sending its next request already; answer it, with close. */
	if (fc_w->draining)
		drain_grace(s, ev_now(fc_w->ev));
}

/* Sends the response fulcrum made itself; -1 when the client is gone. */
static ssize_t payload_send(struct fc_stream *s)
{
	size_t left = s->payload.len - s->payload_off;
	ssize_t w;

	if (left == 0 || !s->cli.wr)
		return 0;
	w = send(s->cli.io.fd, s->payload.p + s->payload_off, left, MSG_NOSIGNAL);
	if (w < 0)
		return errno == EAGAIN || errno == EINTR ? (s->cli.wr = false, 0) : -1;
	if ((size_t)w < left)
		s->cli.wr = false;
	s->payload_off += (size_t)w;
	s->rsp.bytes += (uint64_t)w;
	return w;
}

static bool response_step(struct fc_stream *s)
{
	struct fc_chan *ch = &s->rsp;
	bool progress = response_read(s);
	ssize_t n;

	if (s->dead)
		return false;
	if (s->payload.p != NULL) {
		if ((n = payload_send(s)) < 0) {
			set_term(s, 'C', 'D');
			stream_close(s);
			return false;
		}
		if (s->payload_off < s->payload.len)
			return n > 0;
		txn_end(s);
		return !s->dead && !s->lingering;
	}
	if ((n = chan_send(&s->cli, ch)) < 0) {
		set_term(s, 'C', 'D');
		stream_close(s);
		return false;
	}
	if (ch->state == CH_DONE && !chan_pending(ch) &&
	    (s->status != 0 || s->close_after)) {
		txn_end(s);
		return !s->dead && !s->lingering;
	}
	return progress || n > 0;
}

/* -------------------------------------------------------------- timers */

static uint64_t data_timeout(const struct fc_stream *s)
{
	const struct fc_timeouts *t = &s->px->l->timeout;

	/* Waiting on the server for a response, or on the client otherwise. */
	if (s->req.state == CH_DONE && s->rsp.state != CH_DONE && !chan_pending(&s->rsp))
		return (uint64_t)t->server;
	return (uint64_t)t->client;
}

static void timer_update(struct fc_stream *s, bool progress)
{
	bool waiting_head = s->req.state == CH_HEAD;
	bool connecting = s->srv != NULL && s->srv->connecting;

	if (progress && !waiting_head && !connecting && !s->in_queue)
		s->deadline = ev_now(fc_w->ev) + data_timeout(s);
	if (!ev_timer_pending(&s->timer) || s->timer.when > s->deadline)
		ev_timer_arm(fc_w->ev, &s->timer, s->deadline);
}

static void stream_timeout(struct fc_ev *ev, struct fc_ev_timer *t)
{
	struct fc_stream *s = (struct fc_stream *)((char *)t - offsetof(struct fc_stream, timer));

	if (s->dead)
		return;
	if (s->lingering && ev_now(ev) >= s->deadline) {
		stream_close(s);
		return;
	}
	if (ev_now(ev) < s->deadline) {
		ev_timer_arm(ev, t, s->deadline);
		return;
	}
	if (s->in_queue) {
		queue_del(s);
		respond_error(s, 503, 's', 'Q');
	} else if (s->req.state == CH_HEAD) {
		if (buf_len(s->req.buf) == 0) {
			stream_close(s);	/* idle keep-alive: close quietly */
			return;
		}
		respond_error(s, 408, 'c', 'R');
	} else if (s->srv != NULL && s->srv->connecting) {
		set_term(s, 's', 'C');
		connect_failed(s, true);
	} else if (s->req.state == CH_DONE && !s->rsp_started) {
		respond_error(s, 504, 's', 'H');
	} else {
		set_term(s, s->req.state == CH_DONE ? 's' : 'c', 'D');
		stream_close(s);
		return;
	}
	if (!s->dead)
		stream_run(s);
}

/* ---------------------------------------------------------- lifecycle */

static void stream_run(struct fc_stream *s)
{
	bool any = false;

	if (s->lingering) {
		linger_step(s);
		return;
	}
	if (s->dequeued) {
		stream_connect(s);
		if (s->dead || s->in_queue)
			return;
	}
	for (int pass = 0; !s->dead && !s->lingering; pass++) {
		bool p;

		if (pass == RUN_PASSES) {
			/* Let the other connections have their turn; edge-triggered
			 * events will not come again for data already waiting. */
			stream_defer(s);
			break;
		}
		p = request_step(s);
		if (s->dead)
			break;
		p |= response_step(s);
		if (!p)
			break;
		any = true;
	}
	if (!s->dead && !s->lingering)
		timer_update(s, any);
}

static void stream_defer(struct fc_stream *s)
{
	if (s->queued)
		return;
	s->queued = true;
	s->runq_next = runq;
	runq = s;
}

bool stream_run_deferred(void)
{
	struct fc_stream *s = runq;

	runq = NULL;
	while (s != NULL) {
		struct fc_stream *next = s->runq_next;

		s->queued = false;
		if (!s->dead)
			stream_run(s);
		s = next;
	}
	return runq != NULL;
}

static void conn_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	struct fc_conn *c = (struct fc_conn *)io;

	(void)ev;
	if (c->io.fd < 0)
		return;			/* closed earlier in this pass */
	if (c->s == NULL) {
		idle_event(c, events);
		return;
	}
	if (c->s->dead)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->rd = true;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->hup = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->wr = true;
	stream_run(c->s);
}

void stream_accept(struct fc_proxy *px, int fd, const union fc_sockaddr *peer)
{
	struct fc_stream *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		close(fd);
		return;
	}
	s->px = px;
	s->peer = *peer;
	s->cli.io.fd = fd;
	s->cli.io.cb = conn_cb;
	s->cli.s = s;
	s->cli.px = px;
	s->cli.server = -1;
	s->timer.cb = stream_timeout;
	if (ev_io_add(fc_w->ev, &s->cli.io, EV_CONN) < 0) {
		close(fd);
		free(s);
		return;
	}
	s->next = fc_w->streams;
	if (s->next != NULL)
		s->next->prev = s;
	fc_w->streams = s;
	px->nconn++;
	fc_w->nconn++;
	shm_add(&fc_w->blk->cur_conns, 1);
	shm_add(&fc_w->blk->total_conns, 1);
	txn_begin(s);
	ev_timer_arm(fc_w->ev, &s->timer, s->deadline);
}

static void stream_close(struct fc_stream *s)
{
	if (s->dead)
		return;
	s->dead = true;
	queue_del(s);
	if (s->reqline != NULL)
		txn_log(s);
	shm_add(&fc_w->blk->cur_conns, -1);
	detach_server(s, false);
	ev_timer_stop(fc_w->ev, &s->timer);
	close(s->cli.io.fd);
	s->cli.io.fd = -1;
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		fc_w->streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = fc_w->graveyard;
	fc_w->graveyard = s;
	s->px->nconn--;
	fc_w->nconn--;
	worker_conn_released(s->px);
}

void stream_reap(void)
{
	while (fc_w->graveyard != NULL) {
		struct fc_stream *s = fc_w->graveyard;

		fc_w->graveyard = s->next;
		buf_put(s->req.buf);
		buf_put(s->rsp.buf);
		sbuf_free(&s->payload);
		reqline_put(s);
		ck_put(s);
		free(s->tried);
		free(s);
	}
	while (dead_conns != NULL) {
		struct fc_conn *c = dead_conns;

		dead_conns = c->next;
		free(c);
	}
}

/*
 * Draining (reload, graceful stop): every client gets "Connection: close"
 * on its next response.  A keep-alive client idle between requests may
 * have a request on the wire already: closing now would reset it, so it
 * gets a short grace to send one last request, answered, then closed.  A
 * response already on its way with keep-alive is finished the same way.
 */
void stream_drain_all(void)
{
	uint64_t now = ev_now(fc_w->ev);
	struct fc_stream *s;

	for (s = fc_w->streams; s != NULL; s = s->next) {
		if (!s->rsp_started)
			s->cli_keepalive = false;
		if (s->req.state == CH_HEAD && buf_len(s->req.buf) == 0 && s->ntxn > 0 &&
		    !s->lingering)
			drain_grace(s, now);
	}
	stream_purge_idle(now);
}
