/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * master/steer.c against the kernel: real SO_REUSEPORT groups on
 * 127.0.0.1, connections made to them, and which socket's queue each one
 * lands in.  The module replays the group's order; a wrong replay sends the
 * connections to the wrong sockets, which is what these tests look for.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/net.h"
#include "master/steer.h"

#define NCONN	60

struct group {
	struct fc_addr addr;
	int fd[8];
	int n;
	bool live[8];
};

/* A port on 127.0.0.1 nobody listens on: the kernel's pick for a bind. */
static int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0, "bind");
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* n reuseport sockets on one address, joined in order. */
static void group_open(struct group *g, int n)
{
	char text[32], err[128];

	memset(g, 0, sizeof(*g));
	snprintf(text, sizeof(text), "127.0.0.1:%d", free_port());
	cr_assert_eq(net_parse_addr(text, &g->addr, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < n; i++) {
		g->fd[i] = net_listen_reuseport(&g->addr, 128);
		cr_assert_geq(g->fd[i], 0, "listen");
		steer_join(&g->addr, g->fd[i]);
		g->live[i] = true;
	}
	g->n = n;
}

static bool live_of(int fd, void *arg)
{
	const struct group *g = arg;

	for (int i = 0; i < g->n; i++)
		if (g->fd[i] == fd)
			return g->live[i];
	return false;
}

/* Opens NCONN connections; got[i]: how many socket i's queue took. */
static void connect_count(const struct group *g, int *got)
{
	int c[NCONN];

	for (int k = 0; k < NCONN; k++) {
		c[k] = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_eq(connect(c[k], (const struct sockaddr *)&g->addr.ss, g->addr.len), 0,
		    "connect");
	}
	usleep(50000);		/* the last handshakes reach the queues */
	for (int i = 0; i < g->n; i++) {
		int fd;

		got[i] = 0;
		while (g->fd[i] >= 0 && (fd = accept(g->fd[i], NULL, NULL)) >= 0) {
			got[i]++;
			close(fd);
		}
	}
	for (int k = 0; k < NCONN; k++)
		close(c[k]);
}

Test(steer, new_connections_go_to_the_live_sockets_only)
{
	struct group g;
	int got[8];

	group_open(&g, 3);
	g.live[1] = false;
	steer_update(live_of, &g);
	cr_assert(steer_works(), "the kernel takes the program");
	connect_count(&g, got);
	cr_expect_eq(got[1], 0, "the stalled socket got %d", got[1]);
	cr_expect_eq(got[0] + got[2], NCONN);
	cr_expect(got[0] > 0 && got[2] > 0, "both live sockets take some: %d, %d", got[0], got[2]);
}

Test(steer, all_live_is_the_kernel_hash_again)
{
	struct group g;
	int got[8];

	group_open(&g, 3);
	g.live[1] = false;
	steer_update(live_of, &g);
	g.live[1] = true;
	steer_update(live_of, &g);
	connect_count(&g, got);
	cr_expect(got[0] > 0 && got[1] > 0 && got[2] > 0, "%d %d %d", got[0], got[1], got[2]);
}

Test(steer, off_is_the_kernel_hash)
{
	struct group g;
	int got[8];

	group_open(&g, 2);
	g.live[1] = false;
	steer_update(live_of, &g);
	steer_update(NULL, NULL);
	connect_count(&g, got);
	cr_expect(got[0] > 0 && got[1] > 0, "%d %d", got[0], got[1]);
}

/*
 * A socket leaving the middle of the group: the kernel moves the last one
 * into its place, so the group is [0, 3, 2].  Only socket 3 live: every
 * connection must reach it, not socket 2 (what removing in place would give).
 */
Test(steer, a_socket_leaving_the_middle_is_replaced_by_the_last)
{
	struct group g;
	int got[8];

	group_open(&g, 4);
	steer_leave(g.fd[1]);
	close(g.fd[1]);
	g.fd[1] = -1;
	g.live[1] = false;
	steer_settle();
	g.live[0] = g.live[2] = false;
	steer_update(live_of, &g);
	connect_count(&g, got);
	cr_expect_eq(got[3], NCONN, "socket 3 got %d (0: %d, 2: %d)", got[3], got[0], got[2]);
}

/* Leaving sockets at the end: the others keep their places, steered at once. */
Test(steer, the_last_sockets_leaving_move_nothing)
{
	struct group g;
	int got[8];

	group_open(&g, 4);
	steer_leave(g.fd[3]);
	steer_leave(g.fd[2]);
	g.live[0] = false;
	g.live[2] = g.live[3] = false;
	steer_update(live_of, &g);	/* before they are gone: still exact */
	connect_count(&g, got);
	cr_expect_eq(got[1], NCONN, "socket 1 got %d (0: %d)", got[1], got[0]);
}
