/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event loop: epoll for file descriptors, a binary heap for timers.
 *
 * File events are registered once, edge-triggered for connections (the owner
 * reads and writes until EAGAIN and keeps "ready" flags itself), or
 * level-triggered for listening sockets.  Timers are one-shot; re-arming a
 * timer that is already pending moves it.  ev_now() is the monotonic time in
 * milliseconds, read once per loop pass; ev_now_us() the same instant in
 * microseconds and ev_wall_us() the wall clock read with it.  A worker
 * stamps its requests with these: one clock read per pass serves the
 * dozens of events a busy pass handles.
 */
#ifndef FC_LIB_EV_H
#define FC_LIB_EV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fc_ev;

/* An fd watcher; embed it in the object that owns the fd. */
struct fc_ev_io {
	int fd;
	void (*cb)(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events);
};

struct fc_ev_timer {
	uint64_t when;		/* ms, monotonic */
	size_t slot;		/* heap index + 1; 0 when not pending */
	void (*cb)(struct fc_ev *ev, struct fc_ev_timer *t);
};

struct fc_ev *ev_new(void);
void ev_free(struct fc_ev *ev);

/* events: EPOLLIN / EPOLLOUT / EPOLLET / EPOLLRDHUP ... as epoll takes them. */
int ev_io_add(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events);
int ev_io_mod(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events);
int ev_io_del(struct fc_ev *ev, struct fc_ev_io *io);

void ev_timer_arm(struct fc_ev *ev, struct fc_ev_timer *t, uint64_t when);
void ev_timer_stop(struct fc_ev *ev, struct fc_ev_timer *t);
static inline bool ev_timer_pending(const struct fc_ev_timer *t) { return t->slot != 0; }

/*
 * The signals of a child process: TERM, INT and QUIT are blocked and read
 * from a signalfd that the loop watches (cb gets each signal number); PIPE,
 * HUP, USR1 and USR2 are ignored.  Returns 0, or -1 with errno set.
 */
struct fc_ev_signals {
	struct fc_ev_io io;
	void (*cb)(int signo);
};

int ev_signals_open(struct fc_ev *ev, struct fc_ev_signals *sigs, void (*cb)(int signo));

uint64_t ev_now(const struct fc_ev *ev);
uint64_t ev_now_us(const struct fc_ev *ev);
uint64_t ev_wall_us(const struct fc_ev *ev);
uint64_t ev_update_now(struct fc_ev *ev);

/*
 * A heartbeat: every pass stores ev_now() into *beat (shared memory that
 * another process reads) as soon as epoll_wait returns, before the
 * callbacks run, so a long pass counts from its start, not its end.
 */
void ev_set_beat(struct fc_ev *ev, uint64_t *beat);

/*
 * Runs one pass: waits at most max_wait_ms (or until the next timer), runs
 * the ready file events, then the expired timers.  Returns the number of
 * events handled, or -1 on an epoll error other than EINTR.
 */
int ev_run_once(struct fc_ev *ev, int max_wait_ms);

#endif
