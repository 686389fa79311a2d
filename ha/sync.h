/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sync channel (ha.sync): one authenticated TCP connection from this
 * node's ha process to each IPv4 entry of ha.peers -- a full mesh when
 * every node lists the others (issue 21.2), a pair with one peer (issue
 * 18).  It tells ha.c, much faster than missed adverts could, that a
 * peer's fulcrum is gone: the peer's kernel closes the connection the
 * instant its process dies, a clean stop says RESIGN first, and a silent
 * node misses the probes sent every interval_ms.  ha.c decides what that
 * means: the channel itself never changes the VRRP state.
 *
 * Of each pair of addresses the lower connects (to the peer's sync.port)
 * and reconnects with back-off; the higher listens.  One listening socket
 * serves every peer: a connection is matched to its peer by its source.
 *
 * Peers are numbered 0..sync_npeers()-1, in the order of ha.peers.
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
	void (*up)(int peer);
	void (*lost)(int peer, enum sync_loss why);
	void (*peer_state)(int peer, int state, int priority);	/* enum fc_ha_state */
	void (*session)(int peer, const uint8_t *body, size_t len);	/* a SESSION frame */
};

/* What fulcrum-stat shows of a peer (the shm ha_mesh block). */
struct sync_peer_info {
	uint32_t addr;			/* network order */
	int state;			/* enum fc_sync_state */
	uint64_t since_ms;		/* CLOCK_MONOTONIC (ev_now) of the last change */
	uint64_t frame_ms;		/* of the last frame received; 0: none */
	uint64_t sent, received;	/* SESSION frames */
};

/*
 * Starts a channel to every IPv4 peer of cfg (sync enabled, auth_key).
 * self: our address (network order), or 0 to use, per peer, the source
 * address of the route to it (anycast: the ha interface holds only
 * vips); with no route yet, we listen for that peer and look again.
 * Returns 0, or -1 after logging why.
 */
int sync_open(struct fc_ev *ev, const struct fc_ha *cfg, uint32_t self,
    const struct sync_ops *ops);

int sync_npeers(void);
void sync_peer_info(int peer, struct sync_peer_info *out);

/* Tells every peer our state (and every later change). */
void sync_send_state(int state, int priority);

/*
 * Queues a frame on peer's channel: 0, or -1 when it is down or its output
 * buffer has no room left (try again later: nothing was queued).
 */
int sync_send(int peer, uint8_t type, const void *body, size_t len);

/* Tells every peer to take over now: we stop, or our proxy died. */
void sync_resign(void);

/* Closes every channel; each peer sees BYE first, so no death. */
void sync_close(void);

#endif
