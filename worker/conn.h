/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Connection objects of a worker: opening a server connection, closing a
 * connection through its transport, and freeing server connections after
 * the loop pass (a later event of the same pass may still name them).
 * Client connections live inside their stream (stream.c frees those).
 */
#ifndef FC_WORKER_CONN_H
#define FC_WORKER_CONN_H

#include <stdint.h>

#include "lib/ev.h"
#include "worker/worker-t.h"

/* A client connection on fd, accepted: plain TCP, registered with cb. */
int conn_init_client(struct fc_conn *c, int fd, struct fc_proxy *px,
    void (*cb)(struct fc_ev *, struct fc_ev_io *, uint32_t));

/*
 * Starts a connection to server `server` of px, registered with cb.
 * Returns it (freed by conn_close_server()), or NULL with nothing open.
 */
struct fc_conn *conn_open_server(struct fc_be *be, int server,
    void (*cb)(struct fc_ev *, struct fc_ev_io *, uint32_t));

struct fc_proxy_hdr;
/*
 * Reads the PROXY header that starts client connection c (accept_proxy).
 * It is peeked at, then only its own bytes are taken: what the client
 * sent after it stays in the socket for the transport (TLS included).
 * Returns 1 with h filled, 0 while more must come (readiness cleared),
 * -1 on an invalid header or a closed connection, *why saying which.
 */
int conn_recv_proxy(struct fc_conn *c, struct fc_proxy_hdr *h, const char **why);

/*
 * Gives server connection c a PROXY header of `version` saying src
 * connected to dst: the transport sends it before any other byte, TLS
 * handshake included (xprt_send_pre(), xprt.h).  0, or -1 (out of memory or
 * addresses the header cannot carry).
 */
int conn_set_proxy(struct fc_conn *c, int version, const struct sockaddr *src,
    const struct sockaddr *dst);

/* Closes a client connection's socket (the stream owns the memory). */
void conn_close(struct fc_conn *c);

/* Closes a server connection; its memory goes at conn_reap(). */
void conn_close_server(struct fc_conn *c);

/* After the loop pass: frees the server connections closed during it. */
void conn_reap(void);

#endif
