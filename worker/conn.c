/* SPDX-License-Identifier: BSD-2-Clause */
/* Connection objects of a worker (conn.h). */
#include "config.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lib/net.h"
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

struct fc_conn *conn_open_server(struct fc_proxy *px, int server,
    void (*cb)(struct fc_ev *, struct fc_ev_io *, uint32_t))
{
	struct fc_conn *c;
	int fd = net_connect_nb(&px->l->servers[server].addr);

	if (fd < 0)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return NULL;
	}
	c->io.fd = fd;
	c->io.cb = cb;
	c->xprt = &xprt_raw;
	c->px = px;
	c->server = server;
	c->connecting = true;
	if (px->l->servers[server].tls.enabled && xprt_tls_connect(c) < 0) {
		close(fd);
		free(c);
		return NULL;
	}
	if (ev_io_add(fc_w->ev, &c->io, FC_EV_CONN) < 0) {
		c->xprt->close(c);
		free(c);
		return NULL;
	}
	return c;
}

void conn_close(struct fc_conn *c)
{
	if (c->io.fd >= 0)
		c->xprt->close(c);
}

void conn_close_server(struct fc_conn *c)
{
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
