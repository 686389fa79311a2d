/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Plain TCP, the first transport (xprt.h): recv() and send() straight on
 * the socket.  recv(), not read(): a socket needs none of the VFS layer's
 * work.  MSG_NOSIGNAL: a peer gone is an error to handle, not a SIGPIPE.
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "worker/xprt.h"

/*
 * A read shorter than asked has emptied the socket: with edge-triggered
 * events the next byte raises a new event, so the connection is marked
 * not readable without the read that would only return EAGAIN -- unless
 * the peer's FIN or an error was announced, which a read must still see.
 */
static ssize_t raw_recv(struct fc_conn *c, void *buf, size_t len)
{
	ssize_t n = recv(c->io.fd, buf, len, 0);

	if (n > 0) {
		if ((size_t)n < len && !c->hup)
			c->rd = false;
		return n;
	}
	if (n == 0) {
		c->eof = true;
		return 0;
	}
	if (errno == EAGAIN || errno == EINTR) {
		c->rd = false;
		return 0;
	}
	c->eof = true;
	return -1;
}

static ssize_t raw_send(struct fc_conn *c, const void *buf, size_t len)
{
	ssize_t w;
	int pre;

	if (c->pre != NULL && (pre = xprt_send_pre(c)) <= 0) {
		if (pre == 0)
			c->wr = false;
		return pre;
	}
	w = send(c->io.fd, buf, len, MSG_NOSIGNAL | (c->more ? MSG_MORE : 0));

	if (w < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			c->wr = false;
			return 0;
		}
		return -1;
	}
	if ((size_t)w < len)
		c->wr = false;
	return w;
}

static int raw_shutw(struct fc_conn *c)
{
	return shutdown(c->io.fd, SHUT_WR);
}

static void raw_close(struct fc_conn *c)
{
	if (c->io.fd >= 0 && c->more)
		xprt_flush_fin(c);
	if (c->io.fd >= 0)
		close(c->io.fd);
	c->io.fd = -1;
}

const struct fc_xprt xprt_raw = {
	.name = "raw",
	.recv = raw_recv,
	.send = raw_send,
	.shutw = raw_shutw,
	.close = raw_close,
};
