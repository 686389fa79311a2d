/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reuseport steering: new connections only for workers that run.
 *
 * The kernel hands a new connection to one socket of a SO_REUSEPORT group
 * by a hash of its addresses, whether or not the worker behind that socket
 * still runs: a stopped worker keeps receiving its share.  The master
 * attaches a classic BPF program to the group that picks among the sockets
 * of the workers whose heartbeat is fresh, and takes it off again (the
 * kernel's hash, at no cost) once every worker beats.
 *
 * The program names a socket by its index in the group, which is kernel
 * state nobody can read back: the order in which the sockets called
 * listen(), where a socket that leaves is replaced by the last one.  The
 * master opened every socket, so this module replays that order.  Only the
 * master calls it.
 */
#ifndef FC_MASTER_STEER_H
#define FC_MASTER_STEER_H

#include <stdbool.h>

#include "lib/net.h"

/* fd, bound to addr, has just called listen(): it joined addr's group last. */
void steer_join(const struct fc_addr *addr, int fd);

/*
 * The master is about to close fd.  The socket stays in its group while
 * older generations' workers hold a copy; steer_settle() says they are gone.
 */
void steer_leave(int fd);

/* No older generation is alive: the sockets given to steer_leave() are gone. */
void steer_settle(void);

/*
 * Steers each group's new connections to the sockets for which live(fd,
 * arg) is true, or to every socket (the kernel's hash, as without
 * steering) when all or none of them are.  live NULL: steering is off.
 * Logs once and stops trying if the kernel refuses the program.
 */
void steer_update(bool (*live)(int fd, void *arg), void *arg);

/* Whether steer_update() can steer (the kernel took the program). */
bool steer_works(void);

#endif
