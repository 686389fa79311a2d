/* SPDX-License-Identifier: BSD-2-Clause */
/* WebSocket tunnels (tunnel.h). */
#include "config.h"

#include "worker/chan.h"
#include "worker/tunnel.h"
#include "worker/xprt.h"

bool tunnel_asked(const struct fc_http_msg *m)
{
	return m->version_minor == 1 && m->upgrade && m->upgrade_websocket &&
	    m->body == FC_BODY_NONE;
}

/* RFC 9110 section 15.2.2: a 101 names the protocol switched to. */
bool tunnel_granted(const struct fc_stream *s, const struct fc_http_msg *m)
{
	return s->tx->ws_asked && m->upgrade_websocket;
}

void tunnel_begin(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;

	t->tunnel = true;
	/* The request was kept for a resend until answered: it is. */
	chan_release(&t->req);
	t->req.state = CH_TUNNEL;
	t->rsp.state = CH_TUNNEL;
	shm_add(&fc_w->blk->cur_tunnels, 1);
	shm_add(&fc_w->blk->total_tunnels, 1);
}

void tunnel_end(struct fc_stream *s)
{
	if (s->tx->tunnel)
		shm_add(&fc_w->blk->cur_tunnels, -1);
}

static void set_term(struct fc_stream *s, char who)
{
	struct fc_txn *t = s->tx;

	if (t->term[0] != '-')
		return;
	t->term[0] = who;
	t->term[1] = 'D';
}

/* A direction whose receiver is gone: what is left for it is dropped. */
static void drop(struct fc_chan *ch)
{
	if (ch->buf != NULL)
		ch->buf->start = ch->buf->end = 0;
	ch->fwd = 0;
	ch->state = CH_DONE;
	chan_trim(ch);
}

/*
 * One direction, from -> to through ch (back is the other one): read what
 * fits, send what is there.  It ends with from's end of input once all is
 * sent, passed on as a half-close of to.  An error on either connection
 * ends both directions: the one towards the broken side at once, the
 * other once its bytes are flushed.  who: the letter of from's side for
 * the log, 'C' or 'S'.
 */
static bool pump_one(struct fc_stream *s, struct fc_conn *from, struct fc_conn *to,
    struct fc_chan *ch, struct fc_chan *back, char who)
{
	bool moved = false;
	ssize_t n;

	if (ch->state != CH_TUNNEL)
		return false;
	if (!from->eof && conn_can_recv(from)) {
		n = chan_recv(from, ch, FC_BUFSZ);
		if (n < 0) {
			from->eof = true;
			set_term(s, ch->buf == NULL ? 'R' : who);
			drop(back);
		}
		if (n > 0 && who == 'C')
			s->tx->cli_in += (uint64_t)n;
		moved = n != 0;
	}
	ch->fwd = buf_len(ch->buf);
	if ((n = chan_send(to, ch)) < 0) {
		set_term(s, who == 'C' ? 'S' : 'C');
		drop(ch);
		to->eof = true;		/* nothing more comes from it either */
		return true;
	}
	moved |= n > 0;
	if (from->eof && !chan_pending(ch)) {
		conn_shutw(to);		/* its peer reads the end of input */
		ch->state = CH_DONE;
		moved = true;
	}
	chan_trim(ch);			/* an idle tunnel holds no buffer */
	return moved;
}

enum fc_tunnel_pump tunnel_pump(struct fc_stream *s)
{
	struct fc_txn *t = s->tx;
	bool moved = pump_one(s, &s->cli, t->srv, &t->req, &t->rsp, 'C');

	moved |= pump_one(s, t->srv, &s->cli, &t->rsp, &t->req, 'S');
	if (t->req.state == CH_DONE && t->rsp.state == CH_DONE)
		return TUNNEL_OVER;
	return moved ? TUNNEL_MOVED : TUNNEL_IDLE;
}

uint64_t tunnel_timeout(const struct fc_stream *s)
{
	const struct fc_timeouts *t = &s->px->l->timeout;

	if ((s->tx->req.state == CH_DONE || s->tx->rsp.state == CH_DONE) && t->client < t->tunnel)
		return (uint64_t)t->client;
	return (uint64_t)t->tunnel;
}
