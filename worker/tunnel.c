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
	return s->ws_asked && m->upgrade_websocket;
}

void tunnel_begin(struct fc_stream *s)
{
	s->tunnel = true;
	/* The request was kept for a resend until answered: it is. */
	chan_release(&s->req);
	s->req.state = CH_TUNNEL;
	s->rsp.state = CH_TUNNEL;
	shm_add(&fc_w->blk->cur_tunnels, 1);
	shm_add(&fc_w->blk->total_tunnels, 1);
}

void tunnel_end(struct fc_stream *s)
{
	if (s->tunnel)
		shm_add(&fc_w->blk->cur_tunnels, -1);
}

static void set_term(struct fc_stream *s, char who)
{
	if (s->term[0] != '-')
		return;
	s->term[0] = who;
	s->term[1] = 'D';
}

/*
 * One direction, from -> to through ch: read what fits, send what is
 * there.  Its end: from's end of input once everything is sent (passed
 * on as a half-close of to), or to gone (what is left for it is dropped).
 * who: the letter of from's side for the log, 'C' or 'S'.
 */
static bool pump_one(struct fc_stream *s, struct fc_conn *from, struct fc_conn *to,
    struct fc_chan *ch, char who)
{
	bool moved = false;
	ssize_t n;

	if (ch->state != CH_TUNNEL)
		return false;
	if (!from->eof && conn_can_recv(from)) {
		if ((n = chan_recv(from, ch, FC_BUFSZ)) < 0 && ch->buf != NULL)
			set_term(s, who);	/* reset: the end of its input */
		if (n < 0 && ch->buf == NULL) {
			from->eof = true;	/* no buffer: the tunnel cannot go on */
			set_term(s, 'R');
		}
		if (n > 0) {
			moved = true;
			if (who == 'C')
				s->cli_in += (uint64_t)n;
		}
	}
	ch->fwd = buf_len(ch->buf);
	if ((n = chan_send(to, ch)) < 0) {
		set_term(s, who == 'C' ? 'S' : 'C');
		ch->buf->start = ch->buf->end = 0;
		ch->fwd = 0;
		ch->state = CH_DONE;
		return true;
	}
	moved |= n > 0;
	if (from->eof && !chan_pending(ch)) {
		conn_shutw(to);		/* its peer reads the end of input */
		ch->state = CH_DONE;
		moved = true;
	}
	return moved;
}

enum fc_tunnel_pump tunnel_pump(struct fc_stream *s)
{
	bool moved = pump_one(s, &s->cli, s->srv, &s->req, 'C');

	moved |= pump_one(s, s->srv, &s->cli, &s->rsp, 'S');
	if (s->req.state == CH_DONE && s->rsp.state == CH_DONE)
		return TUNNEL_OVER;
	return moved ? TUNNEL_MOVED : TUNNEL_IDLE;
}

uint64_t tunnel_timeout(const struct fc_stream *s)
{
	const struct fc_timeouts *t = &s->px->l->timeout;

	if ((s->req.state == CH_DONE || s->rsp.state == CH_DONE) && t->client < t->tunnel)
		return (uint64_t)t->client;
	return (uint64_t)t->tunnel;
}
