/* SPDX-License-Identifier: BSD-2-Clause */
/* Connection objects of a worker (conn.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/net.h"
#include "lib/proxyproto.h"
#include "worker/conn.h"
#include "worker/xprt.h"

/* The worker's context: set by worker_main(), defined in the lowest file
 * that reads it. */
struct fc_worker *fc_w;

/* Every connection's epoll registration: once, edge-triggered. */
#define FC_EV_CONN	(EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static struct fc_conn *dead_conns;

int conn_init_client(struct fc_conn *c, int fd, struct fc_proxy *px,
    void (*cb)(struct fc_ev *, struct fc_ev_io *, uint32_t))
{
	c->io.fd = fd;
	c->io.cb = cb;
	c->xprt = &xprt_raw;
	c->px = px;
	c->server = -1;
	if (ev_io_add(fc_w->ev, &c->io, FC_EV_CONN) < 0)
		return -1;
	/* On failure the caller's close(fd) also ends the registration. */
	if (px->l->tls.ctx != NULL)
		return xprt_tls_accept(c, px->l->tls.ctx);
	return 0;
}

struct fc_conn *conn_open_server(struct fc_be *be, int server,
    void (*cb)(struct fc_ev *, struct fc_ev_io *, uint32_t))
{
	struct fc_conn *c;
	int fd = net_connect_nb(&be->b->servers[server].addr);

	if (fd < 0)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return NULL;
	}
	c->io.fd = fd;
	c->io.cb = cb;
	c->xprt = &xprt_raw;
	c->be = be;
	c->server = server;
	c->connecting = true;
	if (be->b->servers[server].tls.enabled && xprt_tls_connect(c) < 0) {
		close(fd);
		free(c);
		return NULL;
	}
	if (ev_io_add(fc_w->ev, &c->io, FC_EV_CONN) < 0) {
		c->xprt->close(c);
		free(c);
		return NULL;
	}
	fc_w->nsrv++;
	return c;
}

int conn_recv_proxy(struct fc_conn *c, struct fc_proxy_hdr *h, const char **why)
{
	char buf[FC_PROXY_MAX];
	ssize_t n = recv(c->io.fd, buf, sizeof(buf), MSG_PEEK);
	int r;

	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			c->rd = false;
			return 0;
		}
		c->eof = true;
		*why = n == 0 ? "closed before a whole PROXY header" : strerror(errno);
		return -1;
	}
	if ((r = proxyproto_parse(buf, (size_t)n, h, why)) == FC_PROXY_INCOMPLETE) {
		if (c->hup) {
			*why = "closed inside its PROXY header";
			return -1;
		}
		/* Edge-triggered: the next bytes to arrive raise a new event,
		 * though these are still queued. */
		c->rd = false;
		return 0;
	}
	if (r < 0)
		return -1;
	if (recv(c->io.fd, buf, (size_t)r, 0) != r) {
		*why = "the PROXY header could not be taken from the socket";
		return -1;
	}
	c->rd = true;			/* what came after it is still queued */
	return 1;
}

int conn_set_proxy(struct fc_conn *c, int version, const struct sockaddr *src,
    const struct sockaddr *dst)
{
	unsigned char buf[FC_PROXY_WRITE_MAX];
	int n = proxyproto_write(version, src, dst, buf, sizeof(buf));

	if (n < 0 || (c->pre = malloc((size_t)n)) == NULL)
		return -1;
	memcpy(c->pre, buf, (size_t)n);
	c->pre_len = (uint8_t)n;
	c->pre_off = 0;
	return 0;
}

void conn_close(struct fc_conn *c)
{
	if (c->io.fd >= 0)
		c->xprt->close(c);
	free(c->pre);
	c->pre = NULL;
}

void conn_close_server(struct fc_conn *c)
{
	if (c->io.fd >= 0)
		fc_w->nsrv--;
	conn_close(c);
	c->s = NULL;
	c->next = dead_conns;
	dead_conns = c;
}

void conn_reap(void)
{
	while (dead_conns != NULL) {
		struct fc_conn *c = dead_conns;

		dead_conns = c->next;
		free(c);
	}
}
