/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reuseport steering (see steer.h): the master's copy of each group's
 * order, and the classic BPF program that picks among its live sockets.
 *
 * The kernel's group (net/core/sock_reuseport.c) is an array: listen()
 * appends, and a socket that leaves is replaced by the last one.  A socket
 * the master closes leaves only once no worker of an older generation holds
 * it, at an instant the master does not see; meanwhile it stays in this
 * copy, marked leaving.  As long as every leaving socket comes after every
 * kept one, the kept ones' indexes cannot move.  When they can (a reload
 * that added sockets behind leaving ones), the group is not steered until
 * the leaving ones are gone; if which one went first decides the order,
 * the group is never steered again (logged).
 */
#include "config.h"

#include <errno.h>
#include <linux/filter.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "master/steer.h"

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51	/* Linux 4.5 */
#endif
#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF	68	/* Linux 5.3 */
#endif

#define PICK_ANY	0xffffffffu	/* no such index: the kernel hashes */

struct member {
	int fd;				/* -1 once the master closed it */
	bool leaving;
};

struct group {
	struct fc_addr addr;
	struct member *v;		/* in the kernel's order */
	int n, cap;
	bool probed;			/* the kernel took a program once */
	bool lost;			/* the order is not known any more */
	unsigned int *picks;		/* what the attached program picks from */
	int npicks;			/* 0: no program attached, -1: unknown */
};

static struct {
	struct group *g;
	int n;
	bool refused;			/* the kernel said no: never steer */
} st;

static struct group *group_of(const struct fc_addr *addr)
{
	for (int i = 0; i < st.n; i++)
		if (net_addr_equal(&st.g[i].addr, addr))
			return &st.g[i];
	st.g = xrealloc(st.g, (size_t)(st.n + 1) * sizeof(*st.g));
	st.g[st.n] = (struct group){ .addr = *addr };
	return &st.g[st.n++];
}

void steer_join(const struct fc_addr *addr, int fd)
{
	struct group *g = group_of(addr);

	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 8;
		g->v = xrealloc(g->v, (size_t)g->cap * sizeof(*g->v));
		g->picks = xrealloc(g->picks, (size_t)g->cap * sizeof(*g->picks));
	}
	g->v[g->n++] = (struct member){ fd, false };
}

void steer_leave(int fd)
{
	for (int i = 0; i < st.n; i++) {
		for (int k = 0; k < st.g[i].n; k++) {
			if (st.g[i].v[k].fd == fd && !st.g[i].v[k].leaving) {
				st.g[i].v[k] = (struct member){ -1, true };
				return;
			}
		}
	}
}

static const char *group_name(const struct group *g, char *buf, size_t len)
{
	return net_addr_str((const struct sockaddr *)&g->addr.ss, buf, len);
}

/* Whether a leaving socket comes before a kept one. */
static bool group_unsure(const struct group *g)
{
	bool leaving = false;

	for (int k = 0; k < g->n; k++) {
		if (g->v[k].leaving)
			leaving = true;
		else if (leaving)
			return true;
	}
	return false;
}

/* The kernel's removal of the leaving sockets, where the result is known. */
static void group_settle(struct group *g)
{
	int left = 0, last = -1;
	char name[64];

	for (int k = 0; k < g->n; k++)
		if (g->v[k].leaving) {
			left++;
			last = k;
		}
	if (left == 0)
		return;
	if (!group_unsure(g)) {
		g->n -= left;		/* all at the end: nothing else moves */
	} else if (left == 1) {
		g->v[last] = g->v[--g->n];	/* what the kernel does */
	} else {
		int n = 0;

		for (int k = 0; k < g->n; k++)	/* who is in it is still known */
			if (!g->v[k].leaving)
				g->v[n++] = g->v[k];
		g->n = n;
		g->lost = true;
		log_notice("listener %s: after reloads that changed the number of "
		    "workers, the order of its sockets is not known: new connections "
		    "are no longer steered away from stalled workers there",
		    group_name(g, name, sizeof(name)));
	}
	g->npicks = -1;		/* indexes moved: attach again, or detach */
}

void steer_settle(void)
{
	int n = 0;

	for (int i = 0; i < st.n; i++) {
		group_settle(&st.g[i]);
		if (st.g[i].n > 0) {
			st.g[n++] = st.g[i];
		} else {
			free(st.g[i].v);
			free(st.g[i].picks);
		}
	}
	st.n = n;
}

/*
 * A program returning picks[random % n].  A random choice rather than a
 * hash of the addresses: the kernel does not give a classic program its
 * own hash, and a SYN that is sent again may as well go elsewhere.
 * n == 0: return an index beyond the group, which the kernel answers
 * with its hash.  Returns the number of instructions; prog holds 2n + 2.
 */
static unsigned short program_build(const unsigned int *picks, int n, struct sock_filter *prog)
{
	unsigned short len = 0;

	if (n == 0) {
		prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, PICK_ANY);
		return len;
	}
	prog[len++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    (unsigned int)(SKF_AD_OFF + SKF_AD_RANDOM));
	prog[len++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, (unsigned int)n);
	for (int i = 0; i < n - 1; i++) {
		prog[len++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		    (unsigned int)i, 0, 1);
		prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, picks[i]);
	}
	prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, picks[n - 1]);
	return len;
}

static int program_attach(int fd, const unsigned int *picks, int n)
{
	struct sock_filter *prog = xcalloc((size_t)(2 * n + 2), sizeof(*prog));
	struct sock_fprog fprog = { program_build(picks, n, prog), prog };
	int rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof(fprog));

	free(prog);
	return rc;
}

/* Back to the kernel's hash; before Linux 5.3, through a program that asks for it. */
static int program_detach(int fd)
{
	int zero = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &zero, sizeof(zero)) == 0 ||
	    errno == ENOENT)
		return 0;
	return program_attach(fd, NULL, 0);
}

/* A socket of g the master holds, or -1. */
static int group_fd(const struct group *g)
{
	for (int k = 0; k < g->n; k++)
		if (!g->v[k].leaving)
			return g->v[k].fd;
	return -1;
}

static void refused(const struct group *g)
{
	char name[64];

	log_warnx("listener %s: the kernel refuses a reuseport BPF program (%s): new "
	    "connections are not steered away from stalled workers",
	    group_name(g, name, sizeof(name)), strerror(errno));
	st.refused = true;
	for (int i = 0; i < st.n; i++) {
		if (st.g[i].npicks > 0 && group_fd(&st.g[i]) >= 0)
			(void)program_detach(group_fd(&st.g[i]));
		st.g[i].npicks = 0;
	}
}

/* The indexes g's new connections should go to; 0: any (the hash). */
static int group_picks(const struct group *g, bool (*live)(int, void *), void *arg,
    unsigned int *picks)
{
	int n = 0;

	if (live == NULL || g->lost || group_unsure(g))
		return 0;
	for (int k = 0; k < g->n; k++)
		if (!g->v[k].leaving && live(g->v[k].fd, arg))
			picks[n++] = (unsigned int)k;
	return n == g->n ? 0 : n;
}

static void group_update(struct group *g, bool (*live)(int, void *), void *arg)
{
	unsigned int *picks = xcalloc((size_t)g->n + 1, sizeof(*picks));
	int fd = group_fd(g), n = group_picks(g, live, arg, picks);

	if (fd < 0 || (!g->probed && live == NULL))
		goto out;
	/* Find out now, not at the first stall, whether the kernel takes it. */
	if (!g->probed) {
		if (program_attach(fd, NULL, 0) < 0 || program_detach(fd) < 0) {
			refused(g);
			goto out;
		}
		g->probed = true;
	}
	if (n == g->npicks && memcmp(picks, g->picks, (size_t)n * sizeof(*picks)) == 0)
		goto out;
	if ((n > 0 ? program_attach(fd, picks, n) : program_detach(fd)) < 0) {
		refused(g);
		goto out;
	}
	memcpy(g->picks, picks, (size_t)n * sizeof(*picks));
	g->npicks = n;
out:
	free(picks);
}

void steer_update(bool (*live)(int fd, void *arg), void *arg)
{
	for (int i = 0; i < st.n && !st.refused; i++)
		group_update(&st.g[i], live, arg);
}

bool steer_works(void)
{
	return !st.refused;
}
