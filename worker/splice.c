/* SPDX-License-Identifier: BSD-2-Clause */
/* Bodies without copies (splice.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "worker/chan.h"
#include "worker/splice.h"
#include "worker/xprt.h"

/*
 * Below SPLICE_MIN the buffer path costs less than taking a pipe.  The
 * pipes hold a descriptor pair each, which the master's open-files limit
 * (two per connection, plus room) does not count: MAX_PIPES bounds them,
 * and SPARE_PIPES are kept open for the next body.
 */
#define SPLICE_MIN	(64 * 1024)
#define PIPE_CAP	(64 * 1024)	/* Linux's default pipe size */
#define MAX_PIPES	256
#define SPARE_PIPES	64

static struct fc_pipe *spare;
static int nspare, nused;

static struct fc_pipe *pipe_get(void)
{
	struct fc_pipe *p = spare;

	if (p != NULL) {
		spare = p->next;
		nspare--;
	} else {
		if (nused >= MAX_PIPES || (p = malloc(sizeof(*p))) == NULL)
			return NULL;
		if (pipe2(p->fd, O_NONBLOCK | O_CLOEXEC) < 0) {
			free(p);
			return NULL;
		}
	}
	p->len = 0;
	nused++;
	return p;
}

static void pipe_put(struct fc_pipe *p)
{
	nused--;
	if (p->len > 0 || nspare >= SPARE_PIPES) {
		close(p->fd[0]);
		close(p->fd[1]);
		free(p);
		return;
	}
	p->next = spare;
	spare = p;
	nspare++;
}

void splice_release(struct fc_chan *ch)
{
	if (ch->pipe != NULL) {
		pipe_put(ch->pipe);
		ch->pipe = NULL;
	}
}

static bool plain(const struct fc_conn *c)
{
	return c->xprt == &xprt_raw && c->pre == NULL;
}

bool splice_use(struct fc_chan *ch, const struct fc_conn *from,
    const struct fc_conn *to)
{
	if (ch->pipe != NULL)
		return true;
	if (ch->state != CH_BODY || ch->body != FC_BODY_LENGTH ||
	    ch->left < SPLICE_MIN || buf_len(ch->buf) != 0 || ch->keep ||
	    from == NULL || to == NULL || from->connecting || to->connecting ||
	    !plain(from) || !plain(to))
		return false;
	return (ch->pipe = pipe_get()) != NULL;
}

/*
 * Socket to pipe: bytes read (> 0), or 0 when none came -- from->eof set
 * when the sender closed or failed.  EAGAIN means an empty socket or a
 * full pipe (whose capacity counts slots, not bytes): only an empty pipe
 * tells which.
 */
static ssize_t fill(struct fc_chan *ch, struct fc_conn *from)
{
	struct fc_pipe *p = ch->pipe;
	size_t want = PIPE_CAP - p->len;
	ssize_t n;

	if (want > ch->left)
		want = (size_t)ch->left;
	if (want == 0 || !from->rd || from->eof)
		return 0;
	n = splice(from->io.fd, NULL, p->fd[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		p->len += (size_t)n;
		ch->left -= (uint64_t)n;
		return n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		if (p->len == 0)
			from->rd = false;
		return 0;
	}
	from->eof = true;
	return 0;
}

/* Pipe to socket: bytes written (>= 0), -1 when the receiver is gone. */
static ssize_t flush(struct fc_chan *ch, struct fc_conn *to)
{
	struct fc_pipe *p = ch->pipe;
	ssize_t w;

	if (p->len == 0 || !to->wr)
		return 0;
	w = splice(p->fd[0], NULL, to->io.fd, NULL, p->len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (w > 0) {
		p->len -= (size_t)w;
		ch->bytes += (uint64_t)w;
		return w;
	}
	if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
		to->wr = false;
		return 0;
	}
	return -1;
}

/* One pass: a pipe's worth at most, so that other streams get their turn. */
enum splice_res splice_pump(struct fc_chan *ch, struct fc_conn *from,
    struct fc_conn *to, uint64_t *in)
{
	ssize_t r = fill(ch, from), w = flush(ch, to);

	if (r > 0 && in != NULL)
		*in += (uint64_t)r;
	if (w < 0)
		return SPLICE_TO_ERR;
	if (ch->left == 0 && ch->pipe->len == 0) {
		ch->state = CH_DONE;
		splice_release(ch);
	} else if (from->eof && ch->pipe->len == 0) {
		/* Told once what came before the close went on. */
		return SPLICE_FROM_EOF;
	}
	return r > 0 || w > 0 ? SPLICE_MOVED : SPLICE_IDLE;
}
