/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sync channel (ha.sync): one authenticated TCP connection between the
 * ha processes of the two nodes, on the ha process's event loop.  It tells
 * ha.c, much faster than missed adverts could, that the peer's fulcrum is
 * gone: the peer's kernel closes the connection the instant its process
 * dies, a clean stop says RESIGN first, and a silent node misses the
 * probes sent every interval_ms.  ha.c decides what that means: the
 * channel itself never changes the VRRP state.
 *
 * The lower of the two addresses connects (to the peer's sync.port) and
 * reconnects with back-off; the higher one listens on its own address.
 */
#ifndef FC_HA_SYNC_H
#define FC_HA_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "lib/ev.h"

/* Why an authenticated channel ended. */
enum sync_loss {
	SYNC_LOST_RESIGN,	/* the peer said RESIGN (a clean stop or its proxy
				 * died); the channel stays up */
	SYNC_LOST_CLOSED,	/* closed without a BYE: the peer's process died */
	SYNC_LOST_SILENT,	/* 3 probe intervals without a frame: node or link down */
	SYNC_LOST_BYE,		/* the peer closed on purpose and is alive */
};

struct sync_ops {
	void (*up)(void);
	void (*lost)(enum sync_loss why);
	void (*peer_state)(int state, int priority);	/* enum fc_ha_state */
	void (*session)(const uint8_t *body, size_t len);	/* a SESSION frame */
};

/*
 * Starts the channel for cfg (sync enabled, one IPv4 peer, auth_key) from
 * self (IPv4, network order).  Returns 0, or -1 after logging why.
 */
int sync_open(struct fc_ev *ev, const struct fc_ha *cfg, uint32_t self,
    const struct sync_ops *ops);

/* Tells the peer our state (and every later change). */
void sync_send_state(int state, int priority);

/*
 * Queues a frame on an up channel: 0, or -1 when it is down or its output
 * buffer has no room left (try again later: nothing was queued).
 */
int sync_send(uint8_t type, const void *body, size_t len);

/* Tells the peer to take over now: we stop, or our proxy died. */
void sync_resign(void);

/* Closes the channel; the peer sees BYE first, so no death. */
void sync_close(void);

#endif
