/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The proxy state machine of a worker: reads a request head from the client,
 * picks a server (backend.c), connects or reuses an idle connection,
 * rewrites the head in place (rewrite.c), streams the body, then does the
 * same for the response, and counts and logs it (accesslog.c).
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
#include "lib/pool.h"
#include "lib/proxyproto.h"
#include "shm/rate.h"
#include "worker/accesslog.h"
#include "worker/backend.h"
#include "worker/chan.h"
#include "worker/conn.h"
#include "worker/rewrite.h"
#include "worker/route.h"
#include "worker/splice.h"
#include "worker/stats.h"
#include "worker/stream.h"
#include "worker/tunnel.h"
#include "worker/xprt.h"

#define LINGER_MS	1000
#define DRAIN_IDLE_MS	1000		/* draining: an idle client's last chance */
#define RUN_PASSES	32		/* pump rounds per stream per loop pass */

static struct fc_stream *runq;		/* the run queue: streams with work left over */
static struct fc_pool line_pool = POOL_INIT(FC_LOGLINE);
static struct fc_pool txn_pool = POOL_INIT(sizeof(struct fc_txn));

static void stream_run(struct fc_stream *s);
static void stream_defer(struct fc_stream *s);
static void stream_close(struct fc_stream *s);
static void stream_connect(struct fc_stream *s);
static void conn_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events);

/* The request line for the log: pooled, held only while a transaction runs. */
static char *reqline_get(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;

	if (t->reqline == NULL && (t->reqline = pool_get(&line_pool)) != NULL)
		t->reqline[0] = '\0';
	return t->reqline;
}

static void reqline_put(struct fc_stream *s)
{
	pool_put(&line_pool, s->tx->reqline);
	s->tx->reqline = NULL;
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

/* ---------------------------------------------------------- answering */

static void set_term(struct fc_stream *s, char who, char when)
{
	struct fc_txn *t = s->tx;

	if (t->term[0] != '-')
		return;
	t->term[0] = who;
	t->term[1] = when;
}

/* The stream lets its server connection go: to the idle pool, or closed. */
static void detach_server(struct fc_stream *s, bool reuse)
{
	struct fc_conn *c = s->tx->srv;
	struct fc_stream *waiter;

	if (c == NULL)
		return;
	s->tx->srv = NULL;
	if ((waiter = backend_release(s, c)) != NULL) {
		waiter->tx->dequeued = true;	/* it connects on its next run */
		stream_defer(waiter);
	}
	if (reuse)
		backend_idle_put(c);
	else
		conn_close_server(c);
}

/*
 * Answers the client with an error and closes afterwards.  Once a response
 * head went out, a status can no longer be sent: the connection is cut.
 */
static void respond_error(struct fc_stream *s, int status, char who, char when)
{
	struct fc_txn *t = s->tx;
	const char *text;
	size_t len;

	set_term(s, who, when);
	accesslog_status_error(status);
	if ((status == 502 || status == 504) && t->server >= 0 && t->t_connected != 0)
		shm_add(&accesslog_srv(t->be, t->server)->resp_errors, 1);
	detach_server(s, false);
	if (t->reqline == NULL && reqline_get(s) != NULL)
		snprintf(t->reqline, FC_LOGLINE, "<BADREQ>");
	if (t->rsp_started) {
		stream_close(s);
		return;
	}
	if (t->rsp.buf == NULL && (t->rsp.buf = buf_get()) == NULL) {
		stream_close(s);
		return;
	}
	text = error_reply(status, &len);
	t->rsp.buf->start = t->rsp.buf->end = 0;
	memcpy(t->rsp.buf->data, text, len);
	t->rsp.buf->end = len;
	chan_reset(&t->rsp);
	t->rsp.fwd = len;
	t->rsp.state = CH_DONE;
	t->req.state = CH_DONE;
	t->req.keep = false;
	t->status = status;
	t->cli_keepalive = false;
	t->close_after = true;
	t->rsp_started = true;
}

/* ------------------------------------------------------------ request */

/* The transaction's fields as a request starts; its buffers are kept. */
static void txn_reset(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;

	t->server = -1;
	t->retries = 0;
	backend_persist_reset(s);
	t->be = NULL;
	if (t->tried != NULL)
		memset(t->tried, 0, (size_t)fc_w->max_servers * sizeof(*t->tried));
	t->is_head = t->rsp_started = t->close_after = t->body_unread = t->req_cut = false;
	t->srv_reused = t->reuse_retried = t->logged = false;
	t->sent_1xx = false;
	t->ws_asked = false;
	t->local = NULL;
	t->cli_in = 0;
	t->status = 0;
	memcpy(t->term, "--", 3);
	t->t_head = t->t_connect = t->t_connected = t->t_rsp = 0;
	reqline_put(s);
	chan_reset(&t->req);
	chan_reset(&t->rsp);
}

/* The connection waits for its next request (or its first, just accepted). */
static void txn_begin(struct fc_stream *s)
{
	s->t_start = ev_now_us(fc_w->ev);
	s->accept_wall_us = ev_wall_us(fc_w->ev);
	s->deadline = ev_now(fc_w->ev) + (uint64_t)s->px->l->timeout.http_request;
	if (s->tx != NULL)
		txn_reset(s);
}

/* Gives s a transaction if it has none; false when out of memory. */
static bool txn_get(struct fc_stream *s)
{
	if (s->tx != NULL)
		return true;
	if ((s->tx = pool_get(&txn_pool)) == NULL)
		return false;
	memset(s->tx, 0, sizeof(*s->tx));
	txn_reset(s);
	return true;
}

/* Gives s's transaction back, and everything it holds. */
static void txn_put(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;

	if (t == NULL)
		return;
	splice_release(&t->req);
	splice_release(&t->rsp);
	buf_put(t->req.buf);
	buf_put(t->rsp.buf);
	sbuf_free(&t->payload);
	reqline_put(s);
	backend_persist_reset(s);
	free(t->tried);
	pool_put(&txn_pool, t);
	s->tx = NULL;
}

/*
 * Between two requests, nothing of the next one read: the connection
 * gives its transaction back, so an idle keep-alive connection costs its
 * stream only.  The next byte's event takes one again (stream_run).
 */
static void txn_idle(struct fc_stream *s)
{
	const struct fc_txn *t = s->tx;

	if (t == NULL || s->dead || s->lingering || t->req.state != CH_HEAD ||
	    buf_len(t->req.buf) != 0 || t->srv != NULL || t->reqline != NULL || t->tunnel)
		return;
	txn_put(s);
}

static void keep_reqline(struct fc_stream *s, const struct fc_http_msg *m)
{
	struct fc_txn *t = s->tx;
	size_t n;

	if (reqline_get(s) == NULL)
		return;
	if (m->first_line == NULL || m->first_line_len == 0) {
		snprintf(t->reqline, FC_LOGLINE, "<BADREQ>");
		return;
	}
	n = m->first_line_len < FC_LOGLINE - 1 ? m->first_line_len : FC_LOGLINE - 1;

	memcpy(t->reqline, m->first_line, n);
	t->reqline[n] = '\0';
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

/*
 * A response fulcrum made itself (in its payload) answers the request m,
 * whose head is hlen bytes.  Its body is never read: the connection
 * closes after the response, lingering while the body comes.
 */
static void serve_local(struct fc_stream *s, const struct fc_http_msg *m, int status,
    const char *who, bool keepalive, size_t hlen)
{
	struct fc_txn *t = s->tx;

	t->status = status;
	t->local = who;
	t->req.buf->start += hlen;	/* the request is consumed, not forwarded */
	t->req.state = CH_DONE;
	t->rsp.state = CH_DONE;
	t->rsp_started = true;
	t->t_rsp = ev_now_us(fc_w->ev);
	t->body_unread = m->body != FC_BODY_NONE;
	if (!keepalive) {
		t->cli_keepalive = false;
		t->close_after = true;
	}
}

/* The listener's stats page: answered here, never forwarded. */
static bool serve_stats(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen)
{
	const struct fc_listener *l = s->px->l;
	enum fc_stats_kind kind = stats_match(l, m->target, m->target_len);
	bool keepalive = s->tx->cli_keepalive && m->body == FC_BODY_NONE;

	if (kind == FC_STATS_NONE)
		return false;
	serve_local(s, m, stats_respond(l, s->px->index, s->px->show_backend,
	    fc_w->conf->backends, fc_w->shm, kind,
	    m, keepalive, &s->tx->payload), "<STATS>", keepalive, hlen);
	return true;
}

/* redirect_https: every request gets its https:// address. */
static void serve_redirect(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen)
{
	bool keepalive = s->tx->cli_keepalive && m->body == FC_BODY_NONE;
	int status = rewrite_redirect_https(m, keepalive, &s->tx->payload);

	shm_add(&fc_w->blk->redirects, status == 301);
	serve_local(s, m, status, "<REDIRECT>", keepalive && status == 301, hlen);
}

/* A redirect route matched. */
static void serve_route_redirect(struct fc_stream *s, const struct fc_http_msg *m,
    const struct fc_route *rt, size_t hlen)
{
	bool keepalive = s->tx->cli_keepalive && m->body == FC_BODY_NONE;

	shm_add(&fc_w->blk->redirects, 1);
	serve_local(s, m, rewrite_redirect(m, rt, keepalive, &s->tx->payload), "<REDIRECT>",
	    keepalive, hlen);
}

/* rate_limit: a client over its rate gets 429 and when to come back. */
static bool serve_rate_limited(struct fc_stream *s, const struct fc_http_msg *m,
    size_t hlen)
{
	const struct fc_listener *l = s->px->l;
	bool keepalive = s->tx->cli_keepalive && m->body == FC_BODY_NONE;
	uint32_t wait;

	if (!l->rate_limit.enabled)
		return false;
	wait = rate_take(fc_w->shm, rate_key((uint32_t)s->px->index, &s->peer), &l->rate_limit,
	    ev_now_us(fc_w->ev));
	if (wait == 0)
		return false;
	shm_add(&fc_w->blk->rate_limited, 1);
	/* A HEAD's answer has no body: one would be read as the next response. */
	sbuf_printf(&s->tx->payload, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: %u\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 19\r\nConnection: %s\r\n\r\n%s",
	    wait, keepalive ? "keep-alive" : "close",
	    s->tx->is_head ? "" : "Too many requests.\n");
	serve_local(s, m, 429, "<LIMIT>", keepalive, hlen);
	return true;
}

/*
 * The backend of the request: the first route that matches, else the
 * listener's.  False when the request was answered here (a redirect).
 */
static bool choose_backend(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen)
{
	const struct fc_listener *l = s->px->l;
	const struct fc_route *rt = l->nroutes > 0 ? route_match(l, m) : NULL;
	int b = l->backend;

	if (rt != NULL && rt->redirect != NULL) {
		serve_route_redirect(s, m, rt, hlen);
		return false;
	}
	if (rt != NULL)
		b = rt->backend;
	if (b < 0) {
		respond_error(s, 503, 'S', 'C');	/* no route, no default */
		return false;
	}
	s->tx->be = &fc_w->backends[b];
	return true;
}

/* A complete request head is in the buffer: decide, rewrite, connect. */
static void request_ready(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen)
{
	struct fc_txn *t = s->tx;
	const struct fc_listener *l = s->px->l;
	size_t newlen;

	t->t_head = ev_now_us(fc_w->ev);
	keep_reqline(s, m);
	t->is_head = m->method_len == 4 && memcmp(m->method, "HEAD", 4) == 0;
	t->idempotent = method_idempotent(m);
	t->req_http10 = m->version_minor == 0;
	t->cli_keepalive = !l->httpclose && !m->conn_close && !fc_w->draining;
	t->srv_keepalive = !l->httpclose;
	t->ws_asked = tunnel_asked(m);
	if (serve_rate_limited(s, m, hlen))
		return;
	if (l->redirect_https) {
		serve_redirect(s, m, hlen);
		return;
	}
	if (l->stats.uri != NULL && serve_stats(s, m, hlen))
		return;
	if (!choose_backend(s, m, hlen))
		return;
	if (l->limits.body > 0 && m->body == FC_BODY_LENGTH &&
	    m->content_length > (uint64_t)l->limits.body) {
		respond_error(s, 413, 'P', 'R');
		return;
	}
	backend_persist_scan(s, m);
	if ((newlen = rewrite_request(s, m, hlen)) == 0) {
		respond_error(s, 431, 'P', 'R');
		return;
	}
	t->req.fwd = newlen;
	t->req.body = m->body;
	t->req.left = m->content_length;
	http_chunked_init(&t->req.ck);
	t->req.max_body = (uint64_t)l->limits.body;
	t->req.decoded = 0;
	t->req.state = m->body == FC_BODY_NONE ? CH_DONE : CH_BODY;
	/* A request without a body can be sent again if a reused server
	 * connection turns out to be closed: keep it until answered. */
	t->req.keep = m->body == FC_BODY_NONE;
	stream_connect(s);
}

static void request_parse(struct fc_stream *s)
{
	const struct fc_limits *lim = &s->px->l->limits;
	struct fc_http_msg m;
	struct fc_buf *b = s->tx->req.buf;
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
			s->tx->status = 400;
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

/* ---------------------------------------------------------- connecting */

static void connect_failed(struct fc_stream *s, bool timeout)
{
	struct fc_txn *t = s->tx;
	const struct fc_listener *l = s->px->l;

	accesslog_error(timeout ? FC_ERR_CONN_TIMEOUT : FC_ERR_CONN_REFUSED);
	if (t->server >= 0)
		shm_add(&accesslog_srv(t->be, t->server)->conn_errors, 1);
	if (t->tried == NULL)
		t->tried = calloc((size_t)fc_w->max_servers, sizeof(*t->tried));
	if (t->tried != NULL && t->server >= 0)
		t->tried[t->server] = true;
	detach_server(s, false);
	if (t->retries >= l->retries) {
		respond_error(s, 503, 'S', 'C');
		return;
	}
	t->retries++;
	shm_add(&accesslog_srv(t->be, t->server)->retries, 1);
	stream_connect(s);
}

/*
 * A server with send_proxy: the header says the client (its PROXY header's
 * when it came with one) connected to where it did.  0, or -1.
 */
static int proxy_to_server(struct fc_stream *s, struct fc_conn *c)
{
	int version = s->tx->be->b->servers[c->server].send_proxy;
	socklen_t len = sizeof(s->dst);

	if (version == 0)
		return 0;
	if (s->dst.sa.sa_family == 0 && getsockname(s->cli.io.fd, &s->dst.sa, &len) < 0)
		return -1;
	return conn_set_proxy(c, version, &s->peer.sa, &s->dst.sa);
}

/* Starts a new connection to server idx; a failure is handled (retry or 503). */
static void connect_new(struct fc_stream *s, int idx)
{
	struct fc_txn *t = s->tx;
	struct fc_conn *c;

	backend_idle_make_room();
	c = conn_open_server(t->be, idx, conn_cb);

	if (c == NULL) {
		connect_failed(s, false);
		return;
	}
	if (proxy_to_server(s, c) < 0) {
		conn_close_server(c);
		connect_failed(s, false);
		return;
	}
	shm_add(&accesslog_srv(t->be, idx)->total_conns, 1);
	backend_attach(s, c);
	t->t_connect = ev_now_us(fc_w->ev);
	t->t_connected = 0;
	s->deadline = ev_now(fc_w->ev) + (uint64_t)s->px->l->timeout.connect;
}

/* Connects to a server, reusing an idle connection when there is one. */
static void stream_connect(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;
	struct fc_conn *c;
	bool woken = t->dequeued;
	int idx;

	t->dequeued = false;
	switch (backend_pick(s, &idx)) {
	case PICK_QUEUE:
		/* A stream woken that lost its slot keeps its place and deadline. */
		backend_queue_add(s, idx, woken);
		if (!woken) {
			s->deadline = ev_now(fc_w->ev) + (uint64_t)s->px->l->timeout.queue;
			ev_timer_arm(fc_w->ev, &s->timer, s->deadline);
		}
		return;
	case PICK_NONE:
		respond_error(s, 503, 'S', 'C');
		return;
	case PICK_SERVER:
		break;
	}
	t->server = idx;
	t->t_connect = ev_now_us(fc_w->ev);
	t->srv_reused = false;
	if (t->srv_keepalive && (c = backend_idle_take(t->be, idx)) != NULL) {
		backend_attach(s, c);
		t->srv_reused = true;
		t->t_connected = t->t_connect;
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
	struct fc_txn *t = s->tx;
	struct fc_conn *c = t->srv;
	ssize_t n;

	if (c->early_tried || !chan_pending(&t->req))
		return;
	c->early_tried = true;
	c->wr = true;
	if ((n = chan_send(c, &t->req)) < 0) {
		connect_failed(s, false);
		return;
	}
	if (n == 0)
		return;			/* EAGAIN: chan_send cleared wr */
	c->connecting = false;
	t->t_connected = ev_now_us(fc_w->ev);
}

/* Was the connect in progress successful? */
static void connect_check(struct fc_stream *s)
{
	struct fc_conn *c = s->tx->srv;

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
	s->tx->t_connected = ev_now_us(fc_w->ev);
}

/*
 * A reused connection that the server had closed is noticed by an EOF or a
 * reset before any response byte: send the kept request again on a new one.
 */
static bool retry_reused(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;

	if (!t->srv_reused || t->reuse_retried || !t->req.keep || !t->idempotent ||
	    t->sent_1xx || buf_len(t->rsp.buf) > t->rsp.fwd)
		return false;
	detach_server(s, false);
	t->reuse_retried = true;
	t->srv_reused = false;
	t->req.sent = 0;
	connect_new(s, t->server);
	return true;
}

/*
 * The server stopped taking the request (a send failed).  One that answered
 * early (a 413 before the body) and closed has its answer waiting in the
 * socket: the request goes no further and the response side reads that
 * answer, or finds none and answers 502 itself.  The rest of the body stays
 * unread, so the client connection lingers when the answer is out.
 */
static bool request_cut(struct fc_stream *s)
{
	if (!retry_reused(s))
		s->tx->req_cut = true;
	return true;
}

/* A request body going by splice (splice.h). */
static bool request_splice(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;

	switch (splice_pump(&t->req, &s->cli, t->srv, &t->cli_in)) {
	case SPLICE_FROM_EOF:
		set_term(s, 'C', 'D');
		stream_close(s);
		return false;
	case SPLICE_TO_ERR:
		return request_cut(s);
	case SPLICE_MOVED:
		return true;
	default:
		return false;
	}
}

static bool request_step(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;
	struct fc_chan *ch = &t->req;
	bool progress = false;
	ssize_t n;

	if (t->req_cut)
		return false;
	if (t->srv != NULL && splice_use(ch, &s->cli, t->srv))
		return request_splice(s);

	if (ch->state != CH_DONE && conn_can_recv(&s->cli) && !s->cli.eof) {
		size_t limit = ch->state == CH_HEAD ? FC_BUFSZ - FC_REWRITE : FC_BUFSZ;

		if ((n = chan_recv(&s->cli, ch, limit)) < 0 && ch->buf == NULL) {
			respond_error(s, 500, 'R', 'R');
			return true;
		}
		progress = n > 0;
		if (n > 0)
			t->cli_in += (uint64_t)n;
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
	if (t->srv == NULL)
		return progress;
	if (t->srv->connecting) {
		struct fc_conn *before = t->srv;

		connect_check(s);
		if (s->dead || t->srv != before)
			return true;		/* failed: retried or answered */
		if (t->srv->connecting)
			return progress;
		progress = true;
	}
	if ((n = chan_send(t->srv, ch)) < 0)
		return request_cut(s);
	return progress || n > 0;
}

/* ----------------------------------------------------------- response */

static void response_ready(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen)
{
	struct fc_txn *t = s->tx;
	struct fc_chan *ch = &t->rsp;
	size_t newlen;

	if (t->t_rsp == 0)
		t->t_rsp = ev_now_us(fc_w->ev);
	/* A 101 is relayed only where a WebSocket was asked for (tunnel.h). */
	if (m->status == 101 && !tunnel_granted(s, m)) {
		respond_error(s, 502, 'P', 'H');
		return;
	}
	if (m->status >= 200 || m->status == 101) {
		t->status = m->status;
		if (t->be->b->stick.cookie[0] != '\0' && t->server >= 0)
			backend_persist_learn(s, m);
		t->cli_keepalive = t->cli_keepalive && m->body != FC_BODY_EOF &&
		    !fc_w->draining;
		t->srv_keepalive = t->srv_keepalive && !m->conn_close &&
		    m->body != FC_BODY_EOF && (m->version_minor == 1 || m->conn_keepalive);
	}
	if (m->status < 200 && t->req_http10) {
		/* HTTP/1.0 clients do not expect interim responses: drop it. */
		rewrite_drop_head(ch, hlen);
		return;
	}
	if ((newlen = rewrite_response(s, m, hlen)) == 0) {
		respond_error(s, 502, 'P', 'H');
		return;
	}
	ch->fwd += newlen;
	if (m->status == 101) {
		t->rsp_started = true;
		tunnel_begin(s);
		return;			/* the bytes behind the head are the tunnel's */
	}
	if (m->status < 200) {
		t->sent_1xx = true;
		return;			/* 1xx: a final response follows */
	}
	t->rsp_started = true;
	if (t->req.keep)
		chan_release(&t->req);
	ch->body = m->body;
	ch->left = m->content_length;
	http_chunked_init(&ch->ck);
	ch->state = m->body == FC_BODY_NONE ? CH_DONE : CH_BODY;
}

static void response_parse(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;
	struct fc_chan *ch = &t->rsp;
	struct fc_buf *b = ch->buf;
	struct fc_http_msg m;
	int status = 502, r = FC_HTTP_INCOMPLETE;

	if (b != NULL && buf_len(b) > ch->fwd)
		r = http_parse_response(b->data + b->start + ch->fwd, buf_len(b) - ch->fwd,
		    &m, t->is_head, FC_BUFSZ - FC_REWRITE, &status);
	if (r == FC_HTTP_INCOMPLETE) {
		if (t->srv->eof && !retry_reused(s))
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
	struct fc_txn *t = s->tx;
	struct fc_chan *ch = &t->rsp;
	struct fc_conn *c = t->srv;
	bool progress = false;
	ssize_t n;

	if (c == NULL || c->connecting)
		return false;
	if (ch->state != CH_DONE && conn_can_recv(c) && !c->eof) {
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
			t->close_after = true;
			t->cli_keepalive = false;
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
 * our side down and read until the client closes, for a bounded time.  A
 * request body not read to its end (a server that answered early, or an
 * answer made here) is such input even with the buffer empty, as it always
 * is while splicing; so are bytes that came after the request was parsed,
 * which wait in the kernel, not in the buffer (a pipelined request).
 */
static void client_close_or_linger(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;

	if (buf_len(t->req.buf) == 0 && t->status < 400 && t->req.state == CH_DONE &&
	    !t->body_unread && net_unread(s->cli.io.fd) == 0) {
		stream_close(s);
		return;
	}
	splice_release(&t->req);	/* what it holds goes nowhere now */
	conn_shutw(&s->cli);
	s->lingering = true;
	s->deadline = ev_now(fc_w->ev) + LINGER_MS;
	ev_timer_arm(fc_w->ev, &s->timer, s->deadline);
}

static void linger_step(struct fc_stream *s)
{
	char sink[4096];

	while (conn_recv(&s->cli, sink, sizeof(sink)) > 0)
		;
	if (s->cli.eof)
		stream_close(s);
}

/* Is a server connection still open and silent, fit to be reused? */
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
	struct fc_txn *t = s->tx;
	bool reuse = t->srv_keepalive && t->req.state == CH_DONE && t->srv != NULL &&
	    buf_len(t->rsp.buf) == 0 && !chan_pending(&t->req) && backend_idle_fit(t->srv);

	accesslog_txn(s);
	s->ntxn++;
	detach_server(s, reuse);
	if (t->rsp.buf != NULL)		/* whatever a closed server sent extra */
		t->rsp.buf->start = t->rsp.buf->end = 0;
	/* Request bytes not sent (the server answered early) must never be
	 * parsed as the next request: the connection ends here. */
	if (!t->cli_keepalive || t->close_after || t->req.state != CH_DONE ||
	    chan_pending(&t->req)) {
		client_close_or_linger(s);
		return;
	}
	if (t->req.keep)
		chan_release(&t->req);
	chan_trim(&t->req);
	chan_trim(&t->rsp);
	sbuf_free(&t->payload);
	t->payload_off = 0;
	txn_begin(s);
	/* Draining, after a response that promised keep-alive: the client
	 * may be sending its next request already; answer it, with close. */
	if (fc_w->draining)
		drain_grace(s, ev_now(fc_w->ev));
}

/* Sends the response fulcrum made itself; -1 when the client is gone. */
static ssize_t payload_send(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;
	size_t left = t->payload.len - t->payload_off;
	ssize_t w;

	if (left == 0 || !conn_can_send(&s->cli))
		return 0;
	if ((w = conn_send(&s->cli, t->payload.p + t->payload_off, left)) <= 0)
		return w;
	t->payload_off += (size_t)w;
	t->rsp.bytes += (uint64_t)w;
	return w;
}

/* A response body going by splice (splice.h). */
static bool response_splice(struct fc_stream *s)
{
	struct fc_chan *ch = &s->tx->rsp;

	switch (splice_pump(ch, s->tx->srv, &s->cli, NULL)) {
	case SPLICE_FROM_EOF:		/* cut short: the client sees it by its length */
		set_term(s, 'S', 'D');
		stream_close(s);
		return false;
	case SPLICE_TO_ERR:
		set_term(s, 'C', 'D');
		stream_close(s);
		return false;
	case SPLICE_IDLE:
		return false;
	default:
		if (ch->state == CH_DONE)
			txn_end(s);
		return !s->dead && !s->lingering;
	}
}

static bool response_step(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;
	struct fc_chan *ch = &t->rsp;
	bool progress;
	ssize_t n;

	if (!t->tunnel && t->payload.p == NULL && splice_use(ch, t->srv, &s->cli))
		return response_splice(s);
	progress = response_read(s);

	if (s->dead)
		return false;
	if (t->tunnel)
		return true;		/* the head goes out with the tunnel's bytes */
	if (t->payload.p != NULL) {
		if ((n = payload_send(s)) < 0) {
			set_term(s, 'C', 'D');
			stream_close(s);
			return false;
		}
		if (t->payload_off < t->payload.len)
			return n > 0;
		txn_end(s);
		return !s->dead && !s->lingering;
	}
	/* The last bytes of a response the connection closes after (txn_end):
	 * they wait to leave with the close_notify and the FIN, one segment. */
	s->cli.more = ch->state == CH_DONE && (t->status != 0 || t->close_after) &&
	    (!t->cli_keepalive || t->close_after);
	if ((n = chan_send(&s->cli, ch)) < 0) {
		set_term(s, 'C', 'D');
		stream_close(s);
		return false;
	}
	if (ch->state == CH_DONE && !chan_pending(ch) &&
	    (t->status != 0 || t->close_after)) {
		txn_end(s);
		return !s->dead && !s->lingering;
	}
	return progress || n > 0;
}

/* ------------------------------------------------------ PROXY protocol */

/*
 * A connection without a valid PROXY header on an accept_proxy listener:
 * closed unanswered (whoever sent it is no load balancer of ours), counted
 * as a bad request and logged, the events log at most once a minute.
 */
static void proxy_refuse(struct fc_stream *s, const char *why)
{
	static uint64_t last_ms;
	uint64_t now = ev_now(fc_w->ev);
	char peer[FC_ADDRSTRLEN];

	if (last_ms == 0 || now - last_ms >= 60000) {
		last_ms = now;
		log_notice("listener \"%s\": connection from %s closed: %s; more are"
		    " counted, not logged, for a minute", s->px->l->name,
		    net_addr_str(&s->peer.sa, peer, sizeof(peer)), why);
	}
	accesslog_error(FC_ERR_BADREQ);
	if (txn_get(s)) {		/* for its log line */
		set_term(s, 'P', 'R');
		if (reqline_get(s) != NULL)
			snprintf(s->tx->reqline, FC_LOGLINE, "<BADPROXY>");
	}
	stream_close(s);
}

/* Reads the PROXY header: true once it is, and its client is the client. */
static bool proxy_step(struct fc_stream *s)
{
	struct fc_proxy_hdr h;
	const char *why = NULL;
	int r = conn_recv_proxy(&s->cli, &h, &why);

	if (r == 0)
		return false;		/* the accept's http_request timer runs */
	if (r < 0) {
		proxy_refuse(s, why);
		return false;
	}
	s->await_proxy = false;
	if (!h.local) {
		s->peer = h.src;
		s->dst = h.dst;
	}
	return true;
}

/* -------------------------------------------------------------- timers */

static uint64_t data_timeout(const struct fc_stream *s)
{
	const struct fc_timeouts *to = &s->px->l->timeout;
	const struct fc_txn *t = s->tx;

	if (t->tunnel)
		return tunnel_timeout(s);
	/* Waiting on the server for a response, or on the client otherwise
	 * (response bytes waiting for it, in the buffer or in a pipe). */
	if (t->req.state == CH_DONE && t->rsp.state != CH_DONE && !chan_pending(&t->rsp) &&
	    splice_pending(&t->rsp) == 0)
		return (uint64_t)to->server;
	return (uint64_t)to->client;
}

static void timer_update(struct fc_stream *s, bool progress)
{
	const struct fc_txn *t = s->tx;
	bool waiting_head = t->req.state == CH_HEAD;
	bool connecting = t->srv != NULL && t->srv->connecting;

	if (progress && !waiting_head && !connecting && !t->in_srvq)
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
	if (s->await_proxy) {
		proxy_refuse(s, "no PROXY header within timeout.http_request");
		return;
	}
	if (s->tx == NULL) {
		stream_close(s);	/* idle keep-alive, or nothing sent: close quietly */
		return;
	}
	if (s->tx->in_srvq) {
		backend_queue_del(s);
		respond_error(s, 503, 's', 'Q');
	} else if (s->tx->req.state == CH_HEAD) {
		if (buf_len(s->tx->req.buf) == 0) {
			stream_close(s);	/* idle keep-alive: close quietly */
			return;
		}
		respond_error(s, 408, 'c', 'R');
	} else if (s->tx->srv != NULL && s->tx->srv->connecting) {
		set_term(s, 's', 'C');
		connect_failed(s, true);
	} else if (s->tx->req.state == CH_DONE && !s->tx->rsp_started) {
		respond_error(s, 504, 's', 'H');
	} else {
		set_term(s, s->tx->req.state == CH_DONE ? 's' : 'c', 'D');
		stream_close(s);
		return;
	}
	if (!s->dead)
		stream_run(s);
}

/* ---------------------------------------------------------- lifecycle */

/* A tunnel's turn; it ends (both directions did) with the stream. */
static bool tunnel_step(struct fc_stream *s)
{
	switch (tunnel_pump(s)) {
	case TUNNEL_OVER:
		stream_close(s);
		return false;
	case TUNNEL_MOVED:
		return true;
	default:
		return false;
	}
}

static void stream_run(struct fc_stream *s)
{
	bool any = false;

	if (s->lingering) {
		linger_step(s);
		return;
	}
	if (s->await_proxy && !proxy_step(s))
		return;
	if (!txn_get(s)) {
		stream_close(s);	/* out of memory */
		return;
	}
	if (s->tx->dequeued) {
		stream_connect(s);
		if (s->dead || s->tx->in_srvq)
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
		if (s->tx->tunnel) {
			p = tunnel_step(s);
		} else {
			p = request_step(s);
			if (s->dead)
				break;
			p |= response_step(s);
		}
		if (!p)
			break;
		any = true;
	}
	if (!s->dead && !s->lingering) {
		timer_update(s, any);
		txn_idle(s);
	}
}

static void stream_defer(struct fc_stream *s)
{
	if (s->in_runq)
		return;
	s->in_runq = true;
	s->runq_next = runq;
	runq = s;
}

bool stream_run_deferred(void)
{
	struct fc_stream *s = runq;

	runq = NULL;
	while (s != NULL) {
		struct fc_stream *next = s->runq_next;

		s->in_runq = false;
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
		backend_idle_event(c, events);
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
	s->cli.s = s;
	s->timer.cb = stream_timeout;
	s->await_proxy = px->l->accept_proxy;
	if (conn_init_client(&s->cli, fd, px, conn_cb) < 0) {
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
	struct fc_txn *t = s->tx;

	if (s->dead)
		return;
	s->dead = true;
	shm_add(&fc_w->blk->cur_conns, -1);
	if (s->tx != NULL) {
		backend_queue_del(s);
		if (t->reqline != NULL)
			accesslog_txn(s);
		tunnel_end(s);
		splice_release(&t->req);
		splice_release(&t->rsp);
		detach_server(s, false);
	}
	ev_timer_stop(fc_w->ev, &s->timer);
	conn_close(&s->cli);
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
	fc_w->released++;
}

void stream_reap(void)
{
	while (fc_w->graveyard != NULL) {
		struct fc_stream *s = fc_w->graveyard;

		fc_w->graveyard = s->next;
		txn_put(s);
		free(s);
	}
	conn_reap();
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
		const struct fc_txn *t = s->tx;

		if (t != NULL && !t->rsp_started)
			s->tx->cli_keepalive = false;
		if ((t == NULL || (t->req.state == CH_HEAD && buf_len(t->req.buf) == 0)) &&
		    s->ntxn > 0 && !s->lingering)
			drain_grace(s, now);
	}
	backend_idle_purge(now);
}

