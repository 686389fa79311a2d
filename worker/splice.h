/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Bodies without copies: a Content-Length body that fulcrum only passes on
 * goes from one socket to the other through a pipe with splice(2), as
 * HAProxy's splicing does on Linux, instead of through a 16 KiB buffer in
 * user space: no copy, and a fourth of the system calls.  Only plain TCP
 * on both sides (TLS has to see the bytes), only once the channel's buffer
 * is empty and at least SPLICE_MIN bytes are still to come, and only while
 * the worker has pipes to spare: otherwise the buffer path goes on.
 */
#ifndef FC_WORKER_SPLICE_H
#define FC_WORKER_SPLICE_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/worker-t.h"

/* What splice_pump() did. */
enum splice_res {
	SPLICE_IDLE,		/* nothing moved: wait for an event */
	SPLICE_MOVED,		/* bytes moved */
	SPLICE_FROM_EOF,	/* the sender closed (or failed) before the body's end,
				 * and every byte it sent went on */
	SPLICE_TO_ERR,		/* the receiver is gone */
};

/*
 * Does ch's body go (or go on) from `from` to `to` by splice?  Takes the
 * channel's pipe when it starts; false when it cannot (then the buffer
 * path carries the body).
 */
bool splice_use(struct fc_chan *ch, const struct fc_conn *from,
    const struct fc_conn *to);

/*
 * Moves body bytes from `from` to `to` until neither side can go on; the
 * bytes read are added to *in (may be NULL), those written to ch->bytes.
 * The channel is CH_DONE, its pipe given back, once the last byte is out.
 */
enum splice_res splice_pump(struct fc_chan *ch, struct fc_conn *from,
    struct fc_conn *to, uint64_t *in);

/* Drops the channel's pipe (its bytes, if any, with it). */
void splice_release(struct fc_chan *ch);

/* Bytes of the body waiting in the channel's pipe. */
static inline size_t splice_pending(const struct fc_chan *ch)
{
	return ch->pipe != NULL ? ch->pipe->len : 0;
}

#endif
