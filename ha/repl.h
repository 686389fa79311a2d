/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Session replication over the sync channels (repl.c): what this node's
 * workers learn goes to every peer, what a peer learned comes into this
 * node's table through the checker.  Does nothing without `stick`.
 */
#ifndef FC_HA_REPL_H
#define FC_HA_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/ev.h"
#include "shm/shm.h"

/* Starts the pump, every interval_ms (sync.interval_ms), for npeers
 * channels (sync.h's numbering). */
void repl_open(struct fc_ev *ev, struct fc_shm *shm, int interval_ms, int npeers);

/* A reload: the new generation's segment (a full copy follows to each up peer). */
void repl_set_shm(struct fc_shm *shm);

/* Peer's channel is up: the whole table, then deltas.  Down: nothing sent. */
void repl_up(int peer);
void repl_down(int peer);

/* A SESSION frame's body from a peer. */
void repl_got(int peer, const uint8_t *body, size_t len);

#endif
