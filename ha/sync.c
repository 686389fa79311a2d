/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sync channels (sync.h): connection, handshake, probes, on lib/ev;
 * one struct chan per peer, each with its own buffers and timers.
 *
 *   IDLE --connect/accept--> HANDSHAKE --both AUTHs good--> UP
 *     ^-----------------------'  (error, timeout)            |
 *     '--------------- EOF, RESIGN, BYE, silence ------------'
 *
 * Only an UP channel's end is reported to ha.c (ops->lost), once; a RESIGN
 * is reported when it arrives, the channel staying up.  Every
 * deliberate close of an UP channel sends BYE first, so that the peer can
 * tell "alive but hanging up" (our silence timer fired under load) from
 * "dead" (the kernel's FIN or RST with no BYE before it).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/net.h"
#include "ha/sync.h"
#include "ha/syncwire.h"
#include "shm/shm-t.h"

#define BACKOFF_MIN_MS	50
#define BACKOFF_MAX_MS	2000
#define HANDSHAKE_MS	2000	/* a peer that does not authenticate by then is dropped */
#define MISSED_PROBES	3
#define IN_LEN		(64 * 1024)
#define OUT_LEN		(256 * 1024)	/* a full table goes out in slices of this */

enum { S_IDLE, S_CONNECTING, S_HANDSHAKE, S_UP };

struct chan {
	int idx;
	uint32_t self, peer;		/* network order */
	char peer_text[INET_ADDRSTRLEN];
	bool connector;			/* self is the lower address */
	bool unresolved;		/* self 0: no route to the peer yet */
	struct fc_ev_io conn;
	int st;
	bool got_hello, bye;		/* the peer's HELLO, BYE */
	bool lost_once;			/* was up once: a later retry is "down", not "connecting" */
	uint8_t our_nonce[SYNC_NONCE_LEN], peer_nonce[SYNC_NONCE_LEN];
	uint8_t in[IN_LEN], out[OUT_LEN];
	size_t inlen, outlen;
	struct fc_ev_timer probe, silence, retry;
	uint64_t backoff_ms;
	uint64_t since_ms, frame_ms;	/* for sync_peer_info() */
	uint64_t sent, received;
};

static struct {
	const struct fc_ha *cfg;
	const struct sync_ops *ops;
	struct fc_ev *ev;
	struct fc_ev_io lsn;
	bool closing;
	int state, priority;		/* ours, sent on every (re)connection */
	int n;
	struct chan ch[FC_SYNC_MAX_PEERS];
} sy = { .lsn.fd = -1 };

#define CHAN_OF(ptr, field)	((struct chan *)(void *)((char *)(ptr) - \
				    offsetof(struct chan, field)))

static void start_connect(struct chan *c);

/* ------------------------------------------------------------- output */

/* Sends what is queued; -1 when the connection is broken. */
static int flush_out(struct chan *c)
{
	while (c->outlen > 0) {
		ssize_t n = send(c->conn.fd, c->out, c->outlen, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -1;
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	return ev_io_mod(sy.ev, &c->conn, EPOLLIN | (c->outlen > 0 ? EPOLLOUT : 0u));
}

/*
 * Queues a frame.  A peer that lets OUT_LEN bytes pile up is not reading:
 * the frame is dropped and the silence timer will end the channel.
 */
static void queue(struct chan *c, uint8_t type, const void *body, size_t len)
{
	if (c->conn.fd < 0 || c->outlen + SYNC_HDR_LEN + len > sizeof(c->out))
		return;
	c->outlen += sync_encode(type, body, len, c->out + c->outlen);
	(void)flush_out(c);
}

/* ------------------------------------------------------------- closing */

static void set_st(struct chan *c, int st)
{
	if (st != c->st)
		c->since_ms = ev_now(sy.ev);
	c->st = st;
}

static void schedule_retry(struct chan *c)
{
	if (!c->connector || sy.closing)
		return;
	ev_timer_arm(sy.ev, &c->retry, ev_now(sy.ev) + c->backoff_ms);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void drop(struct chan *c, enum sync_loss why, bool say_bye)
{
	bool was_up = c->st == S_UP;

	if (c->conn.fd < 0)
		return;
	if (was_up && say_bye)
		queue(c, SYNC_BYE, NULL, 0);
	ev_io_del(sy.ev, &c->conn);
	close(c->conn.fd);
	c->conn.fd = -1;
	c->lost_once |= was_up;
	set_st(c, S_IDLE);
	ev_timer_stop(sy.ev, &c->probe);
	ev_timer_stop(sy.ev, &c->silence);
	if (was_up && !sy.closing && sy.ops->lost != NULL)
		sy.ops->lost(c->idx, c->bye && why == SYNC_LOST_CLOSED ? SYNC_LOST_BYE : why);
	schedule_retry(c);
}

static void silence_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	struct chan *c = CHAN_OF(t, silence);

	(void)ev;
	if (c->st == S_UP)
		log_notice("sync: nothing from %s for %d probe intervals: the peer is"
		    " silent", c->peer_text, MISSED_PROBES);
	else
		log_warnx("sync: %s did not authenticate within %d ms", c->peer_text,
		    HANDSHAKE_MS);
	drop(c, SYNC_LOST_SILENT, true);
}

static void probe_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	struct chan *c = CHAN_OF(t, probe);

	queue(c, SYNC_PING, NULL, 0);
	ev_timer_arm(ev, t, ev_now(ev) + (uint64_t)sy.cfg->sync.interval_ms);
}

/* ------------------------------------------------------------- input */

static void handshake_start(struct chan *c, int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->conn.fd = fd;
	set_st(c, S_HANDSHAKE);
	c->got_hello = c->bye = false;
	c->inlen = c->outlen = 0;
	if (ev_io_add(sy.ev, &c->conn, EPOLLIN) < 0 ||
	    RAND_bytes(c->our_nonce, sizeof(c->our_nonce)) != 1) {
		log_warnx("sync: cannot start a handshake with %s", c->peer_text);
		drop(c, SYNC_LOST_CLOSED, false);
		return;
	}
	ev_timer_arm(sy.ev, &c->silence, ev_now(sy.ev) + HANDSHAKE_MS);
	queue(c, SYNC_HELLO, c->our_nonce, sizeof(c->our_nonce));
}

static void got_hello(struct chan *c, const struct sync_frame *f)
{
	uint8_t tag[SYNC_TAG_LEN];

	memcpy(c->peer_nonce, f->body, SYNC_NONCE_LEN);
	c->got_hello = true;
	sync_auth_tag((const uint8_t *)sy.cfg->auth_key, strlen(sy.cfg->auth_key), c->self,
	    c->peer_nonce, c->our_nonce, tag);
	queue(c, SYNC_AUTH, tag, sizeof(tag));
}

/* Returns -1 when the peer failed to prove it knows the key. */
static int got_auth(struct chan *c, const struct sync_frame *f)
{
	uint8_t body[2] = { (uint8_t)sy.state, (uint8_t)sy.priority };

	if (!c->got_hello || !sync_auth_check((const uint8_t *)sy.cfg->auth_key,
	    strlen(sy.cfg->auth_key), c->peer, c->our_nonce, c->peer_nonce, f->body)) {
		log_warnx("sync: %s failed authentication (another auth_key?)", c->peer_text);
		return -1;
	}
	set_st(c, S_UP);
	c->backoff_ms = BACKOFF_MIN_MS;
	ev_timer_arm(sy.ev, &c->silence, ev_now(sy.ev) +
	    MISSED_PROBES * (uint64_t)sy.cfg->sync.interval_ms);
	log_notice("sync: channel with %s up", c->peer_text);
	probe_cb(sy.ev, &c->probe);
	queue(c, SYNC_STATE, body, sizeof(body));
	if (sy.ops->up != NULL)
		sy.ops->up(c->idx);
	return 0;
}

/* One frame; -1: drop the connection. */
static int got_frame(struct chan *c, const struct sync_frame *f)
{
	bool short_body = (f->type == SYNC_HELLO && f->len != SYNC_NONCE_LEN) ||
	    (f->type == SYNC_AUTH && f->len != SYNC_TAG_LEN) ||
	    (f->type == SYNC_STATE && f->len != 2);

	if (short_body || (c->st != S_UP && f->type != SYNC_HELLO && f->type != SYNC_AUTH)) {
		log_warnx("sync: unexpected frame (type %u, %u bytes) from %s", f->type,
		    f->len, c->peer_text);
		return -1;
	}
	switch (f->type) {
	case SYNC_HELLO:
		got_hello(c, f);
		return 0;
	case SYNC_AUTH:
		return got_auth(c, f);
	case SYNC_STATE:
		if (sy.ops->peer_state != NULL)
			sy.ops->peer_state(c->idx, f->body[0], f->body[1]);
		return 0;
	case SYNC_RESIGN:
		if (sy.ops->lost != NULL)
			sy.ops->lost(c->idx, SYNC_LOST_RESIGN);
		return 0;
	case SYNC_BYE:
		c->bye = true;
		return 0;
	case SYNC_SESSION:
		c->received++;
		if (sy.ops->session != NULL)
			sy.ops->session(c->idx, f->body, f->len);
		return 0;
	default:		/* PING: its arrival is the news */
		return 0;
	}
}

/* Every whole frame in the input buffer; -1: drop the connection. */
static int parse_in(struct chan *c)
{
	size_t off = 0;
	int n = 0;

	while (off < c->inlen) {
		struct sync_frame f;
		int err = 0;

		n = sync_decode(c->in + off, c->inlen - off, &f, &err);
		if (n == -2)
			break;
		if (n < 0) {
			if (err == SYNC_EVERSION)
				log_warnx("sync: %s speaks sync version %u, this is version"
				    " %d: refused", c->peer_text, f.version, SYNC_VERSION);
			else
				log_warnx("sync: %s: %s", c->peer_text, sync_strerror(err));
			return -1;
		}
		c->frame_ms = ev_now(sy.ev);
		if (got_frame(c, &f) < 0 || c->conn.fd < 0)
			return -1;
		off += (size_t)n;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return 0;
}

static void conn_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	struct chan *c = CHAN_OF(io, conn);
	ssize_t n;

	if ((events & EPOLLOUT) && flush_out(c) < 0) {
		drop(c, SYNC_LOST_CLOSED, false);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	while ((n = recv(io->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0)) > 0) {
		c->inlen += (size_t)n;
		if (c->st == S_UP)
			ev_timer_arm(ev, &c->silence, ev_now(ev) +
			    MISSED_PROBES * (uint64_t)sy.cfg->sync.interval_ms);
		if (parse_in(c) < 0) {
			drop(c, SYNC_LOST_CLOSED, true);
			return;
		}
	}
	if (n == 0 || errno != EAGAIN) {
		if (c->st == S_UP)
			log_notice("sync: %s closed the channel%s", c->peer_text,
			    c->bye ? "" : ": its fulcrum died");
		drop(c, SYNC_LOST_CLOSED, false);
	}
}

/* ------------------------------------------------------ connect, accept */

static void connected_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	struct chan *c = CHAN_OF(io, conn);
	int err = net_socket_error(io->fd);

	(void)events;
	if (err != 0) {
		log_debug("sync: connect to %s: %s", c->peer_text, strerror(err));
		ev_io_del(ev, io);
		close(io->fd);
		io->fd = -1;
		set_st(c, S_IDLE);
		schedule_retry(c);
		return;
	}
	ev_io_del(ev, io);
	io->cb = conn_cb;
	handshake_start(c, io->fd);
}

/* From our own address: the acceptor checks where connections come from. */
static void start_connect(struct chan *c)
{
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr.s_addr = c->self };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = c->peer,
	    .sin_port = htons((uint16_t)sy.cfg->sync.port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS)) {
		log_debug("sync: connect to %s: %s", c->peer_text, strerror(errno));
		if (fd >= 0)
			close(fd);
		schedule_retry(c);
		return;
	}
	c->conn.fd = fd;
	c->conn.cb = connected_cb;
	set_st(c, S_CONNECTING);
	if (ev_io_add(sy.ev, &c->conn, EPOLLOUT) < 0) {
		close(fd);
		c->conn.fd = -1;
		set_st(c, S_IDLE);
		schedule_retry(c);
	}
}

static uint32_t route_source(uint32_t peer);

/*
 * No route to the peer at start (anycast, its route still to be learned):
 * we listen for it meanwhile, and look again every BACKOFF_MAX_MS.
 */
static void resolve(struct chan *c)
{
	if ((c->self = route_source(c->peer)) == 0) {
		ev_timer_arm(sy.ev, &c->retry, ev_now(sy.ev) + BACKOFF_MAX_MS);
		return;
	}
	c->unresolved = false;
	c->connector = ntohl(c->self) < ntohl(c->peer);
	log_info("sync: a route to %s from this node's address: %s", c->peer_text,
	    c->connector ? "connecting" : "listening");
	if (c->connector)
		start_connect(c);
}

static void retry_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	struct chan *c = CHAN_OF(t, retry);

	(void)ev;
	if (c->unresolved && c->conn.fd < 0)
		resolve(c);
	else if (c->conn.fd < 0)
		start_connect(c);
}

/* The channel a connection from `from` belongs to: a peer that connects to us. */
static struct chan *acceptor_of(uint32_t from)
{
	for (int i = 0; i < sy.n; i++)
		if (sy.ch[i].peer == from && !sy.ch[i].connector)
			return &sy.ch[i];
	return NULL;
}

/*
 * A new connection from a peer replaces the one we hold with it: the peer
 * only reconnects when its side of the old one is gone.  Our side's
 * address is the one the peer dialled, hence the one its MAC check wants.
 */
static void accept_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	struct sockaddr_in from, to;
	socklen_t len = sizeof(from), tolen = sizeof(to);
	char text[INET_ADDRSTRLEN];
	struct chan *c;
	int fd;

	(void)ev;
	(void)events;
	while ((fd = accept4(io->fd, (struct sockaddr *)&from, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		c = from.sin_family == AF_INET ? acceptor_of(from.sin_addr.s_addr) : NULL;
		if (c == NULL || getsockname(fd, (struct sockaddr *)&to, &tolen) < 0) {
			inet_ntop(AF_INET, &from.sin_addr, text, sizeof(text));
			log_warnx("sync: connection from %s refused: not a peer", text);
			close(fd);
		} else {
			drop(c, SYNC_LOST_CLOSED, false);
			c->self = to.sin_addr.s_addr;
			c->unresolved = false;
			ev_timer_stop(sy.ev, &c->retry);
			c->conn.cb = conn_cb;
			handshake_start(c, fd);
		}
		len = sizeof(from);
		tolen = sizeof(to);
	}
}

/* self 0: every local address (the peers may reach us on several). */
static int open_listener(uint32_t self)
{
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr.s_addr = self,
	    .sin_port = htons((uint16_t)sy.cfg->sync.port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    listen(fd, FC_SYNC_MAX_PEERS) < 0) {
		log_warn("sync: cannot listen on port %d", sy.cfg->sync.port);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	sy.lsn.fd = fd;
	sy.lsn.cb = accept_cb;
	return ev_io_add(sy.ev, &sy.lsn, EPOLLIN);
}

/* ------------------------------------------------------------- API */

/* The source address the kernel would use towards peer; 0 when none. */
static uint32_t route_source(uint32_t peer)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = peer,
	    .sin_port = htons(9) }, me;
	socklen_t len = sizeof(me);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint32_t got = 0;

	/* A UDP connect sends nothing: it only picks the route. */
	if (fd >= 0 && connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&me, &len) == 0)
		got = me.sin_addr.s_addr;
	if (fd >= 0)
		close(fd);
	return got;
}

/* Channel i to peer (network order). */
static void chan_init(int i, uint32_t peer, uint32_t self)
{
	struct chan *c = &sy.ch[i];

	*c = (struct chan){ .idx = i, .peer = peer, .conn.fd = -1 };
	c->self = self != 0 ? self : route_source(peer);
	inet_ntop(AF_INET, &peer, c->peer_text, sizeof(c->peer_text));
	c->connector = c->self != 0 && ntohl(c->self) < ntohl(peer);
	c->backoff_ms = BACKOFF_MIN_MS;
	c->probe.cb = probe_cb;
	c->silence.cb = silence_cb;
	c->retry.cb = retry_cb;
	c->since_ms = ev_now(sy.ev);
	if (c->self == 0) {
		log_warnx("sync: no route to %s yet: listening for it, looking again every"
		    " %d ms", c->peer_text, BACKOFF_MAX_MS);
		c->unresolved = true;
		ev_timer_arm(sy.ev, &c->retry, ev_now(sy.ev) + BACKOFF_MAX_MS);
		return;
	}
	log_info("sync: with %s, port %d, probes every %d ms, %s", c->peer_text,
	    sy.cfg->sync.port, sy.cfg->sync.interval_ms,
	    c->connector ? "connecting" : "listening");
}

int sync_open(struct fc_ev *ev, const struct fc_ha *cfg, uint32_t self,
    const struct sync_ops *ops)
{
	bool listen = false;

	sy.cfg = cfg;
	sy.ops = ops;
	sy.ev = ev;
	for (int i = 0; i < cfg->npeers && sy.n < FC_SYNC_MAX_PEERS; i++) {
		const struct sockaddr_in *p = (const struct sockaddr_in *)&cfg->peers[i].ss;

		if (p->sin_family != AF_INET)
			continue;	/* a VRRP peer's IPv6 entry: the channel is IPv4 */
		chan_init(sy.n, p->sin_addr.s_addr, self);
		listen |= !sy.ch[sy.n].connector;
		sy.n++;
	}
	if (listen && open_listener(self) < 0)
		return -1;
	for (int i = 0; i < sy.n; i++)
		if (sy.ch[i].connector)
			start_connect(&sy.ch[i]);
	return 0;
}

int sync_npeers(void)
{
	return sy.n;
}

void sync_peer_info(int peer, struct sync_peer_info *out)
{
	const struct chan *c = &sy.ch[peer];
	static const int shown[] = { [S_IDLE] = FC_SYNC_DOWN,
	    [S_CONNECTING] = FC_SYNC_CONNECTING, [S_HANDSHAKE] = FC_SYNC_CONNECTING,
	    [S_UP] = FC_SYNC_UP };

	out->addr = c->peer;
	/* Idle before the first success is still "connecting" (or waiting to be
	 * connected to), not a loss. */
	out->state = c->st == S_IDLE && !c->lost_once ? FC_SYNC_CONNECTING : shown[c->st];
	out->since_ms = c->since_ms;
	out->frame_ms = c->frame_ms;
	out->sent = c->sent;
	out->received = c->received;
}

void sync_send_state(int state, int priority)
{
	uint8_t body[2] = { (uint8_t)state, (uint8_t)priority };

	sy.state = state;
	sy.priority = priority;
	for (int i = 0; i < sy.n; i++)
		if (sy.ch[i].st == S_UP)
			queue(&sy.ch[i], SYNC_STATE, body, sizeof(body));
}

int sync_send(int peer, uint8_t type, const void *body, size_t len)
{
	struct chan *c = &sy.ch[peer];

	if (c->st != S_UP || c->outlen + SYNC_HDR_LEN + len > sizeof(c->out))
		return -1;
	queue(c, type, body, len);
	if (type == SYNC_SESSION)
		c->sent++;
	return 0;
}

void sync_resign(void)
{
	for (int i = 0; i < sy.n; i++)
		if (sy.ch[i].st == S_UP)
			queue(&sy.ch[i], SYNC_RESIGN, NULL, 0);
}

void sync_close(void)
{
	/* BYE: the close that follows is no death; no report to ha.c: we are
	 * the one leaving. */
	sy.closing = true;
	for (int i = 0; i < sy.n; i++) {
		drop(&sy.ch[i], SYNC_LOST_BYE, true);
		ev_timer_stop(sy.ev, &sy.ch[i].retry);
	}
	if (sy.lsn.fd >= 0) {
		ev_io_del(sy.ev, &sy.lsn);
		close(sy.lsn.fd);
		sy.lsn.fd = -1;
	}
}
