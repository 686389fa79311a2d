/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * WebSocket tunnels: a request that asks to switch to WebSocket (RFC 6455
 * section 4.1, through HTTP's Upgrade, RFC 9110 section 7.8) and the 101
 * that grants it turn a stream into a two-way byte tunnel.  From then on
 * nothing is parsed: each direction's channel carries whatever arrives,
 * through the connections' transports (plain TCP or TLS alike), until
 * both directions have ended.  An end of input on one side is passed on
 * as a half-close of the other; an error on one side ends the tunnel once
 * what the other side still has to receive is flushed.
 *
 * Other upgrades (h2c, ...) are not tunnels: the request loses its
 * Upgrade field (a hop-by-hop field, worker/rewrite.c), and a 101 that
 * was not asked for is a 502.
 */
#ifndef FC_WORKER_TUNNEL_H
#define FC_WORKER_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/http.h"
#include "worker/worker-t.h"

/*
 * Does the request ask for a WebSocket tunnel?  HTTP/1.1, "Connection:
 * upgrade", an Upgrade field listing "websocket", and no body (the
 * opening handshake has none; a body would have to be framed first).
 */
bool tunnel_asked(const struct fc_http_msg *m);

/* Does the 101 response m grant the tunnel stream s asked for? */
bool tunnel_granted(const struct fc_stream *s, const struct fc_http_msg *m);

/*
 * The 101's head is at the start of s->rsp (fwd bytes): from now on every
 * byte read either way is sent on.  Counts the tunnel as open.
 */
void tunnel_begin(struct fc_stream *s);

enum fc_tunnel_pump {
	TUNNEL_IDLE,		/* nothing moved */
	TUNNEL_MOVED,		/* bytes moved or a direction ended */
	TUNNEL_OVER,		/* both directions ended: close the stream */
};

/* Moves what can be moved, both ways, once. */
enum fc_tunnel_pump tunnel_pump(struct fc_stream *s);

/*
 * The idle time allowed (ms): timeout.tunnel, or timeout.client when it is
 * shorter and one direction has ended already (as HAProxy's client-fin):
 * a peer that never closes its half does not hold the tunnel an hour.
 */
uint64_t tunnel_timeout(const struct fc_stream *s);

/* The stream closes: the tunnel is no longer counted as open. */
void tunnel_end(struct fc_stream *s);

#endif
