/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Session replication over the sync channel (repl.c): what this node's
 * workers learn goes to the peer, what the peer learned comes into this
 * node's table through the checker.  Does nothing without `stick`.
 */
#ifndef FC_HA_REPL_H
#define FC_HA_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/ev.h"
#include "shm/shm.h"

/* Starts the pump, every interval_ms (sync.interval_ms). */
void repl_open(struct fc_ev *ev, struct fc_shm *shm, int interval_ms);

/* A reload: the new generation's segment (a full copy follows if up). */
void repl_set_shm(struct fc_shm *shm);

/* The channel is up: the whole table, then deltas.  Down: nothing sent. */
void repl_up(void);
void repl_down(void);

/* A SESSION frame's body from the peer. */
void repl_got(const uint8_t *body, size_t len);

#endif
