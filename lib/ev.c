/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event loop (see ev.h): one epoll instance and a binary min-heap of
 * timers ordered by expiry.  Kept small on purpose: every process of fulcrum
 * runs on it, and the request path must not pay for features it does not use.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/ev.h"

#define EV_BATCH 256

struct fc_ev {
	int epfd;
	uint64_t now;			/* ms */
	uint64_t now_us, wall_us;	/* read with it */
	struct fc_ev_timer **heap;	/* heap[0] expires first */
	size_t nheap, cap;
	uint64_t *beat;			/* NULL, or stamped with now on every wake */
	struct epoll_event events[EV_BATCH];
};

struct fc_ev *ev_new(void)
{
	struct fc_ev *ev = xcalloc(1, sizeof(*ev));

	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev->epfd < 0) {
		free(ev);
		return NULL;
	}
	ev_update_now(ev);
	return ev;
}

void ev_free(struct fc_ev *ev)
{
	if (ev == NULL)
		return;
	close(ev->epfd);
	free(ev->heap);
	free(ev);
}

static int io_ctl(struct fc_ev *ev, int op, struct fc_ev_io *io, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = io };

	return epoll_ctl(ev->epfd, op, io->fd, &e);
}

int ev_io_add(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	return io_ctl(ev, EPOLL_CTL_ADD, io, events);
}

int ev_io_mod(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	return io_ctl(ev, EPOLL_CTL_MOD, io, events);
}

int ev_io_del(struct fc_ev *ev, struct fc_ev_io *io)
{
	return io_ctl(ev, EPOLL_CTL_DEL, io, 0);
}

/* Heap helpers: slot is index + 1 so that 0 means "not pending". */
static void heap_set(struct fc_ev *ev, size_t i, struct fc_ev_timer *t)
{
	ev->heap[i] = t;
	t->slot = i + 1;
}

static void heap_up(struct fc_ev *ev, size_t i)
{
	struct fc_ev_timer *t = ev->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (ev->heap[parent]->when <= t->when)
			break;
		heap_set(ev, i, ev->heap[parent]);
		i = parent;
	}
	heap_set(ev, i, t);
}

static void heap_down(struct fc_ev *ev, size_t i)
{
	struct fc_ev_timer *t = ev->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= ev->nheap)
			break;
		if (c + 1 < ev->nheap && ev->heap[c + 1]->when < ev->heap[c]->when)
			c++;
		if (t->when <= ev->heap[c]->when)
			break;
		heap_set(ev, i, ev->heap[c]);
		i = c;
	}
	heap_set(ev, i, t);
}

void ev_timer_stop(struct fc_ev *ev, struct fc_ev_timer *t)
{
	size_t i;
	struct fc_ev_timer *last;

	if (t->slot == 0)
		return;
	i = t->slot - 1;
	t->slot = 0;
	last = ev->heap[--ev->nheap];
	if (last == t)
		return;
	heap_set(ev, i, last);
	heap_up(ev, i);
	heap_down(ev, last->slot - 1);
}

void ev_timer_arm(struct fc_ev *ev, struct fc_ev_timer *t, uint64_t when)
{
	if (t->slot != 0) {
		size_t i = t->slot - 1;

		t->when = when;
		heap_up(ev, i);
		heap_down(ev, t->slot - 1);
		return;
	}
	if (ev->nheap == ev->cap) {
		ev->cap = ev->cap ? ev->cap * 2 : 64;
		ev->heap = xrealloc(ev->heap, ev->cap * sizeof(*ev->heap));
	}
	t->when = when;
	heap_set(ev, ev->nheap++, t);
	heap_up(ev, ev->nheap - 1);
}

static void signals_read(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	struct fc_ev_signals *sigs = (struct fc_ev_signals *)io;
	struct signalfd_siginfo si;

	(void)ev;
	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		sigs->cb((int)si.ssi_signo);
}

int ev_signals_open(struct fc_ev *ev, struct fc_ev_signals *sigs, void (*cb)(int signo))
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	sigs->cb = cb;
	sigs->io.cb = signals_read;
	sigs->io.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigs->io.fd < 0)
		return -1;
	return ev_io_add(ev, &sigs->io, EPOLLIN);
}

uint64_t ev_now(const struct fc_ev *ev)
{
	return ev->now;
}

uint64_t ev_now_us(const struct fc_ev *ev)
{
	return ev->now_us;
}

uint64_t ev_wall_us(const struct fc_ev *ev)
{
	return ev->wall_us;
}

uint64_t ev_update_now(struct fc_ev *ev)
{
	ev->now_us = clock_mono_us();
	ev->wall_us = clock_wall_us();
	return ev->now = ev->now_us / 1000u;
}

void ev_set_beat(struct fc_ev *ev, uint64_t *beat)
{
	ev->beat = beat;
}

static int next_wait(struct fc_ev *ev, int max_wait_ms)
{
	uint64_t when;

	if (ev->nheap == 0)
		return max_wait_ms;
	when = ev->heap[0]->when;
	if (when <= ev->now)
		return 0;
	if (max_wait_ms >= 0 && when - ev->now > (uint64_t)max_wait_ms)
		return max_wait_ms;
	return (int)(when - ev->now);
}

static void run_timers(struct fc_ev *ev)
{
	while (ev->nheap > 0 && ev->heap[0]->when <= ev->now) {
		struct fc_ev_timer *t = ev->heap[0];

		ev_timer_stop(ev, t);
		t->cb(ev, t);
	}
}

int ev_run_once(struct fc_ev *ev, int max_wait_ms)
{
	int n, i;

	n = epoll_wait(ev->epfd, ev->events, EV_BATCH, next_wait(ev, max_wait_ms));
	ev_update_now(ev);
	if (ev->beat != NULL)
		__atomic_store_n(ev->beat, ev->now, __ATOMIC_RELAXED);
	if (n < 0) {
		if (errno != EINTR)
			return -1;
		n = 0;
	}
	for (i = 0; i < n; i++) {
		struct fc_ev_io *io = ev->events[i].data.ptr;

		io->cb(ev, io, ev->events[i].events);
	}
	run_timers(ev);
	return n;
}
