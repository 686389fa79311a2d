/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The stream state machine (stream.c): what the worker's loop (worker.c)
 * calls.  The types are in worker-t.h.
 */
#ifndef FC_WORKER_STREAM_H
#define FC_WORKER_STREAM_H

#include <stdbool.h>

#include "lib/net.h"
#include "worker/worker-t.h"

/* A client connection accepted on px: a new stream owns fd. */
void stream_accept(struct fc_proxy *px, int fd, const union fc_sockaddr *peer);
/* Closes idle keep-alive clients; the others close after their response. */
void stream_drain_all(void);
/* After the loop pass: frees what was closed during it. */
void stream_reap(void);
/* Runs the streams that had more to do; true if some still have. */
bool stream_run_deferred(void);

#endif
