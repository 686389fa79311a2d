/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sync channel (sync.h): connection, handshake, probes, on lib/ev.
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

#define BACKOFF_MIN_MS	50
#define BACKOFF_MAX_MS	2000
#define HANDSHAKE_MS	2000	/* a peer that does not authenticate by then is dropped */
#define MISSED_PROBES	3
#define IN_LEN		(64 * 1024)
#define OUT_LEN		(256 * 1024)	/* a full table goes out in slices of this */

enum { S_IDLE, S_CONNECTING, S_HANDSHAKE, S_UP };

static struct {
	const struct fc_ha *cfg;
	const struct sync_ops *ops;
	struct fc_ev *ev;
	uint32_t self, peer;		/* network order */
	char peer_text[INET_ADDRSTRLEN];
	bool connector;			/* the lower address */
	struct fc_ev_io lsn, conn;
	int st;
	bool got_hello, bye;		/* the peer's HELLO, BYE */
	bool closing;
	uint8_t our_nonce[SYNC_NONCE_LEN], peer_nonce[SYNC_NONCE_LEN];
	uint8_t in[IN_LEN], out[OUT_LEN];
	size_t inlen, outlen;
	struct fc_ev_timer probe, silence, retry;
	uint64_t backoff_ms;
	int state, priority;		/* ours, sent on every (re)connection */
} sy = { .lsn.fd = -1, .conn.fd = -1 };

static void start_connect(void);

/* ------------------------------------------------------------- output */

/* Sends what is queued; -1 when the connection is broken. */
static int flush_out(void)
{
	while (sy.outlen > 0) {
		ssize_t n = send(sy.conn.fd, sy.out, sy.outlen, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -1;
		memmove(sy.out, sy.out + n, sy.outlen - (size_t)n);
		sy.outlen -= (size_t)n;
	}
	return ev_io_mod(sy.ev, &sy.conn, EPOLLIN | (sy.outlen > 0 ? EPOLLOUT : 0u));
}

/*
 * Queues a frame.  A peer that lets OUT_LEN bytes pile up is not reading:
 * the frame is dropped and the silence timer will end the channel.
 */
static void queue(uint8_t type, const void *body, size_t len)
{
	if (sy.conn.fd < 0 || sy.outlen + SYNC_HDR_LEN + len > sizeof(sy.out))
		return;
	sy.outlen += sync_encode(type, body, len, sy.out + sy.outlen);
	(void)flush_out();
}

/* ------------------------------------------------------------- closing */

static void schedule_retry(void)
{
	if (!sy.connector)
		return;
	ev_timer_arm(sy.ev, &sy.retry, ev_now(sy.ev) + sy.backoff_ms);
	sy.backoff_ms = sy.backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : sy.backoff_ms * 2;
}

static void drop(enum sync_loss why, bool say_bye)
{
	bool was_up = sy.st == S_UP;

	if (sy.conn.fd < 0)
		return;
	if (was_up && say_bye)
		queue(SYNC_BYE, NULL, 0);
	ev_io_del(sy.ev, &sy.conn);
	close(sy.conn.fd);
	sy.conn.fd = -1;
	sy.st = S_IDLE;
	ev_timer_stop(sy.ev, &sy.probe);
	ev_timer_stop(sy.ev, &sy.silence);
	if (was_up && !sy.closing && sy.ops->lost != NULL)
		sy.ops->lost(sy.bye && why == SYNC_LOST_CLOSED ? SYNC_LOST_BYE : why);
	schedule_retry();
}

static void silence_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	(void)ev;
	(void)t;
	if (sy.st == S_UP)
		log_notice("sync: nothing from %s for %d probe intervals: the peer is"
		    " silent", sy.peer_text, MISSED_PROBES);
	else
		log_warnx("sync: %s did not authenticate within %d ms", sy.peer_text,
		    HANDSHAKE_MS);
	drop(SYNC_LOST_SILENT, true);
}

static void probe_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	queue(SYNC_PING, NULL, 0);
	ev_timer_arm(ev, t, ev_now(ev) + (uint64_t)sy.cfg->sync.interval_ms);
}

/* ------------------------------------------------------------- input */

static void handshake_start(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sy.conn.fd = fd;
	sy.st = S_HANDSHAKE;
	sy.got_hello = sy.bye = false;
	sy.inlen = sy.outlen = 0;
	if (ev_io_add(sy.ev, &sy.conn, EPOLLIN) < 0 ||
	    RAND_bytes(sy.our_nonce, sizeof(sy.our_nonce)) != 1) {
		log_warnx("sync: cannot start a handshake with %s", sy.peer_text);
		drop(SYNC_LOST_CLOSED, false);
		return;
	}
	ev_timer_arm(sy.ev, &sy.silence, ev_now(sy.ev) + HANDSHAKE_MS);
	queue(SYNC_HELLO, sy.our_nonce, sizeof(sy.our_nonce));
}

static void got_hello(const struct sync_frame *f)
{
	uint8_t tag[SYNC_TAG_LEN];

	memcpy(sy.peer_nonce, f->body, SYNC_NONCE_LEN);
	sy.got_hello = true;
	sync_auth_tag((const uint8_t *)sy.cfg->auth_key, strlen(sy.cfg->auth_key), sy.self,
	    sy.peer_nonce, sy.our_nonce, tag);
	queue(SYNC_AUTH, tag, sizeof(tag));
}

/* Returns -1 when the peer failed to prove it knows the key. */
static int got_auth(const struct sync_frame *f)
{
	if (!sy.got_hello || !sync_auth_check((const uint8_t *)sy.cfg->auth_key,
	    strlen(sy.cfg->auth_key), sy.peer, sy.our_nonce, sy.peer_nonce, f->body)) {
		log_warnx("sync: %s failed authentication (another auth_key?)", sy.peer_text);
		return -1;
	}
	sy.st = S_UP;
	sy.backoff_ms = BACKOFF_MIN_MS;
	ev_timer_arm(sy.ev, &sy.silence, ev_now(sy.ev) +
	    MISSED_PROBES * (uint64_t)sy.cfg->sync.interval_ms);
	log_notice("sync: channel with %s up", sy.peer_text);
	probe_cb(sy.ev, &sy.probe);
	sync_send_state(sy.state, sy.priority);
	if (sy.ops->up != NULL)
		sy.ops->up();
	return 0;
}

/* One frame; -1: drop the connection. */
static int got_frame(const struct sync_frame *f)
{
	bool short_body = (f->type == SYNC_HELLO && f->len != SYNC_NONCE_LEN) ||
	    (f->type == SYNC_AUTH && f->len != SYNC_TAG_LEN) ||
	    (f->type == SYNC_STATE && f->len != 2);

	if (short_body || (sy.st != S_UP && f->type != SYNC_HELLO && f->type != SYNC_AUTH)) {
		log_warnx("sync: unexpected frame (type %u, %u bytes) from %s", f->type,
		    f->len, sy.peer_text);
		return -1;
	}
	switch (f->type) {
	case SYNC_HELLO:
		got_hello(f);
		return 0;
	case SYNC_AUTH:
		return got_auth(f);
	case SYNC_STATE:
		if (sy.ops->peer_state != NULL)
			sy.ops->peer_state(f->body[0], f->body[1]);
		return 0;
	case SYNC_RESIGN:
		if (sy.ops->lost != NULL)
			sy.ops->lost(SYNC_LOST_RESIGN);
		return 0;
	case SYNC_BYE:
		sy.bye = true;
		return 0;
	case SYNC_SESSION:
		if (sy.ops->session != NULL)
			sy.ops->session(f->body, f->len);
		return 0;
	default:		/* PING: its arrival is the news */
		return 0;
	}
}

/* Every whole frame in the input buffer; -1: drop the connection. */
static int parse_in(void)
{
	size_t off = 0;
	int n = 0;

	while (off < sy.inlen) {
		struct sync_frame f;
		int err = 0;

		n = sync_decode(sy.in + off, sy.inlen - off, &f, &err);
		if (n == -2)
			break;
		if (n < 0) {
			if (err == SYNC_EVERSION)
				log_warnx("sync: %s speaks sync version %u, this is version"
				    " %d: refused", sy.peer_text, f.version, SYNC_VERSION);
			else
				log_warnx("sync: %s: %s", sy.peer_text, sync_strerror(err));
			return -1;
		}
		if (got_frame(&f) < 0 || sy.conn.fd < 0)
			return -1;
		off += (size_t)n;
	}
	memmove(sy.in, sy.in + off, sy.inlen - off);
	sy.inlen -= off;
	return 0;
}

static void conn_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	ssize_t n;

	if ((events & EPOLLOUT) && flush_out() < 0) {
		drop(SYNC_LOST_CLOSED, false);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	while ((n = recv(io->fd, sy.in + sy.inlen, sizeof(sy.in) - sy.inlen, 0)) > 0) {
		sy.inlen += (size_t)n;
		if (sy.st == S_UP)
			ev_timer_arm(ev, &sy.silence, ev_now(ev) +
			    MISSED_PROBES * (uint64_t)sy.cfg->sync.interval_ms);
		if (parse_in() < 0) {
			drop(SYNC_LOST_CLOSED, true);
			return;
		}
	}
	if (n == 0 || errno != EAGAIN) {
		if (sy.st == S_UP)
			log_notice("sync: %s closed the channel%s", sy.peer_text,
			    sy.bye ? "" : ": its fulcrum died");
		drop(SYNC_LOST_CLOSED, false);
	}
}

/* ------------------------------------------------------ connect, accept */

static void connected_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	int err = net_socket_error(io->fd);

	(void)events;
	if (err != 0) {
		log_debug("sync: connect to %s: %s", sy.peer_text, strerror(err));
		ev_io_del(ev, io);
		close(io->fd);
		io->fd = -1;
		sy.st = S_IDLE;
		schedule_retry();
		return;
	}
	ev_io_del(ev, io);
	io->cb = conn_cb;
	handshake_start(io->fd);
}

/* From our own address: the acceptor checks where connections come from. */
static void start_connect(void)
{
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr.s_addr = sy.self };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = sy.peer,
	    .sin_port = htons((uint16_t)sy.cfg->sync.port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS)) {
		log_debug("sync: connect to %s: %s", sy.peer_text, strerror(errno));
		if (fd >= 0)
			close(fd);
		schedule_retry();
		return;
	}
	sy.conn.fd = fd;
	sy.conn.cb = connected_cb;
	sy.st = S_CONNECTING;
	if (ev_io_add(sy.ev, &sy.conn, EPOLLOUT) < 0) {
		close(fd);
		sy.conn.fd = -1;
		sy.st = S_IDLE;
		schedule_retry();
	}
}

static void retry_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	(void)ev;
	(void)t;
	if (sy.conn.fd < 0)
		start_connect();
}

/*
 * A new connection from the peer replaces the one we hold: the peer only
 * reconnects when its side of the old one is gone.
 */
static void accept_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	char text[INET_ADDRSTRLEN];
	int fd;

	(void)ev;
	(void)events;
	while ((fd = accept4(io->fd, (struct sockaddr *)&from, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (from.sin_family != AF_INET || from.sin_addr.s_addr != sy.peer) {
			inet_ntop(AF_INET, &from.sin_addr, text, sizeof(text));
			log_warnx("sync: connection from %s refused: not the peer", text);
			close(fd);
		} else {
			drop(SYNC_LOST_CLOSED, false);
			sy.conn.cb = conn_cb;
			handshake_start(fd);
		}
		len = sizeof(from);
	}
}

static int open_listener(void)
{
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr.s_addr = sy.self,
	    .sin_port = htons((uint16_t)sy.cfg->sync.port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 || listen(fd, 4) < 0) {
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

int sync_open(struct fc_ev *ev, const struct fc_ha *cfg, uint32_t self,
    const struct sync_ops *ops)
{
	sy.cfg = cfg;
	sy.ops = ops;
	sy.ev = ev;
	sy.self = self;
	sy.peer = ((const struct sockaddr_in *)&cfg->peers[0].ss)->sin_addr.s_addr;
	inet_ntop(AF_INET, &sy.peer, sy.peer_text, sizeof(sy.peer_text));
	sy.connector = ntohl(self) < ntohl(sy.peer);
	sy.backoff_ms = BACKOFF_MIN_MS;
	sy.probe.cb = probe_cb;
	sy.silence.cb = silence_cb;
	sy.retry.cb = retry_cb;
	log_info("sync: with %s, port %d, probes every %d ms, %s", sy.peer_text,
	    cfg->sync.port, cfg->sync.interval_ms, sy.connector ? "connecting" : "listening");
	if (sy.connector) {
		start_connect();
		return 0;
	}
	return open_listener();
}

void sync_send_state(int state, int priority)
{
	uint8_t body[2] = { (uint8_t)state, (uint8_t)priority };

	sy.state = state;
	sy.priority = priority;
	if (sy.st == S_UP)
		queue(SYNC_STATE, body, sizeof(body));
}

int sync_send(uint8_t type, const void *body, size_t len)
{
	if (sy.st != S_UP || sy.outlen + SYNC_HDR_LEN + len > sizeof(sy.out))
		return -1;
	queue(type, body, len);
	return 0;
}

void sync_resign(void)
{
	if (sy.st == S_UP)
		queue(SYNC_RESIGN, NULL, 0);
}

void sync_close(void)
{
	/* BYE: the close that follows is no death; no report to ha.c: we are
	 * the one leaving. */
	sy.closing = true;
	drop(SYNC_LOST_BYE, true);
	ev_timer_stop(sy.ev, &sy.retry);
	if (sy.lsn.fd >= 0) {
		ev_io_del(sy.ev, &sy.lsn);
		close(sy.lsn.fd);
		sy.lsn.fd = -1;
	}
}
