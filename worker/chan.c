/* SPDX-License-Identifier: BSD-2-Clause */
/* Buffers and channels (chan.h). */
#include "config.h"

#include <string.h>

#include "lib/pool.h"
#include "worker/chan.h"
#include "worker/xprt.h"

static struct fc_pool buf_pool = POOL_INIT(sizeof(struct fc_buf));

struct fc_buf *buf_get(void)
{
	struct fc_buf *b = pool_get(&buf_pool);

	if (b != NULL)
		b->start = b->end = 0;
	return b;
}

void buf_put(struct fc_buf *b)
{
	pool_put(&buf_pool, b);
}

static void buf_compact(struct fc_buf *b)
{
	if (b->start == 0)
		return;
	memmove(b->data, b->data + b->start, b->end - b->start);
	b->end -= b->start;
	b->start = 0;
}

void chan_trim(struct fc_chan *ch)
{
	if (ch->buf != NULL && buf_len(ch->buf) == 0) {
		buf_put(ch->buf);
		ch->buf = NULL;
	}
}

void chan_reset(struct fc_chan *ch)
{
	ch->fwd = ch->sent = 0;
	ch->keep = false;
	ch->state = CH_HEAD;
	ch->body = FC_BODY_NONE;
	ch->left = 0;
	ch->bytes = 0;
}

void chan_release(struct fc_chan *ch)
{
	if (ch->buf != NULL) {
		ch->buf->start += ch->sent;
		ch->fwd -= ch->sent;
	}
	ch->sent = 0;
	ch->keep = false;
}

ssize_t chan_recv(struct fc_conn *c, struct fc_chan *ch, size_t limit)
{
	struct fc_buf *b;
	bool fresh = ch->buf == NULL;
	ssize_t n;

	if (fresh && (ch->buf = buf_get()) == NULL)
		return -1;
	b = ch->buf;
	if (b->start > 0 && (ch->state == CH_HEAD || b->end == FC_BUFSZ))
		buf_compact(b);
	if (b->end >= limit)
		return 0;
	n = conn_recv(c, b->data + b->end, limit - b->end);
	if (n > 0) {
		b->end += (size_t)n;
		return n;
	}
	if (n < 0)
		return -1;
	if (fresh) {
		buf_put(b);
		ch->buf = NULL;
	}
	return 0;
}

ssize_t chan_send(struct fc_conn *c, struct fc_chan *ch)
{
	struct fc_buf *b = ch->buf;
	size_t n = ch->fwd - ch->sent;
	ssize_t w;

	if (n == 0 || !conn_can_send(c))
		return 0;
	if ((w = conn_send(c, b->data + b->start + ch->sent, n)) <= 0)
		return w;
	ch->bytes += (uint64_t)w;
	if (ch->keep) {
		ch->sent += (size_t)w;
	} else {
		b->start += (size_t)w;
		ch->fwd -= (size_t)w;
		if (b->start == b->end)
			b->start = b->end = 0;
	}
	return w;
}

static void count_data(void *arg, const char *p, size_t n)
{
	(void)p;
	*(uint64_t *)arg += n;
}

int chan_frame(struct fc_chan *ch)
{
	size_t avail = buf_len(ch->buf) - ch->fwd;
	ssize_t n;

	if (ch->state != CH_BODY || avail == 0)
		return 0;
	switch (ch->body) {
	case FC_BODY_LENGTH:
		n = (ssize_t)(avail < ch->left ? avail : ch->left);
		ch->left -= (uint64_t)n;
		if (ch->left == 0)
			ch->state = CH_DONE;
		break;
	case FC_BODY_CHUNKED:
		n = http_chunked_feed(&ch->ck, ch->buf->data + ch->buf->start + ch->fwd,
		    avail, ch->max_body ? count_data : NULL, &ch->decoded);
		if (n < 0)
			return -1;
		if (ch->max_body && ch->decoded > ch->max_body)
			return -2;
		if (ch->ck.done)
			ch->state = CH_DONE;
		break;
	case FC_BODY_EOF:
		n = (ssize_t)avail;
		break;
	default:
		n = 0;
		ch->state = CH_DONE;
	}
	ch->fwd += (size_t)n;
	return n > 0;
}
