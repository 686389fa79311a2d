/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The ha process: VRRPv3 election for the node and its VIPs (ha.c).
 * Started by the master when the configuration has an "ha" section.
 */
#ifndef FC_HA_HA_H
#define FC_HA_HA_H

#include <stdint.h>

#include "conf/conf.h"
#include "shm/shm.h"

/*
 * Runs until TERM, INT or QUIT; resigns mastership on the way out.  ctl
 * (-1: none) is the master's socket: on a reload that leaves the ha
 * section alone, the new generation's segment arrives there (shm_send())
 * and this process moves to it, keeping its state and the VIPs.
 */
int ha_main(const struct fc_conf *conf, struct fc_shm *shm, int ctl);

/*
 * For the master, when the ha process died: removes the VIPs from the
 * interface, so that a node whose VRRP is dead stops answering for them
 * while the peer takes over.  Anycast moves them to lo for a lease instead:
 * the route is withdrawn, the connections on this node are kept.  Logs
 * what fails.
 */
void ha_release_vips(const struct fc_conf *conf);

/*
 * For the master, when it reaped the last live worker of the current
 * generation at when_ms (CLOCK_MONOTONIC): tells the ha process on ctl
 * (its socket, as for ha_main()), which resigns at once instead of
 * waiting for the heartbeats to go stale, and competes again once a
 * worker beats after when_ms.  0, or -1 (nothing sent).
 */
int ha_tell_workers_dead(int ctl, uint64_t when_ms);

/*
 * For the master, once its workers are gone: removes what an anycast stop
 * left on lo for the drain (nothing to do in VRRP mode).  Logs what fails.
 */
void ha_clear_vips(const struct fc_conf *conf);

#endif
