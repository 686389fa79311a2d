/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Bodies by splice (worker/splice.c) on real loopback TCP sockets: what
 * the sender's close leaves in the pipe still reaches the receiver.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "worker/splice.h"
#include "worker/xprt.h"

/* A connected loopback pair, both ends non-blocking: fds[0] connects, fds[1]
 * is accepted. */
static void tcp_pair(int fds[2])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(l >= 0 && bind(l, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(listen(l, 1) == 0 && getsockname(l, (struct sockaddr *)&sin, &len) == 0);
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(connect(fds[0], (struct sockaddr *)&sin, sizeof(sin)) == 0);
	fds[1] = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	cr_assert(fds[1] >= 0);
	cr_assert(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
	close(l);
}

/* Sends junk on fd until its socket is full; returns how much. */
static size_t fill_up(int fd)
{
	static char junk[65536];
	size_t total = 0;
	ssize_t n;

	while ((n = send(fd, junk, sizeof(junk), MSG_NOSIGNAL)) > 0)
		total += (size_t)n;
	cr_assert(errno == EAGAIN);
	return total;
}

/* Reads what fd has now; returns how much. */
static size_t drain(int fd)
{
	char buf[65536];
	size_t total = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		total += (size_t)n;
	return total;
}

Test(splice, a_close_read_with_bytes_in_the_pipe_delivers_them_first)
{
	static char body[10000];
	int in[2], out[2];
	struct fc_conn from = { .xprt = &xprt_raw, .rd = true };
	struct fc_conn to = { .xprt = &xprt_raw, .wr = true };
	struct fc_chan ch = { .state = CH_BODY, .body = FC_BODY_LENGTH, .left = 100000 };
	enum splice_res r = SPLICE_MOVED;
	size_t junk, got;

	tcp_pair(in);
	tcp_pair(out);
	from.io.fd = in[1];
	to.io.fd = out[0];
	/* The receiver is not reading: its socket is full. */
	junk = fill_up(out[0]);
	/* The sender sends 10,000 bytes of the 100,000 announced, and closes. */
	memset(body, 'b', sizeof(body));
	cr_assert(send(in[0], body, sizeof(body), 0) == (ssize_t)sizeof(body));
	cr_assert(shutdown(in[0], SHUT_WR) == 0);	/* loopback: there at once */

	cr_assert(splice_use(&ch, &from, &to));
	for (int i = 0; i < 10 && r != SPLICE_FROM_EOF; i++) {
		r = splice_pump(&ch, &from, &to, NULL);
		cr_expect(r != SPLICE_FROM_EOF || splice_pending(&ch) == 0,
		    "the close is told only once the pipe is empty (%zu bytes in it)",
		    splice_pending(&ch));
	}
	cr_expect_eq(splice_pending(&ch), sizeof(body), "the body waits in the pipe");

	/* The receiver reads: what was in the pipe goes on, then the close. */
	got = drain(out[1]);
	to.wr = true;
	for (int i = 0; i < 10 && r != SPLICE_FROM_EOF; i++) {
		r = splice_pump(&ch, &from, &to, NULL);
		got += drain(out[1]);
		to.wr = true;
	}
	cr_expect_eq(r, SPLICE_FROM_EOF);
	cr_expect_eq(got, junk + sizeof(body), "every byte the sender sent arrived");
	splice_release(&ch);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}
