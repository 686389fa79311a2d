/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The transport layer: how a connection's bytes cross its socket.  The
 * HTTP code above reads and writes through these calls only, so a second
 * transport (TLS) plugs in under client and server connections alike by
 * setting conn->xprt; plain TCP (xprt_raw) is the first.  Smaller than
 * HAProxy's xprt_ops or nginx's recv/send pointers: byte streams only,
 * no buffers of its own in the interface.  Splicing (splice.h) is not a
 * transport call: it works on the sockets of two xprt_raw connections.
 *
 * Readiness stays edge-triggered and owned by the connection (c->rd,
 * c->wr, set by events): an operation that cannot go on clears the flag
 * it now waits for, so the caller never makes the call that would only
 * answer EAGAIN.  A transport whose recv must first write (or whose send
 * must first read) says so with c->recv_waits_wr / c->send_waits_rd, and
 * the caller asks conn_can_recv() / conn_can_send() before calling.
 */
#ifndef FC_WORKER_XPRT_H
#define FC_WORKER_XPRT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "worker/worker-t.h"

struct fc_xprt {
	const char *name;
	/*
	 * Reads at most len bytes into buf.  Returns how many (> 0); 0 when
	 * nothing came: the socket is drained (readiness cleared) or the
	 * peer closed (c->eof set); -1 on an error (c->eof set as well).
	 */
	ssize_t (*recv)(struct fc_conn *c, void *buf, size_t len);
	/* Sends at most len bytes: how many (> 0), 0 when the socket is
	 * full (readiness cleared), -1 when the peer is gone. */
	ssize_t (*send)(struct fc_conn *c, const void *buf, size_t len);
	/* No more bytes from us (the peer may still send): 0 or -1. */
	int (*shutw)(struct fc_conn *c);
	/* Closes the socket and frees the transport's state; c->io.fd = -1. */
	void (*close)(struct fc_conn *c);
};

/* Plain TCP. */
extern const struct fc_xprt xprt_raw;

/* TLS (OpenSSL) over the connection's socket: xprt_tls.c. */
extern const struct fc_xprt xprt_tls;
struct ssl_ctx_st;

/* An accepted client of a TLS listener (its context ctx): 0, or -1. */
int xprt_tls_accept(struct fc_conn *c, struct ssl_ctx_st *ctx);
/* A connection opening to a server with "tls" (c->px, c->server): 0, or -1. */
int xprt_tls_connect(struct fc_conn *c);
/* The client certificate's verdict for X-Client-Verify: "SUCCESS",
 * "NONE"; NULL when c is no TLS connection. */
const char *xprt_tls_client_verify(const struct fc_conn *c);

/*
 * For transports, before their first byte: sends what is left of c->pre,
 * the PROXY header a send_proxy server expects in plain text before
 * anything else, TLS handshake included (conn_set_proxy(), conn.h).
 * 1 once all is out (or there was none), 0 when the socket is full, -1 on
 * an error (errno set).
 */
static inline int xprt_send_pre(struct fc_conn *c)
{
	while (c->pre != NULL) {
		ssize_t w = send(c->io.fd, c->pre + c->pre_off,
		    (size_t)(c->pre_len - c->pre_off), MSG_NOSIGNAL);

		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->pre_off = (uint8_t)(c->pre_off + w);
		if (c->pre_off == c->pre_len) {
			free(c->pre);
			c->pre = NULL;
		}
	}
	return 1;
}

/*
 * Before closing a connection whose last bytes went with MSG_MORE (c->more:
 * the response before a close, held so that it leaves with the FIN in one
 * segment): the FIN now, which sends them.  A close() alone would do the
 * same, unless the peer sent bytes we did not read: then the kernel resets
 * the connection and drops what is queued.
 */
static inline void xprt_flush_fin(struct fc_conn *c)
{
	shutdown(c->io.fd, SHUT_WR);
}

static inline bool conn_can_recv(const struct fc_conn *c)
{
	return c->recv_waits_wr ? c->wr : c->rd;
}

static inline bool conn_can_send(const struct fc_conn *c)
{
	return c->send_waits_rd ? c->rd : c->wr;
}

static inline ssize_t conn_recv(struct fc_conn *c, void *buf, size_t len)
{
	return c->xprt->recv(c, buf, len);
}

static inline ssize_t conn_send(struct fc_conn *c, const void *buf, size_t len)
{
	return c->xprt->send(c, buf, len);
}

static inline int conn_shutw(struct fc_conn *c)
{
	return c->xprt->shutw(c);
}

#endif
