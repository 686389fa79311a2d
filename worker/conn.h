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
struct fc_conn *conn_open_server(struct fc_proxy *px, int server,
    void (*cb)(struct fc_ev *, struct fc_ev_io *, uint32_t));

/* Closes a client connection's socket (the stream owns the memory). */
void conn_close(struct fc_conn *c);

/* Closes a server connection; its memory goes at conn_reap(). */
void conn_close_server(struct fc_conn *c);

/* After the loop pass: frees the server connections closed during it. */
void conn_reap(void);

#endif
