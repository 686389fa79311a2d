/*
 * The ha process: VRRPv3 election for the node and its VIPs (ha.c).
 * Started by the master when the configuration has an "ha" section.
 */
#ifndef FC_HA_HA_H
#define FC_HA_HA_H

#include "conf/conf.h"
#include "shm/shm.h"

/* Runs until TERM, INT or QUIT; resigns mastership on the way out. */
int ha_main(const struct fc_conf *conf, struct fc_shm *shm);

#endif
