/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master process: owns the configuration, the listening sockets and the
 * child table; forks, supervises and stops the children.  It never handles
 * traffic.
 */
#ifndef FC_MASTER_H
#define FC_MASTER_H

#include <stdbool.h>

#include "conf/conf.h"

/* Runs until stopped by a signal; returns the process exit status. */
int master_run(struct fc_conf *conf, bool foreground);

#endif
