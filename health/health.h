/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The health checker process: probes the servers that have `check = true`
 * (HTTP or TCP, per backend's `check` group) and is the single writer of
 * their state in the shared-memory segment.  Its API for the master.
 */
#ifndef FC_HEALTH_H
#define FC_HEALTH_H

#include "conf/conf.h"
#include "shm/shm.h"

/* Runs until TERM/INT/QUIT; returns the process exit status. */
struct fc_ctl;
/* ctl: the control page fulcrumctl posts to (shm/ctl.h); NULL: none. */
int health_main(const struct fc_conf *conf, struct fc_shm *shm, const struct fc_ctl *ctl);

#endif
