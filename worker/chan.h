/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Buffers and channels: the pooled 16 KiB buffers, and moving a channel's
 * bytes between its buffer and a connection's transport.  A channel's
 * first `fwd` bytes are cleared to be sent; `sent` of those are kept
 * while a request may still have to be sent again (keep).
 */
#ifndef FC_WORKER_CHAN_H
#define FC_WORKER_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "worker/worker-t.h"

/* A buffer from the pool, empty; NULL when out of memory. */
struct fc_buf *buf_get(void);
/* Back to the pool (NULL is ignored). */
void buf_put(struct fc_buf *b);

static inline size_t buf_len(const struct fc_buf *b)
{
	return b ? b->end - b->start : 0;
}

static inline bool chan_pending(const struct fc_chan *ch)
{
	return ch->fwd > ch->sent;
}

/* For a new message: nothing cleared, nothing kept, a head expected. */
void chan_reset(struct fc_chan *ch);
/* Returns the buffer to the pool when nothing in it is waiting. */
void chan_trim(struct fc_chan *ch);
/* Drops bytes that were sent but kept for a retry. */
void chan_release(struct fc_chan *ch);

/*
 * Reads from c what fits below limit in the buffer (taken from the pool if
 * the channel has none); returns bytes read, 0 when nothing came, -1 on
 * an error -- with ch->buf NULL when no buffer could be had.  A buffer
 * taken for a read that brought nothing goes back to the pool, so an idle
 * keep-alive connection holds none.
 */
ssize_t chan_recv(struct fc_conn *c, struct fc_chan *ch, size_t limit);
/* Sends the cleared bytes not sent yet to c; -1 when the peer is gone. */
ssize_t chan_send(struct fc_conn *c, struct fc_chan *ch);
/*
 * Advances fwd over the body bytes that arrived: 1 if it moved, 0 if not,
 * -1 on a malformed body, -2 when a chunked body grows past max_body.
 */
int chan_frame(struct fc_chan *ch);

#endif
